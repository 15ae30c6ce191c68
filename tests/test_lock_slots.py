"""The holder's card in the room's lock: a room keeps working while Home Assistant is away.

On the simulated network, with the real zigpy stack: the site writes the holder's card into
the lock's user table with a schedule that ends with the right, clears it when the right
ends, corrects the lock when it comes back, and reads back what the lock decided alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
import json
import logging
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import Event, HomeAssistant
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
import zigpy.types as t
from zigpy.zcl.clusters.closures import DoorLock

from custom_components.ntnu_library.const import DOMAIN
from custom_components.ntnu_library.zigbee.simulated import SimulatedLock, simulated_devices

from .conftest import call_service, patron_action, state_of

LOCKED = DoorLock.LockState.Locked
UNLOCKED = DoorLock.LockState.Unlocked
CARDS = ("C-S0001", "C-G0001", "C-D0001", "C-X0001")


async def _settle(hass: HomeAssistant, clock: FrozenDateTimeFactory) -> None:
    """Let a few seconds pass for Home Assistant's timers, and what they start finish."""
    clock.tick(timedelta(seconds=2))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)


def _lock(entry: MockConfigEntry, room: str) -> SimulatedLock:
    return entry.runtime_data.radio.lock_model(room)


def _by_the_lock(events: list[Event], room: str) -> list[tuple[Any, ...]]:
    return [
        (e.data["type"], e.data.get("patron"), e.data.get("reason"), e.data.get("at"))
        for e in events
        if e.data["room"] == room and e.data["source"] == "lock"
    ]


@contextmanager
def _lock_while_the_site_is_stopped(
    hass_storage: dict[str, Any], entry: MockConfigEntry, room: str
) -> Iterator[SimulatedLock]:
    """The room's lock on its own, as its memory kept it: no coordinator hears it."""
    devices = hass_storage[f"{DOMAIN}.{entry.entry_id}.radio"]["data"]["devices"]
    address = simulated_devices(room).lock
    memory = devices[address]
    lock = SimulatedLock(t.EUI64.convert(address), t.NWK(memory["nwk"]), lambda _frame: None)
    lock.clock = dt_util.now
    lock.recall(memory)
    lock.detach()
    yield lock
    devices[address] = lock.remember()


async def test_the_holders_card_is_in_the_lock_while_the_right_lasts(
    hass: HomeAssistant, frozen_clock: FrozenDateTimeFactory, init_integration: MockConfigEntry
) -> None:
    """Written at the borrow, until closing time; cleared at the return; the page shows it."""
    entry = init_integration
    await _settle(hass, frozen_clock)
    assert state_of(hass, "sensor.t01_card_decisions") == "lock_slots"
    assert state_of(hass, "sensor.t01_cards_in_the_lock") == "0"
    assert state_of(hass, "sensor.l01_cards_in_the_lock") == "1"  # D0001 holds it this month
    assert _lock(entry, "L01").opens_for("C-D0001")

    await patron_action(hass, "borrow", "T01", "S0001")
    lock = _lock(entry, "T01")
    assert lock.opens_for("C-S0001")
    assert not lock.opens_for("C-G0001")
    assert state_of(hass, "sensor.t01_cards_in_the_lock") == "1"
    closing = dt_util.now().replace(hour=22, minute=0, second=0, microsecond=0)
    assert lock.slot_ends() == {9: closing.replace(tzinfo=None)}

    await patron_action(hass, "return", "T01", "S0001")
    assert not lock.opens_for("C-S0001")
    assert lock.users is not None and lock.users.users == {}
    assert state_of(hass, "sensor.t01_cards_in_the_lock") == "0"


async def test_with_the_site_stopped_the_lock_decides_and_the_site_reads_it_back(
    hass: HomeAssistant,
    frozen_clock: FrozenDateTimeFactory,
    init_integration: MockConfigEntry,
    events: list[Event],
    hass_storage: dict[str, Any],
) -> None:
    """The holder opens, another card is refused, the holder's card ends at closing time.

    Back up, the site tells each of those at the lock's own time, as decided by the lock.
    """
    entry = init_integration
    await _settle(hass, frozen_clock)
    await patron_action(hass, "borrow", "T01", "S0001")
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()

    with _lock_while_the_site_is_stopped(hass_storage, entry, "T01") as lock:
        frozen_clock.move_to("2025-03-12 10:30:00+08:00")
        lock.card_tap("C-S0001")
        assert lock.lock_state == UNLOCKED
        lock.door_opened()
        lock.door_closed()
        assert lock.lock_state == LOCKED
        frozen_clock.move_to("2025-03-12 10:31:00+08:00")
        lock.card_tap("C-G0001")
        assert lock.lock_state == LOCKED
        frozen_clock.move_to("2025-03-12 22:00:05+08:00")
        lock.card_tap("C-S0001")
        assert lock.lock_state == LOCKED

    events.clear()
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert _by_the_lock(events, "T01") == [
        ("card_tap", "S***1", None, "2025-03-12T10:30:00+08:00"),
        ("refused", "G***1", "unknown_card", "2025-03-12T10:31:00+08:00"),
        ("refused", "S***1", "not_holder", "2025-03-12T22:00:05+08:00"),
    ]
    activity = hass.states.get("event.t01_door_activity")
    assert activity is not None
    assert activity.attributes["source"] == "lock"
    assert activity.attributes["at"] == "2025-03-12T22:00:05+08:00"

    # Read once: another start tells nothing again.
    events.clear()
    await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert _by_the_lock(events, "T01") == []


async def test_a_room_returned_while_its_lock_was_away_is_cleared_when_it_answers(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    entry = init_integration
    await patron_action(hass, "borrow", "T01", "S0001")
    lock = _lock(entry, "T01")
    assert lock.opens_for("C-S0001")
    await call_service(hass, "simulate", {"room": "T01", "action": "offline"})

    returned = await patron_action(hass, "return", "T01", "S0001")
    assert returned["holder"] is None
    assert lock.opens_for("C-S0001")  # the lock did not hear it: the change is owed
    assert entry.runtime_data.slots.pending("T01") == 1

    await call_service(hass, "simulate", {"room": "T01", "action": "online"})
    await hass.async_block_till_done(wait_background_tasks=True)
    assert not lock.opens_for("C-S0001")
    assert entry.runtime_data.slots.pending("T01") == 0
    assert state_of(hass, "sensor.t01_cards_in_the_lock") == "0"


async def test_a_change_owed_survives_a_restart(
    hass: HomeAssistant, init_integration: MockConfigEntry, hass_storage: dict[str, Any]
) -> None:
    """What the lock holds is the site's state: after a restart the lock is still set right."""
    entry = init_integration
    await patron_action(hass, "borrow", "T02", "G0001")
    await call_service(hass, "simulate", {"room": "T02", "action": "offline"})
    await patron_action(hass, "return", "T02", "G0001")
    stored = hass_storage[f"{DOMAIN}.{entry.entry_id}.locks"]["data"]
    assert "lock_slots" not in hass_storage[f"{DOMAIN}.{entry.entry_id}"]["data"]
    assert list(stored["held"]["T02"]) == ["9"]
    assert "C-G0001" not in json.dumps(stored)  # a keyed hash, never the card

    await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    # The reloaded network brings the lock back online: its slot is read and cleared.
    assert not _lock(entry, "T02").opens_for("C-G0001")
    assert "T02" not in hass_storage[f"{DOMAIN}.{entry.entry_id}.locks"]["data"]["held"]


async def test_a_frozen_holders_card_opens_only_after_the_check_in(
    hass: HomeAssistant,
    frozen_clock: FrozenDateTimeFactory,
    init_integration: MockConfigEntry,
    events: list[Event],
) -> None:
    """X0001 holds L02 and is frozen: the lock refuses until the counter check-in, then opens."""
    entry = init_integration
    await _settle(hass, frozen_clock)
    lock = _lock(entry, "L02")
    assert not lock.opens_for("C-X0001")

    await call_service(hass, "simulate", {"room": "L02", "action": "offline"})
    frozen_clock.move_to("2025-03-12 10:05:00+08:00")
    await call_service(hass, "simulate", {"room": "L02", "action": "card_tap", "card": "C-X0001"})
    assert lock.lock_state == LOCKED
    await call_service(hass, "simulate", {"room": "L02", "action": "online"})

    await call_service(hass, "check_in", {"patron_id": "X0001"})
    assert lock.opens_for("C-X0001")
    await call_service(hass, "simulate", {"room": "L02", "action": "offline"})
    frozen_clock.move_to("2025-03-12 10:10:00+08:00")
    await call_service(hass, "simulate", {"room": "L02", "action": "card_tap", "card": "C-X0001"})
    assert lock.lock_state == UNLOCKED
    await call_service(hass, "simulate", {"room": "L02", "action": "online"})
    assert _by_the_lock(events, "L02") == [
        ("refused", "X***1", "unknown_card", "2025-03-12T10:05:00+08:00"),
        ("card_tap", "X***1", None, "2025-03-12T10:10:00+08:00"),
    ]
    # The check-in holds for the day: from midnight the lock refuses again.
    assert list(lock.slot_ends().values()) == [datetime(2025, 3, 13)]
    frozen_clock.move_to("2025-03-13 00:00:01+08:00")
    assert not lock.opens_for("C-X0001")


async def test_a_lock_that_decides_by_itself_is_told_once(
    hass: HomeAssistant, init_integration: MockConfigEntry, events: list[Event]
) -> None:
    """A lock that opens for its own cards while the site listens: its event, not twice."""
    entry = init_integration
    await patron_action(hass, "borrow", "T01", "S0001")
    lock = _lock(entry, "T01")
    lock.decides_when_online = True
    events.clear()
    await call_service(hass, "simulate", {"room": "T01", "action": "card_tap", "card": "C-S0001"})
    assert lock.lock_state == UNLOCKED
    assert [row[:3] for row in _by_the_lock(events, "T01")] == [("card_tap", "S***1", None)]
    assert not [e for e in events if e.data["source"] == "card"]  # the site did not decide it

    await call_service(hass, "simulate", {"room": "T01", "action": "offline"})
    await call_service(hass, "simulate", {"room": "T01", "action": "online"})
    await hass.async_block_till_done(wait_background_tasks=True)
    assert len(_by_the_lock(events, "T01")) == 1  # its log, read back, holds no news


async def test_a_lock_opening_for_a_card_the_site_did_not_leave_there_is_locked_again(
    hass: HomeAssistant, init_integration: MockConfigEntry, events: list[Event]
) -> None:
    """Fail secure: a card in one of the site's slots that no right backs is locked out."""
    entry = init_integration
    await hass.async_block_till_done(wait_background_tasks=True)
    lock = _lock(entry, "T01")
    lock.decides_when_online = True
    assert lock.users is not None
    now = lock.now
    lock.users.set_code(
        9, DoorLock.UserStatus.Enabled, DoorLock.UserType.Year_Day_Schedule_User, "C-G0001"
    )
    lock.users.set_schedule(0, 9, now - 60, now + 3600)
    events.clear()
    await call_service(hass, "simulate", {"room": "T01", "action": "card_tap", "card": "C-G0001"})
    await hass.async_block_till_done(wait_background_tasks=True)
    assert [row[:3] for row in _by_the_lock(events, "T01")] == [("card_tap", None, None)]
    assert lock.lock_state == LOCKED
    assert not lock.opens_for("C-G0001")
    # A card enrolled at the lock in its own slots is left alone, and its open told.
    lock.users.set_code(0, DoorLock.UserStatus.Enabled, DoorLock.UserType.Unrestricted, "C-STAFF")
    await call_service(hass, "simulate", {"room": "T01", "action": "card_tap", "card": "C-STAFF"})
    await hass.async_block_till_done(wait_background_tasks=True)
    assert lock.lock_state == UNLOCKED
    assert lock.opens_for("C-STAFF")


@pytest.fixture
def locks_without_user_tables(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every simulated lock without RFID slots, schedules or log (as many locks are)."""
    monkeypatch.setattr(SimulatedLock, "rfid_users", 0)


async def test_a_lock_without_rfid_slots_keeps_the_site_deciding(
    hass: HomeAssistant,
    locks_without_user_tables: None,
    init_integration: MockConfigEntry,
    events: list[Event],
) -> None:
    entry = init_integration
    await hass.async_block_till_done(wait_background_tasks=True)
    assert state_of(hass, "sensor.t01_card_decisions") == "site_only"
    assert state_of(hass, "sensor.t01_cards_in_the_lock") == "unknown"
    assert _lock(entry, "T01").users is None

    await patron_action(hass, "borrow", "T01", "S0001")
    await hass.services.async_call("lock", "lock", {"entity_id": "lock.t01"}, blocking=True)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert _lock(entry, "T01").lock_state == LOCKED
    events.clear()
    await call_service(hass, "simulate", {"room": "T01", "action": "card_tap", "card": "C-S0001"})
    assert [(e.data["type"], e.data["source"]) for e in events] == [("card_tap", "card")]
    assert _lock(entry, "T01").lock_state == UNLOCKED  # the site unlocked it, as always
    assert entry.runtime_data.slots.pending("T01") == 0


@pytest.fixture
def locks_refusing_user_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    """Locks that say they have RFID slots and schedules, but refuse every command for them."""
    monkeypatch.setattr(SimulatedLock, "_user_command", lambda _self, _hdr, _args: False)


async def test_a_lock_that_refuses_its_slots_stays_site_only_across_restarts(
    hass: HomeAssistant,
    locks_refusing_user_commands: None,
    init_integration: MockConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    """It is not tried again at every start (its mode would flap); its log is still known."""
    entry = init_integration
    await hass.async_block_till_done(wait_background_tasks=True)
    assert state_of(hass, "sensor.t01_card_decisions") == "site_only"
    modes: list[str] = []
    hass.bus.async_listen(
        "state_changed",
        lambda event: (
            modes.append(event.data["new_state"].state)
            if event.data["entity_id"] == "sensor.t01_card_decisions" and event.data["new_state"]
            else None
        ),
    )
    await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert state_of(hass, "sensor.t01_card_decisions") == "site_only"
    assert "lock_slots" not in modes
    facts = hass_storage[f"{DOMAIN}.{entry.entry_id}.locks"]["data"]["facts"]["T01"]
    assert (facts["refused"], facts["rfid_users"], facts["log_records"]) == (1, 10, 64)


async def test_no_card_number_in_logs_events_states_or_diagnostics(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    init_integration: MockConfigEntry,
    events: list[Event],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="custom_components.ntnu_library")
    entry = init_integration
    await patron_action(hass, "borrow", "T01", "S0001")
    await call_service(hass, "simulate", {"room": "T01", "action": "offline"})
    for card in CARDS:
        await call_service(hass, "simulate", {"room": "T01", "action": "card_tap", "card": card})
    await call_service(hass, "simulate", {"room": "T01", "action": "online"})
    _lock(entry, "T01").decides_when_online = True
    await call_service(hass, "simulate", {"room": "T01", "action": "card_tap", "card": "C-S0001"})
    await call_service(hass, "check_in", {"patron_id": "X0001"})
    await hass.async_block_till_done(wait_background_tasks=True)
    assert len(_by_the_lock(events, "T01")) == 5

    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    assert diagnostics["rooms"]["T01"]["slots_in_use"] == 1
    assert diagnostics["rooms"]["L02"]["slot_mode"] == "lock_slots"
    ours = "\n".join(
        record.getMessage()
        for record in caplog.records
        if record.name.startswith("custom_components.ntnu_library")
    )
    assert "Room T01" in ours  # the integration's own log, at debug level
    written = [
        ours,
        json.dumps([e.data for e in events]),
        json.dumps([s.as_dict() for s in hass.states.async_all()], default=str),
        json.dumps(diagnostics),
    ]
    for card in CARDS:
        for text in written:
            assert card not in text
            assert card.encode().hex() not in text.lower()
