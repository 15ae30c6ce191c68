"""First end-to-end look: borrow T01, tap cards, return."""

from __future__ import annotations

from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from .conftest import patron_action


async def test_borrow_tap_return(hass: HomeAssistant, init_integration: MockConfigEntry) -> None:
    assert hass.states.get("lock.t01").state == "locked"
    assert hass.states.get("sensor.t01_status").state == "idle"
    result = await patron_action(hass, "borrow", "T01", "S0001")
    assert result["status"] == "in_use"
    assert hass.states.get("lock.t01").state == "unlocked"
    assert hass.states.get("sensor.t01_status").state == "in_use"
