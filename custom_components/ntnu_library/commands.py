"""Every room command of a site, each taken down the one command path (doors.py).

A patron's own request (ID and password: the room page, the websocket command), staff and
automation services, card taps, occupancy reports and the policy timer. Who the patron is
is settled first (the patron system may be slow); the decision then reads the patron's
record again where the library keeps it, so a patron removed or suspended meanwhile is
refused.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
import logging
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.util import dt as dt_util

from .announce import Announcer
from .const import DOMAIN
from .core.errors import UNREACHABLE, Reason, Refused
from .core.identity import mask_patron_id, normalize_card, normalize_patron_id
from .core.model import Patron, Source
from .core.study_rooms import Outcome, StudyRooms
from .doors import Decide, DoorKeeper
from .gate import PatronGate
from .transaction import Kept, Transaction
from .zigbee.radio import RoomRadio

_LOGGER = logging.getLogger(__package__)

# What a patron does at a room with their own ID and password.
PATRON_ACTIONS = ("borrow", "open", "return")
# A login that failed: counted, never told as a room event.
LOGIN_FAILURES = frozenset({Reason.INVALID_CREDENTIALS, Reason.TOO_MANY_ATTEMPTS})


class SiteCommands:
    """The room commands of one site."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry,
        *,
        rooms: StudyRooms,
        radio: RoomRadio,
        gate: PatronGate,
        doors: DoorKeeper,
        announcer: Announcer,
        transaction: Transaction,
        kept: tuple[Kept, ...],
    ) -> None:
        """`kept`: the site's rooms and the patrons' state (what room decisions change)."""
        self._hass = hass
        self._entry = entry
        self._rooms = rooms
        self._radio = radio
        self._gate = gate
        self._doors = doors
        self._announcer = announcer
        self._transaction = transaction
        self._kept = kept
        self._taps: dict[str, set[asyncio.Task[None]]] = {}
        # Occupancy reports waiting for their transaction: those that come meanwhile join it.
        self._occupancy: dict[str, bool] = {}
        self._occupancy_due: asyncio.Task[None] | None = None  # the transaction they wait for

    def summary(self, room_id: str) -> dict[str, Any]:
        """A room as a command answers it: status, masked holder, the lock's bolt."""
        now = dt_util.now()
        return {
            "room": room_id,
            "status": self._rooms.status(
                room_id, now, lock_online=self._radio.is_online(room_id)
            ).value,
            "holder": mask_patron_id(self._rooms.holder(room_id, now)),
            "lock": self._radio.lock_state(room_id).value,
        }

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
        device: str | None = None,
    ) -> dict[str, Any]:
        """登記使用 (borrow), 開門 (open) or 結束使用 (return), as the patron logged in.

        `device`: the patron's own browser (a device credential the page checked for this
        ID). A failed login is counted (the site's failed-logins sensor), not told as a room
        event: what was typed need not be anybody's ID.
        """
        if action not in PATRON_ACTIONS:
            raise ValueError(f"not a patron action: {action!r}")
        self._rooms.room(room_id)
        try:
            patron = await self._gate.async_login(
                patron_id, password, caller=caller, address=address, device=device
            )
        except Refused as refusal:
            pid = normalize_patron_id(patron_id)
            freeze = self._rooms.frozen(pid, dt_util.now())
            if refusal.reason is Reason.PRIVILEGES_DENIED and freeze is not None:
                # Most likely our own freeze, blocked in the ILS: say it as the freeze it is.
                refusal = Refused(Reason.FROZEN, until=freeze.until.isoformat(timespec="minutes"))
            if refusal.reason in UNREACHABLE:  # the patron system: nobody was told apart
                self._announcer.refusal(room_id, None, refusal)
            elif refusal.reason not in LOGIN_FAILURES:  # the ILS knew the patron, and refused
                self._announcer.refusal(room_id, pid, refusal)
            raise refusal from None
        try:
            return await self._async_act(action, room_id, patron, Source.QR)
        except Refused as refusal:  # a patron's own refused request is a room event
            self._announcer.refusal(room_id, patron.patron_id, refusal)
            raise

    async def _async_act(
        self, action: str, room_id: str, patron: Patron, source: Source
    ) -> dict[str, Any]:
        """Borrow, open or return for a patron whose identity is settled."""
        rooms, online = self._rooms, self._radio.is_online  # asked in the transaction
        decide: dict[str, Decide] = {
            "borrow": lambda now: rooms.borrow(
                room_id, self._gate.current(patron), now, lock_online=online(room_id), source=source
            ),
            "open": lambda now: rooms.open_door(
                room_id, self._gate.current(patron), now, lock_online=online(room_id), source=source
            ),
            "return": lambda now: rooms.return_room(
                room_id, self._gate.current(patron), now, source=source
            ),
        }
        return await self._async_answer(decide[action])

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
        self._rooms.room(room_id)
        patron = await self.async_known(patron_id)
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
                patron_id = self._rooms.patron_of_ref(patron_id, dt_util.now()) or patron_id
            patron_id = await self._gate.async_resolve(patron_id, patron_name)
        else:
            self._rooms.room(room_id)
        return await self._async_answer(
            lambda now: self._rooms.counter_return(now, room_id=room_id, patron_id=patron_id)
        )

    async def async_auto_return(self, room_id: str, reason: str) -> dict[str, Any]:
        """Return a forgotten room (automation or policy)."""
        self._rooms.room(room_id)
        return await self._async_answer(lambda now: self._rooms.auto_return(room_id, reason, now))

    async def async_reserve_long_term(
        self, room_id: str, patron_id: str, month: str
    ) -> dict[str, Any]:
        """Hold a long-term room for a month."""
        self._rooms.room(room_id)
        patron = await self._gate.async_known_patron(patron_id)
        result = await self._async_answer(
            lambda now: self._rooms.reserve_long_term(
                room_id, self._gate.current(patron), month, now
            )
        )
        return result | {"month": month}

    async def async_cancel_reservation(self, room_id: str, month: str) -> dict[str, Any]:
        """Cancel a long-term reservation."""
        self._rooms.room(room_id)
        result = await self._async_answer(
            lambda now: self._rooms.cancel_reservation(room_id, month, now)
        )
        return result | {"month": month}

    async def async_freeze(self, patron_id: str, days: int | None, reason: str) -> dict[str, Any]:
        """Freeze a patron at every site of the library (and, with SIP2, in the ILS too)."""
        pid = (await self.async_known(patron_id)).patron_id
        await self._doors.async_run(lambda now: self._rooms.freeze(pid, days, reason, now))
        freeze = self._rooms.frozen(pid, dt_util.now())
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
        pid = (await self.async_known(patron_id)).patron_id
        await self._doors.async_run(lambda now: self._rooms.unfreeze(pid, now))
        return {"patron": mask_patron_id(pid), "frozen_until": None}

    async def async_check_in(self, patron_id: str) -> dict[str, Any]:
        """A frozen patron checks in at the counter for today."""
        pid = (await self.async_known(patron_id)).patron_id
        await self._doors.async_run(lambda now: self._rooms.check_in(pid, now))
        return {"patron": mask_patron_id(pid), "checked_in": dt_util.now().date().isoformat()}

    async def async_clear_login_lock(self, patron_id: str) -> dict[str, Any]:
        """Staff end the backoff that someone else's guesses put on a patron's ID."""
        pid = (await self.async_known(patron_id)).patron_id
        cleared = await self._gate.async_clear_login_lock(pid)
        return {"patron": mask_patron_id(pid), "cleared": cleared}

    async def async_record_violation(
        self, patron_id: str, reason: str, days: int
    ) -> dict[str, Any]:
        """Record a violation against a patron (named by an event's ref); count the last `days`.

        A ref is counted once however often it is recorded; the answer names the patron
        masked, so an automation that counts violations never sees who it counts.
        """
        named_by_ref = self._rooms.patron_of_ref(patron_id, dt_util.now()) is not None
        ref = patron_id.strip().upper() if named_by_ref else None
        pid = (await self.async_known(patron_id)).patron_id
        patrons = self._rooms.patrons

        def decide(now: datetime) -> tuple[bool, int]:
            new = patrons.record_violation(pid, reason, now, ref)
            return new, patrons.violations_within(pid, now, days)

        new, count = await self._transaction.async_run(decide, self._kept[1])
        return {"patron": mask_patron_id(pid), "recorded": new, "violations": count, "days": days}

    async def async_known(self, patron_id: str) -> Patron:
        """The patron a staff command names, by ID or by the ref of one of their events."""
        pid = self._rooms.patron_of_ref(patron_id, dt_util.now()) or patron_id
        return await self._gate.async_known_patron(pid)

    async def async_policy_tick(self, now: datetime | None = None) -> None:
        """Return forgotten rooms and drop what has ended."""
        now = now or dt_util.now()
        for room_id, reason in self._rooms.due_returns(now):
            try:
                await self.async_auto_return(room_id, reason)
            except Refused:  # returned meanwhile
                continue
            except HomeAssistantError as err:  # the disk: tried again at the next tick
                _LOGGER.error("Room %s could not be returned automatically: %s", room_id, err)
                continue
            _LOGGER.info("Room %s returned automatically (%s)", room_id, reason)
        try:
            await self._transaction.async_run(lambda _now: self._rooms.prune(now), *self._kept)
        except HomeAssistantError as err:  # pruned at the next tick
            _LOGGER.error("Could not drop what has ended: %s", err)

    # --- the door itself -------------------------------------------------------------------

    async def async_staff_unlock(
        self, room_id: str, *, source: Source = Source.COUNTER
    ) -> dict[str, Any]:
        """Staff (or an automation: `source`) open a door from Home Assistant; it is logged."""
        _LOGGER.info("Room %s unlocked from Home Assistant", room_id)
        return await self._async_answer(
            lambda now: self._rooms.staff_unlock(
                room_id, now, lock_online=self._radio.is_online(room_id), source=source
            )
        )

    async def async_relock(self, room_id: str) -> dict[str, Any]:
        """Lock a door: staff, or a lock that missed its lock command."""
        outcome, door = await self._doors.async_relock(room_id)
        return self._answer(outcome, door)

    # --- what the devices tell ---------------------------------------------------------------

    @callback
    def card_tap(self, room_id: str, card: str) -> None:
        """A card at the reader: decided in the background, the room's taps in order."""
        self._spawn(room_id, self._async_card_tap(room_id, card), "card tap")

    async def _async_card_tap(self, room_id: str, card: str) -> None:
        try:
            patron = await self._gate.async_find_by_card(card) if card else None
        except Refused as refusal:  # the patron system is down: the door stays shut
            self._announcer.refusal(room_id, None, refusal, source=Source.CARD)
            return

        def decide(now: datetime) -> Outcome:
            holder = patron
            if holder is not None and (directory := self._gate.backend.directory) is not None:
                holder = directory.patron(holder.patron_id)  # removed, or the card moved on
                if holder is not None and holder.card != normalize_card(card):
                    holder = None
            return self._rooms.card_tap(
                room_id, card, holder, now, lock_online=self._radio.is_online(room_id)
            )

        try:
            await self._doors.async_run(decide)
        except HomeAssistantError as err:  # storage failed: nothing unlocked
            _LOGGER.error("Card tap at %s not handled: %s", room_id, err)

    @callback
    def occupancy(self, room_id: str, occupied: bool) -> None:
        """The room's occupancy sensor changed: the empty-room clock follows.

        Reports that come while one waits for the transaction are decided (and written) with
        it, the latest of each room counting: a flood of sensor frames costs a few writes,
        not one each, and never holds the rooms' other commands up.
        """
        self._occupancy[room_id] = occupied
        if (due := self._occupancy_due) is not None:
            self._track(room_id, due)
            return
        task = self._spawn(room_id, self._async_occupancy(), "occupancy")
        if self._occupancy:  # not taken yet (the task may have run at once)
            self._occupancy_due = task

    async def _async_occupancy(self, reports: dict[str, bool] | None = None) -> None:
        def decide(now: datetime) -> None:
            taken = reports if reports is not None else self._take_occupancy()
            for room_id, occupied in taken.items():
                self._rooms.occupancy(room_id, occupied, now)

        try:
            await self._transaction.async_run(decide, self._kept[0])
        except HomeAssistantError as err:  # the sensor reports again; the clock waits
            _LOGGER.error("Occupancy not recorded: %s", err)

    def _take_occupancy(self) -> dict[str, bool]:
        """The reports waiting, taken in the transaction (later ones start a new one)."""
        reports, self._occupancy = self._occupancy, {}
        self._occupancy_due = None
        return reports

    async def async_take_occupancy(self) -> None:
        """The sensors' start-up reports came before the site listened: read them now.

        Without them a room borrowed and never entered would never be returned for standing
        empty.
        """
        reports = {
            room_id: occupied
            for room_id in self._rooms.rooms
            if (occupied := self._radio.occupied(room_id)) is not None
        }
        if reports:
            await self._async_occupancy(reports)

    def _spawn(self, room_id: str, coro: Any, what: str) -> asyncio.Task[None]:
        """A device's news, handled in the background; the room's in the order they came."""
        task: asyncio.Task[None] = self._entry.async_create_background_task(
            self._hass, coro, f"{DOMAIN} {what} {room_id}"
        )
        self._track(room_id, task)
        return task

    def _track(self, room_id: str, task: asyncio.Task[None]) -> None:
        """`async_settle` of the room waits for the task."""
        if not task.done():
            tasks = self._taps.setdefault(room_id, set())
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    async def async_settle(self, room_id: str) -> None:
        """Wait for the room's news being handled (a card tap may ask the patron system)."""
        if tasks := self._taps.get(room_id):
            await asyncio.gather(*tasks, return_exceptions=True)

    async def async_stop(self) -> None:
        """End what is being handled."""
        tasks = [task for room in self._taps.values() for task in room]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # --- answers ---------------------------------------------------------------------------

    async def _async_answer(self, decide: Decide) -> dict[str, Any]:
        outcome, door = await self._doors.async_run(decide)
        return self._answer(outcome, door)

    def _answer(self, outcome: Outcome, door: str) -> dict[str, Any]:
        if outcome.room_id is None:
            return {"door": door}
        return self.summary(outcome.room_id) | {"door": door}
