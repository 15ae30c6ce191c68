"""Doors kept shut: a lock that missed its lock command, relocking, the lock's own relock time."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from homeassistant.core import Event, HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed
from zigpy.zcl.clusters.closures import DoorLock

from custom_components.ntnu_library.const import DOMAIN
from custom_components.ntnu_library.core.policy import Policy

from .conftest import call_service, patron_action, state_of


async def _simulate(hass: HomeAssistant, room: str, action: str) -> None:
    await call_service(hass, "simulate", {"room": room, "action": action})


async def _later(hass: HomeAssistant, seconds: float) -> None:
    """Let `seconds` pass for Home Assistant's timers, and what they start finish."""
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=seconds))
    await hass.async_block_till_done(wait_background_tasks=True)


def _owed_issue(hass: HomeAssistant, entry: MockConfigEntry, room: str) -> ir.IssueEntry | None:
    return ir.async_get(hass).async_get_issue(DOMAIN, f"lock_pending_{entry.entry_id}_{room}")


def _types(events: list[Event], room: str) -> list[str]:
    return [e.data["type"] for e in events if e.data["room"] == room]


# --- a lock that missed its lock command -------------------------------------------------------


async def test_a_return_while_the_lock_is_offline_locks_the_door_when_it_answers(
    hass: HomeAssistant, init_integration: MockConfigEntry, events: list[Event]
) -> None:
    """Returned while its lock was away: staff see the room wait, and it locks on return."""
    entry = init_integration
    assert (await patron_action(hass, "borrow", "T01", "S0001"))["door"] == "unlocked"
    await _simulate(hass, "T01", "offline")

    returned = await patron_action(hass, "return", "T01", "S0001")
    assert returned["door"] == "lock_failed"
    assert returned["holder"] is None  # the room is returned all the same
    assert state_of(hass, "binary_sensor.t01_lock_pending") == "on"
    issue = _owed_issue(hass, entry, "T01")
    assert issue is not None
    assert issue.translation_placeholders == {"room": "T01", "site": "Main Library"}
    assert "lock_pending" in _types(events, "T01")
    assert entry.runtime_data.radio.lock_model("T01").lock_state == DoorLock.LockState.Unlocked

    await _simulate(hass, "T01", "online")
    await hass.async_block_till_done(wait_background_tasks=True)
    assert entry.runtime_data.radio.lock_model("T01").lock_state == DoorLock.LockState.Locked
    assert state_of(hass, "lock.t01") == "locked"
    assert state_of(hass, "binary_sensor.t01_lock_pending") == "off"
    assert _owed_issue(hass, entry, "T01") is None
    assert _types(events, "T01")[-1] == "relocked"


async def test_a_lock_owed_survives_a_restart(
    hass: HomeAssistant, init_integration: MockConfigEntry, hass_storage: dict[str, Any]
) -> None:
    """The debt is written down: after a restart the lock is locked as soon as it answers."""
    entry = init_integration
    await patron_action(hass, "borrow", "T02", "S0001")
    await _simulate(hass, "T02", "offline")
    await patron_action(hass, "return", "T02", "S0001")
    assert hass_storage[f"{DOMAIN}.{entry.entry_id}"]["data"]["doors"] == {"owed": ["T02"]}

    await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    # The (new) lock answers at start: the owed lock is sent, and the debt is paid.
    assert entry.runtime_data.doors.owed == set()
    assert _owed_issue(hass, entry, "T02") is None
    assert state_of(hass, "lock.t02") == "locked"
    assert hass_storage[f"{DOMAIN}.{entry.entry_id}"]["data"]["doors"] == {"owed": []}


async def test_staff_locking_an_offline_lock_is_owed_too(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    await patron_action(hass, "borrow", "T01", "S0001")
    await _simulate(hass, "T01", "offline")
    # Home Assistant skips an unavailable entity's service; the entity itself still refuses.
    entity = hass.data["lock"].get_entity("lock.t01")
    with pytest.raises(HomeAssistantError) as err:
        await entity.async_lock()
    assert err.value.translation_key == "lock_offline"
    assert init_integration.runtime_data.doors.owed == {"T01"}
    await _simulate(hass, "T01", "online")
    await hass.async_block_till_done(wait_background_tasks=True)
    assert state_of(hass, "lock.t01") == "locked"


# --- relocking -------------------------------------------------------------------------------


async def test_an_unlocked_door_nobody_opens_relocks_after_relock_after_s(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    lock = init_integration.runtime_data.radio.lock_model("T01")
    await patron_action(hass, "borrow", "T01", "S0001")
    assert state_of(hass, "lock.t01") == "unlocked"

    await _later(hass, 9)
    assert state_of(hass, "lock.t01") == "unlocked"
    await _later(hass, 11)
    assert state_of(hass, "lock.t01") == "locked"
    assert lock.lock_state == DoorLock.LockState.Locked
    # Still the patron's room: only the bolt moved.
    assert state_of(hass, "sensor.t01_status") == "in_use"


async def test_a_door_opened_is_relocked_when_it_closes(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """A lock that does not throw its bolt on close is locked by the site instead."""
    lock = init_integration.runtime_data.radio.lock_model("T02")
    lock.relocks_on_close = False
    await patron_action(hass, "borrow", "T02", "S0001")
    await _simulate(hass, "T02", "door_open")
    await _later(hass, 30)  # open: no relock while someone goes through
    assert state_of(hass, "lock.t02") == "unlocked"

    await _simulate(hass, "T02", "door_close")
    assert state_of(hass, "lock.t02") == "unlocked"
    await _later(hass, 2)
    assert state_of(hass, "lock.t02") == "locked"
    assert lock.lock_state == DoorLock.LockState.Locked


async def test_a_push_exit_nobody_walks_through_relocks(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    await _simulate(hass, "L03", "push_button")
    assert state_of(hass, "lock.l03") == "unlocked"
    await _later(hass, 11)
    assert state_of(hass, "lock.l03") == "locked"


def _relocking_after(seconds: int) -> dict[str, Any]:
    """The clocks of conftest's policy, with this relock time."""
    return Policy(
        counter_opens="00:00",
        counter_closes="00:00",
        return_at_closing=False,
        relock_after_s=seconds,
    ).as_dict()


@pytest.mark.parametrize("policy_options", [_relocking_after(25)])
async def test_locks_get_the_sites_relock_time_as_their_own(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """The relock time is written to each lock's auto_relock_time when it is configured."""
    lock = init_integration.runtime_data.radio.lock_model("T01")
    assert lock.attributes[DoorLock.cluster_id][DoorLock.AttributeDefs.auto_relock_time.id] == 25
    await patron_action(hass, "borrow", "T01", "S0001")
    await _later(hass, 20)
    assert state_of(hass, "lock.t01") == "unlocked"
    await _later(hass, 26)
    assert state_of(hass, "lock.t01") == "locked"


@pytest.mark.parametrize("policy_options", [_relocking_after(0)])
async def test_relocking_can_be_turned_off(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    await patron_action(hass, "borrow", "T01", "S0001")
    await _later(hass, 3600)
    assert state_of(hass, "lock.t01") == "unlocked"
