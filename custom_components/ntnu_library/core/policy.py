"""The numbers the seed leaves to the library, with their documented defaults."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, time, timedelta
from typing import Any

from .errors import Reason, Refused
from .limits import DEFAULT_RELOCK_AFTER_S, MAX_RELOCK_AFTER_S
from .model import Borrow

DEFAULT_AUTO_RETURN_MINUTES = 30
DEFAULT_FREEZE_DAYS = 7
DEFAULT_COUNTER_OPENS = "08:00"
DEFAULT_COUNTER_CLOSES = "22:00"
DEFAULT_CLOSING_TIME = "22:00"
DEFAULT_MAX_USE_MINUTES = 0  # none
MAX_FREEZE_DAYS = 3650


class AutoReturnReason:
    """Why a forgotten room went back to idle (free text is allowed from automations too)."""

    EMPTY = "empty"
    CLOSING = "closing"
    MAX_USE = "max_use"
    NOT_OPENED = "not_opened"  # borrowed, and its door never opened (an automation decides)


def parse_hhmm(value: str, field: str) -> time:
    """Parse a wall-clock time written as HH:MM."""
    try:
        hours, minutes = value.split(":")
        return time(int(hours), int(minutes))
    except (ValueError, AttributeError):
        raise Refused(Reason.INVALID_VALUE, field=field, value=str(value)[:32]) from None


@dataclass(frozen=True, kw_only=True, slots=True)
class Policy:
    """Options a site sets; 0 turns a timer off."""

    auto_return_minutes: int = DEFAULT_AUTO_RETURN_MINUTES
    return_at_closing: bool = True
    closing_time: str = DEFAULT_CLOSING_TIME
    freeze_days: int = DEFAULT_FREEZE_DAYS
    counter_opens: str = DEFAULT_COUNTER_OPENS
    counter_closes: str = DEFAULT_COUNTER_CLOSES
    max_use_minutes: int = DEFAULT_MAX_USE_MINUTES
    # An unlocked door nobody opened is locked again after this many seconds (0: never).
    relock_after_s: int = DEFAULT_RELOCK_AFTER_S

    def __post_init__(self) -> None:
        limits = {"freeze_days": (1, MAX_FREEZE_DAYS), "relock_after_s": (0, MAX_RELOCK_AFTER_S)}
        for field in ("auto_return_minutes", "freeze_days", "max_use_minutes", "relock_after_s"):
            value = getattr(self, field)
            # freeze_days: the 1..MAX_FREEZE_DAYS that StudyRooms.freeze accepts.
            low, high = limits.get(field, (0, 10_000))
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                raise Refused(Reason.INVALID_VALUE, field=field, value=str(value)[:32])
        for field in ("closing_time", "counter_opens", "counter_closes"):
            parse_hhmm(getattr(self, field), field)

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> Policy:
        """Build from a config entry's options, ignoring unknown keys."""
        known = {k: v for k, v in options.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def as_dict(self) -> dict[str, Any]:
        """The options as stored."""
        return asdict(self)

    def counter_open(self, now: datetime) -> bool:
        """Whether the 2nd-floor counter serves at `now` (local wall clock)."""
        opens = parse_hhmm(self.counter_opens, "counter_opens")
        closes = parse_hhmm(self.counter_closes, "counter_closes")
        wall = now.time().replace(tzinfo=None)
        if opens == closes:  # a counter that never closes
            return True
        if opens < closes:
            return opens <= wall < closes
        return wall >= opens or wall < closes  # service past midnight

    def closing_moment(self, now: datetime) -> datetime:
        """Today's closing time in `now`'s time zone."""
        closing = parse_hhmm(self.closing_time, "closing_time")
        return now.replace(hour=closing.hour, minute=closing.minute, second=0, microsecond=0)

    def due_returns(
        self, borrows: Mapping[str, Borrow], vacant_since: Mapping[str, datetime], now: datetime
    ) -> list[tuple[str, str]]:
        """Borrowed rooms that policy sends back now: empty too long, at closing, or over time."""
        closing = self.closing_moment(now)
        if closing > now:  # the last closing, so one missed while offline is caught up
            closing -= timedelta(days=1)
        due: list[tuple[str, str]] = []
        for room_id, borrow in sorted(borrows.items()):
            empty_since = vacant_since.get(room_id)
            if (
                self.auto_return_minutes
                and empty_since is not None
                and now - empty_since >= timedelta(minutes=self.auto_return_minutes)
            ):
                due.append((room_id, AutoReturnReason.EMPTY))
            elif self.return_at_closing and borrow.since < closing <= now:
                due.append((room_id, AutoReturnReason.CLOSING))
            elif self.max_use_minutes and now - borrow.since >= timedelta(
                minutes=self.max_use_minutes
            ):
                due.append((room_id, AutoReturnReason.MAX_USE))
        return due
