"""One library, several buildings: patron rules hold in every site of the library."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Any
from unittest.mock import patch

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import ServiceValidationError
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ntnu_library.const import (
    CONF_DEMO_DATA,
    CONF_LIBRARY,
    CONF_PATRON_SYSTEM,
    CONF_RADIO,
    CONF_SITE_NAME,
    DOMAIN,
    PATRONS_LOCAL,
)
from custom_components.ntnu_library.core.model import month_key
from custom_components.ntnu_library.demo import DEMO_ROOMS
from custom_components.ntnu_library.subentries import room_subentry

from .conftest import (
    ACTIVATION_CODE,
    PASSWORD,
    SMALL_SITE,
    TIME_ZONE,
    activate,
    call_service,
    patron_action,
)

GONGGUAN_ROOMS = ("T01", "T02", "T03")


def _site(
    title: str, rooms: tuple[str, ...], policy: dict[str, Any], **data: Any
) -> MockConfigEntry:
    return MockConfigEntry(
        domain=DOMAIN,
        title=title,
        unique_id=title.lower().replace(" ", "_"),
        data={
            CONF_SITE_NAME: title,
            CONF_RADIO: "simulated",
            CONF_PATRON_SYSTEM: PATRONS_LOCAL,
            CONF_DEMO_DATA: True,
            **data,
        },
        options=policy,
        subentries_data=[room_subentry(r) for r in DEMO_ROOMS if r.room_id in rooms],
    )


@pytest.fixture
async def sites(
    hass: HomeAssistant, policy_options: dict[str, Any]
) -> AsyncGenerator[tuple[MockConfigEntry, MockConfigEntry]]:
    """The main library and Gongguan, two buildings of one library."""
    await hass.config.async_set_time_zone(TIME_ZONE)
    main = _site("Main Library", SMALL_SITE, policy_options, **{CONF_LIBRARY: "ntnu"})
    gongguan = _site("Gongguan", GONGGUAN_ROOMS, policy_options, **{CONF_LIBRARY: "ntnu"})
    for entry in (main, gongguan):
        entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    yield main, gongguan
    for entry in (main, gongguan):
        if entry.state is ConfigEntryState.LOADED:
            await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


async def _at(
    hass: HomeAssistant, site: MockConfigEntry, service: str, **data: Any
) -> dict[str, Any]:
    return await call_service(hass, service, {"config_entry_id": site.entry_id, **data})


async def _patron(
    hass: HomeAssistant,
    site: MockConfigEntry,
    action: str,
    room: str,
    patron_id: str,
    password: str = PASSWORD,
) -> dict[str, Any]:
    """A patron's own borrow, open or return at one site."""
    return await patron_action(
        hass, action, room, patron_id, password, config_entry_id=site.entry_id
    )


async def _refused(
    hass: HomeAssistant,
    site: MockConfigEntry,
    action: str,
    room: str,
    patron_id: str,
    password: str = PASSWORD,
) -> str:
    with pytest.raises(ServiceValidationError) as err:
        await _patron(hass, site, action, room, patron_id, password)
    return str(err.value.translation_key)


async def test_the_sites_share_one_library(
    hass: HomeAssistant, sites: tuple[MockConfigEntry, MockConfigEntry]
) -> None:
    main, gongguan = sites
    assert main.runtime_data.library is gongguan.runtime_data.library
    # The demo patrons were added once, for the library.
    assert len(main.runtime_data.patrons.directory) == 25  # type: ignore[arg-type]


async def test_a_freeze_at_one_site_refuses_a_borrow_at_the_other(
    hass: HomeAssistant, sites: tuple[MockConfigEntry, MockConfigEntry]
) -> None:
    main, gongguan = sites
    await _at(hass, main, "freeze_patron", patron_id="S0001", days=7, reason="late")
    assert await _refused(hass, gongguan, "borrow", "T01", "S0001") == "frozen"
    # And lifted at the other: both see it.
    await _at(hass, gongguan, "unfreeze_patron", patron_id="S0001")
    assert (await _patron(hass, main, "borrow", "T01", "S0001"))["status"] == "in_use"


async def test_a_patron_added_at_one_site_logs_in_at_the_other(
    hass: HomeAssistant, sites: tuple[MockConfigEntry, MockConfigEntry]
) -> None:
    main, gongguan = sites
    added = await _at(
        hass, main, "add_patron", patron_id="S0042", name="林小華", category="student_undergraduate"
    )
    assert ACTIVATION_CODE.fullmatch(added["activation_code"])
    # The patron chooses a password with the code at one site's activation page.
    await activate(main, "S0042", added["activation_code"], "s3cret-42")
    result = await _patron(hass, gongguan, "borrow", "T02", "S0042", "s3cret-42")
    assert result["holder"] == "S***2"


async def test_one_temporary_room_per_patron_across_the_library(
    hass: HomeAssistant, sites: tuple[MockConfigEntry, MockConfigEntry]
) -> None:
    main, gongguan = sites
    await _patron(hass, main, "borrow", "T01", "G0001")
    with pytest.raises(ServiceValidationError) as err:
        await _patron(hass, gongguan, "borrow", "T01", "G0001")
    assert err.value.translation_key == "already_holding"
    assert err.value.translation_placeholders == {"room": "Main Library T01"}
    # Returned at the main library: now Gongguan lends one.
    await _patron(hass, main, "return", "T01", "G0001")
    assert (await _patron(hass, gongguan, "borrow", "T01", "G0001"))["door"] == "unlocked"


async def test_a_check_in_at_one_counter_counts_in_every_building(
    hass: HomeAssistant, sites: tuple[MockConfigEntry, MockConfigEntry]
) -> None:
    """X0001 (frozen) holds L02 at the main library and checks in at Gongguan's counter."""
    main, gongguan = sites
    open_l02 = ("open", "L02", "X0001")
    assert await _refused(hass, main, *open_l02) == "not_checked_in"
    await _at(hass, gongguan, "check_in", patron_id="X0001")
    assert (await _patron(hass, main, *open_l02))["door"] == "unlocked"


async def test_login_failures_add_up_across_sites(
    hass: HomeAssistant, sites: tuple[MockConfigEntry, MockConfigEntry]
) -> None:
    main, gongguan = sites
    for site in (main, gongguan, main, gongguan, main, gongguan):
        wrong = await _refused(hass, site, "borrow", "T02", "F0001", "wrong")
        assert wrong == "invalid_credentials"
    # Six failures in all, three at each: the patron backs off at both.
    for site in (main, gongguan):
        assert await _refused(hass, site, "borrow", "T02", "F0001") == "too_many_attempts"
    # Staff at either counter clear it for both.
    await call_service(hass, "clear_login_lock", {"patron_id": "F0001"})
    assert (await _patron(hass, gongguan, "borrow", "T03", "F0001"))["status"] == "in_use"


async def test_patron_services_need_no_site_within_one_library(
    hass: HomeAssistant, sites: tuple[MockConfigEntry, MockConfigEntry]
) -> None:
    await call_service(hass, "freeze_patron", {"patron_id": "G0001"})
    # A room service still names its building.
    with pytest.raises(ServiceValidationError) as err:
        await call_service(hass, "auto_return", {"room": "T01"})
    assert err.value.translation_key == "site_required"
    # A patron's own action names it only where both buildings have the room.
    with pytest.raises(ServiceValidationError) as err:
        await patron_action(hass, "borrow", "T01", "S0001")
    assert err.value.translation_key == "site_required"
    assert (await patron_action(hass, "open", "L01", "D0001"))["door"] == "unlocked"


async def test_a_restart_keeps_every_borrow_reservation_and_patron(
    hass: HomeAssistant, sites: tuple[MockConfigEntry, MockConfigEntry]
) -> None:
    main, gongguan = sites
    await _patron(hass, main, "borrow", "T01", "S0001")
    await _patron(hass, gongguan, "borrow", "T02", "G0001")
    next_month = month_key(_now(), ahead=1)
    await _at(hass, main, "reserve_long_term", room="L03", patron_id="D0001", month=next_month)
    await _at(hass, main, "freeze_patron", patron_id="A0001", days=3)
    for entry in (main, gongguan):
        await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    for entry in (main, gongguan):
        assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()

    assert main.runtime_data.rooms.holder("T01", _now()) == "S0001"
    assert gongguan.runtime_data.rooms.holder("T02", _now()) == "G0001"
    assert ("L03", next_month, "D0001") in main.runtime_data.rooms.reservations()
    assert "A0001" in gongguan.runtime_data.rooms.patrons.freezes
    # Still one room a patron, after the restart too.
    assert await _refused(hass, gongguan, "borrow", "T03", "S0001") == ("already_holding")


def _now() -> datetime:
    return dt_util.now()


async def test_a_single_site_from_before_libraries_keeps_everything(
    hass: HomeAssistant, policy_options: dict[str, Any], hass_storage: dict[str, Any]
) -> None:
    """A site whose Store still holds its own patrons, throttle and freezes hands them over."""
    await hass.config.async_set_time_zone(TIME_ZONE)
    old = _site("Main Library", SMALL_SITE, policy_options)
    old.add_to_hass(hass)
    # Set up once to write a Store as this site would have had it: then make it old-style.
    assert await hass.config_entries.async_setup(old.entry_id)
    await hass.async_block_till_done()
    await _patron(hass, old, "borrow", "T01", "S0001")
    hub_key = f"{DOMAIN}.library.{old.runtime_data.library.library_id}"
    await hass.config_entries.async_unload(old.entry_id)
    await hass.async_block_till_done()
    site = hass_storage[f"{DOMAIN}.{old.entry_id}"]["data"]
    library = hass_storage.pop(hub_key)["data"]
    site["patrons"] = library["patrons"]
    site["throttle"] = library["throttle"]
    site["library"] |= library["patron_state"]  # freezes, check-ins and refs lived here
    site["seeded"] = True

    assert await hass.config_entries.async_setup(old.entry_id)
    await hass.async_block_till_done()
    runtime = old.runtime_data
    assert runtime.rooms.holder("T01", _now()) == "S0001"
    assert ("L02", _now().strftime("%Y-%m"), "X0001") in runtime.rooms.reservations()
    assert "X0001" in runtime.rooms.patrons.freezes
    assert len(runtime.patrons.directory) == 25  # type: ignore[arg-type]
    # Handed over: the library's Store holds it, the site's no longer does.
    assert hass_storage[hub_key]["data"]["patrons"]["patrons"]
    assert "patrons" not in hass_storage[f"{DOMAIN}.{old.entry_id}"]["data"]
    assert "freezes" not in hass_storage[f"{DOMAIN}.{old.entry_id}"]["data"]["library"]
    # No demo seeding again: the patrons were not added twice.
    assert (await _patron(hass, old, "return", "T01", "S0001"))["status"] == "idle"


async def test_the_flow_of_a_second_site_offers_to_join_the_library(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """Gongguan joins the main library's library (the demo adds it so with --sites 2)."""
    main = init_integration
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": "user"})
    fields = {str(marker): marker for marker in result["data_schema"].schema}
    assert fields["library"].default() == main.runtime_data.library.library_id
    with patch("custom_components.ntnu_library.async_setup_entry", return_value=True):
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"],
            {
                CONF_SITE_NAME: "Gongguan",
                CONF_RADIO: "simulated",
                CONF_PATRON_SYSTEM: PATRONS_LOCAL,
                CONF_DEMO_DATA: True,
                CONF_LIBRARY: main.runtime_data.library.library_id,
            },
        )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_LIBRARY] == main.runtime_data.library.library_id
    # A demo building of an existing library: Gongguan's six temporary rooms.
    rooms = sorted(s.title for s in result["result"].subentries.values())
    assert rooms == ["T01", "T02", "T03", "T04", "T05", "T06"]


async def test_a_site_may_start_a_library_of_its_own(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": "user"})
    with patch("custom_components.ntnu_library.async_setup_entry", return_value=True):
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"],
            {
                CONF_SITE_NAME: "Linkou",
                CONF_RADIO: "simulated",
                CONF_PATRON_SYSTEM: PATRONS_LOCAL,
                CONF_DEMO_DATA: False,
                CONF_LIBRARY: "new",
            },
        )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_LIBRARY] not in (
        "new",
        init_integration.runtime_data.library.library_id,
    )
