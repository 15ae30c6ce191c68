"""First end-to-end look, as a patron and the door see it: borrow T01, tap cards, return."""

from __future__ import annotations

from homeassistant.core import Event, HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from .conftest import call_service, patron_action, state_of


async def _door(hass: HomeAssistant, action: str, card: str | None = None) -> None:
    """Something happens at T01's door: a card tap, the door opening or closing."""
    data = {"room": "T01", "action": action} | ({"card": card} if card else {})
    await call_service(hass, "simulate", data)


def _seen(events: list[Event]) -> list[tuple[str, str, str | None, str | None]]:
    """What the door log got since last cleared: type, source, masked patron, reason."""
    seen = [
        (e.data["type"], e.data["source"], e.data.get("patron"), e.data.get("reason"))
        for e in events
    ]
    events.clear()
    return seen


async def test_borrow_tap_return(
    hass: HomeAssistant, init_integration: MockConfigEntry, events: list[Event]
) -> None:
    assert state_of(hass, "lock.t01") == "locked"
    assert state_of(hass, "sensor.t01_status") == "idle"

    # S0001 borrows T01 with ID and password: the door opens for them.
    result = await patron_action(hass, "borrow", "T01", "S0001")
    assert result["status"] == "in_use"
    assert state_of(hass, "lock.t01") == "unlocked"
    assert state_of(hass, "sensor.t01_status") == "in_use"
    assert state_of(hass, "sensor.t01_holder") == "S***1"
    # They go in; the door closes behind them and the lock throws its bolt.
    await _door(hass, "door_open")
    await _door(hass, "door_close")
    assert state_of(hass, "lock.t01") == "locked"
    events.clear()

    # Back from the stacks, the holder taps their card: the door opens.
    await _door(hass, "card_tap", "C-S0001")
    assert state_of(hass, "lock.t01") == "unlocked"
    assert _seen(events) == [("card_tap", "card", "S***1", None)]
    await _door(hass, "door_open")
    await _door(hass, "door_close")
    assert state_of(hass, "lock.t01") == "locked"
    events.clear()

    # Someone else's card is refused and logged; the door stays locked.
    await _door(hass, "card_tap", "C-G0001")
    assert _seen(events) == [("refused", "card", "G***1", "not_holder")]
    assert state_of(hass, "lock.t01") == "locked"
    assert state_of(hass, "sensor.t01_holder") == "S***1"

    # The holder returns the room: it is free again and stays locked.
    result = await patron_action(hass, "return", "T01", "S0001")
    assert result["status"] == "idle"
    assert state_of(hass, "sensor.t01_status") == "idle"
    assert state_of(hass, "lock.t01") == "locked"
    assert [e.data["type"] for e in events] == ["returned"]
    # The card that opened the door before opens nothing now.
    events.clear()
    await _door(hass, "card_tap", "C-S0001")
    assert state_of(hass, "lock.t01") == "locked"
    assert [e.data["type"] for e in events] == ["refused"]
