"""A site whose patrons live in the library's ILS, reached over SIP2 on loopback."""

from __future__ import annotations

from collections.abc import Generator
from datetime import timedelta
from typing import Any
from unittest.mock import AsyncMock, patch

from homeassistant.config_entries import SOURCE_USER, ConfigEntryState
from homeassistant.const import CONF_PORT
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.ntnu_library.backends import parse_category_map, sip2_config
from custom_components.ntnu_library.const import (
    CONF_CATEGORY_MAP,
    CONF_DEMO_DATA,
    CONF_LOGIN_PASSWORD,
    CONF_LOGIN_USER,
    CONF_PATRON_SYSTEM,
    CONF_RADIO,
    CONF_SIP2,
    CONF_SITE_NAME,
    DOMAIN,
    PATRONS_SIP2,
)
from custom_components.ntnu_library.demo import DEMO_ROOMS
from custom_components.ntnu_library.diagnostics import async_get_config_entry_diagnostics
from custom_components.ntnu_library.subentries import room_subentry

from .conftest import (
    ILS_LOGIN_PASSWORD,
    IlsServer,
    call_service,
    patron_action,
    refusal,
    sip2_settings,
    state_of,
)

pytestmark = pytest.mark.usefixtures("socket_enabled")


@pytest.fixture
def patron_system() -> str:
    """Every site here checks patrons against the ILS."""
    return PATRONS_SIP2


@pytest.fixture
def mock_setup_entry() -> Generator[AsyncMock]:
    """Flow tests stop at the entry."""
    with patch("custom_components.ntnu_library.async_setup_entry", return_value=True) as setup:
        yield setup


async def _start_flow(hass: HomeAssistant) -> dict[str, Any]:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {
            CONF_SITE_NAME: "Linkou",
            CONF_RADIO: "simulated",
            CONF_PATRON_SYSTEM: PATRONS_SIP2,
            CONF_DEMO_DATA: False,
        },
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "sip2"
    return dict(result)


async def test_flow_tries_the_ils_before_creating_the_site(
    hass: HomeAssistant, ils: IlsServer, mock_setup_entry: AsyncMock
) -> None:
    result = await _start_flow(hass)
    settings = sip2_settings(ils)

    # Wrong SIP account: the form says so and nothing is created.
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], settings | {CONF_LOGIN_PASSWORD: "wrong"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "invalid_auth"}

    # Nobody answers on that port.
    await ils.stop()
    result = await hass.config_entries.flow.async_configure(result["flow_id"], settings)
    assert result["errors"] == {"base": "cannot_connect"}
    await ils.start()
    settings = sip2_settings(ils)

    result = await hass.config_entries.flow.async_configure(result["flow_id"], settings)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Linkou"
    assert result["data"][CONF_PATRON_SYSTEM] == PATRONS_SIP2
    assert result["data"][CONF_SIP2] == settings | {
        "error_detection": True,
        "category_field": "PC",
        "category_map": "",
        "default_category": "friend_of_library",
        "card_field": "",
        "encoding": "utf-8",
        "refusing_flags": ["card_reported_lost", "charge_privileges_denied"],
    }
    assert mock_setup_entry.call_count == 1


async def test_the_whole_demo_path_against_the_ils(
    hass: HomeAssistant, init_integration: MockConfigEntry, ils: IlsServer
) -> None:
    """Borrow, tap, return: the patron and the card are checked by the ILS."""
    result = await patron_action(hass, "borrow", "T01", "S0001")
    assert result["status"] == "in_use"
    assert result["holder"] == "S***1"
    await hass.services.async_call("lock", "lock", {"entity_id": "lock.t01"}, blocking=True)
    response = await hass.services.async_call(
        DOMAIN,
        "simulate",
        {"room": "T01", "action": "card_tap", "card": "C-S0001"},
        blocking=True,
        return_response=True,
    )
    # The answer already tells the door's move: the tap waited for the ILS and the lock.
    assert response is not None and response["lock"] == "unlocked"
    assert state_of(hass, "lock.t01") == "unlocked"
    await hass.services.async_call("lock", "lock", {"entity_id": "lock.t01"}, blocking=True)
    await call_service(hass, "simulate", {"room": "T01", "action": "card_tap", "card": "C-G0001"})
    assert state_of(hass, "lock.t01") == "locked"
    result = await patron_action(hass, "return", "T01", "S0001")
    assert result["status"] == "idle"
    assert ils.counts.get("63", 0) >= 4  # the ILS answered every login and card
    # The lock could keep cards, but the site knows none to write: the site decides.
    await hass.async_block_till_done(wait_background_tasks=True)
    assert state_of(hass, "sensor.t01_card_decisions") == "site_only"
    assert state_of(hass, "sensor.t01_cards_in_the_lock") == "unknown"


async def test_an_ils_down_at_start_refuses_only_patron_logins(
    hass: HomeAssistant, init_integration: MockConfigEntry, ils: IlsServer
) -> None:
    """A restart while the ILS is down: the site runs, only patron logins wait for the ILS."""
    entry = init_integration
    await patron_action(hass, "borrow", "T01", "S0001")
    await ils.stop()
    await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()

    assert entry.state is ConfigEntryState.LOADED
    issue_id = f"patron_system_down_{entry.entry_id}"
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is not None
    assert state_of(hass, "lock.t02") == "locked"  # the rooms and their locks are there
    assert state_of(hass, "sensor.t01_status") == "in_use"
    with pytest.raises(HomeAssistantError) as err:
        await patron_action(hass, "borrow", "T02", "G0001")
    assert refusal(err.value) == "patron_system_unavailable"
    # The counter returns by room without asking the ILS; the door locks.
    returned = await call_service(hass, "counter_return", {"room": "T01"})
    assert returned["status"] == "idle"
    assert returned["door"] == "locked"

    # The ILS is back: the next check notices, the notice goes, logins work again.
    await ils.start()
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=61))
    await hass.async_block_till_done(wait_background_tasks=True)
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None
    borrowed = await patron_action(hass, "borrow", "T02", "G0001")
    assert borrowed["status"] == "in_use"


async def test_a_refused_sip_account_asks_for_it_again(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, ils: IlsServer
) -> None:
    ils.reject_login = True
    mock_config_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert mock_config_entry.state is ConfigEntryState.SETUP_ERROR
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == ["reauth"]

    # Still refused: the form says so.
    flow_id = flows[0]["flow_id"]
    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_LOGIN_USER: "ntnu-door", CONF_LOGIN_PASSWORD: "still-wrong"}
    )
    assert result["errors"] == {"base": "invalid_auth"}

    ils.reject_login = False
    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_LOGIN_USER: "ntnu-door", CONF_LOGIN_PASSWORD: ILS_LOGIN_PASSWORD}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    await hass.async_block_till_done()
    assert mock_config_entry.state is ConfigEntryState.LOADED


async def test_reconfigure_moves_the_ils_and_never_shows_the_password(
    hass: HomeAssistant, init_integration: MockConfigEntry, ils: IlsServer
) -> None:
    entry = init_integration
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_SITE_NAME: "Main Library"}
    )
    assert result["step_id"] == "sip2"
    suggested = {
        str(key): key.description.get("suggested_value")
        for key in result["data_schema"].schema
        if key.description
    }
    assert suggested["host"] == "127.0.0.1"
    assert suggested.get(CONF_LOGIN_PASSWORD) is None  # never sent back to the browser

    # The ILS moved to another port; the password field left empty keeps the stored one.
    old_port = ils.port
    await ils.stop()
    ils.port = 0
    await ils.start()
    assert ils.port != old_port
    settings = sip2_settings(ils)
    del settings[CONF_LOGIN_PASSWORD]
    result = await hass.config_entries.flow.async_configure(result["flow_id"], settings)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert entry.data[CONF_SIP2][CONF_PORT] == ils.port
    assert entry.data[CONF_SIP2][CONF_LOGIN_PASSWORD] == ILS_LOGIN_PASSWORD
    assert entry.state is ConfigEntryState.LOADED


async def test_patron_types_are_mapped_to_categories(
    hass: HomeAssistant, ils: IlsServer, mock_setup_entry: AsyncMock
) -> None:
    result = await _start_flow(hass)
    settings = sip2_settings(ils)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], settings | {CONF_CATEGORY_MAP: "UG=student_undergraduate\nXX=nobody"}
    )
    assert result["errors"] == {CONF_CATEGORY_MAP: "invalid_category_map"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        settings | {CONF_CATEGORY_MAP: "UG = student_undergraduate; FAC=faculty_full_time"},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    config = sip2_config(result["data"][CONF_SIP2])
    assert dict(config.category_map) == {
        "UG": "student_undergraduate",
        "FAC": "faculty_full_time",
    }
    assert config.error_detection is True


def test_a_malformed_category_map_is_refused() -> None:
    with pytest.raises(ValueError):
        parse_category_map("UG student_undergraduate")
    assert parse_category_map("") == {}


async def test_diagnostics_of_a_sip2_site_hide_the_sip_account(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    diagnostics = await async_get_config_entry_diagnostics(hass, init_integration)
    dumped = str(diagnostics)
    assert ILS_LOGIN_PASSWORD not in dumped
    assert "ntnu-door" not in dumped  # the SIP login user too
    assert diagnostics["patrons"] == {"system": "sip2"}


async def test_a_sip_account_refused_while_running_asks_staff_for_it(
    hass: HomeAssistant, init_integration: MockConfigEntry, ils: IlsServer
) -> None:
    # The ILS changes the terminal's password and drops the session.
    ils.reject_login = True
    await ils.stop()
    await ils.start()
    with pytest.raises(HomeAssistantError) as refused:
        await patron_action(hass, "borrow", "T01", "S0001")
    assert refusal(refused.value) == "patron_system_unavailable"
    assert state_of(hass, "lock.t01") == "locked"
    await hass.async_block_till_done()
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == ["reauth"]

    # Staff enter the account again; the site reloads and patrons are served again.
    ils.reject_login = False
    result = await hass.config_entries.flow.async_configure(
        flows[0]["flow_id"],
        {CONF_LOGIN_USER: "ntnu-door", CONF_LOGIN_PASSWORD: ILS_LOGIN_PASSWORD},
    )
    assert result["reason"] == "reauth_successful"
    await hass.async_block_till_done()
    assert init_integration.state is ConfigEntryState.LOADED
    result = await patron_action(hass, "borrow", "T01", "S0001")
    assert result["status"] == "in_use"


async def test_an_unmapped_patron_type_gets_the_fewest_rights_and_one_repair_notice(
    hass: HomeAssistant, init_integration: MockConfigEntry, ils: IlsServer
) -> None:
    patron = ils.find("G0001")
    assert patron is not None
    patron["patron_type"] = "VIS\x1b[31m"  # a type nobody mapped, with a control sequence
    for room in ("T01", "T01"):
        await patron_action(hass, "borrow", room, "G0001")
        await call_service(hass, "counter_return", {"room": room})
    issues = [
        issue
        for (domain, issue_id), issue in ir.async_get(hass).issues.items()
        if domain == DOMAIN and issue_id.startswith("unmapped_patron_type_")
    ]
    assert len(issues) == 1
    placeholders = issues[0].translation_placeholders or {}
    assert placeholders["category"] == "friend_of_library"
    assert "\x1b" not in placeholders["code"] and placeholders["code"].startswith("VIS")

    # Staff map the type the notice names: with the new map the notice goes.
    entry = init_integration
    mapped = f"{placeholders['code']}=alumni"
    hass.config_entries.async_update_entry(
        entry, data={**entry.data, CONF_SIP2: {**entry.data[CONF_SIP2], CONF_CATEGORY_MAP: mapped}}
    )
    await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert not [
        issue_id
        for (domain, issue_id) in ir.async_get(hass).issues
        if domain == DOMAIN and issue_id.startswith("unmapped_patron_type_")
    ]


async def test_a_freeze_is_written_to_the_ils_and_refused_by_another_installation(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    ils: IlsServer,
    policy_options: dict[str, Any],
) -> None:
    """Buildings with a Home Assistant each share freezes through the ILS (Block Patron)."""
    frozen = await call_service(
        hass, "freeze_patron", {"patron_id": "G0001", "days": 7, "reason": "left T01 open"}
    )
    assert frozen["ils_blocked"] is True
    assert [(key, message) for key, message, _ in ils.blocks] == [("G0001", "left T01 open")]

    # Linkou: another installation, so another library, on its own SIP2 connection.
    linkou = MockConfigEntry(
        domain=DOMAIN,
        title="Linkou",
        unique_id="linkou",
        data={
            CONF_SITE_NAME: "Linkou",
            CONF_RADIO: "simulated",
            CONF_PATRON_SYSTEM: PATRONS_SIP2,
            CONF_DEMO_DATA: False,
            CONF_SIP2: sip2_settings(ils),
        },
        options=policy_options,
        subentries_data=[room_subentry(room) for room in DEMO_ROOMS if room.room_id == "T05"],
    )
    linkou.add_to_hass(hass)
    assert await hass.config_entries.async_setup(linkou.entry_id)
    await hass.async_block_till_done()
    assert linkou.runtime_data.library is not init_integration.runtime_data.library
    assert "G0001" not in linkou.runtime_data.rooms.patrons.freezes  # nothing shared here
    with pytest.raises(ServiceValidationError) as err:
        await patron_action(hass, "borrow", "T05", "G0001", config_entry_id=linkou.entry_id)
    assert err.value.translation_key == "privileges_denied"


async def test_a_freeze_stands_when_the_ils_does_not_take_the_block(
    hass: HomeAssistant, init_integration: MockConfigEntry, ils: IlsServer
) -> None:
    ils.keep_blocks = False  # answers the block, keeps nothing (as some ILSs do)
    frozen = await call_service(hass, "freeze_patron", {"patron_id": "G0001"})
    assert frozen["ils_blocked"] is False
    assert "G0001" in init_integration.runtime_data.rooms.patrons.freezes
