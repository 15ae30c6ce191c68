"""A circuit breaker in front of the patron system.

When the library's patron system fails or answers too slowly, asking it again for every tap
and login only piles up waiting patrons and load on a sick server. After a run of failures the
breaker opens: every request is refused at once with `patron_system_unavailable` (fail secure:
no door opens), and after a pause one trial request is let through; its success closes the
breaker again.
"""

from __future__ import annotations

from enum import StrEnum

from .errors import Reason, Refused

DEFAULT_FAILURES_TO_OPEN = 5
DEFAULT_OPEN_SECONDS = 30.0
DEFAULT_SLOW_SECONDS = 4.0


class BreakerState(StrEnum):
    """Closed: requests flow. Open: refused at once. Half open: one trial in flight."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Count consecutive failures; time is passed in (monotonic seconds)."""

    def __init__(
        self,
        *,
        failures_to_open: int = DEFAULT_FAILURES_TO_OPEN,
        open_seconds: float = DEFAULT_OPEN_SECONDS,
        slow_seconds: float = DEFAULT_SLOW_SECONDS,
    ) -> None:
        if failures_to_open < 1 or open_seconds <= 0 or slow_seconds <= 0:
            raise ValueError("breaker limits must be positive")
        self.failures_to_open = failures_to_open
        self.open_seconds = open_seconds
        self.slow_seconds = slow_seconds
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_in_flight = False

    def state(self, now: float) -> BreakerState:
        """Where the breaker stands at `now`."""
        if self._opened_at is None:
            return BreakerState.CLOSED
        if self._trial_in_flight or now - self._opened_at >= self.open_seconds:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def allow(self, now: float) -> None:
        """Let a request through, or refuse it while the breaker is open."""
        state = self.state(now)
        if state is BreakerState.CLOSED:
            return
        if state is BreakerState.HALF_OPEN and not self._trial_in_flight:
            self._trial_in_flight = True
            return
        raise Refused(Reason.PATRON_SYSTEM_UNAVAILABLE)

    def record(self, now: float, *, ok: bool, elapsed: float = 0.0) -> None:
        """The outcome of a request that `allow` let through; too slow counts as a failure."""
        self._trial_in_flight = False
        if ok and elapsed < self.slow_seconds:
            self._failures = 0
            self._opened_at = None
            return
        self._failures += 1
        if self._opened_at is not None or self._failures >= self.failures_to_open:
            self._opened_at = now

    def trip(self, now: float) -> None:
        """Open at once: the system was found down by a health check."""
        self._failures = max(self._failures, self.failures_to_open)
        self._opened_at = now

    def reset(self) -> None:
        """Close at once: the system was found answering by a health check."""
        self._failures = 0
        self._opened_at = None
        self._trial_in_flight = False

    def release(self) -> None:
        """A request ended without telling anything about the system (e.g. cancelled)."""
        self._trial_in_flight = False
