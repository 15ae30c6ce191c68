"""The own-radio mode through bellows' real ControllerApplication and EZSP protocol layer.

Faked at the gateway (`bellows.uart.connect`): everything above it is bellows' own code
(EZSP version negotiation, the v8 frame codec, network loading, sendUnicast and the
callbacks). `FakeNcp` below speaks EZSP frames: it decodes each command with bellows'
own command table, answers with serialized response frames, and carries APS frames to
the simulated devices of `zigbee.simulated`, whose replies come back as
`incomingMessageHandler` frames. ASH framing (byte stuffing, CRC, ACKs) is below the
fake, so it is not exercised.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable
import errno
from pathlib import Path
from typing import Any

from bellows.ezsp import EZSP
import bellows.types as bt
import bellows.uart
import pytest
import zigpy.types as t
from zigpy.zcl import foundation
from zigpy.zcl.clusters.closures import DoorLock
from zigpy.zcl.clusters.general import Basic
import zigpy.zdo.types as zdo_t

from custom_components.ntnu_library.zigbee import compat
from custom_components.ntnu_library.zigbee.bellows import BellowsRadio, _radio_error, probe
from custom_components.ntnu_library.zigbee.radio import (
    DeviceEvent,
    DeviceEventType as E,
    LockOffline,
    LockState,
    RadioError,
    RoomDevices,
)
from custom_components.ntnu_library.zigbee.simulated import (
    SimulatedContact,
    SimulatedDevice,
    SimulatedLock,
    simulated_devices,
)

_NWK: Any = t.AddrMode.NWK  # zigpy's enum factory hides the member type from mypy
EZSP_VERSION = 8  # in both bellows 0.44 and 1.x; no XNCP extensions below v13
COORDINATOR_IEEE = t.EUI64.convert("00:0d:6f:00:0a:bc:de:f0")
ROOMS = [simulated_devices("T01"), RoomDevices(room_id="L01", lock=simulated_devices("L01").lock)]


def _default(typ: Any) -> Any:
    """A zero value of a bellows / zigpy type (status fields: SUCCESS / OK)."""
    fields = getattr(typ, "fields", None)
    if fields is not None and not isinstance(fields, property):
        return typ(**{field.name: _default(field.type) for field in fields})
    length = getattr(typ, "_length", None)
    if length is not None:
        return typ([_default(typ._item_type)] * length)
    value: Any
    for value in (0, b"", []):
        try:
            return typ(value)
        except (TypeError, ValueError):
            continue
    raise TypeError(f"no default for {typ!r}")


class _Coordinator(SimulatedDevice):
    """The stick itself: zigpy interviews the coordinator too (ZDO only)."""

    model = "EZSP"
    device_type = 0x0005
    logical_type = zdo_t.LogicalType.Coordinator
    clusters = (Basic,)


class FakeNcp:
    """An EZSP v8 coordinator behind the gateway interface bellows' EZSP layer uses."""

    def __init__(self) -> None:
        self.api: Any = None
        self.online = True  # False: the port is gone (connect fails)
        self.joined = True
        self.commands: list[tuple[str, dict[str, Any]]] = []
        self.devices: dict[int, SimulatedDevice] = {}
        self._proto = 4
        self._last_seq = 0
        self._aps_seq = 0
        self._loop = asyncio.get_running_loop()
        self.add(_Coordinator, str(COORDINATOR_IEEE), 0x0000)

    # -- the gateway interface (bellows.uart.Gateway) ------------------------------

    async def connect(self, config: dict[str, Any], api: Any, use_thread: bool = True) -> FakeNcp:
        if not self.online:
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", config["path"])
        self.api = api
        self._proto = 4
        return self

    async def reset(self) -> None:
        self._proto = 4

    async def disconnect(self) -> None:
        self.api = None

    async def wait_for_startup_reset(self) -> None:
        await asyncio.sleep(10)

    async def send_data(self, data: bytes) -> None:
        protocol = EZSP._BY_VERSION[self._proto]
        if self._proto == 4:
            seq, frame_id, payload = data[0], data[2], data[3:]
        else:
            seq, frame_id, payload = data[0], int.from_bytes(data[3:5], "little"), data[5:]
        name, tx_schema, rx_schema = next(
            (name, tx, rx) for name, (cid, tx, rx) in protocol.COMMANDS.items() if cid == frame_id
        )
        args, _ = bt.deserialize_dict(payload, tx_schema)
        self.commands.append((name, args))
        answer: dict[str, Any] = getattr(self, f"cmd_{name}", lambda **_: {})(**args)
        self._loop.call_soon(self._deliver, seq, self._frame(seq, name, rx_schema, answer))
        if name == "version":
            self._proto = EZSP_VERSION

    # -- frames to the host --------------------------------------------------------

    def _frame(self, seq: int, name: str, schema: Any, values: dict[str, Any]) -> bytes:
        protocol = EZSP._BY_VERSION[self._proto]
        frame_id = protocol.COMMANDS[name][0]
        body = b"".join(
            typ(values[field]).serialize() if field in values else _default(typ).serialize()
            for field, typ in schema.items()
        )
        if self._proto == 4:
            return bytes([seq, 0x80, frame_id]) + body
        return bytes([seq, 0x80, 0x01]) + frame_id.to_bytes(2, "little") + body

    def _deliver(self, seq: int, frame: bytes) -> None:
        self._last_seq = seq
        if self.api is not None:
            self.api.frame_received(frame)

    def callback(self, name: str, **values: Any) -> None:
        """Send an unsolicited callback frame."""
        schema = EZSP._BY_VERSION[self._proto].COMMANDS[name][2]
        self._deliver(self._last_seq, self._frame(self._last_seq, name, schema, values))

    def lose_link(self) -> None:
        """The stick is unplugged: the port closes and does not come back."""
        self.online = False
        if self.api is not None:
            self.api.connection_lost(OSError(errno.EIO, "Input/output error"))

    # -- commands ------------------------------------------------------------------

    def cmd_version(self, desiredProtocolVersion: int) -> dict[str, Any]:
        return {"protocolVersion": EZSP_VERSION, "stackType": 2, "stackVersion": 0x6A00}

    def cmd_networkState(self) -> dict[str, Any]:
        return {"status": 2 if self.joined else 0}  # JOINED_NETWORK / NO_NETWORK

    def cmd_networkInit(self, **_: Any) -> dict[str, Any]:
        if not self.joined:
            return {"status": bt.EmberStatus.NOT_JOINED}
        self._loop.call_soon(self._network_up)
        return {}

    def cmd_formNetwork(self, parameters: Any) -> dict[str, Any]:
        self.joined = True
        self._loop.call_soon(self._network_up)
        return {}

    def cmd_leaveNetwork(self, **_: Any) -> dict[str, Any]:
        self.joined = False
        self._loop.call_soon(
            lambda: self.callback("stackStatusHandler", status=bt.EmberStatus.NETWORK_DOWN)
        )
        return {}

    def _network_up(self) -> None:
        self.callback("stackStatusHandler", status=bt.EmberStatus.NETWORK_UP)

    def cmd_startScan(self, channelMask: Any, **_: Any) -> dict[str, Any]:
        def results() -> None:
            for channel in range(11, 27):
                if int(channelMask) & (1 << channel):
                    self.callback("energyScanResultHandler", channel=channel, maxRssiValue=-90)
            self.callback("scanCompleteHandler", channel=0, status=0)

        self._loop.call_soon(results)
        return {}

    def cmd_getNetworkParameters(self) -> dict[str, Any]:
        params = _default(bt.EmberNetworkParameters).replace(
            extendedPanId=t.ExtendedPanId.convert("4e:54:4e:55:00:00:00:01"),
            panId=0x1A62,
            radioChannel=15,
            channels=t.Channels.CHANNEL_15,
        )
        return {"nodeType": bt.EmberNodeType.COORDINATOR, "parameters": params}

    def cmd_getEui64(self) -> dict[str, Any]:
        return {"eui64": COORDINATOR_IEEE}

    def cmd_getMfgToken(self, tokenId: Any) -> dict[str, Any]:
        return {"tokenData": b"\xff" * 8}

    def cmd_getValue(self, valueId: Any) -> dict[str, Any]:
        return {"value": bytes([0x00, 0x00, 7, 4, 4, 0])}  # 7.4.4.0 build 0

    def cmd_readCounters(self) -> dict[str, Any]:
        return {"values": [t.uint16_t(0)] * len(bt.EmberCounterType)}

    cmd_readAndClearCounters = cmd_readCounters  # noqa: N815

    def cmd_getConfigurationValue(self, configId: Any) -> dict[str, Any]:
        return {"value": 8}

    def cmd_sendUnicast(self, **args: Any) -> dict[str, Any]:
        self._aps_seq = (self._aps_seq + 1) % 256
        aps = args["apsFrame"]
        dst = int(args["indexOrDestination"])
        contents = bytes(args["messageContents"])
        self._loop.call_soon(
            lambda: self.callback(
                "messageSentHandler",
                type=bt.EmberOutgoingMessageType.OUTGOING_DIRECT,
                indexOrDestination=dst,
                apsFrame=aps,
                messageTag=args["messageTag"],
                status=bt.EmberStatus.SUCCESS
                if dst in self.devices and self.devices[dst].online
                else bt.EmberStatus.DELIVERY_FAILED,
                messageContents=b"",
            )
        )
        if (device := self.devices.get(dst)) is not None:
            packet = t.ZigbeePacket(
                src=t.AddrModeAddress(addr_mode=_NWK, address=t.NWK(0)),
                src_ep=aps.sourceEndpoint,
                dst=t.AddrModeAddress(addr_mode=_NWK, address=t.NWK(dst)),
                dst_ep=aps.destinationEndpoint,
                profile_id=aps.profileId,
                cluster_id=aps.clusterId,
                data=t.SerializableBytes(contents),
            )
            self._loop.call_soon(device.receive, packet)
        return {"sequence": self._aps_seq}

    def cmd_sendBroadcast(self, **args: Any) -> dict[str, Any]:
        return {"sequence": 1}

    # -- the far side of the radio -------------------------------------------------

    def uplink(self, packet: t.ZigbeePacket) -> None:
        """A simulated device sent a frame: hand it to the host as incomingMessageHandler."""
        aps = bt.EmberApsFrame(
            profileId=packet.profile_id,
            clusterId=packet.cluster_id,
            sourceEndpoint=packet.src_ep,
            destinationEndpoint=packet.dst_ep,
            options=bt.EmberApsOption.APS_OPTION_NONE,
            groupId=0,
            sequence=packet.tsn,
        )
        self._loop.call_soon(
            lambda: self.callback(
                "incomingMessageHandler",
                type=bt.EmberIncomingMessageType.INCOMING_UNICAST,
                apsFrame=aps,
                lastHopLqi=200,
                lastHopRssi=-50,
                sender=packet.src.address if packet.src is not None else 0,
                bindingIndex=0xFF,
                addressIndex=0xFF,
                messageContents=packet.data.serialize(),
            )
        )

    def add(self, kind: type[SimulatedDevice], address: str, nwk: int) -> SimulatedDevice:
        device = kind(t.EUI64.convert(address), t.NWK(nwk), self.uplink)
        self.devices[nwk] = device
        return device

    def join(self, device: SimulatedDevice) -> None:
        self.callback(
            "trustCenterJoinHandler",
            newNodeId=device.nwk,
            newNodeEui64=device.ieee,
            status=bt.EmberDeviceUpdate.STANDARD_SECURITY_UNSECURED_JOIN,
            policyDecision=bt.EmberJoinDecision.USE_PRECONFIGURED_KEY,
            parentOfNewNodeId=0,
        )

    def sent(self, name: str) -> list[dict[str, Any]]:
        return [args for command, args in self.commands if command == name]


@pytest.fixture
async def ncp(monkeypatch: pytest.MonkeyPatch) -> FakeNcp:
    fake = FakeNcp()
    monkeypatch.setattr(bellows.uart, "connect", fake.connect)
    return fake


def _radio(tmp_path: Path, **kwargs: Any) -> BellowsRadio:
    return BellowsRadio(
        ROOMS,
        path="/dev/ttyFAKE",
        database_path=str(tmp_path / "ntnu_library_zigbee.db"),
        command_timeout=2,
        check_timeout=1,
        reconnect_min_delay=0.01,
        reconnect_max_delay=0.04,
        **kwargs,
    )


async def _wait_for(condition: Callable[[], bool]) -> None:
    """Poll (the fake answers through the event loop, so there is nothing to wait on)."""
    async with asyncio.timeout(5):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


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
    await _wait_for(
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
    await _wait_for(lambda: radio.lock_state("T01") is LockState.UNLOCKED)
    assert E.UNLOCKED in [event.type for event in events]


async def test_a_card_tap_arrives_through_incoming_message_handler(
    radio: BellowsRadio, ncp: FakeNcp, events: list[DeviceEvent]
) -> None:
    _lock(ncp).card_tap("04A1B2C3")
    await _wait_for(lambda: bool(events))
    assert events == [DeviceEvent(room_id="T01", type=E.CARD_TAP, card="04A1B2C3")]


async def test_radio_loss_takes_every_room_offline_until_the_stick_is_back(
    radio: BellowsRadio, ncp: FakeNcp, events: list[DeviceEvent], caplog: pytest.LogCaptureFixture
) -> None:
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
    await asyncio.sleep(0.2)  # a few failed attempts with backoff
    assert not radio.connected
    events.clear()

    ncp.online = True
    await _wait_for(lambda: radio.connected and radio.is_online("T01") and radio.is_online("L01"))
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
