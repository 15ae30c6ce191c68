"""The simulated door lock: a card reader outside, a PUSH button inside, a bolt and a door.

It keeps its own user table (RFID codes per slot with year-day schedules) and a log
(`sim_user_table`), answers the Door Lock cluster's user-table commands, and decides a tap by
itself when its coordinator does not answer.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from zigpy.profiles import zha
import zigpy.types as t
from zigpy.zcl import foundation
from zigpy.zcl.clusters.closures import DoorLock
from zigpy.zcl.clusters.general import Basic, Identify, PowerConfiguration

from ..frames import local_datetime, local_seconds
from .sim_device import BatteryPack, SimulatedDevice
from .sim_user_table import NO_USER, SimUserTable

# zigpy builds its enums with a factory mypy cannot see through (members type as plain
# int), so those handed back to zigpy's typed constructors are reached through Any.
_STATUS: Any = foundation.Status
_TO_CLIENT: Any = foundation.Direction.Server_to_Client
_LOCK: Any = DoorLock.LockState
_DOOR: Any = DoorLock.DoorState
_SOURCE = DoorLock.OperationEventSource
_CODE = DoorLock.OperationEvent
_USERS = DoorLock.ServerCommandDefs
_ANSWERS = DoorLock.ClientCommandDefs
_OPERATION: Any = DoorLock.EventType.Operation


def _nobody(_frame: t.ZigbeePacket) -> None:
    """Where a lock's frames go when no coordinator listens."""


class SimulatedLock(SimulatedDevice):
    """A door lock with a card reader outside and a PUSH button inside.

    Its user table holds RFID codes per slot with year-day schedules, written and read over
    the Door Lock cluster. While its coordinator answers it forwards every tap as an
    operation event (RFID, UnlockFailureInvalidPINorID) and the integration decides, as an
    online access-control lock does; when the coordinator does not answer (its link lost,
    or nobody listening) it decides from its own table: a card it holds, within its
    schedule, opens. `decides_when_online` makes it decide by itself always, as most
    Zigbee locks with a user table do (telling the coordinator what it decided). Every
    operation goes into its log. Its clock (`clock`, local wall time) is the site's.

    It relocks when the door closes after being opened unlocked (unless `relocks_on_close`
    is False). `swallow_commands` makes it ACK frames at the MAC layer but never answer, to
    test timeouts; `command_status` is what it answers to lock_door / unlock_door;
    `lose_answers` answers to them are lost on the way (the bolt moves all the same), and
    with `reports_bolt` False the bolt moves without a report (only a read tells).
    """

    model = "SimLock"
    device_type = zha.DeviceType.DOOR_LOCK
    rx_on_when_idle = True  # on batteries, yet it answers a command at once
    battery_pack = BatteryPack(PowerConfiguration.BatterySize.AA, 4, empty=44, full=62)
    clusters = (Basic, PowerConfiguration, Identify, DoorLock)
    writable = frozenset({(DoorLock.cluster_id, DoorLock.AttributeDefs.auto_relock_time.id)})
    # Its user table: RFID users, year-day schedules per user, log records (0: none).
    rfid_users = 10
    year_day_schedules = 2
    log_records = 64
    rfid_length = (4, 32)
    decides_when_online = False

    def __init__(self, ieee: t.EUI64, nwk: t.NWK, uplink: Callable[[t.ZigbeePacket], None]) -> None:
        super().__init__(ieee, nwk, uplink)
        attrs = DoorLock.AttributeDefs
        self.attributes[DoorLock.cluster_id] |= {
            attrs.lock_state.id: _LOCK.Locked,
            attrs.lock_type.id: DoorLock.LockType.Dead_bolt,
            attrs.actuator_enabled.id: True,
            attrs.door_state.id: _DOOR.Closed,
            attrs.auto_relock_time.id: 0,  # no timer: it relocks when the door closes
        }
        self.users: SimUserTable | None = None
        if self.rfid_users:
            self.users = SimUserTable(
                users=self.rfid_users,
                schedules=self.year_day_schedules,
                log_records=self.log_records,
            )
            self.attributes[DoorLock.cluster_id] |= {
                attrs.num_of_lock_records_supported.id: self.log_records,
                attrs.num_of_total_users_supported.id: self.rfid_users,
                attrs.num_of_rfid_users_supported.id: self.rfid_users,
                attrs.num_of_year_day_schedules_supported_per_user.id: self.year_day_schedules,
                attrs.min_rfid_len.id: self.rfid_length[0],
                attrs.max_rfid_len.id: self.rfid_length[1],
                attrs.enable_logging.id: bool(self.log_records),
            }
        self._alone = False  # detached from every coordinator
        self.clock: Callable[[], datetime] = datetime.now  # its wall clock (local time)
        self.swallow_commands = False
        self.command_status: int = _STATUS.SUCCESS  # what lock_door / unlock_door answer
        self.lose_answers = 0
        self.reports_bolt = True
        self._opened_unlocked = False
        # Most study-room locks throw the bolt when the door closes; some leave it to the
        # controller (False), which is what the site's own relock-on-close is for.
        self.relocks_on_close = True

    def detach(self) -> None:
        """Its coordinator is gone (nobody listens): what it sends reaches nobody."""
        self._uplink = _nobody
        self._alone = True

    @property
    def coordinator_answers(self) -> bool:
        """Whether a frame it sends now reaches a coordinator (its link up, one listening)."""
        return self.online and not self._alone

    @property
    def lock_state(self) -> int:
        """The bolt."""
        return _LOCK(self.attributes[DoorLock.cluster_id][DoorLock.AttributeDefs.lock_state.id])

    @property
    def now(self) -> int:
        """Its clock as ZCL local time."""
        return local_seconds(self.clock())

    def receive(self, packet: t.ZigbeePacket) -> None:
        """Take a frame, unless told to swallow everything."""
        if not self.swallow_commands:
            super().receive(packet)

    def command(self, cluster_id: int, hdr: foundation.ZCLHeader, args: Any) -> bool:
        """lock_door / unlock_door: answer, then report and tell the operation; the user table."""
        commands = DoorLock.ServerCommandDefs
        if cluster_id != DoorLock.cluster_id:
            return False
        if hdr.command_id not in (commands.lock_door.id, commands.unlock_door.id):
            return self._user_command(hdr, args)
        unlock = hdr.command_id == commands.unlock_door.id
        if self.lose_answers > 0:
            self.lose_answers -= 1
        else:  # the *_door_response commands share their request's id
            self._cluster_response(DoorLock, hdr.tsn, hdr.command_id, status=self.command_status)
        if self.command_status == _STATUS.SUCCESS:
            state, code = (_LOCK.Unlocked, _CODE.Unlock) if unlock else (_LOCK.Locked, _CODE.Lock)
            self._set_lock(state, _SOURCE.RF, code)
        return True

    def _user_command(self, hdr: foundation.ZCLHeader, args: Any) -> bool:
        """Set / Get / Clear RFID Code, year-day schedules, Get Log Record; False: unknown."""
        table, command, tsn = self.users, hdr.command_id, hdr.tsn
        if table is None:
            return False  # no user table: the commands are not supported

        def status(ok: bool) -> None:  # the *_response commands share their request's id
            answer = _STATUS.SUCCESS if ok else _STATUS.INVALID_VALUE
            self._cluster_response(DoorLock, tsn, command, status=answer)

        if command == _USERS.set_rfid_code.id:
            status(table.set_code(args.user_id, args.user_status, args.user_type, args.rfid_code))
        elif command == _USERS.get_rfid_code.id:
            user = table.users.get(args.user_id)
            self._cluster_response(
                DoorLock,
                tsn,
                command,
                user_id=args.user_id,
                user_status=user.status if user else DoorLock.UserStatus.Available,
                user_type=user.user_type if user else DoorLock.UserType.Unrestricted,
                rfid_code=t.CharacterString(user.code if user else ""),
            )
        elif command == _USERS.clear_rfid_code.id:
            status(table.clear(args.user_id))
        elif command == _USERS.clear_all_rfid_codes.id:
            table.clear_all()
            status(True)
        elif command == _USERS.set_year_day_schedule.id:
            start, end = int(args.local_start_time), int(args.local_end_time)
            status(table.set_schedule(args.schedule_id, args.user_id, start, end))
        elif command == _USERS.clear_year_day_schedule.id:
            status(table.clear_schedule(args.schedule_id, args.user_id))
        elif command == _USERS.get_year_day_schedule.id:
            times = table.schedules.get((args.user_id, args.schedule_id))
            found: dict[str, Any] = {"status": _STATUS.NOT_FOUND}
            if times is not None:
                found = {"status": _STATUS.SUCCESS, "local_start_time": times[0]}
                found["local_end_time"] = times[1]
            self._cluster_response(
                DoorLock, tsn, command, schedule_id=args.schedule_id, user_id=args.user_id, **found
            )
        elif command == _USERS.get_log_record.id:
            if (record := table.log_record(args.log_index)) is None:
                self._default_response(DoorLock.cluster_id, hdr, _STATUS.NOT_FOUND)
            else:
                self._cluster_response(
                    DoorLock,
                    tsn,
                    command,
                    log_entry_id=record.entry_id,
                    timestamp=record.timestamp,
                    event_type=record.event_type,
                    source=record.source,
                    event_id_or_alarm_code=record.code,
                    user_id=record.user_id,
                    pin=t.CharacterString(record.pin),
                )
        else:
            return False
        return True

    def _set_lock(
        self, state: int, source: int, code: int, *, user: int = NO_USER, pin: str = ""
    ) -> None:
        self.attributes[DoorLock.cluster_id][DoorLock.AttributeDefs.lock_state.id] = state
        if self.reports_bolt:
            self.report(DoorLock, DoorLock.AttributeDefs.lock_state)
        self.operation_event(source, code, pin.encode(), user=user)

    def _set_door_state(self, state: int) -> None:
        self.attributes[DoorLock.cluster_id][DoorLock.AttributeDefs.door_state.id] = state
        self.report(DoorLock, DoorLock.AttributeDefs.door_state)

    def operation_event(
        self, source: int, code: int, pin: bytes = b"", *, user: int = NO_USER
    ) -> None:
        """Log the operation, and send operation_event_notification; `pin` goes as raw bytes."""
        now = self.now
        if self.users is not None:
            self.users.record(
                timestamp=now,
                event_type=_OPERATION,
                source=source,
                code=code,
                user=user,
                pin=pin.decode("utf-8", "replace"),
            )
        if DoorLock.cluster_id not in self.bound:
            return
        command_id = _ANSWERS.operation_event_notification.id
        hdr = foundation.ZCLHeader.cluster(self._next_tsn(), command_id, direction=_TO_CLIENT)
        payload = (
            _SOURCE(source).serialize()
            + _CODE(code).serialize()
            + t.uint16_t(user).serialize()
            + t.LVBytes(pin).serialize()
            + t.LocalTime(now).serialize()
        )
        self._send(DoorLock.cluster_id, hdr.serialize() + payload)

    def card_tap(self, card: str) -> None:
        """A card at the reader: forwarded while the coordinator answers, else decided here."""
        if self.users is None or not (self.decides_when_online or not self.coordinator_answers):
            self.operation_event(_SOURCE.RFID, _CODE.UnlockFailureInvalidPINorID, card.encode())
            return
        code, user = self.users.decide(card, self.now)
        if code == _CODE.Unlock:
            self._set_lock(_LOCK.Unlocked, _SOURCE.RFID, code, user=user, pin=card)
        else:
            self.operation_event(_SOURCE.RFID, code, card.encode(), user=user)

    def opens_for(self, card: str) -> bool:
        """Whether its own table would open for `card` now (what a test asks the hardware)."""
        return self.users is not None and self.users.decide(card, self.now)[0] == _CODE.Unlock

    def slot_ends(self) -> dict[int, datetime]:
        """Each occupied slot's latest schedule end (local time), for tests and the demo."""
        if self.users is None:
            return {}
        ends: dict[int, datetime] = {}
        for (user, _), (_, end) in self.users.schedules.items():
            if user in self.users.users:
                ends[user] = max(ends.get(user, local_datetime(end)), local_datetime(end))
        return ends

    def push_button(self) -> None:
        """Free egress: unlock locally and tell."""
        self._set_lock(_LOCK.Unlocked, _SOURCE.Manual, _CODE.Manual_Unlock)

    def door_opened(self) -> None:
        """The door opened: forced when the bolt was thrown."""
        if self.lock_state == _LOCK.Locked:
            self._set_door_state(_DOOR.Error_forced_open)
        else:
            self._opened_unlocked = True
            self._set_door_state(_DOOR.Open)

    def door_closed(self) -> None:
        """The door closed: relock if it was opened unlocked."""
        self._set_door_state(_DOOR.Closed)
        if self.relocks_on_close and self._opened_unlocked and self.lock_state == _LOCK.Unlocked:
            self._set_lock(_LOCK.Locked, _SOURCE.Manual, _CODE.AutoLock)
        self._opened_unlocked = False

    def jam(self) -> None:
        """The bolt jammed."""
        self._set_door_state(_DOOR.Error_jammed)

    def remember(self) -> dict[str, Any]:
        """Its flash: what every device keeps, and its user table and log."""
        memory = super().remember()
        if self.users is not None:
            memory["user_table"] = self.users.remember()
        return memory

    def recall(self, memory: dict[str, Any]) -> None:
        """Take back what `remember` gave."""
        super().recall(memory)
        if self.users is not None and isinstance(table := memory.get("user_table"), dict):
            self.users.recall(table)

    def announce(self) -> None:
        """What a lock does when it is back: report its state."""
        self.report(DoorLock, DoorLock.AttributeDefs.lock_state)
