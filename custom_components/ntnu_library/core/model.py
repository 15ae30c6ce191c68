"""Rooms, patrons and the words the e-label and the event log use."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum


class RoomKind(StrEnum):
    """個人臨時研究室 (temporary) or 個人長期研究室 (long-term)."""

    TEMPORARY = "temporary"
    LONG_TERM = "long_term"


class RoomStatus(StrEnum):
    """What the e-label shows."""

    IDLE = "idle"  # 閒置
    IN_USE = "in_use"  # 使用中
    RESERVED = "reserved"  # long-term room held this month
    UNAVAILABLE = "unavailable"  # lock offline or out of service


class EventType(StrEnum):
    """Door activity, as the event entity and the bus event name it."""

    CARD_TAP = "card_tap"
    QR_OPEN = "qr_open"
    PUSH_EXIT = "push_exit"
    FORCED_OPEN = "forced_open"
    BORROWED = "borrowed"
    RETURNED = "returned"
    AUTO_RETURNED = "auto_returned"
    REFUSED = "refused"
    LOCK_PENDING = "lock_pending"  # the lock missed a lock command: locked when it answers
    RELOCKED = "relocked"  # a lock that was waiting is locked again
    STAFF_UNLOCK = "staff_unlock"  # staff (or an automation) opened the door past the rules


class Source(StrEnum):
    """Where an action came from."""

    QR = "qr"  # patron page / patron service call with credentials
    CARD = "card"  # card reader on the lock
    PUSH_BUTTON = "push_button"  # PUSH button inside
    DOOR = "door"  # door contact / lock sensors
    COUNTER = "counter"  # staff at the counter
    AUTOMATION = "automation"  # policy timers and automations
    LOCK = "lock"  # the lock decided by itself (its own user table), at its own time


@dataclass(frozen=True, kw_only=True, slots=True)
class Room:
    """A study room with its e-label and electronic lock."""

    room_id: str
    name: str
    kind: RoomKind
    floor: str = ""


@dataclass(frozen=True, kw_only=True, slots=True)
class Patron:
    """What the room rules need to know about a patron (never the password)."""

    patron_id: str
    name: str
    category: str
    membership_expires: date | None = None
    suspended: bool = False
    card: str | None = None

    def membership_valid(self, today: date) -> bool:
        """An expired or suspended membership cannot borrow rooms or items."""
        if self.suspended:
            return False
        return self.membership_expires is None or today <= self.membership_expires


@dataclass(frozen=True, kw_only=True, slots=True)
class Borrow:
    """A temporary room in use."""

    patron_id: str
    since: datetime
    # Names the borrower in events without showing the ID; random, so not part of equality.
    ref: str = field(default="", compare=False)


@dataclass(frozen=True, kw_only=True, slots=True)
class Freeze:
    """Rights frozen after a violation, until a moment."""

    until: datetime
    reason: str


@dataclass(frozen=True, kw_only=True, slots=True)
class RoomEvent:
    """Something that happened at a room, for the log, the bus and the event entity."""

    room_id: str
    type: EventType
    source: Source
    at: datetime
    patron_id: str | None = None
    reason: str | None = None
    card: str | None = None
    # The borrow's (or hold's) opaque ref (room_state.py); random, so not part of equality.
    ref: str | None = field(default=None, compare=False)
    # An automatic return: how long the room stood empty (or, unopened, since the borrow).
    minutes: int | None = None


def month_key(moment: datetime | date, *, ahead: int = 0) -> str:
    """The calendar month a long-term reservation is for (or `ahead` months later), as YYYY-MM."""
    index = moment.year * 12 + moment.month - 1 + ahead
    return f"{index // 12:04d}-{index % 12 + 1:02d}"
