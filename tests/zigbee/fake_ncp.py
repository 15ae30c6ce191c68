"""A fake EZSP v8 coordinator behind bellows' gateway, for tests of the own-radio mode.

Patch `bellows.uart.connect` with `FakeNcp.connect` (or use `install`): everything above the
gateway is bellows' own code (EZSP version negotiation, the v8 frame codec, network loading,
sendUnicast and the callbacks). `FakeNcp` decodes each command with bellows' own command
table, answers with serialized response frames, and carries APS frames to the simulated
devices of `zigbee.simulated`, whose replies come back as `incomingMessageHandler` frames.
ASH framing (byte stuffing, CRC, ACKs) is below the fake, so it is not exercised.
"""

from __future__ import annotations

import asyncio
import errno
from typing import Any

from bellows.ezsp import EZSP
import bellows.types as bt
import bellows.uart
import pytest
import zigpy.types as t
from zigpy.zcl.clusters.general import Basic
import zigpy.zdo.types as zdo_t

from custom_components.ntnu_library.zigbee.simulated import SimulatedDevice

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


def install(monkeypatch: pytest.MonkeyPatch) -> FakeNcp:
    """A fake coordinator that bellows' `uart.connect` opens instead of a serial port."""
    fake = FakeNcp()
    monkeypatch.setattr(bellows.uart, "connect", fake.connect)
    return fake
