"""The Zigbee layer: frames to events, commands, availability, and what it drops."""

from __future__ import annotations

import asyncio
import logging
from types import SimpleNamespace
from typing import Any

import pytest
import zigpy.types as t
from zigpy.zcl import foundation
from zigpy.zcl.clusters.closures import DoorLock

from custom_components.ntnu_library.zigbee import compat
from custom_components.ntnu_library.zigbee.frames import MalformedFrame, operation_event
from custom_components.ntnu_library.zigbee.layer import ZigbeeRooms
from custom_components.ntnu_library.zigbee.radio import (
    DeviceEvent,
    DeviceEventType as E,
    LockCommandFailed,
    LockOffline,
    LockState,
    Role,
    RoomDevices,
    UnknownRoom,
)
from custom_components.ntnu_library.zigbee.simulated import SimulatedRadio, simulated_devices

from .conftest import ROOMS

ROOMS_LOGGER = "custom_components.ntnu_library.zigbee.layer"
LOCK = simulated_devices("T01").lock
SOURCE, CODE = DoorLock.OperationEventSource, DoorLock.OperationEvent
OPERATION_EVENT = DoorLock.ClientCommandDefs.operation_event_notification.id
TO_CLIENT: Any = foundation.Direction.Server_to_Client  # zigpy's enums type as int for mypy


def _operation_event_frame(source: int, code: int, pin: bytes, tsn: int = 0x42) -> bytes:
    """An operation_event_notification as a lock puts it on the air."""
    hdr = foundation.ZCLHeader.cluster(tsn, OPERATION_EVENT, direction=TO_CLIENT)
    return (
        hdr.serialize()
        + SOURCE(source).serialize()
        + CODE(code).serialize()
        + t.uint16_t(0xFFFF).serialize()
        + t.LVBytes(pin).serialize()
        + t.uint32_t(0).serialize()  # local_time
    )


def _room_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == ROOMS_LOGGER and record.levelno >= logging.WARNING
    ]


# -- commands and availability ---------------------------------------------------------


async def test_unlock_when_marked_offline_sends_nothing(
    radio: SimulatedRadio, events: list[DeviceEvent]
) -> None:
    await radio.async_simulate("T01", "offline")
    radio.lock_model("T01").online = True  # it would answer, but we believe it is gone

    with pytest.raises(LockOffline, match="offline"):
        await radio.async_unlock("T01")

    assert radio.lock_model("T01").lock_state == DoorLock.LockState.Locked
    assert [event.type for event in events] == [E.OFFLINE]


async def test_undelivered_command_marks_the_lock_offline(
    radio: SimulatedRadio, events: list[DeviceEvent]
) -> None:
    radio.lock_model("T01").online = False  # no MAC ACK, and nobody has noticed yet
    assert radio.is_online("T01")

    with pytest.raises(LockOffline, match="not delivered"):
        await radio.async_unlock("T01")

    assert not radio.is_online("T01")
    assert events == [DeviceEvent(room_id="T01", type=E.OFFLINE)]

    await radio.async_simulate("T01", "online")
    assert radio.is_online("T01")
    assert events[-1] == DeviceEvent(room_id="T01", type=E.ONLINE)
    await radio.async_unlock("T01")  # and commands work again


async def test_lock_that_swallows_the_command_times_out(
    radio: SimulatedRadio, events: list[DeviceEvent]
) -> None:
    radio.lock_model("T01").swallow_commands = True

    with pytest.raises(LockCommandFailed, match="no answer"):
        await radio.async_unlock("T01")

    assert not radio.is_online("T01")
    assert [event.type for event in events] == [E.OFFLINE]


async def test_a_lost_answer_is_made_good_by_the_locks_report_at_once(
    radio: SimulatedRadio, events: list[DeviceEvent]
) -> None:
    """The answer never comes, the lock's report of its bolt does: unlocked, online, no wait."""
    radio.lock_model("T01").lose_answers = 1
    loop = asyncio.get_running_loop()
    started = loop.time()
    await radio.async_unlock("T01")
    assert loop.time() - started < 0.5  # the command timeout was not waited out
    assert radio.is_online("T01")
    assert radio.lock_state("T01") is LockState.UNLOCKED
    assert [event.type for event in events] == [E.UNLOCKED]
    await radio.async_lock("T01")  # and the next command goes as usual
    assert radio.lock_state("T01") is LockState.LOCKED


async def test_a_lost_answer_without_a_report_is_made_good_by_a_read_long_before_the_timeout() -> (
    None
):
    """No answer, no report: a read after a second finds the bolt moved; the lock stays online."""
    radio = SimulatedRadio(ROOMS, command_timeout=60.0, check_timeout=5.0)
    await radio.async_start()
    try:
        lock = radio.lock_model("T01")
        lock.lose_answers, lock.reports_bolt = 1, False
        async with asyncio.timeout(30):  # half the command timeout: the read decided
            await radio.async_unlock("T01")
        assert radio.is_online("T01")
        assert radio.lock_state("T01") is LockState.UNLOCKED  # as the read found it
    finally:
        await radio.async_stop()


async def test_a_lost_answer_with_the_bolt_unmoved_fails_but_the_lock_stays_online(
    radio: SimulatedRadio, events: list[DeviceEvent]
) -> None:
    """The lock answers reads but did not move (and its answer was lost): failed, online."""
    lock = radio.lock_model("T01")
    lock.lose_answers, lock.command_status = 1, foundation.Status.FAILURE
    with pytest.raises(LockCommandFailed, match="no answer"):
        await radio.async_unlock("T01")
    assert radio.is_online("T01")
    assert radio.lock_state("T01") is LockState.LOCKED


async def test_a_frame_of_the_lock_taken_for_the_answer_is_not_an_answer(
    radio: SimulatedRadio, events: list[DeviceEvent]
) -> None:
    """The lock's own frames carry the request's sequence number, and its answer is lost."""
    lock = radio.lock_model("T01")
    lock.lose_answers = 1
    command = lock.command

    def same_number(cluster_id: int, hdr: foundation.ZCLHeader, args: Any) -> bool:
        lock._next_tsn = lambda: int(hdr.tsn)  # type: ignore[method-assign]
        return command(cluster_id, hdr, args)

    lock.command = same_number  # type: ignore[method-assign]
    await radio.async_unlock("T01")
    assert radio.is_online("T01")
    assert radio.lock_state("T01") is LockState.UNLOCKED


async def test_refused_command_fails_but_the_lock_stays_online(
    radio: SimulatedRadio, events: list[DeviceEvent]
) -> None:
    radio.lock_model("T01").command_status = foundation.Status.FAILURE

    with pytest.raises(LockCommandFailed, match="FAILURE"):
        await radio.async_lock("T01")

    assert radio.is_online("T01")
    assert events == []


async def test_availability_check(radio: SimulatedRadio, events: list[DeviceEvent]) -> None:
    assert await radio.async_check_availability("T01")
    assert events == []

    radio.lock_model("T01").online = False
    assert not await radio.async_check_availability("T01")
    assert not radio.is_online("T01")

    radio.lock_model("T01").online = True
    assert await radio.async_check_availability("T01")
    assert [event.type for event in events] == [E.OFFLINE, E.ONLINE]


async def test_lock_missing_from_the_network(radio: SimulatedRadio) -> None:
    assert radio.app is not None
    radio.app.devices.pop(t.EUI64.convert(LOCK))

    with pytest.raises(LockOffline, match="not on the network"):
        await radio.async_unlock("T01")
    assert not await radio.async_check_availability("T01")


async def test_device_leaving_marks_the_room_offline(
    radio: SimulatedRadio, events: list[DeviceEvent]
) -> None:
    lock = radio.lock_model("T01")
    assert radio.app is not None
    radio.app.handle_leave(lock.nwk, lock.ieee)
    assert events == [
        DeviceEvent(room_id="T01", type=E.LEFT, role=Role.LOCK),
        DeviceEvent(room_id="T01", type=E.OFFLINE),
    ]


async def test_a_sensor_leaving_is_told_but_the_room_stays_online(
    radio: SimulatedRadio, events: list[DeviceEvent]
) -> None:
    contact = radio.device(simulated_devices("T01").contact)
    assert radio.app is not None
    radio.app.handle_leave(contact.nwk, contact.ieee)
    assert events == [DeviceEvent(room_id="T01", type=E.LEFT, role=Role.CONTACT)]
    assert radio.is_online("T01")
    # It talks again (a rejoin, or simply its next report): it is back, told once.
    events.clear()
    radio.device(simulated_devices("T01").contact).set_open(True)
    await radio._async_settle()
    assert DeviceEvent(room_id="T01", type=E.JOINED, role=Role.CONTACT) in events
    assert [e.type for e in events].count(E.JOINED) == 1


async def test_known_devices_lists_what_the_network_interviewed(radio: SimulatedRadio) -> None:
    devices = {d.ieee: d for d in radio.known_devices()}
    t01 = simulated_devices("T01")
    assert devices[t01.lock].door_lock and devices[t01.lock].model == "SimLock"
    assert devices[t01.contact].contact and not devices[t01.contact].door_lock
    assert devices[t01.occupancy].occupancy
    assert all(d.manufacturer == "NTNU Sim" for d in devices.values())


async def test_unknown_rooms(radio: SimulatedRadio) -> None:
    assert radio.is_online("X99") is False
    assert radio.lock_state("X99") is LockState.UNKNOWN
    assert radio.door_open("X99") is None
    assert radio.occupied("X99") is None
    with pytest.raises(UnknownRoom):
        await radio.async_unlock("X99")
    with pytest.raises(UnknownRoom):
        await radio.async_check_availability("X99")


def test_set_rooms_refuses_bad_addresses() -> None:
    with pytest.raises(ValueError, match="bad IEEE address"):
        ZigbeeRooms([RoomDevices(room_id="T01", lock="not-an-address")])
    with pytest.raises(ValueError, match="bound to rooms T01 and T02"):
        ZigbeeRooms([RoomDevices(room_id="T01", lock=LOCK), RoomDevices(room_id="T02", lock=LOCK)])


async def test_layer_attaches_to_any_application(radio: SimulatedRadio) -> None:
    """A second layer on the same network (as on ZHA's): events, no configuration."""
    layer = ZigbeeRooms([ROOMS[0], RoomDevices(room_id="X01", lock="00:11:22:33:44:55:66:77")])
    received: list[DeviceEvent] = []
    layer.subscribe(received.append)
    assert radio.app is not None
    layer.attach(radio.app)
    try:
        assert layer.is_online("T01")
        assert layer.lock_state("T01") is LockState.LOCKED  # primed from zigpy's cache
        assert not layer.is_online("X01")
        with pytest.raises(LockOffline):
            await layer.async_unlock("X01")

        await radio.async_simulate("T01", "card_tap", card="C-A0001")
        assert received[-1] == DeviceEvent(room_id="T01", type=E.CARD_TAP, card="C-A0001")
    finally:
        layer.detach()
    received.clear()
    await radio.async_simulate("T01", "card_tap", card="C-A0001")
    assert received == []


async def test_reinterview_attaches_once(radio: SimulatedRadio, events: list[DeviceEvent]) -> None:
    assert radio.app is not None
    device = radio.app.devices[t.EUI64.convert(LOCK)]
    radio.app.device_initialized(device)
    radio.app.device_initialized(device)

    await radio.async_simulate("T01", "card_tap", card="C-S0001")
    assert [event.type for event in events] == [E.CARD_TAP]


async def test_unbinding_a_room_stops_its_events(
    radio: SimulatedRadio, events: list[DeviceEvent]
) -> None:
    radio.set_rooms(ROOMS[1:])
    await radio.async_simulate("T02", "card_tap", card="C-S0001")
    assert [event.room_id for event in events] == ["T02"]
    assert radio.is_online("T01") is False  # not a room any more


async def test_a_failing_subscriber_does_not_stop_the_others(
    radio: SimulatedRadio, events: list[DeviceEvent], caplog: pytest.LogCaptureFixture
) -> None:
    def broken(event: DeviceEvent) -> None:
        raise RuntimeError("bug")

    unsubscribe = radio.subscribe(broken)
    later: list[DeviceEvent] = []
    radio.subscribe(later.append)

    await radio.async_simulate("T01", "card_tap", card="C-S0001")
    assert len(events) == len(later) == 1
    assert "Subscriber failed" in caplog.text

    unsubscribe()
    unsubscribe()  # twice is harmless
    caplog.clear()
    await radio.async_simulate("T01", "card_tap", card="C-S0002")
    assert "Subscriber failed" not in caplog.text


# -- what is dropped -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        # An operation event cut short before its local_time.
        (_operation_event_frame(SOURCE.RFID, CODE.Unlock, b"C-S0001")[:-3], "malformed frame"),
        # A cluster command header with garbage after it.
        (bytes.fromhex("19072003"), "malformed frame"),
        # Not even a ZCL header.
        (b"\x09", "malformed frame"),
        # A well-formed card tap without a card.
        (
            _operation_event_frame(SOURCE.RFID, CODE.UnlockFailureInvalidPINorID, b""),
            "without a card",
        ),
    ],
    ids=["truncated_operation_event", "garbage", "no_header", "tap_without_card"],
)
async def test_malformed_frames_are_dropped_with_one_log_line(
    radio: SimulatedRadio,
    events: list[DeviceEvent],
    caplog: pytest.LogCaptureFixture,
    payload: bytes,
    message: str,
) -> None:
    with caplog.at_level(logging.WARNING):
        await radio.async_inject_frame(LOCK, 1, DoorLock.cluster_id, payload)

    warnings = _room_warnings(caplog)
    assert len(warnings) == 1
    assert message in warnings[0]
    assert "T01" in warnings[0]
    assert events == []
    # The radio is none the worse for it.
    await radio.async_simulate("T01", "card_tap", card="C-S0001")
    assert [event.type for event in events] == [E.CARD_TAP]


async def test_frame_from_an_unknown_device_is_dropped(
    radio: SimulatedRadio, events: list[DeviceEvent], caplog: pytest.LogCaptureFixture
) -> None:
    frame = _operation_event_frame(SOURCE.RFID, CODE.UnlockFailureInvalidPINorID, b"C-S0001")
    with caplog.at_level(logging.WARNING):
        await radio.async_inject_frame("de:ad:be:ef:00:00:00:01", 1, DoorLock.cluster_id, frame)

    assert "Unknown device" in caplog.text  # zigpy's own line; it never reaches a room
    assert _room_warnings(caplog) == []
    assert events == []


async def test_injected_valid_frame_is_decoded(
    radio: SimulatedRadio, events: list[DeviceEvent]
) -> None:
    frame = _operation_event_frame(SOURCE.RFID, CODE.Unlock, bytes.fromhex("04a2ff10"))
    await radio.async_inject_frame(LOCK, 1, DoorLock.cluster_id, frame)
    assert events == [DeviceEvent(room_id="T01", type=E.CARD_TAP, card="04A2FF10")]


# -- the one mapping of operation events ------------------------------------------------


def _event(source: int, code: int, pin: Any = b"") -> SimpleNamespace:
    return SimpleNamespace(operation_event_source=source, operation_event_code=code, pin=pin)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            _event(SOURCE.RFID, CODE.UnlockFailureInvalidPINorID, b"C-S0001"),
            (E.CARD_TAP, "C-S0001"),
        ),
        (_event(SOURCE.RFID, CODE.Unlock, t.LVBytes(b"C-S0001\x00\x00")), (E.CARD_TAP, "C-S0001")),
        (_event(SOURCE.RFID, CODE.Unlock, "C-F0001"), (E.CARD_TAP, "C-F0001")),
        (_event(SOURCE.RFID, CODE.Unlock, b"\x04\xa2\x00\x9f"), (E.CARD_TAP, "04A2009F")),
        (_event(SOURCE.Manual, CODE.Manual_Unlock), (E.PUSH_EXIT, None)),
        (_event(SOURCE.Manual, CODE.Unlock), (E.PUSH_EXIT, None)),
        (_event(SOURCE.Manual, CODE.AutoLock), None),
        (_event(SOURCE.RF, CODE.Unlock), None),
        (_event(SOURCE.Keypad, CODE.Unlock, b"1234"), None),
    ],
    ids=[
        "refused_tap",
        "lvbytes",
        "text",
        "binary_uid",
        "push",
        "push_as_unlock",
        "autolock",
        "our_rf_unlock",
        "keypad",
    ],
)
def test_operation_event_mapping(
    args: SimpleNamespace, expected: tuple[E, str | None] | None
) -> None:
    assert operation_event(args) == expected


def test_operation_event_mapping_reads_zigpy_character_strings() -> None:
    schema = DoorLock.client_commands[OPERATION_EVENT].schema
    frame = _operation_event_frame(SOURCE.RFID, CODE.Unlock, b"C-X0001")
    args, _ = schema.deserialize(frame[3:])
    assert operation_event(args) == (E.CARD_TAP, "C-X0001")


@pytest.mark.parametrize(
    "args",
    [object(), _event(SOURCE.RFID, CODE.Unlock, b"  "), _event(SOURCE.RFID, CODE.Unlock, None)],
)
def test_operation_event_mapping_refuses_malformed(args: Any) -> None:
    with pytest.raises(MalformedFrame):
        operation_event(args)


def test_lock_commands_go_out_with_high_priority() -> None:
    assert compat.HIGH_PRIORITY == {"priority": t.PacketPriority.HIGH}
