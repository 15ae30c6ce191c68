"""The simulated door contact: an IAS Zone contact switch, which notifies once enrolled."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from zigpy.profiles import zha
import zigpy.types as t
from zigpy.zcl import foundation
from zigpy.zcl.clusters.general import Basic, Identify, PowerConfiguration
from zigpy.zcl.clusters.security import IasZone

from .sim_device import BatteryPack, SimulatedDevice

_STATUS: Any = foundation.Status  # zigpy's enum factory hides the member type from mypy


class SimulatedContact(SimulatedDevice):
    """An IAS Zone door contact: zone status Alarm_1 means open; speaks once enrolled."""

    model = "SimContact"
    device_type = zha.DeviceType.IAS_ZONE
    battery_pack = BatteryPack(PowerConfiguration.BatterySize.Other, 1, empty=22, full=30)  # CR2032
    clusters = (Basic, PowerConfiguration, Identify, IasZone)
    writable = frozenset({(IasZone.cluster_id, IasZone.AttributeDefs.cie_addr.id)})

    def __init__(self, ieee: t.EUI64, nwk: t.NWK, uplink: Callable[[t.ZigbeePacket], None]) -> None:
        super().__init__(ieee, nwk, uplink)
        attrs = IasZone.AttributeDefs
        self.attributes[IasZone.cluster_id] |= {
            attrs.zone_state.id: IasZone.ZoneState.Not_enrolled,
            attrs.zone_type.id: IasZone.ZoneType.Contact_Switch,
            attrs.zone_status.id: 0,
            attrs.cie_addr.id: t.EUI64.convert("00:00:00:00:00:00:00:00"),
            attrs.zone_id.id: 0xFF,
        }

    @property
    def enrolled(self) -> bool:
        """Whether the CIE has enrolled this zone."""
        return (
            self.attributes[IasZone.cluster_id][IasZone.AttributeDefs.zone_state.id]
            == IasZone.ZoneState.Enrolled
        )

    def command(self, cluster_id: int, hdr: foundation.ZCLHeader, args: Any) -> bool:
        """enroll_response: the zone is enrolled and may notify."""
        if (
            cluster_id != IasZone.cluster_id
            or hdr.command_id != IasZone.ServerCommandDefs.enroll_response.id
        ):
            return False
        if args.enroll_response_code == IasZone.EnrollResponse.Success:
            attrs = self.attributes[IasZone.cluster_id]
            attrs[IasZone.AttributeDefs.zone_state.id] = IasZone.ZoneState.Enrolled
            attrs[IasZone.AttributeDefs.zone_id.id] = args.zone_id
        self._default_response(cluster_id, hdr, _STATUS.SUCCESS)
        return True

    def set_open(self, is_open: bool) -> None:
        """Set Alarm_1 and notify the CIE."""
        attrs = self.attributes[IasZone.cluster_id]
        alarm = int(IasZone.ZoneStatus.Alarm_1)
        status = int(attrs[IasZone.AttributeDefs.zone_status.id]) & ~alarm
        status = IasZone.ZoneStatus(status | alarm if is_open else status)
        attrs[IasZone.AttributeDefs.zone_status.id] = status
        if self.enrolled:
            self._cluster_response(
                IasZone,
                self._next_tsn(),
                IasZone.ClientCommandDefs.status_change_notification.id,
                zone_status=status,
                extended_status=0,
                zone_id=attrs[IasZone.AttributeDefs.zone_id.id],
                delay=0,
            )
