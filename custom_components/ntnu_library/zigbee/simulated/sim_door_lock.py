"""The simulated door lock: a card reader outside, a PUSH button inside, a bolt and a door."""

from __future__ import annotations

from collections.abc import Callable
import time
from typing import Any

from zigpy.profiles import zha
import zigpy.types as t
from zigpy.zcl import foundation
from zigpy.zcl.clusters.closures import DoorLock
from zigpy.zcl.clusters.general import Basic, Identify, PowerConfiguration

from .sim_device import BatteryPack, SimulatedDevice

# zigpy builds its enums with a factory mypy cannot see through (members type as plain
# int), so those handed back to zigpy's typed constructors are reached through Any.
_STATUS: Any = foundation.Status
_TO_CLIENT: Any = foundation.Direction.Server_to_Client
_LOCK: Any = DoorLock.LockState
_DOOR: Any = DoorLock.DoorState
_SOURCE = DoorLock.OperationEventSource
_CODE = DoorLock.OperationEvent
_ZIGBEE_EPOCH = 946684800  # 2000-01-01, the origin of ZCL time
_NO_USER = 0xFFFF


class SimulatedLock(SimulatedDevice):
    """A door lock with a card reader outside and a PUSH button inside.

    It never grants a card by itself: every tap is forwarded as an operation event
    (RFID, UnlockFailureInvalidPINorID) and the integration decides. It relocks when the
    door closes after being opened unlocked (unless `relocks_on_close` is False).
    `swallow_commands` makes it ACK frames at the MAC layer but never answer, to test
    timeouts; `command_status` is what it answers to lock_door / unlock_door;
    `lose_answers` answers to them are lost on the way (the bolt moves all the same), and
    with `reports_bolt` False the bolt moves without a report (only a read tells).
    """

    model = "SimLock"
    device_type = zha.DeviceType.DOOR_LOCK
    rx_on_when_idle = True  # on batteries, yet it answers a command at once
    battery_pack = BatteryPack(PowerConfiguration.BatterySize.AA, 4, empty=44, full=62)
    clusters = (Basic, PowerConfiguration, Identify, DoorLock)
    writable = frozenset({(DoorLock.cluster_id, DoorLock.AttributeDefs.auto_relock_time.id)})

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
        self.swallow_commands = False
        self.command_status: int = _STATUS.SUCCESS  # what lock_door / unlock_door answer
        self.lose_answers = 0
        self.reports_bolt = True
        self._opened_unlocked = False
        # Most study-room locks throw the bolt when the door closes; some leave it to the
        # controller (False), which is what the site's own relock-on-close is for.
        self.relocks_on_close = True

    @property
    def lock_state(self) -> int:
        """The bolt."""
        return _LOCK(self.attributes[DoorLock.cluster_id][DoorLock.AttributeDefs.lock_state.id])

    def receive(self, packet: t.ZigbeePacket) -> None:
        """Take a frame, unless told to swallow everything."""
        if not self.swallow_commands:
            super().receive(packet)

    def command(self, cluster_id: int, hdr: foundation.ZCLHeader, args: Any) -> bool:
        """lock_door / unlock_door: answer, then report and tell the operation."""
        commands = DoorLock.ServerCommandDefs
        if cluster_id != DoorLock.cluster_id or hdr.command_id not in (
            commands.lock_door.id,
            commands.unlock_door.id,
        ):
            return False
        unlock = hdr.command_id == commands.unlock_door.id
        if self.lose_answers > 0:
            self.lose_answers -= 1
        else:  # the *_door_response commands share their request's id
            self._cluster_response(DoorLock, hdr.tsn, hdr.command_id, status=self.command_status)
        if self.command_status == _STATUS.SUCCESS:
            state, code = (_LOCK.Unlocked, _CODE.Unlock) if unlock else (_LOCK.Locked, _CODE.Lock)
            self._set_lock(state, _SOURCE.RF, code)
        return True

    def _set_lock(self, state: int, source: int, code: int) -> None:
        self.attributes[DoorLock.cluster_id][DoorLock.AttributeDefs.lock_state.id] = state
        if self.reports_bolt:
            self.report(DoorLock, DoorLock.AttributeDefs.lock_state)
        self.operation_event(source, code)

    def _set_door_state(self, state: int) -> None:
        self.attributes[DoorLock.cluster_id][DoorLock.AttributeDefs.door_state.id] = state
        self.report(DoorLock, DoorLock.AttributeDefs.door_state)

    def operation_event(self, source: int, code: int, pin: bytes = b"") -> None:
        """Send operation_event_notification; `pin` goes on the wire as raw bytes."""
        if DoorLock.cluster_id not in self.bound:
            return
        command_id = DoorLock.ClientCommandDefs.operation_event_notification.id
        hdr = foundation.ZCLHeader.cluster(self._next_tsn(), command_id, direction=_TO_CLIENT)
        payload = (
            _SOURCE(source).serialize()
            + _CODE(code).serialize()
            + t.uint16_t(_NO_USER).serialize()
            + t.LVBytes(pin).serialize()
            + t.LocalTime(int(time.time()) - _ZIGBEE_EPOCH).serialize()
        )
        self._send(DoorLock.cluster_id, hdr.serialize() + payload)

    def card_tap(self, card: str) -> None:
        """Forward a tap; the integration decides whether to unlock."""
        self.operation_event(_SOURCE.RFID, _CODE.UnlockFailureInvalidPINorID, card.encode())

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

    def announce(self) -> None:
        """What a lock does when it is back: report its state."""
        self.report(DoorLock, DoorLock.AttributeDefs.lock_state)
