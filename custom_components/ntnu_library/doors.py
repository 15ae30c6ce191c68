"""The one command path of a site — decide, persist, move the bolt, tell — and doors kept shut.

Every room command takes `DoorKeeper.async_run`: a patron's own, staff and automation ones,
the lock entity's, a card tap, a relock, the policy timer's. The rules decide in the library's
one transaction (transaction.py: a refusal changes nothing, a decision is written before any
bolt moves); then the bolt moves as decided and the events are told (announce.py).

Around it, the doors are kept shut:
- an unlocked door is locked again after `relock_after_s` when nobody opens it, and soon after
  it closes again (a lock with its own auto-relock time does that too; this is the software's
  own guarantee);
- a lock that missed a lock command (offline, no answer) is owed one: the room shows it
  (entity, event, repair issue), the debt is part of the site's state (so it survives a
  restart), and the lock is locked as soon as it answers again;
- a jam reported by the lock is shown until the bolt moves again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
import functools
import logging
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.event import async_call_later
from homeassistant.util import dt as dt_util

from .announce import Announcer
from .const import DOMAIN, RELOCK_ON_CLOSE_S
from .core.errors import Refused
from .core.model import EventType, RoomEvent, Source
from .core.study_rooms import Outcome, StudyRooms
from .transaction import Kept, Transaction
from .zigbee.radio import DeviceEvent, DeviceEventType, LockState, RadioError, RoomRadio

_LOGGER = logging.getLogger(__package__)

type Decide = Callable[[datetime], Outcome]


class DoorKeeper:
    """The command path of one site, its bolts, and its doors kept shut."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry,
        *,
        rooms: StudyRooms,
        radio: RoomRadio,
        transaction: Transaction,
        kept: tuple[Kept, ...],
        announcer: Announcer,
        relock_after_s: int,
    ) -> None:
        """`kept`: what a room decision may change (the site's rooms, the patrons' state)."""
        self._hass = hass
        self._entry = entry
        self._rooms = rooms
        self._radio = radio
        self._transaction = transaction
        self._kept = kept
        self._announcer = announcer
        self.relock_after_s = relock_after_s
        self.jammed: set[str] = set()
        self._timers: dict[str, CALLBACK_TYPE] = {}
        self._relocking: set[str] = set()
        # Locks owed whose debt the disk would not take: still locked when they answer.
        self._unrecorded: set[str] = set()
        # Told the room (None: any room) after each decision: the holder's card in its lock.
        self.decided: Callable[[str | None], None] = lambda _room_id: None

    @property
    def owed(self) -> set[str]:
        """Rooms whose lock missed a lock command (locked as soon as it answers)."""
        return self._rooms.state.owed_locks | self._unrecorded

    # --- the path ----------------------------------------------------------------------------

    async def async_run(self, decide: Decide) -> tuple[Outcome, str]:
        """Decide and write, then move the bolt and tell everyone: the outcome and the door."""
        outcome = await self._transaction.async_run(decide, *self._kept)
        door = await self.async_move(outcome)
        self._announcer.emit(outcome.events)
        if outcome.room_id is None:  # a patron-level change may show in any room
            self._announcer.notify(None)
        self.decided(outcome.room_id)
        return outcome, door

    async def async_move(self, outcome: Outcome) -> str:
        """Move the bolt as decided: unlocked, locked, unchanged, unlock_failed or lock_failed."""
        room_id = outcome.room_id
        if room_id is None:
            return "unchanged"
        if not (outcome.unlock or outcome.lock):
            self._announcer.notify(room_id)  # no bolt to move, but the room may have changed
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
            self._announcer.notify(room_id)
            return "unlock_failed" if outcome.unlock else "lock_failed"
        self.jammed.discard(room_id)  # the lock confirmed: its bolt moves
        if outcome.unlock:
            self._start_timer(room_id, self.relock_after_s, restart=True)
        else:
            self._cancel_timer(room_id)
        await self._async_settle(room_id, relocked=outcome.lock)
        self._announcer.notify(room_id)
        return "unlocked" if outcome.unlock else "locked"

    async def async_relock(self, room_id: str) -> tuple[Outcome, str]:
        """Lock a door: staff, a relock timer, or a lock that missed its lock command."""
        return await self.async_run(lambda now: self._rooms.relock(room_id))

    @callback
    def request_relock(self, room_id: str) -> None:
        """Relock in the background, once at a time per room."""
        if room_id in self._relocking:
            return
        self._relocking.add(room_id)

        async def _relock() -> None:
            try:
                await self.async_relock(room_id)
            except (Refused, HomeAssistantError) as err:
                _LOGGER.warning("Room %s could not be relocked: %s", room_id, err)
            finally:
                self._relocking.discard(room_id)

        self._entry.async_create_background_task(
            self._hass, _relock(), f"{DOMAIN} relock {room_id}"
        )

    # --- locks owed ----------------------------------------------------------------------------

    async def _async_owe(self, room_id: str) -> None:
        try:
            if not await self._transaction.async_run(
                lambda _now: self._rooms.owe_lock(room_id), self._kept[0]
            ):
                return  # owed already
        except HomeAssistantError as err:
            # Fail secure: the lock is still locked when it answers, written or not.
            _LOGGER.error("Could not write the door waiting for its lock: %s", err)
            self._unrecorded.add(room_id)
        ir.async_create_issue(
            self._hass,
            DOMAIN,
            self._issue_id(room_id),
            is_fixable=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key="lock_pending",
            translation_placeholders={"room": room_id, "site": self._entry.title},
        )
        self._announcer.emit([_event(room_id, EventType.LOCK_PENDING)])

    async def _async_settle(self, room_id: str, *, relocked: bool) -> None:
        """The lock is locked (or unlocked on purpose): the debt, if any, is settled."""
        if room_id not in self.owed:
            return
        self._unrecorded.discard(room_id)
        try:
            await self._transaction.async_run(
                lambda _now: self._rooms.settle_lock(room_id), self._kept[0]
            )
        except HomeAssistantError as err:  # still owed on disk: locked again at the next start
            _LOGGER.error("Could not write the door waiting for its lock: %s", err)
        ir.async_delete_issue(self._hass, DOMAIN, self._issue_id(room_id))
        if relocked:
            _LOGGER.info("Room %s: the lock that was waiting is locked again", room_id)
            self._announcer.emit([_event(room_id, EventType.RELOCKED)])

    def _issue_id(self, room_id: str) -> str:
        return f"lock_pending_{self._entry.entry_id}_{room_id}"

    # --- what the lock and the door tell ----------------------------------------------------------

    @callback
    def async_start(self, room_ids: Iterable[str]) -> None:
        """After a restart: lock what is owed, and time every door found unlocked."""
        rooms = set(room_ids)
        for room_id in sorted(self.owed):
            if self._radio.is_online(room_id):
                self.request_relock(room_id)
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
                    self._async_settle(room_id, relocked=True),
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
            self.request_relock(room_id)

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
        self.request_relock(room_id)

    @callback
    def async_stop(self) -> None:
        """Cancel every timer (the site is stopping)."""
        for room_id in list(self._timers):
            self._cancel_timer(room_id)


def _event(room_id: str, kind: EventType) -> RoomEvent:
    return RoomEvent(room_id=room_id, type=kind, source=Source.DOOR, at=dt_util.now())
