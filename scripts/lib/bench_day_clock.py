"""The library day's clocks: Home Assistant's wall clock and the event loop's, driven together.

`DayClock` freezes the wall clock with freezegun (as the tests' `freezer` does) and moves the
event loop's clock with it, so a timer Home Assistant or the site set falls due when the day's
clock passes its moment, not when the real seconds have passed. `Timeline` lets each visit
of the day wait for its minute; a minute ends when every visit waits for a later one.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
import time
from typing import Any

# The real clocks, kept where freezegun does not look (it swaps module attributes only).
REAL = {"monotonic": time.monotonic, "perf": time.perf_counter}


class DayClock:
    """Home Assistant's wall clock (freezegun) and the event loop's clock, moved together."""

    def __init__(self, start: datetime) -> None:
        import freezegun

        self._freezer = freezegun.freeze_time(start, tick=False, real_asyncio=True)
        self._frozen: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._saved: list[tuple[Any, str, Any]] = []
        self.offset = 0.0

    def start(self) -> None:
        """Freeze the wall clock; the loop's clock runs on, plus every minute moved."""
        from homeassistant import util
        from homeassistant.helpers import event as event_helper
        from homeassistant.util import dt as dt_util

        self._frozen = self._freezer.start()
        # What the tests' patch_time does: dt_util.utcnow is a partial freezegun cannot see.
        for module, name in (
            (dt_util, "utcnow"),
            (util, "utcnow"),
            (event_helper, "time_tracker_utcnow"),
        ):
            self._saved.append((module, name, getattr(module, name)))
            setattr(module, name, _utcnow)
        loop = self._loop = asyncio.get_running_loop()
        loop.time = self._loop_time  # type: ignore[method-assign]
        moved = loop.time()
        self._frozen.tick(timedelta(hours=1))
        if loop.time() - moved > 1 or dt_util.utcnow() - _utcnow() != timedelta(0):
            raise RuntimeError("the day's clock does not hold the loop and the wall clock apart")
        self._frozen.tick(-timedelta(hours=1))

    def _loop_time(self) -> float:
        return REAL["monotonic"]() + self.offset

    def advance(self, seconds: float) -> None:
        """Move both clocks."""
        self._frozen.tick(timedelta(seconds=seconds))
        self.offset += seconds

    def stop(self) -> None:
        """The real clocks again."""
        if self._loop is not None:
            with contextlib.suppress(AttributeError):
                del self._loop.time  # type: ignore[method-assign]
        for module, name, value in reversed(self._saved):
            setattr(module, name, value)
        self._freezer.stop()


def _utcnow() -> datetime:
    return datetime.now(UTC)  # freezegun's while the day runs


class Timeline:
    """Visits wait for their minute; a minute ends when every visit waits for a later one."""

    def __init__(self, minute: int) -> None:
        self.minute = minute
        self._due: dict[int, list[asyncio.Future[None]]] = {}
        self._busy = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self.tasks: set[asyncio.Task[None]] = set()
        self.failures: list[BaseException] = []

    def spawn(self, coro: Any) -> None:
        """Start a visit (it acts at once, or waits for its minute)."""
        self._busy += 1
        self._idle.clear()
        task = asyncio.get_running_loop().create_task(self._run(coro))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _run(self, coro: Any) -> None:
        try:
            await coro
        except Exception as err:  # noqa: BLE001 - the replay failed: told at the end
            self.failures.append(err)
        finally:
            self._release()

    def _release(self) -> None:
        self._busy -= 1
        if self._busy == 0:
            self._idle.set()

    async def until(self, minute: int) -> None:
        """Wait for `minute` (at once if it has come)."""
        if minute <= self.minute:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._due.setdefault(minute, []).append(future)
        self._release()
        try:
            await future
        except asyncio.CancelledError:
            self._busy += 1  # released already; _run releases again
            raise

    async def run_minute(self) -> None:
        """Let every visit of this minute act; return when all wait for a later one."""
        for future in self._due.pop(self.minute, []):
            self._busy += 1
            future.set_result(None)
        if self._busy:
            self._idle.clear()
        await self._idle.wait()

    async def cancel(self) -> None:
        """End whatever still waits."""
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
