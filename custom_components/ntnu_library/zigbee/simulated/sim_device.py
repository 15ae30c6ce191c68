"""What the simulated devices share: a Zigbee node speaking ZDO, the ZCL foundation, Identify.

`SimulatedDevice` parses the ZDO / ZCL bytes zigpy sends it and answers with serialized
frames, so requests, responses and reports all cross zigpy's real codec. The device kinds
(`sim_door_lock`, `sim_contact`, `sim_occupancy`) add their room cluster on top.

Like the real ones, all three kinds are battery powered (a study-room lock runs on AA cells,
e.g. Yale, Danalock, Aqara) and carry Identify and Power Configuration beside their room
cluster. The lock keeps its receiver on (it answers a command at once, as a real lock polls
fast enough to), the two sensors sleep.
"""

from __future__ import annotations

from collections.abc import Callable
import hashlib
import logging
import math
import time
from typing import Any, ClassVar, NamedTuple

from zigpy.profiles import zha
import zigpy.types as t
from zigpy.zcl import Cluster, foundation
from zigpy.zcl.clusters.general import Basic, Identify, PowerConfiguration
import zigpy.zdo.types as zdo_t

from .sim_memory import recall_device, remember_device

_LOGGER = logging.getLogger(__name__)

MANUFACTURER = "NTNU Sim"

# zigpy builds its enums with a factory mypy cannot see through (members type as plain
# int), so those handed back to zigpy's typed constructors are reached through Any.
_STATUS: Any = foundation.Status
_GENERAL: Any = foundation.GeneralCommand
_TO_CLIENT: Any = foundation.Direction.Server_to_Client
_ADDR_MODE: Any = t.AddrMode
_LOGICAL: Any = zdo_t.LogicalType
_POWER = PowerConfiguration.AttributeDefs
_IDENTIFY_TIME = Identify.AttributeDefs.identify_time
_IDENTIFY_KEY = (Identify.cluster_id, _IDENTIFY_TIME.id)  # writable on every device
_SEND_REPORTS: Any = foundation.ReportingDirection.SendReports


class BatteryPack(NamedTuple):
    """A device's batteries: what Power Configuration tells of them (voltages in 100 mV)."""

    size: int  # PowerConfiguration.BatterySize
    quantity: int
    empty: int  # the pack's voltage at 0 %
    full: int  # and at 100 %


def uplink_frame(
    src: t.AddrModeAddress,
    endpoint: int,
    cluster_id: int,
    payload: bytes,
    *,
    profile: int,
    tsn: int,
) -> t.ZigbeePacket:
    """A frame from a device to the coordinator, as the radio hands it to zigpy."""
    return t.ZigbeePacket(
        src=src,
        src_ep=t.uint8_t(endpoint),
        dst=t.AddrModeAddress(addr_mode=_ADDR_MODE.NWK, address=t.NWK(0x0000)),
        dst_ep=t.uint8_t(endpoint),
        tsn=t.uint8_t(tsn),
        profile_id=t.uint16_t(profile),
        cluster_id=t.uint16_t(cluster_id),
        data=t.SerializableBytes(payload),
        lqi=t.uint8_t(255),
        rssi=t.int8s(-40),
    )


def nwk_address(nwk: t.NWK) -> t.AddrModeAddress:
    """A short (NWK) address as zigpy's packets carry it."""
    return t.AddrModeAddress(addr_mode=_ADDR_MODE.NWK, address=nwk)


def node_descriptor(
    logical_type: int, *, rx_on_when_idle: bool | None = None
) -> zdo_t.NodeDescriptor:
    """The node descriptor a device of this logical type answers Node_Desc_req with.

    Routers and the coordinator are mains powered and always listen; an end device runs on
    batteries and sleeps, unless `rx_on_when_idle` keeps its receiver on.
    """
    flags = zdo_t.NodeDescriptor.MACCapabilityFlags
    mac = flags.AllocateAddress
    if logical_type != _LOGICAL.EndDevice:
        mac |= flags.FullFunctionDevice | flags.MainsPowered | flags.RxOnWhenIdle
    elif rx_on_when_idle:
        mac |= flags.RxOnWhenIdle
    return zdo_t.NodeDescriptor(
        logical_type=_LOGICAL(logical_type),
        complex_descriptor_available=0,
        user_descriptor_available=0,
        reserved=0,
        aps_flags=0,
        frequency_band=zdo_t.NodeDescriptor.FrequencyBand.Freq2400MHz,
        mac_capability_flags=mac,
        manufacturer_code=0x1234,  # not a registered vendor, so no quirk matches
        maximum_buffer_size=82,
        maximum_incoming_transfer_size=82,
        server_mask=0,
        maximum_outgoing_transfer_size=82,
        descriptor_capability_field=zdo_t.NodeDescriptor.DescriptorCapability.NONE,
    )


def _counter_start(ieee: t.EUI64, which: bytes) -> int:
    """Where one of a device's 8-bit sequence counters starts."""
    return hashlib.blake2b(which + ieee.serialize(), digest_size=1).digest()[0]


class SimulatedDevice:
    """One Zigbee node with a single endpoint; answers ZDO, the ZCL foundation and Identify.

    Configure_Reporting is answered and kept in `reporting`; a level that changes
    (`report_change`) is reported once it moved by the configured reportable change.
    """

    model: ClassVar[str]
    device_type: ClassVar[int]
    logical_type: ClassVar[int] = _LOGICAL.EndDevice
    rx_on_when_idle: ClassVar[bool] = False
    power_source: ClassVar[int] = Basic.PowerSource.Battery
    battery_pack: ClassVar[BatteryPack | None] = None
    clusters: ClassVar[tuple[type[Cluster], ...]]
    writable: ClassVar[frozenset[tuple[int, int]]] = frozenset()
    ENDPOINT = 1

    def __init__(self, ieee: t.EUI64, nwk: t.NWK, uplink: Callable[[t.ZigbeePacket], None]) -> None:
        self.ieee = ieee
        self.nwk = nwk
        self.online = True  # False: no MAC ACK for frames to it, and it sends nothing
        self.bound: set[int] = set()
        self._uplink = uplink
        # A real device's counters start wherever it left them, not in step with the
        # coordinator's: from a value of its own (the same every run, for repeatable tests).
        self._tsn = _counter_start(ieee, b"zcl")
        self._aps_seq = _counter_start(ieee, b"aps")
        self._clusters = {int(cluster.cluster_id): cluster for cluster in self.clusters}
        self.attributes: dict[int, dict[int, Any]] = {cid: {} for cid in self._clusters}
        # (cluster, attribute) -> (min interval, max interval, reportable change), as configured
        self.reporting: dict[tuple[int, int], tuple[int, int, int]] = {}
        self._reported: dict[tuple[int, int], Any] = {}  # the last value reported
        self._identify_until = 0.0  # time.monotonic() when identifying stops
        basic = Basic.AttributeDefs
        self.attributes[Basic.cluster_id] |= {
            basic.zcl_version.id: 8,
            basic.manufacturer.id: MANUFACTURER,
            basic.model.id: self.model,
            basic.power_source.id: self.power_source,
        }
        if Identify.cluster_id in self._clusters:
            self.attributes[Identify.cluster_id][_IDENTIFY_TIME.id] = 0
        if (pack := self.battery_pack) is not None:
            self.attributes[PowerConfiguration.cluster_id] |= {
                _POWER.battery_size.id: pack.size,
                _POWER.battery_quantity.id: pack.quantity,
            }
            self._set_battery_attributes(100)

    # -- what zigpy sends ----------------------------------------------------------

    def receive(self, packet: t.ZigbeePacket) -> None:
        """Take a frame zigpy sent to this device."""
        if not self.online:
            return
        data = packet.data.serialize()
        if packet.dst_ep == 0:
            self._receive_zdo(packet.cluster_id, data)
        else:
            self._receive_zcl(packet.cluster_id, data)

    def _receive_zdo(self, command_id: int, data: bytes) -> None:
        try:
            command = zdo_t.ZDOCmd(command_id)
            tsn, data = t.uint8_t.deserialize(data)
            args, _ = t.deserialize(data, zdo_t.CLUSTERS[command][1])
        except (KeyError, ValueError):
            _LOGGER.debug("%s: ignoring ZDO 0x%04x %s", self.model, command_id, data.hex())
            return
        ok = zdo_t.Status.SUCCESS
        reply: list[Any]
        if command == zdo_t.ZDOCmd.Node_Desc_req:
            descriptor = node_descriptor(self.logical_type, rx_on_when_idle=self.rx_on_when_idle)
            reply = [ok, self.nwk, descriptor]
        elif command == zdo_t.ZDOCmd.Active_EP_req:
            reply = [ok, self.nwk, [self.ENDPOINT]]
        elif command == zdo_t.ZDOCmd.Simple_Desc_req:
            if args[1] != self.ENDPOINT:
                reply = [zdo_t.Status.NOT_ACTIVE, self.nwk]
            else:
                reply = [ok, self.nwk, self._simple_descriptor()]
        elif command == zdo_t.ZDOCmd.Bind_req:
            self.bound.add(args[2])
            reply = [ok]
        elif command == zdo_t.ZDOCmd.Unbind_req:
            self.bound.discard(args[2])
            reply = [ok]
        elif command in (zdo_t.ZDOCmd.Mgmt_Leave_req, zdo_t.ZDOCmd.Mgmt_Permit_Joining_req):
            reply = [ok]
        elif command & 0x8000:
            return  # a response: nothing to answer
        else:
            reply = [zdo_t.Status.NOT_SUPPORTED]
        try:
            response = zdo_t.ZDOCmd(command | 0x8000)
            types = zdo_t.CLUSTERS[response][1][: len(reply)]
        except (KeyError, ValueError):
            return  # a request without a defined response
        payload = t.uint8_t(tsn).serialize() + t.serialize(reply, types)
        self._send(response, payload, profile=0, endpoint=0)

    def _simple_descriptor(self) -> zdo_t.SizePrefixedSimpleDescriptor:
        return zdo_t.SizePrefixedSimpleDescriptor(
            endpoint=self.ENDPOINT,
            profile=zha.PROFILE_ID,
            device_type=self.device_type,
            device_version=1,
            input_clusters=list(self._clusters),
            output_clusters=[],
        )

    def _receive_zcl(self, cluster_id: int, data: bytes) -> None:
        try:
            hdr, payload = foundation.ZCLHeader.deserialize(data)
        except ValueError:
            return
        cluster = self._clusters.get(cluster_id)
        if cluster is None:
            self._default_response(cluster_id, hdr, _STATUS.UNSUPPORTED_CLUSTER)
            return
        try:
            if hdr.frame_control.is_general:
                command = foundation.GENERAL_COMMANDS[_GENERAL(hdr.command_id)]
            else:
                command = cluster.server_commands[hdr.command_id]
        except (KeyError, ValueError):
            status = _STATUS.UNSUP_CLUSTER_COMMAND
            if hdr.frame_control.is_general:
                status = _STATUS.UNSUP_GENERAL_COMMAND
            self._default_response(cluster_id, hdr, status)
            return
        try:
            args, _ = command.schema.deserialize(payload)
        except ValueError:
            self._default_response(cluster_id, hdr, _STATUS.MALFORMED_COMMAND)
            return
        if hdr.frame_control.is_general:
            self._general(cluster, hdr, args)
        elif not (self._identify(cluster_id, hdr, args) or self.command(cluster_id, hdr, args)):
            self._default_response(cluster_id, hdr, _STATUS.UNSUP_CLUSTER_COMMAND)

    def _general(self, cluster: type[Cluster], hdr: foundation.ZCLHeader, args: Any) -> None:
        cid = cluster.cluster_id
        if hdr.command_id == _GENERAL.Read_Attributes:
            records = [self._read(cluster, attrid) for attrid in args.attribute_ids]
            self._reply(cid, hdr, _GENERAL.Read_Attributes_rsp, status_records=records)
        elif hdr.command_id == _GENERAL.Write_Attributes:
            failed = [
                foundation.WriteAttributesStatusRecord(
                    status=_STATUS.UNSUPPORTED_ATTRIBUTE, attrid=attr.attrid
                )
                for attr in args.attributes
                if (cid, attr.attrid) not in self.writable | {_IDENTIFY_KEY}
            ]
            if not failed:
                for attr in args.attributes:
                    self.attributes[cid][attr.attrid] = attr.value.value
                    if (cid, attr.attrid) == _IDENTIFY_KEY:
                        self._identify_until = time.monotonic() + int(attr.value.value)
            written = failed or [foundation.WriteAttributesStatusRecord(status=_STATUS.SUCCESS)]
            self._reply(cid, hdr, _GENERAL.Write_Attributes_rsp, status_records=written)
        elif hdr.command_id == _GENERAL.Configure_Reporting:
            self._configure_reporting(cluster, hdr, args.config_records)
        elif hdr.command_id != _GENERAL.Default_Response:
            self._default_response(cid, hdr, _STATUS.UNSUP_GENERAL_COMMAND)

    def _configure_reporting(
        self, cluster: type[Cluster], hdr: foundation.ZCLHeader, records: list[Any]
    ) -> None:
        """Keep each record's intervals and change; an attribute the device lacks fails."""
        cid = cluster.cluster_id
        failed = []
        for record in records:
            if record.direction != _SEND_REPORTS or record.attrid not in self.attributes[cid]:
                failed.append(
                    foundation.ConfigureReportingResponseRecord(
                        status=_STATUS.UNSUPPORTED_ATTRIBUTE,
                        direction=record.direction,
                        attrid=record.attrid,
                    )
                )
                continue
            change = int(getattr(record, "reportable_change", 0) or 0)  # analog types only
            key = (cid, int(record.attrid))
            self.reporting[key] = (int(record.min_interval), int(record.max_interval), change)
            self._reported[key] = self.attributes[cid][key[1]]  # changes count from here
        ok = [foundation.ConfigureReportingResponseRecord(status=_STATUS.SUCCESS)]
        self._reply(cid, hdr, _GENERAL.Configure_Reporting_rsp, status_records=failed or ok)

    def _read(self, cluster: type[Cluster], attrid: int) -> foundation.ReadAttributeRecord:
        if (cluster.cluster_id, attrid) == _IDENTIFY_KEY:
            self.attributes[Identify.cluster_id][attrid] = self.identify_time
        value = self.attributes[cluster.cluster_id].get(attrid)
        if value is None or attrid not in cluster.attributes:
            return foundation.ReadAttributeRecord(
                attrid=t.uint16_t(attrid), status=_STATUS.UNSUPPORTED_ATTRIBUTE
            )
        attr = cluster.attributes[attrid]
        return foundation.ReadAttributeRecord(
            attrid=t.uint16_t(attrid),
            status=_STATUS.SUCCESS,
            value=foundation.TypeValue(type=attr.zcl_type, value=attr.type(value)),
        )

    def command(self, cluster_id: int, hdr: foundation.ZCLHeader, args: Any) -> bool:
        """Handle a cluster command; False when the device does not know it."""
        return False

    # -- Identify and the battery --------------------------------------------------

    @property
    def identify_time(self) -> int:
        """Seconds it goes on identifying (blinking its LED); 0 when it does not."""
        return max(0, math.ceil(self._identify_until - time.monotonic()))

    def _identify(self, cluster_id: int, hdr: foundation.ZCLHeader, args: Any) -> bool:
        """The identify command starts (0: stops) identifying; identify_query tells how long.

        A device that is not identifying answers identify_query with a plain Default Response.
        """
        if cluster_id != Identify.cluster_id:
            return False
        commands = Identify.ServerCommandDefs
        if hdr.command_id == commands.identify.id:
            self._identify_until = time.monotonic() + int(args.identify_time)
            self._default_response(cluster_id, hdr, _STATUS.SUCCESS)
        elif hdr.command_id == commands.identify_query.id and self.identify_time:
            response = Identify.ClientCommandDefs.identify_query_response.id
            self._cluster_response(Identify, hdr.tsn, response, timeout=self.identify_time)
        elif hdr.command_id == commands.identify_query.id:
            self._default_response(cluster_id, hdr, _STATUS.SUCCESS)
        else:
            return False
        return True

    def _set_battery_attributes(self, percent: float) -> None:
        assert self.battery_pack is not None
        percent = min(100.0, max(0.0, percent))
        pack = self.battery_pack
        self.attributes[PowerConfiguration.cluster_id] |= {
            _POWER.battery_percentage_remaining.id: round(percent * 2),  # half-percent
            _POWER.battery_voltage.id: round(pack.empty + (pack.full - pack.empty) * percent / 100),
        }

    def set_battery(self, percent: float) -> None:
        """The batteries drained (or were replaced) to `percent`: report what changed enough."""
        if self.battery_pack is None:
            raise ValueError(f"{self.model} has no battery")
        self._set_battery_attributes(percent)
        self.report_change(PowerConfiguration, _POWER.battery_percentage_remaining)
        self.report_change(PowerConfiguration, _POWER.battery_voltage)

    # -- what the device sends -----------------------------------------------------

    def _next_tsn(self) -> int:
        self._tsn = (self._tsn + 1) % 256
        return self._tsn

    def _next_aps_seq(self) -> int:
        # Separate from the ZCL sequence, as on a real device: sharing one counter made it
        # wrap after 128 reports, and zigpy drops a frame identical to one seen in 10 s.
        self._aps_seq = (self._aps_seq + 1) % 256
        return self._aps_seq

    def _send(
        self,
        cluster_id: int,
        payload: bytes,
        *,
        profile: int = zha.PROFILE_ID,
        endpoint: int = ENDPOINT,
    ) -> None:
        if not self.online:
            return
        self._uplink(
            uplink_frame(
                nwk_address(self.nwk),
                endpoint,
                cluster_id,
                payload,
                profile=profile,
                tsn=self._next_aps_seq(),
            )
        )

    def _reply(
        self, cluster_id: int, hdr: foundation.ZCLHeader, command: int, **fields: Any
    ) -> None:
        schema: Any = foundation.GENERAL_COMMANDS[command].schema
        rsp = foundation.ZCLHeader.general(hdr.tsn, command, direction=_TO_CLIENT)
        self._send(cluster_id, rsp.serialize() + schema(**fields).serialize())

    def _default_response(self, cluster_id: int, hdr: foundation.ZCLHeader, status: int) -> None:
        if not hdr.frame_control.disable_default_response:
            self._reply(
                cluster_id, hdr, _GENERAL.Default_Response, command_id=hdr.command_id, status=status
            )

    def _cluster_response(
        self, cluster: type[Cluster], tsn: int, command_id: int, **fields: Any
    ) -> None:
        """A cluster-specific response or notification, server to client."""
        schema: Any = cluster.client_commands[command_id].schema
        hdr = foundation.ZCLHeader.cluster(tsn, command_id, direction=_TO_CLIENT)
        self._send(cluster.cluster_id, hdr.serialize() + schema(**fields).serialize())

    def report_change(self, cluster: type[Cluster], attribute: foundation.ZCLAttributeDef) -> None:
        """Report a level once it moved by its reportable change, if it is bound.

        The change counts from the last report (or from when reporting was configured); without
        a configured change any change is reported.
        """
        key = (cluster.cluster_id, attribute.id)
        change = max(1, self.reporting.get(key, (0, 0, 0))[2])
        last = self._reported.get(key)
        if last is None or abs(self.attributes[key[0]][key[1]] - last) >= change:
            self.report(cluster, attribute)

    def remember(self) -> dict[str, Any]:
        """What it keeps in flash while the coordinator restarts (sim_memory.py)."""
        return remember_device(self)

    def recall(self, memory: dict[str, Any]) -> None:
        """Take back what `remember` gave."""
        recall_device(self, memory)

    def note_reported(self, key: tuple[int, int]) -> None:
        """Count an attribute's reportable changes from its value now (cluster, attribute)."""
        self._reported[key] = self.attributes.get(key[0], {}).get(key[1])

    def report(self, cluster: type[Cluster], attribute: foundation.ZCLAttributeDef) -> None:
        """Report an attribute's value to the coordinator, if the cluster is bound."""
        if cluster.cluster_id not in self.bound:
            return
        self._reported[(cluster.cluster_id, attribute.id)] = self.attributes[cluster.cluster_id][
            attribute.id
        ]
        value = attribute.type(self.attributes[cluster.cluster_id][attribute.id])
        record = foundation.Attribute(
            attrid=attribute.id, value=foundation.TypeValue(type=attribute.zcl_type, value=value)
        )
        hdr = foundation.ZCLHeader.general(
            self._next_tsn(), _GENERAL.Report_Attributes, direction=_TO_CLIENT
        )
        schema: Any = foundation.GENERAL_COMMANDS[_GENERAL.Report_Attributes].schema
        self._send(
            cluster.cluster_id, hdr.serialize() + schema(attribute_reports=[record]).serialize()
        )
