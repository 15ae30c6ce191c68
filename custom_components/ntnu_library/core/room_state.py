"""What the study-room rules keep across restarts, and the opaque refs events carry.

Two parts: a site's own (`StudyRoomsState`: its borrows, reservations, empty-room clocks and
the locks that missed a lock command) and the library's, shared by every site of it
(`PatronState`: freezes, daily check-ins, refs, violations).

A ref names the patron behind a borrow (or a month's long-term hold) without showing who it
is: events carry it, and staff services accept it in place of a patron ID, so an automation
can freeze the patron behind a violation without ever seeing the ID. A ref lasts
`REF_DAYS` after it was issued.

Violations of the room rules (a room left at closing, a borrow never opened …) are recorded per
patron, by whoever decides what counts as one (an automation, by the event's ref), so that
the library's policy can count them: K violations within M days freeze the patron. A ref is
counted once, however often its event is told. Violations are kept `VIOLATION_DAYS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
import os
from typing import Any

from .model import Borrow, Freeze

REF_PREFIX = "REF-"
REF_DAYS = 30
VIOLATION_DAYS = 365  # the longest window a policy may count violations in
MAX_VIOLATIONS = 100  # per patron: the oldest go first


REF_BYTES = 6  # 48 random bits


class _RandomBytes:
    """Bytes from the operating system's CSPRNG, drawn a block at a time.

    One `os.urandom` call per 512 refs instead of one per ref: that call and its wrappers
    were a third of a borrow decision's time. The bytes are the same CSPRNG's, each handed out
    once. Refs are issued on Home Assistant's event loop only (one thread), so no lock.
    """

    BLOCK = REF_BYTES * 512

    def __init__(self) -> None:
        self._block = b""
        self._at = 0

    def take(self, count: int) -> bytes:
        if self._at + count > len(self._block):
            self._block, self._at = os.urandom(self.BLOCK), 0
        taken = self._block[self._at : self._at + count]
        self._at += count
        return taken


_RANDOM = _RandomBytes()


def new_ref() -> str:
    """A fresh, unguessable ref (48 random bits, upper-case like patron IDs)."""
    return REF_PREFIX + _RANDOM.take(REF_BYTES).hex().upper()


@dataclass(frozen=True, kw_only=True, slots=True)
class RefEntry:
    """Who a ref stands for, what it was issued for (a room, and a month for a hold), until when."""

    patron_id: str
    room_id: str
    month: str | None
    until: datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class Violation:
    """One violation of the room rules recorded against a patron: when, why, by which ref."""

    at: datetime
    reason: str
    ref: str | None = None


type PatronSnapshot = tuple[
    dict[str, Freeze], dict[str, date], dict[str, RefEntry], dict[str, tuple[Violation, ...]]
]


@dataclass(kw_only=True, slots=True)
class PatronState:
    """What holds for a patron in every building of the library."""

    freezes: dict[str, Freeze] = field(default_factory=dict)
    check_ins: dict[str, date] = field(default_factory=dict)
    refs: dict[str, RefEntry] = field(default_factory=dict)
    violations: dict[str, tuple[Violation, ...]] = field(default_factory=dict)

    def issue_ref(self, patron_id: str, room_id: str, now: datetime, month: str | None) -> str:
        """A ref for this patron's borrow (or month's hold) of the room; reused for a hold."""
        if month is not None:
            for ref, entry in self.refs.items():
                if (entry.patron_id, entry.room_id, entry.month) == (patron_id, room_id, month):
                    return ref
        ref = new_ref()
        self.refs[ref] = RefEntry(
            patron_id=patron_id, room_id=room_id, month=month, until=now + timedelta(days=REF_DAYS)
        )
        return ref

    def patron_of_ref(self, text: str, now: datetime) -> str | None:
        """The patron a (still valid) ref stands for; None for anything else."""
        entry = self.refs.get(text.strip().upper()) if isinstance(text, str) else None
        return entry.patron_id if entry is not None and entry.until > now else None

    def record_violation(
        self, patron_id: str, reason: str, now: datetime, ref: str | None = None
    ) -> bool:
        """Record a violation against the patron; False if this ref's is recorded already."""
        past = self.violations.get(patron_id, ())
        if ref is not None and any(violation.ref == ref for violation in past):
            return False
        self.violations[patron_id] = (*past, Violation(at=now, reason=reason, ref=ref))[
            -MAX_VIOLATIONS:
        ]
        return True

    def violations_within(self, patron_id: str, now: datetime, days: int) -> int:
        """How many violations the patron has had in the last `days` days (now included)."""
        since = now - timedelta(days=days)
        return sum(since < v.at <= now for v in self.violations.get(patron_id, ()))

    def prune_violations(self, now: datetime) -> bool:
        """Forget violations older than any window counts; True if any went."""
        since = now - timedelta(days=VIOLATION_DAYS)
        changed = False
        for pid, past in list(self.violations.items()):
            if (kept := tuple(v for v in past if v.at > since)) != past:
                changed = True
                if kept:
                    self.violations[pid] = kept
                else:
                    del self.violations[pid]
        return changed

    def snapshot(self) -> PatronSnapshot:
        """Shallow copies (the values are immutable): cheap to take, compare and restore."""
        return dict(self.freezes), dict(self.check_ins), dict(self.refs), dict(self.violations)

    def restore(self, snapshot: PatronSnapshot) -> None:
        """Go back to a snapshot, in place: every site of the library holds this object."""
        freezes, check_ins, refs, violations = snapshot
        self.freezes, self.check_ins, self.refs = dict(freezes), dict(check_ins), dict(refs)
        self.violations = dict(violations)

    def merge(self, other: PatronState) -> None:
        """Take in another's state (a site that kept its own before it joined a library).

        A longer freeze wins, the later check-in counts, every ref and violation is kept.
        """
        for pid, freeze in other.freezes.items():
            if pid not in self.freezes or self.freezes[pid].until < freeze.until:
                self.freezes[pid] = freeze
        for pid, day in other.check_ins.items():
            self.check_ins[pid] = max(day, self.check_ins.get(pid, day))
        for ref, entry in other.refs.items():
            self.refs.setdefault(ref, entry)
        for pid, past in other.violations.items():
            merged = set(self.violations.get(pid, ())) | set(past)
            self.violations[pid] = tuple(sorted(merged, key=lambda v: v.at))[-MAX_VIOLATIONS:]

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe form for the library's Store."""
        return {
            "freezes": {
                pid: {"until": f.until.isoformat(), "reason": f.reason}
                for pid, f in self.freezes.items()
            },
            "check_ins": {pid: day.isoformat() for pid, day in self.check_ins.items()},
            "refs": {
                ref: {
                    "patron_id": e.patron_id,
                    "room": e.room_id,
                    "month": e.month,
                    "until": e.until.isoformat(),
                }
                for ref, e in sorted(self.refs.items())
            },
            "violations": {
                pid: [{"at": v.at.isoformat(), "reason": v.reason, "ref": v.ref} for v in past]
                for pid, past in sorted(self.violations.items())
            },
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PatronState:
        """Read what `as_dict` wrote (also the patron part of a site's Store from before)."""
        return cls(
            freezes={
                pid: Freeze(until=datetime.fromisoformat(f["until"]), reason=f["reason"])
                for pid, f in data.get("freezes", {}).items()
            },
            check_ins={
                pid: date.fromisoformat(day) for pid, day in data.get("check_ins", {}).items()
            },
            refs={
                ref: RefEntry(
                    patron_id=e["patron_id"],
                    room_id=e["room"],
                    month=e.get("month"),
                    until=datetime.fromisoformat(e["until"]),
                )
                for ref, e in data.get("refs", {}).items()
            },
            violations={
                pid: tuple(
                    Violation(at=datetime.fromisoformat(v["at"]), reason=v["reason"], ref=v["ref"])
                    for v in past
                )
                for pid, past in data.get("violations", {}).items()
            },
        )


type RoomsSnapshot = tuple[
    dict[str, Borrow], dict[tuple[str, str], str], dict[str, datetime], frozenset[str]
]


@dataclass(kw_only=True, slots=True)
class StudyRoomsState:
    """What one site keeps: its rooms' borrows, reservations, empty-room clocks, locks owed."""

    borrows: dict[str, Borrow] = field(default_factory=dict)
    # (room_id, "YYYY-MM") -> patron_id
    reservations: dict[tuple[str, str], str] = field(default_factory=dict)
    vacant_since: dict[str, datetime] = field(default_factory=dict)
    # Rooms whose lock missed a lock command: locked as soon as it answers (fail secure).
    owed_locks: set[str] = field(default_factory=set)

    def snapshot(self) -> RoomsSnapshot:
        """Shallow copies (the values are immutable): cheap to take, compare and restore."""
        return (
            dict(self.borrows),
            dict(self.reservations),
            dict(self.vacant_since),
            frozenset(self.owed_locks),
        )

    def restore(self, snapshot: RoomsSnapshot) -> None:
        """Go back to a snapshot, in place."""
        borrows, reservations, vacant_since, owed_locks = snapshot
        self.borrows, self.reservations = dict(borrows), dict(reservations)
        self.vacant_since, self.owed_locks = dict(vacant_since), set(owed_locks)

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe form for the site's Store."""
        return {
            "borrows": {
                room: {"patron_id": b.patron_id, "since": b.since.isoformat(), "ref": b.ref}
                for room, b in self.borrows.items()
            },
            "reservations": [
                {"room": room, "month": month, "patron_id": pid}
                for (room, month), pid in sorted(self.reservations.items())
            ],
            "vacant_since": {room: at.isoformat() for room, at in self.vacant_since.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], owed_locks: Any = ()) -> StudyRoomsState:
        """Read what `as_dict` wrote (a Store from before refs has none) and the locks owed.

        The locks owed are kept beside the rooms in the site's Store; anything unreadable
        among them is dropped.
        """
        owed = owed_locks if isinstance(owed_locks, list | tuple | set | frozenset) else ()
        return cls(
            owed_locks={room for room in owed if isinstance(room, str)},
            borrows={
                room: Borrow(
                    patron_id=b["patron_id"],
                    since=datetime.fromisoformat(b["since"]),
                    ref=b.get("ref") or "",
                )
                for room, b in data.get("borrows", {}).items()
            },
            reservations={
                (r["room"], r["month"]): r["patron_id"] for r in data.get("reservations", [])
            },
            vacant_since={
                room: datetime.fromisoformat(at)
                for room, at in data.get("vacant_since", {}).items()
            },
        )
