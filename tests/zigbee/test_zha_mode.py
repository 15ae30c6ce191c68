"""ZHA mode: the rooms on the Zigbee network Home Assistant's own ZHA integration runs.

ZHA is loaded for real (its config entry, its zha library, zigpy), with only its radio
factory pointed at a simulated stick (`zha_network`): ZHA forms the network, the rooms'
simulated devices join, zigpy interviews them and ZHA binds, configures reporting, enrolls
the door contacts and makes its entities, all over real serialized ZCL frames. Our
`ZhaRadio` (alone, or as the radio of a site whose radio mode is `zha`) then attaches to
the application ZHA runs, reached as the integration reaches it in production.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable
from datetime import datetime, timedelta
import importlib.util
from pathlib import Path
from typing import Any

from homeassistant.config_entries import SOURCE_USER, ConfigEntryState, ConfigSubentryData
from homeassistant.const import STATE_UNAVAILABLE, Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import device_registry as dr, entity_registry as er, issue_registry as ir
from homeassistant.setup import async_setup_component
import homeassistant.util.dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
    async_fire_time_changed,
)
from zigpy.application import ControllerApplication
import zigpy.types as t
from zigpy.zcl import foundation
from zigpy.zcl.clusters.closures import DoorLock
from zigpy.zcl.clusters.general import PowerConfiguration
from zigpy.zcl.clusters.security import IasZone
import zigpy.zdo.types as zdo_t

from custom_components.ntnu_library.backends import zha_application
from custom_components.ntnu_library.const import (
    CONF_DEMO_DATA,
    CONF_LOCK_IEEE,
    CONF_PATRON_SYSTEM,
    CONF_RADIO,
    CONF_SITE_NAME,
    DOMAIN,
    EVENT_NAME,
    SUBENTRY_ROOM,
)
from custom_components.ntnu_library.demo import DEMO_ROOMS
from custom_components.ntnu_library.subentries import room_subentry_data
from custom_components.ntnu_library.zigbee.radio import (
    DeviceEvent,
    DeviceEventType as E,
    LockOffline,
    LockState,
    RadioError,
    Role,
    UnknownRoom,
)
from custom_components.ntnu_library.zigbee.zha import ZhaNotLoaded, ZhaRadio

from ..conftest import call_service, patron_action, state_of
from .conftest import ROOMS
from .zha_network import JOIN_TIMEOUT, STICK_IEEE, ZHA_ENTRY_DATA, SimulatedStick

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("zha") is None,
    reason="Home Assistant's ZHA needs the zha library, which this environment does not install",
)

LOCK = t.EUI64.convert(ROOMS[0].lock)
READ = ("general", DoorLock.cluster_id, foundation.GeneralCommand.Read_Attributes)
UNLOCK = ("cluster", DoorLock.cluster_id, DoorLock.ServerCommandDefs.unlock_door.id)
BIND = ("zdo", zdo_t.ZDOCmd.Bind_req, 0)


# -- ZHA on the simulated stick ------------------------------------------------------------


@pytest.fixture
def stick(monkeypatch: pytest.MonkeyPatch) -> SimulatedStick:
    """The stick of ZHA's entry (its radio type's controller), the rooms' devices in range."""
    stick = SimulatedStick(ROOMS)
    stick.install_in_zha(monkeypatch)
    return stick


@pytest.fixture
def zha_entry(hass: HomeAssistant) -> MockConfigEntry:
    """ZHA's config entry (not set up yet)."""
    entry = MockConfigEntry(domain="zha", version=4, data=ZHA_ENTRY_DATA)
    entry.add_to_hass(hass)
    return entry


@pytest.fixture
async def zha_started(
    hass: HomeAssistant, stick: SimulatedStick, zha_entry: MockConfigEntry, tmp_path: Path
) -> AsyncGenerator[MockConfigEntry]:
    """ZHA loaded on the stick (it formed the network); no device has joined yet."""
    config = {"zha": {"database_path": str(tmp_path / "zigbee.db")}}
    assert await async_setup_component(hass, "zha", config)
    await hass.async_block_till_done()
    assert zha_entry.state is ConfigEntryState.LOADED
    assert stick.network_info is not None  # formed by ZHA
    yield zha_entry
    if zha_entry.state is ConfigEntryState.LOADED:
        assert await hass.config_entries.async_unload(zha_entry.entry_id)
        await hass.async_block_till_done()


@pytest.fixture
async def zha(
    hass: HomeAssistant, stick: SimulatedStick, zha_started: MockConfigEntry
) -> MockConfigEntry:
    """ZHA loaded, every room device joined, interviewed and configured by ZHA."""
    await _join(hass, stick)
    return zha_started


def _gateway(hass: HomeAssistant) -> Any:
    from homeassistant.components.zha.helpers import get_zha_gateway

    return get_zha_gateway(hass)


async def _join(hass: HomeAssistant, stick: SimulatedStick, *addresses: str) -> None:
    """Devices join ZHA's network (all by default); returns once ZHA has made their entities."""
    await stick.async_join(addresses or None)
    await _gateway(hass).async_block_till_done()  # ZHA configures and initializes them
    await hass.async_block_till_done()


async def _restart_zha(hass: HomeAssistant, zha: MockConfigEntry) -> None:
    """ZHA's entry unloaded and set up again (what its reload does)."""
    assert await hass.config_entries.async_unload(zha.entry_id)
    await hass.async_block_till_done()
    assert zha.state is ConfigEntryState.NOT_LOADED
    assert await hass.config_entries.async_setup(zha.entry_id)
    await hass.async_block_till_done()
    assert zha.state is ConfigEntryState.LOADED


def _zha_entities(hass: HomeAssistant, ieee: str, domain: str) -> list[er.RegistryEntry]:
    """ZHA's entities of one domain for the device with this IEEE address, disabled ones too."""
    devices = dr.async_get(hass)
    device = next(
        device
        for entry in hass.config_entries.async_entries("zha")
        for device in dr.async_entries_for_config_entry(devices, entry.entry_id)
        if ("zha", ieee) in device.identifiers
    )
    return [
        entity
        for entity in er.async_entries_for_device(
            er.async_get(hass), device.id, include_disabled_entities=True
        )
        if entity.domain == domain and entity.platform == "zha"
    ]


def _zha_lock(hass: HomeAssistant, room_id: str) -> er.RegistryEntry:
    """ZHA's lock entity of the room's lock."""
    address = next(room.lock for room in ROOMS if room.room_id == room_id)
    (lock,) = _zha_entities(hass, address, Platform.LOCK)
    return lock


# -- our radio on ZHA's network ------------------------------------------------------------


def _our_radio(hass: HomeAssistant) -> ZhaRadio:
    """Reaching ZHA's application as the integration does."""
    return ZhaRadio(lambda: zha_application(hass), ROOMS, command_timeout=0.5, check_timeout=0.3)


@pytest.fixture
async def zha_radio(hass: HomeAssistant, zha: MockConfigEntry) -> AsyncGenerator[ZhaRadio]:
    """Our radio, started on ZHA's network; stopped after the test."""
    ours = _our_radio(hass)
    await ours.async_start()
    yield ours
    await ours.async_stop()


@pytest.fixture
def received(zha_radio: ZhaRadio) -> list[DeviceEvent]:
    """Every event our radio emits from now on."""
    events: list[DeviceEvent] = []
    zha_radio.subscribe(events.append)
    return events


def _record(monkeypatch: pytest.MonkeyPatch, app: Any) -> list[tuple[str, int, int]]:
    """Record every frame the application sends, as (kind, cluster, command)."""
    sent: list[tuple[str, int, int]] = []
    original = app.send_packet

    async def send_packet(packet: t.ZigbeePacket) -> Any:
        if packet.dst_ep == 0:
            sent.append(("zdo", int(packet.cluster_id), 0))
        else:
            hdr, _ = foundation.ZCLHeader.deserialize(packet.data.serialize())
            kind = "general" if hdr.frame_control.is_general else "cluster"
            sent.append((kind, int(packet.cluster_id), int(hdr.command_id)))
        return await original(packet)

    monkeypatch.setattr(app, "send_packet", send_packet)
    return sent


def _spy(monkeypatch: pytest.MonkeyPatch, app: Any, *names: str) -> list[str]:
    """Record calls of the application's methods (they still run)."""
    calls: list[str] = []
    for name in names:
        original = getattr(app, name)

        def spy(
            *args: Any, _name: str = name, _original: Callable[..., Any] = original, **kwargs: Any
        ) -> Any:
            calls.append(_name)
            return _original(*args, **kwargs)

        monkeypatch.setattr(app, name, spy)
    return calls


async def _reinterview(app: ControllerApplication, ieee: t.EUI64) -> Any:
    """Replace the device by a new object through zigpy's real interview; return it."""
    done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    class Waiter:
        def device_initialized(self, device: Any) -> None:
            if device.ieee == ieee and not done.done():
                done.set_result(device)

        device_reinterviewed = device_initialized

    waiter = Waiter()
    app.add_listener(waiter)
    try:
        old = app.devices.pop(ieee)
        app.handle_join(old.nwk, ieee, t.NWK(0x0000))
        async with asyncio.timeout(JOIN_TIMEOUT):
            device = await done
    finally:
        app.remove_listener(waiter)
    assert device is not old
    assert (
        device.endpoints[1].in_clusters[DoorLock.cluster_id]
        is not (old.endpoints[1].in_clusters[DoorLock.cluster_id])
    )
    return device


# -- start and stop ------------------------------------------------------------------------


async def test_start_attaches_to_zhas_network_without_opening_or_configuring(
    hass: HomeAssistant,
    zha: MockConfigEntry,
    stick: SimulatedStick,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = _gateway(hass).application_controller
    assert app is stick.app  # ZHA's application has the stick open
    sent = _record(monkeypatch, app)
    opened = _spy(
        monkeypatch, app, "connect", "startup", "start_network", "form_network", "shutdown"
    )
    ours = _our_radio(hass)
    assert sent == []  # nothing happens before start
    assert ours.app is None
    await ours.async_start()
    try:
        assert ours.started
        assert ours.app is app
        assert opened == []
        # Our only traffic: the availability check reads each lock's state (one per room).
        assert sent == [READ] * len(ROOMS)
        assert not any(kind == "zdo" for kind, _, _ in sent)  # no Bind_req
        for room in ROOMS:
            assert ours.is_online(room.room_id)
            assert ours.lock_state(room.room_id) is LockState.LOCKED
        assert ours.door_open("T01") is False  # from the contact ZHA enrolled
        assert ours.occupied("T01") is False  # primed from the values ZHA read
    finally:
        await ours.async_stop()
    assert opened == []


async def test_start_without_zha_is_a_clear_error(
    hass: HomeAssistant, zha_entry: MockConfigEntry
) -> None:
    assert zha_entry.state is ConfigEntryState.NOT_LOADED  # ZHA's entry exists, not loaded
    ours = _our_radio(hass)
    with pytest.raises(RadioError, match=r"ZHA .* is not loaded"):
        await ours.async_start()
    assert not ours.started
    assert ours.app is None
    assert not ours.is_online("T01")

    # ZHA's gateway without its application (while it starts, or once it shut down).
    starting = ZhaRadio(lambda: None, ROOMS)
    with pytest.raises(ZhaNotLoaded, match="no running Zigbee network"):
        await starting.async_start()
    assert issubclass(ZhaNotLoaded, RadioError)


async def test_stop_only_detaches(
    hass: HomeAssistant,
    zha_radio: ZhaRadio,
    stick: SimulatedStick,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = _gateway(hass).application_controller
    closed = _spy(monkeypatch, app, "shutdown", "disconnect")
    events: list[DeviceEvent] = []
    zha_radio.subscribe(events.append)

    await zha_radio.async_stop()
    await zha_radio.async_stop()  # twice: harmless
    assert closed == []
    assert zha_radio.app is None
    assert not zha_radio.started

    # ZHA's network runs on; we no longer hear it and do not follow it on a command.
    await stick.async_tap("T01", "C-Z0001")
    assert events == []
    assert await zha_radio.async_reattach() is False
    assert zha_radio.app is None
    assert _gateway(hass).application_controller is app
    lock = app.devices[LOCK].endpoints[1].in_clusters[DoorLock.cluster_id]
    await lock.unlock_door()  # ZHA's own cluster object still reaches the lock
    assert stick.lock("T01").lock_state == DoorLock.LockState.Unlocked


# -- events and commands -------------------------------------------------------------------


async def test_card_tap_door_and_button_reach_the_room(
    stick: SimulatedStick, received: list[DeviceEvent]
) -> None:
    await stick.async_tap("T02", "C-Z0001")
    stick.lock("L01").push_button()
    await stick.async_settle()
    stick.contact("T01").set_open(True)  # ZHA enrolled the contact: it notifies
    await stick.async_settle()
    assert received == [
        DeviceEvent(room_id="T02", type=E.CARD_TAP, card="C-Z0001"),
        DeviceEvent(room_id="L01", type=E.UNLOCKED),
        DeviceEvent(room_id="L01", type=E.PUSH_EXIT),
        DeviceEvent(room_id="T01", type=E.DOOR_OPEN),
    ]


async def test_unlock_goes_out_through_zhas_cluster_object(
    hass: HomeAssistant,
    zha_radio: ZhaRadio,
    stick: SimulatedStick,
    received: list[DeviceEvent],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    gateway = _gateway(hass)
    sent = _record(monkeypatch, gateway.application_controller)
    cluster = gateway.devices[LOCK].device.endpoints[1].in_clusters[DoorLock.cluster_id]
    requests: list[int] = []
    original = cluster.request

    async def request(general: bool, command_id: int, *args: Any, **kwargs: Any) -> Any:
        requests.append(command_id)
        return await original(general, command_id, *args, **kwargs)

    monkeypatch.setattr(cluster, "request", request)

    await zha_radio.async_unlock("T01")
    assert requests == [DoorLock.ServerCommandDefs.unlock_door.id]
    assert sent == [UNLOCK]
    assert stick.lock("T01").lock_state == DoorLock.LockState.Unlocked
    await stick.async_settle()
    assert zha_radio.lock_state("T01") is LockState.UNLOCKED
    assert DeviceEvent(room_id="T01", type=E.UNLOCKED) in received
    await hass.async_block_till_done()
    zha_lock = _zha_lock(hass, "T01")
    assert state_of(hass, zha_lock.entity_id) == "unlocked"  # ZHA heard the lock's report too

    await zha_radio.async_lock("T01")
    await stick.async_settle()
    assert zha_radio.lock_state("T01") is LockState.LOCKED
    with pytest.raises(UnknownRoom):
        await zha_radio.async_unlock("nope")
    with pytest.raises(UnknownRoom):
        await zha_radio.async_check_availability("nope")


async def test_the_holders_card_goes_into_the_lock_through_zhas_cluster_object(
    zha_radio: ZhaRadio, stick: SimulatedStick, received: list[DeviceEvent]
) -> None:
    """On ZHA's network the lock's user table is written and read as on one of our own."""
    now = datetime.now().replace(microsecond=0)  # the simulated lock's own clock
    users = zha_radio.lock_users
    await users.async_write_slot(
        "T01", 9, "C-S0001", now - timedelta(minutes=1), now + timedelta(hours=1)
    )
    held = await users.async_read_slot("T01", 9)
    assert held is not None and (held.code, held.end) == ("C-S0001", now + timedelta(hours=1))
    lock = stick.lock("T01")
    assert lock.opens_for("C-S0001")
    lock.decides_when_online = True
    await stick.async_tap("T01", "C-S0001")
    assert [(e.type, e.user_id) for e in received if e.type is E.LOCK_OPENED] == [
        (E.LOCK_OPENED, 9)
    ]
    await users.async_clear_slot("T01", 9)
    assert not lock.opens_for("C-S0001")


async def test_reinterview_reattaches_to_the_new_device(
    hass: HomeAssistant,
    zha_radio: ZhaRadio,
    stick: SimulatedStick,
    received: list[DeviceEvent],
) -> None:
    await _reinterview(_gateway(hass).application_controller, LOCK)
    await stick.async_settle()
    assert zha_radio.is_online("T01")

    await stick.async_tap("T01", "C-Z0002")
    assert [e for e in received if e.type is E.CARD_TAP] == [
        DeviceEvent(room_id="T01", type=E.CARD_TAP, card="C-Z0002")
    ]
    await zha_radio.async_unlock("T01")
    assert stick.lock("T01").lock_state == DoorLock.LockState.Unlocked


async def test_battery_levels_come_from_zhas_clusters(
    zha_radio: ZhaRadio, stick: SimulatedStick, received: list[DeviceEvent]
) -> None:
    """ZHA configured the battery reporting; we only listen (the start read nothing more)."""
    occupancy = ROOMS[1].occupancy
    assert occupancy is not None
    sensor = stick.device(occupancy)
    battery = PowerConfiguration.AttributeDefs.battery_percentage_remaining
    assert (PowerConfiguration.cluster_id, battery.id) in sensor.reporting  # set up by ZHA
    assert zha_radio.battery("T02", Role.OCCUPANCY) == 100  # the value ZHA read
    assert zha_radio.battery("L01", Role.CONTACT) is None  # no contact in that room
    sensor.set_battery(12)
    await stick.async_settle()
    assert received == [DeviceEvent(room_id="T02", type=E.BATTERY, role=Role.OCCUPANCY, battery=12)]
    assert zha_radio.battery("T02", Role.OCCUPANCY) == 12


async def test_zha_configures_the_devices_it_interviews(
    hass: HomeAssistant,
    zha_started: MockConfigEntry,
    stick: SimulatedStick,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What our start never sends is what ZHA sends when a device joins its network."""
    sent = _record(monkeypatch, _gateway(hass).application_controller)
    await _join(hass, stick)
    assert BIND in sent
    configure = foundation.GeneralCommand.Configure_Reporting
    assert ("general", DoorLock.cluster_id, configure) in sent
    # The door contacts are enrolled with ZHA's coordinator as their CIE.
    contact = stick.contact("T01")
    assert contact.enrolled
    assert contact.attributes[IasZone.cluster_id][IasZone.AttributeDefs.cie_addr.id] == STICK_IEEE


# -- ZHA reloads and unloads ---------------------------------------------------------------


async def test_zha_reload_then_reattach(
    hass: HomeAssistant,
    zha: MockConfigEntry,
    zha_radio: ZhaRadio,
    stick: SimulatedStick,
    received: list[DeviceEvent],
) -> None:
    old = zha_radio.app
    await _restart_zha(hass, zha)
    new = _gateway(hass).application_controller
    assert new is not old
    assert stick.app is new  # the old application closed the stick

    assert await zha_radio.async_reattach() is True
    assert zha_radio.app is new
    assert zha_radio.is_online("T01")
    await stick.async_tap("T01", "C-Z0003")
    assert received[-1] == DeviceEvent(room_id="T01", type=E.CARD_TAP, card="C-Z0003")
    await zha_radio.async_unlock("T01")
    assert stick.lock("T01").lock_state == DoorLock.LockState.Unlocked


async def test_zha_reload_is_followed_on_the_next_command(
    hass: HomeAssistant,
    zha: MockConfigEntry,
    zha_radio: ZhaRadio,
    stick: SimulatedStick,
    received: list[DeviceEvent],
) -> None:
    await _restart_zha(hass, zha)
    await zha_radio.async_unlock("T02")  # no async_reattach: found out here
    assert zha_radio.app is _gateway(hass).application_controller
    assert stick.lock("T02").lock_state == DoorLock.LockState.Unlocked

    await stick.async_tap("T01", "C-Z0004")
    assert received[-1] == DeviceEvent(room_id="T01", type=E.CARD_TAP, card="C-Z0004")


async def test_zha_unloaded_fails_secure_until_it_is_back(
    hass: HomeAssistant,
    zha: MockConfigEntry,
    zha_radio: ZhaRadio,
    stick: SimulatedStick,
    received: list[DeviceEvent],
) -> None:
    assert await hass.config_entries.async_unload(zha.entry_id)
    await hass.async_block_till_done()
    assert stick.app is None  # ZHA closed the stick
    with pytest.raises(LockOffline, match="ZHA"):
        await zha_radio.async_unlock("T01")
    assert zha_radio.app is None
    assert not any(zha_radio.is_online(room.room_id) for room in ROOMS)
    assert sorted(e.room_id for e in received if e.type is E.OFFLINE) == sorted(
        room.room_id for room in ROOMS
    )
    assert await zha_radio.async_check_availability("T01") is False
    assert await zha_radio.async_reattach() is False
    assert stick.lock("T01").lock_state == DoorLock.LockState.Locked  # nothing sent

    assert await hass.config_entries.async_setup(zha.entry_id)
    await hass.async_block_till_done()
    assert await zha_radio.async_reattach() is True
    assert all(zha_radio.is_online(room.room_id) for room in ROOMS)
    assert [e.type for e in received if e.room_id == "T01"][-1] is E.ONLINE
    await zha_radio.async_unlock("T01")
    assert stick.lock("T01").lock_state == DoorLock.LockState.Unlocked


# -- a site in radio mode `zha` ------------------------------------------------------------


def _site() -> MockConfigEntry:
    """A site of the demo patrons on ZHA's network: T01 and T02 complete, L01 only a lock."""
    rooms = {room.room_id: room for room in DEMO_ROOMS}
    return MockConfigEntry(
        domain=DOMAIN,
        title="Gongguan",
        unique_id="gongguan",
        data={
            CONF_SITE_NAME: "Gongguan",
            CONF_RADIO: "zha",
            CONF_PATRON_SYSTEM: "local",
            CONF_DEMO_DATA: True,
        },
        subentries_data=[
            ConfigSubentryData(
                data=room_subentry_data(rooms[devices.room_id], devices),
                subentry_type=SUBENTRY_ROOM,
                title=devices.room_id,
                unique_id=devices.room_id,
            )
            for devices in ROOMS
        ],
    )


async def _start(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED


@pytest.fixture
async def site(hass: HomeAssistant, zha: MockConfigEntry) -> AsyncGenerator[MockConfigEntry]:
    """The site, started on ZHA's network with every device there; unloaded after the test."""
    entry = _site()
    await _start(hass, entry)
    yield entry
    if entry.state is ConfigEntryState.LOADED:
        assert await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()


def _zha_issue(issue_registry: ir.IssueRegistry, site: MockConfigEntry) -> ir.IssueEntry | None:
    return issue_registry.async_get_issue(DOMAIN, f"zha_lock_entity_{site.entry_id}_T01")


async def _tap(hass: HomeAssistant, stick: SimulatedStick, card: str) -> None:
    """A card at T01's reader, on ZHA's network; the site decides in the background."""
    await stick.async_tap("T01", card)
    await hass.async_block_till_done(wait_background_tasks=True)


async def test_zhas_lock_entities_are_disabled_and_the_site_decides_every_tap(
    hass: HomeAssistant,
    zha: MockConfigEntry,
    site: MockConfigEntry,
    stick: SimulatedStick,
    issue_registry: ir.IssueRegistry,
) -> None:
    assert zha.state is ConfigEntryState.LOADED
    for room in ROOMS:
        zha_lock = _zha_lock(hass, room.room_id)
        assert zha_lock.disabled_by is er.RegistryEntryDisabler.INTEGRATION
        assert zha_lock.options[DOMAIN] == {"disabled_for_room": room.room_id}
        assert hass.states.get(zha_lock.entity_id) is None  # nothing can unlock through it
        (battery,) = (
            entity
            for entity in _zha_entities(hass, room.lock, Platform.SENSOR)
            if entity.original_device_class == "battery"
        )
        assert battery.disabled_by is None  # only ZHA's lock entities
        assert (
            issue_registry.async_get_issue(
                DOMAIN, f"zha_lock_entity_{site.entry_id}_{room.room_id}"
            )
            is None
        )
    assert state_of(hass, "lock.t01") == "locked"  # the room's own lock, on ZHA's network

    # The room's own lock follows the library's rules: a stranger's card is refused.
    events = async_capture_events(hass, EVENT_NAME)
    await patron_action(hass, "borrow", "T01", "S0001")
    await hass.services.async_call("lock", "lock", {"entity_id": "lock.t01"}, blocking=True)
    assert stick.lock("T01").lock_state == DoorLock.LockState.Locked
    await _tap(hass, stick, "C-G0001")
    assert stick.lock("T01").lock_state == DoorLock.LockState.Locked
    assert state_of(hass, "lock.t01") == "locked"
    assert events[-1].data["type"] == "refused"
    assert events[-1].data["reason"] == "not_holder"
    await _tap(hass, stick, "C-S0001")  # the holder's card opens
    assert stick.lock("T01").lock_state == DoorLock.LockState.Unlocked
    assert state_of(hass, "lock.t01") == "unlocked"
    assert events[-1].data["type"] == "card_tap"

    # The door contact ZHA enrolled tells the site the door opened.
    stick.contact("T01").set_open(True)
    await stick.async_settle()
    await hass.async_block_till_done(wait_background_tasks=True)
    assert state_of(hass, "binary_sensor.t01_door") == "on"


async def test_the_site_follows_zha_reloading(
    hass: HomeAssistant,
    zha: MockConfigEntry,
    site: MockConfigEntry,
    stick: SimulatedStick,
) -> None:
    first = _gateway(hass).application_controller
    await patron_action(hass, "borrow", "T01", "S0001")
    await hass.services.async_call("lock", "lock", {"entity_id": "lock.t01"}, blocking=True)

    # ZHA unloaded: the rooms' locks are offline and no tap opens a door (fail secure).
    assert await hass.config_entries.async_unload(zha.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    await _tap(hass, stick, "C-S0001")  # no radio hears it
    assert (await patron_action(hass, "open", "T01", "S0001"))["door"] == "unlock_failed"
    assert stick.lock("T01").lock_state == DoorLock.LockState.Locked
    assert state_of(hass, "lock.t01") == STATE_UNAVAILABLE

    # ZHA set up again (a new application on the same stick): the site attaches by itself.
    assert await hass.config_entries.async_setup(zha.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert _gateway(hass).application_controller is not first
    assert state_of(hass, "lock.t01") == "locked"
    await _tap(hass, stick, "C-S0001")
    assert stick.lock("T01").lock_state == DoorLock.LockState.Unlocked
    assert state_of(hass, "lock.t01") == "unlocked"
    # ZHA's own lock entity stays disabled across its reload.
    zha_lock = _zha_lock(hass, "T01")
    assert zha_lock.disabled_by is er.RegistryEntryDisabler.INTEGRATION
    assert hass.states.get(zha_lock.entity_id) is None


async def test_a_site_on_zhas_network_uses_it_and_leaves_it_running(
    hass: HomeAssistant, zha: MockConfigEntry, site: MockConfigEntry, stick: SimulatedStick
) -> None:
    app = _gateway(hass).application_controller

    # Adding a room offers the locks ZHA's network knows.
    result = await hass.config_entries.subentries.async_init(
        (site.entry_id, SUBENTRY_ROOM), context={"source": SOURCE_USER}
    )
    pickers = {str(key): value for key, value in result["data_schema"].schema.items()}
    offered = [option["value"] for option in pickers[CONF_LOCK_IEEE].config["options"]]
    assert sorted(offered) == sorted(room.lock for room in ROOMS)

    # Only a stick of the site's own can let devices join.
    with pytest.raises(ServiceValidationError) as refused:
        await call_service(hass, "permit_join", {"seconds": 30})
    assert refused.value.translation_key == "not_own_radio"

    assert await hass.config_entries.async_unload(site.entry_id)
    await hass.async_block_till_done()
    assert zha.state is ConfigEntryState.LOADED  # ZHA's network runs on, untouched
    assert _gateway(hass).application_controller is app
    assert stick.app is app


async def test_zha_knows_the_door_contact_for_what_it_is(
    hass: HomeAssistant, zha: MockConfigEntry, stick: SimulatedStick
) -> None:
    """ZHA reads the zone type while configuring the contact; its sensor is an opening sensor.

    (ZHA 0.0.56, in Home Assistant 2025.4, makes the sensor before that read on a first
    pairing, so the device class shows from ZHA's next start on: from its database.)
    """
    contact_address = ROOMS[0].contact
    assert contact_address is not None
    contact = _gateway(hass).application_controller.devices[t.EUI64.convert(contact_address)]
    zone = contact.endpoints[1].in_clusters[IasZone.cluster_id]
    assert zone.get("zone_type") == IasZone.ZoneType.Contact_Switch

    await _restart_zha(hass, zha)
    (sensor,) = _zha_entities(hass, contact_address, Platform.BINARY_SENSOR)
    state = hass.states.get(sensor.entity_id)
    assert state is not None
    assert state.attributes.get("device_class") == "opening"
    assert state.state == "off"
    stick.contact("T01").set_open(True)
    await stick.async_settle()
    await hass.async_block_till_done()
    assert state_of(hass, sensor.entity_id) == "on"


async def test_a_zha_lock_entity_made_while_the_site_runs_is_disabled(
    hass: HomeAssistant,
    zha_started: MockConfigEntry,
    stick: SimulatedStick,
    issue_registry: ir.IssueRegistry,
) -> None:
    t01_lock = ROOMS[0].lock
    others = [a for r in ROOMS for a in (r.lock, r.contact, r.occupancy) if a and a != t01_lock]
    await _join(hass, stick, *others)
    entry = _site()
    await _start(hass, entry)  # T01's lock is not on ZHA's network yet
    issue = _zha_issue(issue_registry, entry)
    assert issue is not None
    assert issue.translation_key == "zha_lock_entity_not_found"
    assert issue.translation_placeholders == {"room": "T01", "site": "Gongguan", "ieee": t01_lock}
    assert state_of(hass, "lock.t01") == STATE_UNAVAILABLE

    # The lock joins: ZHA interviews it and adds its lock entity, which the site disables.
    await _join(hass, stick, t01_lock)
    await hass.async_block_till_done(wait_background_tasks=True)
    zha_lock = _zha_lock(hass, "T01")
    assert zha_lock.disabled_by is er.RegistryEntryDisabler.INTEGRATION
    assert _zha_issue(issue_registry, entry) is None
    # Gone from the state machine too: nothing can unlock the door through it.
    assert hass.states.get(zha_lock.entity_id) is None
    await hass.services.async_call(
        "lock", "unlock", {"entity_id": zha_lock.entity_id}, blocking=True
    )
    await stick.async_settle()
    assert stick.lock("T01").lock_state == DoorLock.LockState.Locked

    # The room's own lock is online now and follows the rules.
    assert state_of(hass, "lock.t01") == "locked"
    assert (await patron_action(hass, "borrow", "T01", "S0001"))["door"] == "unlocked"
    assert stick.lock("T01").lock_state == DoorLock.LockState.Unlocked

    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


async def test_a_zha_lock_entity_enabled_again_stays_enabled_with_a_repair_issue(
    hass: HomeAssistant,
    zha: MockConfigEntry,
    site: MockConfigEntry,
    stick: SimulatedStick,
    issue_registry: ir.IssueRegistry,
) -> None:
    registry = er.async_get(hass)
    zha_lock = _zha_lock(hass, "T01").entity_id
    events = async_capture_events(hass, EVENT_NAME)

    registry.async_update_entity(zha_lock, disabled_by=None)  # staff enable it on purpose
    await hass.async_block_till_done()
    issue = _zha_issue(issue_registry, site)
    assert issue is not None
    assert issue.translation_key == "zha_lock_entity_enabled"
    assert issue.severity is ir.IssueSeverity.ERROR
    assert issue.translation_placeholders == {"room": "T01", "site": "Gongguan", "entity": zha_lock}

    # Home Assistant reloads ZHA to add the entity; a person's choice stands.
    await _reload_after_enabling(hass)
    entry = registry.async_get(zha_lock)
    assert entry is not None and entry.disabled_by is None
    assert state_of(hass, zha_lock) == "locked"  # ZHA's entity is live: what the issue warns of
    assert _zha_issue(issue_registry, site) is not None
    await _tap(hass, stick, "C-G0001")  # the site still decides the taps on ZHA's new network
    assert events[-1].data["type"] == "refused"
    assert stick.lock("T01").lock_state == DoorLock.LockState.Locked

    # Nor is it disabled again when the site starts again (a room added, a restart).
    assert await hass.config_entries.async_reload(site.entry_id)
    await hass.async_block_till_done()
    entry = registry.async_get(zha_lock)
    assert entry is not None and entry.disabled_by is None
    assert _zha_issue(issue_registry, site) is not None

    registry.async_update_entity(zha_lock, disabled_by=er.RegistryEntryDisabler.USER)
    await hass.async_block_till_done()
    assert _zha_issue(issue_registry, site) is None  # disabled after all: nothing to tell

    # The site stopping takes its notices with it.
    registry.async_update_entity(zha_lock, disabled_by=None)
    await hass.async_block_till_done()
    assert _zha_issue(issue_registry, site) is not None
    assert await hass.config_entries.async_unload(site.entry_id)
    await hass.async_block_till_done()
    assert _zha_issue(issue_registry, site) is None
    await _reload_after_enabling(hass)


async def _reload_after_enabling(hass: HomeAssistant) -> None:
    """Let Home Assistant's reload of an entity's integration after it was enabled happen."""
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=31))
    await hass.async_block_till_done(wait_background_tasks=True)
