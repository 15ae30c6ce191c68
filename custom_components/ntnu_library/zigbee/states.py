"""What a room's devices last told, per room, and the event each change of it emits.

`RoomStates` is the state half of the Zigbee layer: the last known link, bolt, door,
occupancy and battery levels of every bound room, its subscribers, and the setters that emit a
`DeviceEvent` only when something changed. `ZigbeeRooms` (`layer.py`) decodes the frames and
calls the setters; the queries answer the `RoomRadio` contract.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
import logging
from typing import Any

from .frames import DOOR
from .radio import DeviceEvent, DeviceEventType, LockState, Role, RoomDevices, UnknownRoom

_LOGGER = logging.getLogger(__name__)


@dataclass(slots=True)
class RoomState:
    """What we last heard from one room's devices."""

    devices: RoomDevices
    online: bool = False
    lock: LockState = LockState.UNKNOWN
    door_open: bool | None = None
    occupied: bool | None = None
    door_state: int | None = None  # the lock's raw door_state, to tell alarms once
    battery: dict[Role, int] = field(default_factory=dict)  # percent, per battery device
    # Lock commands waiting to hear the bolt reach a state (the lock's own report of it).
    bolt_waiters: list[tuple[LockState, asyncio.Future[None]]] = field(default_factory=list)


class RoomStates:
    """The rooms' last known state (unknown rooms: queries know nothing, `_room` raises)."""

    def __init__(self) -> None:
        self._rooms: dict[str, RoomState] = {}
        self._subscribers: list[Callable[[DeviceEvent], None]] = []

    def _room(self, room_id: str) -> RoomState:
        try:
            return self._rooms[room_id]
        except KeyError:
            raise UnknownRoom(room_id) from None

    # -- state changes (each emits only on change) --------------------------------

    def _set_online(self, room_id: str, online: bool) -> None:
        room = self._rooms[room_id]
        if room.online != online:
            room.online = online
            _LOGGER.info("Room %s: lock is %s", room_id, "online" if online else "offline")
            self._emit(room_id, DeviceEventType.ONLINE if online else DeviceEventType.OFFLINE)

    def _set_lock(self, room_id: str, state: LockState) -> None:
        room = self._rooms[room_id]
        for target, waiter in room.bolt_waiters:
            if target is state and not waiter.done():
                waiter.set_result(None)
        if state is not LockState.UNKNOWN and room.lock is not state:
            room.lock = state
            self._emit(
                room_id,
                DeviceEventType.LOCKED if state is LockState.LOCKED else DeviceEventType.UNLOCKED,
            )

    def _bolt_reaches(self, room_id: str, state: LockState) -> asyncio.Future[None]:
        """A future done when the lock next reports its bolt in `state` (`_forget_bolt` it)."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._rooms[room_id].bolt_waiters.append((state, waiter))
        return waiter

    def _forget_bolt(self, room_id: str, waiter: asyncio.Future[None]) -> None:
        room = self._rooms.get(room_id)
        if room is not None:
            room.bolt_waiters[:] = [pair for pair in room.bolt_waiters if pair[1] is not waiter]

    def _set_door(self, room_id: str, is_open: bool) -> None:
        room = self._rooms[room_id]
        if room.door_open != is_open:
            room.door_open = is_open
            self._emit(
                room_id, DeviceEventType.DOOR_OPEN if is_open else DeviceEventType.DOOR_CLOSED
            )

    def _set_door_state(self, room_id: str, state: int) -> None:
        room = self._rooms[room_id]
        if room.door_state == state:
            return  # periodic reports repeat; alarms are told once
        room.door_state = state
        if state == DOOR.Open:
            self._set_door(room_id, True)
        elif state == DOOR.Closed:
            self._set_door(room_id, False)
        elif state == DOOR.Error_forced_open:
            self._emit(room_id, DeviceEventType.FORCED_OPEN)
            self._set_door(room_id, True)
        elif state == DOOR.Error_jammed:
            self._emit(room_id, DeviceEventType.JAMMED)

    def _set_battery(self, room_id: str, role: Role, level: int) -> None:
        room = self._rooms[room_id]
        if room.battery.get(role) != level:
            room.battery[role] = level
            self._emit(room_id, DeviceEventType.BATTERY, role=role, battery=level)

    def _emit(
        self, room_id: str, event_type: DeviceEventType, card: str | None = None, **extra: Any
    ) -> None:
        event = DeviceEvent(room_id=room_id, type=event_type, card=card, **extra)
        _LOGGER.debug("Room event %s", event)
        for callback in list(self._subscribers):
            try:
                callback(event)
            except Exception:  # a subscriber's bug must not reach zigpy
                _LOGGER.exception("Subscriber failed on %s", event)

    # -- RoomRadio -----------------------------------------------------------------

    def subscribe(self, callback: Callable[[DeviceEvent], None]) -> Callable[[], None]:
        """Call `callback` for every decoded event; returns an unsubscribe function."""
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

        return unsubscribe

    def is_online(self, room_id: str) -> bool:
        """Whether the room's lock answers."""
        return room.online if (room := self._rooms.get(room_id)) else False

    def lock_state(self, room_id: str) -> LockState:
        """The last known bolt state."""
        return room.lock if (room := self._rooms.get(room_id)) else LockState.UNKNOWN

    def door_open(self, room_id: str) -> bool | None:
        """The last known door state (contact, else the lock's door_state)."""
        return room.door_open if (room := self._rooms.get(room_id)) else None

    def occupied(self, room_id: str) -> bool | None:
        """The last known occupancy, None when unknown or no sensor."""
        return room.occupied if (room := self._rooms.get(room_id)) else None

    def battery(self, room_id: str, role: Role) -> int | None:
        """The device's last reported battery level in percent; None when unknown or mains."""
        return room.battery.get(role) if (room := self._rooms.get(room_id)) else None
