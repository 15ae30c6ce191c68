"""Fault injection: the radio or a lock fails, the door stays shut.

One test per fault, each through Home Assistant and the services: the own stick's link is
lost and comes back, a lock stops answering, a command times out, a lock refuses the
command. In each, what was borrowed stays borrowed, a refusal leaves the Store as it was,
and no door the patron was not served at is left unlocked.

The stick absent at start (ConfigEntryNotReady, the entry retries and staff get an issue) is
tests/test_radio_modes.py::test_a_missing_stick_retries_and_tells_staff.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable
import contextlib
import copy
from datetime import timedelta
import functools
import logging
from pathlib import Path
from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed
from zigpy.application import ControllerApplication as ZigpyApplication
import zigpy.exceptions
import zigpy.types as t
from zigpy.zcl import foundation
from zigpy.zcl.clusters.closures import DoorLock

from custom_components.ntnu_library.const import (
    CONF_BAUDRATE,
    CONF_BELLOWS,
    CONF_DEMO_DATA,
    CONF_DEVICE_PATH,
    CONF_FLOW_CONTROL,
    CONF_PATRON_SYSTEM,
    CONF_RADIO,
    CONF_SITE_NAME,
    DOMAIN,
    PATRONS_LOCAL,
)
from custom_components.ntnu_library.demo import DEMO_ROOMS
from custom_components.ntnu_library.subentries import room_subentry
from custom_components.ntnu_library.zigbee.bellows import BellowsRadio
from custom_components.ntnu_library.zigbee.radio import LockState
from custom_components.ntnu_library.zigbee.simulated import (
    SimulatedContact,
    SimulatedDevice,
    SimulatedLock,
    SimulatedOccupancy,
    simulated_devices,
)

from .conftest import TIME_ZONE, call_service, patron_action, refusal, state_of
from .zigbee.fake_ncp import FakeNcp, install

LOCKED = DoorLock.LockState.Locked
UNLOCKED = DoorLock.LockState.Unlocked
_UNLOCK_DOOR = DoorLock.ServerCommandDefs.unlock_door.id
_INTEGRATION = "custom_components.ntnu_library"


def _library(entry: MockConfigEntry) -> dict[str, Any]:
    """The library part of what the site's Store keeps."""
    return copy.deepcopy(entry.runtime_data.as_store_data()["library"])


def _holder(entry: MockConfigEntry, room: str) -> str | None:
    return entry.runtime_data.rooms.holder(room, dt_util.now())


async def _refused(hass: HomeAssistant, action: str, room: str, patron_id: str) -> str:
    with pytest.raises(HomeAssistantError) as refused:
        await patron_action(hass, action, room, patron_id)
    return refusal(refused.value)


def _count_unlocks(monkeypatch: pytest.MonkeyPatch, lock: SimulatedDevice) -> list[int]:
    """Count the unlock_door frames that reach `lock` over the air (swallowed or not)."""
    unlocks: list[int] = []
    receive = lock.receive

    def counting(packet: t.ZigbeePacket) -> None:
        if packet.dst_ep != 0 and packet.cluster_id == DoorLock.cluster_id:
            hdr, _ = foundation.ZCLHeader.deserialize(packet.data.serialize())
            if hdr.frame_control.is_cluster and hdr.command_id == _UNLOCK_DOOR:
                unlocks.append(hdr.tsn)
        receive(packet)

    monkeypatch.setattr(lock, "receive", counting)
    return unlocks


def _integration_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name.startswith(_INTEGRATION) and record.levelno >= logging.WARNING
    ]


async def _time_passes(hass: HomeAssistant, seconds: float = 30) -> None:
    """Move the event loop's clock on: every timer due within `seconds` fires now.

    What they set off runs to its end. Half a minute is many command timeouts: a resend of a
    lost or failed command would be in it.
    """
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=seconds))
    await hass.async_block_till_done(wait_background_tasks=True)


async def _wait_for(hass: HomeAssistant, condition: Callable[[], bool]) -> None:
    """Poll until `condition` holds (the bound only ends a wait that would never end).

    Not just turns of the event loop: starting the stick and every reconnect attempt go
    through zigpy's database, which runs in a thread of its own.
    """
    async with asyncio.timeout(30):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    await hass.async_block_till_done()


# --- 1. the own stick's link is lost while a room is borrowed --------------------------------


@pytest.fixture
async def bellows_site(
    hass: HomeAssistant, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> AsyncGenerator[tuple[MockConfigEntry, FakeNcp]]:
    """A site on its own EZSP stick (the fake), room T01 bound to the lock behind it.

    The stick is up at start; T01's lock, contact and occupancy sensor join through
    permit_join and are configured before the test starts.
    """
    await hass.config.async_set_time_zone(TIME_ZONE)
    hass.config.config_dir = str(tmp_path)  # the site's zigpy database goes here
    ncp = install(monkeypatch)
    # create_radio takes bellows' defaults (1 s to 60 s backoff, 10 s commands): shorten them.
    monkeypatch.setattr(
        "custom_components.ntnu_library.backends.BellowsRadio",
        functools.partial(
            BellowsRadio,
            command_timeout=2,
            check_timeout=1,
            reconnect_min_delay=0.01,
            reconnect_max_delay=0.04,
        ),
    )
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Gongguan",
        unique_id="gongguan",
        data={
            CONF_SITE_NAME: "Gongguan",
            CONF_RADIO: "bellows",
            CONF_PATRON_SYSTEM: PATRONS_LOCAL,
            CONF_DEMO_DATA: True,  # the demo patrons; T01 is bound by IEEE as on a real site
            CONF_BELLOWS: {
                CONF_DEVICE_PATH: "/dev/ttyFAKE",
                CONF_BAUDRATE: 115200,
                CONF_FLOW_CONTROL: "none",
            },
        },
        subentries_data=[room_subentry(DEMO_ROOMS[0])],
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    radio = entry.runtime_data.radio
    assert isinstance(radio, BellowsRadio)
    assert radio.connected

    devices = simulated_devices("T01")
    assert devices.contact is not None and devices.occupancy is not None
    joining = [
        ncp.add(SimulatedLock, devices.lock, 0x1A01),
        ncp.add(SimulatedContact, devices.contact, 0x1A02),
        ncp.add(SimulatedOccupancy, devices.occupancy, 0x1A03),
    ]
    await call_service(hass, "permit_join", {"seconds": 60})
    for device in joining:
        ncp.join(device)
    contact = joining[1]
    assert isinstance(contact, SimulatedContact)
    await _wait_for(
        hass,
        lambda: (
            radio.is_online("T01")
            and radio.lock_state("T01") is LockState.LOCKED
            and contact.enrolled
            and not radio._tasks
        ),
    )
    yield entry, ncp
    if entry.state is ConfigEntryState.LOADED:
        assert await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()


async def test_stick_link_lost_while_a_room_is_borrowed(
    hass: HomeAssistant,
    bellows_site: tuple[MockConfigEntry, FakeNcp],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    entry, ncp = bellows_site
    runtime = entry.runtime_data
    radio = runtime.radio
    assert isinstance(radio, BellowsRadio)
    lock = ncp.devices[0x1A01]
    assert isinstance(lock, SimulatedLock)
    unlocks = _count_unlocks(monkeypatch, lock)
    room_entities = ("lock.t01", "sensor.t01_status", "binary_sensor.t01_door")
    assert all(state_of(hass, e) != STATE_UNAVAILABLE for e in room_entities)

    # S0001 borrows T01 over the stick, goes in and the door is locked behind them.
    assert (await patron_action(hass, "borrow", "T01", "S0001"))["door"] == "unlocked"
    await _wait_for(hass, lambda: radio.lock_state("T01") is LockState.UNLOCKED)
    assert lock.lock_state == UNLOCKED
    await hass.services.async_call("lock", "lock", {"entity_id": "lock.t01"}, blocking=True)
    await _wait_for(hass, lambda: radio.lock_state("T01") is LockState.LOCKED)
    assert lock.lock_state == LOCKED
    assert state_of(hass, "sensor.t01_status") == "in_use"
    assert len(unlocks) == 1
    before = _library(entry)

    # The stick is unplugged: the port closes, and zigpy's watchdog tells as well.
    app = radio.app
    assert app is not None
    caplog.clear()
    opened = ncp.connects
    ncp.lose_link()
    app.connection_lost(TimeoutError("watchdog"))
    # Several reconnect attempts, each finding no stick, with backoff in between.
    await _wait_for(hass, lambda: ncp.connects >= opened + 3)
    assert not radio.connected

    for entity_id in room_entities:
        assert state_of(hass, entity_id) == STATE_UNAVAILABLE, entity_id
    warnings = _integration_warnings(caplog)
    # One warning for the stick; its rooms' locks going with it are not repeated as
    # warnings (an 18-room site would log 19 for one fault), nor are the attempts.
    assert len([w for w in warnings if "Lost the Zigbee stick" in w]) == 1, warnings
    assert len(warnings) == 1, warnings

    assert await _refused(hass, "open", "T01", "S0001") == "lock_offline"
    assert await _refused(hass, "borrow", "T01", "G0001") == "lock_offline"
    assert _library(entry) == before
    assert _holder(entry, "T01") == "S0001"
    assert lock.lock_state == LOCKED
    assert radio.lock_state("T01") is LockState.LOCKED
    assert len(unlocks) == 1

    # The stick is back: the site reconnects by itself and checks the lock.
    caplog.clear()
    ncp.online = True
    await _wait_for(
        hass,
        lambda: (
            radio.connected
            and radio.is_online("T01")
            and any("is back" in w for w in _integration_warnings(caplog))
        ),
    )
    assert len([r for r in caplog.records if "is back" in r.getMessage()]) == 1
    assert len([r for r in caplog.records if "Lost the Zigbee stick" in r.getMessage()]) == 0
    for entity_id in room_entities:
        assert state_of(hass, entity_id) != STATE_UNAVAILABLE, entity_id
    assert state_of(hass, "lock.t01") == "locked"
    assert state_of(hass, "sensor.t01_status") == "in_use"
    assert _library(entry) == before

    result = await patron_action(hass, "open", "T01", "S0001")
    assert result["door"] == "unlocked"
    await _wait_for(hass, lambda: radio.lock_state("T01") is LockState.UNLOCKED)
    assert lock.lock_state == UNLOCKED
    assert len(unlocks) == 2
    assert _holder(entry, "T01") == "S0001"


def _database_workers() -> list[asyncio.Task[Any]]:
    """Zigpy's database writers still running (each holds an open SQLite connection)."""
    return [
        task
        for task in asyncio.all_tasks()
        if not task.done()
        and getattr(task.get_coro(), "__qualname__", "") == "PersistingListener._worker"
    ]


async def test_unloading_while_the_stick_is_gone_leaves_nothing_open(
    hass: HomeAssistant,
    bellows_site: tuple[MockConfigEntry, FakeNcp],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Staff reload the site (or Home Assistant stops) while it looks for the lost stick."""
    entry, ncp = bellows_site
    opened: list[Any] = []
    loaded = asyncio.Event()
    stopping = asyncio.Event()
    load_db = ZigpyApplication._load_db
    stop = BellowsRadio.async_stop

    async def slow_load_db(app: Any) -> None:
        """Open the database as zigpy does; then take a while (a slow SD card).

        Longer than it takes the site to stop the radio: the attempt is still opening then.
        """
        opened.append(app)
        await load_db(app)
        loaded.set()
        await stopping.wait()

    async def watched_stop(radio: BellowsRadio) -> None:
        stopping.set()
        await stop(radio)

    monkeypatch.setattr(ZigpyApplication, "_load_db", slow_load_db)
    monkeypatch.setattr(BellowsRadio, "async_stop", watched_stop)
    ncp.lose_link()
    async with asyncio.timeout(5):
        await loaded.wait()  # a reconnect attempt is opening the database
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    leftover = _database_workers()
    for app in opened:  # close what the integration left open, so the suite can go on
        with contextlib.suppress(Exception):
            await app._dblistener.shutdown()
    assert leftover == []


# --- 3. a lock stops answering ---------------------------------------------------------------


async def test_a_lock_that_stops_answering(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """T01 borrowed and locked, T02 idle: both locks go silent; nothing opens, nothing changes."""
    entry = init_integration
    radio = entry.runtime_data.radio
    models = {room: radio.lock_model(room) for room in ("T01", "T02")}
    unlocks = {room: _count_unlocks(monkeypatch, model) for room, model in models.items()}
    await patron_action(hass, "borrow", "T01", "S0001")
    await hass.services.async_call("lock", "lock", {"entity_id": "lock.t01"}, blocking=True)
    assert models["T01"].lock_state == LOCKED
    before = _library(entry)

    caplog.clear()
    for room in ("T01", "T02"):
        await call_service(hass, "simulate", {"room": room, "action": "offline"})
    for room in ("t01", "t02"):
        for entity_id in (f"lock.{room}", f"sensor.{room}_status", f"binary_sensor.{room}_door"):
            assert state_of(hass, entity_id) == STATE_UNAVAILABLE, entity_id
    assert state_of(hass, "lock.l03") == "locked"  # the neighbour is not affected
    warnings = _integration_warnings(caplog)
    assert [w for w in warnings if "stopped answering" in w] == [
        "Lock of room T01 stopped answering",
        "Lock of room T02 stopped answering",
    ]

    assert await _refused(hass, "open", "T01", "S0001") == "lock_offline"
    assert await _refused(hass, "borrow", "T02", "G0001") == "lock_offline"
    assert await _refused(hass, "borrow", "T01", "G0001") == "lock_offline"
    assert _library(entry) == before
    assert _holder(entry, "T01") == "S0001"
    assert _holder(entry, "T02") is None
    for room, model in models.items():
        assert model.lock_state == LOCKED, room
        assert radio.lock_state(room) is LockState.LOCKED, room
    assert len(unlocks["T01"]) == 1  # the borrow's, before the lock went silent
    assert unlocks["T02"] == []

    # Back: the holder opens, and T02 can be borrowed again.
    caplog.clear()
    for room in ("T01", "T02"):
        await call_service(hass, "simulate", {"room": room, "action": "online"})
    assert [m for m in caplog.messages if "answers again" in m] == [
        "Lock of room T01 answers again",
        "Lock of room T02 answers again",
    ]
    assert state_of(hass, "lock.t01") == "locked"
    assert state_of(hass, "sensor.t01_status") == "in_use"
    assert (await patron_action(hass, "open", "T01", "S0001"))["door"] == "unlocked"
    assert models["T01"].lock_state == UNLOCKED
    assert (await patron_action(hass, "borrow", "T02", "G0001"))["door"] == "unlocked"
    assert models["T02"].lock_state == UNLOCKED
    assert (len(unlocks["T01"]), len(unlocks["T02"])) == (2, 1)


# --- 4. a command times out ------------------------------------------------------------------


async def test_a_command_timeout_is_reported_and_never_retried(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
    hass_storage: dict[str, Any],
) -> None:
    entry = init_integration
    runtime = entry.runtime_data
    radio = runtime.radio
    timeout = 0.2
    monkeypatch.setattr(radio, "_command_timeout", timeout)
    lock = radio.lock_model("T01")
    unlocks = _count_unlocks(monkeypatch, lock)
    lock.swallow_commands = True  # ACKed at the MAC layer, never answered

    result = await patron_action(hass, "borrow", "T01", "S0001")
    assert result["door"] == "unlock_failed"  # the patron is told
    assert len(unlocks) == 1
    await _time_passes(hass)  # nothing sends it again behind the patron's back
    assert len(unlocks) == 1
    assert lock.lock_state == LOCKED
    assert radio.lock_state("T01") is LockState.LOCKED

    # The borrow is decided and written before the bolt moves: it stands.
    assert _holder(entry, "T01") == "S0001"
    stored = hass_storage[f"{DOMAIN}.{entry.entry_id}"]["data"]
    assert stored["library"]["borrows"]["T01"]["patron_id"] == "S0001"
    # The lock did not answer: T01 is offline until it does, so a second press cannot stack
    # a second unlock on the lost one.
    assert state_of(hass, "sensor.t01_status") == STATE_UNAVAILABLE
    before = _library(entry)
    assert await _refused(hass, "open", "T01", "S0001") == "lock_offline"
    assert _library(entry) == before
    assert len(unlocks) == 1

    # The lock answers again: the holder opens with one unlock.
    lock.swallow_commands = False
    await call_service(hass, "simulate", {"room": "T01", "action": "online"})
    assert state_of(hass, "sensor.t01_status") == "in_use"
    assert (await patron_action(hass, "open", "T01", "S0001"))["door"] == "unlocked"
    assert len(unlocks) == 2
    assert lock.lock_state == UNLOCKED

    # Home Assistant restarts: the borrow is still there.
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.runtime_data is not runtime
    assert _holder(entry, "T01") == "S0001"
    assert state_of(hass, "sensor.t01_status") == "in_use"
    assert state_of(hass, "sensor.t01_holder") == "S***1"


# --- 5. the lock answers the unlock with a failure -------------------------------------------


async def test_a_lock_that_refuses_the_unlock(
    hass: HomeAssistant, init_integration: MockConfigEntry, monkeypatch: pytest.MonkeyPatch
) -> None:
    entry = init_integration
    radio = entry.runtime_data.radio
    lock = radio.lock_model("T01")
    unlocks = _count_unlocks(monkeypatch, lock)
    lock.command_status = foundation.Status.FAILURE

    result = await patron_action(hass, "borrow", "T01", "S0001")
    assert result["door"] == "unlock_failed"
    assert len(unlocks) == 1  # one command, answered, not tried again
    await _time_passes(hass)
    assert len(unlocks) == 1
    assert lock.lock_state == LOCKED
    assert radio.lock_state("T01") is LockState.LOCKED
    assert state_of(hass, "lock.t01") == "locked"
    # The lock answered, so it is online; the borrow stands for the holder to open again.
    assert radio.is_online("T01")
    assert state_of(hass, "sensor.t01_status") == "in_use"
    assert _holder(entry, "T01") == "S0001"

    lock.command_status = foundation.Status.SUCCESS
    assert (await patron_action(hass, "open", "T01", "S0001"))["door"] == "unlocked"
    assert lock.lock_state == UNLOCKED
    assert len(unlocks) == 2


# --- 4b. the unlock arrives but its acknowledgement is lost ----------------------------------


async def test_a_lost_acknowledgement_is_not_resent_as_a_second_unlock(
    hass: HomeAssistant, init_integration: MockConfigEntry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lock takes the unlock_door frame, but the coordinator hears no MAC/APS ACK.

    Sending it again would unlock a second time: exactly one unlock_door may reach the lock.
    """
    entry = init_integration
    radio = entry.runtime_data.radio
    app = radio.app
    assert app is not None
    lock = radio.lock_model("T01")
    unlocks = _count_unlocks(monkeypatch, lock)
    send_packet = app.send_packet
    acks_lost: list[int] = []

    async def ack_lost(packet: t.ZigbeePacket) -> None:
        await send_packet(packet)  # on the air: the lock will get it
        if packet.cluster_id == DoorLock.cluster_id and not acks_lost:
            hdr, _ = foundation.ZCLHeader.deserialize(packet.data.serialize())
            if hdr.frame_control.is_cluster and hdr.command_id == _UNLOCK_DOOR:
                acks_lost.append(hdr.tsn)
                raise zigpy.exceptions.DeliveryError("no ACK", status=t.MACStatus.MAC_NO_ACK)

    monkeypatch.setattr(app, "send_packet", ack_lost)
    result = await patron_action(hass, "borrow", "T01", "S0001")
    await _time_passes(hass)  # zigpy resends nothing either
    assert acks_lost
    assert len(unlocks) == 1, f"unlock_door reached the lock {len(unlocks)} times"
    # Whatever the patron was told, the borrow stands and the door shows what the lock says.
    assert result["door"] in ("unlocked", "unlock_failed")
    assert _holder(entry, "T01") == "S0001"
