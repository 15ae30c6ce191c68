"""What a room's devices are and what their ZCL frames say: locks, contacts, occupancy, batteries.

Pure mapping, no state: the layer (`layer.py`) keeps what it last heard per room.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from zigpy.application import ControllerApplication
import zigpy.types as t
from zigpy.zcl.clusters.closures import DoorLock
from zigpy.zcl.clusters.general import PowerConfiguration
from zigpy.zcl.clusters.measurement import OccupancySensing
from zigpy.zcl.clusters.security import IasZone

from .radio import DeviceEventType, KnownDevice, LockState, Role, RoomDevices

LOCK_ATTR = DoorLock.AttributeDefs
SOURCE = DoorLock.OperationEventSource
CODE = DoorLock.OperationEvent
DOOR = DoorLock.DoorState
OPERATION_EVENT = DoorLock.ClientCommandDefs.operation_event_notification.id
PROGRAMMING_EVENT = DoorLock.ClientCommandDefs.programming_event_notification.id
ZONE_STATUS_CHANGE = IasZone.ClientCommandDefs.status_change_notification.id
NO_USER = 0xFFFF  # an operation by no user of the lock's table
ZCL_EPOCH = datetime(2000, 1, 1)  # ZCL local time: the lock's wall clock, no time zone
LOCK_STATES = {
    DoorLock.LockState.Locked: LockState.LOCKED,
    DoorLock.LockState.Unlocked: LockState.UNLOCKED,
    # A bolt that is not fully thrown does not secure the room.
    DoorLock.LockState.Not_fully_locked: LockState.UNLOCKED,
}

ROLE_CLUSTERS: dict[Role, int] = {
    Role.LOCK: DoorLock.cluster_id,
    Role.CONTACT: IasZone.cluster_id,
    Role.OCCUPANCY: OccupancySensing.cluster_id,
}
STATE_ATTRIBUTES = frozenset(
    {
        (Role.LOCK, LOCK_ATTR.lock_state.id),
        (Role.LOCK, LOCK_ATTR.door_state.id),
        (Role.CONTACT, IasZone.AttributeDefs.zone_status.id),
        (Role.OCCUPANCY, OccupancySensing.AttributeDefs.occupancy.id),
    }
)

# Battery-powered devices carry Power Configuration; the level is in half-percent (0-200).
POWER_CLUSTER = PowerConfiguration.cluster_id
BATTERY_ATTR = PowerConfiguration.AttributeDefs.battery_percentage_remaining
_BATTERY_UNKNOWN = 0xFF  # "invalid or unknown" in ZCL


def battery_percent(value: Any) -> int | None:
    """battery_percentage_remaining as whole percent (rounded down); None if not a level.

    Rounding down never makes a battery look fuller than it is (a 19.5 % battery is below a
    20 % alert threshold).
    """
    try:
        half_percent = int(value)
    except (TypeError, ValueError):
        return None
    if half_percent == _BATTERY_UNKNOWN or not 0 <= half_percent <= 200:
        return None
    return half_percent // 2


def local_seconds(moment: datetime) -> int:
    """A naive local datetime as ZCL local time (seconds since 2000-01-01), within uint32."""
    seconds = int((moment.replace(tzinfo=None) - ZCL_EPOCH).total_seconds())
    return max(0, min(seconds, 0xFFFFFFFE))


def local_datetime(seconds: int) -> datetime:
    """ZCL local time as a naive local datetime."""
    return ZCL_EPOCH + timedelta(seconds=int(seconds))


class MalformedFrame(ValueError):
    """A frame from a room's device that cannot be turned into an event."""


def code_text(value: Any) -> str:
    """A code field (a card number) as text: printable UTF-8 as it is, a binary UID in hex."""
    raw = getattr(value, "raw", value)  # zigpy's CharacterString keeps the wire bytes
    if isinstance(raw, bytes | bytearray):
        text = bytes(raw).rstrip(b"\x00").decode("utf-8", "replace")
        return text if text.isprintable() and "\ufffd" not in text else bytes(raw).hex().upper()
    return "" if raw is None else str(raw)


def operation_user(args: Any) -> int | None:
    """The user slot an operation event names; None for none (0xFFFF) or a frame without."""
    try:
        user = int(args.user_id)
    except (AttributeError, TypeError, ValueError):
        return None
    return None if user == NO_USER else user


def operation_event(args: Any) -> tuple[DeviceEventType, str | None] | None:
    """Map a Door Lock operation_event_notification to (event, card); None if no event.

    - Source RFID with code Unlock and a user slot: the lock opened for a card of its own
      user table (`LOCK_OPENED`). Any other RFID event is a card tap for the integration to
      decide: the lock forwards the taps its own table refuses (code 5 or 6). The card
      number is the `pin` field: printable UTF-8 is taken as text, a binary UID becomes
      upper-case hex.
    - Source Manual with Manual_Unlock (some locks say Unlock) is the PUSH button inside.
    - Everything else (our own RF commands, auto-lock, keypad) is told by lock_state.

    Raises MalformedFrame for a frame that is not an operation event or a tap without a card.
    """
    try:
        source = int(args.operation_event_source)
        code = int(args.operation_event_code)
    except (AttributeError, TypeError, ValueError) as err:
        raise MalformedFrame(f"not an operation event: {args!r}") from err

    if source == SOURCE.RFID:
        card = code_text(getattr(args, "pin", None)).strip()
        if not card:
            raise MalformedFrame("card tap without a card number")
        if code == CODE.Unlock and operation_user(args) is not None:
            return DeviceEventType.LOCK_OPENED, card  # its own user table opened it
        return DeviceEventType.CARD_TAP, card

    if source == SOURCE.Manual and code in (CODE.Manual_Unlock, CODE.Unlock):
        return DeviceEventType.PUSH_EXIT, None

    return None


def lock_event(
    command_id: int, args: Any
) -> tuple[DeviceEventType, str | None, dict[str, Any]] | None:
    """A Door Lock notification as (event, card, the user slot and the lock's time); None: none.

    A programming event (a code added or deleted at the lock) says the user table changed;
    one over the radio (source RF) is the coordinator's own write, already known. Raises
    MalformedFrame as `operation_event` does.
    """
    if command_id == PROGRAMMING_EVENT:
        if getattr(args, "program_event_source", None) == SOURCE.RF:
            return None
        return DeviceEventType.USERS_CHANGED, None, {}
    if (decoded := operation_event(args)) is None:
        return None
    try:
        at: datetime | None = local_datetime(int(args.local_time))
    except (AttributeError, TypeError, ValueError):
        at = None
    return decoded[0], decoded[1], {"user_id": operation_user(args), "at": at}


def describe_devices(app: ControllerApplication) -> list[KnownDevice]:
    """Every interviewed device on the network but the coordinator, by IEEE address."""
    found = []
    for ieee, device in sorted(app.devices.items(), key=lambda item: str(item[0])):
        if device.nwk == 0x0000:
            continue
        clusters = {
            cluster_id
            for endpoint_id, endpoint in device.endpoints.items()
            if endpoint_id != 0
            for cluster_id in endpoint.in_clusters
        }
        found.append(
            KnownDevice(
                ieee=str(ieee),
                manufacturer=device.manufacturer,
                model=device.model,
                door_lock=DoorLock.cluster_id in clusters,
                contact=IasZone.cluster_id in clusters,
                occupancy=OccupancySensing.cluster_id in clusters,
            )
        )
    return found


def device_bindings(rooms: Iterable[RoomDevices]) -> dict[t.EUI64, tuple[str, Role]]:
    """Each bound device's room and role; ValueError for a bad address or one bound twice."""
    bindings: dict[t.EUI64, tuple[str, Role]] = {}
    for room in rooms:
        for role in Role:
            address = getattr(room, role.value)
            if address is None:
                continue
            try:
                ieee = t.EUI64.convert(address)
            except (ValueError, TypeError) as err:
                raise ValueError(f"room {room.room_id}: bad IEEE address {address!r}") from err
            if ieee in bindings:
                raise ValueError(
                    f"{address} is bound to rooms {bindings[ieee][0]} and {room.room_id}"
                )
            bindings[ieee] = (room.room_id, role)
    return bindings
