"""The own-radio mode through bellows' real ControllerApplication and EZSP protocol layer.

Faked at the gateway (`bellows.uart.connect`): everything above it is bellows' own code
(EZSP version negotiation, the v8 frame codec, network loading, sendUnicast and the
callbacks). `FakeNcp` (tests/zigbee/fake_ncp.py) speaks EZSP frames: it decodes each
command with bellows' own command table, answers with serialized response frames, and
carries APS frames to the simulated devices of `zigbee.simulated`, whose replies come back
as `incomingMessageHandler` frames. ASH framing (byte stuffing, CRC, ACKs) is below the
fake, so it is not exercised.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
import errno
from pathlib import Path
from typing import Any

import pytest
from zigpy.zcl import foundation
from zigpy.zcl.clusters.closures import DoorLock

from custom_components.ntnu_library.zigbee import compat
from custom_components.ntnu_library.zigbee.bellows import BellowsRadio, _radio_error, probe
from custom_components.ntnu_library.zigbee.radio import (
    DeviceEvent,
    DeviceEventType as E,
    LockOffline,
    LockState,
    RadioError,
)
from custom_components.ntnu_library.zigbee.simulated import (
    SimulatedContact,
    SimulatedDevice,
    SimulatedLock,
)

from .fake_ncp import COORDINATOR_IEEE, ROOMS, FakeNcp, bellows_radio, install, wait_for


@pytest.fixture
async def ncp(monkeypatch: pytest.MonkeyPatch) -> FakeNcp:
    return install(monkeypatch)


def _radio(tmp_path: Path, **kwargs: Any) -> BellowsRadio:
    return bellows_radio("/dev/ttyFAKE", tmp_path, **kwargs)


def _add_site(ncp: FakeNcp) -> dict[str, SimulatedDevice]:
    room = ROOMS[0]
    assert room.contact is not None
    return {
        "lock": ncp.add(SimulatedLock, room.lock, 0x1A01),
        "contact": ncp.add(SimulatedContact, room.contact, 0x1A02),
        "L01": ncp.add(SimulatedLock, ROOMS[1].lock, 0x1B01),
    }


@pytest.fixture
async def radio(ncp: FakeNcp, tmp_path: Path) -> AsyncGenerator[BellowsRadio]:
    """A started radio whose rooms' devices have joined and been configured."""
    radio = _radio(tmp_path)
    await radio.async_start()
    devices = _add_site(ncp)
    await radio.async_permit_join(60)
    for device in devices.values():
        ncp.join(device)
    contact = devices["contact"]
    assert isinstance(contact, SimulatedContact)
    await wait_for(
        lambda: (
            all(radio.lock_state(room.room_id) is LockState.LOCKED for room in ROOMS)
            and contact.enrolled
            and not radio._tasks
        )  # configuration done
    )
    yield radio
    await radio.async_stop()


@pytest.fixture
def events(radio: BellowsRadio) -> list[DeviceEvent]:
    received: list[DeviceEvent] = []
    radio.subscribe(received.append)
    return received


def _lock(ncp: FakeNcp, nwk: int = 0x1A01) -> SimulatedLock:
    lock = ncp.devices[nwk]
    assert isinstance(lock, SimulatedLock)
    return lock


async def test_start_loads_the_network_and_configures_joined_devices(
    radio: BellowsRadio, ncp: FakeNcp
) -> None:
    app = radio.app
    assert app is not None
    assert app.state.node_info.ieee == COORDINATOR_IEEE
    assert app.state.network_info.pan_id == 0x1A62
    assert ncp.sent("version")
    assert not ncp.sent("formNetwork")
    assert ncp.sent("permitJoining")[-1]["duration"] == 60
    # Joined through trustCenterJoinHandler, interviewed and configured over sendUnicast.
    assert DoorLock.cluster_id in _lock(ncp).bound
    contact = ncp.devices[0x1A02]
    assert isinstance(contact, SimulatedContact)
    assert contact.enrolled
    assert radio.lock_state("T01") is LockState.LOCKED
    assert radio.door_open("T01") is False
    assert radio.connected


async def test_a_stick_without_a_network_forms_one(ncp: FakeNcp, tmp_path: Path) -> None:
    ncp.joined = False
    radio = _radio(tmp_path, start_timeout=5)
    await radio.async_start()
    try:
        forms = ncp.sent("formNetwork")
        assert forms
        assert forms[-1]["parameters"].panId not in (0, 0xFFFF)
        assert radio.connected
    finally:
        await radio.async_stop()


async def test_unlock_goes_out_as_an_aps_frame(
    radio: BellowsRadio, ncp: FakeNcp, events: list[DeviceEvent]
) -> None:
    ncp.commands.clear()
    await radio.async_unlock("T01")
    (unicast,) = ncp.sent("sendUnicast")
    aps = unicast["apsFrame"]
    assert int(unicast["indexOrDestination"]) == 0x1A01
    assert (aps.profileId, aps.clusterId, aps.destinationEndpoint) == (0x0104, 0x0101, 1)
    hdr, payload = foundation.ZCLHeader.deserialize(bytes(unicast["messageContents"]))
    assert hdr.frame_control.is_cluster
    assert hdr.direction == foundation.Direction.Client_to_Server
    assert hdr.command_id == DoorLock.ServerCommandDefs.unlock_door.id == 0x01
    assert payload in (b"", b"\x00")  # no PIN: absent or an empty octet string
    await wait_for(lambda: radio.lock_state("T01") is LockState.UNLOCKED)
    assert E.UNLOCKED in [event.type for event in events]


async def test_a_card_tap_arrives_through_incoming_message_handler(
    radio: BellowsRadio, ncp: FakeNcp, events: list[DeviceEvent]
) -> None:
    _lock(ncp).card_tap("04A1B2C3")
    await wait_for(lambda: bool(events))
    assert events == [DeviceEvent(room_id="T01", type=E.CARD_TAP, card="04A1B2C3")]


async def test_radio_loss_takes_every_room_offline_until_the_stick_is_back(
    radio: BellowsRadio, ncp: FakeNcp, events: list[DeviceEvent], caplog: pytest.LogCaptureFixture
) -> None:
    opened = ncp.connects
    ncp.lose_link()
    assert not radio.connected
    assert not radio.is_online("T01")
    assert not radio.is_online("L01")
    assert {(event.room_id, event.type) for event in events} == {
        ("T01", E.OFFLINE),
        ("L01", E.OFFLINE),
    }
    with pytest.raises(LockOffline):
        await radio.async_unlock("T01")
    with pytest.raises(RadioError):
        await radio.async_permit_join(10)
    await wait_for(lambda: ncp.connects >= opened + 3)  # failed attempts, with backoff
    assert not radio.connected
    events.clear()

    ncp.online = True
    await wait_for(lambda: radio.connected and radio.is_online("T01") and radio.is_online("L01"))
    assert {(event.room_id, event.type) for event in events} == {
        ("T01", E.ONLINE),
        ("L01", E.ONLINE),
    }
    lost = [r for r in caplog.records if "Lost the Zigbee stick" in r.getMessage()]
    back = [r for r in caplog.records if "is back" in r.getMessage()]
    assert (len(lost), len(back)) == (1, 1)
    await radio.async_unlock("T01")


async def test_restart_loads_devices_from_its_database(
    radio: BellowsRadio, ncp: FakeNcp, tmp_path: Path
) -> None:
    await radio.async_stop()
    ncp.commands.clear()
    again = _radio(tmp_path)
    await again.async_start()
    try:
        assert again.is_online("T01")
        assert again.is_online("L01")
        # Configured again at start: bound, enrolled, state read.
        zdo = [u for u in ncp.sent("sendUnicast") if u["apsFrame"].profileId == 0]
        assert zdo
        assert again.lock_state("T01") is LockState.LOCKED
    finally:
        await again.async_stop()


async def test_missing_port_raises_radio_error(tmp_path: Path) -> None:
    radio = BellowsRadio(
        ROOMS, path=str(tmp_path / "ttyUSB9"), database_path=str(tmp_path / "z.db")
    )
    with pytest.raises(RadioError, match="no Zigbee stick at"):
        await radio.async_start()
    assert radio.app is None
    await radio.async_stop()
    assert not asyncio.all_tasks() - {asyncio.current_task()}


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (FileNotFoundError(errno.ENOENT, "gone"), "no Zigbee stick"),
        (PermissionError(errno.EACCES, "denied"), "in use by another program"),
        (OSError(errno.EBUSY, "busy"), "in use by another program"),
        (TimeoutError(), "does not answer"),
        (ConnectionRefusedError(), "nothing listens"),
        (ValueError("odd"), "could not start"),
    ],
)
def test_radio_errors_say_what_is_wrong(error: Exception, message: str) -> None:
    wrapped = RuntimeError("startup failed")
    wrapped.__cause__ = error
    assert message in str(_radio_error(wrapped, "/dev/ttyUSB0"))


async def test_a_silent_stick_times_out(ncp: FakeNcp, tmp_path: Path) -> None:
    async def silent(data: bytes) -> None:
        """Swallow every frame."""

    ncp.send_data = silent  # type: ignore[method-assign]
    radio = _radio(tmp_path, start_timeout=0.2)
    with pytest.raises(RadioError, match="does not answer"):
        await radio.async_start()
    assert not asyncio.all_tasks() - {asyncio.current_task()}


async def test_stop_leaves_no_task(radio: BellowsRadio, ncp: FakeNcp) -> None:
    ncp.lose_link()  # a reconnect loop is running
    await radio.async_stop()
    await radio.async_stop()
    assert radio.app is None
    assert not asyncio.all_tasks() - {asyncio.current_task()}


async def test_probe(ncp: FakeNcp) -> None:
    assert await probe("/dev/ttyFAKE") is True
    ncp.online = False
    assert await probe("/dev/ttyFAKE", 115200, "software") is False


def test_flow_control() -> None:
    assert compat.bellows_flow_control(None) is None
    assert compat.bellows_flow_control("hardware") == "hardware"
    assert compat.bellows_flow_control("software") in ("software", None)
    with pytest.raises(ValueError, match="flow_control"):
        BellowsRadio(path="/dev/null", database_path="x.db", flow_control="xon")
