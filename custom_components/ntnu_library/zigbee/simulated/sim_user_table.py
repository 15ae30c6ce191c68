"""The simulated lock's own memory: a user table with RFID codes and year-day schedules, a log.

As the Door Lock cluster describes a lock's users: a slot (user ID, from 0) holds a status,
a type and an RFID code; a year-day schedule user opens only within one of its schedules
(none: never); an unrestricted user always. Every operation goes into a log of fixed size
whose records are numbered 1..N and reused in a ring (record 0 asks for the newest). Times are
the lock's local time in seconds since 2000-01-01.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from zigpy.zcl.clusters.closures import DoorLock

_STATUS: Any = DoorLock.UserStatus
_TYPE: Any = DoorLock.UserType
_CODE = DoorLock.OperationEvent
NO_USER = 0xFFFF


@dataclass(slots=True)
class SimUser:
    """One occupied slot."""

    status: int
    user_type: int
    code: str = field(repr=False)


@dataclass(frozen=True, kw_only=True, slots=True)
class SimLogRecord:
    """One record of the log, as Get Log Record answers it."""

    entry_id: int
    timestamp: int
    event_type: int  # DoorLock.EventType
    source: int
    code: int
    user_id: int
    pin: str = field(repr=False)


class SimUserTable:
    """The user table and the log of one simulated lock."""

    def __init__(self, *, users: int, schedules: int, log_records: int) -> None:
        self.size = users
        self.schedules_per_user = schedules
        self.log_size = log_records
        self.users: dict[int, SimUser] = {}
        self.schedules: dict[tuple[int, int], tuple[int, int]] = {}  # (user, id) -> (from, to)
        self._log: list[SimLogRecord] = []
        self._newest = 0  # the record number written last (0: none yet)

    # -- the table ------------------------------------------------------------------

    def set_code(self, user: int, status: int, user_type: int, code: str) -> bool:
        """Set a slot's code; False for a slot the lock does not have or an empty code."""
        if not 0 <= user < self.size or not code:
            return False
        self.users[user] = SimUser(status=status, user_type=user_type, code=code)
        return True

    def clear(self, user: int) -> bool:
        """Empty a slot and its schedules; False for a slot the lock does not have."""
        if not 0 <= user < self.size:
            return False
        self.users.pop(user, None)
        for key in [k for k in self.schedules if k[0] == user]:
            del self.schedules[key]
        return True

    def clear_all(self) -> None:
        """Empty every slot."""
        self.users.clear()
        self.schedules.clear()

    def set_schedule(self, schedule: int, user: int, start: int, end: int) -> bool:
        """Give a slot a year-day schedule (its user becomes a schedule user)."""
        if not (0 <= user < self.size and 0 <= schedule < self.schedules_per_user):
            return False
        self.schedules[(user, schedule)] = (start, end)
        if (slot := self.users.get(user)) is not None:
            slot.user_type = _TYPE.Year_Day_Schedule_User
        return True

    def clear_schedule(self, schedule: int, user: int) -> bool:
        """Remove a year-day schedule."""
        if not (0 <= user < self.size and 0 <= schedule < self.schedules_per_user):
            return False
        self.schedules.pop((user, schedule), None)
        return True

    def decide(self, card: str, now: int) -> tuple[int, int]:
        """(operation event code, user) for a card presented at `now`.

        Unlock for an enabled slot holding the card that may open now; a failure for a card
        it holds outside its schedule (or disabled), and for a card it does not hold.
        """
        for user, slot in sorted(self.users.items()):
            if slot.code != card:
                continue
            if slot.status != _STATUS.Enabled:
                return _CODE.UnlockFailureInvalidPINorID, user
            if slot.user_type == _TYPE.Unrestricted:
                return _CODE.Unlock, user
            if slot.user_type == _TYPE.Year_Day_Schedule_User and any(
                start <= now < end
                for (owner, _), (start, end) in self.schedules.items()
                if owner == user
            ):
                return _CODE.Unlock, user
            return _CODE.UnlockFailureInvalidSchedule, user
        return _CODE.UnlockFailureInvalidPINorID, NO_USER

    # -- the log --------------------------------------------------------------------

    def record(
        self, *, timestamp: int, event_type: int, source: int, code: int, user: int, pin: str
    ) -> None:
        """Keep one operation in the log (the oldest record is overwritten when it is full)."""
        if self.log_size <= 0:
            return
        self._newest = self._newest % self.log_size + 1
        entry = SimLogRecord(
            entry_id=self._newest,
            timestamp=timestamp,
            event_type=event_type,
            source=source,
            code=code,
            user_id=user,
            pin=pin,
        )
        if len(self._log) < self.log_size:
            self._log.append(entry)
        else:
            self._log[self._newest - 1] = entry

    def log_record(self, index: int) -> SimLogRecord | None:
        """Record `index` (1..N), or the newest for 0; None where there is none."""
        if index == 0:
            index = self._newest
        if not 1 <= index <= len(self._log):
            return None
        return self._log[index - 1]

    # -- its flash ------------------------------------------------------------------

    def remember(self) -> dict[str, Any]:
        """What it keeps while nobody talks to it (JSON-ready), for `recall`."""
        return {
            "users": [[u, int(s.status), int(s.user_type), s.code] for u, s in self.users.items()],
            "schedules": [[u, i, a, b] for (u, i), (a, b) in self.schedules.items()],
            "log": [
                [r.entry_id, r.timestamp, r.event_type, r.source, r.code, r.user_id, r.pin]
                for r in self._log
            ],
            "newest": self._newest,
        }

    def recall(self, memory: dict[str, Any]) -> None:
        """Take back what `remember` gave."""
        self.users = {
            int(u): SimUser(status=int(status), user_type=int(kind), code=str(code))
            for u, status, kind, code in memory.get("users", ())
        }
        self.schedules = {
            (int(u), int(i)): (int(a), int(b)) for u, i, a, b in memory.get("schedules", ())
        }
        self._log = [
            SimLogRecord(
                entry_id=int(entry),
                timestamp=int(at),
                event_type=int(kind),
                source=int(source),
                code=int(code),
                user_id=int(user),
                pin=str(pin),
            )
            for entry, at, kind, source, code, user, pin in memory.get("log", ())
        ][: self.log_size]
        self._newest = int(memory.get("newest", len(self._log)))

    @property
    def log(self) -> list[SimLogRecord]:
        """Every record kept, oldest first."""
        if len(self._log) < self.log_size:
            return list(self._log)
        return self._log[self._newest :] + self._log[: self._newest]
