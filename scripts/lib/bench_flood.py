"""`scripts/bench --flood`: a real patron's borrow latency while the patron gate is flooded.

Runs in the Home Assistant instance scripts/lib/bench.py sets up (the demo site on the
simulated Zigbee network, bcrypt at its real cost). One real patron (G0001, the demo password)
borrows a temporary room through `SiteCommands.async_patron_action` (the password login
through the gate, then the borrow decision, Store write and unlock); only the borrow is
timed. Staff then return the room at the counter (no password, so the return neither
waits behind the flood nor adds to it) and the next sample borrows again. Scenarios:

  idle            no flood
  addresses_300   300 attackers, each from its own client address
  shared_address  the attackers and the patron behind one address (a campus NAT), the
                  attackers keeping 12 requests in flight
  one_account     300 attackers from one Home Assistant user (`user:flooder`, no address),
                  as a non-admin websocket user sends them

Each attacked scenario runs twice: the patron on a browser they never logged in on, and
(`<scenario>_known_browser`) on their own phone, which holds a device credential.

Each attacker tries a new made-up patron ID with a wrong password in a loop, swallows the
refusal (`invalid_credentials` or `too_many_attempts`, whatever its retry_after says) and
tries again after `asyncio.sleep(0)`. Per scenario: p50_ms / p95_ms of the patron's borrows
that succeeded, `refused` (the patron's borrows refused, expected 0, never hidden), and the
attackers' `attempts_per_s` while the patron was measured (at least MIN_WINDOW_S). A refused
patron tries again after REFUSED_PAUSE_S, as a person would, not in the same instant.
Between scenarios the attackers are cancelled and awaited, the password checks already running
in a thread finish, and the library's login throttle is replaced by a fresh one.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
import itertools
import logging
import math
import time
from typing import Any

from bench_stats import percentile  # scripts/lib is on sys.path when bench.py runs

_LOGGER = logging.getLogger("ntnu_library.bench")

PATRON = "G0001"
PATRON_ROOM = "T02"
ATTACKED_ROOM = "T05"  # what the attackers ask to borrow (they never get that far)
PATRON_ADDRESS = "10.20.0.7"  # the patron's own phone, in every scenario but shared_address
CAMPUS_ADDRESS = "10.8.0.1"  # shared_address: the NAT the attackers and the patron are behind
WRONG = "not-the-password"
# The "_known_browser" runs: the patron's own phone, with the device credential it got at an
# earlier login (the gate's `device`), against the same flood.
KNOWN_BROWSER = "bench-phone"
WARMUP_S = 1.0  # the flood runs this long before the patron's first timed borrow
SCENARIO_BUDGET_S = 40.0  # no more samples after this long (the bench stays bounded)
MIN_WINDOW_S = 3.0  # the attackers' rate is taken over at least this long
REFUSED_PAUSE_S = 0.25  # a refused patron tries again after about one borrow's time
SETTLE_S = 0.5  # after the attackers stop: password checks already in a thread finish

Endpoint = tuple[str | None, str | None]  # (caller, address)


def _web(address: str) -> Endpoint:
    return f"web:{address}", address


def scenarios() -> dict[str, tuple[list[Endpoint], Endpoint]]:
    """Scenario name -> (the attackers' callers and addresses, the patron's)."""
    patron = _web(PATRON_ADDRESS)
    return {
        "idle": ([], patron),
        "addresses_300": ([_web(f"10.9.{n // 250}.{n % 250}") for n in range(300)], patron),
        "shared_address": ([_web(CAMPUS_ADDRESS)] * 12, _web(CAMPUS_ADDRESS)),
        "one_account": ([("user:flooder", None)] * 300, patron),
    }


def _ms(values: list[float], q: float) -> float | None:
    value = percentile(values, q) * 1000.0
    return None if math.isnan(value) else round(value, 1)


async def _attacker(
    site: Any, ids: Iterator[str], caller: str | None, address: str | None, tally: Counter[str]
) -> None:
    """Made-up IDs with a wrong password, one after another, forever; refusals swallowed."""
    from custom_components.ntnu_library.core.errors import Refused

    while True:
        try:
            await site.commands.async_patron_action(
                "borrow",
                ATTACKED_ROOM,
                next(ids),
                WRONG,
                caller=caller,
                address=address,
                device=None,
            )
        except Refused as refusal:
            tally[str(refusal.reason)] += 1
        else:
            raise RuntimeError("a made-up patron ID with a wrong password was let in")
        await asyncio.sleep(0)


async def _stop(tasks: list[asyncio.Task[None]]) -> None:
    """Cancel the attackers and wait for them; an attacker that failed fails the bench."""
    for task in tasks:
        task.cancel()
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException) and not isinstance(outcome, asyncio.CancelledError):
            raise outcome


def _fresh_throttle(site: Any) -> None:
    """Forget every failure and pending attempt: the next scenario starts clean."""
    from custom_components.ntnu_library.core.throttle import LoginThrottle

    site.library.throttle = LoginThrottle()


async def _borrow_once(
    site: Any, patron: Endpoint, password: str, device: str | None = None
) -> float:
    """One timed borrow by the real patron, then the counter return (untimed).

    `device`: the patron's own browser (the device credential the room page checked), or None
    for a browser the patron never logged in on.
    """
    caller, address = patron
    started = time.perf_counter()
    answer = await site.commands.async_patron_action(
        "borrow", PATRON_ROOM, PATRON, password, caller=caller, address=address, device=device
    )
    elapsed = time.perf_counter() - started
    if answer.get("status") != "in_use":
        raise RuntimeError(f"the borrow did not take the room: {answer}")
    answer = await site.commands.async_counter_return(room_id=PATRON_ROOM)
    if answer.get("status") != "idle":
        raise RuntimeError(f"the counter return did not free the room: {answer}")
    return elapsed


async def _scenario(
    hass: Any,
    site: Any,
    attackers: list[Endpoint],
    patron: Endpoint,
    samples: int,
    device: str | None = None,
) -> dict[str, Any]:
    from custom_components.ntnu_library.core.errors import Refused
    from custom_components.ntnu_library.demo import DEMO_PASSWORD

    _fresh_throttle(site)
    tally: Counter[str] = Counter()
    numbers = itertools.count()
    ids = (f"ZZ{n:07d}" for n in numbers)
    tasks = [
        asyncio.create_task(_attacker(site, ids, caller, address, tally), name=f"attacker {n}")
        for n, (caller, address) in enumerate(attackers)
    ]
    borrow_s: list[float] = []
    refused_s: list[float] = []
    refused: Counter[str] = Counter()
    try:
        if tasks:
            await asyncio.sleep(WARMUP_S)
        if failed := [task for task in tasks if task.done()]:
            await failed[0]  # raises what stopped it
        tally.clear()
        started = time.perf_counter()
        deadline = started + SCENARIO_BUDGET_S
        for _ in range(samples):
            asked = time.perf_counter()
            try:
                borrow_s.append(await _borrow_once(site, patron, DEMO_PASSWORD, device))
            except Refused as refusal:
                refused_s.append(time.perf_counter() - asked)
                refused[str(refusal.reason)] += 1
                _LOGGER.warning("the real patron was refused: %s", refusal.reason)
                await asyncio.sleep(REFUSED_PAUSE_S)
            if time.perf_counter() >= deadline:
                break
        if (left := started + MIN_WINDOW_S - time.perf_counter()) > 0:
            await asyncio.sleep(left)
        elapsed = time.perf_counter() - started
        attempts = sum(tally.values())
        attack = dict(tally)
    finally:
        await _stop(tasks)
        if tasks:
            await asyncio.sleep(SETTLE_S)
        await hass.async_block_till_done()
        _fresh_throttle(site)
    if waiting := site.gate._slots.waiting:  # a bench may look inside
        _LOGGER.warning("%d logins still wait for a password check after the scenario", waiting)
    return {
        "p50_ms": _ms(borrow_s, 50),
        "p95_ms": _ms(borrow_s, 95),
        "n": len(borrow_s),
        "refused": sum(refused.values()),
        "refused_reasons": dict(refused),
        "refused_ms_p50": _ms(refused_s, 50),
        "attackers": len(attackers),
        "attempts_per_s": round(attempts / elapsed, 1),
        "attack_refusals": attack,
    }


async def measure_flood(hass: Any, entry: Any, scale: Any, results: Any) -> None:
    """Every scenario in turn; the values go to results.values[scenario]."""
    from custom_components.ntnu_library.demo import DEMO_PASSWORD

    site = entry.runtime_data
    await _borrow_once(site, _web(PATRON_ADDRESS), DEMO_PASSWORD)  # warm-up, not counted
    _fresh_throttle(site)
    results.values["mode"] = "flood"
    results.values["samples"] = scale.flood_samples
    runs = [
        (f"{name}{suffix}", attackers, patron, device)
        for name, (attackers, patron) in scenarios().items()
        for suffix, device in (("", None), ("_known_browser", KNOWN_BROWSER))
        if attackers or device is None
    ]
    for name, attackers, patron, device in runs:
        began = time.perf_counter()
        values = await _scenario(hass, site, attackers, patron, scale.flood_samples, device)
        results.values[name] = values
        note = f"n={values['n']}, {len(attackers)} attackers"
        if attackers:
            note += f", {values['attempts_per_s']:.0f} attempts/s {values['attack_refusals']}"
        results.row(
            f"borrow, {name}",
            f"p50 {values['p50_ms']} / p95 {values['p95_ms']} ms, refused {values['refused']}",
            f"{note}; {time.perf_counter() - began:.0f} s",
        )
