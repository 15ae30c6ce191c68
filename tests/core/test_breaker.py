"""The circuit breaker in front of the patron system: fail secure, recover by itself."""

from __future__ import annotations

import pytest

from custom_components.ntnu_library.core.breaker import BreakerState, CircuitBreaker
from custom_components.ntnu_library.core.errors import Reason, Refused


def _fail(breaker: CircuitBreaker, now: float, times: int) -> None:
    for _ in range(times):
        breaker.allow(now)
        breaker.record(now, ok=False)


def test_a_healthy_system_is_always_asked() -> None:
    breaker = CircuitBreaker(failures_to_open=3)
    for second in range(100):
        breaker.allow(second)
        breaker.record(second, ok=True, elapsed=0.2)
    assert breaker.state(100) is BreakerState.CLOSED


def test_failures_below_the_limit_keep_it_closed_and_a_success_resets_the_count() -> None:
    breaker = CircuitBreaker(failures_to_open=3)
    _fail(breaker, 0, 2)
    breaker.allow(1)
    breaker.record(1, ok=True)
    _fail(breaker, 2, 2)
    assert breaker.state(3) is BreakerState.CLOSED


def test_it_opens_after_a_run_of_failures_and_refuses_at_once() -> None:
    breaker = CircuitBreaker(failures_to_open=3, open_seconds=30)
    _fail(breaker, 0, 3)
    assert breaker.state(1) is BreakerState.OPEN
    with pytest.raises(Refused) as refused:
        breaker.allow(29.9)
    assert refused.value.reason is Reason.PATRON_SYSTEM_UNAVAILABLE


def test_slow_answers_count_as_failures() -> None:
    breaker = CircuitBreaker(failures_to_open=2, slow_seconds=4)
    for now in (0, 1):
        breaker.allow(now)
        breaker.record(now, ok=True, elapsed=5)
    assert breaker.state(2) is BreakerState.OPEN


def test_after_the_pause_one_trial_goes_through_and_its_success_closes_it() -> None:
    breaker = CircuitBreaker(failures_to_open=1, open_seconds=30)
    _fail(breaker, 0, 1)
    breaker.allow(30)  # the trial
    with pytest.raises(Refused):
        breaker.allow(30.5)  # only one trial at a time
    breaker.record(31, ok=True)
    assert breaker.state(31) is BreakerState.CLOSED
    breaker.allow(31)


def test_a_failed_trial_opens_it_for_another_pause() -> None:
    breaker = CircuitBreaker(failures_to_open=1, open_seconds=30)
    _fail(breaker, 0, 1)
    breaker.allow(30)
    breaker.record(31, ok=False)
    assert breaker.state(40) is BreakerState.OPEN
    with pytest.raises(Refused):
        breaker.allow(60)
    breaker.allow(61)


def test_a_cancelled_trial_frees_the_slot() -> None:
    breaker = CircuitBreaker(failures_to_open=1, open_seconds=30)
    _fail(breaker, 0, 1)
    breaker.allow(30)
    breaker.release()
    breaker.allow(30.1)


@pytest.mark.parametrize(
    "limits",
    [{"failures_to_open": 0}, {"open_seconds": 0}, {"slow_seconds": -1}],
)
def test_nonsense_limits_are_refused(limits: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        CircuitBreaker(**limits)  # type: ignore[arg-type]
