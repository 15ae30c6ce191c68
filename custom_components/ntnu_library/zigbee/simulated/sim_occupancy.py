"""The simulated occupancy sensor: Occupancy Sensing's bit 0, reported when it changes."""

from __future__ import annotations

from collections.abc import Callable

from zigpy.profiles import zha
import zigpy.types as t
from zigpy.zcl.clusters.general import Basic, Identify, PowerConfiguration
from zigpy.zcl.clusters.measurement import OccupancySensing

from .sim_device import BatteryPack, SimulatedDevice


class SimulatedOccupancy(SimulatedDevice):
    """An occupancy sensor: bit 0 of `occupancy`, reported when bound."""

    model = "SimOccupancy"
    device_type = zha.DeviceType.OCCUPANCY_SENSOR
    battery_pack = BatteryPack(PowerConfiguration.BatterySize.AAA, 2, empty=22, full=31)
    clusters = (Basic, PowerConfiguration, Identify, OccupancySensing)

    def __init__(self, ieee: t.EUI64, nwk: t.NWK, uplink: Callable[[t.ZigbeePacket], None]) -> None:
        super().__init__(ieee, nwk, uplink)
        self.attributes[OccupancySensing.cluster_id][
            OccupancySensing.AttributeDefs.occupancy.id
        ] = 0

    def set_occupied(self, occupied: bool) -> None:
        """Set bit 0 and report it."""
        self.attributes[OccupancySensing.cluster_id][
            OccupancySensing.AttributeDefs.occupancy.id
        ] = int(occupied)
        self.report(OccupancySensing, OccupancySensing.AttributeDefs.occupancy)
