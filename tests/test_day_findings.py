"""What the library day (`scripts/bench --day`) found, each as the smallest case that shows it.

A Home Assistant restart in the middle of the day: the site reads each lock's log back (what
the lock did while nobody listened), and must tell only what it had not heard live.
"""

from __future__ import annotations

from homeassistant.core import Event, HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from .conftest import call_service, patron_action


def _told(events: list[Event], room: str) -> list[tuple[str, str, str | None]]:
    return [
        (e.data["type"], e.data["source"], e.data.get("reason"))
        for e in events
        if e.data["room"] == room
    ]


@pytest.mark.skip(
    reason="fails: after a restart the lock's log read back tells again a PUSH exit heard live "
    "and the holder's tap the site opened, as a refusal (unknown_card) by the lock"
)
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
