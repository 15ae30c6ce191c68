"""The Zigbee layer every radio mode shares: ZCL frames in, room events out; lock, unlock.

`ZigbeeRooms` binds rooms to devices by IEEE address on a zigpy application, listens on each
room's Door Lock, IAS Zone and Occupancy Sensing cluster and each device's Power Configuration,
and turns frames (decoded in `frames.py`) into the room state of `states.py`, which emits the
`DeviceEvent`s. Modes add start and stop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterable
import functools
import logging
from typing import Any

from zigpy.application import ControllerApplication
import zigpy.exceptions
import zigpy.types as t
from zigpy.zcl import Cluster, foundation
from zigpy.zcl.clusters.closures import DoorLock
from zigpy.zcl.clusters.measurement import OccupancySensing
from zigpy.zcl.clusters.security import IasZone

from . import compat
from .frames import (
    BATTERY_ATTR,
    DOOR,
    LOCK_ATTR,
    LOCK_STATES,
    OPERATION_EVENT,
    POWER_CLUSTER,
    PROGRAMMING_EVENT,
    ROLE_CLUSTERS,
    STATE_ATTRIBUTES,
    ZONE_STATUS_CHANGE,
    MalformedFrame,
    battery_percent,
    describe_devices,
    device_bindings,
    lock_event,
)
from .lock_users import LockUserTable
from .radio import (
    DeviceEventType,
    KnownDevice,
    LockCommandFailed,
    LockOffline,
    LockState,
    NotSupported,
    Role,
    RoomDevices,
    Spawn,
)
from .states import RoomState, RoomStates

_LOGGER = logging.getLogger(__name__)

# zigpy waits 5 s for an APS reply and may retry; the user is waiting at the door.
DEFAULT_COMMAND_TIMEOUT = 10.0
DEFAULT_CHECK_TIMEOUT = 3.0
# A lock answers a command within this long; past it the bolt is read while still waiting
# for the answer (an answer lost on the way need not hold the door up for the whole timeout).
ANSWER_EXPECTED_S = 1.0
# Periodic reports double as a heartbeat: any frame from a lock marks it online.
REPORT_MAX_INTERVAL = 900


def _call_each(callbacks: list[Callable[[], Any]]) -> None:
    for callback in callbacks:
        callback()


def _consume(future: asyncio.Future[Any]) -> None:
    """Retrieve what a request given up on ended with (nobody waits for it any more)."""
    if not future.cancelled():
        future.exception()


class _AppListener:
    """zigpy application events (looked up by method name)."""

    def __init__(self, rooms: ZigbeeRooms) -> None:
        self._rooms = rooms

    def handle_message(
        self, device: Any, profile: int, cluster: int, src_ep: int, dst_ep: int, data: bytes
    ) -> None:
        self._rooms._guard(self._rooms._on_frame, device, cluster, src_ep, dst_ep, data)

    def device_initialized(self, device: Any) -> None:
        self._rooms._guard(self._rooms._attach_device, device.ieee)

    # zigpy >= 0.91 replaces the device object after a re-interview.
    device_reinterviewed = device_initialized

    def device_left(self, device: Any) -> None:
        self._rooms._guard(self._rooms._device_gone, device.ieee)

    device_removed = device_left


class ZigbeeRooms(RoomStates):
    """Rooms on a zigpy network (unknown rooms: queries know nothing, commands raise)."""

    can_permit_join = False
    can_simulate = False

    def __init__(
        self,
        rooms: Iterable[RoomDevices] = (),
        *,
        command_timeout: float = DEFAULT_COMMAND_TIMEOUT,
        check_timeout: float = DEFAULT_CHECK_TIMEOUT,
        spawn: Spawn | None = None,
    ) -> None:
        super().__init__()
        self._command_timeout = command_timeout
        self._check_timeout = check_timeout
        self._spawn_task = spawn
        self._tasks: set[asyncio.Task[Any]] = set()
        self._app: ControllerApplication | None = None
        self._listener = _AppListener(self)
        self._bindings: dict[t.EUI64, tuple[str, Role]] = {}
        self._unwatch: dict[t.EUI64, Callable[[], None]] = {}
        self._gone: set[t.EUI64] = set()  # bound devices that left the network
        self.set_rooms(list(rooms))

    # -- what this mode can do (overridden by the modes that can) -------------------

    @property
    def connected(self) -> bool:
        """Whether the network is there to talk to."""
        return self._app is not None

    async def async_permit_join(self, seconds: int) -> None:
        """Only a radio of our own can open its network to new devices."""
        raise NotSupported("this radio mode does not let devices join")

    async def async_simulate(self, room_id: str, action: str, card: str | None = None) -> None:
        """Only the simulated network has devices to act."""
        raise NotSupported("this radio mode has no simulated devices")

    # -- tasks -----------------------------------------------------------------------

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """A background task of this radio: the site owns it, `async_stop` ends it."""
        spawn = self._spawn_task or (lambda c, n: asyncio.get_running_loop().create_task(c, name=n))
        task = spawn(coro, name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _async_end_tasks(self) -> None:
        """Cancel every task this radio started and wait for them."""
        while self._tasks:
            pending = [task for task in self._tasks if not task.done()]
            self._tasks.clear()
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    # -- binding -------------------------------------------------------------------

    @property
    def app(self) -> ControllerApplication | None:
        """The zigpy application this layer is attached to."""
        return self._app

    def set_rooms(self, rooms: list[RoomDevices]) -> None:
        """Bind rooms to devices; state is kept for rooms whose devices did not change."""
        bindings = device_bindings(rooms)
        for ieee in list(self._unwatch):
            self._unwatch.pop(ieee)()
        old = self._rooms
        self._rooms = {
            room.room_id: old[room.room_id]
            if room.room_id in old and old[room.room_id].devices == room
            else RoomState(devices=room)
            for room in rooms
        }
        self._bindings = bindings
        if self._app is not None:
            for ieee in bindings:
                self._attach_device(ieee)

    def attach(self, app: ControllerApplication) -> None:
        """Start listening on `app` (a radio this layer may or may not own)."""
        self.detach()
        self._app = app
        app.add_listener(self._listener)
        for ieee in self._bindings:
            self._attach_device(ieee)

    def detach(self) -> None:
        """Stop listening; the application itself is left alone."""
        for unwatch in self._unwatch.values():
            unwatch()
        self._unwatch.clear()
        if self._app is not None:
            self._app.remove_listener(self._listener)
            self._app = None

    def _attach_device(self, ieee: t.EUI64) -> None:
        """Watch a bound device's room cluster (and battery) once zigpy has interviewed it."""
        if ieee not in self._bindings or self._app is None:
            return
        room_id, role = self._bindings[ieee]
        if (unwatch := self._unwatch.pop(ieee, None)) is not None:
            unwatch()
        cluster = self._cluster(ieee)
        if cluster is None:
            if role is Role.LOCK:
                self._set_online(room_id, False)  # e.g. not (yet) on this network
            device = self._app.devices.get(ieee)
            if device is not None and getattr(device, "is_initialized", False):
                _LOGGER.warning(
                    "Room %s: %s %s has no cluster 0x%04x",
                    room_id,
                    role,
                    ieee,
                    ROLE_CLUSTERS[role],
                )
            return
        watches = [
            compat.watch_cluster(
                cluster,
                functools.partial(self._guard, self._on_command, room_id, role),
                functools.partial(self._guard, self._on_attribute, room_id, role),
            )
        ]
        if (power := self._cluster(ieee, role, cluster_id=POWER_CLUSTER)) is not None:
            on_battery = functools.partial(self._guard, self._on_battery, room_id, role)
            watches.append(compat.watch_cluster(power, lambda *_: None, on_battery))
            self._on_battery(room_id, role, BATTERY_ATTR.id, power.get(BATTERY_ATTR.name))
        self._unwatch[ieee] = functools.partial(_call_each, watches)
        self._back(ieee, room_id, role)
        self._prime(self._rooms[room_id], role, cluster)
        if role is Role.LOCK:
            self._set_online(room_id, True)

    def _back(self, ieee: t.EUI64, room_id: str, role: Role) -> None:
        """A device that had left is interviewed again or talks again: it is back."""
        if self._gone and ieee in self._gone:
            self._gone.discard(ieee)
            self._emit(room_id, DeviceEventType.JOINED, role=role)

    def _device_gone(self, ieee: t.EUI64) -> None:
        if (binding := self._bindings.get(ieee)) is None:
            return
        room_id, role = binding
        self._gone.add(ieee)
        self._emit(room_id, DeviceEventType.LEFT, role=role)
        if role is Role.LOCK:
            self._set_online(room_id, False)

    def known_devices(self) -> list[KnownDevice]:
        """Every interviewed device on the network but the coordinator, by IEEE address."""
        return describe_devices(self._app) if self._app is not None else []

    def _cluster(
        self, ieee: t.EUI64, role: Role | None = None, *, cluster_id: int | None = None
    ) -> Cluster | None:
        """The device's room cluster (or `cluster_id`), once it is on the network, interviewed."""
        if cluster_id is None:
            cluster_id = ROLE_CLUSTERS[role or self._bindings[ieee][1]]
        device = self._app.devices.get(ieee) if self._app is not None else None
        if device is None or not getattr(device, "is_initialized", False):
            return None
        for endpoint_id, endpoint in device.endpoints.items():
            if endpoint_id != 0 and cluster_id in endpoint.in_clusters:
                return endpoint.in_clusters[cluster_id]
        return None

    def _prime(self, room: RoomState, role: Role, cluster: Cluster) -> None:
        """Take zigpy's cached values as the last known state, without events."""
        if role is Role.LOCK:
            if (value := cluster.get(LOCK_ATTR.lock_state.name)) is not None:
                room.lock = LOCK_STATES.get(value, LockState.UNKNOWN)
            if (value := cluster.get(LOCK_ATTR.door_state.name)) is not None:
                room.door_state = int(value)
                # Without a contact the lock's own door state is all we know of the door.
                if room.door_open is None and value in (DOOR.Open, DOOR.Closed):
                    room.door_open = value == DOOR.Open
        elif role is Role.CONTACT:
            if (value := cluster.get(IasZone.AttributeDefs.zone_status.name)) is not None:
                room.door_open = bool(value & IasZone.ZoneStatus.Alarm_1)
        elif (value := cluster.get(OccupancySensing.AttributeDefs.occupancy.name)) is not None:
            room.occupied = bool(value & OccupancySensing.Occupancy.Occupied)

    # -- incoming frames -----------------------------------------------------------

    def _guard(self, handler: Callable[..., None], *args: Any) -> None:
        """Run a frame handler; whatever goes wrong stays here, never inside zigpy."""
        try:
            handler(*args)
        except Exception:  # one bad frame must not stop the radio
            _LOGGER.exception("Dropped a frame: %s%r failed", handler.__name__, args[:2])  # no card

    def _on_frame(
        self, device: Any, cluster_id: int, src_ep: int, dst_ep: int, data: bytes
    ) -> None:
        """Any frame from a room's lock proves it is online; undecodable frames are logged."""
        if (binding := self._bindings.get(device.ieee)) is None:
            return
        room_id, role = binding
        self._back(device.ieee, room_id, role)
        if role is Role.LOCK:
            self._set_online(room_id, True)
        if 0 in (src_ep, dst_ep) or cluster_id != ROLE_CLUSTERS[role]:
            return
        if (cluster := self._cluster(device.ieee)) is None:
            return
        # zigpy drops a frame it cannot parse with a debug line; say which room it hurt.
        try:
            cluster.deserialize(data)
        except Exception as err:  # noqa: BLE001 - zigpy's codec raises many kinds
            _LOGGER.warning(
                "Room %s: dropped a malformed frame from the %s (%s): %s (%s)",
                room_id,
                role,
                device.ieee,
                data.hex(),
                err,
            )

    def _on_command(self, room_id: str, role: Role, command_id: int, args: Any) -> None:
        if role is Role.LOCK and command_id in (OPERATION_EVENT, PROGRAMMING_EVENT):
            try:
                decoded = lock_event(command_id, args)
            except MalformedFrame as err:
                _LOGGER.warning("Room %s: dropped a lock operation event: %s", room_id, err)
                return
            if decoded is not None:
                self._emit(room_id, decoded[0], decoded[1], **decoded[2])
        elif role is Role.CONTACT and command_id == ZONE_STATUS_CHANGE:
            try:
                status = int(args.zone_status)
            except (AttributeError, TypeError, ValueError):
                _LOGGER.warning("Room %s: dropped a zone status change: %r", room_id, args)
                return
            self._set_door(room_id, bool(status & IasZone.ZoneStatus.Alarm_1))

    def _on_attribute(self, room_id: str, role: Role, attrid: int, value: Any) -> None:
        if (role, attrid) not in STATE_ATTRIBUTES:
            return  # configuration and identity attributes tell nothing about the room
        try:
            number = int(value)
        except (TypeError, ValueError):
            _LOGGER.warning(
                "Room %s: dropped attribute 0x%04x=%r from the %s", room_id, attrid, value, role
            )
            return
        if role is Role.LOCK and attrid == LOCK_ATTR.lock_state.id:
            self._set_lock(room_id, LOCK_STATES.get(number, LockState.UNKNOWN))
        elif role is Role.LOCK:
            self._set_door_state(room_id, number)
        elif role is Role.CONTACT:
            self._set_door(room_id, bool(number & IasZone.ZoneStatus.Alarm_1))
        else:
            occupied = bool(number & OccupancySensing.Occupancy.Occupied)
            room = self._rooms[room_id]
            if room.occupied != occupied:
                room.occupied = occupied
                self._emit(
                    room_id, DeviceEventType.OCCUPIED if occupied else DeviceEventType.VACANT
                )

    def _on_battery(self, room_id: str, role: Role, attrid: int, value: Any) -> None:
        if attrid == BATTERY_ATTR.id and (level := battery_percent(value)) is not None:
            self._set_battery(room_id, role, level)

    # -- RoomRadio -----------------------------------------------------------------

    async def async_unlock(self, room_id: str) -> None:
        """Send unlock_door; raise LockOffline or LockCommandFailed."""
        await self._async_lock_command(room_id, DoorLock.ServerCommandDefs.unlock_door.name)

    async def async_lock(self, room_id: str) -> None:
        """Send lock_door; raise LockOffline or LockCommandFailed."""
        await self._async_lock_command(room_id, DoorLock.ServerCommandDefs.lock_door.name)

    @functools.cached_property
    def lock_users(self) -> LockUserTable:
        """The user tables of the rooms' locks: cards, schedules, logs (lock_users.py)."""
        return LockUserTable(self._lock_cluster, self.is_online, lambda: self._check_timeout)

    def _lock_cluster(self, room_id: str) -> Cluster | None:
        return self._cluster(t.EUI64.convert(self._room(room_id).devices.lock), Role.LOCK)

    async def _async_lock_command(self, room_id: str, command: str) -> None:
        """Send lock_door / unlock_door and learn that the bolt moved.

        From the lock's answer, or, when the answer is lost (zigpy drops a frame identical to
        one the device sent in the last seconds, which an 8-bit sequence number wrapping on
        a busy lock can make happen), from the lock's own report of its bolt, which comes with
        it, or from a read of lock_state made when no answer came within ANSWER_EXPECTED_S;
        failing all, from a last read. Only a lock that does not answer that read either is
        offline.
        """
        room = self._room(room_id)
        if not room.online:
            raise LockOffline(f"room {room_id}: the lock is offline")
        if (cluster := self._lock_cluster(room_id)) is None:
            self._set_online(room_id, False)
            raise LockOffline(f"room {room_id}: lock {room.devices.lock} is not on the network")
        target = (
            LockState.UNLOCKED
            if command == DoorLock.ServerCommandDefs.unlock_door.name
            else LockState.LOCKED
        )
        bolt = self._bolt_reaches(room_id, target)
        request = asyncio.ensure_future(
            getattr(cluster, command)(**compat.HIGH_PRIORITY, **compat.NO_RETRIES)
        )
        early = min(ANSWER_EXPECTED_S, self._command_timeout / 2)
        try:
            done, _ = await asyncio.wait(
                (request, bolt), timeout=early, return_when=asyncio.FIRST_COMPLETED
            )
            if not done:
                # Locks answer within a second: give the answer up (zigpy asks a device one
                # thing at a time) and read the bolt, which resolves `bolt` if it moved; else
                # the lock's report of it may still come.
                request.cancel()
                await self._async_read_lock(room_id, cluster, mark=False)
                await asyncio.wait((bolt,), timeout=self._command_timeout - early)
        finally:
            self._forget_bolt(room_id, bolt)
            if not request.done():
                request.cancel()
            request.add_done_callback(_consume)
        if request.done() and not request.cancelled() and self._answered(room_id, command, request):
            return
        moved = bolt.done() and not bolt.cancelled()
        if not moved and not await self._async_bolt_is(room_id, target):
            raise LockCommandFailed(f"room {room_id}: no answer to {command}")
        _LOGGER.debug("Room %s: the answer to %s was lost; the bolt moved", room_id, command)

    def _answered(self, room_id: str, command: str, request: asyncio.Future[Any]) -> bool:
        """True for a good answer, False for none (zigpy gave up waiting); else raise."""
        try:
            response = request.result()
        except TimeoutError:
            return False
        except zigpy.exceptions.DeliveryError as err:
            self._set_online(room_id, False)
            raise LockOffline(f"room {room_id}: {command} was not delivered ({err})") from err
        except zigpy.exceptions.ZigbeeException as err:
            raise LockCommandFailed(f"room {room_id}: {command} failed ({err})") from err
        if not hasattr(response, "status"):
            # Another frame of the lock's with the request's sequence number was taken for
            # the answer (zigpy matches answers by that number alone): not an answer.
            _LOGGER.debug(
                "Room %s: %r came in place of the answer to %s", room_id, response, command
            )
            return False
        status = response.status
        if status != foundation.Status.SUCCESS:
            raise LockCommandFailed(f"room {room_id}: the lock answered {command} with {status!r}")
        return True

    async def _async_bolt_is(self, room_id: str, state: LockState) -> bool:
        """Whether a read of the lock (which marks it on- or offline) finds its bolt in `state`."""
        return await self.async_check_availability(room_id) and self.lock_state(room_id) is state

    async def async_check_availability(self, room_id: str) -> bool:
        """Read lock_state (short timeout) and mark the room online or offline by the result."""
        if (cluster := self._lock_cluster(room_id)) is None:
            self._set_online(room_id, False)
            return False
        return await self._async_read_lock(room_id, cluster, mark=True)

    async def _async_read_lock(self, room_id: str, cluster: Cluster, *, mark: bool) -> bool:
        """Read lock_state and door_state (short timeout) into the room; whether it answered.

        `mark`: the room is online or offline by the result (else only an answer counts).
        """
        attributes = (LOCK_ATTR.lock_state, LOCK_ATTR.door_state)
        try:
            async with asyncio.timeout(self._check_timeout):
                success, _ = await cluster.read_attributes(
                    [a.name for a in attributes], **compat.NO_RETRIES
                )
        except (TimeoutError, zigpy.exceptions.ZigbeeException) as err:
            _LOGGER.debug("Room %s: reading the lock failed: %r", room_id, err)
            if mark:
                self._set_online(room_id, False)
            return False
        if mark:
            self._set_online(room_id, True)
        for attribute in attributes:
            if attribute.name in success:
                self._on_attribute(room_id, Role.LOCK, attribute.id, success[attribute.name])
        return True
