"""Card taps against simulated locks: latency and the highest sustained rate, measured one way.

Every tap figure of the bench (the integration's and the ZHA-plus-automation peer's) comes
from the code here, so that the two sides are measured alike:

- A tap is the simulated lock sending its card tap's ZCL frame (`send_tap(room)`, e.g.
  `SimulatedLock.card_tap`); its answer is the same lock receiving `unlock_door`.
  `UnlockWatch` wraps the lock models' `command` handler (an instance attribute shadowing
  the class's method) and notes the `time.perf_counter()` of each `unlock_door`. Unlocks are
  matched to taps room by room, first in first out; an unlock with no tap waiting is counted
  as `extra` (a retried command, say). After each unlock the watch calls `relock(room)` so
  that the room's next tap finds the bolt thrown again (`relock_by_door`: the patron opens
  the door and closes it behind them, and the lock throws its bolt itself).
- `tap_load(send_tap, watch, rooms, rate=..., seconds=...)` is an open-loop load: tap i is
  due `i / rate` seconds after the start, at room `rooms[i % len(rooms)]`, and is sent at its
  time whether or not earlier taps were answered (when the event loop is late, the taps that
  are due go out at once). Latency is from the moment the frame is sent to its unlock. It
  then waits up to `answer_within` (1 s) after the last tap for the answers. The run is
  *sustained* when every tap was answered, each within `answer_within`, nothing was logged
  at WARNING or above (an automation over its run limit, a command that failed) and the
  answered taps per second (answers / time from the first tap to the last answer) reached
  95 % of the offered rate.
- `tap_capacity(send_tap, watch, rooms, seconds=...)` is a closed loop: every room taps again
  as soon as its last tap was answered (one turn of the event loop later), all rooms at once;
  its figure is the answered taps per second (a tap not answered within `answer_within` is
  lost, and its room taps again).
- `max_tap_rate(...)` steps the offered rate up geometrically (by `factor`, from `start`)
  until a step is not sustained, then narrows the gap between the last good and the first
  bad rate by `refine` geometric bisections. Its figure is the answered taps per second of
  the best sustained step. `settle()` runs after every step so that one step's backlog
  does not spill into the next.

What zigpy loses, and what the runs do about it:

- zigpy drops a frame byte-identical to one the same device sent within 10 s. A card tap's
  operation event carries the lock's 8-bit ZCL sequence number, the card and the lock's
  clock (in seconds), so one card tapped on a lock faster than its counter wraps in a second
  would lose taps: callers vary the card from tap to tap, as different patrons' cards do
  (`numbered_cards`). The `unlock_door_response` echoes the coordinator's sequence number
  for that lock, which wraps after 256 commands to it: above about 25 commands a second to
  one lock, sustained for 10 s, zigpy drops an answer (nothing a lock could vary). The
  runs count what zigpy's filter dropped on the locks (`DropCounter`) instead of hiding it.
  Attribute reports (bolt, door) carry only the sequence number and the value: once a
  lost tap or a retried command puts the lock's counter in step with its previous round,
  zigpy drops its reports for a while. They carry no tap and no answer, so they are counted
  apart (`dropped_reports`); what Home Assistant shows of the bolt may lag meanwhile.
- zigpy takes any frame from a device whose sequence number matches a request still
  pending for it as that request's answer, and it keeps the request pending until the
  requesting task runs again after the answer came. On a busy event loop that takes tens
  of milliseconds, and a card tap whose (the lock's own) sequence number is the one the
  lock just answered is swallowed as a "duplicate response": the tap is lost. It happens
  when the loop is behind (an overloaded run); the runs count it as a lost tap. A tap sent
  in the same turn of the loop as the unlock it follows would meet that window every time
  (the lock's counter moves 7 a tap, the coordinator's 1, so they meet within 128 taps): the
  closed loop lets one turn pass first, as any patron's next tap would.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
import contextlib
from dataclasses import dataclass, field
import logging
import math
import time
from typing import Any

from bench_stats import percentile  # scripts/lib is on sys.path
from zigpy.zcl.clusters.closures import DoorLock

ANSWER_WITHIN_S = 1.0  # a tap not answered within this is a failed tap
SUSTAINED_SHARE = 0.95  # a step holds when it answers this share of the offered rate
_UNLOCK = DoorLock.ServerCommandDefs.unlock_door.id
_FRAME_TYPE = 0b11  # the ZCL frame control's frame type bits
_CLUSTER_COMMAND = 0b01


class UnlockWatch:
    """The moments the rooms' simulated locks receive `unlock_door`, matched to the taps."""

    def __init__(
        self, locks: Mapping[str, Any], *, relock: Callable[[str], None] | None = None
    ) -> None:
        self.locks = dict(locks)
        self._relock = relock
        self._waiting: dict[str, deque[float]] = {room: deque() for room in self.locks}
        self.outstanding = 0
        self.latencies: list[float] = []  # seconds, tap sent -> unlock_door received
        self.extra = 0  # unlocks with no tap waiting in their room
        self.given_up = 0  # taps no longer waited for
        self.last_answer = 0.0
        self._all_answered = asyncio.Event()
        self._all_answered.set()
        self._room_answered = {room: asyncio.Event() for room in self.locks}
        for event in self._room_answered.values():
            event.set()
        for room, lock in self.locks.items():
            lock.command = self._wrap(room, type(lock).command.__get__(lock))

    def _wrap(self, room: str, original: Callable[..., bool]) -> Callable[..., bool]:
        waiting = self._waiting[room]
        room_answered = self._room_answered[room]

        def command(cluster_id: int, hdr: Any, args: Any) -> bool:
            if cluster_id != DoorLock.cluster_id or hdr.command_id != _UNLOCK:
                return original(cluster_id, hdr, args)
            now = time.perf_counter()
            if waiting:
                self.latencies.append(now - waiting.popleft())
                self.last_answer = now
                self.outstanding -= 1
                if not waiting:
                    room_answered.set()
                if not self.outstanding:
                    self._all_answered.set()
            else:
                self.extra += 1
            handled = original(cluster_id, hdr, args)
            if self._relock is not None:
                self._relock(room)
            return handled

        return command

    def sent(self, room: str, at: float) -> None:
        """A tap left the room's lock at `at` (perf_counter)."""
        self._waiting[room].append(at)
        self.outstanding += 1
        self._all_answered.clear()
        self._room_answered[room].clear()

    async def all_answered(self, within: float, room: str | None = None) -> bool:
        """Wait until no tap (of `room`, or of any) waits for its unlock; False after `within` s."""
        event = self._all_answered if room is None else self._room_answered[room]
        try:
            async with asyncio.timeout(max(within, 0.0)):
                await event.wait()
        except TimeoutError:
            return False
        return True

    def give_up(self, room: str) -> None:
        """Stop waiting for the room's taps (they count as lost; a late unlock as extra)."""
        waiting = self._waiting[room]
        self.given_up += len(waiting)
        self.outstanding -= len(waiting)
        waiting.clear()
        self._room_answered[room].set()
        if not self.outstanding:
            self._all_answered.set()

    def restart(self) -> None:
        """Forget the taps waiting and what was measured: a new run starts."""
        for waiting in self._waiting.values():
            waiting.clear()
        self.outstanding = 0
        self.latencies = []
        self.extra = 0
        self.given_up = 0
        self.last_answer = 0.0
        self._all_answered.set()
        for event in self._room_answered.values():
            event.set()

    def remove(self) -> None:
        """Give the lock models their own handlers back."""
        for lock in self.locks.values():
            with contextlib.suppress(AttributeError):
                del lock.command


def relock_by_door(locks: Mapping[str, Any]) -> Callable[[str], None]:
    """`relock` for `UnlockWatch`: the patron opens the door and closes it behind them.

    The simulated lock reports the door open and closed, throws its bolt itself when the
    door closes after opening unlocked, and tells it (lock_state report, AutoLock event).
    """

    def relock(room: str) -> None:
        lock = locks[room]
        lock.door_opened()
        lock.door_closed()

    return relock


def numbered_cards(prefix: str = "C-") -> Callable[[], str]:
    """A new card number at every call (zigpy would drop a repeated tap, see the module)."""
    counter = iter(range(1, 1 << 62))
    return lambda: f"{prefix}{next(counter):08d}"


class DropCounter:
    """Counts the frames zigpy's duplicate filter drops on the given zigpy devices.

    `dropped` counts cluster commands (card taps, answers to commands), `reports` the rest
    (attribute reports and other foundation frames).
    """

    def __init__(self, devices: Iterable[Any]) -> None:
        self.dropped = 0
        self.reports = 0
        self._debouncers: list[Any] = []
        for device in devices:
            debouncer = device._packet_debouncer  # zigpy's own
            original = type(debouncer).filter.__get__(debouncer)

            def counting(obj: Any, expire_in: float, _original: Any = original) -> bool:
                filtered = bool(_original(obj, expire_in))
                if filtered:
                    data = obj.data.serialize()
                    if obj.dst_ep and data and data[0] & _FRAME_TYPE == _CLUSTER_COMMAND:
                        self.dropped += 1
                    else:
                        self.reports += 1
                return filtered

            debouncer.filter = counting
            self._debouncers.append(debouncer)

    def remove(self) -> None:
        """Give zigpy its own filters back."""
        for debouncer in self._debouncers:
            with contextlib.suppress(AttributeError):
                del debouncer.filter


class _Problems(logging.Handler):
    """Counts log records at WARNING and above; keeps the first."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0
        self.first = ""

    def emit(self, record: logging.LogRecord) -> None:
        if not self.count:
            self.first = f"{record.name}: {record.getMessage()}"[:200]
        self.count += 1


@dataclass(repr=False)
class TapRun:
    """One run of taps: open loop at `offered_per_s`, or closed loop (`offered_per_s` None)."""

    offered_per_s: float | None
    sent: int = 0
    latencies: list[float] = field(default_factory=list)  # seconds, answered taps
    lost: int = 0  # not answered within `answer_within` (after the last tap, open loop)
    late: int = 0  # answered, but later than `answer_within`
    extra: int = 0  # unlocks without a tap
    dropped: int = 0  # taps and answers zigpy's duplicate filter dropped during the run
    dropped_reports: int = 0  # attribute reports it dropped
    span_s: float = 0.0  # the first tap (due) -> the last answer
    lag_max_s: float = 0.0  # the latest a tap went out after its time (open loop)
    problems: int = 0  # log records at WARNING and above
    first_problem: str = ""

    @property
    def answered(self) -> int:
        """Taps answered."""
        return len(self.latencies)

    @property
    def answered_per_s(self) -> float:
        """Taps answered per second, from the first tap to the last answer."""
        return self.answered / self.span_s if self.span_s > 0 else 0.0

    @property
    def keeps_up(self) -> bool:
        """Open loop: the answers came at 95 % of the offered rate (closed loop: True)."""
        offered = self.offered_per_s
        return offered is None or self.answered_per_s >= SUSTAINED_SHARE * offered

    @property
    def sustained(self) -> bool:
        """Every tap answered in time, nothing logged, and (open loop) the rate kept up."""
        return bool(self.sent and not (self.lost or self.late or self.problems) and self.keeps_up)

    def p(self, q: float) -> float:
        """The q-th percentile of the latency, in milliseconds."""
        return percentile(self.latencies, q) * 1000.0

    def __str__(self) -> str:
        offered = "closed loop" if self.offered_per_s is None else f"{self.offered_per_s:.0f}/s"
        return (
            f"{self.sent} taps, {offered}: p50 {self.p(50):.2f} ms, p99 {self.p(99):.2f} ms, "
            f"{self.answered_per_s:.0f}/s answered, lost {self.lost}, late {self.late}, "
            f"extra {self.extra}, dropped {self.dropped} (+{self.dropped_reports} reports), "
            f"problems {self.problems}, "
            f"send lag max {self.lag_max_s * 1000:.1f} ms"
        )

    def faults(self) -> str:
        """What went wrong, in a few words ("" when nothing did)."""
        faults = [
            f"{count} {what}"
            for count, what in (
                (self.lost, f"of {self.sent} taps unanswered"),
                (self.late, f"answered after {ANSWER_WITHIN_S:g} s"),
                (self.extra, "unlocks without a tap"),
                (self.dropped, "taps or answers dropped by zigpy"),
                (self.dropped_reports, "attribute reports dropped by zigpy"),
                (self.problems, f"warnings/errors logged, first: {self.first_problem[:90]}"),
            )
            if count
        ]
        if not self.keeps_up:
            faults.append(f"{self.answered_per_s:.0f}/s answered")
        return "; ".join(faults)


@contextlib.contextmanager
def _measuring(run: TapRun, watch: UnlockWatch, drops: DropCounter | None) -> Iterator[float]:
    """Count what is logged and dropped while the run goes (yields its start); fill in after."""
    watch.restart()
    dropped_before = (drops.dropped, drops.reports) if drops is not None else (0, 0)
    problems = _Problems()
    logging.getLogger().addHandler(problems)
    start = time.perf_counter()
    try:
        yield start
    finally:
        logging.getLogger().removeHandler(problems)
    run.latencies = list(watch.latencies)
    run.lost = watch.given_up + watch.outstanding
    run.late = sum(1 for latency in run.latencies if latency > ANSWER_WITHIN_S)
    run.extra = watch.extra
    run.problems = problems.count
    run.first_problem = problems.first
    if drops is not None:
        run.dropped = drops.dropped - dropped_before[0]
        run.dropped_reports = drops.reports - dropped_before[1]
    run.span_s = watch.last_answer - start if watch.last_answer else 0.0
    watch.restart()


async def tap_load(
    send_tap: Callable[[str], None],
    watch: UnlockWatch,
    rooms: list[str],
    *,
    rate: float,
    seconds: float,
    answer_within: float = ANSWER_WITHIN_S,
    drops: DropCounter | None = None,
) -> TapRun:
    """Taps at `rate` a second for `seconds`, round the rooms, open loop (see the module)."""
    count = max(1, round(rate * seconds))
    run = TapRun(offered_per_s=rate)
    clock = time.perf_counter
    with _measuring(run, watch, drops) as start:
        last_sent = start
        for i in range(count):
            due = start + i / rate
            if (delay := due - clock()) > 0:
                await asyncio.sleep(delay)
            room = rooms[i % len(rooms)]
            last_sent = clock()
            watch.sent(room, last_sent)
            send_tap(room)
            run.lag_max_s = max(run.lag_max_s, last_sent - due)
        run.sent = count
        await watch.all_answered(last_sent + answer_within - clock())
    return run


async def tap_capacity(
    send_tap: Callable[[str], None],
    watch: UnlockWatch,
    rooms: list[str],
    *,
    seconds: float,
    answer_within: float = ANSWER_WITHIN_S,
    drops: DropCounter | None = None,
) -> TapRun:
    """Every room taps again as soon as its last tap was answered, for `seconds` (closed loop).

    A tap not answered within `answer_within` is lost, and the room taps again.
    """
    run = TapRun(offered_per_s=None)
    clock = time.perf_counter
    stop = 0.0

    async def room_taps(room: str) -> None:
        while clock() < stop:
            watch.sent(room, clock())
            send_tap(room)
            run.sent += 1
            if not await watch.all_answered(answer_within, room):
                watch.give_up(room)
            # The next patron, not in the same turn of the loop as the unlock: the lock's
            # answer is handled first (see the module on what zigpy takes for an answer).
            await asyncio.sleep(0)

    with _measuring(run, watch, drops) as start:
        stop = start + seconds
        await asyncio.gather(*(room_taps(room) for room in rooms))
    return run


async def max_tap_rate(
    send_tap: Callable[[str], None],
    watch: UnlockWatch,
    rooms: list[str],
    *,
    start: float = 100.0,
    factor: float = 2.0,
    limit: float = 12_800.0,
    seconds: float = 2.0,
    refine: int = 2,
    settle: Callable[[], Awaitable[None]] | None = None,
    drops: DropCounter | None = None,
) -> tuple[TapRun | None, list[TapRun]]:
    """The best sustained run of a geometric ladder of rates, and every run (see the module)."""
    runs: list[TapRun] = []

    async def step(rate: float) -> TapRun:
        run = await tap_load(send_tap, watch, rooms, rate=rate, seconds=seconds, drops=drops)
        runs.append(run)
        if settle is not None:
            await settle()
        return run

    best: TapRun | None = None
    failed: float | None = None
    rate = start
    while rate <= limit:
        run = await step(rate)
        if not run.sustained:
            failed = rate
            break
        best = run
        rate *= factor
    while best is None and rate > start / factor**3:  # not even the first: go down
        rate /= factor
        run = await step(rate)
        if run.sustained:
            best = run
        else:
            failed = rate
    for _ in range(refine):
        if best is None or best.offered_per_s is None or failed is None:
            break
        middle = math.sqrt(best.offered_per_s * failed)
        run = await step(middle)
        if run.sustained:
            best = run
        else:
            failed = middle
    return best, runs


def ladder_note(runs: list[TapRun]) -> str:
    """The steps of a ladder in a few words: offered rate, held or why not."""
    return ", ".join(
        f"{run.offered_per_s or 0:.0f}" + (" ok" if run.sustained else f" no ({run.faults()})")
        for run in sorted(runs, key=lambda run: run.offered_per_s or 0)
    )
