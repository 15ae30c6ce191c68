"""A lock's own user table over the Door Lock cluster: RFID codes per slot, schedules, its log.

The commands (ids and fields as zigpy's `DoorLock` defines them, the same in zigpy 0.78 and
2.x): Set / Get / Clear RFID Code (0x16-0x18) with the user's status and type, Set / Get Year
Day Schedule (0x0E, 0x0F: a user valid from one local time to another), Get Log Record (0x04),
and the attributes that say how many RFID users, year-day schedules per user and log records
the lock has. Times on the wire are the lock's local time in seconds since 2000-01-01; here
they are naive local datetimes (the caller knows the time zone).

Card numbers cross this module but never its logs: what is sent carries a code whose repr
hides it, so zigpy's own debug lines of the request show no card either.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
import logging
from typing import Any

import zigpy.exceptions
import zigpy.types as t
from zigpy.zcl import Cluster, foundation
from zigpy.zcl.clusters.closures import DoorLock

from . import compat
from .frames import code_text, local_datetime, local_seconds
from .radio import (
    LockCapabilities,
    LockCommandFailed,
    LockOffline,
    LogEntry,
    NotSupported,
    SlotContent,
)

_LOGGER = logging.getLogger(__name__)

ATTR = DoorLock.AttributeDefs
COMMANDS = DoorLock.ServerCommandDefs
USER_STATUS = DoorLock.UserStatus
USER_TYPE = DoorLock.UserType
_SUCCESS = foundation.Status.SUCCESS
_UNSUPPORTED = (foundation.Status.UNSUP_CLUSTER_COMMAND, foundation.Status.UNSUP_GENERAL_COMMAND)
_SCHEDULE = 0  # the one year-day schedule the site gives a slot (schedules count from 0)
_FACTS = (
    ATTR.num_of_rfid_users_supported,
    ATTR.num_of_year_day_schedules_supported_per_user,
    ATTR.num_of_lock_records_supported,
    ATTR.min_rfid_len,
    ATTR.max_rfid_len,
)


class SecretCode(t.CharacterString):
    """An RFID code on its way to a lock: serialized as it is, shown as stars."""

    def __repr__(self) -> str:
        return "'***'"

    __str__ = __repr__


class LockUserTable:
    """The user tables of the locks of one radio's rooms."""

    def __init__(
        self,
        lock_cluster: Callable[[str], Cluster | None],
        is_online: Callable[[str], bool],
        timeout: Callable[[], float],
    ) -> None:
        """The radio's lock cluster of a room (raising UnknownRoom), its link, its timeout."""
        self._lock_cluster = lock_cluster
        self._is_online = is_online
        self._timeout = timeout

    def _cluster(self, room_id: str) -> Cluster:
        cluster = self._lock_cluster(room_id)  # UnknownRoom first
        if cluster is None or not self._is_online(room_id):
            raise LockOffline(f"room {room_id}: the lock is not on the network")
        return cluster

    async def _ask(self, room_id: str, what: str, request: Any) -> Any:
        """Send one request and take its answer; LockOffline when none comes."""
        try:
            async with asyncio.timeout(self._timeout()):
                return await request
        except (TimeoutError, zigpy.exceptions.DeliveryError) as err:
            raise LockOffline(f"room {room_id}: no answer to {what} ({err!r})") from err
        except zigpy.exceptions.ZigbeeException as err:
            raise LockCommandFailed(f"room {room_id}: {what} failed ({err!r})") from err

    async def _command(self, room_id: str, name: str, **fields: Any) -> Any:
        cluster = self._cluster(room_id)
        call = getattr(cluster, name)(**fields, **compat.NO_RETRIES)
        return await self._ask(room_id, name, call)

    async def _status_command(self, room_id: str, name: str, **fields: Any) -> None:
        """A command answered by a status only; raise unless it is success."""
        status = getattr(await self._command(room_id, name, **fields), "status", None)
        if status in _UNSUPPORTED:
            raise NotSupported(f"room {room_id}: the lock does not know {name}")
        if status != _SUCCESS:
            raise LockCommandFailed(f"room {room_id}: the lock answered {name} with {status!r}")

    async def async_capabilities(self, room_id: str) -> LockCapabilities:
        """Read how many RFID users, year-day schedules and log records the lock has."""
        cluster = self._cluster(room_id)
        success, _ = await self._ask(
            room_id,
            "reading its user table's size",
            cluster.read_attributes([a.name for a in _FACTS], **compat.NO_RETRIES),
        )

        def number(attribute: foundation.ZCLAttributeDef) -> int:
            try:
                return max(0, int(success.get(attribute.name, 0)))
            except (TypeError, ValueError):
                return 0

        return LockCapabilities(
            rfid_users=number(ATTR.num_of_rfid_users_supported),
            year_day_schedules=number(ATTR.num_of_year_day_schedules_supported_per_user),
            log_records=number(ATTR.num_of_lock_records_supported),
            min_rfid_len=number(ATTR.min_rfid_len),
            max_rfid_len=number(ATTR.max_rfid_len),
        )

    async def async_read_slot(self, room_id: str, slot: int) -> SlotContent | None:
        """What a user slot holds (its code and its year-day schedule); None when empty."""
        answer = await self._command(room_id, COMMANDS.get_rfid_code.name, user_id=slot)
        if not hasattr(answer, "rfid_code"):
            status = getattr(answer, "status", None)
            if status in _UNSUPPORTED:
                raise NotSupported(f"room {room_id}: the lock does not read its RFID codes")
            return None  # a default response: nothing there
        code = code_text(answer.rfid_code)
        status = int(answer.user_status)
        if not code or status in (USER_STATUS.Available, USER_STATUS.Not_Supported):
            return None
        start = end = None
        schedule = await self._command(
            room_id, COMMANDS.get_year_day_schedule.name, schedule_id=_SCHEDULE, user_id=slot
        )
        if getattr(schedule, "status", None) == _SUCCESS and hasattr(schedule, "local_end_time"):
            if schedule.local_start_time is not None and schedule.local_end_time is not None:
                start = local_datetime(schedule.local_start_time)
                end = local_datetime(schedule.local_end_time)
        return SlotContent(code=code, enabled=status == USER_STATUS.Enabled, start=start, end=end)

    async def async_write_slot(
        self, room_id: str, slot: int, code: str, start: datetime, end: datetime
    ) -> None:
        """Put a code in a slot, valid from `start` until `end` (naive local times).

        The user is a year-day schedule user first, without a schedule (which opens for
        nobody), then the schedule is set: no moment where the code opens without its end.
        """
        await self._status_command(
            room_id,
            COMMANDS.set_rfid_code.name,
            user_id=slot,
            user_status=USER_STATUS.Enabled,
            user_type=USER_TYPE.Year_Day_Schedule_User,
            rfid_code=SecretCode(code),
        )
        try:
            await self._status_command(
                room_id,
                COMMANDS.set_year_day_schedule.name,
                schedule_id=_SCHEDULE,
                user_id=slot,
                local_start_time=t.LocalTime(local_seconds(start)),
                local_end_time=t.LocalTime(local_seconds(end)),
            )
        except (LockCommandFailed, NotSupported):
            await self.async_clear_slot(room_id, slot)  # no schedule: no code
            raise

    async def async_clear_slot(self, room_id: str, slot: int) -> None:
        """Empty a slot (its code, status, type and schedules)."""
        await self._status_command(room_id, COMMANDS.clear_rfid_code.name, user_id=slot)

    async def async_log_entry(self, room_id: str, index: int) -> LogEntry | None:
        """A record of the lock's log (index 0: the newest); None where there is none."""
        answer = await self._command(room_id, COMMANDS.get_log_record.name, log_index=index)
        if not hasattr(answer, "log_entry_id"):
            return None  # a default response: no such record
        return LogEntry(
            entry_id=int(answer.log_entry_id),
            at=local_datetime(answer.timestamp),
            event_type=int(answer.event_type),
            source=int(answer.source),
            code=int(answer.event_id_or_alarm_code),
            user_id=int(answer.user_id),
            card=code_text(getattr(answer, "pin", None)).strip(),
        )
