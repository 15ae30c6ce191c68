"""One site at run time: the rules, the patron system, the radio and the Store, tied together.

A request or a frame becomes a command; `core` decides; the runtime persists the result, then
sends the unlock or lock, then tells the entities and the bus. A refusal changes nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
import logging
import time
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.util import dt as dt_util

from .auth import PatronSystem
from .auth.local import LocalDirectory
from .auth.sip2 import Sip2PatronSystem
from .const import DOMAIN, EVENT_NAME, LOGGER
from .core.breaker import CircuitBreaker
from .core.categories import default_membership_expiry
from .core.errors import Reason, Refused
from .core.model import EventType, Patron, Room, RoomEvent, RoomStatus, Source, mask_patron_id
from .core.rooms import Library, LibraryState, Outcome
from .core.throttle import LoginThrottle, normalize_patron_id
from .store import SiteStore
from .zigbee.radio import DeviceEvent, DeviceEventType, RadioError, RoomRadio

_DOOR_EVENTS = {
    DeviceEventType.PUSH_EXIT: EventType.PUSH_EXIT,
    DeviceEventType.FORCED_OPEN: EventType.FORCED_OPEN,
}


def _patron_summary(patron: Patron) -> dict[str, Any]:
    """What a staff service returns about a patron: nothing a log must not show."""
    return {
        "patron": mask_patron_id(patron.patron_id),
        "category": patron.category,
        "membership_expires": (
            patron.membership_expires.isoformat() if patron.membership_expires else None
        ),
        "suspended": patron.suspended,
        "card": patron.card is not None,
    }


def signal_room_update(entry_id: str) -> str:
    """Dispatcher signal carrying the id of a room whose state changed (None: all rooms)."""
    return f"{DOMAIN}_{entry_id}_room_update"


def signal_room_event(entry_id: str) -> str:
    """Dispatcher signal carrying a RoomEvent for the event entities."""
    return f"{DOMAIN}_{entry_id}_room_event"


@dataclass(kw_only=True)
class SiteRuntime:
    """Everything one config entry (one library building) runs."""

    hass: HomeAssistant
    entry_id: str
    site_name: str
    library: Library
    directory: PatronSystem  # the local directory, or the ILS over SIP2
    throttle: LoginThrottle
    radio: RoomRadio
    store: SiteStore
    seeded: bool = False
    jammed: set[str] = field(default_factory=set)
    breaker: CircuitBreaker = field(default_factory=CircuitBreaker)
    _decide_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _bcrypt_slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(2))
    _unsubscribe: list[CALLBACK_TYPE] = field(default_factory=list)
    _taps: dict[str, set[asyncio.Task[None]]] = field(default_factory=dict)

    # --- life cycle ------------------------------------------------------------------------

    @classmethod
    async def async_create(
        cls,
        hass: HomeAssistant,
        entry: ConfigEntry,
        *,
        rooms: list[Room],
        radio: RoomRadio,
        library_factory: Callable[[list[Room], LibraryState | None], Library],
        patron_system: PatronSystem | None = None,
    ) -> SiteRuntime:
        """Load the Store and build the runtime (the radio is started by the caller).

        Without a `patron_system` the site keeps its own directory in the Store.
        """
        store = SiteStore(hass, entry.entry_id)
        data = await store.async_load() or {}
        state = LibraryState.from_dict(data["library"]) if "library" in data else None
        runtime = cls(
            hass=hass,
            entry_id=entry.entry_id,
            site_name=entry.title,
            library=library_factory(rooms, state),
            directory=patron_system
            or LocalDirectory.from_dict(
                data.get("patrons", {}),
                run_blocking=hass.async_add_executor_job,
                on_change=lambda: None,
            ),
            throttle=LoginThrottle.from_dict(data.get("throttle", {})),
            radio=radio,
            store=store,
            seeded=bool(data.get("seeded")),
        )
        if isinstance(runtime.directory, LocalDirectory):
            runtime.directory.on_change = runtime.async_schedule_save
        return runtime

    @callback
    def async_start(self) -> None:
        """Listen to the radio, starting from what its sensors told it while it started."""
        self._unsubscribe.append(self.radio.subscribe(self._handle_device_event))
        # The start-up reports came before we listened: without them a room borrowed and
        # never entered would never be returned for standing empty.
        vacant_since = dict(self.library.state.vacant_since)
        now = dt_util.now()
        for room_id in self.library.rooms:
            if (occupied := self.radio.occupied(room_id)) is not None:
                self.library.occupancy(room_id, occupied, now)
        if self.library.state.vacant_since != vacant_since:
            self.async_schedule_save()

    async def async_settle(self, room_id: str) -> None:
        """Wait for the room's card taps being decided (the patron system may be asked)."""
        if taps := self._taps.get(room_id):
            await asyncio.gather(*taps, return_exceptions=True)

    async def async_stop(self) -> None:
        """Stop listening and write what is pending."""
        while self._unsubscribe:
            self._unsubscribe.pop()()
        await self.async_save()
        if isinstance(self.directory, Sip2PatronSystem):
            await self.directory.async_close()

    def as_store_data(self) -> dict[str, Any]:
        """What the Store keeps."""
        return {
            "library": self.library.state.as_dict(),
            "patrons": (
                self.directory.as_dict() if isinstance(self.directory, LocalDirectory) else {}
            ),
            "throttle": self.throttle.as_dict(),
            "seeded": self.seeded,
        }

    async def async_save(self) -> None:
        """Write now."""
        await self.store.async_save(self.as_store_data())

    @callback
    def async_schedule_save(self) -> None:
        """Write soon (patron directory and throttle changes)."""
        self.store.async_delay_save(self.as_store_data, 1)

    # --- what entities read ----------------------------------------------------------------

    def status(self, room_id: str) -> RoomStatus:
        """The e-label status of a room now."""
        return self.library.status(
            room_id, dt_util.now(), lock_online=self.radio.is_online(room_id)
        )

    def masked_holder(self, room_id: str) -> str | None:
        """The holder's ID, masked."""
        return mask_patron_id(self.library.holder(room_id, dt_util.now()))

    def room_summary(self, room_id: str) -> dict[str, Any]:
        """The answer a patron or staff service returns for a room."""
        return {
            "room": room_id,
            "status": self.status(room_id).value,
            "holder": self.masked_holder(room_id),
            "lock": self.radio.lock_state(room_id).value,
        }

    # --- patron actions --------------------------------------------------------------------

    async def async_login(self, patron_id: str, password: str, address: str | None) -> Patron:
        """Check credentials with backoff; one refusal for a wrong ID or password."""
        pid = normalize_patron_id(patron_id)
        delay = self.throttle.check(pid, address, time.monotonic())
        verdict = False
        try:
            if delay:
                await asyncio.sleep(delay)
            # bcrypt runs on the shared executor: a few at a time keeps a flood of parallel
            # logins from starving the rest of Home Assistant.
            async with self._bcrypt_slots:
                patron = await self._ask_patron_system(
                    lambda: self.directory.async_authenticate(pid, password)
                )
        except Refused as refusal:
            if refusal.reason is Reason.INVALID_CREDENTIALS:
                verdict = True
                self.throttle.failure(pid, address, time.monotonic())
                self.async_schedule_save()
            raise
        else:
            verdict = True
            self.throttle.success(pid, address, time.monotonic())
            return patron
        finally:
            if not verdict:  # cancelled or the patron system failed: not the patron's fault
                self.throttle.release(pid, address, time.monotonic())

    async def async_borrow(
        self, room_id: str, patron_id: str, password: str, address: str | None = None
    ) -> dict[str, Any]:
        """登記使用."""
        return await self._async_patron_action(
            room_id,
            patron_id,
            password,
            address,
            lambda patron, now: self.library.borrow(
                room_id, patron, now, lock_online=self.radio.is_online(room_id)
            ),
        )

    async def async_open_door(
        self, room_id: str, patron_id: str, password: str, address: str | None = None
    ) -> dict[str, Any]:
        """開門."""
        return await self._async_patron_action(
            room_id,
            patron_id,
            password,
            address,
            lambda patron, now: self.library.open_door(
                room_id, patron, now, lock_online=self.radio.is_online(room_id)
            ),
        )

    async def async_return_room(
        self, room_id: str, patron_id: str, password: str, address: str | None = None
    ) -> dict[str, Any]:
        """結束使用."""
        return await self._async_patron_action(
            room_id,
            patron_id,
            password,
            address,
            lambda patron, now: self.library.return_room(room_id, patron, now),
        )

    async def _async_patron_action(
        self,
        room_id: str,
        patron_id: str,
        password: str,
        address: str | None,
        decide: Callable[[Patron, datetime], Outcome],
    ) -> dict[str, Any]:
        """A patron's own request at a room: log in, then decide as them."""
        self.library.room(room_id)
        patron = await self._login_at_room(room_id, patron_id, password, address)
        return await self._async_run(room_id, patron.patron_id, lambda now: decide(patron, now))

    # --- staff and automation actions ------------------------------------------------------

    async def async_counter_return(
        self,
        *,
        room_id: str | None = None,
        patron_id: str | None = None,
        patron_name: str | None = None,
    ) -> dict[str, Any]:
        """Return a room at the counter by room, patron ID or patron name."""
        if room_id is None:
            patron_id = await self._resolve_patron(patron_id, patron_name)
        else:
            self.library.room(room_id)
        return await self._async_run(
            room_id,
            None,
            lambda now: self.library.counter_return(now, room_id=room_id, patron_id=patron_id),
        )

    async def async_auto_return(self, room_id: str, reason: str) -> dict[str, Any]:
        """Return a forgotten room (automation or policy)."""
        self.library.room(room_id)
        return await self._async_run(
            room_id, None, lambda now: self.library.auto_return(room_id, reason, now)
        )

    async def async_reserve_long_term(
        self, room_id: str, patron_id: str, month: str
    ) -> dict[str, Any]:
        """Hold a long-term room for a month."""
        self.library.room(room_id)
        patron = await self._known_patron(patron_id)
        result = await self._async_run(
            room_id,
            None,
            lambda now: self.library.reserve_long_term(room_id, patron, month, now),
        )
        return result | {"month": month}

    async def async_cancel_reservation(self, room_id: str, month: str) -> dict[str, Any]:
        """Cancel a long-term reservation."""
        self.library.room(room_id)
        result = await self._async_run(
            room_id, None, lambda now: self.library.cancel_reservation(room_id, month, now)
        )
        return result | {"month": month}

    async def async_freeze(self, patron_id: str, days: int | None, reason: str) -> dict[str, Any]:
        """Freeze a patron."""
        patron = await self._known_patron(patron_id)
        async with self._decide_lock:
            snapshot = self.library.state.as_dict()
            freeze = self.library.freeze(patron.patron_id, days, reason, dt_util.now())
            await self._async_persist(snapshot)
        self._notify_all()
        return {
            "patron": mask_patron_id(patron.patron_id),
            "frozen_until": freeze.until.isoformat(),
        }

    async def async_unfreeze(self, patron_id: str) -> dict[str, Any]:
        """Lift a freeze."""
        patron = await self._known_patron(patron_id)
        async with self._decide_lock:
            snapshot = self.library.state.as_dict()
            self.library.unfreeze(patron.patron_id, dt_util.now())
            await self._async_persist(snapshot)
        self._notify_all()
        return {"patron": mask_patron_id(patron.patron_id), "frozen_until": None}

    async def async_check_in(self, patron_id: str) -> dict[str, Any]:
        """A frozen patron checks in at the counter for today."""
        patron = await self._known_patron(patron_id)
        async with self._decide_lock:
            snapshot = self.library.state.as_dict()
            now = dt_util.now()
            self.library.check_in(patron.patron_id, now)
            await self._async_persist(snapshot)
        return {"patron": mask_patron_id(patron.patron_id), "checked_in": now.date().isoformat()}

    def local_directory(self) -> LocalDirectory:
        """The site's own directory; patrons in the ILS are managed there, not here."""
        if not isinstance(self.directory, LocalDirectory):
            raise Refused(Reason.PATRONS_MANAGED_ELSEWHERE)
        return self.directory

    async def async_add_patron(self, **fields: Any) -> dict[str, Any]:
        """Add a patron to the local directory; the category's membership period by default."""
        if fields.get("membership_expires") is None:
            fields["membership_expires"] = default_membership_expiry(
                fields["category"], dt_util.now().date()
            )
        patron = await self.local_directory().async_add_patron(fields.pop("patron_id"), **fields)
        await self.async_save()
        return _patron_summary(patron)

    async def async_update_patron(self, patron_id: str, **changes: Any) -> dict[str, Any]:
        """Change a patron; only the fields given change."""
        patron = await self.local_directory().async_update_patron(patron_id, **changes)
        await self.async_save()
        self._notify_all()
        return _patron_summary(patron)

    async def async_remove_patron(self, patron_id: str) -> dict[str, Any]:
        """Remove a patron who holds no room now."""
        patron = await self._known_patron(patron_id)
        held = self.library.borrowed_room(patron.patron_id) or next(
            (room for room, _, pid in self.library.reservations() if pid == patron.patron_id),
            None,
        )
        if held is not None:
            raise Refused(Reason.ROOM_HAS_HOLDER, room=held)
        await self.local_directory().async_remove_patron(patron.patron_id)
        await self.async_save()
        return {"patron": mask_patron_id(patron.patron_id), "removed": True}

    async def async_policy_tick(self, now: datetime | None = None) -> None:
        """Return forgotten rooms and drop what has ended."""
        now = now or dt_util.now()
        for room_id, reason in self.library.due_returns(now):
            try:
                await self.async_auto_return(room_id, reason)
            except Refused:  # returned meanwhile
                continue
            LOGGER.info("Room %s returned automatically (%s)", room_id, reason)
        if self.library.prune(now):
            await self.async_save()

    # --- the radio -------------------------------------------------------------------------

    @callback
    def _handle_device_event(self, event: DeviceEvent) -> None:
        room_id = event.room_id
        if room_id not in self.library.rooms:
            LOGGER.debug("Event for a room this site does not have: %s", event)
            return
        now = dt_util.now()
        if event.type is DeviceEventType.CARD_TAP:
            task = self.hass.async_create_background_task(
                self._async_card_tap(room_id, event.card or ""),
                f"{DOMAIN} card tap {room_id}",
                eager_start=True,
            )
            if not task.done():
                taps = self._taps.setdefault(room_id, set())
                taps.add(task)
                task.add_done_callback(taps.discard)
            return
        if event.type in _DOOR_EVENTS:
            self._emit(self.library.door_event(room_id, _DOOR_EVENTS[event.type], now).events)
        elif event.type in (DeviceEventType.OCCUPIED, DeviceEventType.VACANT):
            self.library.occupancy(room_id, event.type is DeviceEventType.OCCUPIED, now)
            self.async_schedule_save()
        elif event.type is DeviceEventType.JAMMED:
            self.jammed.add(room_id)
            LOGGER.warning("Lock of room %s reports a jam", room_id)
        elif event.type in (DeviceEventType.LOCKED, DeviceEventType.UNLOCKED):
            self.jammed.discard(room_id)
        elif event.type is DeviceEventType.OFFLINE:
            # The radio itself gone takes every lock with it: the radio says that once.
            radio_up = getattr(self.radio, "connected", True)
            LOGGER.log(
                logging.WARNING if radio_up else logging.DEBUG,
                "Lock of room %s stopped answering",
                room_id,
            )
        elif event.type is DeviceEventType.ONLINE:
            LOGGER.info("Lock of room %s answers again", room_id)
            ir.async_delete_issue(self.hass, DOMAIN, self._left_issue(room_id))
        elif event.type is DeviceEventType.LEFT:
            LOGGER.warning("A device of room %s left the Zigbee network", room_id)
            ir.async_create_issue(
                self.hass,
                DOMAIN,
                self._left_issue(room_id),
                is_fixable=False,
                severity=ir.IssueSeverity.WARNING,
                translation_key="device_left",
                translation_placeholders={"room": room_id, "site": self.site_name},
            )
        async_dispatcher_send(self.hass, signal_room_update(self.entry_id), room_id)

    def _left_issue(self, room_id: str) -> str:
        return f"device_left_{self.entry_id}_{room_id}"

    async def _async_card_tap(self, room_id: str, card: str) -> None:
        try:
            patron = (
                await self._ask_patron_system(lambda: self.directory.async_find_by_card(card))
                if card
                else None
            )
        except Refused as refusal:  # the patron system is down: the door stays shut
            self._emit_refusal(room_id, None, refusal, dt_util.now(), source=Source.CARD)
            return
        try:
            await self._async_run(
                room_id,
                None,
                lambda now: self.library.card_tap(
                    room_id, card, patron, now, lock_online=self.radio.is_online(room_id)
                ),
            )
        except HomeAssistantError as err:  # storage failed: nothing unlocked
            LOGGER.error("Card tap at %s not handled: %s", room_id, err)

    # --- the one path every decision takes -------------------------------------------------

    async def _async_run(
        self, room_id: str | None, patron_id: str | None, decide: Callable[[datetime], Outcome]
    ) -> dict[str, Any]:
        """Decide under the site lock, persist, then move the bolt and tell everyone.

        `patron_id` is set for a patron's own request: its refusal is logged as a room event.
        """
        async with self._decide_lock:
            now = dt_util.now()
            snapshot = self.library.state.as_dict()
            try:
                outcome = decide(now)
            except Refused as refusal:
                if patron_id is not None and room_id is not None:
                    self._emit_refusal(room_id, patron_id, refusal, now)
                raise
            # An open by the holder or a refused tap changes nothing worth a disk write.
            if self.library.state.as_dict() != snapshot:
                await self._async_persist(snapshot)
        door = await self._async_apply(outcome)
        self._emit(outcome.events)
        if outcome.room_id is None:
            return {"door": door}
        return self.room_summary(outcome.room_id) | {"door": door}

    async def _async_persist(self, snapshot: dict[str, Any]) -> None:
        try:
            await self.async_save()
        except (OSError, HomeAssistantError, ValueError) as err:
            # Nothing is decided unless it is written: restore and report.
            self.library.state = LibraryState.from_dict(snapshot)
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="storage_failed",
                translation_placeholders={"error": str(err)[:200]},
            ) from err

    async def _async_apply(self, outcome: Outcome) -> str:
        if outcome.room_id is None:
            return "unchanged"
        if not (outcome.unlock or outcome.lock):
            # No bolt to move, but the room may have changed (a reservation): show it.
            async_dispatcher_send(self.hass, signal_room_update(self.entry_id), outcome.room_id)
            return "unchanged"
        try:
            if outcome.unlock:
                await self.radio.async_unlock(outcome.room_id)
                return "unlocked"
            await self.radio.async_lock(outcome.room_id)
        except RadioError as err:
            LOGGER.warning("Door of room %s did not answer: %s", outcome.room_id, err)
            return "unlock_failed" if outcome.unlock else "lock_failed"
        else:
            return "locked"
        finally:
            async_dispatcher_send(self.hass, signal_room_update(self.entry_id), outcome.room_id)

    # --- helpers ---------------------------------------------------------------------------

    async def _login_at_room(
        self, room_id: str, patron_id: str, password: str, address: str | None
    ) -> Patron:
        try:
            return await self.async_login(patron_id, password, address)
        except Refused as refusal:
            self._emit_refusal(room_id, normalize_patron_id(patron_id), refusal, dt_util.now())
            raise

    async def _ask_patron_system[T](self, request: Callable[[], Awaitable[T]]) -> T:
        """Every question to the patron system passes the circuit breaker."""
        started = time.monotonic()
        self.breaker.allow(started)
        try:
            answer = await request()
        except Refused as refusal:
            answered = refusal.reason is not Reason.PATRON_SYSTEM_UNAVAILABLE
            self.breaker.record(time.monotonic(), ok=answered, elapsed=time.monotonic() - started)
            if getattr(self.directory, "login_rejected", False):
                self._async_ask_for_sip_account()
            raise
        except asyncio.CancelledError:
            self.breaker.release()
            raise
        except Exception as err:  # an unexpected failure of the backend: fail secure
            self.breaker.record(time.monotonic(), ok=False)
            LOGGER.error("Patron system failed: %s", type(err).__name__)
            raise Refused(Reason.PATRON_SYSTEM_UNAVAILABLE) from err
        self.breaker.record(time.monotonic(), ok=True, elapsed=time.monotonic() - started)
        return answer

    @callback
    def _async_ask_for_sip_account(self) -> None:
        """The ILS refused the site's SIP login while running: ask staff for it (once)."""
        if (entry := self.hass.config_entries.async_get_entry(self.entry_id)) is not None:
            entry.async_start_reauth(self.hass)

    async def _known_patron(self, patron_id: str) -> Patron:
        pid = normalize_patron_id(patron_id)
        patron = await self._ask_patron_system(lambda: self.directory.async_get_patron(pid))
        if patron is None:
            raise Refused(Reason.UNKNOWN_PATRON, patron=mask_patron_id(patron_id) or "-")
        return patron

    async def _resolve_patron(self, patron_id: str | None, patron_name: str | None) -> str:
        if patron_id:
            return (await self._known_patron(patron_id)).patron_id
        name = patron_name or ""
        matches = await self._ask_patron_system(lambda: self.directory.async_find_by_name(name))
        if len(matches) != 1:
            raise Refused(Reason.UNKNOWN_PATRON, patron=str(patron_name)[:32])
        return matches[0].patron_id

    def _emit_refusal(
        self,
        room_id: str,
        patron_id: str | None,
        refusal: Refused,
        now: datetime,
        *,
        source: Source = Source.QR,
    ) -> None:
        self._emit(
            [
                RoomEvent(
                    room_id=room_id,
                    type=EventType.REFUSED,
                    source=source,
                    at=now,
                    patron_id=patron_id,
                    reason=refusal.reason.value,
                )
            ]
        )

    @callback
    def _emit(self, events: list[RoomEvent]) -> None:
        for event in events:
            data = {
                "site": self.site_name,
                "room": event.room_id,
                "type": event.type.value,
                "source": event.source.value,
                "patron": mask_patron_id(event.patron_id),
            }
            if event.reason:
                data["reason"] = event.reason
            self.hass.bus.async_fire(EVENT_NAME, data)
            async_dispatcher_send(self.hass, signal_room_event(self.entry_id), event)
            if event.type is EventType.REFUSED:
                LOGGER.info(
                    "Refused at room %s (%s, %s) for %s",
                    event.room_id,
                    event.source.value,
                    event.reason,
                    mask_patron_id(event.patron_id),
                )

    @callback
    def _notify_all(self) -> None:
        async_dispatcher_send(self.hass, signal_room_update(self.entry_id), None)
