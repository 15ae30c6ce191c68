"""What the rest of the integration sees of a Zigbee network: typed door events, unlock and lock.

Every radio mode (own EZSP stick, ZHA's network, simulated) implements `RoomRadio`. What a
mode can or cannot do is part of the contract (`connected`, `can_permit_join`,
`can_simulate`), so no caller needs to know which mode it holds. No Home Assistant imports
here: the site adapts it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol


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
    LEFT = "left"  # a bound device (lock, contact or occupancy) left the network; `role` set
    JOINED = "joined"  # a bound device that had left is back on the network; `role` set
    BATTERY = "battery"  # Power Configuration battery level changed; `role` and `battery` set
    # The lock opened by itself for a card of its own user table (operation event, source
    # RFID, code Unlock, a user slot); `card`, `user_id` and the lock's time `at` set.
    LOCK_OPENED = "lock_opened"
    USERS_CHANGED = "users_changed"  # the lock's user table was changed at the lock itself


class Role(StrEnum):
    """What a device does for its room."""

    LOCK = "lock"
    CONTACT = "contact"
    OCCUPANCY = "occupancy"


@dataclass(frozen=True, kw_only=True, slots=True)
class DeviceEvent:
    """One decoded event for one room."""

    room_id: str
    type: DeviceEventType
    card: str | None = field(default=None, repr=False)  # a credential: never in a log line
    role: Role | None = None  # which device, for BATTERY, LEFT and JOINED
    battery: int | None = None  # percent remaining, for BATTERY
    # For the lock's operation events: the user slot (None: none) and the lock's own local
    # time of it (naive: the lock's wall clock), as its log will have them too. What
    # happened is the rest: two events that differ only in these are the same event.
    user_id: int | None = field(default=None, compare=False)
    at: datetime | None = field(default=None, compare=False)


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


@dataclass(frozen=True, kw_only=True, slots=True)
class LockCapabilities:
    """What a lock says it has (0 for an attribute it does not have)."""

    rfid_users: int
    year_day_schedules: int
    log_records: int
    min_rfid_len: int
    max_rfid_len: int


@dataclass(frozen=True, kw_only=True, slots=True)
class SlotContent:
    """An occupied user slot as the lock holds it (schedule times None: it has none)."""

    code: str = field(repr=False)
    enabled: bool
    start: datetime | None
    end: datetime | None


@dataclass(frozen=True, kw_only=True, slots=True)
class LogEntry:
    """One record of the lock's log."""

    entry_id: int
    at: datetime  # the lock's local time
    event_type: int  # DoorLock.EventType: operation, programming, alarm
    source: int  # DoorLock.OperationEventSource
    code: int  # DoorLock.OperationEvent for an operation
    user_id: int
    card: str = field(repr=False)  # the code presented (RFID), if the lock logged it


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


class NotSupported(RadioError):
    """The radio mode cannot do that (permit joins on ZHA's network, simulate a real stick)."""


# Starts a background task the site owns (cancelled when the site stops); the radio keeps
# the task to cancel or await it itself too.
type Spawn = Callable[[Coroutine[Any, Any, Any], str], asyncio.Task[Any]]

SIMULATE_ACTIONS = (
    "card_tap", "push_button", "door_open", "door_close",
    "occupied", "vacant", "jam", "offline", "online", "battery_low",
)  # fmt: skip


class LockUsers(Protocol):
    """The user tables of a radio's room locks (RFID codes per slot, schedules, the log).

    Each call raises LockOffline (no answer), LockCommandFailed (refused) or NotSupported
    (the lock does not know the command).
    """

    async def async_capabilities(self, room_id: str) -> LockCapabilities:
        """How many RFID users, year-day schedules per user and log records the lock has."""

    async def async_read_slot(self, room_id: str, slot: int) -> SlotContent | None:
        """What a user slot holds; None when it is empty."""

    async def async_write_slot(
        self, room_id: str, slot: int, code: str, start: datetime, end: datetime
    ) -> None:
        """Put a code in a slot, valid from `start` until `end` (naive local times)."""

    async def async_clear_slot(self, room_id: str, slot: int) -> None:
        """Empty a slot."""

    async def async_log_entry(self, room_id: str, index: int) -> LogEntry | None:
        """A record of the lock's log (0: the newest); None where there is none."""


class RoomRadio(Protocol):
    """A Zigbee network carrying the rooms' locks and sensors."""

    @property
    def lock_users(self) -> LockUsers:
        """The user tables of the rooms' locks (their cards, schedules and logs)."""

    @property
    def connected(self) -> bool:
        """Whether the network itself is up (the stick answers, ZHA runs)."""

    @property
    def can_permit_join(self) -> bool:
        """Whether `async_permit_join` can open this network (only a radio of our own)."""

    @property
    def can_simulate(self) -> bool:
        """Whether `async_simulate` can make the room's devices act (the simulated network)."""

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

    def battery(self, room_id: str, role: Role) -> int | None:
        """The device's last reported battery level in percent; None when unknown or mains."""

    def known_devices(self) -> list[KnownDevice]:
        """The devices the network knows, for binding rooms in the configuration."""

    async def async_unlock(self, room_id: str) -> None:
        """Send unlock_door; raise LockOffline or LockCommandFailed."""

    async def async_lock(self, room_id: str) -> None:
        """Send lock_door; raise LockOffline or LockCommandFailed."""

    async def async_permit_join(self, seconds: int) -> None:
        """Let new devices join for `seconds`; NotSupported or RadioError."""

    async def async_simulate(self, room_id: str, action: str, card: str | None = None) -> None:
        """Make a room's devices act as hardware would (SIMULATE_ACTIONS); NotSupported."""
