"""A lock's own user table over real ZCL frames: codes per slot, schedules, its log, its decisions.

The frames are checked against zigpy's own Door Lock cluster definitions (command ids and
fields), which CI runs against both zigpy releases the integration supports.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime, timedelta
from typing import Any

import pytest
import zigpy.types as t
from zigpy.zcl import foundation
from zigpy.zcl.clusters.closures import DoorLock

from custom_components.ntnu_library.zigbee.frames import local_datetime, local_seconds
from custom_components.ntnu_library.zigbee.lock_users import SecretCode
from custom_components.ntnu_library.zigbee.radio import (
    DeviceEvent,
    DeviceEventType as E,
    LockOffline,
    LockState,
    NotSupported,
)
from custom_components.ntnu_library.zigbee.simulated import (
    SimulatedLock,
    SimulatedRadio,
    simulated_devices,
)

CODE = DoorLock.OperationEvent
SOURCE = DoorLock.OperationEventSource
SLOT = 9  # the site's slot on a lock with ten RFID users
NOW = datetime(2026, 3, 10, 10, 0)  # the lock's wall clock

# The Door Lock commands and fields as the ZCL specification numbers and names them; zigpy
# (0.78 and 2.x alike) must agree, or zigbee/compat.py has to bridge the difference.
SERVER_COMMANDS = {
    "lock_door": (0x00, None),
    "unlock_door": (0x01, None),
    "get_log_record": (0x04, ["log_index"]),
    "set_year_day_schedule": (
        0x0E,
        ["schedule_id", "user_id", "local_start_time", "local_end_time"],
    ),
    "get_year_day_schedule": (0x0F, ["schedule_id", "user_id"]),
    "set_rfid_code": (0x16, ["user_id", "user_status", "user_type", "rfid_code"]),
    "get_rfid_code": (0x17, ["user_id"]),
    "clear_rfid_code": (0x18, ["user_id"]),
}
CLIENT_COMMANDS = {
    "get_log_record_response": (
        0x04,
        [
            "log_entry_id",
            "timestamp",
            "event_type",
            "source",
            "event_id_or_alarm_code",
            "user_id",
            "pin",
        ],
    ),
    "get_year_day_schedule_response": (
        0x0F,
        ["schedule_id", "user_id", "status", "local_start_time", "local_end_time"],
    ),
    "set_rfid_code_response": (0x16, ["status"]),
    "get_rfid_code_response": (0x17, ["user_id", "user_status", "user_type", "rfid_code"]),
    "clear_rfid_code_response": (0x18, ["status"]),
    "operation_event_notification": (
        0x20,
        ["operation_event_source", "operation_event_code", "user_id", "pin", "local_time"],
    ),
    "programming_event_notification": (0x21, None),
}
ATTRIBUTES = {
    "num_of_lock_records_supported": 0x0010,
    "num_of_rfid_users_supported": 0x0013,
    "num_of_year_day_schedules_supported_per_user": 0x0015,
    "max_rfid_len": 0x0019,
    "min_rfid_len": 0x001A,
}


def _fields(schema: Any) -> list[str]:
    return [field.name.rstrip("?") for field in schema.fields]


@pytest.mark.parametrize(("name", "expected"), SERVER_COMMANDS.items())
def test_zigpy_defines_the_commands_the_site_sends_as_the_zcl_does(
    name: str, expected: tuple[int, list[str] | None]
) -> None:
    command = getattr(DoorLock.ServerCommandDefs, name)
    assert command.id == expected[0]
    if expected[1] is not None:
        assert _fields(command.schema)[: len(expected[1])] == expected[1]


@pytest.mark.parametrize(("name", "expected"), CLIENT_COMMANDS.items())
def test_zigpy_defines_what_a_lock_answers_as_the_zcl_does(
    name: str, expected: tuple[int, list[str] | None]
) -> None:
    command = getattr(DoorLock.ClientCommandDefs, name)
    assert command.id == expected[0]
    if expected[1] is not None:
        assert _fields(command.schema)[: len(expected[1])] == expected[1]


def test_zigpy_numbers_the_user_table_attributes_as_the_zcl_does() -> None:
    for name, attrid in ATTRIBUTES.items():
        assert getattr(DoorLock.AttributeDefs, name).id == attrid


@pytest.fixture
async def radio() -> AsyncGenerator[SimulatedRadio]:
    """One room's lock on a started network whose clock the test moves."""
    radio = SimulatedRadio([simulated_devices("T01")], command_timeout=0.5, check_timeout=0.3)
    clock = [NOW]
    radio.clock = lambda: clock[0]
    radio.moments = clock  # type: ignore[attr-defined]
    await radio.async_start()
    yield radio
    await radio.async_stop()


def _set_clock(radio: SimulatedRadio, moment: datetime) -> None:
    radio.moments[0] = moment  # type: ignore[attr-defined]


async def _write(radio: SimulatedRadio, card: str = "C-S0001", hours: int = 2) -> None:
    start, end = NOW - timedelta(hours=1), NOW + timedelta(hours=hours)
    await radio.lock_users.async_write_slot("T01", SLOT, card, start, end)


async def test_the_frames_of_a_slot_write_are_the_zcl_commands(radio: SimulatedRadio) -> None:
    lock = radio.lock_model("T01")
    received: list[bytes] = []
    take = lock.receive

    def spy(packet: t.ZigbeePacket) -> None:
        if packet.cluster_id == DoorLock.cluster_id:
            received.append(packet.data.serialize())
        take(packet)

    lock.receive = spy  # type: ignore[method-assign]
    await _write(radio)

    decoded = []
    for frame in received:
        hdr, payload = foundation.ZCLHeader.deserialize(frame)
        assert hdr.frame_control.frame_type == foundation.FrameType.CLUSTER_COMMAND
        command = DoorLock.server_commands[hdr.command_id]
        args, rest = command.schema.deserialize(payload)
        assert rest == b""
        decoded.append((command.name, args))
    assert [name for name, _ in decoded] == ["set_rfid_code", "set_year_day_schedule"]
    code, schedule = decoded[0][1], decoded[1][1]
    assert (code.user_id, code.user_status, code.user_type, code.rfid_code) == (
        SLOT,
        DoorLock.UserStatus.Enabled,
        DoorLock.UserType.Year_Day_Schedule_User,
        "C-S0001",
    )
    # On the wire: the user (uint16, little-endian), status, type, then the code's length.
    assert received[0][3:] == bytes([SLOT, 0, 1, 1, 7]) + b"C-S0001"
    assert (schedule.schedule_id, schedule.user_id) == (0, SLOT)
    assert local_datetime(schedule.local_start_time) == NOW - timedelta(hours=1)
    assert local_datetime(schedule.local_end_time) == NOW + timedelta(hours=2)


async def test_a_slot_reads_back_as_written_and_clears(radio: SimulatedRadio) -> None:
    users = radio.lock_users
    capabilities = await users.async_capabilities("T01")
    assert (capabilities.rfid_users, capabilities.year_day_schedules) == (10, 2)
    assert (capabilities.log_records, capabilities.min_rfid_len, capabilities.max_rfid_len) == (
        64,
        4,
        32,
    )
    assert await users.async_read_slot("T01", SLOT) is None
    await _write(radio)
    held = await users.async_read_slot("T01", SLOT)
    assert held is not None
    assert (held.code, held.enabled, held.start, held.end) == (
        "C-S0001",
        True,
        NOW - timedelta(hours=1),
        NOW + timedelta(hours=2),
    )
    assert "C-S0001" not in repr(held)
    await users.async_clear_slot("T01", SLOT)
    assert await users.async_read_slot("T01", SLOT) is None
    assert radio.lock_model("T01").users.users == {}  # type: ignore[union-attr]


async def test_without_its_coordinator_the_lock_decides_from_its_own_table(
    radio: SimulatedRadio,
) -> None:
    """The holder opens, any other card is refused, and the holder no longer after the end."""
    await _write(radio)
    lock = radio.lock_model("T01")
    lock.online = False  # the radio link is lost: nobody hears the lock

    lock.card_tap("C-G0001")
    assert lock.lock_state == DoorLock.LockState.Locked
    lock.card_tap("C-S0001")
    assert lock.lock_state == DoorLock.LockState.Unlocked
    lock.door_opened()
    lock.door_closed()  # it relocks when the door closes
    assert lock.lock_state == DoorLock.LockState.Locked

    _set_clock(radio, NOW + timedelta(hours=2, seconds=1))
    lock.card_tap("C-S0001")
    assert lock.lock_state == DoorLock.LockState.Locked

    lock.online = True
    lock.announce()
    await radio._async_settle()
    users = radio.lock_users
    entries = []
    entry = await users.async_log_entry("T01", 0)
    while entry is not None:
        entries.append(entry)
        entry = (
            await users.async_log_entry("T01", entry.entry_id - 1) if entry.entry_id > 1 else None
        )
    taps = [
        (e.at, e.source, e.code, e.user_id, e.card)
        for e in reversed(entries)
        if e.source == SOURCE.RFID
    ]
    assert taps == [
        (NOW, SOURCE.RFID, CODE.UnlockFailureInvalidPINorID, 0xFFFF, "C-G0001"),
        (NOW, SOURCE.RFID, CODE.Unlock, SLOT, "C-S0001"),
        (
            NOW + timedelta(hours=2, seconds=1),
            SOURCE.RFID,
            CODE.UnlockFailureInvalidSchedule,
            SLOT,
            "C-S0001",
        ),
    ]
    assert "C-S0001" not in repr(entries)


async def test_while_its_coordinator_answers_the_lock_forwards_every_tap(
    radio: SimulatedRadio,
) -> None:
    await _write(radio)
    events: list[DeviceEvent] = []
    radio.subscribe(events.append)
    await radio.async_simulate("T01", "card_tap", card="C-S0001")
    assert [(e.type, e.card, e.at) for e in events] == [(E.CARD_TAP, "C-S0001", NOW)]
    assert radio.lock_state("T01") is LockState.LOCKED  # the site decides


async def test_a_lock_that_always_decides_tells_the_site_what_it_did(
    radio: SimulatedRadio,
) -> None:
    await _write(radio)
    lock = radio.lock_model("T01")
    lock.decides_when_online = True
    events: list[DeviceEvent] = []
    radio.subscribe(events.append)
    await radio.async_simulate("T01", "card_tap", card="C-S0001")
    opened = [e for e in events if e.type is E.LOCK_OPENED]
    assert [(e.user_id, e.at) for e in opened] == [(SLOT, NOW)]
    assert radio.lock_state("T01") is LockState.UNLOCKED
    assert "C-S0001" not in repr(events)
    events.clear()
    await radio.async_simulate("T01", "card_tap", card="C-G0001")
    assert [(e.type, e.user_id) for e in events] == [(E.CARD_TAP, None)]


async def test_a_code_changed_at_the_lock_is_told(radio: SimulatedRadio) -> None:
    events: list[DeviceEvent] = []
    radio.subscribe(events.append)
    command = DoorLock.ClientCommandDefs.programming_event_notification
    hdr = foundation.ZCLHeader.cluster(
        0x21, command.id, direction=foundation.Direction.Server_to_Client
    )
    payload_fields: dict[str, Any] = {
        "program_event_source": SOURCE.Keypad,
        "program_event_code": DoorLock.ProgrammingEvent.RFIDCodeAdded,
        "user_id": 1,
        "pin": t.CharacterString(""),
        "user_type": DoorLock.UserType.Unrestricted,
        "user_status": DoorLock.UserStatus.Enabled,
        "local_time": local_seconds(NOW),
    }
    payload = command.schema(**payload_fields).serialize()
    lock = simulated_devices("T01").lock
    await radio.async_inject_frame(lock, 1, DoorLock.cluster_id, hdr.serialize() + payload)
    assert [e.type for e in events] == [E.USERS_CHANGED]
    # One the coordinator itself made (over the radio) is nothing new.
    events.clear()
    ours = command.schema(**(payload_fields | {"program_event_source": SOURCE.RF})).serialize()
    hdr = foundation.ZCLHeader.cluster(
        0x22, command.id, direction=foundation.Direction.Server_to_Client
    )
    await radio.async_inject_frame(lock, 1, DoorLock.cluster_id, hdr.serialize() + ours)
    assert events == []
    payload = command.schema(**(payload_fields | {"user_id": 2})).serialize()  # still heard
    hdr = foundation.ZCLHeader.cluster(
        0x23, command.id, direction=foundation.Direction.Server_to_Client
    )
    await radio.async_inject_frame(lock, 1, DoorLock.cluster_id, hdr.serialize() + payload)
    assert [e.type for e in events] == [E.USERS_CHANGED]


async def test_an_offline_lock_takes_no_slot(radio: SimulatedRadio) -> None:
    await radio.async_simulate("T01", "offline")
    with pytest.raises(LockOffline):
        await _write(radio)
    with pytest.raises(LockOffline):
        await radio.lock_users.async_log_entry("T01", 0)


async def test_a_lock_without_a_user_table_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(SimulatedLock, "rfid_users", 0)
    radio = SimulatedRadio([simulated_devices("T01")], command_timeout=0.5, check_timeout=0.3)
    await radio.async_start()
    try:
        capabilities = await radio.lock_users.async_capabilities("T01")
        assert (capabilities.rfid_users, capabilities.year_day_schedules) == (0, 0)
        assert capabilities.log_records == 0
        with pytest.raises(NotSupported):
            await _write(radio)
        with pytest.raises(NotSupported):
            await radio.lock_users.async_read_slot("T01", 0)
        assert await radio.lock_users.async_log_entry("T01", 0) is None
    finally:
        await radio.async_stop()


async def test_the_lock_keeps_its_table_and_log_while_its_coordinator_is_away(
    radio: SimulatedRadio,
) -> None:
    await _write(radio)
    lock = radio.lock_model("T01")
    lock.online = False
    lock.card_tap("C-S0001")
    memory = lock.remember()

    again = SimulatedLock(lock.ieee, lock.nwk, lambda _packet: None)
    again.clock = lock.clock
    again.recall(memory)
    again.detach()  # nobody listens: it decides by itself
    assert again.opens_for("C-S0001")
    assert not again.opens_for("C-G0001")
    assert again.users is not None and lock.users is not None
    assert again.users.log == lock.users.log
    assert again.slot_ends() == {SLOT: NOW + timedelta(hours=2)}


def test_a_code_on_its_way_to_a_lock_shows_as_stars() -> None:
    code = SecretCode("C-S0001")
    assert repr(code) == str(code) == "'***'"
    assert code.serialize() == b"\x07C-S0001"
    assert "C-S0001" not in repr(DeviceEvent(room_id="T01", type=E.CARD_TAP, card="C-S0001"))
