"""First end-to-end look: borrow T01, tap cards, return."""

from __future__ import annotations

from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ntnu_library.const import DOMAIN

from .conftest import PASSWORD


async def test_borrow_tap_return(hass: HomeAssistant, init_integration: MockConfigEntry) -> None:
    assert hass.states.get("lock.t01").state == "locked"
    assert hass.states.get("sensor.t01_status").state == "idle"
    result = await hass.services.async_call(
        DOMAIN,
        "borrow",
        {"room": "T01", "patron_id": "S0001", "password": PASSWORD},
        blocking=True,
        return_response=True,
    )
    assert result["status"] == "in_use"
    await hass.async_block_till_done()
    assert hass.states.get("lock.t01").state == "unlocked"
    assert hass.states.get("sensor.t01_status").state == "in_use"
