"""The bolt step of the command path, and the doors kept shut afterwards.

- `async_move` sends the unlock or lock a decision asks for and answers what the door did.
- An unlocked door is locked again after `relock_after_s` when nobody opens it, and soon
  after it closes again (a lock with its own auto-relock time does that too; this is the
  software's own guarantee).
- A lock that missed a lock command (offline, no answer) is owed one: the room shows it
  (entity, event, repair issue), the debt survives a restart, and the lock is locked as soon
  as it answers again.
- A jam reported by the lock is shown until the bolt moves again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
import functools
import logging
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.event import async_call_later
from homeassistant.util import dt as dt_util

from .const import DOMAIN, RELOCK_ON_CLOSE_S
from .core.model import EventType, RoomEvent, Source
from .core.study_rooms import Outcome
from .storage import SiteStorage
from .zigbee.radio import DeviceEvent, DeviceEventType, LockState, RadioError, RoomRadio

_LOGGER = logging.getLogger(__package__)


class DoorKeeper:
    """Moves the site's bolts and keeps its doors shut."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry,
        *,
        radio: RoomRadio,
        storage: SiteStorage,
        relock_after_s: int,
    ) -> None:
        self._hass = hass
        self._entry = entry
        self._radio = radio
        self._storage = storage
        self.relock_after_s = relock_after_s
        # Set by the command path: a relock that takes the one path (as a task), and its
        # notify and emit steps.
        self.request_lock: Callable[[str], None] = lambda room_id: None
        self.notify: Callable[[str | None], None] = lambda room_id: None
        self.emit: Callable[[list[RoomEvent]], None] = lambda events: None
        self.jammed: set[str] = set()
        self.owed: set[str] = set()
        self._timers: dict[str, CALLBACK_TYPE] = {}

    # --- what survives a restart ------------------------------------------------------------

    def load(self, data: Any) -> None:
        """Read what `as_dict` wrote (anything unreadable is dropped)."""
        owed = data.get("owed", []) if isinstance(data, dict) else []
        self.owed = {room for room in owed if isinstance(room, str)}

    def as_dict(self) -> dict[str, Any]:
        """The locks still owed."""
        return {"owed": sorted(self.owed)}

    # --- the bolt ------------------------------------------------------------------------------

    async def async_move(self, outcome: Outcome) -> str:
        """Move the bolt as decided: unlocked, locked, unchanged, unlock_failed or lock_failed."""
        room_id = outcome.room_id
        if room_id is None:
            return "unchanged"
        if not (outcome.unlock or outcome.lock):
            self.notify(room_id)  # no bolt to move, but the room may have changed
            return "unchanged"
        try:
            if outcome.unlock:
                await self._radio.async_unlock(room_id)
            else:
                await self._radio.async_lock(room_id)
        except RadioError as err:
            _LOGGER.warning("Door of room %s did not answer: %s", room_id, err)
            if outcome.lock:
                await self._async_owe(room_id)
            self.notify(room_id)
            return "unlock_failed" if outcome.unlock else "lock_failed"
        self.jammed.discard(room_id)  # the lock confirmed: its bolt moves
        if outcome.unlock:
            await self._async_settle_debt(room_id, relocked=False)
            self._start_timer(room_id, self.relock_after_s, restart=True)
        else:
            self._cancel_timer(room_id)
            await self._async_settle_debt(room_id, relocked=True)
        self.notify(room_id)
        return "unlocked" if outcome.unlock else "locked"

    async def _async_owe(self, room_id: str) -> None:
        if room_id in self.owed:
            return
        self.owed.add(room_id)
        await self._async_save()
        ir.async_create_issue(
            self._hass,
            DOMAIN,
            self._issue_id(room_id),
            is_fixable=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key="lock_pending",
            translation_placeholders={"room": room_id, "site": self._entry.title},
        )
        self.emit([_event(room_id, EventType.LOCK_PENDING)])

    async def _async_settle_debt(self, room_id: str, *, relocked: bool) -> None:
        if room_id not in self.owed:
            return
        self.owed.discard(room_id)
        await self._async_save()
        ir.async_delete_issue(self._hass, DOMAIN, self._issue_id(room_id))
        if relocked:
            _LOGGER.info("Room %s: the lock that was waiting is locked again", room_id)
            self.emit([_event(room_id, EventType.RELOCKED)])

    async def _async_save(self) -> None:
        try:
            await self._storage.async_save()
        except Exception as err:  # noqa: BLE001 - kept in memory; written with the next change
            _LOGGER.error("Could not write the doors waiting for their lock: %s", err)

    def _issue_id(self, room_id: str) -> str:
        return f"lock_pending_{self._entry.entry_id}_{room_id}"

    # --- what the lock and the door tell ----------------------------------------------------------

    @callback
    def async_start(self, room_ids: Iterable[str]) -> None:
        """After a restart: lock what is owed, and time every door found unlocked."""
        rooms = set(room_ids)
        self.owed &= rooms  # a room removed from the site owes nothing
        for room_id in sorted(self.owed):
            if self._radio.is_online(room_id):
                self.request_lock(room_id)
        for room_id in sorted(rooms - self.owed):
            if self._radio.lock_state(room_id) is LockState.UNLOCKED:
                self._start_timer(room_id, self.relock_after_s)

    @callback
    def on_device_event(self, event: DeviceEvent) -> None:
        """Keep the relock timers, the jams and the debts in step with the devices."""
        room_id, kind = event.room_id, event.type
        if kind is DeviceEventType.JAMMED:
            self.jammed.add(room_id)
            _LOGGER.warning("Lock of room %s reports a jam", room_id)
        elif kind is DeviceEventType.LOCKED:
            self.jammed.discard(room_id)
            self._cancel_timer(room_id)
            if room_id in self.owed:  # locked by hand, or by its own timer
                self._entry.async_create_background_task(
                    self._hass,
                    self._async_settle_debt(room_id, relocked=True),
                    f"{DOMAIN} lock {room_id} settled",
                )
        elif kind is DeviceEventType.UNLOCKED:
            self.jammed.discard(room_id)
            self._start_timer(room_id, self.relock_after_s)  # e.g. the PUSH button inside
        elif kind is DeviceEventType.DOOR_OPEN:
            self._cancel_timer(room_id)  # relocked once it closes
        elif kind is DeviceEventType.DOOR_CLOSED:
            if self._radio.lock_state(room_id) is LockState.UNLOCKED:
                self._start_timer(room_id, RELOCK_ON_CLOSE_S, restart=True)
        elif kind is DeviceEventType.ONLINE and room_id in self.owed:
            self.request_lock(room_id)

    # --- timers ----------------------------------------------------------------------------

    def _start_timer(self, room_id: str, delay: float, *, restart: bool = False) -> None:
        if not self.relock_after_s:
            return  # the site turned relocking off
        if room_id in self._timers:
            if not restart:
                return
            self._cancel_timer(room_id)
        self._timers[room_id] = async_call_later(
            self._hass, delay, functools.partial(self._relock_due, room_id)
        )

    def _cancel_timer(self, room_id: str) -> None:
        if (cancel := self._timers.pop(room_id, None)) is not None:
            cancel()

    @callback
    def _relock_due(self, room_id: str, _now: Any) -> None:
        self._timers.pop(room_id, None)
        if self._radio.door_open(room_id):
            return  # someone is going through: relocked when it closes
        if self._radio.lock_state(room_id) is LockState.LOCKED:
            return
        self.request_lock(room_id)

    @callback
    def async_stop(self) -> None:
        """Cancel every timer (the site is stopping)."""
        for room_id in list(self._timers):
            self._cancel_timer(room_id)


def _event(room_id: str, kind: EventType) -> RoomEvent:
    return RoomEvent(room_id=room_id, type=kind, source=Source.DOOR, at=dt_util.now())
