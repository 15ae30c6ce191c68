"""What the rest of the integration sees of a Zigbee network: typed door events, unlock and lock.

Every radio mode (simulated now; bellows and ZHA later) implements `RoomRadio`. No Home
Assistant imports here: the runtime adapts it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


class DeviceEventType(StrEnum):
    """What a room's devices told us, decoded from ZCL frames."""

    CARD_TAP = "card_tap"  # Door Lock operation event, source RFID; `card` set
    PUSH_EXIT = "push_exit"  # Door Lock operation event, source Manual (PUSH button inside)
    LOCKED = "locked"  # lock_state became Locked
    UNLOCKED = "unlocked"  # lock_state became Unlocked
    DOOR_OPEN = "door_open"  # door contact (IAS zone alarm_1) or lock door_state Open
    DOOR_CLOSED = "door_closed"
    FORCED_OPEN = "forced_open"  # lock door_state Error_forced_open
    JAMMED = "jammed"  # lock door_state Error_jammed
    OCCUPIED = "occupied"  # Occupancy Sensing bit 0 set
    VACANT = "vacant"
    ONLINE = "online"  # the lock answers again
    OFFLINE = "offline"  # the lock stopped answering
    LEFT = "left"  # a bound device (lock, contact or occupancy) left the network


@dataclass(frozen=True, kw_only=True, slots=True)
class DeviceEvent:
    """One decoded event for one room."""

    room_id: str
    type: DeviceEventType
    card: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class KnownDevice:
    """A device the network knows, for binding rooms to devices in the configuration."""

    ieee: str
    manufacturer: str | None
    model: str | None
    door_lock: bool
    contact: bool
    occupancy: bool


@dataclass(frozen=True, kw_only=True, slots=True)
class RoomDevices:
    """The devices bound to a room, by IEEE address (``aa:bb:cc:dd:ee:ff:00:11``)."""

    room_id: str
    lock: str
    contact: str | None = None
    occupancy: str | None = None


class LockState(StrEnum):
    """The lock's own view of its bolt."""

    LOCKED = "locked"
    UNLOCKED = "unlocked"
    UNKNOWN = "unknown"


class RadioError(Exception):
    """A command could not be carried out."""


class LockOffline(RadioError):
    """The room's lock is not answering; nothing was sent or it was not delivered."""


class LockCommandFailed(RadioError):
    """The lock answered, but not with success, or the answer timed out."""


class UnknownRoom(KeyError):
    """No room with this id is bound to the radio (commands and `simulate` raise it)."""


class RoomRadio(Protocol):
    """A Zigbee network carrying the rooms' locks and sensors."""

    async def async_start(self) -> None:
        """Open the radio and attach to the bound devices."""

    async def async_stop(self) -> None:
        """Close what this object opened (never a radio it does not own)."""

    def set_rooms(self, rooms: list[RoomDevices]) -> None:
        """Bind rooms to devices; may be called again after rooms change."""

    def subscribe(self, callback: Callable[[DeviceEvent], None]) -> Callable[[], None]:
        """Call `callback` for every decoded event; returns an unsubscribe function."""

    def is_online(self, room_id: str) -> bool:
        """Whether the room's lock answers."""

    def lock_state(self, room_id: str) -> LockState:
        """The last known bolt state."""

    def door_open(self, room_id: str) -> bool | None:
        """The last known door state, None when unknown or no sensor."""

    def occupied(self, room_id: str) -> bool | None:
        """The last known occupancy, None when unknown or no sensor."""

    def known_devices(self) -> list[KnownDevice]:
        """The devices the network knows, for binding rooms in the configuration."""

    async def async_unlock(self, room_id: str) -> None:
        """Send unlock_door; raise LockOffline or LockCommandFailed."""

    async def async_lock(self, room_id: str) -> None:
        """Send lock_door; raise LockOffline or LockCommandFailed."""
