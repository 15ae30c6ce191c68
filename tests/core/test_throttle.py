"""Login throttling (OWASP ASVS 2.2.1).

Per patron ID: exponential backoff and at most 100 failures an hour. Per client address only a
soft delay: a whole library shares one NAT address and must never be locked out.
"""

from __future__ import annotations

import json

from hypothesis import given, settings, strategies as st
import pytest

from custom_components.ntnu_library.core.errors import Reason, Refused
from custom_components.ntnu_library.core.identity import normalize_patron_id
from custom_components.ntnu_library.core.throttle import LoginThrottle

LIBRARY_NAT = "140.122.1.1"  # every patron in the building arrives from this address
T0 = 10_000.0
HOUR = 3600.0


def retry_after(throttle: LoginThrottle, patron_id: str, now: float) -> int:
    """Return the retry_after of a refused check (fails the test if the check is allowed)."""
    with pytest.raises(Refused) as err:
        throttle.check(patron_id, LIBRARY_NAT, now)
    assert err.value.reason is Reason.TOO_MANY_ATTEMPTS
    assert set(err.value.placeholders) == {"retry_after"}
    return int(err.value.placeholders["retry_after"])


def fail(throttle: LoginThrottle, patron_id: str, now: float) -> float:
    """Return the delay of one allowed attempt that turns out wrong."""
    delay = throttle.check(patron_id, LIBRARY_NAT, now)
    throttle.failure(patron_id, LIBRARY_NAT, now)
    return delay


def attempt(throttle: LoginThrottle, patron_id: str, now: float, *, right: bool = False) -> bool:
    """Return whether an attempt got past the throttle (then record its verdict)."""
    try:
        throttle.check(patron_id, LIBRARY_NAT, now)
    except Refused:
        return False
    if right:
        throttle.success(patron_id, LIBRARY_NAT, now)
    else:
        throttle.failure(patron_id, LIBRARY_NAT, now)
    return True


# --- per patron ID: backoff ---------------------------------------------------------------------


def test_the_first_failures_are_free() -> None:
    throttle = LoginThrottle()
    for n in range(throttle.free_failures):
        assert fail(throttle, "S0001", T0 + n) == 0.0
    assert throttle.check("S0001", LIBRARY_NAT, T0 + 10) == 0.0


def test_backoff_doubles_then_stops_at_the_cap() -> None:
    throttle = LoginThrottle(hourly_limit=10_000)
    now = T0
    for _ in range(throttle.free_failures):
        fail(throttle, "S0001", now)
    waits = []
    for _ in range(14):
        fail(throttle, "S0001", now)
        waits.append(retry_after(throttle, "S0001", now))
        now += waits[-1]
    assert waits == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900, 900, 900]


def test_a_refused_attempt_is_refused_until_the_wait_is_over() -> None:
    throttle = LoginThrottle()
    for n in range(throttle.free_failures + 3):  # three past the free ones: 4 s
        throttle.failure("S0001", None, T0 + n * 0.001)
    last = T0 + (throttle.free_failures + 2) * 0.001
    assert retry_after(throttle, "S0001", last + 1) == 3
    assert retry_after(throttle, "S0001", last + 3.5) == 1
    assert throttle.check("S0001", LIBRARY_NAT, last + 4) == 0.0


def test_one_thousand_wrong_attempts_are_refused_and_slowed() -> None:
    throttle = LoginThrottle()
    now, allowed, refused = T0, 0, 0
    for _ in range(1000):  # one attempt every 100 ms: a script, not a person
        if attempt(throttle, "S0001", now):
            allowed += 1
        else:
            refused += 1
        now += 0.1
    # 100 s of hammering: the free failures, then 1+2+4+8+16+32 s of waits.
    assert allowed <= throttle.free_failures + 7
    assert refused >= 988
    # The waits are still growing: the next one is over a minute.
    assert throttle.backoff(allowed) >= 60
    assert retry_after(throttle, "S0001", now) >= 1


def test_the_right_password_works_after_the_wait_and_clears_the_backoff() -> None:
    throttle = LoginThrottle()
    now = T0
    for _ in range(1000):
        attempt(throttle, "S0001", now)
        now += 0.1
    now += retry_after(throttle, "S0001", now)
    assert attempt(throttle, "S0001", now, right=True)
    # The backoff is over: the patron may mistype again without waiting.
    assert attempt(throttle, "S0001", now + 1)
    assert attempt(throttle, "S0001", now + 2, right=True)


def test_other_patrons_are_unaffected() -> None:
    throttle = LoginThrottle()
    now = T0
    for _ in range(1000):
        attempt(throttle, "S0001", now)
        now += 0.1
    retry_after(throttle, "S0001", now)
    for n, other in enumerate(["G0001", "D0001", "F0001"]):
        delay = throttle.check(other, LIBRARY_NAT, now + n)
        assert delay <= throttle.address_max_delay
        throttle.success(other, LIBRARY_NAT, now + n)


def test_a_quiet_hour_forgives_the_streak() -> None:
    throttle = LoginThrottle()
    for n in range(throttle.free_failures + 5):
        throttle.failure("S0001", None, T0 + n)
    later = T0 + HOUR + 100
    assert throttle.check("S0001", None, later) == 0.0
    throttle.failure("S0001", None, later)
    assert throttle.check("S0001", None, later) == 0.0  # back to the free failures


# --- per patron ID: the hourly cap -----------------------------------------------------------------


def test_at_most_one_hundred_failures_an_hour() -> None:
    # No backoff at all, so only the hourly cap limits.
    throttle = LoginThrottle(free_failures=100_000)
    allowed = [T0 + n * 10 for n in range(100)]  # one every 10 s: 990 s for all of them
    for now in allowed:
        fail(throttle, "S0001", now)
    now = allowed[-1] + 1
    assert retry_after(throttle, "S0001", now) == HOUR - (now - T0)
    # A success ends a backoff, not the hourly count.
    throttle.success("S0001", LIBRARY_NAT, now)
    retry_after(throttle, "S0001", now + 60)
    # The window slides: when the first failure is an hour old, one more attempt is allowed.
    assert attempt(throttle, "S0001", T0 + HOUR)
    retry_after(throttle, "S0001", T0 + HOUR)
    assert attempt(throttle, "S0001", T0 + HOUR + 10)


def test_the_cap_holds_however_the_attempts_are_spread() -> None:
    throttle = LoginThrottle(free_failures=100_000)
    accepted = [now for now in range(0, 2 * int(HOUR), 7) if attempt(throttle, "S0001", T0 + now)]
    for start in accepted:
        in_window = [t for t in accepted if start <= t < start + HOUR]
        assert len(in_window) <= 100


# --- parallel attempts ----------------------------------------------------------------------------


def test_a_burst_of_parallel_attempts_cannot_pass_the_free_failures() -> None:
    """1,000 requests arrive while bcrypt is busy: only the free ones get to it."""
    throttle = LoginThrottle()
    reasons = []
    for _ in range(1000):
        try:
            throttle.check("S0001", LIBRARY_NAT, T0)
        except Refused as err:
            reasons.append(err.reason)
    passed = 1000 - len(reasons)
    assert passed == throttle.free_failures
    assert set(reasons) == {Reason.TOO_MANY_ATTEMPTS}
    for _ in range(passed):
        throttle.failure("S0001", LIBRARY_NAT, T0 + 0.2)
    # The burst used the free failures; one more at a time, then the backoff begins.
    assert attempt(throttle, "S0001", T0 + 1)
    assert retry_after(throttle, "S0001", T0 + 1) == 1


def test_a_burst_cannot_pass_the_hourly_cap() -> None:
    throttle = LoginThrottle(free_failures=100_000)
    passed = 0
    for _ in range(1000):
        try:
            throttle.check("S0001", LIBRARY_NAT, T0)
        except Refused:
            continue
        passed += 1
    assert passed == 100


def test_an_abandoned_attempt_is_released() -> None:
    throttle = LoginThrottle()
    for _ in range(throttle.free_failures):
        fail(throttle, "S0001", T0)
    throttle.check("S0001", LIBRARY_NAT, T0)  # patron system down: no verdict ever comes
    retry_after(throttle, "S0001", T0 + 1)
    assert throttle.check("S0001", LIBRARY_NAT, T0 + throttle.attempt_timeout + 1) == 0.0
    retry_after(throttle, "S0001", T0 + throttle.attempt_timeout + 1)
    throttle.release("S0001", LIBRARY_NAT, T0 + throttle.attempt_timeout + 2)
    assert throttle.check("S0001", LIBRARY_NAT, T0 + throttle.attempt_timeout + 2) == 0.0


@settings(max_examples=200, deadline=None)
@given(
    steps=st.lists(
        st.tuples(
            st.floats(min_value=0, max_value=30, allow_nan=False),
            st.sampled_from(["wrong", "right", "abandon", "burst"]),
        ),
        max_size=300,
    )
)
def test_whatever_the_attacker_does_the_limits_hold(steps: list[tuple[float, str]]) -> None:
    """Property: never more failures in a window than the cap, never a failure too early."""
    throttle = LoginThrottle(
        free_failures=3, base_delay=1, max_delay=16, hourly_limit=10, window=100, attempt_timeout=5
    )
    now = 0.0
    failures: list[float] = []
    streak = 0
    for gap, action in steps:
        now += gap
        count = 5 if action == "burst" else 1
        allowed, waits = 0, []
        for _ in range(count):
            try:
                throttle.check("S0001", None, now)
            except Refused as err:
                waits.append(int(err.placeholders["retry_after"]))
            else:
                allowed += 1
        assert all(wait >= 1 for wait in waits)
        for _ in range(allowed):
            if action == "right":
                throttle.success("S0001", None, now)
                streak = 0
            elif action == "abandon":
                throttle.release("S0001", None, now)
            else:
                if failures and streak >= 3 and now - failures[-1] > 0:
                    assert now - failures[-1] >= throttle.backoff(streak) - 1e-9
                if failures and now - failures[-1] >= 100:
                    streak = 0
                failures.append(now)
                streak += 1
                throttle.failure("S0001", None, now)
        recent = [t for t in failures if t > now - 100]
        assert len(recent) <= 10


# --- per client address: a soft delay, never a lockout -------------------------------------------


def test_the_address_delay_is_soft_and_capped() -> None:
    """A password-spraying script behind the library's NAT slows the building a little."""
    throttle = LoginThrottle()
    now = T0
    for n in range(10_000):  # every ID once, from the one address everybody shares
        delay = fail(throttle, f"S{n:05d}", now)
        assert 0.0 <= delay <= throttle.address_max_delay
        now += 0.01
    # Patrons behind the same NAT still get in, after at most two seconds.
    delay = throttle.check("G0001", LIBRARY_NAT, now)
    assert 1.99 <= delay <= throttle.address_max_delay == 2.0
    throttle.success("G0001", LIBRARY_NAT, now)
    # Another address is not slowed at all.
    assert throttle.check("D0001", "10.0.0.7", now) == 0.0
    # And the delay fades when the failures stop.
    assert throttle.address_delay(LIBRARY_NAT, now + 30) < 2.0
    assert throttle.address_delay(LIBRARY_NAT, now + 120) == 0.0


def test_ordinary_typos_in_a_busy_library_cost_nothing() -> None:
    throttle = LoginThrottle()
    now = T0
    for n in range(600):  # a typo every 10 s all day long: 6 a minute
        assert fail(throttle, f"S{n:05d}", now) == 0.0
        now += 10


def test_no_address_no_delay() -> None:
    throttle = LoginThrottle()
    for n in range(100):
        throttle.failure(f"S{n}", None, T0)
    assert throttle.check("G0001", None, T0) == 0.0
    assert throttle.check("G0002", "", T0) == 0.0


# --- memory -------------------------------------------------------------------------------------------


def test_a_million_junk_ids_cannot_grow_memory() -> None:
    throttle = LoginThrottle()
    now = T0
    for n in range(1_000_000):
        junk = f"JUNK{n}"
        throttle.check(junk, f"10.{n % 250}.{n // 250 % 250}.1", now)
        throttle.failure(junk, f"10.{n % 250}.{n // 250 % 250}.1", now)
        now += 0.001
    assert throttle.tracked_patrons <= throttle.max_patrons
    assert throttle.tracked_addresses <= throttle.max_addresses


def test_a_flood_of_junk_ids_does_not_free_a_patron_under_attack() -> None:
    throttle = LoginThrottle(max_patrons=100)
    for _ in range(throttle.free_failures + 8):
        throttle.failure("S0001", None, T0)
    assert retry_after(throttle, "S0001", T0) > 100
    for n in range(10_000):
        throttle.failure(f"JUNK{n}", None, T0 + 1)
    assert throttle.tracked_patrons <= 100
    assert retry_after(throttle, "S0001", T0 + 2) > 100


def test_idle_entries_are_pruned() -> None:
    throttle = LoginThrottle()
    for n in range(500):
        fail(throttle, f"S{n:04d}", T0)
    assert throttle.tracked_patrons == 500
    assert throttle.tracked_addresses == 1
    throttle.check("G0001", None, T0 + HOUR + 1)
    assert throttle.tracked_patrons == 1
    assert throttle.tracked_addresses == 0


def test_a_good_login_leaves_nothing_behind() -> None:
    throttle = LoginThrottle()
    for n in range(1000):
        assert attempt(throttle, f"S{n:04d}", T0, right=True)
    assert throttle.tracked_patrons == 0


def test_huge_ids_are_kept_small() -> None:
    throttle = LoginThrottle()
    for n in range(throttle.free_failures + 2):
        throttle.failure("A" * 1_000_000, "x" * 100_000, T0 + n)
    saved = throttle.as_dict(T0 + 10)
    assert len(json.dumps(saved)) < 500
    retry_after(throttle, "a" * 1_000_000, T0 + 6)


# --- patron IDs are normalised in one place --------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "expected"),
    [(" s0001 ", "S0001"), ("S0001", "S0001"), ("ｓ０００１", "S0001"), ("\tg0001\n", "G0001")],
)
def test_normalize_patron_id(typed: str, expected: str) -> None:
    assert normalize_patron_id(typed) == expected
    assert normalize_patron_id(normalize_patron_id(typed)) == expected


def test_the_same_patron_however_the_id_is_typed() -> None:
    throttle = LoginThrottle()
    for n, typed in enumerate(["s0001", " S0001", "ｓ０００１", "S0001 ", "s0001", "S0001"]):
        throttle.failure(typed, None, T0 + n * 0.01)
    retry_after(throttle, "S0001", T0 + 0.1)


# --- persistence across restarts --------------------------------------------------------------------


def locked_throttle() -> tuple[LoginThrottle, float]:
    throttle = LoginThrottle()
    now = T0
    for _ in range(throttle.free_failures + 6):  # a 32 s wait
        throttle.failure("S0001", LIBRARY_NAT, now)
    throttle.failure("G0001", LIBRARY_NAT, now)  # a single typo is not worth saving
    return throttle, now


def test_a_backoff_survives_a_restart() -> None:
    throttle, now = locked_throttle()
    saved = json.loads(json.dumps(throttle.as_dict(now + 2)))
    assert set(saved["patrons"]) == {"S0001"}
    # The next boot's monotonic clock starts anywhere.
    restored = LoginThrottle.from_dict(saved, now=50.0)
    assert retry_after(restored, "S0001", 50.0) == 30
    assert restored.check("S0001", None, 50.0 + 30) == 0.0


def test_restored_without_a_clock_waits_for_the_first_call() -> None:
    throttle, now = locked_throttle()
    restored = LoginThrottle.from_dict(throttle.as_dict(now + 2))
    assert restored.as_dict() == throttle.as_dict(now + 2)
    assert retry_after(restored, "S0001", 7.0) == 30
    assert restored.as_dict(8.0)["patrons"]["S0001"]["failures"][0] == pytest.approx(3.0)


def test_the_hourly_count_survives_a_restart() -> None:
    throttle = LoginThrottle(free_failures=100_000)
    for n in range(100):
        throttle.failure("S0001", None, T0 + n)
    restored = LoginThrottle.from_dict(throttle.as_dict(T0 + 100), 0.0, free_failures=100_000)
    assert retry_after(restored, "S0001", 0.0) == HOUR - 100
    assert restored.check("S0001", None, HOUR - 100) == 0.0


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"format": 99, "patrons": {}},
        {"format": 1, "patrons": []},
        {"format": 1, "patrons": {"S0001": "x"}},
        {"format": 1, "patrons": {"S0001": {"streak": "9", "failures": [1.0]}}},
        {"format": 1, "patrons": {"S0001": {"streak": 9, "failures": ["1"]}}},
        {"format": 1, "patrons": {"S0001": {"streak": 9, "failures": [-5.0]}}},
        {"format": 1, "patrons": {"S0001": {"streak": 9, "failures": []}}},
        {"format": 1, "patrons": {"S0001": {"streak": 9, "failures": [99999.0]}}},
    ],
)
def test_damaged_data_starts_afresh(data: dict[str, object]) -> None:
    throttle = LoginThrottle.from_dict(data, T0)
    assert throttle.tracked_patrons == 0
    assert throttle.check("S0001", None, T0) == 0.0


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        LoginThrottle(max_delay=7200.0)
    with pytest.raises(ValueError):
        LoginThrottle(hourly_limit=0)
    with pytest.raises(ValueError):
        LoginThrottle(base_delay=0)


def test_only_failures_worth_keeping_ask_for_a_write() -> None:
    """The free failures of an ID are not worth a write: a flood of made-up IDs writes nothing."""
    throttle = LoginThrottle()
    for n in range(300):
        assert throttle.failure(f"ZZ{n:05d}", "10.0.0.1", 1.0 + n / 100) is False
    asks = [throttle.failure("S0001", "10.0.0.2", 10.0 + n) for n in range(6)]
    assert asks == [False] * 4 + [True, True]
    assert list(throttle.as_dict(20.0)["patrons"]) == ["S0001"]
