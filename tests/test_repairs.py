"""A device leaving the network raises a repair issue staff can act on."""

from __future__ import annotations

from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ntnu_library.const import DOMAIN
from custom_components.ntnu_library.zigbee.simulated import SimulatedRadio, simulated_devices

from .conftest import state_of


async def test_a_lock_leaving_raises_an_issue_until_it_is_back(
    hass: HomeAssistant, init_integration: MockConfigEntry, issue_registry: ir.IssueRegistry
) -> None:
    radio = init_integration.runtime_data.radio
    assert isinstance(radio, SimulatedRadio) and radio.app is not None
    lock = radio.lock_model("T01")
    issue_id = f"device_left_{init_integration.entry_id}_T01"

    radio.app.handle_leave(lock.nwk, lock.ieee)
    await hass.async_block_till_done()
    issue = issue_registry.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.translation_key == "device_left"
    assert issue.translation_placeholders == {"room": "T01", "site": "Main Library"}
    assert state_of(hass, "lock.t01") == "unavailable"

    # The lock answers again: the issue goes away by itself.
    await radio.async_simulate("T01", "online")
    await hass.async_block_till_done()
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None
    assert state_of(hass, "lock.t01") == "locked"


async def test_a_sensor_leaving_raises_an_issue_and_the_room_stays_usable(
    hass: HomeAssistant, init_integration: MockConfigEntry, issue_registry: ir.IssueRegistry
) -> None:
    radio = init_integration.runtime_data.radio
    assert isinstance(radio, SimulatedRadio) and radio.app is not None
    contact = radio.device(simulated_devices("T02").contact)
    radio.app.handle_leave(contact.nwk, contact.ieee)
    await hass.async_block_till_done()
    issue_id = f"device_left_{init_integration.entry_id}_T02"
    assert issue_registry.async_get_issue(DOMAIN, issue_id)
    assert state_of(hass, "sensor.t02_status") == "idle"
    # The lock coming back is not the contact: the notice waits for the contact itself.
    await radio.async_simulate("T02", "offline")
    await radio.async_simulate("T02", "online")
    await hass.async_block_till_done()
    assert issue_registry.async_get_issue(DOMAIN, issue_id)
    contact.set_open(True)  # it talks again: back
    await hass.async_block_till_done(wait_background_tasks=True)
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None
