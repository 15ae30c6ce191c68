"""What the library day (`scripts/bench --day`) found, each as the smallest case that shows it.

A Home Assistant restart in the middle of the day: the site reads each lock's log back (what
the lock did while nobody listened), and must tell only what it had not heard live.
"""

from __future__ import annotations

from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import Event, HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ntnu_library.const import DOMAIN

from .conftest import call_service, patron_action
from .test_lock_slots import _lock_while_the_site_is_stopped


def _told(events: list[Event], room: str) -> list[tuple[str, str, str | None]]:
    return [
        (e.data["type"], e.data["source"], e.data.get("reason"))
        for e in events
        if e.data["room"] == room
    ]


async def test_a_restart_does_not_tell_again_what_the_site_heard_live(
    hass: HomeAssistant, init_integration: MockConfigEntry, events: list[Event]
) -> None:
    """A PUSH exit and the holder's tap, heard as they happened, are told once, not again."""
    entry = init_integration
    await patron_action(hass, "borrow", "T01", "S0001")
    for action in ("push_button", "door_open", "door_close"):  # out for a break
        await call_service(hass, "simulate", {"room": "T01", "action": action})
    await call_service(hass, "simulate", {"room": "T01", "action": "card_tap", "card": "C-S0001"})
    assert ("push_exit", "push_button", None) in _told(events, "T01")
    assert ("card_tap", "card", None) in _told(events, "T01")

    events.clear()
    await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert _told(events, "T01") == []


async def test_what_the_lock_decided_unheard_after_what_was_heard_is_still_told(
    hass: HomeAssistant,
    frozen_clock: FrozenDateTimeFactory,
    init_integration: MockConfigEntry,
    events: list[Event],
    hass_storage: dict[str, Any],
) -> None:
    """The mark of what was heard live hides only that: the lock's own decisions are told."""
    entry = init_integration
    await patron_action(hass, "borrow", "T01", "S0001")
    await hass.async_block_till_done(wait_background_tasks=True)
    frozen_clock.move_to("2025-03-12 10:00:00+08:00")
    await call_service(hass, "simulate", {"room": "T01", "action": "push_button"})
    assert ("push_exit", "push_button", None) in _told(events, "T01")
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()

    with _lock_while_the_site_is_stopped(hass_storage, entry, "T01") as lock:
        lock.push_button()  # the same second as the exit heard live: a second exit
        frozen_clock.move_to("2025-03-12 10:05:00+08:00")
        lock.card_tap("C-S0001")

    events.clear()
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert _told(events, "T01") == [("push_exit", "lock", None), ("card_tap", "lock", None)]


async def test_the_locks_state_moves_out_of_the_sites_store(
    hass: HomeAssistant, hass_storage: dict[str, Any], init_integration: MockConfigEntry
) -> None:
    """A site written before the locks had a Store of their own keeps what its locks hold."""
    entry = init_integration
    await patron_action(hass, "borrow", "T01", "S0001")
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    locks = hass_storage.pop(f"{DOMAIN}.{entry.entry_id}.locks")["data"]
    hass_storage[f"{DOMAIN}.{entry.entry_id}"]["data"]["lock_slots"] = locks
    assert "T01" in locks["held"]

    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert entry.runtime_data.slots.in_use("T01") == 1
    assert "lock_slots" not in hass_storage[f"{DOMAIN}.{entry.entry_id}"]["data"]
    assert "T01" in hass_storage[f"{DOMAIN}.{entry.entry_id}.locks"]["data"]["held"]
