"""Who gets the next password check: lanes, turns, bounds, and a slot handed back early."""

from __future__ import annotations

import asyncio

import pytest

from custom_components.ntnu_library.core.errors import Reason, Refused
from custom_components.ntnu_library.core.login_queue import (
    Lane,
    LoginQueue,
    QueueLimits,
    hand_back_slot,
)


class Checks:
    """Logins that hold their slot until told to finish; the order they got one in."""

    def __init__(self, queue: LoginQueue) -> None:
        self.queue = queue
        self.order: list[str] = []
        self._done: dict[str, asyncio.Event] = {}

    def start(self, name: str, caller: str, key: str, lane: Lane) -> asyncio.Task[None]:
        done = self._done[name] = asyncio.Event()

        async def login() -> None:
            async with self.queue.slot(caller, key, lane):
                self.order.append(name)
                await done.wait()

        return asyncio.create_task(login(), name=name)

    def finish(self, name: str) -> None:
        self._done[name].set()


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_the_known_browser_goes_first_then_the_clean_then_the_suspect() -> None:
    checks = Checks(LoginQueue(QueueLimits(slots=1)))
    tasks = [checks.start("running", "web:a", "K:A", Lane.CLEAN)]
    await settle()
    tasks += [
        checks.start("suspect", "web:s", "K:S", Lane.SUSPECT),
        checks.start("clean", "web:c", "K:C", Lane.CLEAN),
        checks.start("trusted", "web:t", "K:T", Lane.TRUSTED),
    ]
    await settle()
    for name in ("running", "trusted", "clean", "suspect"):
        checks.finish(name)
        await settle()
    await asyncio.gather(*tasks)
    assert checks.order == ["running", "trusted", "clean", "suspect"]


async def test_callers_take_turns_and_a_callers_patron_ids_take_turns() -> None:
    """A flood from one caller waits behind itself; within it, one ID does not crowd others."""
    checks = Checks(LoginQueue(QueueLimits(slots=1, per_key=3)))
    tasks = [checks.start("running", "web:x", "K:0", Lane.CLEAN)]
    await settle()
    tasks += [checks.start(f"flood-{n}", "web:flood", "K:F", Lane.CLEAN) for n in range(3)]
    tasks += [checks.start("other-id", "web:flood", "K:G", Lane.CLEAN)]
    tasks += [checks.start("patron", "web:patron", "K:P", Lane.CLEAN)]
    await settle()
    for _ in range(6):
        checks.finish(checks.order[-1])
        await settle()
    await asyncio.gather(*tasks)
    assert checks.order == ["running", "flood-0", "patron", "other-id", "flood-1", "flood-2"]


async def test_bounds_refuse_at_once() -> None:
    queue = LoginQueue(QueueLimits(slots=1, per_key=2, per_caller=3, per_suspect_caller=1))
    checks = Checks(queue)
    tasks = [checks.start("running", "web:x", "K:0", Lane.CLEAN)]
    await settle()
    tasks += [checks.start(f"k{n}", "web:a", "K:1", Lane.CLEAN) for n in range(2)]
    await settle()
    with pytest.raises(Refused) as err:  # a third for the same ID from the same caller
        await queue._acquire("web:a", "K:1", Lane.CLEAN)
    assert err.value.reason is Reason.TOO_MANY_ATTEMPTS
    tasks.append(checks.start("k2", "web:a", "K:2", Lane.CLEAN))
    await settle()
    with pytest.raises(Refused):  # the caller's fourth
        await queue._acquire("web:a", "K:3", Lane.CLEAN)
    tasks.append(checks.start("s0", "web:s", "K:5", Lane.SUSPECT))
    await settle()
    with pytest.raises(Refused):  # a suspect caller's second
        await queue._acquire("web:s", "K:6", Lane.SUSPECT)
    assert queue.waiting == 4
    for name in ("running", "k0", "k2", "k1", "s0"):
        checks.finish(name)
        await settle()
    await asyncio.gather(*tasks)
    assert queue.waiting == 0


async def test_a_suspect_caller_has_one_check_at_a_time_even_when_the_slot_is_handed_back() -> None:
    queue = LoginQueue(QueueLimits(slots=2))
    started: list[str] = []
    go_on = asyncio.Event()

    async def login(name: str, key: str) -> None:
        async with queue.slot("web:s", key, Lane.SUSPECT):
            started.append(name)
            hand_back_slot()  # nothing to hash: the slot goes back at once
            await go_on.wait()

    first = asyncio.create_task(login("first", "K:1"))
    await settle()
    second = asyncio.create_task(login("second", "K:2"))
    await settle()
    assert started == ["first"]  # the caller's next check waits for this one to end
    # The slot itself is free for others meanwhile.
    async with queue.slot("web:other", "K:9", Lane.CLEAN):
        started.append("other")
    go_on.set()
    await asyncio.gather(first, second)
    assert started == ["first", "other", "second"]


async def test_a_login_that_waits_too_long_is_refused_and_leaves_no_trace() -> None:
    queue = LoginQueue(QueueLimits(slots=1, max_wait=0.01))
    checks = Checks(queue)
    running = checks.start("running", "web:x", "K:0", Lane.CLEAN)
    await settle()
    with pytest.raises(Refused) as err:
        async with queue.slot("web:y", "K:1", Lane.CLEAN):
            pass
    assert err.value.reason is Reason.TOO_MANY_ATTEMPTS
    assert queue.waiting == 0
    checks.finish("running")
    await running
    async with queue.slot("web:y", "K:1", Lane.CLEAN):  # the slot came back
        pass


def test_hand_back_outside_a_slot_does_nothing() -> None:
    hand_back_slot()
