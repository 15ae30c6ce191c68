"""The study-room rules, from the main library's instructions of 2023-03-23.

Who may borrow (登記使用), open (開門) and return (結束使用) which room and when; card taps,
PUSH exits, counter returns, long-term reservations, freezes and the daily check-in.

Every command either raises `Refused` and changes nothing, or changes the state and returns an
`Outcome`: the events to log and whether the door must be unlocked or locked. Time is passed
in (`now`, an aware local datetime), so the rules are plain functions of state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
import re

from .errors import Reason, Refused
from .limits import MAX_MONTHS_AHEAD
from .model import (
    Borrow,
    EventType,
    Freeze,
    Patron,
    Room,
    RoomEvent,
    RoomKind,
    RoomStatus,
    Source,
    month_key,
)
from .policy import MAX_FREEZE_DAYS, AutoReturnReason, Policy
from .room_state import PatronState, StudyRoomsState

_MONTH = re.compile(r"^([0-9]{4})-(0[1-9]|1[0-2])\Z")  # \Z: "$" lets "2026-03\n" through


@dataclass(kw_only=True, slots=True)
class Outcome:
    """What a command did: its events, and whether the room's bolt must move.

    `room_id` None: a patron-level change (a freeze, a check-in) that may show in any room.
    """

    room_id: str | None
    events: list[RoomEvent] = field(default_factory=list)
    unlock: bool = False
    lock: bool = False


def parse_month(value: str) -> str:
    """Validate a YYYY-MM month."""
    if not isinstance(value, str) or not _MONTH.match(value):
        raise Refused(Reason.INVALID_MONTH, month=str(value)[:16])
    return value


class StudyRooms:
    """The study rooms of one site (a library building) and the rules that govern them.

    A patron's freezes, check-ins and refs are the library's (`patrons`), shared by every site
    of it; so is the rule of one temporary room per patron (`held_elsewhere`).
    """

    def __init__(
        self,
        rooms: Iterable[Room],
        policy: Policy,
        state: StudyRoomsState | None = None,
        *,
        patrons: PatronState | None = None,
        held_elsewhere: Callable[[str], str | None] | None = None,
    ) -> None:
        self.rooms: dict[str, Room] = {room.room_id: room for room in rooms}
        self.policy = policy
        self.state = state or StudyRoomsState()
        # The library's part, shared with the other sites of the same library.
        self.patrons = patrons if patrons is not None else PatronState()
        # The temporary room a patron holds at another site of the library, if any.
        self._held_elsewhere = held_elsewhere or (lambda patron_id: None)
        # Live sensor knowledge; refreshed by the radio after a restart.
        self._occupied: dict[str, bool] = {}
        self._forget_unknown_rooms()

    def _forget_unknown_rooms(self) -> None:
        """A room removed from the configuration takes its borrow with it."""
        for room_id in [r for r in self.state.borrows if r not in self.rooms]:
            del self.state.borrows[room_id]
        for room_id in [r for r in self.state.vacant_since if r not in self.rooms]:
            del self.state.vacant_since[room_id]
        self.state.owed_locks &= set(self.rooms)  # a room removed owes no lock

    # --- queries ---------------------------------------------------------------------------

    def room(self, room_id: str) -> Room:
        """The room, or UNKNOWN_ROOM."""
        try:
            return self.rooms[room_id]
        except (KeyError, TypeError):
            raise Refused(Reason.UNKNOWN_ROOM, room=str(room_id)[:32]) from None

    def holder(self, room_id: str, now: datetime) -> str | None:
        """Who holds the room now: the borrower, or this month's long-term holder."""
        room = self.room(room_id)
        if room.kind is RoomKind.TEMPORARY:
            borrow = self.state.borrows.get(room_id)
            return borrow.patron_id if borrow else None
        return self.state.reservations.get((room_id, month_key(now)))

    def in_use_since(self, room_id: str) -> datetime | None:
        """When the current borrow started."""
        borrow = self.state.borrows.get(room_id)
        return borrow.since if borrow else None

    def status(self, room_id: str, now: datetime, *, lock_online: bool) -> RoomStatus:
        """What the e-label shows."""
        room = self.room(room_id)
        if not lock_online:
            return RoomStatus.UNAVAILABLE
        if room.kind is RoomKind.TEMPORARY:
            return RoomStatus.IN_USE if room_id in self.state.borrows else RoomStatus.IDLE
        if (room_id, month_key(now)) in self.state.reservations:
            return RoomStatus.RESERVED
        return RoomStatus.IDLE

    def frozen(self, patron_id: str, now: datetime) -> Freeze | None:
        """The patron's freeze, if it still runs."""
        freeze = self.patrons.freezes.get(patron_id)
        return freeze if freeze and freeze.until > now else None

    def checked_in_today(self, patron_id: str, now: datetime) -> bool:
        """Whether a frozen patron checked in at the counter today."""
        return self.patrons.check_ins.get(patron_id) == now.date()

    def patron_of_ref(self, text: str, now: datetime) -> str | None:
        """The patron behind an event's ref (staff may name a patron by it)."""
        return self.patrons.patron_of_ref(text, now)

    def borrowed_room(self, patron_id: str) -> str | None:
        """The temporary room a patron holds, if any."""
        for room_id, borrow in self.state.borrows.items():
            if borrow.patron_id == patron_id:
                return room_id
        return None

    def reservations(self) -> list[tuple[str, str, str]]:
        """(room, month, patron) for every long-term reservation, sorted."""
        return [
            (room, month, pid) for (room, month), pid in sorted(self.state.reservations.items())
        ]

    # --- patron actions --------------------------------------------------------------------

    def borrow(
        self,
        room_id: str,
        patron: Patron,
        now: datetime,
        *,
        lock_online: bool,
        source: Source = Source.QR,
    ) -> Outcome:
        """登記使用: an idle temporary room becomes the patron's; the door unlocks.

        `source` is the counter when staff act for a patron who shows their card there.
        """
        room = self.room(room_id)
        if room.kind is not RoomKind.TEMPORARY:
            raise Refused(Reason.NOT_TEMPORARY_ROOM, room=room_id)
        if not lock_online:
            raise Refused(Reason.LOCK_OFFLINE, room=room_id)
        self._require_membership(patron, now)
        if self.frozen(patron.patron_id, now):
            raise Refused(Reason.FROZEN, until=self._until(patron.patron_id))
        if (borrow := self.state.borrows.get(room_id)) is not None:
            if borrow.patron_id == patron.patron_id:  # its borrower, pressing 登記使用 again
                raise Refused(Reason.ALREADY_HOLDING, room=room_id)
            raise Refused(Reason.ROOM_NOT_IDLE, room=room_id)
        held = self.borrowed_room(patron.patron_id) or self._held_elsewhere(patron.patron_id)
        if held is not None:
            raise Refused(Reason.ALREADY_HOLDING, room=held)
        ref = self.patrons.issue_ref(patron.patron_id, room_id, now, None)
        self.state.borrows[room_id] = Borrow(patron_id=patron.patron_id, since=now, ref=ref)
        self._restart_vacancy_clock(room_id, now)
        event = self._event(room_id, EventType.BORROWED, source, now, patron.patron_id, ref=ref)
        return Outcome(room_id=room_id, events=[event], unlock=True)

    def open_door(
        self,
        room_id: str,
        patron: Patron,
        now: datetime,
        *,
        lock_online: bool,
        source: Source = Source.QR,
    ) -> Outcome:
        """開門 (QR) or a card tap by the holder: the door unlocks."""
        self.room(room_id)
        if not lock_online:
            raise Refused(Reason.LOCK_OFFLINE, room=room_id)
        if self.holder(room_id, now) != patron.patron_id:
            raise Refused(Reason.NOT_HOLDER, room=room_id)
        self._require_membership(patron, now)
        if self.frozen(patron.patron_id, now) and not self.checked_in_today(patron.patron_id, now):
            raise Refused(Reason.NOT_CHECKED_IN, room=room_id)
        kind = EventType.CARD_TAP if source is Source.CARD else EventType.QR_OPEN
        borrow = self.state.borrows.get(room_id)
        ref = borrow.ref if borrow else None
        if ref is None:  # this month's long-term holder
            ref = self.patrons.issue_ref(patron.patron_id, room_id, now, month_key(now))
        event = self._event(room_id, kind, source, now, patron.patron_id, ref=ref)
        return Outcome(room_id=room_id, events=[event], unlock=True)

    def card_tap(
        self, room_id: str, card: str, patron: Patron | None, now: datetime, *, lock_online: bool
    ) -> Outcome:
        """Method 2 of section 4: the holder's card opens; any other card is refused and logged."""
        self.room(room_id)
        if patron is None:
            refusal = Refused(Reason.UNKNOWN_CARD, room=room_id)
        else:
            try:
                return self.open_door(
                    room_id, patron, now, lock_online=lock_online, source=Source.CARD
                )
            except Refused as err:
                refusal = err
        event = self._event(
            room_id,
            EventType.REFUSED,
            Source.CARD,
            now,
            patron.patron_id if patron else None,
            reason=refusal.reason.value,
            card=card,
        )
        return Outcome(room_id=room_id, events=[event])

    def return_room(
        self, room_id: str, patron: Patron, now: datetime, *, source: Source = Source.QR
    ) -> Outcome:
        """結束使用: the borrower gives the room back; it is idle and locked."""
        room = self.room(room_id)
        if room.kind is not RoomKind.TEMPORARY:
            raise Refused(Reason.NOT_TEMPORARY_ROOM, room=room_id)
        borrow = self.state.borrows.get(room_id)
        if borrow is None:
            raise Refused(Reason.ROOM_NOT_IN_USE, room=room_id)
        if borrow.patron_id != patron.patron_id:
            raise Refused(Reason.NOT_HOLDER, room=room_id)
        return self._end_borrow(room_id, EventType.RETURNED, source, now)

    # --- staff and automation actions ------------------------------------------------------

    def counter_return(
        self, now: datetime, *, room_id: str | None = None, patron_id: str | None = None
    ) -> Outcome:
        """Section 5 method 2: staff return a room by room, or by the patron's ID."""
        if not self.policy.counter_open(now):
            raise Refused(
                Reason.OUTSIDE_SERVICE_HOURS,
                opens=self.policy.counter_opens,
                closes=self.policy.counter_closes,
            )
        if room_id is None:
            room_id = self.borrowed_room(patron_id or "")
            if room_id is None:
                raise Refused(Reason.HOLDS_NO_ROOM, patron=patron_id or "-")
        room = self.room(room_id)
        if room.kind is not RoomKind.TEMPORARY:
            raise Refused(Reason.NOT_TEMPORARY_ROOM, room=room_id)
        if room_id not in self.state.borrows:
            raise Refused(Reason.ROOM_NOT_IN_USE, room=room_id)
        return self._end_borrow(room_id, EventType.RETURNED, Source.COUNTER, now)

    def auto_return(self, room_id: str, reason: str, now: datetime) -> Outcome:
        """A forgotten room goes back to idle (policy timer or an automation)."""
        room = self.room(room_id)
        if room.kind is not RoomKind.TEMPORARY:
            raise Refused(Reason.NOT_TEMPORARY_ROOM, room=room_id)
        if room_id not in self.state.borrows:
            raise Refused(Reason.ROOM_NOT_IN_USE, room=room_id)
        return self._end_borrow(room_id, EventType.AUTO_RETURNED, Source.AUTOMATION, now, reason)

    def reserve_long_term(self, room_id: str, patron: Patron, month: str, now: datetime) -> Outcome:
        """事先線上登記: the patron holds a long-term room for a calendar month."""
        room = self.room(room_id)
        month = parse_month(month)
        if room.kind is not RoomKind.LONG_TERM:
            raise Refused(Reason.NOT_LONG_TERM_ROOM, room=room_id)
        if not month_key(now) <= month <= month_key(now, ahead=MAX_MONTHS_AHEAD):
            raise Refused(Reason.INVALID_MONTH, month=month)
        self._require_membership(patron, now)
        current = self.state.reservations.get((room_id, month))
        if current == patron.patron_id:
            return Outcome(room_id=room_id)
        if current is not None:
            raise Refused(Reason.ALREADY_RESERVED, room=room_id, month=month)
        for (other, other_month), pid in self.state.reservations.items():
            if pid == patron.patron_id and other_month == month:
                raise Refused(Reason.ALREADY_HOLDING, room=other)
        self.state.reservations[(room_id, month)] = patron.patron_id
        return Outcome(room_id=room_id)

    def cancel_reservation(self, room_id: str, month: str, now: datetime) -> Outcome:
        """Staff cancel a long-term reservation; the room is locked if it was this month's."""
        self.room(room_id)
        month = parse_month(month)
        if (room_id, month) not in self.state.reservations:
            raise Refused(Reason.NO_RESERVATION, room=room_id, month=month)
        del self.state.reservations[(room_id, month)]
        return Outcome(room_id=room_id, lock=month == month_key(now))

    def freeze(self, patron_id: str, days: int | None, reason: str, now: datetime) -> Outcome:
        """Freeze a patron's rights after a violation; a longer freeze wins."""
        days = self.policy.freeze_days if days is None else days
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_FREEZE_DAYS:
            raise Refused(Reason.INVALID_VALUE, field="days", value=str(days)[:16])
        until = now + timedelta(days=days)
        current = self.frozen(patron_id, now)
        if current and current.until > until:
            until = current.until
        self.patrons.freezes[patron_id] = Freeze(until=until, reason=reason)
        return Outcome(room_id=None)

    def unfreeze(self, patron_id: str, now: datetime) -> Outcome:
        """Lift a freeze."""
        if not self.frozen(patron_id, now):
            raise Refused(Reason.NOT_FROZEN, patron=patron_id)
        del self.patrons.freezes[patron_id]
        self.patrons.check_ins.pop(patron_id, None)
        return Outcome(room_id=None)

    def check_in(self, patron_id: str, now: datetime) -> Outcome:
        """遭暫時凍結權利者 check in at the counter: they may open their room for the rest of today."""
        if not self.policy.counter_open(now):
            raise Refused(
                Reason.OUTSIDE_SERVICE_HOURS,
                opens=self.policy.counter_opens,
                closes=self.policy.counter_closes,
            )
        if not self.frozen(patron_id, now):
            raise Refused(Reason.NOT_FROZEN, patron=patron_id)
        self.patrons.check_ins[patron_id] = now.date()
        return Outcome(room_id=None)

    # --- the door itself ---------------------------------------------------------------------

    def staff_unlock(
        self, room_id: str, now: datetime, *, lock_online: bool, source: Source = Source.COUNTER
    ) -> Outcome:
        """Staff (or an automation) open a door from Home Assistant: no rules, but logged."""
        self.room(room_id)
        if not lock_online:
            raise Refused(Reason.LOCK_OFFLINE, room=room_id)
        event = self._event(room_id, EventType.STAFF_UNLOCK, source, now, None)
        return Outcome(room_id=room_id, events=[event], unlock=True)

    def relock(self, room_id: str) -> Outcome:
        """Lock the door (staff, a relock timer, or a lock that missed its lock command)."""
        self.room(room_id)
        return Outcome(room_id=room_id, lock=True)

    def owe_lock(self, room_id: str) -> bool:
        """The room's lock missed a lock command: it is owed one (True if that is news)."""
        self.room(room_id)
        if room_id in self.state.owed_locks:
            return False
        self.state.owed_locks.add(room_id)
        return True

    def settle_lock(self, room_id: str) -> bool:
        """The room's lock is locked (or unlocked on purpose): nothing is owed (True if it was)."""
        if room_id not in self.state.owed_locks:
            return False
        self.state.owed_locks.discard(room_id)
        return True

    # --- what the devices tell ---------------------------------------------------------------

    def door_event(self, room_id: str, kind: EventType, now: datetime) -> Outcome:
        """PUSH exits and forced doors are logged; they never need a decision."""
        self.room(room_id)
        source = Source.PUSH_BUTTON if kind is EventType.PUSH_EXIT else Source.DOOR
        return Outcome(room_id=room_id, events=[self._event(room_id, kind, source, now, None)])

    def occupancy(self, room_id: str, occupied: bool, now: datetime) -> None:
        """Track how long a borrowed room has stood empty."""
        self.room(room_id)
        self._occupied[room_id] = occupied
        if occupied:
            self.state.vacant_since.pop(room_id, None)
        elif room_id in self.state.borrows:
            self.state.vacant_since.setdefault(room_id, now)

    def due_returns(self, now: datetime) -> list[tuple[str, str]]:
        """Borrowed rooms that policy sends back now: empty too long, at closing, or over time."""
        return self.policy.due_returns(self.state.borrows, self.state.vacant_since, now)

    def prune(self, now: datetime) -> bool:
        """Drop ended freezes, old check-ins and past reservations; True if anything went."""
        changed = False
        for pid in [p for p, f in self.patrons.freezes.items() if f.until <= now]:
            del self.patrons.freezes[pid]
            changed = True
        for pid in [p for p, d in self.patrons.check_ins.items() if d < now.date()]:
            del self.patrons.check_ins[pid]
            changed = True
        this_month = month_key(now)
        for key in [k for k in self.state.reservations if k[1] < this_month]:
            del self.state.reservations[key]
            changed = True
        for ref in [r for r, entry in self.patrons.refs.items() if entry.until <= now]:
            del self.patrons.refs[ref]
            changed = True
        changed |= self.patrons.prune_violations(now)
        return changed

    # --- helpers ---------------------------------------------------------------------------

    def _require_membership(self, patron: Patron, now: datetime) -> None:
        if not patron.membership_valid(now.date()):
            raise Refused(Reason.MEMBERSHIP_EXPIRED)

    def _until(self, patron_id: str) -> str:
        freeze = self.patrons.freezes[patron_id]
        return freeze.until.isoformat(timespec="minutes")

    def _restart_vacancy_clock(self, room_id: str, now: datetime) -> None:
        # A room known to be empty at borrow time counts as empty from the borrow on;
        # without an occupancy sensor the room never auto-returns for emptiness.
        self.state.vacant_since.pop(room_id, None)
        if self._occupied.get(room_id) is False:
            self.state.vacant_since[room_id] = now

    def _end_borrow(
        self,
        room_id: str,
        kind: EventType,
        source: Source,
        now: datetime,
        reason: str | None = None,
    ) -> Outcome:
        borrow = self.state.borrows.pop(room_id)
        empty = self.state.vacant_since.pop(room_id, None)
        event = self._event(
            room_id, kind, source, now, borrow.patron_id, reason=reason, ref=borrow.ref or None
        )
        # An automatic return tells how long the room stood empty (or unopened, since the borrow).
        since = {AutoReturnReason.EMPTY: empty, AutoReturnReason.NOT_OPENED: borrow.since}
        if kind is EventType.AUTO_RETURNED and (start := since.get(reason or "")) is not None:
            event = replace(event, minutes=int((now - start).total_seconds() // 60))
        return Outcome(room_id=room_id, events=[event], lock=True)

    @staticmethod
    def _event(
        room_id: str,
        kind: EventType,
        source: Source,
        now: datetime,
        patron_id: str | None,
        *,
        reason: str | None = None,
        card: str | None = None,
        ref: str | None = None,
    ) -> RoomEvent:
        return RoomEvent(
            room_id=room_id,
            type=kind,
            source=source,
            at=now,
            patron_id=patron_id,
            reason=reason,
            card=card,
            ref=ref,
        )
