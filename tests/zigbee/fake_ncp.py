"""A fake EZSP v8 coordinator behind bellows' gateway, for tests of the own-radio mode.

Patch `bellows.uart.connect` with `FakeNcp.connect` (or use `install`): everything above the
gateway is bellows' own code (EZSP version negotiation, the v8 frame codec, network loading,
sendUnicast and the callbacks). `FakeNcp` decodes each command with bellows' own command
table, answers with serialized response frames, and carries APS frames to the simulated
devices of `zigbee.simulated`, whose replies come back as `incomingMessageHandler` frames.
ASH framing (byte stuffing, CRC, ACKs) is below the gateway, so it is not exercised there.

`NcpServer` puts the same coordinator behind a TCP port on 127.0.0.1, as a network
coordinator (an Ethernet or Wi-Fi gateway) serves its stick's UART: bellows then opens
``socket://127.0.0.1:PORT`` through zigpy's own serial layer, and its real ASH layer talks
to the NCP's end of ASH here (frames built with bellows' frame classes; nothing patched).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import errno
from pathlib import Path
from typing import Any

from bellows.ash import AckFrame, DataFrame, RStackFrame, RstFrame, parse_frame
from bellows.ezsp import EZSP
import bellows.types as bt
import bellows.uart
import pytest
import zigpy.types as t
from zigpy.zcl.clusters.general import Basic
import zigpy.zdo.types as zdo_t

from custom_components.ntnu_library.zigbee.bellows import BellowsRadio
from custom_components.ntnu_library.zigbee.radio import RoomDevices
from custom_components.ntnu_library.zigbee.simulated import SimulatedDevice, simulated_devices

_NWK: Any = t.AddrMode.NWK  # zigpy's enum factory hides the member type from mypy
EZSP_VERSION = 8  # in both bellows 0.44 and 1.x; no XNCP extensions below v13
COORDINATOR_IEEE = t.EUI64.convert("00:0d:6f:00:0a:bc:de:f0")


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
        self.connects = 0  # how often bellows opened the port, failed attempts included
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
        self.connects += 1
        if not self.online:
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", config["path"])
        self.api = api
        self._proto = 4
        return self

    async def reset(self) -> None:
        self.reset_protocol()

    def reset_protocol(self) -> None:
        """The NCP reset: it speaks EZSP v4 until the host asks for its version again."""
        self._proto = 4

    async def disconnect(self) -> None:
        self.api = None

    async def wait_for_startup_reset(self) -> None:
        """A stick resets only when told to: bellows' own timeout ends this wait."""
        await asyncio.Event().wait()

    async def send_data(self, data: bytes) -> None:
        self.command(data)

    def command(self, data: bytes) -> None:
        """One EZSP command frame from the host: decode it, answer through the event loop."""
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


def install(monkeypatch: pytest.MonkeyPatch) -> FakeNcp:
    """A fake coordinator that bellows' `uart.connect` opens instead of a serial port."""
    fake = FakeNcp()
    monkeypatch.setattr(bellows.uart, "connect", fake.connect)
    return fake


# --- the coordinator behind a TCP port (a network coordinator) --------------------------------

_FLAG, _ESCAPE, _CANCEL = 0x7E, 0x7D, 0x1A
_RESERVED = frozenset({0x7E, 0x7D, 0x11, 0x13, 0x18, 0x1A})  # ASH's reserved bytes


def _stuff(data: bytes) -> bytes:
    out = bytearray()
    for byte in data:
        out += bytes([_ESCAPE, byte ^ 0x20]) if byte in _RESERVED else bytes([byte])
    return bytes(out)


def _unstuff(data: bytes) -> bytes:
    out, escaped = bytearray(), False
    for byte in data:
        if escaped:
            out.append(byte ^ 0x20)
            escaped = False
        elif byte == _ESCAPE:
            escaped = True
        else:
            out.append(byte)
    return bytes(out)


class _AshLink(asyncio.Protocol):
    """The NCP's end of ASH on one TCP connection.

    Host DATA frames are acknowledged and their EZSP frames handed to the `FakeNcp`; its
    answers go back as numbered DATA frames; RST is answered by RSTACK (a software reset).
    TCP loses nothing, so nothing is retransmitted and the host's ACKs need no bookkeeping.
    """

    def __init__(self, server: NcpServer) -> None:
        self._server = server
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._rx = 0  # the next frame number expected from the host
        self._tx = 0  # the number of our next DATA frame
        self._hung_up = False  # nothing more is written once the end was sent
        self.unheard = 0  # bytes from the host the coordinator swallowed, being `silent`

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        if self._server.link is not None:  # one client at a time, as a UART bridge serves
            transport.close()
            return
        self._server.link = self
        self._server.connections += 1
        self._server.ncp.api = self

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        if self._server.link is self:
            self._server.link = None
            if self._server.ncp.api is self:
                self._server.ncp.api = None

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def hang_up(self) -> None:
        """End the connection in order (FIN): the host reads the end, then closes its side."""
        if self._transport is not None and not self._transport.is_closing():
            self._hung_up = True
            self._transport.write_eof()

    def data_received(self, data: bytes) -> None:
        if self._server.silent:
            self.unheard += len(data)
            return
        if self._hung_up:
            return
        self._buffer += data
        while (end := self._buffer.find(_FLAG)) >= 0:
            raw = bytes(self._buffer[:end]).rpartition(bytes([_CANCEL]))[2]
            del self._buffer[: end + 1]
            if raw:
                self._frame_from_host(_unstuff(raw))

    def _frame_from_host(self, raw: bytes) -> None:
        frame = parse_frame(raw)
        if isinstance(frame, RstFrame):
            self._rx = self._tx = 0
            self._server.ncp.reset_protocol()
            self._write(RStackFrame(version=2, reset_code=bt.NcpResetCode.RESET_SOFTWARE))
        elif isinstance(frame, DataFrame):
            fresh = frame.frm_num == self._rx
            if fresh:
                self._rx = (self._rx + 1) % 8
            self._write(AckFrame(res=0, ncp_ready=0, ack_num=self._rx))  # a re-sent one too
            if fresh:
                self._server.ncp.command(frame.ezsp_frame)
        # ACK and NAK frames from the host: nothing of ours waits for them.

    def frame_received(self, ezsp_frame: bytes) -> None:
        """`FakeNcp` answers (it takes this link as its `api`): send a DATA frame."""
        frame = DataFrame(frm_num=self._tx, re_tx=False, ack_num=self._rx, ezsp_frame=ezsp_frame)
        self._tx = (self._tx + 1) % 8
        self._write(frame)

    def _write(self, frame: Any) -> None:
        if self._transport is not None and not self._transport.is_closing() and not self._hung_up:
            self._transport.write(_stuff(frame.to_bytes()) + bytes([_FLAG]))


class NcpServer:
    """A `FakeNcp` behind a TCP port on 127.0.0.1: a network coordinator (EZSP over TCP).

    Like a UART bridge it sends nothing until the host resets it (bellows waits a moment
    for a reset that zigbeed would send on its own, then sends RST) and serves one client
    at a time. `drop` hangs up but keeps listening (the gateway restarted its bridge);
    `stop` closes the connection and stops listening (the gateway is off) until `start`
    again, on the same port. `silent` swallows every byte (a TCP port that is no EZSP coordinator).
    """

    def __init__(self, ncp: FakeNcp) -> None:
        self.ncp = ncp
        self.port = 0
        self.link: _AshLink | None = None
        self.connections = 0  # how many clients were served
        self.silent = False
        self._server: asyncio.Server | None = None

    @property
    def path(self) -> str:
        return f"socket://127.0.0.1:{self.port}"

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _AshLink(self), "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    def drop(self) -> None:
        """Hang up on the host, still listening (the gateway restarted its bridge)."""
        if self.link is not None:
            self.link.hang_up()

    async def stop(self) -> None:
        """Stop listening and drop the host: the coordinator is gone from the network."""
        if self._server is not None:
            self._server.close()
            if self.link is not None:
                self.link.close()
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> NcpServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


# Two rooms on the fake coordinator: T01 with all three devices, L01 with its lock only.
ROOMS = [simulated_devices("T01"), RoomDevices(room_id="L01", lock=simulated_devices("L01").lock)]


def bellows_radio(path: str, tmp_path: Path, **kwargs: Any) -> BellowsRadio:
    """The integration's own radio on the fake coordinator, with short timeouts for tests."""
    return BellowsRadio(
        ROOMS,
        path=path,
        database_path=str(tmp_path / "ntnu_library_zigbee.db"),
        command_timeout=2,
        check_timeout=1,
        reconnect_min_delay=0.01,
        reconnect_max_delay=0.04,
        **kwargs,
    )


async def wait_for(condition: Callable[[], bool]) -> None:
    """Poll until `condition` holds (it usually does within milliseconds).

    The fake answers through the event loop (or a loopback socket), but starting bellows and
    every reconnect attempt go through zigpy's database, which runs in a thread of its own.
    The bound only ends a wait that would never end: a busy machine (two suites at once on two
    cores) took more than 5 s to let three devices join and be configured.
    """
    async with asyncio.timeout(30):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.01)
