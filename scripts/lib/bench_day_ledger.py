"""The library day's ledger: what the replay asked for, what the site answered, the checks.

`Ledger` checks the site's state and its `ntnu_library_event`s against what the site
acknowledged: a borrow acknowledged that the site no longer holds (after the restart), a return
acknowledged while the room is still held, an event that came twice or not at all, a room still
held after closing. `report` puts the day's numbers into the bench's results.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from bench_day_plan import Visit, hhmm  # scripts/lib is on sys.path when bench.py runs

MAX_EXAMPLES = 5  # problems written out per kind


@dataclass(kw_only=True)
class Borrowed:
    """A borrow the site acknowledged."""

    visit: Visit
    ref: str
    at: int
    returned_at: int | None = None  # our return, acknowledged
    opened_by_card: int = 0  # taps of the holder's card that unlocked


class Ledger:
    """What the replay asked for and what the site answered; the checks against it."""

    def __init__(self) -> None:
        self.borrows: dict[str, Borrowed] = {}  # by ref
        self.asked: Counter[str] = Counter()  # "borrow:patron", "return:staff", ...
        self.refused: Counter[str] = Counter()  # "borrow:room_not_idle", ...
        self.taps: Counter[str] = Counter()
        self.problems: Counter[str] = Counter()
        self.examples: dict[str, list[str]] = {}
        self.events: list[dict[str, Any]] = []
        self.lost_refs: set[str] = set()  # borrows found lost at the restart
        self.pushes: Counter[str] = Counter()  # PUSH button presses, by room
        self.refusable: Counter[str] = Counter()  # taps that may be refused, by room

    def problem(self, kind: str, detail: str) -> None:
        """A borrow or return lost, an event doubled or missing."""
        self.problems[kind] += 1
        shown = self.examples.setdefault(kind, [])
        if len(shown) < MAX_EXAMPLES and detail not in shown:
            shown.append(detail)

    def event(self, data: dict[str, Any]) -> None:
        """An `ntnu_library_event` as the bus carried it."""
        self.events.append(data)

    @property
    def lost(self) -> int:
        """Borrows or returns lost, events doubled or missing."""
        return sum(self.problems.values())

    def open_borrows(self) -> list[Borrowed]:
        """Borrows acknowledged, not returned by us, not returned by the site (as told)."""
        ended = {e.get("ref") for e in self.events if e["type"] == "auto_returned"}
        return [b for b in self.borrows.values() if b.returned_at is None and b.ref not in ended]

    def check_state(self, held: dict[str, tuple[str, str]], when: str) -> None:
        """The site's borrows (room -> (patron, ref)) against what it acknowledged."""
        for borrow in self.open_borrows():
            room = borrow.visit.room
            if held.get(room) != (borrow.visit.patron, borrow.ref):
                self.problem("borrow_lost", f"{when}: {room} by {borrow.visit.patron} not held")
                self.lost_refs.add(borrow.ref)  # counted once: no end event follows
        for borrow in self.borrows.values():
            room = borrow.visit.room
            if borrow.returned_at is not None and held.get(room, ("", ""))[1] == borrow.ref:
                self.problem("return_lost", f"{when}: {room} returned, still held")

    def check_events(self, held: dict[str, tuple[str, str]]) -> None:
        """At the end: every borrow told once, ended once, and nothing held after closing."""
        by_ref: dict[str, Counter[str]] = {}
        for data in self.events:
            if ref := data.get("ref"):
                by_ref.setdefault(ref, Counter())[data["type"]] += 1
        for ref, borrow in self.borrows.items():
            told = by_ref.get(ref, Counter())
            room = borrow.visit.room
            if told["borrowed"] != 1:
                kind = "event_doubled" if told["borrowed"] > 1 else "event_missing"
                self.problem(kind, f"{room}: {told['borrowed']} borrowed events")
            if told["card_tap"] > borrow.opened_by_card:
                self.problem("event_doubled", f"{room}: {told['card_tap']} card_tap events")
            if held.get(room, ("", ""))[1] == ref or ref in self.lost_refs:
                continue  # never ended: held_after_closing below, or lost at the restart
            ends = told["returned"] + told["auto_returned"]
            expected_returned = 1 if borrow.returned_at is not None else 0
            if told["returned"] != expected_returned or ends != 1:
                kind = "event_doubled" if ends > 1 else "event_missing"
                self.problem(kind, f"{room}: returned {dict(told)}, ours {borrow.returned_at}")
        for ref, told in by_ref.items():
            if ref not in self.borrows and told["borrowed"]:
                self.problem("borrow_unacknowledged", f"a borrow told, never answered: {ref}")
        self._check_door_events()
        for room, (patron, _ref) in sorted(held.items()):
            self.problem("held_after_closing", f"{room} still held by {patron}")

    def _check_door_events(self) -> None:
        """One push_exit per press (live, or read back from the lock's log), one refusal per tap."""
        pushed: Counter[str] = Counter()
        refused: Counter[str] = Counter()
        for data in self.events:
            if data["type"] == "push_exit":
                pushed[data["room"]] += 1
            elif data["type"] == "refused" and data.get("source") in ("card", "lock"):
                refused[data["room"]] += 1
        for room in sorted(set(pushed) | set(self.pushes)):
            if (extra := pushed[room] - self.pushes[room]) != 0:
                kind = "event_doubled" if extra > 0 else "event_missing"
                for _ in range(abs(extra)):
                    self.problem(
                        kind, f"{room}: {pushed[room]} push_exit, {self.pushes[room]} pushed"
                    )
        for room in sorted(refused):
            for _ in range(refused[room] - self.refusable[room]):
                self.problem(
                    "event_doubled",
                    f"{room}: {refused[room]} refused taps, {self.refusable[room]} could be",
                )

    def summary(self) -> dict[str, Any]:
        """The ledger in numbers, for the JSON object."""
        told = Counter(data["type"] for data in self.events)
        by_source = Counter(f"{data['type']}:{data.get('source')}" for data in self.events)
        refusals = Counter(
            f"{data.get('source')}:{data.get('reason')}"
            for data in self.events
            if data["type"] == "refused"
        )
        return {
            "asked": dict(self.asked),
            "refused": dict(self.refused),
            "taps": dict(self.taps),
            "events": dict(told),
            "events_by_source": dict(by_source),
            "refused_events": dict(refusals),
            "problems": dict(self.problems),
            "examples": self.examples,
        }


def report(day: Any, results: Any, setup_s: float, restart_s: float, wall_s: float) -> None:
    """The day's values and table rows."""
    ledger = day.ledger
    summary = ledger.summary()
    told = summary["events"]
    results.values["day_events"] = len(ledger.events)
    results.values["day_lost"] = ledger.lost
    results.values["day_doors_left_unlocked"] = len(day.unlocked)
    results.values["day_wall_s"] = round(wall_s, 1)
    results.values["day_detail"] = summary | {
        "rooms": day.rooms,
        "visits": len(day.visits),
        "patrons": len(day.patrons),
        "setup_s": round(setup_s, 2),
        "restart_s": round(restart_s, 2),
        "doors_left_unlocked": day.unlocked[:20],
        "offline_locks": len(day.offline),
        "wall_s": {phase: round(seconds, 1) for phase, seconds in day.phases.items()},
        "store_writes": {k: round(v, 1) for k, v in day.writes.items()},
        "store_kb": {k: round(v) for k, v in day.store_kb.items()},
    }
    asked = summary["asked"]
    via = f"{asked.get('borrow:patron', 0)} patron command / {asked.get('borrow:staff', 0)} staff"
    results.row(
        "day: plan",
        f"{day.rooms} rooms, {len(day.visits)} visits",
        f"{len(day.patrons)} patrons (bcrypt cost {day.bcrypt_cost}), "
        f"{hhmm(day.opens)}-{hhmm(day.closes)}; borrows {via}",
    )
    results.row(
        "day: set-up / restart",
        f"{setup_s:.1f} / {restart_s:.1f} s",
        f"restart at {hhmm(day.restart_at)}: Home Assistant stopped, a new one on the same "
        "folder (Store read again, network restarted)",
    )
    results.row(
        "day: events",
        f"{len(ledger.events)}",
        ", ".join(f"{kind} {n}" for kind, n in sorted(told.items())),
    )
    refused = ", ".join(f"{k} {n}" for k, n in sorted(summary["refused"].items())) or "none"
    results.row("day: refusals", str(sum(summary["refused"].values())), refused)
    results.row(
        "day: card taps",
        str(sum(summary["taps"].values())),
        ", ".join(f"{k} {n}" for k, n in sorted(summary["taps"].items())),
    )
    results.row(
        "day: radio loss",
        f"{len(day.offline)} locks",
        f"offline {hhmm(day.loss_at)} for {day.loss_minutes} min; "
        f"lock_pending {told.get('lock_pending', 0)}, relocked {told.get('relocked', 0)}",
    )
    problems = (
        ", ".join(
            f"{kind} {n} (e.g. {ledger.examples[kind][0]})"
            for kind, n in sorted(ledger.problems.items())
        )
        or "none"
    )
    results.row("day_lost", str(ledger.lost), problems)
    results.row(
        "day_doors_left_unlocked",
        str(len(day.unlocked)),
        ", ".join(day.unlocked[:10]) or f"checked {day.rooms} locks at {hhmm(day.timeline.minute)}",
    )
    writes = day.writes
    results.row(
        "day: Store writes",
        f"{writes['site'] + writes['locks'] + writes['library']}",
        "; ".join(
            f"{name} {writes[name]} x {day.store_kb.get(name, 0):.0f} kB, "
            f"{writes[f'{name}_s'] / max(writes[name], 1) * 1000:.1f} ms each"
            for name in ("site", "locks", "library")
        ),
    )
    split = ", ".join(f"{phase} {seconds:.0f} s" for phase, seconds in day.phases.items())
    results.row(
        "day_wall_s", f"{wall_s:.1f} s", f"{len(ledger.events) / wall_s:.0f} events/s; {split}"
    )
