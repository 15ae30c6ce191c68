"""The config flow: user, reconfigure, options (the policy) and room subentries."""

from __future__ import annotations

from collections.abc import Generator
import re
from typing import Any
from unittest.mock import AsyncMock, patch

from homeassistant.config_entries import (
    SOURCE_RECONFIGURE,
    SOURCE_USER,
    ConfigEntryState,
    ConfigFlowResult,
)
from homeassistant.const import CONF_NAME
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType, InvalidData
from homeassistant.helpers import device_registry as dr, entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ntnu_library.const import (
    CONF_CONTACT_IEEE,
    CONF_DEMO_DATA,
    CONF_FLOOR,
    CONF_KIND,
    CONF_LIBRARY,
    CONF_LOCK_IEEE,
    CONF_OCCUPANCY_IEEE,
    CONF_PATRON_SYSTEM,
    CONF_RADIO,
    CONF_ROOM_ID,
    CONF_SITE_NAME,
    DOMAIN,
    SUBENTRY_ROOM,
)
from custom_components.ntnu_library.core.errors import Reason, Refused
from custom_components.ntnu_library.core.kiosk_sessions import KioskSettings
from custom_components.ntnu_library.core.model import Room, RoomKind
from custom_components.ntnu_library.core.policy import Policy
from custom_components.ntnu_library.core.reservation_rules import LongTermRules
from custom_components.ntnu_library.demo import DEMO_POLICY, DEMO_ROOMS
from custom_components.ntnu_library.zigbee.simulated import simulated_devices

SITE_INPUT = {CONF_SITE_NAME: "Gongguan", CONF_RADIO: "simulated", CONF_PATRON_SYSTEM: "local"}

# What the options form sends: numbers as floats (NumberSelector), times with seconds.
VALID_OPTIONS_INPUT: dict[str, Any] = {
    "auto_return_minutes": 45.0,
    "return_at_closing": False,
    "closing_time": "21:30:00",
    "freeze_days": 14.0,
    "counter_opens": "09:00:00",
    "counter_closes": "17:00:00",
    "max_use_minutes": 240.0,
}


@pytest.fixture
def mock_setup_entry() -> Generator[AsyncMock]:
    """Keep the flow tests to the flow: entries created here are not started."""
    with (
        patch("custom_components.ntnu_library.async_setup_entry", return_value=True) as mock_setup,
        patch("custom_components.ntnu_library.async_unload_entry", return_value=True),
    ):
        yield mock_setup


def _room_device(
    device_registry: dr.DeviceRegistry, entry: MockConfigEntry, room_id: str
) -> dr.DeviceEntry | None:
    return _device(device_registry, entry, f"{entry.entry_id}_{room_id}")


def _device(
    device_registry: dr.DeviceRegistry, entry: MockConfigEntry, identifier: str
) -> dr.DeviceEntry | None:
    # By config entry: HA 2026 refuses async_get_device(identifiers=...) outside integrations.
    return next(
        (
            device
            for device in dr.async_entries_for_config_entry(device_registry, entry.entry_id)
            if (DOMAIN, identifier) in device.identifiers
        ),
        None,
    )


async def _reconfigure_room(
    hass: HomeAssistant, entry: MockConfigEntry, subentry_id: str
) -> ConfigFlowResult:
    # The test plugin's start_subentry_reconfigure_flow changed its signature after 2025.4.
    return await hass.config_entries.subentries.async_init(
        (entry.entry_id, SUBENTRY_ROOM),
        context={"source": SOURCE_RECONFIGURE, "subentry_id": subentry_id},
    )


def _subentry_id(entry: MockConfigEntry, room_id: str) -> str:
    return next(s.subentry_id for s in entry.subentries.values() if s.unique_id == room_id)


# --- user step -------------------------------------------------------------------------------


async def test_user_flow_without_demo_data(
    hass: HomeAssistant, mock_setup_entry: AsyncMock
) -> None:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    assert result["errors"] == {}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**SITE_INPUT, CONF_SITE_NAME: "  Gongguan  "}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Gongguan"
    assert result["data"] == {
        **SITE_INPUT,
        CONF_DEMO_DATA: False,
        CONF_LIBRARY: result["data"][CONF_LIBRARY],
    }
    assert re.fullmatch(r"[0-9a-f]{32}", result["data"][CONF_LIBRARY])  # a library of its own
    assert result["options"] == Policy().as_dict()
    entry = result["result"]
    assert entry.unique_id == "gongguan"
    assert entry.subentries == {}
    assert len(mock_setup_entry.mock_calls) == 1


async def test_user_flow_with_demo_data(hass: HomeAssistant) -> None:
    """The demo site gets its 18 rooms as subentries and starts for real."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**SITE_INPUT, CONF_SITE_NAME: "Main Library", CONF_DEMO_DATA: True}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Main Library"
    assert result["data"] == {
        **SITE_INPUT,
        CONF_SITE_NAME: "Main Library",
        CONF_DEMO_DATA: True,
        CONF_LIBRARY: result["data"][CONF_LIBRARY],
    }
    assert (
        result["options"]
        == DEMO_POLICY.as_dict()
        | {  # the demo counter never closes
            "kiosks": ["K1"],  # the main library's kiosk and the library's three return boxes
            "return_boxes": ["main", "gongguan", "linkou"],
        }
        | LongTermRules(  # and next month's long-term rooms are reserved from the 1st
            reservations_open_day=1, reservations_open_time="00:00"
        ).as_dict()
    )
    entry = result["result"]
    assert entry.unique_id == "main_library"
    rooms = {s.unique_id: s for s in entry.subentries.values()}
    assert sorted(rooms) == sorted(room.room_id for room in DEMO_ROOMS)
    assert len(rooms) == 18
    for room in DEMO_ROOMS:
        subentry = rooms[room.room_id]
        assert subentry.subentry_type == SUBENTRY_ROOM
        assert subentry.title == room.room_id
        devices = simulated_devices(room.room_id)
        assert dict(subentry.data) == {
            CONF_ROOM_ID: room.room_id,
            CONF_NAME: room.name,
            CONF_KIND: room.kind.value,
            CONF_FLOOR: room.floor,
            CONF_LOCK_IEEE: devices.lock,
            CONF_CONTACT_IEEE: devices.contact,
            CONF_OCCUPANCY_IEEE: devices.occupancy,
        }

    assert entry.state is ConfigEntryState.LOADED
    assert len(hass.states.async_entity_ids("lock")) == 18
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


@pytest.mark.parametrize("site_name", ["!!!", "   ", "—"])
async def test_user_flow_invalid_site_name(
    hass: HomeAssistant, mock_setup_entry: AsyncMock, site_name: str
) -> None:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**SITE_INPUT, CONF_SITE_NAME: site_name}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    assert result["errors"] == {CONF_SITE_NAME: "invalid_site_name"}

    # The form keeps what was typed, and a good name then goes through.
    result = await hass.config_entries.flow.async_configure(result["flow_id"], SITE_INPUT)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Gongguan"


@pytest.mark.parametrize("site_name", ["Main Library", "main library", " MAIN  LIBRARY "])
async def test_user_flow_already_configured(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    mock_setup_entry: AsyncMock,
    site_name: str,
) -> None:
    """A site whose name slugs to an existing site's id is the same site."""
    mock_config_entry.add_to_hass(hass)
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**SITE_INPUT, CONF_SITE_NAME: site_name}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert len(hass.config_entries.async_entries(DOMAIN)) == 1


# --- reconfigure -----------------------------------------------------------------------------


async def test_reconfigure_rename(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
) -> None:
    """A new name changes title and data, not the unique id; the site restarts under it."""
    entry = init_integration
    runtime = entry.runtime_data
    result = await entry.start_reconfigure_flow(hass)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reconfigure"
    assert result["errors"] == {}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_SITE_NAME: " Main Library (Heping) "}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert entry.title == "Main Library (Heping)"
    # The unique id is the site's, not its name's: renaming keeps it (and all that hangs on it).
    assert entry.unique_id == "main_library"
    assert entry.data[CONF_SITE_NAME] == "Main Library (Heping)"
    assert entry.data[CONF_DEMO_DATA] is True  # kept
    # Reloaded: a new runtime, the site device renamed, the rooms still there.
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data is not runtime
    assert entry.runtime_data.site_name == "Main Library (Heping)"
    site = _device(device_registry, entry, entry.entry_id)
    assert site is not None
    assert site.name == "Main Library (Heping)"
    assert hass.states.get("lock.t01").state == "locked"


async def test_reconfigure_same_name(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """Keeping the name (another spelling of it) is not a clash with itself."""
    entry = init_integration
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_SITE_NAME: "MAIN library"}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert entry.unique_id == "main_library"
    assert entry.title == "MAIN library"


async def test_reconfigure_onto_another_site(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    other = MockConfigEntry(
        domain=DOMAIN,
        title="Linkou",
        unique_id="linkou",
        data={CONF_SITE_NAME: "Linkou", CONF_DEMO_DATA: False},
    )
    other.add_to_hass(hass)
    entry = init_integration
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_SITE_NAME: "linkou"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_SITE_NAME: "name_in_use"}
    assert entry.title == "Main Library"
    assert entry.unique_id == "main_library"
    assert other.title == "Linkou"


async def test_reconfigure_invalid_name(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    entry = init_integration
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_SITE_NAME: "???"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reconfigure"
    assert result["errors"] == {CONF_SITE_NAME: "invalid_site_name"}
    assert entry.title == "Main Library"

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_SITE_NAME: "Gongguan"}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert entry.title == "Gongguan"


# --- options: the policy ---------------------------------------------------------------------


async def test_options_flow(hass: HomeAssistant, init_integration: MockConfigEntry) -> None:
    """Valid values are stored as Policy.as_dict() and the site runs with them."""
    entry = init_integration
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "init"
    assert result["errors"] == {}

    result = await hass.config_entries.options.async_configure(
        result["flow_id"], VALID_OPTIONS_INPUT
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    expected = Policy(
        auto_return_minutes=45,
        return_at_closing=False,
        closing_time="21:30",
        freeze_days=14,
        counter_opens="09:00",
        counter_closes="17:00",
        max_use_minutes=240,
    ).as_dict()
    # The options also keep the e-label size and the circulation settings (not room rules).
    others = {
        "label_size": "296x128",
        "kiosks": [],
        "return_boxes": [],
        "partner_loan_days": 30,
        "counter_staff": [],
    } | LongTermRules().as_dict()  # who may reserve a long-term room, how many, from when
    others |= KioskSettings().as_dict()  # self-checkout: the card alone, 60 s without input
    assert result["data"] == expected | others
    assert dict(entry.options) == expected | others
    assert isinstance(entry.options["freeze_days"], int)
    # The update listener restarted the site with the new policy.
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data.rooms.policy.as_dict() == expected


async def test_options_flow_defaults_are_current_policy(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, mock_setup_entry: AsyncMock
) -> None:
    """The form opens on the stored policy; submitting it unchanged keeps it."""
    mock_config_entry.add_to_hass(hass)
    result = await hass.config_entries.options.async_init(mock_config_entry.entry_id)
    defaults = {str(key): key.default() for key in result["data_schema"].schema if key.default}
    # The defaults of the e-label size and circulation (none of them is a room rule).
    stored = (
        dict(mock_config_entry.options)
        | {
            "label_size": "296x128",
            "kiosks": [],
            "return_boxes": [],
            "partner_loan_days": 30,
            "counter_staff": [],
        }
        | LongTermRules().as_dict()
        | KioskSettings().as_dict()
    )
    assert defaults == stored
    result = await hass.config_entries.options.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == stored


@pytest.mark.parametrize(
    ("time_input", "stored"),
    [("8:05", "08:05"), ("8:05:00", "08:05"), ("08:05:59", "08:05"), ("23:59", "23:59")],
)
async def test_options_flow_time_formats(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    mock_setup_entry: AsyncMock,
    time_input: str,
    stored: str,
) -> None:
    """Every time the selector accepts is stored as HH:MM."""
    mock_config_entry.add_to_hass(hass)
    result = await hass.config_entries.options.async_init(mock_config_entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {**VALID_OPTIONS_INPUT, "counter_opens": time_input}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY, result.get("errors")
    assert result["data"]["counter_opens"] == stored


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("closing_time", "25:00"),
        ("counter_opens", "8"),
        ("counter_closes", "ab:cd"),
        ("auto_return_minutes", 1441),
        ("auto_return_minutes", -1),
        ("freeze_days", 0),
        ("freeze_days", 366),
        ("max_use_minutes", 2000),
    ],
)
async def test_options_flow_selectors_refuse(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    mock_setup_entry: AsyncMock,
    field: str,
    value: Any,
) -> None:
    """The form's selectors already refuse out-of-range numbers and impossible times."""
    mock_config_entry.add_to_hass(hass)
    result = await hass.config_entries.options.async_init(mock_config_entry.entry_id)
    with pytest.raises(InvalidData) as err:
        await hass.config_entries.options.async_configure(
            result["flow_id"], {**VALID_OPTIONS_INPUT, field: value}
        )
    assert field in err.value.schema_errors


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("closing_time", "25:00"),
        ("counter_opens", "8"),
        ("counter_closes", "ab:cd"),
        ("auto_return_minutes", 10_001),
        ("auto_return_minutes", -1),
        ("freeze_days", -5),
        ("max_use_minutes", 99_999),
    ],
)
async def test_options_flow_invalid_value_error(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    mock_setup_entry: AsyncMock,
    field: str,
    value: Any,
) -> None:
    """What the selectors would let through is still checked by the policy, field by field.

    The step is called directly, as a caller bypassing the form's schema would.
    """
    mock_config_entry.add_to_hass(hass)
    before = dict(mock_config_entry.options)
    result = await hass.config_entries.options.async_init(mock_config_entry.entry_id)
    flow = hass.config_entries.options._progress[result["flow_id"]]
    result = await flow.async_step_init({**VALID_OPTIONS_INPUT, field: value})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "init"
    assert result["errors"] == {field: "invalid_value"}
    # The form is shown again with what was entered.
    defaults = {str(key): key.default() for key in result["data_schema"].schema}
    assert defaults[field] == value
    assert dict(mock_config_entry.options) == before


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("auto_return_minutes", -1),
        ("auto_return_minutes", 10_001),
        ("auto_return_minutes", True),
        ("auto_return_minutes", "30"),
        ("freeze_days", 1.5),
        ("max_use_minutes", None),
        ("closing_time", "25:00"),
        ("closing_time", "22"),
        ("counter_opens", "08:61"),
        ("counter_closes", 2200),
    ],
)
def test_policy_refuses_invalid_values(field: str, value: Any) -> None:
    with pytest.raises(Refused) as err:
        Policy.from_options({field: value})
    assert err.value.reason is Reason.INVALID_VALUE
    assert err.value.placeholders["field"] == field


# --- rooms: subentries -----------------------------------------------------------------------


async def _add_room(hass: HomeAssistant, entry: MockConfigEntry, user_input: dict[str, Any]):
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, SUBENTRY_ROOM), context={"source": SOURCE_USER}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    return await hass.config_entries.subentries.async_configure(result["flow_id"], user_input)


async def test_add_room(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
    entity_registry: er.EntityRegistry,
) -> None:
    """A new room gets its simulated devices; after the reload its device and entities exist."""
    entry = init_integration
    assert hass.states.get("lock.t13") is None
    result = await _add_room(
        hass,
        entry,
        {
            CONF_ROOM_ID: " t13 ",
            CONF_NAME: " Group study ",
            CONF_KIND: "temporary",
            CONF_FLOOR: "5F",
        },
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "T13"
    devices = simulated_devices("T13")
    assert result["data"] == {
        CONF_ROOM_ID: "T13",
        CONF_NAME: "Group study",
        CONF_KIND: "temporary",
        CONF_FLOOR: "5F",
        CONF_LOCK_IEEE: devices.lock,
        CONF_CONTACT_IEEE: devices.contact,
        CONF_OCCUPANCY_IEEE: devices.occupancy,
    }
    subentry = entry.subentries[_subentry_id(entry, "T13")]
    assert subentry.subentry_type == SUBENTRY_ROOM

    assert entry.state is ConfigEntryState.LOADED
    assert "T13" in entry.runtime_data.rooms.rooms
    device = _room_device(device_registry, entry, "T13")
    assert device is not None
    assert device.name == "T13"
    assert device.model == "Temporary study room"
    assert device.area_id is None  # the floor is kept in the room, not as an area
    entities = er.async_entries_for_device(entity_registry, device.id)
    assert {e.entity_id for e in entities} == {
        "lock.t13",
        "sensor.t13_status",
        "sensor.t13_holder",
        "sensor.t13_in_use_since",
        "sensor.t13_lock_battery",
        "sensor.t13_door_contact_battery",
        "sensor.t13_occupancy_sensor_battery",
        "sensor.t13_card_decisions",
        "sensor.t13_cards_in_the_lock",
        "binary_sensor.t13_door",
        "binary_sensor.t13_occupancy",
        "binary_sensor.t13_lock_pending",
        "event.t13_door_activity",
        "image.t13_e_label",
    }
    assert all(e.config_subentry_id == subentry.subentry_id for e in entities)
    # The new lock joined the simulated network and answers.
    assert hass.states.get("lock.t13").state == "locked"
    assert hass.states.get("sensor.t13_status").state == "idle"
    assert hass.states.get("sensor.main_library_idle_rooms").state == "4"


async def test_add_room_without_name_or_floor(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    result = await _add_room(hass, init_integration, {CONF_ROOM_ID: "L07", CONF_KIND: "long_term"})
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_NAME] == "L07"
    assert result["data"][CONF_FLOOR] == ""
    assert hass.states.get("lock.l07").state == "locked"


@pytest.mark.parametrize(
    ("room_id", "error"),
    [
        ("t 1!", "invalid_room_id"),
        ("", "invalid_room_id"),
        ("-T1", "invalid_room_id"),
        ("T" * 17, "invalid_room_id"),
        ("t01", "room_exists"),
        (" L03 ", "room_exists"),
    ],
)
async def test_add_room_errors(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    site_rooms: tuple[str, ...],
    room_id: str,
    error: str,
) -> None:
    entry = init_integration
    result = await _add_room(hass, entry, {CONF_ROOM_ID: room_id, CONF_KIND: "temporary"})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    assert result["errors"] == {CONF_ROOM_ID: error}
    assert len(entry.subentries) == len(site_rooms)

    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {CONF_ROOM_ID: "T14", CONF_KIND: "temporary"}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert len(entry.subentries) == len(site_rooms) + 1


async def test_reconfigure_room(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
) -> None:
    """Name, kind and floor change; the id and the bound devices stay."""
    entry = init_integration
    subentry_id = _subentry_id(entry, "T02")
    before = dict(entry.subentries[subentry_id].data)
    result = await _reconfigure_room(hass, entry, subentry_id)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reconfigure"
    suggested = {
        str(key): key.description["suggested_value"]
        for key in result["data_schema"].schema
        if key.description
    }
    assert suggested == {
        CONF_NAME: before[CONF_NAME],
        CONF_KIND: "temporary",
        CONF_FLOOR: "3F",
    }

    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {CONF_NAME: " Quiet room ", CONF_KIND: "long_term", CONF_FLOOR: " 4F "}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    data = dict(entry.subentries[subentry_id].data)
    assert data == before | {CONF_NAME: "Quiet room", CONF_KIND: "long_term", CONF_FLOOR: "4F"}

    # Reloaded: T02 is a long-term room now.
    assert entry.state is ConfigEntryState.LOADED
    room = entry.runtime_data.rooms.rooms["T02"]
    assert room == Room(room_id="T02", name="Quiet room", kind=RoomKind.LONG_TERM, floor="4F")
    device = _room_device(device_registry, entry, "T02")
    assert device is not None
    assert device.model == "Long-term study room"
    assert hass.states.get("lock.t02").state == "locked"


async def test_reconfigure_room_clears_name(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    entry = init_integration
    subentry_id = _subentry_id(entry, "T02")
    result = await _reconfigure_room(hass, entry, subentry_id)
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {CONF_KIND: "temporary"}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.ABORT
    data = entry.subentries[subentry_id].data
    assert data[CONF_NAME] == "T02"
    assert data[CONF_FLOOR] == ""
    assert entry.runtime_data.rooms.rooms["T02"].name == "T02"


async def test_remove_room(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
    entity_registry: er.EntityRegistry,
) -> None:
    """Removing a room's subentry removes its device and entities."""
    entry = init_integration
    device = _room_device(device_registry, entry, "T02")
    assert device is not None
    assert er.async_entries_for_device(entity_registry, device.id)

    assert hass.config_entries.async_remove_subentry(entry, _subentry_id(entry, "T02"))
    await hass.async_block_till_done()

    assert _room_device(device_registry, entry, "T02") is None
    assert entity_registry.async_get("lock.t02") is None
    assert hass.states.get("lock.t02") is None
    assert entry.state is ConfigEntryState.LOADED
    assert "T02" not in entry.runtime_data.rooms.rooms
    assert hass.states.get("sensor.main_library_idle_rooms").state == "2"
    # The other rooms keep working.
    assert hass.states.get("lock.t01").state == "locked"
