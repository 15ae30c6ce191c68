"""What a lock decided by itself, as the room's events: at the lock's own time, source `lock`.

A lock with its own user table opens for the holder's card, refuses other cards and lets
people out with its PUSH button whether or not anyone listens, and keeps each operation in its
log. While the site listens it hears most of them as they happen (operation event
notifications); what it did not hear (the site stopped, the radio lost) it reads back from the
lock's log when the lock answers again, from where it last read, and tells only what it had not
heard. Where the log was read to, and what was heard live since (a mark, valid while the site
listened all along: after the log was read, until the lock or the site went away), are part of
the site's state, so a restart does not tell again what was heard before it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import datetime
import logging

from homeassistant.exceptions import HomeAssistantError
from homeassistant.util import dt as dt_util
from zigpy.zcl.clusters.closures import DoorLock

from .announce import Announcer
from .core.errors import Refused
from .core.lock_slots import (
    MAX_LOG_READ,
    HeardMark,
    LockDecision,
    LockFacts,
    LockSlotsState,
    LogMark,
    lock_event,
)
from .core.model import Patron, RoomEvent
from .core.study_rooms import StudyRooms
from .transaction import Kept, Transaction
from .zigbee.frames import NO_USER, ZCL_EPOCH
from .zigbee.radio import DeviceEvent, DeviceEventType, LogEntry, RadioError, RoomRadio

_LOGGER = logging.getLogger(__package__)

_SOURCE = DoorLock.OperationEventSource
_CODE = DoorLock.OperationEvent
_OPERATION = DoorLock.EventType.Operation

# (the lock's time, a card or the PUSH button, the user slot): an operation heard live.
type HeardKey = tuple[datetime | None, str, int]
type Told = tuple[LockDecision, datetime, str | None]


def decision_of(source: int, code: int, user: int) -> LockDecision | None:
    """What a lock's operation (its log or its notification) says it decided, if anything."""
    if source == _SOURCE.RFID:
        if code == _CODE.Unlock and user != NO_USER:
            return LockDecision.OPENED
        if code == _CODE.UnlockFailureInvalidSchedule:
            return LockDecision.REFUSED_SCHEDULE
        if code == _CODE.UnlockFailureInvalidPINorID:
            return LockDecision.REFUSED_CARD
    elif source == _SOURCE.Manual and code in (_CODE.Manual_Unlock, _CODE.Unlock):
        return LockDecision.PUSH_EXIT
    return None


def _what(kind: DeviceEventType) -> str:
    """A card or the PUSH button, as the log's entries are matched."""
    return "push" if kind is DeviceEventType.PUSH_EXIT else "card"


def user_of(event: DeviceEvent) -> int:
    """The user slot an operation event named (NO_USER: none)."""
    return NO_USER if event.user_id is None else event.user_id


def aware(moment: datetime) -> datetime:
    """The lock's local time as a moment in Home Assistant's time zone."""
    return moment.replace(tzinfo=dt_util.get_default_time_zone())


def lock_time(moment: datetime) -> datetime:
    """A moment as the lock's local time."""
    return dt_util.as_local(moment).replace(tzinfo=None)


class LockLog:
    """The rooms' locks' own decisions, heard live or read back from their logs."""

    def __init__(
        self,
        *,
        rooms: StudyRooms,
        radio: RoomRadio,
        transaction: Transaction,
        kept: Kept,
        kept_patrons: Kept,
        announcer: Announcer,
        card_owner: Callable[[str], Awaitable[Patron | None]],
        write_soon: Callable[[], None],
    ) -> None:
        """`kept`: the locks' part of the site's state (a `LockSlotsState`) and its Store.

        `write_soon` has that Store written a moment later (what the locks told).
        """
        self._rooms = rooms
        self._radio = radio
        self._transaction = transaction
        self._kept = kept
        self._kept_patrons = kept_patrons
        self._announcer = announcer
        self._card_owner = card_owner
        self._write_soon = write_soon
        assert isinstance(kept.state, LockSlotsState)
        self.state: LockSlotsState = kept.state
        self._heard: dict[str, Counter[HeardKey]] = {}  # told live since the log was read
        self._listening: set[str] = set()  # rooms read since the site or their lock came back

    def heard(self, event: DeviceEvent) -> None:
        """An operation the lock told as it happened: it is in its log too, told already."""
        room_id, what, user = event.room_id, _what(event.type), user_of(event)
        self._heard.setdefault(room_id, Counter())[(event.at, what, user)] += 1
        if room_id not in self._listening or event.at is None:
            return  # what came before may be unheard: the log tells it
        at = aware(event.at)
        mark = self.state.heard_to.get(room_id)
        after = HeardMark(at, ((what, user),)) if mark is None else mark.after(at, what, user)
        if after is not None:
            self.state.heard_to[room_id] = after
            self._write_soon()

    def deaf(self, room_id: str) -> None:
        """The lock went away: what it decides now is only in its log until it is read."""
        self._listening.discard(room_id)

    def slot_patron(self, room_id: str, user: int) -> str | None:
        """The patron whose card the site put in that slot of the room's lock."""
        grant = self.state.held.get(room_id, {}).get(user)
        return grant.patron_id or None if grant is not None else None

    async def async_read(self, room_id: str, facts: LockFacts) -> None:
        """Take the lock's log since it was last read into the room's events.

        The first read of a lock only marks where its log stands (what it did before the site
        knew it is not the site's to tell).
        """
        users = self._radio.lock_users
        mark = self.state.log_seen.get(room_id)
        taken: list[LogEntry] = []
        try:
            newest = entry = await users.async_log_entry(room_id, 0)
            while mark is not None and entry is not None and len(taken) < MAX_LOG_READ:
                at = aware(entry.at)
                if at < mark.at or (entry.entry_id == mark.entry_id and at == mark.at):
                    break
                taken.append(entry)
                before = entry.entry_id - 1 if entry.entry_id > 1 else facts.log_records
                if newest is None or before == newest.entry_id or len(taken) >= facts.log_records:
                    break  # round the whole ring: older ones were overwritten
                entry = await users.async_log_entry(room_id, before)
        except RadioError as err:
            _LOGGER.debug("Room %s: reading the lock's log failed: %s", room_id, err)
            return
        seen = (
            LogMark(newest.entry_id, aware(newest.at))
            if newest is not None
            else mark or LogMark(0, aware(ZCL_EPOCH))
        )
        heard = self._heard.pop(room_id, Counter())
        live = self.state.heard_to.pop(room_id, None)  # heard live, this run or the last
        at_mark = list(live.told) if live is not None else []
        told: list[Told] = []
        for item in reversed(taken):
            decision = decision_of(item.source, item.code, item.user_id)
            if item.event_type != _OPERATION or decision is None:
                continue
            what, at = ("push" if decision is LockDecision.PUSH_EXIT else "card"), aware(item.at)
            if live is not None and at < live.at:
                continue  # heard live
            if live is not None and at == live.at and (what, item.user_id) in at_mark:
                at_mark.remove((what, item.user_id))
                continue
            if heard[(item.at, what, item.user_id)] > 0:
                heard[(item.at, what, item.user_id)] -= 1  # told live, decided then
                continue
            told.append((decision, at, await self._patron(room_id, item, decision)))
        self._listening.add(room_id)
        await self.async_tell(room_id, told, seen)
        if told:
            _LOGGER.info("Room %s: %d decision(s) of the lock read back", room_id, len(told))

    async def _patron(self, room_id: str, entry: LogEntry, decision: LockDecision) -> str | None:
        """Whose card it was: the slot's holder, or the card's owner for a card it refused."""
        if decision is LockDecision.PUSH_EXIT:
            return None
        if entry.user_id != NO_USER and (pid := self.slot_patron(room_id, entry.user_id)):
            return pid
        if not entry.card:
            return None
        try:
            owner = await self._card_owner(entry.card)
        except Refused:  # the patron system is down: the event names nobody
            return None
        return owner.patron_id if owner is not None else None

    async def async_tell(self, room_id: str, decisions: list[Told], seen: LogMark | None) -> None:
        """The lock's decisions as the room's events, and where its log was read to.

        Where the log was read to is written with the events it read (so they are not told
        again after a restart); with nothing to tell, a moment later.
        """
        if seen is not None:
            self.state.log_seen[room_id] = seen
        if not decisions:
            self._write_soon()
            return

        def decide(now: datetime) -> list[RoomEvent]:
            return [
                lock_event(self._rooms, room_id, decision, at, patron_id, now)
                for decision, at, patron_id in decisions
            ]

        events = await self._transaction.async_run(decide, self._kept_patrons)
        self._announcer.emit(events)
        if seen is not None:
            try:
                await self._transaction.async_write(self._kept.storage)
            except (OSError, HomeAssistantError) as err:  # written with the next decision
                _LOGGER.error(
                    "Room %s: where the lock's log was read is not written: %s", room_id, err
                )
