"""The entities of a site: registry and state snapshots, then how they follow the doors."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Any
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.auth.const import GROUP_ID_USER
from homeassistant.components.lock import (
    DOMAIN as LOCK_DOMAIN,
    SERVICE_LOCK,
    SERVICE_UNLOCK,
    LockState as HaLockState,
)
from homeassistant.config_entries import ConfigSubentryData
from homeassistant.const import (
    ATTR_ENTITY_ID,
    STATE_OFF,
    STATE_ON,
    STATE_UNAVAILABLE,
    STATE_UNKNOWN,
    EntityCategory,
    Platform,
)
from homeassistant.core import Context, HomeAssistant
from homeassistant.exceptions import HomeAssistantError, Unauthorized
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.helpers.dispatcher import DATA_DISPATCHER, async_dispatcher_send
from homeassistant.helpers.translation import async_get_translations
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    MockUser,
    async_capture_events,
    snapshot_platform,
)
from syrupy.assertion import SnapshotAssertion

from custom_components.ntnu_library import PLATFORMS
from custom_components.ntnu_library.const import (
    CONF_DEMO_DATA,
    CONF_PATRON_SYSTEM,
    CONF_RADIO,
    CONF_SITE_NAME,
    DOMAIN,
    EVENT_NAME,
    SUBENTRY_ROOM,
)
from custom_components.ntnu_library.core.model import EventType
from custom_components.ntnu_library.demo import DEMO_ROOMS
from custom_components.ntnu_library.sensor import NO_HOLDER, STATUS_OPTIONS
from custom_components.ntnu_library.subentries import room_subentry, room_subentry_data
from custom_components.ntnu_library.zigbee.radio import LockState, RoomDevices
from custom_components.ntnu_library.zigbee.simulated import simulated_devices

from .conftest import TIME_ZONE, WHOLE_SITE, patron_action

SNAPSHOT_ENTRY_ID = "01JSNAPSHOTNTNULIBRARY0001"
SNAPSHOT_ROOMS = ("T01", "L01")

# Every entity of a demo room, by entity id suffix.
ROOM_ENTITIES = {
    "lock.{room}",
    "sensor.{room}_status",
    "sensor.{room}_holder",
    "sensor.{room}_in_use_since",
    "sensor.{room}_lock_battery",
    "sensor.{room}_door_contact_battery",
    "sensor.{room}_occupancy_sensor_battery",
    "sensor.{room}_card_decisions",
    "sensor.{room}_cards_in_the_lock",
    "binary_sensor.{room}_door",
    "binary_sensor.{room}_occupancy",
    "binary_sensor.{room}_lock_pending",
    "event.{room}_door_activity",
    "image.{room}_e_label",
}


@pytest.fixture
def snapshot_entry(policy_options: dict[str, Any]) -> MockConfigEntry:
    """A site with one temporary and one long-term room and a fixed entry id."""
    return MockConfigEntry(
        domain=DOMAIN,
        entry_id=SNAPSHOT_ENTRY_ID,
        title="Main Library",
        unique_id="main_library",
        data={
            CONF_SITE_NAME: "Main Library",
            CONF_RADIO: "simulated",
            CONF_PATRON_SYSTEM: "local",
            CONF_DEMO_DATA: True,
        },
        options=policy_options,
        subentries_data=[
            room_subentry(room) for room in DEMO_ROOMS if room.room_id in SNAPSHOT_ROOMS
        ],
    )


@pytest.fixture
def platforms() -> list[Platform]:
    """The platforms to set up; a test narrows them for snapshot_platform."""
    return PLATFORMS


@pytest.fixture
async def init_snapshot_entry(
    hass: HomeAssistant, snapshot_entry: MockConfigEntry, platforms: list[Platform]
) -> AsyncGenerator[MockConfigEntry]:
    await hass.config.async_set_time_zone(TIME_ZONE)
    with patch("custom_components.ntnu_library.PLATFORMS", platforms):
        snapshot_entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(snapshot_entry.entry_id)
        await hass.async_block_till_done()
        await snapshot_entry.runtime_data.slots.async_settle()  # the locks read at the start
        yield snapshot_entry
        await hass.config_entries.async_unload(snapshot_entry.entry_id)
        await hass.async_block_till_done()


async def _simulate(hass: HomeAssistant, room: str, action: str, **extra: str) -> None:
    await hass.services.async_call(
        DOMAIN, "simulate", {"room": room, "action": action, **extra}, blocking=True
    )
    await hass.async_block_till_done()


# --- snapshots -------------------------------------------------------------------------------


# The e-label image's state carries a rotating access token: tests/test_e_label.py checks it.
@pytest.mark.parametrize(
    "platforms", [[platform] for platform in PLATFORMS if platform is not Platform.IMAGE]
)
async def test_entities(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    frozen_clock: FrozenDateTimeFactory,
    init_snapshot_entry: MockConfigEntry,
    snapshot: SnapshotAssertion,
) -> None:
    """Registry entries and states of T01 (temporary), L01 (long-term) and the site.

    On the frozen clock: the calendar shows this month's long-term reservations.
    """
    await snapshot_platform(hass, entity_registry, snapshot, init_snapshot_entry.entry_id)


async def test_devices(
    hass: HomeAssistant,
    device_registry: dr.DeviceRegistry,
    init_snapshot_entry: MockConfigEntry,
    snapshot: SnapshotAssertion,
) -> None:
    devices = sorted(
        dr.async_entries_for_config_entry(device_registry, init_snapshot_entry.entry_id),
        key=lambda device: device.name or "",
    )
    assert [device.name for device in devices] == ["L01", "Main Library", "T01"]
    assert devices == snapshot


async def test_device_per_room(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    site_rooms: tuple[str, ...],
    device_registry: dr.DeviceRegistry,
    entity_registry: er.EntityRegistry,
) -> None:
    """One device per room, named by its id, on the room's subentry; one for the site."""
    entry = init_integration

    def device_of(entity_id: str) -> dr.DeviceEntry:
        entity = entity_registry.async_get(entity_id)
        assert entity is not None and entity.device_id is not None, entity_id
        device = device_registry.async_get(entity.device_id)
        assert device is not None, entity_id
        return device

    site = device_of("sensor.main_library_idle_rooms")
    assert site.name == "Main Library"
    devices = dr.async_entries_for_config_entry(device_registry, entry.entry_id)
    assert len(devices) == len(site_rooms) + 1
    subentry_of = {s.unique_id: s.subentry_id for s in entry.subentries.values()}
    for room_id in site_rooms:
        suffix = room_id.lower()
        device = device_of(f"lock.{suffix}")
        assert device.name == room_id
        assert (DOMAIN, f"{entry.entry_id}_{room_id}") in device.identifiers
        # No area: HA 2026 would put the area's name in front of every entity id.
        assert device.area_id is None
        entities = er.async_entries_for_device(entity_registry, device.id)
        assert {e.entity_id for e in entities} == {e.format(room=suffix) for e in ROOM_ENTITIES}
        # The room's entities (and so its device) belong to the room's subentry.
        assert {e.config_subentry_id for e in entities} == {subentry_of[room_id]}
    site_entities = er.async_entries_for_device(entity_registry, site.id)
    assert {e.entity_id for e in site_entities} == {
        "calendar.main_library_long_term_reservations",
        "sensor.main_library_failed_logins_last_hour",
        "sensor.main_library_idle_rooms",
        "sensor.main_library_rooms_in_use",
    }


# --- the lock --------------------------------------------------------------------------------


async def _lock_service(
    hass: HomeAssistant, service: str, entity_id: str, context: Context | None = None
) -> None:
    await hass.services.async_call(
        LOCK_DOMAIN, service, {ATTR_ENTITY_ID: entity_id}, blocking=True, context=context
    )
    await hass.async_block_till_done()


async def test_lock_and_unlock(
    hass: HomeAssistant, init_integration: MockConfigEntry, hass_admin_user: MockUser
) -> None:
    """An administrator unlocks; anyone may lock; the real lock follows."""
    radio = init_integration.runtime_data.radio
    assert hass.states.get("lock.t02").state == HaLockState.LOCKED

    await _lock_service(hass, SERVICE_UNLOCK, "lock.t02", Context(user_id=hass_admin_user.id))
    assert hass.states.get("lock.t02").state == HaLockState.UNLOCKED
    assert radio.lock_state("T02") is LockState.UNLOCKED
    assert radio.lock_model("T02").lock_state == 0x02  # ZCL Unlocked

    await _lock_service(hass, SERVICE_LOCK, "lock.t02")
    assert hass.states.get("lock.t02").state == HaLockState.LOCKED
    assert radio.lock_state("T02") is LockState.LOCKED

    # An automation (no user) may unlock too.
    await _lock_service(hass, SERVICE_UNLOCK, "lock.t02")
    assert hass.states.get("lock.t02").state == HaLockState.UNLOCKED


async def test_unlock_needs_admin(hass: HomeAssistant, init_integration: MockConfigEntry) -> None:
    """A user who may control entities but is no administrator cannot unlock a door."""
    user = MockUser(groups=[await hass.auth.async_get_group(GROUP_ID_USER)]).add_to_hass(hass)
    assert not user.is_admin
    with pytest.raises(Unauthorized):
        await _lock_service(hass, SERVICE_UNLOCK, "lock.t02", Context(user_id=user.id))
    assert hass.states.get("lock.t02").state == HaLockState.LOCKED
    assert init_integration.runtime_data.radio.lock_state("T02") is LockState.LOCKED
    # Locking stays open to staff.
    await _lock_service(hass, SERVICE_LOCK, "lock.t02", Context(user_id=user.id))


async def test_unlock_read_only_user(
    hass: HomeAssistant, init_integration: MockConfigEntry, hass_read_only_user: MockUser
) -> None:
    with pytest.raises(Unauthorized):
        await _lock_service(
            hass, SERVICE_UNLOCK, "lock.t02", Context(user_id=hass_read_only_user.id)
        )
    assert hass.states.get("lock.t02").state == HaLockState.LOCKED


async def test_unlock_lock_stopped_answering(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """The lock went away unnoticed: the unlock is refused as lock_offline and it shows."""
    radio = init_integration.runtime_data.radio
    radio.lock_model("T02").online = False
    assert hass.states.get("lock.t02").state == HaLockState.LOCKED

    with pytest.raises(HomeAssistantError) as err:
        await _lock_service(hass, SERVICE_UNLOCK, "lock.t02")
    assert err.value.translation_domain == DOMAIN
    assert err.value.translation_key == "lock_offline"
    assert err.value.translation_placeholders == {"room": "T02"}
    assert hass.states.get("lock.t02").state == STATE_UNAVAILABLE


async def test_unlock_lock_known_offline(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """A lock known to be offline is not even tried (the entity is unavailable)."""
    await _simulate(hass, "T02", "offline")
    assert hass.states.get("lock.t02").state == STATE_UNAVAILABLE
    entity = hass.data["lock"].get_entity("lock.t02")
    with pytest.raises(HomeAssistantError) as err:
        await entity.async_unlock()
    assert err.value.translation_key == "lock_offline"
    with pytest.raises(HomeAssistantError) as err:
        await entity.async_lock()
    assert err.value.translation_key == "lock_offline"


async def test_unlock_refused_by_the_lock(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """The lock answers with a failure status: lock_command_failed, still locked."""
    radio = init_integration.runtime_data.radio
    radio.lock_model("T02").command_status = 0x01  # ZCL FAILURE
    with pytest.raises(HomeAssistantError) as err:
        await _lock_service(hass, SERVICE_UNLOCK, "lock.t02")
    assert err.value.translation_key == "lock_command_failed"
    assert err.value.translation_placeholders == {"room": "T02"}
    assert hass.states.get("lock.t02").state == HaLockState.LOCKED


async def test_lock_jammed(hass: HomeAssistant, init_integration: MockConfigEntry) -> None:
    await _simulate(hass, "T02", "jam")
    assert hass.states.get("lock.t02").state == HaLockState.JAMMED
    await _lock_service(hass, SERVICE_LOCK, "lock.t02")
    assert hass.states.get("lock.t02").state == HaLockState.LOCKED


# --- availability ----------------------------------------------------------------------------


async def test_unavailable_while_lock_offline(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """A room's entities follow its lock's link; the door log and lock pending stay readable."""
    room_entities = {e.format(room="t01") for e in ROOM_ENTITIES}
    # The e-label shows 暫停使用 rather than going blank.
    stay = {"event.t01_door_activity", "binary_sensor.t01_lock_pending", "image.t01_e_label"}
    follow = room_entities - stay
    assert all(hass.states.get(e).state != STATE_UNAVAILABLE for e in room_entities)
    assert hass.states.get("sensor.main_library_idle_rooms").state == "3"

    await _simulate(hass, "T01", "offline")
    for entity_id in follow:
        assert hass.states.get(entity_id).state == STATE_UNAVAILABLE, entity_id
    assert all(hass.states.get(e).state != STATE_UNAVAILABLE for e in stay)
    # An unavailable room is not counted as idle; the neighbour is not affected.
    assert hass.states.get("sensor.main_library_idle_rooms").state == "2"
    assert hass.states.get("lock.t02").state == HaLockState.LOCKED

    await _simulate(hass, "T01", "online")
    assert hass.states.get("lock.t01").state == HaLockState.LOCKED
    assert hass.states.get("sensor.t01_status").state == "idle"
    assert hass.states.get("binary_sensor.t01_door").state == STATE_OFF
    assert hass.states.get("binary_sensor.t01_occupancy").state == STATE_OFF
    assert hass.states.get("sensor.t01_holder").state == NO_HOLDER
    assert hass.states.get("sensor.main_library_idle_rooms").state == "3"


@pytest.mark.parametrize("site_rooms", [WHOLE_SITE])
async def test_a_rooms_update_reaches_that_rooms_entities_only(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """A borrow at T01 is told to T01's entities and the site's, whatever the site's size.

    Counted as the listeners of the signals the borrow is sent on: a signal to every entity
    of the site would make each room's update cost more the more rooms the site has.
    """
    sent: list[str] = []

    def recording(hass: HomeAssistant, signal: str, *args: Any) -> None:
        sent.append(signal)
        async_dispatcher_send(hass, signal, *args)

    # The rooms' locks read at the start have told their rooms; the borrow is what counts.
    await hass.async_block_till_done(wait_background_tasks=True)
    with patch("custom_components.ntnu_library.announce.async_dispatcher_send", recording):
        await patron_action(hass, "borrow", "T01", "S0001")
    listeners = hass.data[DATA_DISPATCHER]
    reached = sum(len(listeners.get(signal, {})) for signal in set(sent))
    per_room = len(ROOM_ENTITIES)
    assert per_room < reached <= per_room + 6  # T01's; the site's counts, calendar; status panel
    assert hass.states.get("sensor.t01_status").state == "in_use"
    # The site's counts, kept by difference, agree with the rooms.
    statuses = [hass.states.get(f"sensor.{room.lower()}_status").state for room in WHOLE_SITE]
    idle, in_use = statuses.count("idle"), statuses.count("in_use")
    assert hass.states.get("sensor.main_library_idle_rooms").state == str(idle)
    assert hass.states.get("sensor.main_library_rooms_in_use").state == str(in_use)
    assert in_use >= 1


# --- sensors ---------------------------------------------------------------------------------


async def test_status_sensor_translations(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """The enum's options are the e-label words, translated in English and Chinese."""
    state = hass.states.get("sensor.t01_status")
    assert state.attributes["options"] == STATUS_OPTIONS
    assert set(STATUS_OPTIONS) == {"idle", "in_use", "reserved"}
    prefix = f"component.{DOMAIN}.entity.sensor.status"
    en = await async_get_translations(hass, "en", "entity", [DOMAIN])
    zh = await async_get_translations(hass, "zh-Hant", "entity", [DOMAIN])
    assert en[f"{prefix}.name"] == "Status"
    assert zh[f"{prefix}.name"] == "狀態"
    for option in STATUS_OPTIONS:
        assert en[f"{prefix}.state.{option}"], option
        assert zh[f"{prefix}.state.{option}"], option
        assert zh[f"{prefix}.state.{option}"] != en[f"{prefix}.state.{option}"], option
    assert "閒置" in zh[f"{prefix}.state.idle"]
    assert "使用中" in zh[f"{prefix}.state.in_use"]


async def test_an_idle_room_has_no_holder_not_an_unknown_one(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """Nobody holds T01: its holder reads "No holder" / "無人使用", not "Unknown" (a fault)."""
    assert hass.states.get("sensor.t01_holder").state == NO_HOLDER
    prefix = f"component.{DOMAIN}.entity.sensor.holder.state.{NO_HOLDER}"
    en = await async_get_translations(hass, "en", "entity", [DOMAIN])
    zh = await async_get_translations(hass, "zh-Hant", "entity", [DOMAIN])
    assert (en[prefix], zh[prefix]) == ("No holder", "無人使用")
    await patron_action(hass, "borrow", "T01", "S0001")
    assert hass.states.get("sensor.t01_holder").state == "S***1"


async def test_borrow_changes_room_and_site_sensors(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    assert hass.states.get("sensor.main_library_idle_rooms").state == "3"
    assert hass.states.get("sensor.main_library_rooms_in_use").state == "0"
    assert hass.states.get("sensor.t01_status").state == "idle"
    assert hass.states.get("sensor.t01_holder").state == NO_HOLDER
    assert hass.states.get("sensor.t01_in_use_since").state == STATE_UNKNOWN
    # Long-term rooms held this month show as reserved, with their masked holder.
    assert hass.states.get("sensor.l01_status").state == "reserved"
    assert hass.states.get("sensor.l01_holder").state == "D***1"

    before = dt_util.utcnow()
    await patron_action(hass, "borrow", "T01", "S0001")
    assert hass.states.get("sensor.main_library_idle_rooms").state == "2"
    assert hass.states.get("sensor.main_library_rooms_in_use").state == "1"
    assert hass.states.get("sensor.t01_status").state == "in_use"
    assert hass.states.get("sensor.t01_holder").state == "S***1"
    since = datetime.fromisoformat(hass.states.get("sensor.t01_in_use_since").state)
    assert before.replace(microsecond=0) <= since <= dt_util.utcnow()
    assert hass.states.get("sensor.t02_status").state == "idle"

    await patron_action(hass, "return", "T01", "S0001")
    assert hass.states.get("sensor.main_library_idle_rooms").state == "3"
    assert hass.states.get("sensor.main_library_rooms_in_use").state == "0"
    assert hass.states.get("sensor.t01_status").state == "idle"
    assert hass.states.get("sensor.t01_holder").state == NO_HOLDER
    assert hass.states.get("sensor.t01_in_use_since").state == STATE_UNKNOWN


# --- binary sensors --------------------------------------------------------------------------


async def test_door_and_occupancy(hass: HomeAssistant, init_integration: MockConfigEntry) -> None:
    door, occupancy = "binary_sensor.t02_door", "binary_sensor.t02_occupancy"
    assert hass.states.get(door).state == STATE_OFF
    assert hass.states.get(door).attributes["device_class"] == "door"
    assert hass.states.get(occupancy).state == STATE_OFF
    assert hass.states.get(occupancy).attributes["device_class"] == "occupancy"

    await patron_action(hass, "borrow", "T02", "G0001")
    await _simulate(hass, "T02", "door_open")
    assert hass.states.get(door).state == STATE_ON
    await _simulate(hass, "T02", "occupied")
    assert hass.states.get(occupancy).state == STATE_ON
    await _simulate(hass, "T02", "door_close")
    assert hass.states.get(door).state == STATE_OFF
    assert hass.states.get("lock.t02").state == HaLockState.LOCKED  # relocks on closing
    await _simulate(hass, "T02", "vacant")
    assert hass.states.get(occupancy).state == STATE_OFF
    # Only T02 moved.
    assert hass.states.get("binary_sensor.t01_door").state == STATE_OFF


async def test_battery_sensors_follow_the_devices_reports(
    hass: HomeAssistant, init_integration: MockConfigEntry, entity_registry: er.EntityRegistry
) -> None:
    """Each device's battery, as its Power Configuration reports it over the air."""
    radio = init_integration.runtime_data.radio
    sensors = {
        "lock": "sensor.t01_lock_battery",
        "contact": "sensor.t01_door_contact_battery",
        "occupancy": "sensor.t01_occupancy_sensor_battery",
    }
    for entity_id in sensors.values():
        state = hass.states.get(entity_id)
        assert state.state == "100"
        assert state.attributes["device_class"] == "battery"
        assert state.attributes["unit_of_measurement"] == "%"
        assert state.attributes["state_class"] == "measurement"
        entry = entity_registry.async_get(entity_id)
        assert entry is not None and entry.entity_category is EntityCategory.DIAGNOSTIC

    devices = simulated_devices("T01")
    radio.device(devices.occupancy).set_battery(61)
    await radio._async_settle()
    await hass.async_block_till_done()
    assert hass.states.get(sensors["occupancy"]).state == "61"
    assert hass.states.get(sensors["contact"]).state == "100"
    assert hass.states.get("sensor.t02_occupancy_sensor_battery").state == "100"

    await _simulate(hass, "T01", "battery_low")
    assert hass.states.get(sensors["lock"]).state == "10"

    # A lock away takes its room's entities with it, its batteries' levels too.
    await _simulate(hass, "T01", "offline")
    assert hass.states.get(sensors["occupancy"]).state == STATE_UNAVAILABLE
    await _simulate(hass, "T01", "online")
    assert hass.states.get(sensors["occupancy"]).state == "61"


async def test_a_room_with_only_a_lock_has_only_its_battery(
    hass: HomeAssistant, policy_options: dict[str, Any]
) -> None:
    room = next(r for r in DEMO_ROOMS if r.room_id == "T01")
    devices = simulated_devices("T01")
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Main Library",
        data={
            CONF_SITE_NAME: "Main Library",
            CONF_RADIO: "simulated",
            CONF_PATRON_SYSTEM: "local",
            CONF_DEMO_DATA: False,
        },
        options=policy_options,
        subentries_data=[
            ConfigSubentryData(
                data=room_subentry_data(room, RoomDevices(room_id="T01", lock=devices.lock)),
                subentry_type=SUBENTRY_ROOM,
                title="T01",
                unique_id="T01",
            )
        ],
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    sensors = {
        s.entity_id
        for s in hass.states.async_all("sensor")
        if s.entity_id.startswith("sensor.t01_")
    }
    assert sensors == {
        "sensor.t01_status",
        "sensor.t01_holder",
        "sensor.t01_in_use_since",
        "sensor.t01_lock_battery",
        "sensor.t01_card_decisions",
        "sensor.t01_cards_in_the_lock",
    }
    assert hass.states.get("sensor.t01_lock_battery").state == "100"
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


# --- the door log ----------------------------------------------------------------------------


async def test_door_activity_events(hass: HomeAssistant, init_integration: MockConfigEntry) -> None:
    """Card taps, PUSH exits and forced doors are recorded with source and masked patron."""
    state = hass.states.get("event.l01_door_activity")
    assert state.state == STATE_UNKNOWN
    assert state.attributes["event_types"] == [t.value for t in EventType]
    bus = async_capture_events(hass, EVENT_NAME)

    # D0001 holds L01 this month: the card opens.
    await _simulate(hass, "L01", "card_tap", card="C-D0001")
    state = hass.states.get("event.l01_door_activity")
    assert state.attributes["event_type"] == "card_tap"
    assert state.attributes["source"] == "card"
    assert state.attributes["patron"] == "D***1"
    assert hass.states.get("lock.l01").state == HaLockState.UNLOCKED

    # PUSH from inside: nobody identified.
    await _simulate(hass, "T01", "push_button")
    state = hass.states.get("event.t01_door_activity")
    assert state.attributes["event_type"] == "push_exit"
    assert state.attributes["source"] == "push_button"
    assert "patron" not in state.attributes

    # The door opens while the bolt is thrown.
    assert hass.states.get("lock.t02").state == HaLockState.LOCKED
    await _simulate(hass, "T02", "door_open")
    state = hass.states.get("event.t02_door_activity")
    assert state.attributes["event_type"] == "forced_open"
    assert state.attributes["source"] == "door"
    assert hass.states.get("binary_sensor.t02_door").state == STATE_ON

    # Someone else's card is refused and logged, the door stays locked.
    await _simulate(hass, "L03", "card_tap", card="C-S0001")
    state = hass.states.get("event.l03_door_activity")
    assert state.attributes["event_type"] == "refused"
    assert state.attributes["source"] == "card"
    assert state.attributes["patron"] == "S***1"
    assert state.attributes["reason"] == "not_holder"
    assert hass.states.get("lock.l03").state == HaLockState.LOCKED

    assert [(e.data["room"], e.data["type"], e.data["patron"]) for e in bus] == [
        ("L01", "card_tap", "D***1"),
        ("T01", "push_exit", None),
        ("T02", "forced_open", None),
        ("L03", "refused", "S***1"),
    ]
    assert {e.data["site"] for e in bus} == {"Main Library"}
    # Nothing of this reached another room's log.
    assert hass.states.get("event.l02_door_activity").state == STATE_UNKNOWN


async def test_door_activity_borrow_and_return(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    await patron_action(hass, "borrow", "T01", "S0001")
    state = hass.states.get("event.t01_door_activity")
    assert state.attributes["event_type"] == "borrowed"
    assert state.attributes["source"] == "qr"
    assert state.attributes["patron"] == "S***1"
    await patron_action(hass, "return", "T01", "S0001")
    assert hass.states.get("event.t01_door_activity").attributes["event_type"] == "returned"


async def test_door_activity_stays_available_offline(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """A refusal at an offline room still lands in its log."""
    await _simulate(hass, "T02", "offline")
    with pytest.raises(HomeAssistantError):
        await patron_action(hass, "borrow", "T02", "S0001")
    await hass.async_block_till_done()
    state = hass.states.get("event.t02_door_activity")
    assert state.state != STATE_UNAVAILABLE
    assert state.attributes["event_type"] == "refused"
    assert state.attributes["reason"] == "lock_offline"
