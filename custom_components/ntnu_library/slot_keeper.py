"""The holder's card in each room's lock: written, cleared, read back, and what the lock decided.

A lock with its own user table opens for the holder even while Home Assistant or the radio is
down. The rules of what it should hold are the domain's (core/lock_slots.py); this keeps the
locks in step with them:

- after every room decision (a borrow, a return, a freeze, a check-in, ...) and every minute
  (an end reached, a card changed, a membership ended), each room whose lock should hold
  something else is written: cleared before written, each change recorded in the one
  transaction once the lock confirmed it. What a lock holds is part of the site's state, so a
  change a lock missed (offline) is still owed after a restart, and made as soon as it answers;
- on start and whenever a lock comes back, its slots are read and every difference corrected,
  and its log is read back: the taps it decided by itself (opens, refusals) and PUSH exits
  become the room's events at the lock's own times, with the source `lock`;
- a lock without RFID slots or year-day schedules stays as it was: the site decides every tap.

Card numbers are written to locks and compared, never logged, never in an event, a state
attribute or diagnostics (counts only); the site's state keeps them as keyed hashes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timedelta
import logging

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.util import dt as dt_util

from .announce import Announcer
from .const import DOMAIN, POLICY_TICK_SECONDS
from .core.identity import normalize_card
from .core.lock_slots import (
    Grant,
    LockDecision,
    LockFacts,
    LockSlotsState,
    SlotChange,
    SlotMode,
    Wanted,
    plan,
    wanted,
)
from .core.model import Patron
from .core.study_rooms import StudyRooms
from .gate import PatronGate
from .library import Library
from .lock_log import LockLog, aware, lock_time, user_of
from .storage import PrivateStore
from .transaction import Kept, Transaction, WriteSoon
from .zigbee.frames import ZCL_EPOCH
from .zigbee.radio import (
    DeviceEvent,
    DeviceEventType,
    LockCommandFailed,
    LockOffline,
    NotSupported,
    RadioError,
    RoomRadio,
    SlotContent,
)

_LOGGER = logging.getLogger(__package__)

# Rooms whose locks are read or written at once (zigpy queues the rest; the doors' own
# commands must not wait behind a whole building's slots).
SYNC_IN_FLIGHT = 4
# What the locks told live is written this long after it changes (one write for a burst).
HEARD_WRITE_DELAY_S = 1.0


class SlotKeeper:
    """The user tables of one site's locks, kept in step with the rooms' rights."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry,
        *,
        rooms: StudyRooms,
        radio: RoomRadio,
        transaction: Transaction,
        kept: Kept,
        kept_patrons: Kept,
        announcer: Announcer,
        patron_of: Callable[[str], Patron | None] | None,
        card_owner: Callable[[str], Awaitable[Patron | None]],
        key: Callable[[str], str],
        relock: Callable[[str], None],
    ) -> None:
        """`kept`: the locks' part of the site's state (a `LockSlotsState`) and its Store.

        `patron_of` reads a patron's record (it returns None: unknown; `patron_of` None: the
        site knows no cards, the ILS holds them, and decides every tap), `card_owner` finds a card's
        patron, `key` turns a card into its keyed hash, `relock` locks a door again.
        """
        self._hass = hass
        self._entry = entry
        self._rooms = rooms
        self._radio = radio
        self._transaction = transaction
        self._kept = kept
        self._kept_patrons = kept_patrons
        self._announcer = announcer
        self._patron_of = patron_of or (lambda _patron_id: None)
        self._knows_cards = patron_of is not None
        self._key = key
        self._relock = relock
        self.kept = kept
        assert isinstance(kept.state, LockSlotsState)
        self.state: LockSlotsState = kept.state
        self.state.forget_rooms(rooms.rooms)
        self._verified: set[str] = set()  # read since the lock last came back
        self.log = LockLog(
            rooms=rooms,
            radio=radio,
            transaction=transaction,
            kept=kept,
            kept_patrons=kept_patrons,
            announcer=announcer,
            card_owner=card_owner,
            write_soon=WriteSoon(
                hass, entry, transaction, kept.storage, delay_s=HEARD_WRITE_DELAY_S
            ).changed,
        )
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._again: dict[str, tuple[bool, bool]] = {}
        self._turns = asyncio.Semaphore(SYNC_IN_FLIGHT)
        self._warned: set[str] = set()

    # --- what the room's device page and diagnostics show ------------------------------------

    def mode(self, room_id: str) -> SlotMode:
        """How the room's taps are decided (the site decides when it knows no card to write)."""
        mode = self.state.mode(room_id)
        return SlotMode.SITE_ONLY if mode is SlotMode.LOCK_SLOTS and not self._knows_cards else mode

    def in_use(self, room_id: str) -> int:
        """How many of the site's slots on the room's lock hold a card."""
        return self.state.in_use(room_id)

    def pending(self, room_id: str) -> int:
        """Slot changes the room's lock still owes (it was offline, or refused them)."""
        changes = self._changes(room_id, dt_util.now())
        return len(changes[1]) if changes is not None else 0

    # --- when to look --------------------------------------------------------------------------

    @callback
    def async_start(self) -> None:
        """Read every lock and set it right; then every minute, those that fall behind."""
        self._entry.async_on_unload(self._radio.subscribe(self.on_device_event))
        for room_id in sorted(self._rooms.rooms):
            self.request(room_id, read=True)
        self._entry.async_on_unload(
            async_track_time_interval(
                self._hass,
                self._tick,
                timedelta(seconds=POLICY_TICK_SECONDS),
                cancel_on_shutdown=True,
            )
        )

    @callback
    def _tick(self, _now: datetime) -> None:
        self.changed(None)

    @callback
    def changed(self, room_id: str | None) -> None:
        """A room decision was made (None: one about a patron, any room may change)."""
        now = dt_util.now()
        for room in sorted(self._rooms.rooms) if room_id is None else [room_id]:
            if room not in self.state.facts or (
                (changes := self._changes(room, now)) is not None and changes[1]
            ):
                self.request(room)

    @callback
    def on_device_event(self, event: DeviceEvent) -> None:
        """Follow the locks: back online, taps told live, their tables changed at the lock."""
        room_id, kind = event.room_id, event.type
        if room_id not in self._rooms.rooms:
            return
        if kind is DeviceEventType.ONLINE:
            self.request(room_id, read=True)
        elif kind is DeviceEventType.OFFLINE:
            self._verified.discard(room_id)
            self.log.deaf(room_id)
        elif kind is DeviceEventType.USERS_CHANGED:
            self._verified.discard(room_id)
            self.request(room_id, read=True)
        elif kind in (DeviceEventType.CARD_TAP, DeviceEventType.PUSH_EXIT):
            self.log.heard(event)
        elif kind is DeviceEventType.LOCK_OPENED:
            self.log.heard(event)
            self._entry.async_create_background_task(
                self._hass,
                self._async_opened(room_id, event),
                f"{DOMAIN} lock {room_id} opened by itself",
            )

    @callback
    def request(self, room_id: str, *, read: bool = False) -> None:
        """Bring the room's lock in step, in the background (`read`: read it back first)."""
        if (task := self._tasks.get(room_id)) is not None and not task.done():
            was = self._again.get(room_id, (False, False))
            self._again[room_id] = (True, was[1] or read)
            return
        self._tasks[room_id] = self._entry.async_create_background_task(
            self._hass, self._async_run(room_id, read), f"{DOMAIN} lock slots {room_id}"
        )

    async def async_settle(self) -> None:
        """Wait until every lock being read or written is done (tests, a clean stop)."""
        while running := [task for task in self._tasks.values() if not task.done()]:
            await asyncio.gather(*running, return_exceptions=True)

    async def _async_run(self, room_id: str, read: bool) -> None:
        while True:
            try:
                async with self._turns:
                    await self._async_sync(room_id, read=read)
            except HomeAssistantError as err:  # the Store: tried again at the next tick
                _LOGGER.error("Room %s: the lock's slots were not recorded: %s", room_id, err)
            again = self._again.pop(room_id, None)
            if again is None:
                return
            read = again[1]

    # --- bringing one lock in step -------------------------------------------------------------

    async def _async_sync(self, room_id: str, *, read: bool) -> None:
        if not self._radio.is_online(room_id):
            return  # owed: done when it answers
        if read or room_id not in self.state.facts:
            if not await self._async_learn(room_id):
                return
        facts = self.state.facts[room_id]
        if facts.mode is SlotMode.LOCK_SLOTS:
            verified = room_id in self._verified and not read
            if not verified and not await self._async_read_back(room_id, facts):
                return
            await self._async_write(room_id)
        if read and facts.log_records:
            await self.log.async_read(room_id, facts)

    async def _async_learn(self, room_id: str) -> bool:
        """Read what the lock can do; False when it does not answer."""
        try:
            found = await self._radio.lock_users.async_capabilities(room_id)
        except RadioError as err:
            _LOGGER.debug("Room %s: the lock's user table is out of reach: %s", room_id, err)
            return False
        facts = LockFacts(
            rfid_users=found.rfid_users,
            year_day_schedules=found.year_day_schedules,
            log_records=found.log_records,
            min_card=found.min_rfid_len,
            max_card=found.max_rfid_len,
        )
        known = self.state.facts.get(room_id)
        if known is not None and known.refused and replace(known, refused=0) == facts:
            facts = known  # it says the same as when it refused: the site still decides
        await self._async_record_facts(room_id, facts)
        return True

    async def _async_record_facts(self, room_id: str, facts: LockFacts) -> None:
        """What the lock can do (written with the site's Store; read again at every start)."""
        known = self.state.facts.get(room_id)
        if known == facts:
            return
        self.state.facts[room_id] = facts
        if facts.mode is not SlotMode.LOCK_SLOTS and room_id in self.state.held:

            def decide(_now: datetime) -> None:
                self.state.held.pop(room_id, None)  # nothing of the site's is in it

            await self._transaction.async_run(decide, self._kept)
        if known is None or known.mode is not facts.mode:
            _LOGGER.debug("Room %s: card taps are decided in mode %s", room_id, facts.mode)
        self._announcer.notify(room_id)

    async def _async_read_back(self, room_id: str, facts: LockFacts) -> bool:
        """Read the site's slots from the lock into what it holds; False when it stops answering."""
        kind = self._rooms.room(room_id).kind
        found: dict[int, Grant | None] = {}
        try:
            for slot in facts.slot_ids(kind):
                found[slot] = self._grant_of(
                    room_id, slot, await self._radio.lock_users.async_read_slot(room_id, slot)
                )
        except NotSupported:
            await self._async_record_facts(room_id, replace(facts, refused=1))
            return False
        except RadioError as err:
            _LOGGER.debug("Room %s: reading the lock's slots failed: %s", room_id, err)
            return False

        self._verified.add(room_id)
        held = self.state.held.get(room_id, {})
        if all(held.get(slot) == grant for slot, grant in found.items()):
            return True  # as the site knew it (a whole building is read at every start)

        def decide(_now: datetime) -> None:
            for slot, grant in found.items():
                self.state.hold(room_id, slot, grant)

        await self._transaction.async_run(decide, self._kept)
        self._announcer.notify(room_id)
        return True

    def _grant_of(self, room_id: str, slot: int, content: SlotContent | None) -> Grant | None:
        """What a slot read back holds, as a grant (the code kept only as its keyed hash)."""
        if content is None:
            return None
        card_key = self._key(normalize_card(content.code))
        start = aware(content.start) if content.start and content.enabled else aware(ZCL_EPOCH)
        end = aware(content.end) if content.end and content.enabled else aware(ZCL_EPOCH)
        before = self.state.held.get(room_id, {}).get(slot)
        patron_id = before.patron_id if before and before.card_key == card_key else ""
        return Grant(patron_id=patron_id, card_key=card_key, start=start, end=end)

    def _changes(self, room_id: str, now: datetime) -> tuple[list[Wanted], list[SlotChange]] | None:
        """What the room's lock should hold and the changes that get it there (None: no slots)."""
        facts = self.state.facts.get(room_id)
        if facts is None or facts.mode is not SlotMode.LOCK_SLOTS:
            return None
        kind = self._rooms.room(room_id).kind
        should = wanted(
            self._rooms, room_id, now, facts=facts, patron_of=self._patron_of, key=self._key
        )
        held = self.state.held.get(room_id, {})
        return should, plan(facts.slot_ids(kind), held, should)

    async def _async_write(self, room_id: str) -> None:
        """Make the changes the lock owes, one at a time, each recorded once confirmed."""
        changes = self._changes(room_id, dt_util.now())
        users = self._radio.lock_users
        for change in changes[1] if changes is not None else []:
            try:
                if change.wanted is None:
                    await users.async_clear_slot(room_id, change.slot)
                else:
                    grant = change.wanted.grant
                    await users.async_write_slot(
                        room_id,
                        change.slot,
                        change.wanted.card,
                        lock_time(grant.start),
                        lock_time(grant.end),
                    )
            except LockOffline as err:
                _LOGGER.debug("Room %s: slot change owed: %s", room_id, err)
                return
            except NotSupported:
                _LOGGER.warning(
                    "Room %s: the lock refuses RFID codes; the site decides its taps", room_id
                )
                await self._async_record_facts(
                    room_id, replace(self.state.facts[room_id], refused=1)
                )
                return
            except LockCommandFailed as err:
                if room_id not in self._warned:
                    self._warned.add(room_id)
                    _LOGGER.warning("Room %s: the lock refused a slot change: %s", room_id, err)
                return
            self._warned.discard(room_id)
            written = change.wanted.grant if change.wanted is not None else None

            def decide(
                _now: datetime, slot: int = change.slot, held: Grant | None = written
            ) -> None:
                self.state.hold(room_id, slot, held)

            await self._transaction.async_run(decide, self._kept)
            self._announcer.notify(room_id)

    # --- what the lock decided by itself -------------------------------------------------------

    async def _async_opened(self, room_id: str, event: DeviceEvent) -> None:
        """A lock opened for a card of its table while the site listened: the room's event.

        A card in one of the site's slots that the lock should no longer hold (a change not
        made yet) is locked out again; cards enrolled at the lock in its other slots are the
        library's own business.
        """
        slot = user_of(event)
        patron_id = self.log.slot_patron(room_id, slot)
        at = aware(event.at) if event.at is not None else dt_util.now()
        await self.log.async_tell(room_id, [(LockDecision.OPENED, at, patron_id)], None)
        facts = self.state.facts.get(room_id)
        if facts is None or slot not in facts.slot_ids(self._rooms.room(room_id).kind):
            return
        changes = self._changes(room_id, dt_util.now())
        held = self.state.held.get(room_id, {}).get(slot)
        if changes is not None and held not in [item.grant for item in changes[0]]:
            _LOGGER.warning("Room %s: the lock opened for a card it should not hold", room_id)
            self._relock(room_id)
            self.request(room_id, read=True)


def build_slot_keeper(
    hass: HomeAssistant,
    entry: ConfigEntry,
    stored: object,
    *,
    rooms: StudyRooms,
    radio: RoomRadio,
    library: Library,
    storage: PrivateStore,
    announcer: Announcer,
    gate: PatronGate,
    relock: Callable[[str], None],
) -> SlotKeeper:
    """The site's keeper of its locks' user tables, from what its Store kept (`stored`).

    Cards come from the library's own directory; with the ILS holding the patrons the site
    knows no card to write, and the locks' slots stay empty (the site decides the taps).
    """
    directory = gate.backend.directory
    return SlotKeeper(
        hass,
        entry,
        rooms=rooms,
        radio=radio,
        transaction=library.transaction,
        kept=Kept(LockSlotsState.from_dict(stored), storage),
        kept_patrons=library.kept_patrons,
        announcer=announcer,
        patron_of=directory.patron if directory is not None else None,
        card_owner=gate.async_find_by_card,
        key=library.login_key,
        relock=relock,
    )
