"""Login throttling (OWASP ASVS 2.2.1), pure: the caller passes the time.

Per patron ID: the first few failures are free, then each attempt waits 1 s, 2 s, 4 s … (capped),
and never more than `hourly_limit` failures in a rolling hour. Attempts still being checked count
too, so a burst of parallel requests cannot slip past the limits while bcrypt or SIP2 is busy.

Per client address only a soft delay of a second or two: a whole library shares one NAT
address, so an address is never locked out.

A patron's own known browser (a device credential the page checked) has an allowance of its
own: its attempts count against that device only, never against the patron's shared limit,
so someone else's guesses cannot lock the patron out of their own phone (OWASP's device
cookies). The caller keys patron IDs as it likes (the run time keys them by a keyed hash, so
nothing typed is kept as typed).

`now` is seconds on a monotonic clock (`time.monotonic()`). Memory is bounded: idle entries are
pruned as time passes and the number of tracked IDs and addresses is capped.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
import hashlib
from itertools import islice
import math
from typing import Any

from .errors import Reason, Refused
from .identity import normalize_patron_id

STORAGE_FORMAT = 1

# Keys longer than any real ID or address are hashed, so junk input cannot make entries large.
_MAX_KEY_LENGTH = 64
# How many of the oldest patron entries to look at for a harmless one to evict.
_EVICTION_SCAN = 64
# Entries written to the Store at most; the worst offenders matter most after a restart.
_MAX_PERSISTED = 1000


def _key(patron_id: str, device: str | None) -> str:
    """The table's key: the patron's, or (from their known browser) that device's own."""
    key = _bounded(normalize_patron_id(patron_id))
    return key if device is None else _bounded(f"{key}@{device}")


def _bounded(key: str) -> str:
    if len(key) <= _MAX_KEY_LENGTH:
        return key
    return "#" + hashlib.blake2b(key.encode(), digest_size=16).hexdigest()


@dataclass(slots=True)
class _PatronState:
    failures: deque[float]  # the latest failures, oldest first (at most hourly_limit)
    streak: int = 0  # failures since the last success: drives the backoff
    pending: list[float] = field(default_factory=list)  # attempts being checked, by start
    seen: float = 0.0  # last write: the table is ordered by it


@dataclass(slots=True)
class _AddressState:
    score: float
    updated: float


class LoginThrottle:
    """Backoff and hourly cap per patron ID, soft delay per client address."""

    def __init__(
        self,
        *,
        free_failures: int = 5,
        base_delay: float = 1.0,
        max_delay: float = 900.0,
        hourly_limit: int = 100,
        window: float = 3600.0,
        attempt_timeout: float = 30.0,
        address_free_failures: int = 10,
        address_delay_step: float = 0.25,
        address_max_delay: float = 2.0,
        address_decay: float = 0.2,
        address_suspect_window: float = 900.0,
        max_patrons: int = 10_000,
        max_addresses: int = 10_000,
    ) -> None:
        """Set the limits: 100 failures an hour per ID, backoff after 5, a soft address delay."""
        if not 0 < max_delay <= window:
            # Pruning an entry idle for a window relies on its backoff having ended by then.
            raise ValueError("max_delay must be positive and at most the window")
        if not 0 < attempt_timeout <= window:
            raise ValueError("attempt_timeout must be positive and at most the window")
        if min(free_failures, hourly_limit - 1, max_patrons - 1, max_addresses - 1) < 0:
            raise ValueError("limits must be positive")
        if base_delay <= 0 or address_decay <= 0 or address_delay_step <= 0:
            raise ValueError("delays and decay must be positive")
        self.free_failures = free_failures
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.hourly_limit = hourly_limit
        self.window = window
        self.attempt_timeout = attempt_timeout
        self.address_free_failures = address_free_failures
        self.address_delay_step = address_delay_step
        self.address_max_delay = address_max_delay
        self.address_decay = address_decay
        self.address_suspect_window = address_suspect_window
        self.max_patrons = max_patrons
        self.max_addresses = max_addresses
        # Failures of one ID worth keeping on disk: fewer cost at most the free ones if lost.
        self._worth = min(free_failures, hourly_limit)
        # A score above this adds no delay, only a longer recovery: cap it.
        self._address_score_cap = address_free_failures + address_max_delay / address_delay_step
        self._patrons: OrderedDict[str, _PatronState] = OrderedDict()
        self._addresses: OrderedDict[str, _AddressState] = OrderedDict()
        self._now = 0.0
        # Entries loaded from the Store carry times relative to 0 until the first call says
        # what "now" is on this boot's monotonic clock.
        self._rebase = False

    # --- the three calls of a login ---------------------------------------------------------

    def check(
        self, patron_id: str, address: str | None, now: float, *, device: str | None = None
    ) -> float:
        """Return the seconds to wait before checking the password, or refuse the attempt.

        Raises Refused(TOO_MANY_ATTEMPTS, retry_after=seconds) while the ID (or, from the
        patron's known browser, that `device`) is backing off or has used its hourly failures.
        An allowed attempt is "being checked" until `failure`, `success` or `release` (or
        `attempt_timeout`).
        """
        now = self._tick(now)
        key = _key(patron_id, device)
        state = self._patrons.get(key)
        if state is None:
            state = self._insert(key)
        else:
            self._expire(state, now)
            wait = self._wait(state, now)
            if wait > 0:
                raise Refused(Reason.TOO_MANY_ATTEMPTS, retry_after=str(max(1, math.ceil(wait))))
        state.pending.append(now)
        self._touch(key, state, now)
        return self.address_delay(address, now)

    def failure(
        self, patron_id: str, address: str | None, now: float, *, device: str | None = None
    ) -> bool:
        """Record a wrong ID or password; True when the Store must now have it (`as_dict`).

        The first free failures of an ID are not kept (losing them costs at most those), so a
        flood of made-up IDs, each failing once, needs no write at all.
        """
        now, key, state = self._end_attempt(_key(patron_id, device), now, create=True)
        assert state is not None
        state.failures.append(now)
        # Past the cap the delay no longer grows; bounding the count keeps the Store small.
        state.streak = min(state.streak + 1, self.free_failures + 64)
        self._touch(key, state, now)
        self._address_failure(address, now)
        return max(state.streak, len(state.failures)) >= self._worth

    def success(
        self, patron_id: str, address: str | None, now: float, *, device: str | None = None
    ) -> None:
        """Record a good login: the backoff ends, the hourly count stays."""
        del address  # a success from a shared address must not clear others' failures
        now, key, state = self._end_attempt(_key(patron_id, device), now)
        if state is None:
            return
        state.streak = 0
        self._touch(key, state, now)
        self._forget_if_idle(key, state)

    def release(
        self, patron_id: str, address: str | None, now: float, *, device: str | None = None
    ) -> None:
        """End an attempt that reached no verdict (patron system down, request cancelled)."""
        del address
        _, key, state = self._end_attempt(_key(patron_id, device), now)
        if state is not None:
            self._forget_if_idle(key, state)

    def clear(self, patron_id: str) -> bool:
        """Forget a patron's failures (staff at the counter); True if there were any."""
        key = _key(patron_id, None)
        state = self._patrons.get(key)
        if state is None or not (state.failures or state.streak):
            return False
        state.failures.clear()
        state.streak = 0
        self._forget_if_idle(key, state)
        return True

    def _end_attempt(
        self, key: str, now: float, *, create: bool = False
    ) -> tuple[float, str, _PatronState | None]:
        """The patron's (or device's) state with its oldest attempt in flight taken off."""
        now = self._tick(now)
        state = self._patrons.get(key)
        if state is None and create:
            state = self._insert(key)
        if state is not None:
            self._expire(state, now)
            if state.pending:
                state.pending.pop(0)
        return now, key, state

    # --- what the numbers are ---------------------------------------------------------------

    def backoff(self, streak: int) -> float:
        """Return the wait after `streak` failures in a row: 0 while free, then 1, 2, 4 … s."""
        if streak <= self.free_failures:
            return 0.0
        exponent = min(streak - self.free_failures - 1, 60)  # 2**60 s is past any cap
        return float(min(self.base_delay * 2.0**exponent, self.max_delay))

    def address_delay(self, address: str | None, now: float) -> float:
        """Return the soft delay for a client address: 0 s up to `address_max_delay`."""
        if not address:
            return 0.0
        state = self._addresses.get(_bounded(address.strip().lower()))
        if state is None:
            return 0.0
        score = self._decayed(state, now)
        excess = score - self.address_free_failures
        if excess <= 0:
            return 0.0
        return min(self.address_max_delay, excess * self.address_delay_step)

    def address_failed(self, address: str | None, now: float) -> bool:
        """Whether this address (or caller) failed a login in the last `address_suspect_window`.

        Longer than its soft delay lasts: a flood from many addresses fails each of them only
        now and then, and must stay behind the addresses that failed nothing meanwhile.
        """
        state = self._addresses.get(_bounded(address.strip().lower())) if address else None
        return state is not None and now - state.updated < self.address_suspect_window

    def failures_in_window(self, now: float) -> tuple[int, int]:
        """Failed logins in the last window, and how many IDs (or devices) they were for."""
        counts = self.failures_per_key(now)
        return sum(counts.values()), len(counts)

    def failures_per_key(self, now: float) -> dict[str, int]:
        """Failed logins in the last window per key that has any (the caller's keys)."""
        horizon = self._tick(now) - self.window
        counts = {
            key: sum(1 for t in state.failures if t > horizon)
            for key, state in self._patrons.items()
        }
        return {key: count for key, count in counts.items() if count}

    def lock_status(self, patron_id: str, now: float) -> tuple[int, float]:
        """A patron's failed logins in the last window, and the seconds their ID must wait.

        What counter staff see before clearing the lock; it changes nothing.
        """
        now = self._tick(now)
        state = self._patrons.get(_key(patron_id, None))
        if state is None:
            return 0, 0.0
        horizon = now - self.window
        failures = sum(1 for t in state.failures if t > horizon)
        wait = 0.0
        if failures:
            wait = state.failures[-1] + self.backoff(state.streak) - now
        if failures >= self.hourly_limit:
            wait = max(wait, state.failures[0] + self.window - now)
        return failures, max(0.0, wait)

    @property
    def tracked_patrons(self) -> int:
        """How many patron IDs are tracked (for diagnostics; never the IDs themselves)."""
        return len(self._patrons)

    @property
    def tracked_addresses(self) -> int:
        """How many client addresses are tracked."""
        return len(self._addresses)

    # --- persistence --------------------------------------------------------------------------

    def as_dict(self, now: float | None = None) -> dict[str, Any]:
        """Return what the Store keeps: the IDs that earned a delay, with failure ages.

        Times are kept as ages because a monotonic clock restarts with the machine; the
        downtime is not counted when they are read back, which errs on the side of the limit.
        """
        ref = self._now if now is None else max(now, self._now)
        if self._rebase:
            ref = 0.0  # nothing told us this boot's clock yet: the loaded times are ages
        saved: dict[str, Any] = {}
        for key, state in reversed(self._patrons.items()):  # most recent first
            failures = [t for t in state.failures if t > ref - self.window]
            if not failures or max(state.streak, len(failures)) < self._worth:
                continue  # losing it costs at most the free failures
            saved[key] = {
                "streak": state.streak,
                "failures": [round(ref - t, 3) for t in failures],
            }
            if len(saved) >= _MAX_PERSISTED:
                break
        return {"format": STORAGE_FORMAT, "patrons": saved}

    @classmethod
    def from_dict(
        cls,
        data: Mapping[str, Any],
        now: float | None = None,
        *,
        rekey: Callable[[str], str] | None = None,
        **options: Any,
    ) -> LoginThrottle:
        """Rebuild a throttle from `as_dict`; anything unreadable is dropped, never fatal.

        Without `now` the saved ages are placed on the clock of the first call. `rekey` turns
        each saved key into the key the caller uses now (IDs kept as typed by an older
        release become keyed hashes).
        """
        throttle = cls(**options)
        if not isinstance(data, Mapping) or data.get("format") != STORAGE_FORMAT:
            return throttle
        patrons = data.get("patrons")
        if not isinstance(patrons, Mapping):
            return throttle
        loaded: list[tuple[float, str, _PatronState]] = []
        for key, raw in patrons.items():
            state = throttle._load_entry(raw)
            if isinstance(key, str) and state is not None:
                key = rekey(key) if rekey is not None else key
                loaded.append((state.seen, _key(key, None), state))
        loaded.sort(key=lambda item: item[0])  # the table is ordered by last write
        for _, key, state in loaded[-throttle.max_patrons :]:
            throttle._patrons[key] = state
        if now is None:
            throttle._rebase = bool(throttle._patrons)
        else:
            throttle._shift(now)
            throttle._now = now
        return throttle

    def _load_entry(self, raw: Any) -> _PatronState | None:
        if not isinstance(raw, Mapping):
            return None
        streak, ages = raw.get("streak"), raw.get("failures")
        if not isinstance(streak, int) or not isinstance(ages, list) or not ages:
            return None
        if not all(isinstance(a, int | float) and 0 <= a < self.window for a in ages):
            return None
        times = sorted(-float(a) for a in ages)[-self.hourly_limit :]
        return _PatronState(
            failures=deque(times, maxlen=self.hourly_limit),
            streak=max(0, min(streak, self.free_failures + 64)),
            seen=times[-1],
        )

    # --- inside ---------------------------------------------------------------------------------

    def _tick(self, now: float) -> float:
        """Advance the clock (never backwards) and prune what has gone idle."""
        if self._rebase:
            self._shift(now)
            self._rebase = False
        now = max(now, self._now)
        self._now = now
        # The table is ordered by last write, so the idle entries are at its front.
        horizon = now - self.window
        while self._patrons:
            key, state = next(iter(self._patrons.items()))
            if state.seen > horizon:
                break
            del self._patrons[key]
        quiet = now - max(self._address_score_cap / self.address_decay, self.address_suspect_window)
        while self._addresses:
            key, address = next(iter(self._addresses.items()))
            if address.updated > quiet:
                break
            del self._addresses[key]
        return now

    def _shift(self, now: float) -> None:
        for state in self._patrons.values():
            state.failures = deque((t + now for t in state.failures), maxlen=self.hourly_limit)
            state.pending = [t + now for t in state.pending]
            state.seen += now

    def _insert(self, key: str) -> _PatronState:
        if len(self._patrons) >= self.max_patrons:
            self._evict()
        state = _PatronState(failures=deque(maxlen=self.hourly_limit))
        self._patrons[key] = state
        return state

    def _evict(self) -> None:
        # Prefer the oldest entry that has not earned a delay yet: evicting a junk ID costs
        # nothing, evicting an ID under attack would hand the attacker fresh attempts.
        for key, state in islice(self._patrons.items(), _EVICTION_SCAN):
            if state.streak + len(state.pending) < self.free_failures:
                del self._patrons[key]
                return
        self._patrons.popitem(last=False)

    def _touch(self, key: str, state: _PatronState, now: float) -> None:
        state.seen = now
        self._patrons.move_to_end(key)

    def _expire(self, state: _PatronState, now: float) -> None:
        while state.failures and state.failures[0] <= now - self.window:
            state.failures.popleft()
        if not state.failures:
            state.streak = 0  # a quiet hour forgives the streak
        if state.pending and state.pending[0] <= now - self.attempt_timeout:
            state.pending = [t for t in state.pending if t > now - self.attempt_timeout]

    def _wait(self, state: _PatronState, now: float) -> float:
        wait = 0.0
        if state.failures:
            wait = state.failures[-1] + self.backoff(state.streak) - now
        if len(state.failures) >= self.hourly_limit:
            wait = max(wait, state.failures[0] + self.window - now)
        elif state.pending and (
            len(state.failures) + len(state.pending) >= self.hourly_limit
            or state.streak + len(state.pending) >= self.free_failures
        ):
            # Another attempt for this ID is being checked and this one could be the failure
            # that crosses a limit: one at a time from here.
            wait = max(wait, 1.0)
        return wait

    def _forget_if_idle(self, key: str, state: _PatronState) -> None:
        if not state.streak and not state.pending and not state.failures:
            del self._patrons[key]

    def _decayed(self, state: _AddressState, now: float) -> float:
        return max(0.0, state.score - (now - state.updated) * self.address_decay)

    def _address_failure(self, address: str | None, now: float) -> None:
        if not address:
            return
        key = _bounded(address.strip().lower())
        state = self._addresses.get(key)
        if state is None:
            if len(self._addresses) >= self.max_addresses:
                self._addresses.popitem(last=False)  # only a soft delay is lost
            state = self._addresses[key] = _AddressState(score=0.0, updated=now)
        state.score = min(self._decayed(state, now) + 1.0, self._address_score_cap)
        state.updated = now
        self._addresses.move_to_end(key)
