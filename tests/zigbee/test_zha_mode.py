"""ZHA mode: the room layer on a Zigbee network someone else (ZHA) runs.

ZHA creates its zigpy application with `ControllerApplication.new(...)` and `startup()`,
then binds, configures reporting and enrolls every device it interviews. Here the
simulated radio's application stands in for ZHA's: `SimulatedRadio` starts it the same
way and configures the devices itself, and `ZhaRadio` is handed a getter returning it,
as the integration hands it ``lambda: get_zha_gateway(hass).application_controller``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable
from typing import Any

import pytest
from zigpy.application import ControllerApplication
import zigpy.types as t
from zigpy.zcl import foundation
from zigpy.zcl.clusters.closures import DoorLock
import zigpy.zdo.types as zdo_t

from custom_components.ntnu_library.zigbee.radio import (
    DeviceEvent,
    DeviceEventType as E,
    LockOffline,
    LockState,
    RadioError,
    Role,
    UnknownRoom,
)
from custom_components.ntnu_library.zigbee.simulated import SimulatedRadio
from custom_components.ntnu_library.zigbee.zha import ZhaNotLoaded, ZhaRadio

from .conftest import ROOMS

LOCK = t.EUI64.convert(ROOMS[0].lock)
READ = ("general", DoorLock.cluster_id, foundation.GeneralCommand.Read_Attributes)
UNLOCK = ("cluster", DoorLock.cluster_id, DoorLock.ServerCommandDefs.unlock_door.id)


class _Zha:
    """What the integration's getter sees: ZHA's current application, or ZHA not loaded."""

    def __init__(self, app: ControllerApplication | None) -> None:
        self.app = app
        self.loaded = True
        self.calls = 0

    def __call__(self) -> ControllerApplication | None:
        self.calls += 1
        if not self.loaded:
            raise ValueError("No gateway object exists")  # what get_zha_gateway raises
        return self.app


@pytest.fixture
def zha(radio: SimulatedRadio) -> _Zha:
    """ZHA, loaded, running the simulated network."""
    return _Zha(radio.app)


@pytest.fixture
async def zha_radio(zha: _Zha) -> AsyncGenerator[ZhaRadio]:
    """Our radio, started on ZHA's network; stopped after the test."""
    ours = ZhaRadio(zha, ROOMS, command_timeout=0.5, check_timeout=0.3)
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
        async with asyncio.timeout(5):
            device = await done
    finally:
        app.remove_listener(waiter)
    assert device is not old
    assert (
        device.endpoints[1].in_clusters[DoorLock.cluster_id]
        is not (old.endpoints[1].in_clusters[DoorLock.cluster_id])
    )
    return device


# -- start and stop ----------------------------------------------------------------------


async def test_start_attaches_without_opening_or_configuring(
    radio: SimulatedRadio, zha: _Zha, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = radio.app
    assert app is not None
    sent = _record(monkeypatch, app)
    opened = _spy(
        monkeypatch, app, "connect", "startup", "start_network", "form_network", "shutdown"
    )
    ours = ZhaRadio(zha, ROOMS, command_timeout=0.5, check_timeout=0.3)
    assert zha.calls == 0  # nothing happens before start
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
        assert ours.occupied("T01") is False  # primed from the values ZHA's reports left
    finally:
        await ours.async_stop()
    assert opened == []


async def test_start_without_zha_is_a_clear_error(radio: SimulatedRadio) -> None:
    zha = _Zha(radio.app)
    zha.loaded = False
    ours = ZhaRadio(zha, ROOMS)
    with pytest.raises(RadioError, match=r"ZHA .* is not loaded"):
        await ours.async_start()
    assert not ours.started
    assert ours.app is None
    assert not ours.is_online("T01")

    starting = ZhaRadio(_Zha(None), ROOMS)  # ZHA's gateway exists, its network not yet
    with pytest.raises(ZhaNotLoaded, match="no running Zigbee network"):
        await starting.async_start()
    assert issubclass(ZhaNotLoaded, RadioError)


async def test_stop_only_detaches(
    radio: SimulatedRadio, zha_radio: ZhaRadio, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = radio.app
    assert app is not None
    closed = _spy(monkeypatch, app, "shutdown", "disconnect")
    events: list[DeviceEvent] = []
    zha_radio.subscribe(events.append)

    await zha_radio.async_stop()
    await zha_radio.async_stop()  # twice: harmless
    assert closed == []
    assert zha_radio.app is None
    assert not zha_radio.started

    # ZHA's network runs on; we no longer hear it and do not follow it on a command.
    await radio.async_simulate("T01", "card_tap", card="C-Z0001")
    assert events == []
    assert await zha_radio.async_reattach() is False
    assert zha_radio.app is None
    await radio.async_unlock("T01")
    assert radio.lock_state("T01") is LockState.UNLOCKED


# -- events and commands -----------------------------------------------------------------


async def test_card_tap_reaches_the_room_with_its_number(
    radio: SimulatedRadio, received: list[DeviceEvent]
) -> None:
    await radio.async_simulate("T02", "card_tap", card="C-Z0001")
    await radio.async_simulate("L01", "push_button")
    assert received[0] == DeviceEvent(room_id="T02", type=E.CARD_TAP, card="C-Z0001")
    assert received[1:] == [
        DeviceEvent(room_id="L01", type=E.UNLOCKED),
        DeviceEvent(room_id="L01", type=E.PUSH_EXIT),
    ]


async def test_unlock_goes_out_through_zhas_cluster_object(
    radio: SimulatedRadio,
    zha_radio: ZhaRadio,
    received: list[DeviceEvent],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = radio.app
    assert app is not None
    sent = _record(monkeypatch, app)
    cluster = app.devices[LOCK].endpoints[1].in_clusters[DoorLock.cluster_id]
    requests: list[int] = []
    original = cluster.request

    async def request(general: bool, command_id: int, *args: Any, **kwargs: Any) -> Any:
        requests.append(command_id)
        return await original(general, command_id, *args, **kwargs)

    monkeypatch.setattr(cluster, "request", request)

    await zha_radio.async_unlock("T01")
    assert requests == [DoorLock.ServerCommandDefs.unlock_door.id]
    assert sent == [UNLOCK]
    assert radio.lock_model("T01").lock_state == DoorLock.LockState.Unlocked
    await radio._async_settle()
    assert zha_radio.lock_state("T01") is LockState.UNLOCKED
    assert DeviceEvent(room_id="T01", type=E.UNLOCKED) in received

    await zha_radio.async_lock("T01")
    await radio._async_settle()
    assert zha_radio.lock_state("T01") is LockState.LOCKED
    with pytest.raises(UnknownRoom):
        await zha_radio.async_unlock("nope")
    with pytest.raises(UnknownRoom):
        await zha_radio.async_check_availability("nope")


async def test_reinterview_reattaches_to_the_new_device(
    radio: SimulatedRadio, zha_radio: ZhaRadio, received: list[DeviceEvent]
) -> None:
    app = radio.app
    assert app is not None
    await _reinterview(app, LOCK)
    await radio._async_settle()
    assert zha_radio.is_online("T01")

    await radio.async_simulate("T01", "card_tap", card="C-Z0002")
    assert [e for e in received if e.type is E.CARD_TAP] == [
        DeviceEvent(room_id="T01", type=E.CARD_TAP, card="C-Z0002")
    ]
    await zha_radio.async_unlock("T01")
    assert radio.lock_model("T01").lock_state == DoorLock.LockState.Unlocked


async def test_battery_levels_come_from_zhas_clusters(
    radio: SimulatedRadio, zha_radio: ZhaRadio, received: list[DeviceEvent]
) -> None:
    """ZHA configured the battery reporting; we only listen (the start read nothing more)."""
    assert zha_radio.battery("T02", Role.OCCUPANCY) == 100  # ZHA's cached value
    assert zha_radio.battery("L01", Role.CONTACT) is None  # no contact in that room
    occupancy = ROOMS[1].occupancy
    assert occupancy is not None
    radio.device(occupancy).set_battery(12)
    await radio._async_settle()
    assert received == [DeviceEvent(room_id="T02", type=E.BATTERY, role=Role.OCCUPANCY, battery=12)]
    assert zha_radio.battery("T02", Role.OCCUPANCY) == 12


# -- ZHA reloads and unloads -------------------------------------------------------------


@pytest.fixture
async def reloaded(zha: _Zha, radio: SimulatedRadio) -> AsyncGenerator[SimulatedRadio]:
    """ZHA reloaded: its old application shut down, a new one on the same devices."""
    new = SimulatedRadio(ROOMS, command_timeout=0.5, check_timeout=0.3)
    await new.async_start()
    zha.app = new.app
    await radio.async_stop()  # what ZHA's unload does to the old application
    yield new
    await new.async_stop()


async def test_zha_reload_then_reattach(
    zha: _Zha,
    zha_radio: ZhaRadio,
    received: list[DeviceEvent],
    reloaded: SimulatedRadio,
) -> None:
    assert await zha_radio.async_reattach() is True
    assert zha_radio.app is reloaded.app
    assert zha_radio.is_online("T01")

    await reloaded.async_simulate("T01", "card_tap", card="C-Z0003")
    assert received[-1] == DeviceEvent(room_id="T01", type=E.CARD_TAP, card="C-Z0003")
    await zha_radio.async_unlock("T01")
    assert reloaded.lock_model("T01").lock_state == DoorLock.LockState.Unlocked


async def test_zha_reload_is_followed_on_the_next_command(
    zha_radio: ZhaRadio, received: list[DeviceEvent], reloaded: SimulatedRadio
) -> None:
    await zha_radio.async_unlock("T02")  # no async_reattach: found out here
    assert zha_radio.app is reloaded.app
    assert reloaded.lock_model("T02").lock_state == DoorLock.LockState.Unlocked

    await reloaded.async_simulate("T01", "card_tap", card="C-Z0004")
    assert received[-1] == DeviceEvent(room_id="T01", type=E.CARD_TAP, card="C-Z0004")


async def test_zha_unloaded_fails_secure_until_it_is_back(
    radio: SimulatedRadio, zha: _Zha, zha_radio: ZhaRadio, received: list[DeviceEvent]
) -> None:
    zha.loaded = False
    with pytest.raises(LockOffline, match="ZHA"):
        await zha_radio.async_unlock("T01")
    assert zha_radio.app is None
    assert not any(zha_radio.is_online(room.room_id) for room in ROOMS)
    assert sorted(e.room_id for e in received if e.type is E.OFFLINE) == sorted(
        room.room_id for room in ROOMS
    )
    assert await zha_radio.async_check_availability("T01") is False
    assert await zha_radio.async_reattach() is False
    assert radio.lock_model("T01").lock_state == DoorLock.LockState.Locked  # nothing sent

    zha.loaded = True
    assert await zha_radio.async_reattach() is True
    assert all(zha_radio.is_online(room.room_id) for room in ROOMS)
    assert [e.type for e in received if e.room_id == "T01"][-1] is E.ONLINE
    await zha_radio.async_unlock("T01")
    assert radio.lock_model("T01").lock_state == DoorLock.LockState.Unlocked


async def test_the_recorder_sees_configuration(
    radio: SimulatedRadio, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the start test rules out does show up when a radio owner configures a room."""
    sent = _record(monkeypatch, radio.app)
    await radio.async_configure("T01")
    assert ("zdo", zdo_t.ZDOCmd.Bind_req, 0) in sent
    configure = foundation.GeneralCommand.Configure_Reporting
    assert ("general", DoorLock.cluster_id, configure) in sent
