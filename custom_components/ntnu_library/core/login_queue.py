"""Who gets the next password check: a few slots, handed out fairly under a flood.

A password check (bcrypt, or the ILS) is slow and only a few run at once, so under a flood of
guesses the order in which waiting logins get a slot decides whether a real patron waits a
second or a minute. Waiting logins are kept in three lanes, served in this order:

1. `TRUSTED`: the patron's own known browser (a valid device credential for that patron);
2. `CLEAN`: a caller (client address, or Home Assistant user) that has failed nothing lately;
3. `SUSPECT`: a caller with recent failures.

Within a lane the callers take turns, and within a caller the patron IDs take turns, so one
busy address cannot crowd out the others, and a flood of made-up IDs from one caller waits
behind itself. A suspect caller has at most one check running at a time. What may wait is
bounded per (caller, patron ID), per caller (tighter for a suspect caller) and in all; a login
past a bound, or one that waited too long, is refused with `too_many_attempts`.

A check that turns out to have nothing to hash (an ID nobody has) hands its slot back at once
(`hand_back_slot`) and waits out the time a check takes outside it: a flood of made-up IDs
takes its turns but hardly any of the slots' time.
"""

from __future__ import annotations

import asyncio
from collections import Counter, OrderedDict, deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from enum import IntEnum

from .errors import Reason, Refused

# How the check running in this task gives its slot back early (None outside a slot).
_HELD: ContextVar[Callable[[], None] | None] = ContextVar("ntnu_login_slot", default=None)


def hand_back_slot() -> None:
    """The running check needs its slot no longer (nothing to hash); outside a slot, nothing."""
    release = _HELD.get()
    if release is not None:
        release()


class Lane(IntEnum):
    """How much a waiting login is trusted; lower is served first."""

    TRUSTED = 0
    CLEAN = 1
    SUSPECT = 2


@dataclass(frozen=True, slots=True)
class QueueLimits:
    """What may wait, and for how long."""

    slots: int = 2
    per_key: int = 2  # one patron ID from one caller
    per_caller: int = 32  # a campus behind one address, many patrons at once
    per_suspect_caller: int = 4  # a caller with recent failures
    total: int = 512
    max_wait: float = 30.0
    max_suspect_wait: float = 10.0


@dataclass(slots=True)
class _Waiter:
    future: asyncio.Future[None]
    caller: str
    lane: Lane


class LoginQueue:
    """The password-check slots and the logins waiting for one."""

    def __init__(self, limits: QueueLimits | None = None) -> None:
        self.limits = limits or QueueLimits()
        self._free = self.limits.slots
        # lane -> caller -> patron key -> waiters (oldest first); each level in turn order.
        self._lanes: dict[Lane, OrderedDict[str, OrderedDict[str, deque[_Waiter]]]] = {
            lane: OrderedDict() for lane in Lane
        }
        self._waiting: Counter[str] = Counter()  # per caller, all lanes
        self._suspect_running: Counter[str] = Counter()  # checks of suspect callers

    @property
    def waiting(self) -> int:
        """How many logins wait for a slot."""
        return sum(self._waiting.values())

    @asynccontextmanager
    async def slot(self, caller: str, key: str, lane: Lane) -> AsyncIterator[None]:
        """Hold a slot (taken in turn) for one check; Refused(TOO_MANY_ATTEMPTS) past a bound."""
        await self._acquire(caller, key, lane)
        held = True

        def hand_back() -> None:  # the slot only: a suspect caller's check is not over yet
            nonlocal held
            if held:
                held = False
                self._free += 1
                self._hand_out()

        token = _HELD.set(hand_back)
        try:
            yield
        finally:
            _HELD.reset(token)
            self._check_over(caller, lane, slot=held)

    async def _acquire(self, caller: str, key: str, lane: Lane) -> None:
        self._check_bounds(caller, key, lane)
        waiter = _Waiter(asyncio.get_running_loop().create_future(), caller, lane)
        self._lanes[lane].setdefault(caller, OrderedDict()).setdefault(key, deque()).append(waiter)
        self._waiting[caller] += 1
        self._hand_out()
        if waiter.future.done():
            return
        limit = self.limits.max_suspect_wait if lane is Lane.SUSPECT else self.limits.max_wait
        try:
            async with asyncio.timeout(limit):
                await waiter.future
        except BaseException as err:
            if waiter.future.done() and not waiter.future.cancelled():
                self._release(caller, lane)  # handed a slot just as we gave up: pass it on
            else:
                waiter.future.cancel()
                self._drop(lane, caller, key, waiter)
            if isinstance(err, TimeoutError):
                raise Refused(Reason.TOO_MANY_ATTEMPTS, retry_after="1") from None
            raise

    def _release(self, caller: str, lane: Lane) -> None:
        """A check ended: its slot goes to the next login in turn."""
        self._check_over(caller, lane, slot=True)

    def _check_over(self, caller: str, lane: Lane, *, slot: bool) -> None:
        """A check ended (its slot, if still held, goes back): the next login in turn.

        A suspect caller's next check waits for this one to end even when its slot was handed
        back early, so one caller cannot tell a made-up ID from a real one by how soon its
        next check starts.
        """
        if lane is Lane.SUSPECT:
            self._suspect_running[caller] -= 1
            if self._suspect_running[caller] <= 0:
                del self._suspect_running[caller]
        if slot:
            self._free += 1
        self._hand_out()

    # --- inside ----------------------------------------------------------------------------

    def _check_bounds(self, caller: str, key: str, lane: Lane) -> None:
        limits = self.limits
        keys = self._lanes[lane].get(caller)
        queued = keys.get(key) if keys is not None else None
        per_caller = limits.per_suspect_caller if lane is Lane.SUSPECT else limits.per_caller
        if (
            (queued is not None and len(queued) >= limits.per_key)
            or self._waiting[caller] >= per_caller
            or self.waiting >= limits.total
        ):
            raise Refused(Reason.TOO_MANY_ATTEMPTS, retry_after="1")

    def _hand_out(self) -> None:
        """Give free slots to the first waiters in turn: lane, then caller, then patron ID."""
        while self._free > 0:
            waiter = self._next()
            if waiter is None:
                return
            self._waiting[waiter.caller] -= 1
            if not self._waiting[waiter.caller]:
                del self._waiting[waiter.caller]
            if waiter.future.done():  # gave up meanwhile
                continue
            self._free -= 1
            if waiter.lane is Lane.SUSPECT:
                self._suspect_running[waiter.caller] += 1
            waiter.future.set_result(None)

    def _next(self) -> _Waiter | None:
        for lane, callers in self._lanes.items():
            for caller in list(callers):
                if lane is Lane.SUSPECT and self._suspect_running[caller]:
                    continue  # one check at a time for a caller with failures
                keys = callers[caller]
                key, queue = next(iter(keys.items()))
                waiter = queue.popleft()
                if queue:
                    keys.move_to_end(key)  # the caller's next patron ID goes next time
                else:
                    del keys[key]
                if keys:
                    callers.move_to_end(caller)  # the next caller goes next time
                else:
                    del callers[caller]
                return waiter
        return None

    def _drop(self, lane: Lane, caller: str, key: str, waiter: _Waiter) -> None:
        keys = self._lanes[lane].get(caller)
        queue = keys.get(key) if keys is not None else None
        if keys is None or queue is None or waiter not in queue:
            return
        queue.remove(waiter)
        self._waiting[caller] -= 1
        if not self._waiting[caller]:
            del self._waiting[caller]
        if not queue:
            del keys[key]
            if not keys:
                del self._lanes[lane][caller]
