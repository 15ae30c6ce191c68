"""The holder's card in the room's lock: which card belongs in which slot, until when.

A lock with its own user table (RFID codes per user slot, each with a year-day schedule: valid
from one moment to another) opens for the holder by itself, even while Home Assistant or the
radio is down. The rules here decide what the table should hold, as plain functions of the
rooms' state and `now`:

- a borrowed temporary room: the borrower's card, from the borrow until the next closing
  time (sooner with a maximum use);
- a long-term room: this month's holder until the month ends, and (with a second slot)
  next month's holder from the first of that month;
- a frozen holder: nothing until they check in at the counter, then until the day ends; a
  freeze that ends before the right does opens from its end;
- an expired membership, a suspension, a patron removed or without a card: nothing; a
  membership ending before the right ends the slot with it.

What each lock holds (`held`), what it can do (`facts`), where its log was last read
(`log_seen`) and what the site heard it decide live since (`heard_to`) are the site's state (`LockSlotsState`): a card is kept there only as a keyed
hash, never as the number. `plan` turns the difference between what a lock holds and what it
should into slot changes, clearing before it writes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Any

from .errors import Reason
from .identity import normalize_card
from .model import EventType, Patron, RoomEvent, RoomKind, Source, month_key
from .study_rooms import StudyRooms

# Slots the site keeps per room, at most (never more than the lock supports): a temporary
# room's borrower; a long-term room's holder of this month and of the next.
SLOTS_PER_KIND: Mapping[RoomKind, int] = {RoomKind.TEMPORARY: 1, RoomKind.LONG_TERM: 2}
# Log entries read back at most per reconnection (older ones were overwritten meanwhile).
MAX_LOG_READ = 64


class SlotMode(StrEnum):
    """How a room's card taps are decided (shown on the room's device page)."""

    LOCK_SLOTS = "lock_slots"  # the lock keeps the holder's card: it opens without the site
    SITE_ONLY = "site_only"  # the lock has no RFID slots or schedules: the site decides
    UNKNOWN = "unknown"  # the lock has not told yet


@dataclass(frozen=True, kw_only=True, slots=True)
class LockFacts:
    """What a lock says it supports (Door Lock attributes; 0: not supported)."""

    rfid_users: int = 0
    year_day_schedules: int = 0  # per user
    log_records: int = 0
    min_card: int = 0  # RFID code length bounds; 0: not said
    max_card: int = 0
    refused: int = 0  # 1: it says it has slots but refused the commands (kept while it says so)

    @property
    def mode(self) -> SlotMode:
        """Whether the lock can keep a holder's card with an end."""
        if self.rfid_users > 0 and self.year_day_schedules > 0 and not self.refused:
            return SlotMode.LOCK_SLOTS
        return SlotMode.SITE_ONLY

    def slot_ids(self, kind: RoomKind) -> list[int]:
        """The user slots the site keeps on this lock: its last ones (the highest user IDs).

        Slots are numbered from 0, as the Door Lock cluster numbers users; people enrolling
        cards at a lock fill it from the first, so the site stays clear of them.
        """
        count = min(SLOTS_PER_KIND[kind], self.rfid_users)
        return list(range(self.rfid_users - 1, self.rfid_users - 1 - count, -1))

    def fits(self, card: str) -> bool:
        """Whether the lock takes a code this long."""
        size = len(card.encode())
        return size >= self.min_card and (not self.max_card or size <= self.max_card)


@dataclass(frozen=True, kw_only=True, slots=True)
class Grant:
    """A card in a slot: whose (the patron, the card as a keyed hash) and from when until when."""

    patron_id: str
    card_key: str
    start: datetime
    end: datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class Wanted:
    """A grant the lock should hold, with the card itself to write (never kept, never shown)."""

    grant: Grant
    card: str = field(repr=False)


@dataclass(frozen=True, kw_only=True, slots=True)
class SlotChange:
    """One slot to clear (`wanted` None) or to write."""

    slot: int
    wanted: Wanted | None


@dataclass(frozen=True, slots=True)
class LogMark:
    """The newest log entry of a lock already taken into the room's events."""

    entry_id: int
    at: datetime  # the lock's own time of it


@dataclass(frozen=True, slots=True)
class HeardMark:
    """The newest decision a lock told live, heard while the site listened since its log was read.

    Every decision of the lock before `at` was heard as it happened (the site listened all
    along); of those at `at` itself (the lock counts in seconds), the ones in `told`: (a card
    or the PUSH button, the user slot). Reading the log back skips them, after a restart too.
    """

    at: datetime  # the lock's own time
    told: tuple[tuple[str, int], ...]

    def after(self, at: datetime, what: str, user: int) -> HeardMark | None:
        """The mark once the lock told one more (None: it is older than the mark)."""
        if at > self.at:
            return HeardMark(at, ((what, user),))
        if at == self.at:
            return HeardMark(at, (*self.told, (what, user)))
        return None


@dataclass(kw_only=True, slots=True)
class LockSlotsState:
    """What the site knows of its locks' user tables.

    `held` is the site's state proper (what each lock holds: decisions are made on it, so it
    changes in the transaction and snapshots cover it). What each lock can do and where its
    log was read to are what the locks told: kept with it and written with the site's Store,
    but not rolled back and not written for their own sake (a whole building's locks are
    read at every start).
    """

    facts: dict[str, LockFacts] = field(default_factory=dict)
    # room -> slot -> the grant the lock holds there (as last written or read back)
    held: dict[str, dict[int, Grant]] = field(default_factory=dict)
    log_seen: dict[str, LogMark] = field(default_factory=dict)
    heard_to: dict[str, HeardMark] = field(default_factory=dict)

    def mode(self, room_id: str) -> SlotMode:
        """How the room's taps are decided, as far as the site knows."""
        facts = self.facts.get(room_id)
        return facts.mode if facts is not None else SlotMode.UNKNOWN

    def in_use(self, room_id: str) -> int:
        """How many of the room's slots hold a card."""
        return len(self.held.get(room_id, {}))

    def hold(self, room_id: str, slot: int, grant: Grant | None) -> None:
        """The lock holds `grant` in `slot` now (None: the slot is empty)."""
        slots = self.held.setdefault(room_id, {})
        if grant is None:
            slots.pop(slot, None)
        else:
            slots[slot] = grant
        if not slots:
            del self.held[room_id]

    def forget_rooms(self, keep: Iterable[str]) -> None:
        """A room removed from the site takes what was known of its lock with it."""
        rooms = set(keep)
        for part in (self.facts, self.held, self.log_seen, self.heard_to):
            for room_id in [r for r in part if r not in rooms]:
                del part[room_id]

    def snapshot(self) -> dict[str, dict[int, Grant]]:
        """A copy of what the locks hold that compares equal while nothing changes."""
        return {room: dict(slots) for room, slots in self.held.items()}

    def restore(self, snapshot: dict[str, dict[int, Grant]]) -> None:
        """Go back to a snapshot of what the locks hold, in place."""
        self.held = {room: dict(slots) for room, slots in snapshot.items()}

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe form for the locks' Store (cards only as keyed hashes).

        Each part's form is remembered per value (they are frozen): a write at every slot
        change of a whole building converts only what changed.
        """
        return {
            "facts": {room: _facts_form(f) for room, f in sorted(self.facts.items())},
            "held": {
                room: {str(slot): _grant_form(g) for slot, g in sorted(slots.items())}
                for room, slots in sorted(self.held.items())
            },
            "log_seen": {room: _mark_form(m) for room, m in sorted(self.log_seen.items())},
            "heard_to": {room: _heard_form(h) for room, h in sorted(self.heard_to.items())},
        }

    @classmethod
    def from_dict(cls, data: Any) -> LockSlotsState:
        """Read what `as_dict` wrote; anything unreadable is dropped (it is read again)."""
        state = cls()
        if not isinstance(data, Mapping):
            return state

        def part(name: str) -> Mapping[str, Any]:
            found = data.get(name)
            return found if isinstance(found, Mapping) else {}

        for room, f in part("facts").items():
            try:
                state.facts[room] = LockFacts(**{k: int(v) for k, v in f.items()})
            except (TypeError, ValueError, AttributeError):
                continue
        for room, slots in part("held").items():
            for slot, g in (slots if isinstance(slots, Mapping) else {}).items():
                try:
                    grant = Grant(
                        patron_id=str(g["patron_id"]),
                        card_key=str(g["card_key"]),
                        start=datetime.fromisoformat(g["start"]),
                        end=datetime.fromisoformat(g["end"]),
                    )
                    state.held.setdefault(room, {})[int(slot)] = grant
                except (KeyError, TypeError, ValueError):
                    continue
        for room, mark in part("log_seen").items():
            try:
                state.log_seen[room] = LogMark(
                    int(mark["entry_id"]), datetime.fromisoformat(mark["at"])
                )
            except (KeyError, TypeError, ValueError):
                continue
        for room, heard in part("heard_to").items():
            try:
                state.heard_to[room] = HeardMark(
                    datetime.fromisoformat(heard["at"]),
                    tuple((str(what), int(user)) for what, user in heard["told"]),
                )
            except (KeyError, TypeError, ValueError):
                continue
        return state


# The Store's forms of the state's frozen parts, remembered (never changed once made).
_FORMS = 8192


@lru_cache(maxsize=_FORMS)
def _facts_form(f: LockFacts) -> Mapping[str, int]:
    return {
        "rfid_users": f.rfid_users,
        "year_day_schedules": f.year_day_schedules,
        "log_records": f.log_records,
        "min_card": f.min_card,
        "max_card": f.max_card,
        "refused": f.refused,
    }


@lru_cache(maxsize=_FORMS)
def _grant_form(g: Grant) -> Mapping[str, str]:
    return {
        "patron_id": g.patron_id,
        "card_key": g.card_key,
        "start": g.start.isoformat(),
        "end": g.end.isoformat(),
    }


@lru_cache(maxsize=_FORMS)
def _mark_form(mark: LogMark) -> Mapping[str, Any]:
    return {"entry_id": mark.entry_id, "at": mark.at.isoformat()}


@lru_cache(maxsize=_FORMS)
def _heard_form(mark: HeardMark) -> Mapping[str, Any]:
    return {"at": mark.at.isoformat(), "told": [list(told) for told in mark.told]}


# --- what a lock should hold ------------------------------------------------------------------


def _day_start(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def _month_start(month: str, like: datetime) -> datetime:
    year, number = (int(part) for part in month.split("-"))
    return like.replace(year=year, month=number, day=1, hour=0, minute=0, second=0, microsecond=0)


def _next_closing(rooms: StudyRooms, after: datetime) -> datetime:
    """The first closing time after `after`."""
    closing = rooms.policy.closing_moment(after)
    while closing <= after:
        closing = rooms.policy.closing_moment(_day_start(closing) + timedelta(days=1, hours=12))
    return closing


def rights(rooms: StudyRooms, room_id: str, now: datetime) -> list[tuple[str, datetime, datetime]]:
    """(patron, from, until) of each right to open the room, current first."""
    room = rooms.room(room_id)
    if room.kind is RoomKind.TEMPORARY:
        borrow = rooms.state.borrows.get(room_id)
        if borrow is None:
            return []
        end = _next_closing(rooms, borrow.since)
        if end <= now and not rooms.policy.return_at_closing:
            end = _next_closing(rooms, now)  # a borrow that runs on past closing
        if rooms.policy.max_use_minutes:
            end = min(end, borrow.since + timedelta(minutes=rooms.policy.max_use_minutes))
        return [(borrow.patron_id, borrow.since, end)]
    found = []
    this_month, next_month = month_key(now), month_key(now, ahead=1)
    for month, until in ((this_month, next_month), (next_month, month_key(now, ahead=2))):
        patron_id = rooms.state.reservations.get((room_id, month))
        if patron_id is not None:
            found.append((patron_id, _month_start(month, now), _month_start(until, now)))
    return found


def wanted(
    rooms: StudyRooms,
    room_id: str,
    now: datetime,
    *,
    facts: LockFacts,
    patron_of: Callable[[str], Patron | None],
    key: Callable[[str], str],
) -> list[Wanted]:
    """What the room's lock should hold now, at most one grant per slot it has for the site."""
    found: list[Wanted] = []
    for patron_id, start, end in rights(rooms, room_id, now):
        patron = patron_of(patron_id)
        if patron is None or not patron.card or patron.suspended:
            continue
        card = normalize_card(patron.card)
        if not facts.fits(card):
            continue
        if patron.membership_expires is not None:
            expiry = _day_start(now).replace(
                year=patron.membership_expires.year,
                month=patron.membership_expires.month,
                day=patron.membership_expires.day,
            )
            end = min(end, expiry + timedelta(days=1))
        freeze = rooms.patrons.freezes.get(patron_id)
        if freeze is not None and freeze.until > start and freeze.until > now:
            if rooms.checked_in_today(patron_id, now) and start <= now < end:
                start, end = max(start, _day_start(now)), min(end, _day_start(now) + timedelta(1))
            else:
                start = max(start, freeze.until)  # opens once the freeze has ended
        start, end = start.replace(microsecond=0), end.replace(microsecond=0)
        if end <= max(start, now):
            continue
        grant = Grant(patron_id=patron_id, card_key=key(card), start=start, end=end)
        found.append(Wanted(grant=grant, card=card))
    return found[: len(facts.slot_ids(rooms.room(room_id).kind))]


def plan(
    slots: Sequence[int], held: Mapping[int, Grant], wanted: Sequence[Wanted]
) -> list[SlotChange]:
    """The slot changes that make `held` (within `slots`) what is `wanted`: clears first.

    A grant already held stays where it is; a card held with another end is written again in
    its own slot; anything else the site's slots hold is cleared (before its slot is reused).
    """
    keep: dict[int, Wanted] = {}
    missing: list[Wanted] = []
    for item in wanted:
        slot = next((s for s in slots if held.get(s) == item.grant and s not in keep), None)
        if slot is None:
            missing.append(item)
        else:
            keep[slot] = item
    writes: dict[int, Wanted] = {}
    for item in missing:
        same_card = [
            s
            for s in slots
            if s not in keep
            and s not in writes
            and (g := held.get(s)) is not None
            and g.card_key == item.grant.card_key
        ]
        free = [s for s in slots if s not in keep and s not in writes and s not in held]
        rest = [s for s in slots if s not in keep and s not in writes]
        if candidates := same_card or free or rest:
            writes[candidates[0]] = item
    # A slot that holds another card is emptied before it takes the new one: no moment where
    # the new card opens under the old card's schedule.
    clears = [
        s
        for s in slots
        if s in held
        and s not in keep
        and (s not in writes or held[s].card_key != writes[s].grant.card_key)
    ]
    return [SlotChange(slot=s, wanted=None) for s in clears] + [
        SlotChange(slot=s, wanted=item) for s, item in writes.items()
    ]


# --- what a lock decided by itself ------------------------------------------------------------


class LockDecision(StrEnum):
    """What a lock's own decision was, as its log or its notification tells it."""

    OPENED = "opened"  # a card in its user table, within its schedule
    REFUSED_CARD = "refused_card"  # a card its table does not hold
    REFUSED_SCHEDULE = "refused_schedule"  # a card it holds, outside its schedule
    PUSH_EXIT = "push_exit"  # the PUSH button inside


def lock_event(
    rooms: StudyRooms,
    room_id: str,
    decision: LockDecision,
    at: datetime,
    patron_id: str | None,
    now: datetime,
) -> RoomEvent:
    """A room event for a lock's own decision, at the lock's time, marked as the lock's.

    Refusals name why the lock refused: a card not in its table (`unknown_card`) or outside
    its schedule (`not_holder`: the right has ended). An open by the holder carries the ref of
    their borrow or month (issued here for a month's hold, as a tap decided by the site does).
    """
    if decision is LockDecision.PUSH_EXIT:
        return RoomEvent(room_id=room_id, type=EventType.PUSH_EXIT, source=Source.LOCK, at=at)
    if decision is LockDecision.OPENED:
        ref = None
        if patron_id is not None:
            borrow = rooms.state.borrows.get(room_id)
            if borrow is not None and borrow.patron_id == patron_id:
                ref = borrow.ref or None
            elif rooms.holder(room_id, at) == patron_id:
                ref = rooms.patrons.issue_ref(patron_id, room_id, now, month_key(at))
        return RoomEvent(
            room_id=room_id,
            type=EventType.CARD_TAP,
            source=Source.LOCK,
            at=at,
            patron_id=patron_id,
            ref=ref,
        )
    reason = Reason.UNKNOWN_CARD if decision is LockDecision.REFUSED_CARD else Reason.NOT_HOLDER
    return RoomEvent(
        room_id=room_id,
        type=EventType.REFUSED,
        source=Source.LOCK,
        at=at,
        patron_id=patron_id,
        reason=reason.value,
    )
