"""A network this integration owns (its own stick, or the simulation): it configures devices.

On ZHA's network ZHA binds, configures reporting and enrolls zones itself; on a network of
our own nobody else does, so each room's devices are configured when they join (and on
demand): bind, reporting of the state attributes, IAS enrollment, the lock's own
auto-relock time, then a read of the current state; then, on a device that has Power
Configuration, reporting of its battery level and a first read of it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
import logging

import zigpy.exceptions
import zigpy.types as t
from zigpy.zcl import Cluster, foundation
from zigpy.zcl.clusters.measurement import OccupancySensing
from zigpy.zcl.clusters.security import IasZone

from . import compat
from .frames import BATTERY_ATTR, LOCK_ATTR, POWER_CLUSTER
from .layer import DEFAULT_CHECK_TIMEOUT, DEFAULT_COMMAND_TIMEOUT, REPORT_MAX_INTERVAL, ZigbeeRooms
from .radio import Role, RoomDevices, Spawn

_LOGGER = logging.getLogger(__name__)
_SUCCESS = foundation.Status.SUCCESS
# A battery drains over weeks: a report at least every 6 hours, and at once (but at most
# hourly) on a change of 2 % (the attribute counts half-percent).
BATTERY_REPORTING = (3600, 6 * 3600, 4)


class OwnedNetwork(ZigbeeRooms):
    """The shared layer plus what only the network's owner does: configure the devices."""

    def __init__(
        self,
        rooms: Iterable[RoomDevices] = (),
        *,
        command_timeout: float = DEFAULT_COMMAND_TIMEOUT,
        check_timeout: float = DEFAULT_CHECK_TIMEOUT,
        spawn: Spawn | None = None,
        auto_relock_seconds: int = 0,
    ) -> None:
        # Written to each lock that has the attribute: it relocks by itself even when Home
        # Assistant is down (0 leaves the lock's own setting alone).
        self.auto_relock_seconds = auto_relock_seconds
        super().__init__(
            rooms, command_timeout=command_timeout, check_timeout=check_timeout, spawn=spawn
        )

    async def async_configure(self, room_id: str) -> None:
        """Bind, configure reporting and enroll the room's devices, then read their state."""
        room = self._room(room_id)
        await asyncio.gather(
            *(
                self._async_configure_role(room_id, role, t.EUI64.convert(address))
                for role in Role
                if (address := getattr(room.devices, role.value)) is not None
            )
        )

    async def _async_configure_role(self, room_id: str, role: Role, ieee: t.EUI64) -> None:
        if await self._async_configure_device(room_id, role, ieee):
            await self._async_configure_battery(room_id, role, ieee)

    async def _async_configure_device(self, room_id: str, role: Role, ieee: t.EUI64) -> bool:
        """Configure the device for its role; False when it is not there or did not answer."""
        if (cluster := self._cluster(ieee, role)) is None or self.app is None:
            return False
        state: foundation.ZCLAttributeDef | None = None  # read once configured
        try:
            async with asyncio.timeout(self._command_timeout):
                await cluster.bind()
                if role is Role.LOCK:
                    for attribute in (LOCK_ATTR.lock_state, LOCK_ATTR.door_state):
                        await cluster.configure_reporting(attribute.name, 0, REPORT_MAX_INTERVAL, 0)
                    if self.auto_relock_seconds:
                        await self._async_write_auto_relock(room_id, cluster)
                elif role is Role.CONTACT:
                    # IAS zones report to the CIE address they are enrolled with, not a binding.
                    cie = self.app.state.node_info.ieee
                    await cluster.write_attributes({IasZone.AttributeDefs.cie_addr.name: cie})
                    await cluster.enroll_response(IasZone.EnrollResponse.Success, 0)
                    state = IasZone.AttributeDefs.zone_status
                else:
                    state = OccupancySensing.AttributeDefs.occupancy
                    await cluster.configure_reporting(state.name, 0, REPORT_MAX_INTERVAL, 1)
                if state is not None:
                    success, _ = await cluster.read_attributes([state.name], **compat.NO_RETRIES)
                    if state.name in success:
                        self._on_attribute(room_id, role, state.id, success[state.name])
        except (TimeoutError, zigpy.exceptions.ZigbeeException) as err:
            _LOGGER.warning(
                "Room %s: could not configure the %s (%s): %r", room_id, role, ieee, err
            )
            if role is Role.LOCK:
                self._set_online(room_id, False)
            return False
        if role is Role.LOCK:
            await self.async_check_availability(room_id)
        return True

    async def _async_write_auto_relock(self, room_id: str, cluster: Cluster) -> None:
        """Write auto_relock_time; a lock without the attribute is relocked by the site alone."""
        name = LOCK_ATTR.auto_relock_time.name
        result = await cluster.write_attributes({name: self.auto_relock_seconds})
        records = result[0] if result else []
        if any(getattr(r, "status", _SUCCESS) != _SUCCESS for r in records):
            _LOGGER.info("Room %s: the lock has no auto-relock time of its own", room_id)

    async def _async_configure_battery(self, room_id: str, role: Role, ieee: t.EUI64) -> None:
        """Bind Power Configuration, have the battery level reported, read it once.

        A mains-powered device has no such cluster; a failure here leaves the room's state alone
        (the level stays unknown until the device reports it).
        """
        if (cluster := self._cluster(ieee, role, cluster_id=POWER_CLUSTER)) is None:
            return
        try:
            async with asyncio.timeout(self._command_timeout):
                await cluster.bind()
                await cluster.configure_reporting(BATTERY_ATTR.name, *BATTERY_REPORTING)
                success, _ = await cluster.read_attributes([BATTERY_ATTR.name], **compat.NO_RETRIES)
        except (TimeoutError, zigpy.exceptions.ZigbeeException) as err:
            _LOGGER.info(
                "Room %s: could not configure the %s's battery (%s): %r", room_id, role, ieee, err
            )
            return
        if BATTERY_ATTR.name in success:
            self._on_battery(room_id, role, BATTERY_ATTR.id, success[BATTERY_ATTR.name])
