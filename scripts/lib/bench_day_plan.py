"""The library day's plan (scripts/lib/bench_day.py replays it).

`plan_day` draws, room by room, the visits of one day from opening to closing: who borrows the
room when, the breaks they take (out of the room, back with their card), how the visit ends
(returned by the patron, left without returning so the site returns it when the room has
stood empty long enough, never entered, or still there at closing), a patron who pushes the
button and stays in, another patron's card at the door. `assign_patrons` gives every visit a
patron who holds no other room meanwhile (a patron holds one temporary room at a time).
"""

from __future__ import annotations

from dataclasses import dataclass, field
import heapq
import random

PATRON_CMD = "patron"  # the patron command with the patron's password (bcrypt)
STAFF = "staff"  # the staff services `borrow` / `return_room` (no password)

RETURN = "return"  # leaves the room, then returns it
LEAVE = "leave"  # leaves without returning: the site returns it once empty long enough
NO_SHOW = "no_show"  # borrows, never opens the door
CLOSING = "closing"  # still inside at closing: the site returns it, then the patron leaves

AUTO_RETURN_MINUTES = 30  # the site's default; the plan keeps the room free until then


def minute_of(text: str) -> int:
    """Minutes since midnight of an HH:MM time."""
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def hhmm(minute: int) -> str:
    """HH:MM of minutes since midnight."""
    return f"{minute // 60:02d}:{minute % 60:02d}"


@dataclass(kw_only=True)
class Visit:
    """One patron's use of one room (minutes of the day, local time)."""

    room: str
    start: int
    end: int
    ending: str
    via: str
    breaks: list[tuple[int, int]] = field(default_factory=list)  # (out, back)
    hesitate: int | None = None  # pushes the button, does not go out: the door relocks
    stranger: int | None = None  # another patron's card at the door
    patron: str = ""
    stranger_card: str = ""

    @property
    def busy_until(self) -> int:
        """Until when the patron holds the room at worst (an automatic return included)."""
        if self.ending in (LEAVE, NO_SHOW):
            return self.end + AUTO_RETURN_MINUTES + 2
        return self.end + 2


def plan_day(
    room_ids: list[str],
    rng: random.Random,
    *,
    opens: int,
    closes: int,
    visit_minutes: tuple[int, int],
    patron_share: float,
) -> list[Visit]:
    """Every room's visits, one after another, from opening until half an hour before closing."""
    visits: list[Visit] = []
    last_borrow = closes - 30
    shortest, longest = visit_minutes
    for room in room_ids:
        start = opens + rng.randint(0, 90)
        while start <= last_borrow:
            visit = _visit(room, start, rng, closes, shortest, longest, patron_share)
            visits.append(visit)
            if visit.ending == CLOSING:
                break
            start = visit.busy_until + rng.randint(0, 45)
    return sorted(visits, key=lambda v: (v.start, v.room))


def _visit(
    room: str,
    start: int,
    rng: random.Random,
    closes: int,
    shortest: int,
    longest: int,
    patron_share: float,
) -> Visit:
    via = PATRON_CMD if rng.random() < patron_share else STAFF
    roll = rng.random()
    if roll < 0.05:
        return Visit(room=room, start=start, end=start, ending=NO_SHOW, via=via)
    end = start + rng.randint(shortest, longest)
    ending = LEAVE if roll < 0.20 else RETURN
    if end >= closes - 10:
        end, ending = closes, CLOSING
    visit = Visit(room=room, start=start, end=end, ending=ending, via=via)
    inside = end - start
    if inside >= 90 and rng.random() < 0.35:
        out = start + rng.randint(20, inside - 45)
        visit.breaks.append((out, out + rng.randint(5, 20)))
    free = [m for m in range(start + 2, end - 2) if not _in_break(visit, m)]
    if free and rng.random() < 0.10:
        visit.hesitate = rng.choice(free)
    free = [m for m in free if m != visit.hesitate]
    if free and rng.random() < 0.05:
        visit.stranger = rng.choice(free)
    return visit


def _in_break(visit: Visit, minute: int) -> bool:
    return any(out - 1 <= minute <= back + 1 for out, back in visit.breaks)


def assign_patrons(visits: list[Visit], rng: random.Random) -> list[str]:
    """Give each visit a patron free all along it; the patron IDs, in order (P000001, ...)."""
    free: list[tuple[int, str]] = []  # (free from, patron)
    patrons: list[str] = []
    for visit in visits:  # in order of start
        if free and free[0][0] <= visit.start:
            _, patron = heapq.heappop(free)
        else:
            patron = f"P{len(patrons) + 1:06d}"
            patrons.append(patron)
        visit.patron = patron
        heapq.heappush(free, (visit.busy_until, patron))
    for visit in visits:
        if visit.stranger is not None:
            others = [p for p in rng.sample(patrons, min(3, len(patrons))) if p != visit.patron]
            visit.stranger_card = f"C-{others[0]}" if others else ""
    return patrons
