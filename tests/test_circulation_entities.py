"""Kiosks and return boxes as devices: what staff see on the dashboard, and their options."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import device_registry as dr
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.ntnu_library.core.policy import Policy

from .conftest import call_service, state_of

STATIONS = {"kiosks": ["K1"], "return_boxes": ["main", "gongguan", "linkou"]}


@pytest.fixture
def policy_options() -> dict[str, Any]:
    """The demo site's policy, with its kiosk and return boxes."""
    return (
        Policy(counter_opens="00:00", counter_closes="00:00", return_at_closing=False).as_dict()
        | STATIONS
    )


async def test_kiosk_and_boxes_are_devices(
    hass: HomeAssistant, init_integration: MockConfigEntry, device_registry: dr.DeviceRegistry
) -> None:
    devices = {
        d.name: d
        for d in dr.async_entries_for_config_entry(device_registry, init_integration.entry_id)
    }
    assert {"Kiosk K1", "Return box main", "Return box gongguan", "Return box linkou"} <= set(
        devices
    )
    assert state_of(hass, "sensor.kiosk_k1_status") == "ready"
    assert state_of(hass, "sensor.kiosk_k1_loans_today") == "0"
    assert state_of(hass, "sensor.return_box_main_awaiting_scan_back") == "0"
    assert state_of(hass, "sensor.return_box_main_waiting_since") == "unknown"


async def test_entities_follow_the_desk(
    hass: HomeAssistant,
    frozen_clock: FrozenDateTimeFactory,
    init_integration: MockConfigEntry,
) -> None:
    """A checkout counts at the kiosk; a drop waits in the box until the scan-back."""
    answer = await call_service(
        hass, "self_checkout", {"patron_id": "S0001", "items": ["B00001", "B00002"], "kiosk": "K1"}
    )
    assert [line["barcode"] for line in answer["receipt"]] == ["B00001", "B00002"]
    assert state_of(hass, "sensor.kiosk_k1_loans_today") == "2"

    await call_service(hass, "kiosk_fault", {"kiosk": "K1", "fault": "magnetic_strip"})
    assert state_of(hass, "sensor.kiosk_k1_status") == "magnetic_strip"
    await call_service(hass, "clear_kiosk_fault", {"kiosk": "K1"})
    assert state_of(hass, "sensor.kiosk_k1_status") == "ready"

    await call_service(hass, "return_box_drop", {"box": "main", "items": ["B00001", "XYZ-1"]})
    assert state_of(hass, "sensor.return_box_main_awaiting_scan_back") == "1"
    assert state_of(hass, "sensor.return_box_main_set_aside_for_staff") == "1"
    assert state_of(hass, "sensor.return_box_main_waiting_since") != "unknown"

    frozen_clock.tick(timedelta(days=1))
    await call_service(hass, "scan_back", {"box": "main"})
    assert state_of(hass, "sensor.return_box_main_awaiting_scan_back") == "0"
    assert state_of(hass, "sensor.return_box_main_set_aside_for_staff") == "0"
    assert state_of(hass, "sensor.return_box_main_waiting_since") == "unknown"
    # A new day: the kiosk's count starts again.
    await call_service(
        hass, "self_checkout", {"patron_id": "S0001", "items": ["B00003"], "kiosk": "K1"}
    )
    assert state_of(hass, "sensor.kiosk_k1_loans_today") == "1"


async def test_options_set_kiosks_and_boxes(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """Staff add a kiosk in the options; a bad id is a form error."""
    flow = await hass.config_entries.options.async_init(init_integration.entry_id)
    result = await hass.config_entries.options.async_configure(
        flow["flow_id"], {"kiosks": ["K1", "K 2"], "return_boxes": ["main"]}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"kiosks": "invalid_station"}
    result = await hass.config_entries.options.async_configure(
        flow["flow_id"], {"kiosks": ["K1", "K1"], "return_boxes": ["main"]}
    )
    assert result["errors"] == {"kiosks": "invalid_station"}
    result = await hass.config_entries.options.async_configure(
        flow["flow_id"], {"kiosks": ["K1", "K2"], "return_boxes": ["main"], "partner_loan_days": 45}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert state_of(hass, "sensor.kiosk_k2_status") == "ready"
    assert hass.states.get("sensor.return_box_linkou_awaiting_scan_back") is None or (
        state_of(hass, "sensor.return_box_linkou_awaiting_scan_back") == "unavailable"
    )
    assert init_integration.runtime_data.desk.rules.policy.partner_loan_days == 45


async def test_diagnostics_count_circulation_without_names(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    hass_client: ClientSessionGenerator,
) -> None:
    """Kiosk faults and box counts are in diagnostics; no patron and no barcode are."""
    await call_service(
        hass, "self_checkout", {"patron_id": "S0001", "items": ["B00001"], "kiosk": "K1"}
    )
    await call_service(hass, "return_box_drop", {"box": "linkou", "items": ["B00001", "XYZ-1"]})
    await call_service(hass, "kiosk_fault", {"kiosk": "K1", "fault": "printer"})
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, init_integration)
    circulation = diagnostics["circulation"]
    assert circulation["loans"] == 1
    assert circulation["kiosks"] == {"K1": {"fault": "printer", "loans_today": 1}}
    assert circulation["return_boxes"]["linkou"] == {"waiting": 1, "set_aside": 1}
    text = repr(diagnostics)
    for secret in ("S0001", "B00001", "XYZ-1"):
        assert secret not in text
