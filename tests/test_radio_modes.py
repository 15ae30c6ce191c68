"""Choosing the radio: an own EZSP stick (bellows), ZHA's network, or the simulation."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator
from typing import Any
from unittest.mock import AsyncMock, patch

from homeassistant.components.lock import LockEntity
from homeassistant.config_entries import SOURCE_RECONFIGURE, SOURCE_USER, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import device_registry as dr, entity_registry as er, issue_registry as ir
from homeassistant.helpers.device_registry import DeviceInfo
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    MockEntityPlatform,
    async_capture_events,
)
from zigpy.zcl.clusters.closures import DoorLock

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
    EVENT_NAME,
    SUBENTRY_ROOM,
)
from custom_components.ntnu_library.demo import DEMO_ROOMS
from custom_components.ntnu_library.subentries import room_subentry
from custom_components.ntnu_library.zigbee.simulated import SimulatedRadio, simulated_devices

from .conftest import call_service, patron_action, state_of

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


@pytest.fixture
async def zha_network() -> AsyncGenerator[SimulatedRadio]:
    """A running zigpy network standing in for ZHA's (its devices already interviewed)."""
    network = SimulatedRadio([simulated_devices("T01")])
    await network.async_start()
    yield network
    await network.async_stop()


async def test_a_site_on_zhas_network_follows_zha_reloading(
    hass: HomeAssistant,
    zha_entry: MockConfigEntry,
    zha_network: SimulatedRadio,
    issue_registry: ir.IssueRegistry,
) -> None:
    entry = _site("zha", **{CONF_DEMO_DATA: True})  # the demo patrons
    entry.add_to_hass(hass)
    with patch(
        "custom_components.ntnu_library.backends.zha_application", return_value=zha_network.app
    ):
        await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        assert entry.state is ConfigEntryState.LOADED
        assert not issue_registry.async_get_issue(DOMAIN, f"radio_not_ready_{entry.entry_id}")

        result = await patron_action(hass, "borrow", "T01", "S0001")
        assert result["door"] == "unlocked"  # sent through ZHA's application
        assert zha_network.lock_model("T01").lock_state == 2  # Unlocked

        # ZHA reloads: the site attaches to ZHA's application again by itself.
        zha_entry.mock_state(hass, ConfigEntryState.LOADED)
        await hass.async_block_till_done(wait_background_tasks=True)
        await hass.services.async_call("lock", "lock", {"entity_id": "lock.t01"}, blocking=True)
        assert state_of(hass, "lock.t01") == "locked"

    # Adding a room offers the devices ZHA's network knows.
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, SUBENTRY_ROOM), context={"source": SOURCE_USER}
    )
    pickers = {str(key): value for key, value in result["data_schema"].schema.items()}
    offered = [o["value"] for o in pickers[CONF_LOCK_IEEE].config["options"]]
    assert offered == [simulated_devices("T01").lock]

    # Only an own stick can let devices join.
    with pytest.raises(ServiceValidationError) as refused:
        await call_service(hass, "permit_join", {"seconds": 30})
    assert refused.value.translation_key == "not_own_radio"
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert zha_network.app is not None  # ZHA's application was never shut down by us
    zha_entry.mock_state(hass, ConfigEntryState.NOT_LOADED)  # nothing for HA to unload


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


# --- ZHA's own lock entity ------------------------------------------------------------------

T01_LOCK = simulated_devices("T01").lock


def _register_zha_device(
    hass: HomeAssistant, zha_entry: MockConfigEntry, ieee: str, *, lock: bool = True
) -> dict[str, str]:
    """What ZHA registers for a lock it interviewed: the device by IEEE, a lock, a battery."""
    device = dr.async_get(hass).async_get_or_create(
        config_entry_id=zha_entry.entry_id,
        identifiers={("zha", ieee)},
        connections={(dr.CONNECTION_ZIGBEE, ieee)},
        manufacturer="NTNU Sim",
        model="SimLock",
        name="NTNU Sim SimLock",
    )
    registry = er.async_get(hass)
    entities = {
        "battery": registry.async_get_or_create(
            "sensor", "zha", f"{ieee}-1-1", config_entry=zha_entry, device_id=device.id
        ).entity_id
    }
    if lock:
        entities["lock"] = registry.async_get_or_create(
            "lock", "zha", f"{ieee}-1-257", config_entry=zha_entry, device_id=device.id
        ).entity_id
    return entities


@pytest.fixture
async def zha_site(
    hass: HomeAssistant, zha_entry: MockConfigEntry, zha_network: SimulatedRadio
) -> AsyncGenerator[MockConfigEntry]:
    """A site of the demo patrons sharing ZHA's network (not started: `start` does)."""
    entry = _site("zha", **{CONF_DEMO_DATA: True})
    entry.add_to_hass(hass)
    with patch(
        "custom_components.ntnu_library.backends.zha_application", return_value=zha_network.app
    ):
        yield entry
        if entry.state is ConfigEntryState.LOADED:
            assert await hass.config_entries.async_unload(entry.entry_id)
            await hass.async_block_till_done()


async def _start(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED


def _zha_issue(issue_registry: ir.IssueRegistry, entry: MockConfigEntry) -> ir.IssueEntry | None:
    return issue_registry.async_get_issue(DOMAIN, f"zha_lock_entity_{entry.entry_id}_T01")


async def _tap(hass: HomeAssistant, network: SimulatedRadio, card: str) -> None:
    """A card at T01's reader, on ZHA's network; the site decides in the background."""
    await network.async_simulate("T01", "card_tap", card=card)
    await hass.async_block_till_done(wait_background_tasks=True)


async def test_zhas_lock_entity_is_disabled_and_the_rules_decide_every_unlock(
    hass: HomeAssistant,
    zha_entry: MockConfigEntry,
    zha_network: SimulatedRadio,
    zha_site: MockConfigEntry,
    issue_registry: ir.IssueRegistry,
) -> None:
    zha_entities = _register_zha_device(hass, zha_entry, T01_LOCK)
    await _start(hass, zha_site)

    registry = er.async_get(hass)
    zha_lock = registry.async_get(zha_entities["lock"])
    assert zha_lock is not None
    assert zha_lock.disabled_by is er.RegistryEntryDisabler.INTEGRATION
    assert zha_lock.options[DOMAIN] == {"disabled_for_room": "T01"}
    battery = registry.async_get(zha_entities["battery"])
    assert battery is not None and battery.disabled_by is None  # only ZHA's lock entity
    assert _zha_issue(issue_registry, zha_site) is None

    # The room's own lock follows the library's rules: a stranger's card is refused.
    events = async_capture_events(hass, EVENT_NAME)
    await patron_action(hass, "borrow", "T01", "S0001")
    await hass.services.async_call("lock", "lock", {"entity_id": "lock.t01"}, blocking=True)
    assert zha_network.lock_model("T01").lock_state == DoorLock.LockState.Locked
    await _tap(hass, zha_network, "C-G0001")
    assert zha_network.lock_model("T01").lock_state == DoorLock.LockState.Locked
    assert state_of(hass, "lock.t01") == "locked"
    assert events[-1].data["type"] == "refused" and events[-1].data["reason"] == "not_holder"
    await _tap(hass, zha_network, "C-S0001")  # the holder's card opens
    assert zha_network.lock_model("T01").lock_state == DoorLock.LockState.Unlocked
    assert state_of(hass, "lock.t01") == "unlocked"
    assert events[-1].data["type"] == "card_tap"


class _ZhaDoorLock(LockEntity):
    """Stands in for ZHA's lock entity: it unlocks whoever asks."""

    _attr_has_entity_name = True
    _attr_name = None
    _attr_is_locked = True

    def __init__(self, ieee: str) -> None:
        self._attr_unique_id = f"{ieee}-1-257"
        self._attr_device_info = DeviceInfo(identifiers={("zha", ieee)})
        self.unlocked = 0

    async def async_unlock(self, **kwargs: Any) -> None:
        self.unlocked += 1
        self._attr_is_locked = False
        self.async_write_ha_state()


async def test_a_zha_lock_entity_made_while_the_site_runs_is_disabled_and_removed(
    hass: HomeAssistant,
    zha_entry: MockConfigEntry,
    zha_site: MockConfigEntry,
    issue_registry: ir.IssueRegistry,
) -> None:
    _register_zha_device(hass, zha_entry, T01_LOCK, lock=False)  # ZHA has not made it yet
    await _start(hass, zha_site)
    issue = _zha_issue(issue_registry, zha_site)
    assert issue is not None
    assert issue.translation_key == "zha_lock_entity_not_found"
    assert issue.translation_placeholders == {"room": "T01", "site": "Gongguan", "ieee": T01_LOCK}

    # ZHA's lock platform adds its entity, as after the lock joined ZHA's network.
    platform = MockEntityPlatform(hass, domain="lock", platform_name="zha")
    platform.config_entry = zha_entry
    zha_lock = _ZhaDoorLock(T01_LOCK)
    await platform.async_add_entities([zha_lock])
    await hass.async_block_till_done()
    entry = er.async_get(hass).async_get(zha_lock.entity_id)
    assert entry is not None and entry.disabled_by is er.RegistryEntryDisabler.INTEGRATION
    assert _zha_issue(issue_registry, zha_site) is None
    # Gone from the state machine too: nothing can unlock the door through it.
    assert hass.states.get(zha_lock.entity_id) is None
    await hass.services.async_call(
        "lock", "unlock", {"entity_id": zha_lock.entity_id}, blocking=True
    )
    assert zha_lock.unlocked == 0


async def test_a_zha_lock_entity_enabled_again_stays_enabled_with_a_repair_issue(
    hass: HomeAssistant,
    zha_entry: MockConfigEntry,
    zha_site: MockConfigEntry,
    issue_registry: ir.IssueRegistry,
) -> None:
    zha_lock = _register_zha_device(hass, zha_entry, T01_LOCK)["lock"]
    await _start(hass, zha_site)
    registry = er.async_get(hass)

    registry.async_update_entity(zha_lock, disabled_by=None)  # staff enable it on purpose
    await hass.async_block_till_done()
    entry = registry.async_get(zha_lock)
    assert entry is not None and entry.disabled_by is None  # a person's choice stands
    issue = _zha_issue(issue_registry, zha_site)
    assert issue is not None
    assert issue.translation_key == "zha_lock_entity_enabled"
    assert issue.severity is ir.IssueSeverity.ERROR
    assert issue.translation_placeholders == {"room": "T01", "site": "Gongguan", "entity": zha_lock}

    # Nor is it disabled again when the site starts again (a room added, a restart).
    assert await hass.config_entries.async_reload(zha_site.entry_id)
    await hass.async_block_till_done()
    entry = registry.async_get(zha_lock)
    assert entry is not None and entry.disabled_by is None
    assert _zha_issue(issue_registry, zha_site) is not None

    registry.async_update_entity(zha_lock, disabled_by=er.RegistryEntryDisabler.USER)
    await hass.async_block_till_done()
    assert _zha_issue(issue_registry, zha_site) is None  # disabled after all: nothing to tell

    # The site stopping takes its notices with it.
    registry.async_update_entity(zha_lock, disabled_by=None)
    await hass.async_block_till_done()
    assert _zha_issue(issue_registry, zha_site) is not None
    assert await hass.config_entries.async_unload(zha_site.entry_id)
    await hass.async_block_till_done()
    assert _zha_issue(issue_registry, zha_site) is None
