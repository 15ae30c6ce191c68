"""A network this integration owns (its own stick, or the simulation): it configures devices.

On ZHA's network ZHA binds, configures reporting and enrolls zones itself; on a network of
our own nobody else does, so each room's devices are configured when they join (and on
demand): bind, reporting of the state attributes, IAS enrollment, the lock's own
auto-relock time, then a read of the current state; then, on a device that has Power
Configuration, reporting of its battery level and a first read of it.

A device keeps its bindings, reporting and enrollment in its own memory, so a device that
was configured with today's settings is not configured again when Home Assistant starts:
`configured` (kept by the owner of the network across restarts) records, per device, the
settings it was last configured with; on a start such a device only has its state read. A
device that joins again (reset, replaced) is configured afresh.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, MutableMapping
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
# Devices configured at once. Each device's configuration is a sequence of requests, one in
# flight at a time; zigpy sends at most 8 requests at once (its `max_concurrent_requests`
# default) and queues the rest, and a request's timeout runs while it waits in that queue.
# Half of that leaves room for the doors' own commands while a whole building is configured,
# and no configuration times out in the queue however many rooms there are.
CONFIGURE_IN_FLIGHT = 4
# Part of every device's configuration record: a new version here configures every device
# again at the next start (raise it when what `_async_configure_device` sets changes).
CONFIGURATION_VERSION = 1


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
        configured: MutableMapping[str, str] | None = None,
        on_configured: Callable[[], None] | None = None,
    ) -> None:
        # Written to each lock that has the attribute: it relocks by itself even when Home
        # Assistant is down (0 leaves the lock's own setting alone).
        self.auto_relock_seconds = auto_relock_seconds
        self._configure_turns = asyncio.Semaphore(CONFIGURE_IN_FLIGHT)
        # IEEE -> the settings it was configured with (`_settings`); the owner keeps it.
        self.configured: MutableMapping[str, str] = {} if configured is None else configured
        self._on_configured = on_configured or (lambda: None)
        super().__init__(
            rooms, command_timeout=command_timeout, check_timeout=check_timeout, spawn=spawn
        )

    def _settings(self, role: Role) -> str:
        """What a device of `role` is configured with, as its configuration record."""
        parts = [f"v{CONFIGURATION_VERSION}", role.value, str(REPORT_MAX_INTERVAL)]
        if role is Role.LOCK:
            parts.append(str(self.auto_relock_seconds))
        elif role is Role.CONTACT and self.app is not None:
            parts.append(str(self.app.state.node_info.ieee))  # the CIE it is enrolled with
        return "/".join(parts)

    async def async_configure(self, room_id: str, *, again: bool = True) -> None:
        """Bind, configure reporting and enroll the room's devices, then read their state.

        `again` False (a start): a device already configured with today's settings only has
        its state read.
        """
        room = self._room(room_id)
        await asyncio.gather(
            *(
                self._async_configure_role(room_id, role, t.EUI64.convert(address), again=again)
                for role in Role
                if (address := getattr(room.devices, role.value)) is not None
            )
        )

    async def _async_configure_role(
        self, room_id: str, role: Role, ieee: t.EUI64, *, again: bool
    ) -> None:
        settings = self._settings(role)
        async with self._configure_turns:  # the command timeouts start with the device's turn
            if not again and self.configured.get(str(ieee)) == settings:
                await self._async_read_state(room_id, role, ieee)
                return
            if await self._async_configure_device(room_id, role, ieee):
                await self._async_configure_battery(room_id, role, ieee)
                self.configured[str(ieee)] = settings
                self._on_configured()

    async def _async_read_state(self, room_id: str, role: Role, ieee: t.EUI64) -> None:
        """A configured device on a start: read its state (and battery level), nothing else."""
        if (cluster := self._cluster(ieee, role)) is None:
            return
        if role is Role.LOCK:
            await self.async_check_availability(room_id)
        else:
            state = (
                IasZone.AttributeDefs.zone_status
                if role is Role.CONTACT
                else OccupancySensing.AttributeDefs.occupancy
            )
            await self._async_read_into(room_id, role, cluster, state)
        if (power := self._cluster(ieee, role, cluster_id=POWER_CLUSTER)) is not None:
            await self._async_read_into(room_id, role, power, BATTERY_ATTR)

    async def _async_read_into(
        self, room_id: str, role: Role, cluster: Cluster, attribute: foundation.ZCLAttributeDef
    ) -> None:
        """Read one attribute into the room; a device that does not answer keeps its state."""
        try:
            async with asyncio.timeout(self._check_timeout):
                success, _ = await cluster.read_attributes([attribute.name], **compat.NO_RETRIES)
        except (TimeoutError, zigpy.exceptions.ZigbeeException) as err:
            _LOGGER.debug("Room %s: reading the %s failed: %r", room_id, role, err)
            return
        if attribute.name in success:
            if attribute is BATTERY_ATTR:
                self._on_battery(room_id, role, attribute.id, success[attribute.name])
            else:
                self._on_attribute(room_id, role, attribute.id, success[attribute.name])

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
