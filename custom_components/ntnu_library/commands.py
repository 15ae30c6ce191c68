"""The one command path of a site: decide -> persist -> move the bolt -> emit.

Every command takes it: a patron's own (with their password), staff and automation ones, the
lock entity's, a card tap, a relock timer, the policy tick. `core` decides under the site's
lock; a refusal changes nothing; a decision is written before any bolt moves; then the door
keeper moves the bolt and the events go to the bus, the event entities and the log.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
import logging
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.util import dt as dt_util

from .const import DOMAIN, EVENT_NAME, SIGNAL_PUBLIC_STATUS, signal_room_event, signal_room_update
from .core.errors import Reason, Refused
from .core.identity import mask_patron_id, normalize_patron_id
from .core.model import EventType, Patron, RoomEvent, Source
from .core.study_rooms import Library, Outcome
from .doors import DoorKeeper
from .gate import PatronGate
from .library import LibraryHub
from .storage import SiteStorage
from .zigbee.radio import RoomRadio

_LOGGER = logging.getLogger(__package__)

type Decide = Callable[[datetime], Outcome]

# What a patron does at a room with their own ID and password.
PATRON_ACTIONS = ("borrow", "open", "return")


class SiteCommands:
    """Every command of one site, each through `_async_run`."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry,
        *,
        library: Library,
        radio: RoomRadio,
        gate: PatronGate,
        storage: SiteStorage,
        hub: LibraryHub,
        doors: DoorKeeper,
        summary: Callable[[str], dict[str, Any]],
    ) -> None:
        self._hass = hass
        self._entry = entry
        self._library = library
        self._radio = radio
        self._gate = gate
        self._storage = storage
        self._hub = hub
        self._doors = doors
        self._summary = summary
        self._taps: dict[str, set[asyncio.Task[None]]] = {}
        self._relocking: set[str] = set()
        doors.request_lock = self.request_relock
        doors.notify = self.notify
        doors.emit = self.emit

    # --- a patron's own request (ID and password) -----------------------------------------

    async def async_patron_action(
        self,
        action: str,
        room_id: str,
        patron_id: str,
        password: str,
        *,
        caller: str | None = None,
        address: str | None = None,
    ) -> dict[str, Any]:
        """登記使用 (borrow), 開門 (open) or 結束使用 (return), as the patron logged in."""
        if action not in PATRON_ACTIONS:
            raise ValueError(f"not a patron action: {action!r}")
        self._library.room(room_id)
        try:
            patron = await self._gate.async_login(
                patron_id, password, caller=caller, address=address
            )
        except Refused as refusal:
            pid = normalize_patron_id(patron_id)
            freeze = self._library.frozen(pid, dt_util.now())
            if refusal.reason is Reason.PRIVILEGES_DENIED and freeze is not None:
                # Most likely our own freeze, blocked in the ILS: say it as the freeze it is.
                refusal = Refused(Reason.FROZEN, until=freeze.until.isoformat(timespec="minutes"))
            self._emit_refusal(room_id, pid, refusal)
            raise refusal from None
        return await self._async_act(action, room_id, patron, Source.QR)

    async def _async_act(
        self, action: str, room_id: str, patron: Patron, source: Source
    ) -> dict[str, Any]:
        """Borrow, open or return for a patron whose identity is settled."""
        lock = self._radio.is_online  # asked when the decision is made, under the site lock
        decide: dict[str, Decide] = {
            "borrow": lambda now: self._library.borrow(
                room_id, patron, now, lock_online=lock(room_id), source=source
            ),
            "open": lambda now: self._library.open_door(
                room_id, patron, now, lock_online=lock(room_id), source=source
            ),
            "return": lambda now: self._library.return_room(room_id, patron, now, source=source),
        }
        # A patron's own refused request is a room event; staff see theirs as the error.
        refused = patron.patron_id if source is Source.QR else None
        return await self._async_run(room_id, decide[action], refused_patron=refused)

    # --- staff and automations -------------------------------------------------------------

    async def async_counter_action(
        self, action: str, room_id: str, patron_id: str
    ) -> dict[str, Any]:
        """Staff borrow, open or return for a patron at the counter who shows their card.

        No password: staff have checked the card. The rules are the patron's own (a frozen
        patron is still refused); the events say the counter did it.
        """
        if action not in PATRON_ACTIONS:
            raise ValueError(f"not a patron action: {action!r}")
        self._library.room(room_id)
        patron = await self._known(patron_id)
        return await self._async_act(action, room_id, patron, Source.COUNTER)

    async def async_counter_return(
        self,
        *,
        room_id: str | None = None,
        patron_id: str | None = None,
        patron_name: str | None = None,
    ) -> dict[str, Any]:
        """Return a room at the counter by room, patron ID or patron name."""
        if room_id is None:
            if patron_id:
                patron_id = self._library.patron_of_ref(patron_id, dt_util.now()) or patron_id
            patron_id = await self._gate.async_resolve(patron_id, patron_name)
        else:
            self._library.room(room_id)
        return await self._async_run(
            room_id,
            lambda now: self._library.counter_return(now, room_id=room_id, patron_id=patron_id),
        )

    async def async_auto_return(self, room_id: str, reason: str) -> dict[str, Any]:
        """Return a forgotten room (automation or policy)."""
        self._library.room(room_id)
        return await self._async_run(
            room_id, lambda now: self._library.auto_return(room_id, reason, now)
        )

    async def async_reserve_long_term(
        self, room_id: str, patron_id: str, month: str
    ) -> dict[str, Any]:
        """Hold a long-term room for a month."""
        self._library.room(room_id)
        patron = await self._gate.async_known_patron(patron_id)
        result = await self._async_run(
            room_id, lambda now: self._library.reserve_long_term(room_id, patron, month, now)
        )
        return result | {"month": month}

    async def async_cancel_reservation(self, room_id: str, month: str) -> dict[str, Any]:
        """Cancel a long-term reservation."""
        self._library.room(room_id)
        result = await self._async_run(
            room_id, lambda now: self._library.cancel_reservation(room_id, month, now)
        )
        return result | {"month": month}

    async def async_freeze(self, patron_id: str, days: int | None, reason: str) -> dict[str, Any]:
        """Freeze a patron at every site of the library (and, with SIP2, in the ILS too)."""
        patron = await self._known(patron_id)
        pid = patron.patron_id
        await self._async_run(None, lambda now: self._library.freeze(pid, days, reason, now))
        freeze = self._library.frozen(pid, dt_util.now())
        answer: dict[str, Any] = {
            "patron": mask_patron_id(pid),
            "frozen_until": freeze.until.isoformat() if freeze else None,
        }
        if (block := self._gate.backend.async_block) is not None:
            # Other Home Assistant installations of the library share freezes through the ILS.
            try:
                await self._gate.async_ask(lambda: block(pid, reason))
            except Refused as refusal:
                _LOGGER.warning(
                    "Patron %s is frozen here, but the ILS did not take the block: %s",
                    mask_patron_id(pid),
                    refusal.reason,
                )
                answer["ils_blocked"] = False
            else:
                answer["ils_blocked"] = True
        return answer

    async def async_unfreeze(self, patron_id: str) -> dict[str, Any]:
        """Lift a freeze."""
        patron = await self._known(patron_id)
        pid = patron.patron_id
        await self._async_run(None, lambda now: self._library.unfreeze(pid, now))
        return {"patron": mask_patron_id(pid), "frozen_until": None}

    async def async_check_in(self, patron_id: str) -> dict[str, Any]:
        """A frozen patron checks in at the counter for today."""
        patron = await self._known(patron_id)
        pid = patron.patron_id
        await self._async_run(None, lambda now: self._library.check_in(pid, now))
        return {"patron": mask_patron_id(pid), "checked_in": dt_util.now().date().isoformat()}

    async def async_clear_login_lock(self, patron_id: str) -> dict[str, Any]:
        """Staff end the backoff that someone else's guesses put on a patron's ID."""
        patron = await self._known(patron_id)
        cleared = self._gate.clear_login_lock(patron.patron_id)
        return {"patron": mask_patron_id(patron.patron_id), "cleared": cleared}

    async def _known(self, patron_id: str) -> Patron:
        """The patron a staff command names, by ID or by the ref of one of their events."""
        pid = self._library.patron_of_ref(patron_id, dt_util.now()) or patron_id
        return await self._gate.async_known_patron(pid)

    async def async_policy_tick(self, now: datetime | None = None) -> None:
        """Return forgotten rooms and drop what has ended."""
        now = now or dt_util.now()
        for room_id, reason in self._library.due_returns(now):
            try:
                await self.async_auto_return(room_id, reason)
            except Refused:  # returned meanwhile
                continue
            _LOGGER.info("Room %s returned automatically (%s)", room_id, reason)
        async with self._hub.lock:
            if self._library.prune(now):
                await self._storage.async_save()
                await self._hub.storage.async_save()

    # --- the door itself -------------------------------------------------------------------

    async def async_staff_unlock(self, room_id: str) -> dict[str, Any]:
        """Staff open a door from Home Assistant (the lock entity)."""
        _LOGGER.info("Room %s unlocked from Home Assistant", room_id)
        return await self._async_run(
            room_id,
            lambda now: self._library.staff_unlock(
                room_id, lock_online=self._radio.is_online(room_id)
            ),
        )

    async def async_relock(self, room_id: str) -> dict[str, Any]:
        """Lock a door: staff, a relock timer, or a lock that missed its lock command."""
        return await self._async_run(room_id, lambda now: self._library.relock(room_id))

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

    # --- what the devices tell ---------------------------------------------------------------

    @callback
    def card_tap(self, room_id: str, card: str) -> None:
        """A card at the reader: decided in the background, the room's taps in order."""
        task = self._entry.async_create_background_task(
            self._hass, self._async_card_tap(room_id, card), f"{DOMAIN} card tap {room_id}"
        )
        if not task.done():
            taps = self._taps.setdefault(room_id, set())
            taps.add(task)
            task.add_done_callback(taps.discard)

    async def _async_card_tap(self, room_id: str, card: str) -> None:
        try:
            patron = await self._gate.async_find_by_card(card) if card else None
        except Refused as refusal:  # the patron system is down: the door stays shut
            self._emit_refusal(room_id, None, refusal, source=Source.CARD)
            return
        try:
            await self._async_run(
                room_id,
                lambda now: self._library.card_tap(
                    room_id, card, patron, now, lock_online=self._radio.is_online(room_id)
                ),
            )
        except HomeAssistantError as err:  # storage failed: nothing unlocked
            _LOGGER.error("Card tap at %s not handled: %s", room_id, err)

    @callback
    def cancel_taps(self) -> None:
        """Drop the card taps being decided (the site stops)."""
        for taps in self._taps.values():
            for task in taps:
                task.cancel()

    async def async_settle(self, room_id: str) -> None:
        """Wait for the room's card taps being decided (the patron system may be asked)."""
        if taps := self._taps.get(room_id):
            await asyncio.gather(*taps, return_exceptions=True)

    async def async_stop(self) -> None:
        """End the taps in flight."""
        self.cancel_taps()
        await asyncio.gather(
            *(task for taps in self._taps.values() for task in taps), return_exceptions=True
        )

    @callback
    def record(self, outcome: Outcome) -> None:
        """Events that need no decision (a PUSH exit, a forced door): straight to emit."""
        self.emit(outcome.events)

    # --- the path --------------------------------------------------------------------------

    async def _async_run(
        self, room_id: str | None, decide: Decide, *, refused_patron: str | None = None
    ) -> dict[str, Any]:
        """Decide under the site lock, persist, then move the bolt and tell everyone.

        `refused_patron` is set for a patron's own request: its refusal is a room event.
        """
        async with self._hub.lock:  # every site of the library decides one at a time
            now = dt_util.now()
            site_before = self._library.state.snapshot()
            patrons_before = self._library.patrons.snapshot()
            try:
                outcome = decide(now)
            except Refused as refusal:
                if refused_patron is not None and room_id is not None:
                    self._emit_refusal(room_id, refused_patron, refusal)
                raise

            def restore() -> None:
                self._library.state.restore(site_before)
                self._library.patrons.restore(patrons_before)

            # An open by the holder or a refused tap changes nothing worth a disk write.
            if self._library.patrons.snapshot() != patrons_before:
                await self._hub.storage.async_persist(restore)
            if self._library.state.snapshot() != site_before:
                await self._storage.async_persist(restore)
        door = await self._doors.async_move(outcome)
        self.emit(outcome.events)
        if outcome.room_id is None:
            self.notify(None)
            return {"door": door}
        return self._summary(outcome.room_id) | {"door": door}

    @callback
    def notify(self, room_id: str | None) -> None:
        """Entities of `room_id` (None: of every room) show the state again."""
        async_dispatcher_send(self._hass, signal_room_update(self._entry.entry_id), room_id)
        async_dispatcher_send(self._hass, SIGNAL_PUBLIC_STATUS)

    @callback
    def emit(self, events: list[RoomEvent]) -> None:
        """To the bus, the event entities and the log."""
        for event in events:
            data = {
                "site": self._entry.title,
                "room": event.room_id,
                "type": event.type.value,
                "source": event.source.value,
                "patron": mask_patron_id(event.patron_id),
            }
            if event.reason:
                data["reason"] = event.reason
            if event.ref:
                data["ref"] = event.ref
            self._hass.bus.async_fire(EVENT_NAME, data)
            async_dispatcher_send(self._hass, signal_room_event(self._entry.entry_id), event)
            if event.type is EventType.REFUSED:
                _LOGGER.info(
                    "Refused at room %s (%s, %s) for %s",
                    event.room_id,
                    event.source.value,
                    event.reason,
                    mask_patron_id(event.patron_id),
                )

    def _emit_refusal(
        self,
        room_id: str,
        patron_id: str | None,
        refusal: Refused,
        *,
        source: Source = Source.QR,
    ) -> None:
        self.emit(
            [
                RoomEvent(
                    room_id=room_id,
                    type=EventType.REFUSED,
                    source=source,
                    at=dt_util.now(),
                    patron_id=patron_id,
                    reason=refusal.reason.value,
                )
            ]
        )
