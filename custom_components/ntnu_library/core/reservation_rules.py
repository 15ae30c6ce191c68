"""A patron's own long-term reservation (事先線上登記): who may, how many, and from when.

Staff reserve a long-term room for anyone (`StudyRooms.reserve_long_term`). A patron who
reserves for themselves on the reservation page follows the site's options too:

- `long_term_categories`: the patron categories that may hold a long-term room (default
  doctoral and master students, faculty and researchers);
- `long_term_per_month`: how many long-term rooms one patron may hold in a calendar month,
  counted over every building of the library (default 1);
- `reservations_open_day` / `reservations_open_time`: next month opens for reservations on
  this day of the month at this time, site time (default the 20th at 09:00). The current
  month stays open until it ends.

A frozen patron, and an expired or suspended membership, are refused as well. Each check
raises `Refused` with its reason; `reserve` writes nothing unless every check passed, so in
the one transaction many patrons asking at once each get the room or a reason, never both.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .categories import CATEGORIES, Group
from .errors import Reason, Refused
from .model import Patron, Room, RoomKind, month_key
from .policy import parse_hhmm
from .study_rooms import Outcome, StudyRooms, parse_month

# Who may hold a long-term room unless the site says otherwise: doctoral and master
# students, and every category of the loan table's faculty and researchers.
DEFAULT_LONG_TERM_CATEGORIES: tuple[str, ...] = tuple(
    key
    for key, category in CATEGORIES.items()
    if category.group in (Group.FACULTY, Group.RESEARCHERS)
    or key in ("student_doctoral", "student_master")
)
DEFAULT_LONG_TERM_PER_MONTH = 1
MAX_LONG_TERM_PER_MONTH = 12
DEFAULT_OPEN_DAY = 20
DEFAULT_OPEN_TIME = "09:00"
# Every month has this day, so a month always opens.
LAST_OPEN_DAY = 28


@dataclass(frozen=True, kw_only=True, slots=True)
class LongTermRules:
    """The site's options for patrons' own long-term reservations (field names are the keys)."""

    long_term_categories: tuple[str, ...] = DEFAULT_LONG_TERM_CATEGORIES
    long_term_per_month: int = DEFAULT_LONG_TERM_PER_MONTH
    reservations_open_day: int = DEFAULT_OPEN_DAY
    reservations_open_time: str = DEFAULT_OPEN_TIME

    def __post_init__(self) -> None:
        categories = self.long_term_categories
        if (
            not isinstance(categories, tuple)
            or not all(isinstance(key, str) and key in CATEGORIES for key in categories)
            or len(set(categories)) != len(categories)
        ):
            raise Refused(
                Reason.INVALID_VALUE, field="long_term_categories", value=str(categories)[:32]
            )
        for field, low, high in (
            ("long_term_per_month", 1, MAX_LONG_TERM_PER_MONTH),
            ("reservations_open_day", 1, LAST_OPEN_DAY),
        ):
            value = getattr(self, field)
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                raise Refused(Reason.INVALID_VALUE, field=field, value=str(value)[:32])
        parse_hhmm(self.reservations_open_time, "reservations_open_time")

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> LongTermRules:
        """Build from a config entry's options (a list of categories as JSON keeps it)."""
        known: dict[str, Any] = {
            key: value for key, value in options.items() if key in cls.__dataclass_fields__
        }
        if isinstance(known.get("long_term_categories"), list):
            known["long_term_categories"] = tuple(known["long_term_categories"])
        return cls(**known)

    def as_dict(self) -> dict[str, Any]:
        """The options as stored (JSON: the categories as a list)."""
        return {
            "long_term_categories": list(self.long_term_categories),
            "long_term_per_month": self.long_term_per_month,
            "reservations_open_day": self.reservations_open_day,
            "reservations_open_time": self.reservations_open_time,
        }

    # --- the calendar ----------------------------------------------------------------------

    def opens(self, month: str, now: datetime) -> datetime:
        """When `month` opens for reservations: the opening day of the month before, site time."""
        year, number = (int(part) for part in parse_month(month).split("-"))
        year, number = (year, number - 1) if number > 1 else (year - 1, 12)
        at = parse_hhmm(self.reservations_open_time, "reservations_open_time")
        return datetime(
            year, number, self.reservations_open_day, at.hour, at.minute, tzinfo=now.tzinfo
        )

    def is_open(self, month: str, now: datetime) -> bool:
        """Whether a patron may reserve for `month` now (this month until it ends)."""
        return month >= month_key(now) and now >= self.opens(month, now)

    # --- the checks ------------------------------------------------------------------------

    def eligible(self, patron: Patron) -> bool:
        """Whether the patron's category may hold a long-term room."""
        return patron.category in self.long_term_categories

    def check_patron(self, rooms: StudyRooms, patron: Patron, now: datetime) -> None:
        """A membership that runs, an eligible category, no freeze; else the reason."""
        if not patron.membership_valid(now.date()):
            raise Refused(Reason.MEMBERSHIP_EXPIRED)
        if not self.eligible(patron):
            raise Refused(Reason.NOT_ELIGIBLE)
        if (freeze := rooms.frozen(patron.patron_id, now)) is not None:
            raise Refused(Reason.FROZEN, until=freeze.until.isoformat(timespec="minutes"))

    def check_month(self, month: str, now: datetime) -> None:
        """Refused unless `month` is this month, or a later one open by now (then: when it opens)."""
        if parse_month(month) < month_key(now):
            raise Refused(Reason.INVALID_MONTH, month=month)
        if not self.is_open(month, now):
            opens = self.opens(month, now).isoformat(timespec="minutes")
            raise Refused(Reason.RESERVATIONS_NOT_OPEN, month=month, opens=opens)


# --- what a patron sees and does ------------------------------------------------------------


def long_term_rooms(rooms: StudyRooms) -> list[Room]:
    """A site's long-term rooms, in the order of their ids."""
    return sorted(
        (room for room in rooms.rooms.values() if room.kind is RoomKind.LONG_TERM),
        key=lambda room: room.room_id,
    )


def free_rooms(rooms: StudyRooms, month: str) -> list[Room]:
    """A site's long-term rooms nobody holds in `month`."""
    return [
        room
        for room in long_term_rooms(rooms)
        if (room.room_id, month) not in rooms.state.reservations
    ]


def held_by(buildings: Iterable[StudyRooms], patron_id: str, month: str) -> list[str]:
    """The long-term rooms a patron holds in `month`, in every building of the library."""
    return sorted(
        room
        for rooms in buildings
        for (room, held_month), pid in rooms.state.reservations.items()
        if pid == patron_id and held_month == month
    )


def check_reserve(
    rules: LongTermRules,
    rooms: StudyRooms,
    buildings: Iterable[StudyRooms],
    room_id: str,
    patron: Patron,
    month: str,
    now: datetime,
) -> None:
    """Every reason a patron may not reserve `room_id` for `month` now (nothing changes)."""
    room = rooms.room(room_id)
    if room.kind is not RoomKind.LONG_TERM:
        raise Refused(Reason.NOT_LONG_TERM_ROOM, room=room_id)
    rules.check_patron(rooms, patron, now)
    rules.check_month(month, now)
    holder = rooms.state.reservations.get((room_id, month))
    if holder == patron.patron_id:
        raise Refused(Reason.ALREADY_HOLDING, room=room_id)
    if holder is not None:
        raise Refused(Reason.ALREADY_RESERVED, room=room_id, month=month)
    held = held_by(buildings, patron.patron_id, month)
    if len(held) >= rules.long_term_per_month:
        raise Refused(
            Reason.LONG_TERM_LIMIT_REACHED,
            rooms=", ".join(held),
            month=month,
            limit=str(rules.long_term_per_month),
        )


def reserve(
    rules: LongTermRules,
    rooms: StudyRooms,
    buildings: Iterable[StudyRooms],
    room_id: str,
    patron: Patron,
    month: str,
    now: datetime,
) -> Outcome:
    """事先線上登記 by the patron: the room is theirs for `month`, or a refusal and no change."""
    check_reserve(rules, rooms, buildings, room_id, patron, month, now)
    rooms.state.reservations[(room_id, month)] = patron.patron_id
    return Outcome(room_id=room_id)


def cancel(rooms: StudyRooms, room_id: str, patron: Patron, month: str, now: datetime) -> Outcome:
    """The patron gives up their own reservation; this month's room is locked."""
    rooms.room(room_id)
    if parse_month(month) < month_key(now):
        raise Refused(Reason.INVALID_MONTH, month=month)
    holder = rooms.state.reservations.get((room_id, month))
    if holder is None:
        raise Refused(Reason.NO_RESERVATION, room=room_id, month=month)
    if holder != patron.patron_id:
        raise Refused(Reason.NOT_HOLDER, room=room_id)
    return rooms.cancel_reservation(room_id, month, now)
