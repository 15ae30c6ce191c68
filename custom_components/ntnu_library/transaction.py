"""The one transaction every change of state takes: lock, snapshot, decide, persist or restore.

A library keeps its state in parts, each a state object that can snapshot and restore itself
and the Store that keeps it (`Kept`): a site's rooms (borrows, reservations, empty-room clocks,
locks owed) in the site's Store; the patrons' state (freezes, check-ins, refs), circulation
and the local patron directory in the library's Store. Every change of any of them, by any
site of the library, runs `Transaction.async_run`:

1. take the library's one lock (every site of the library decides one at a time);
2. snapshot the parts the decision may change;
3. decide: a pure function of the state and `now` that changes the state or raises `Refused`
   (a refusal changes nothing);
4. write the Stores of the parts that changed; when a write fails, put every part back as it
   was and refuse with `storage_failed`;
5. release the lock and hand the result back: only then does the caller act on it (move a
   bolt, fire events, raise notices), so nothing is acted on that is not on disk.

A Store is only ever written under the lock, so no write can catch another decision half
made. What is not the library's state (the login throttle's counters) is written through
`async_write`, under the same lock, and never rolled back.

With `Transaction.verify` set (the tests set it), every transaction also checks that no watched
part changed since the last one ended (a change outside the transaction) and that no watched
part the decision did not name changed (a part it forgot to persist); what it finds is listed
in `Transaction.violations`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
import logging
from typing import Any, ClassVar, Protocol

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.event import async_call_later
from homeassistant.util import dt as dt_util

from .auth import Commit
from .const import DOMAIN
from .core.identity import printable
from .storage import PrivateStore

_LOGGER = logging.getLogger(__package__)


class Snapshots(Protocol):
    """State that can take a cheap snapshot of itself and go back to it in place."""

    def snapshot(self) -> Any:
        """A copy that compares equal while nothing changes."""

    def restore(self, snapshot: Any) -> None:
        """Go back to `snapshot`, in place (others hold this object)."""


@dataclass(frozen=True, slots=True, eq=False)
class Kept:
    """A part of the state and the Store that keeps it."""

    state: Snapshots
    storage: PrivateStore


class Transaction:
    """One library's transaction: every site of it and the library itself share it."""

    # Checks every watched part around each transaction (tests); costs a snapshot of each.
    verify: ClassVar[bool] = False
    violations: ClassVar[list[str]] = []

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._watched: list[Kept] = []
        self._last: dict[int, Any] = {}

    # --- the parts -------------------------------------------------------------------------

    def watch(self, *kept: Kept) -> None:
        """Parts that only change in a transaction (checked when `verify` is set)."""
        for part in kept:
            self._watched.append(part)
            if self.verify:
                self._last[id(part.state)] = part.state.snapshot()

    def forget(self, *kept: Kept) -> None:
        """Parts that are no longer the library's (a site stopped)."""
        for part in kept:
            if part in self._watched:
                self._watched.remove(part)
            self._last.pop(id(part.state), None)

    # --- the transaction -------------------------------------------------------------------

    async def async_run[T](self, decide: Callable[[datetime], T], *kept: Kept) -> T:
        """Decide under the lock and write what changed; a refusal or a failed write changes nothing.

        `kept`: the parts `decide` may change. Returns what `decide` returns.
        """
        async with self._lock:
            if self.verify:
                self._check_unchanged(self._watched, "outside a transaction")
            before = [part.state.snapshot() for part in kept]
            try:
                result = decide(dt_util.now())
            except BaseException:
                _restore(kept, before)  # the rules refuse before they change; this makes sure
                raise
            changed = [
                part
                for part, snap in zip(kept, before, strict=True)
                if part.state.snapshot() != snap
            ]
            await self._async_save(changed, kept, before)
            if self.verify:
                named = {id(part.state) for part in kept}
                self._check_unchanged(
                    [part for part in self._watched if id(part.state) not in named],
                    "by a decision that did not name it",
                )
        return result

    def commit(self, storage: PrivateStore) -> Commit:
        """A change of some state kept in `storage`, as a patron directory applies its own."""

        async def commit[T](state: Snapshots, apply: Callable[[], T]) -> T:
            return await self.async_run(lambda _now: apply(), Kept(state, storage))

        return commit

    async def async_write(self, *storages: PrivateStore) -> None:
        """Write Stores now, under the lock (never a decision half made); nothing to undo."""
        async with self._lock:
            for storage in storages:
                await storage.async_save()

    async def _async_save(
        self, changed: list[Kept], kept: tuple[Kept, ...], before: list[Any]
    ) -> None:
        written: list[PrivateStore] = []
        try:
            for storage in dict.fromkeys(part.storage for part in changed):
                await storage.async_save()
                written.append(storage)
        except (OSError, HomeAssistantError, ValueError, TypeError) as err:
            _restore(kept, before)
            # A Store written before the failure holds the decision: write it back as it was.
            for storage in written:
                try:
                    await storage.async_save()
                except (OSError, HomeAssistantError, ValueError, TypeError) as again:
                    _LOGGER.error("Could not write back %s: %s", storage.path, again)
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="storage_failed",
                translation_placeholders={"error": printable(str(err), 200)},
            ) from err

    # --- verification (tests) --------------------------------------------------------------

    def _check_unchanged(self, parts: Iterable[Kept], how: str) -> None:
        for part in parts:
            last = self._last.get(id(part.state))
            if last is not None and part.state.snapshot() != last:
                self.violations.append(f"{type(part.state).__name__} changed {how}")
        self._remember()  # one report per change

    def _remember(self) -> None:
        self._last = {id(part.state): part.state.snapshot() for part in self._watched}


class WriteSoon:
    """A Store written a moment after it last changed: one write for a burst of changes.

    For what the devices told (not a decision, nothing to roll back) that still must survive
    a restart: written through the transaction (`async_write`, never half-way through a
    decision), in the entry's background task; the entry's stop writes the rest itself.
    """

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry,
        transaction: Transaction,
        storage: PrivateStore,
        *,
        delay_s: float,
    ) -> None:
        self._hass = hass
        self._entry = entry
        self._transaction = transaction
        self.storage = storage
        self._delay_s = delay_s
        self._pending: CALLBACK_TYPE | None = None  # the timer of the next write
        entry.async_on_unload(self._cancel)

    @callback
    def changed(self) -> None:
        """Something kept in the Store changed: write it soon."""
        if self._pending is None:
            self._pending = async_call_later(self._hass, self._delay_s, self._write)

    @callback
    def _write(self, _now: datetime) -> None:
        self._pending = None
        self._entry.async_create_background_task(
            self._hass, self.async_save(), f"{DOMAIN} write {self.storage.path}"
        )

    @callback
    def _cancel(self) -> None:
        if self._pending is not None:
            self._pending()
            self._pending = None

    async def async_save(self) -> None:
        """Write now, under the transaction."""
        try:
            await self._transaction.async_write(self.storage)
        except (OSError, HomeAssistantError) as err:  # tried again with the next change
            _LOGGER.error("Could not write %s: %s", self.storage.path, err)


def _restore(kept: tuple[Kept, ...], before: list[Any]) -> None:
    for part, snap in zip(kept, before, strict=True):
        part.state.restore(snap)
