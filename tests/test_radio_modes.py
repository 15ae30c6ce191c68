"""Choosing the radio: an own EZSP stick (bellows), ZHA's network, or the simulation."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any
from unittest.mock import AsyncMock, patch

from homeassistant.config_entries import SOURCE_RECONFIGURE, SOURCE_USER, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import issue_registry as ir
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ntnu_library.const import (
    CONF_BAUDRATE,
    CONF_BELLOWS,
    CONF_CONTACT_IEEE,
    CONF_DEMO_DATA,
    CONF_DEVICE_PATH,
    CONF_FLOW_CONTROL,
    CONF_KIND,
    CONF_LOCK_IEEE,
    CONF_OCCUPANCY_IEEE,
    CONF_PATRON_SYSTEM,
    CONF_RADIO,
    CONF_ROOM_ID,
    CONF_SITE_NAME,
    DOMAIN,
    SUBENTRY_ROOM,
)
from custom_components.ntnu_library.demo import DEMO_ROOMS
from custom_components.ntnu_library.subentries import room_subentry

ZHA_PORT = "/dev/ttyZHA0"
SITE = {CONF_SITE_NAME: "Gongguan", CONF_PATRON_SYSTEM: "local", CONF_DEMO_DATA: False}


@pytest.fixture
def mock_setup_entry() -> Generator[AsyncMock]:
    """Flow tests stop at the entry."""
    with patch("custom_components.ntnu_library.async_setup_entry", return_value=True) as setup:
        yield setup


@pytest.fixture
def zha_entry(hass: HomeAssistant) -> MockConfigEntry:
    """ZHA set up on its own stick (not loaded: these tests never start it)."""
    entry = MockConfigEntry(domain="zha", data={"device": {"path": ZHA_PORT}})
    entry.add_to_hass(hass)
    return entry


async def _user_step(hass: HomeAssistant, **changes: Any) -> dict[str, Any]:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    return dict(await hass.config_entries.flow.async_configure(result["flow_id"], SITE | changes))


# --- the config flow ------------------------------------------------------------------------


async def test_own_stick_is_probed_and_never_zhas(
    hass: HomeAssistant, zha_entry: MockConfigEntry, mock_setup_entry: AsyncMock
) -> None:
    result = await _user_step(hass, **{CONF_RADIO: "bellows"})
    assert result["step_id"] == "bellows"
    stick = {CONF_DEVICE_PATH: ZHA_PORT, CONF_BAUDRATE: 115200, CONF_FLOW_CONTROL: "none"}
    with patch("custom_components.ntnu_library.config_flow.probe", return_value=True) as probe:
        result = await hass.config_entries.flow.async_configure(result["flow_id"], stick)
        assert result["errors"] == {CONF_DEVICE_PATH: "port_used_by_zha"}
        assert probe.call_count == 0  # ZHA's port is never even opened

    stick[CONF_DEVICE_PATH] = " /dev/ttyUSB7 "
    with patch("custom_components.ntnu_library.config_flow.probe", return_value=False):
        result = await hass.config_entries.flow.async_configure(result["flow_id"], stick)
    assert result["errors"] == {"base": "cannot_connect_radio"}

    stick[CONF_FLOW_CONTROL] = "hardware"
    with patch("custom_components.ntnu_library.config_flow.probe", return_value=True) as probe:
        result = await hass.config_entries.flow.async_configure(result["flow_id"], stick)
    probe.assert_awaited_once_with("/dev/ttyUSB7", 115200, "hardware")
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_RADIO] == "bellows"
    assert result["data"][CONF_BELLOWS] == {
        CONF_DEVICE_PATH: "/dev/ttyUSB7",
        CONF_BAUDRATE: 115200,
        CONF_FLOW_CONTROL: "hardware",
    }


async def test_sharing_zha_needs_zha(hass: HomeAssistant, mock_setup_entry: AsyncMock) -> None:
    result = await _user_step(hass, **{CONF_RADIO: "zha"})
    assert result["errors"] == {CONF_RADIO: "zha_not_set_up"}
    MockConfigEntry(domain="zha", data={"device": {"path": ZHA_PORT}}).add_to_hass(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], SITE | {CONF_RADIO: "zha"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_RADIO] == "zha"


async def test_demo_rooms_need_the_simulation(
    hass: HomeAssistant, zha_entry: MockConfigEntry, mock_setup_entry: AsyncMock
) -> None:
    result = await _user_step(hass, **{CONF_RADIO: "zha", CONF_DEMO_DATA: True})
    assert result["errors"] == {CONF_DEMO_DATA: "demo_needs_simulated"}


# --- sites on a real radio ------------------------------------------------------------------


def _site(radio: str, **data: Any) -> MockConfigEntry:
    return MockConfigEntry(
        domain=DOMAIN,
        title="Gongguan",
        unique_id="gongguan",
        data={**SITE, CONF_RADIO: radio, **data},
        subentries_data=[room_subentry(DEMO_ROOMS[0])],
    )


async def test_a_missing_stick_retries_and_tells_staff(
    hass: HomeAssistant, issue_registry: ir.IssueRegistry
) -> None:
    entry = _site(
        "bellows",
        **{
            CONF_BELLOWS: {
                CONF_DEVICE_PATH: "/dev/ttyNTNU-none",
                CONF_BAUDRATE: 115200,
                CONF_FLOW_CONTROL: "none",
            }
        },
    )
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.SETUP_RETRY
    issue = issue_registry.async_get_issue(DOMAIN, f"radio_not_ready_{entry.entry_id}")
    assert issue is not None
    assert issue.translation_key == "radio_not_ready_bellows"
    assert "/dev/ttyNTNU-none" in issue.translation_placeholders["error"]


async def test_zha_not_loaded_retries(
    hass: HomeAssistant, zha_entry: MockConfigEntry, issue_registry: ir.IssueRegistry
) -> None:
    entry = _site("zha")
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.SETUP_RETRY
    issue = issue_registry.async_get_issue(DOMAIN, f"radio_not_ready_{entry.entry_id}")
    assert issue is not None and issue.translation_key == "radio_not_ready_zha"


async def test_rooms_on_a_real_radio_are_bound_by_ieee(hass: HomeAssistant) -> None:
    entry = _site("zha")
    entry.add_to_hass(hass)  # not loaded: the form still takes typed addresses
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, SUBENTRY_ROOM), context={"source": SOURCE_USER}
    )
    assert CONF_LOCK_IEEE in {str(key) for key in result["data_schema"].schema}
    room = {CONF_ROOM_ID: "T20", CONF_KIND: "temporary"}
    with patch("custom_components.ntnu_library.async_setup_entry", return_value=True):
        result = await hass.config_entries.subentries.async_configure(
            result["flow_id"], room | {CONF_LOCK_IEEE: "not-an-address"}
        )
        assert result["errors"] == {CONF_LOCK_IEEE: "invalid_ieee"}
        result = await hass.config_entries.subentries.async_configure(
            result["flow_id"],
            room
            | {
                CONF_LOCK_IEEE: "00-0D-6F-00-0A-BC-DE-F0",
                CONF_CONTACT_IEEE: "00:0d:6f:00:0a:bc:de:f1",
            },
        )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_LOCK_IEEE] == "00:0d:6f:00:0a:bc:de:f0"
    assert result["data"][CONF_CONTACT_IEEE] == "00:0d:6f:00:0a:bc:de:f1"
    assert CONF_OCCUPANCY_IEEE not in result["data"]

    # The lock is replaced: the room is bound to the new one, its id stays.
    subentry_id = next(s.subentry_id for s in entry.subentries.values() if s.unique_id == "T20")
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, SUBENTRY_ROOM),
        context={"source": SOURCE_RECONFIGURE, "subentry_id": subentry_id},
    )
    assert result["step_id"] == "reconfigure"
    with patch("custom_components.ntnu_library.async_setup_entry", return_value=True):
        result = await hass.config_entries.subentries.async_configure(
            result["flow_id"],
            {CONF_KIND: "temporary", CONF_LOCK_IEEE: "00:0d:6f:00:0a:bc:de:f9"},
        )
    assert result["reason"] == "reconfigure_successful"
    data = entry.subentries[subentry_id].data
    assert data[CONF_ROOM_ID] == "T20"
    assert data[CONF_LOCK_IEEE] == "00:0d:6f:00:0a:bc:de:f9"
    assert CONF_CONTACT_IEEE not in data

    # One device, one room: another room cannot take T20's lock, nor a room one device twice.
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, SUBENTRY_ROOM), context={"source": SOURCE_USER}
    )
    other = {CONF_ROOM_ID: "T21", CONF_KIND: "temporary"}
    with patch("custom_components.ntnu_library.async_setup_entry", return_value=True):
        result = await hass.config_entries.subentries.async_configure(
            result["flow_id"], other | {CONF_LOCK_IEEE: "00:0D:6F:00:0A:BC:DE:F9"}
        )
        assert result["errors"] == {CONF_LOCK_IEEE: "device_bound"}
        twice = "00:0d:6f:00:0a:bc:de:a1"
        result = await hass.config_entries.subentries.async_configure(
            result["flow_id"], other | {CONF_LOCK_IEEE: twice, CONF_OCCUPANCY_IEEE: twice}
        )
        assert result["errors"] == {CONF_OCCUPANCY_IEEE: "device_twice"}
        result = await hass.config_entries.subentries.async_configure(
            result["flow_id"], other | {CONF_LOCK_IEEE: twice}
        )
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_reconfigure_an_own_stick_without_probing_the_port_in_use(
    hass: HomeAssistant, mock_setup_entry: AsyncMock
) -> None:
    stick = {CONF_DEVICE_PATH: "/dev/ttyUSB7", CONF_BAUDRATE: 115200, CONF_FLOW_CONTROL: "none"}
    entry = _site("bellows", **{CONF_BELLOWS: stick})
    entry.add_to_hass(hass)
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_SITE_NAME: "Gongguan Branch"}
    )
    assert result["step_id"] == "bellows"
    with patch("custom_components.ntnu_library.config_flow.probe", return_value=False) as probe:
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], stick | {CONF_BAUDRATE: 230400}
        )
    assert probe.call_count == 0  # its own radio holds the port open
    assert result["reason"] == "reconfigure_successful"
    assert entry.title == "Gongguan Branch"
    assert entry.data[CONF_BELLOWS][CONF_BAUDRATE] == 230400
