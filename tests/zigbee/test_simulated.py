"""The simulated network: interview, device models, the simulate actions, clean shutdown."""

from __future__ import annotations

import asyncio
import time

import pytest
import zigpy.types as t
from zigpy.zcl import foundation
from zigpy.zcl.clusters.closures import DoorLock
from zigpy.zcl.clusters.general import Basic, Identify, PowerConfiguration
from zigpy.zcl.clusters.measurement import OccupancySensing
from zigpy.zcl.clusters.security import IasZone
import zigpy.zdo.types as zdo_t

from custom_components.ntnu_library.zigbee.radio import (
    SIMULATE_ACTIONS,
    DeviceEvent,
    DeviceEventType as E,
    LockState,
    RadioError,
    RoomDevices,
    UnknownRoom,
)
from custom_components.ntnu_library.zigbee.simulated import (
    SIMULATED_IEEE_PREFIX,
    SimulatedContact,
    SimulatedRadio,
    simulated_devices,
)
from custom_components.ntnu_library.zigbee.simulated.sim_addresses import COORDINATOR_IEEE

from .conftest import ROOMS


def _types(events: list[DeviceEvent], room_id: str = "T01") -> list[E]:
    return [event.type for event in events if event.room_id == room_id]


def test_simulated_devices_are_deterministic_per_room() -> None:
    first, again, other = (
        simulated_devices("T01"),
        simulated_devices("T01"),
        simulated_devices("T02"),
    )
    assert first == again
    assert first.room_id == "T01"
    addresses = {first.lock, first.contact, first.occupancy, other.lock}
    assert len(addresses) == 4
    for address in (first.lock, first.contact, first.occupancy):
        assert address is not None
        assert address.startswith(f"{SIMULATED_IEEE_PREFIX}:")
        assert str(t.EUI64.convert(address)) == address


# 2,000 rooms as a large site numbers them, and 2,000 with ids too long to number directly.
MANY_ROOMS = [f"R{n:04d}" for n in range(1, 2001)]
MANY_LONG_ROOMS = [f"KJL-{n // 100}-GRP-{n % 100:02d}" for n in range(2000)]


@pytest.mark.parametrize("room_ids", [MANY_ROOMS, MANY_LONG_ROOMS], ids=["short", "long"])
def test_every_room_of_thousands_has_its_own_addresses(room_ids: list[str]) -> None:
    """A 3-byte hash once gave R0829 and R1097 (and R0319 and R1718) one lock between them."""
    assert len(set(room_ids)) == 2000
    addresses = [
        address
        for room in map(simulated_devices, room_ids)
        for address in (room.lock, room.contact, room.occupancy)
    ]
    assert len(set(addresses)) == 3 * 2000
    assert str(COORDINATOR_IEEE) not in addresses
    for address in addresses:
        assert address is not None
        assert address.startswith(f"{SIMULATED_IEEE_PREFIX}:")
        assert str(t.EUI64.convert(address)) == address
        # Never the earliest simulated rooms' block, where rooms stored then have theirs.
        assert not address.startswith("4e:54:4e:55:")


async def test_rooms_whose_addresses_once_collided_each_have_their_devices() -> None:
    rooms = [simulated_devices("R0829"), simulated_devices("R1097")]
    radio = SimulatedRadio(rooms)
    await radio.async_start()
    received: list[DeviceEvent] = []
    radio.subscribe(received.append)
    try:
        assert len(radio.app.devices) == 1 + 3 * 2  # type: ignore[union-attr]
        assert radio.lock_model("R0829") is not radio.lock_model("R1097")
        await radio.async_simulate("R1097", "door_open")
        assert radio.door_open("R1097") is True
        assert radio.door_open("R0829") is False
    finally:
        await radio.async_stop()
    assert {event.room_id for event in received} == {"R1097"}


async def test_start_interviews_every_device(radio: SimulatedRadio) -> None:
    app = radio.app
    assert app is not None
    expected = {"lock": ("SimLock", DoorLock), "contact": ("SimContact", IasZone)}
    expected["occupancy"] = ("SimOccupancy", OccupancySensing)
    for room in ROOMS:
        for role, (model, cluster) in expected.items():
            address = getattr(room, role)
            if address is None:
                continue
            device = app.devices[t.EUI64.convert(address)]
            assert device.is_initialized
            assert (device.manufacturer, device.model) == ("NTNU Sim", model)
            assert set(device.endpoints[1].in_clusters) == {
                Basic.cluster_id,
                PowerConfiguration.cluster_id,
                Identify.cluster_id,
                cluster.cluster_id,
            }
            # Configuration reached the device: it reports to the coordinator.
            assert cluster.cluster_id in radio.device(address).bound
            assert PowerConfiguration.cluster_id in radio.device(address).bound
        assert radio.is_online(room.room_id)
        assert radio.lock_state(room.room_id) is LockState.LOCKED
        assert radio.door_open(room.room_id) is False
    assert radio.occupied("T01") is False
    assert radio.occupied("L01") is None
    await radio.async_start()  # already started: nothing happens
    assert len(app.devices) == 1 + 3 + 3 + 1
    contact = radio.device(ROOMS[0].contact or "")
    assert isinstance(contact, SimulatedContact)
    assert contact.enrolled


async def test_eighteen_rooms_start_with_every_device_interviewed() -> None:
    """How fast is scripts/bench's to say (setup_s); here: all of them, all online."""
    rooms = [simulated_devices(f"T{n:02d}") for n in range(1, 13)]
    rooms += [simulated_devices(f"L{n:02d}") for n in range(1, 7)]
    radio = SimulatedRadio(rooms)
    await radio.async_start()
    try:
        assert all(radio.is_online(room.room_id) for room in rooms)
        assert len(radio.app.devices) == 1 + 3 * 18  # type: ignore[union-attr]
    finally:
        await radio.async_stop()


# (what happened before, the action, the events it must cause in T01)
ACTION_CASES = [
    ([], "card_tap", [E.CARD_TAP]),
    ([], "push_button", [E.UNLOCKED, E.PUSH_EXIT]),
    ([], "door_open", [E.DOOR_OPEN, E.FORCED_OPEN]),
    (["push_button"], "door_open", [E.DOOR_OPEN]),
    (["push_button", "door_open"], "door_close", [E.DOOR_CLOSED, E.LOCKED]),
    (["door_open"], "door_close", [E.DOOR_CLOSED]),
    (["push_button"], "door_close", []),
    ([], "occupied", [E.OCCUPIED]),
    (["occupied"], "vacant", [E.VACANT]),
    ([], "vacant", []),
    ([], "jam", [E.JAMMED]),
    (["jam"], "jam", []),  # a repeated alarm is told once
    ([], "offline", [E.OFFLINE]),
    (["offline"], "online", [E.ONLINE]),
    ([], "battery_low", [E.BATTERY]),
    (["battery_low"], "battery_low", []),  # the same level is not told again
]


@pytest.mark.parametrize(("before", "action", "expected"), ACTION_CASES)
async def test_simulate_action_events(
    radio: SimulatedRadio,
    events: list[DeviceEvent],
    before: list[str],
    action: str,
    expected: list[E],
) -> None:
    for step in before:
        await radio.async_simulate("T01", step, card="C-S0001")
    events.clear()

    await radio.async_simulate("T01", action, card="C-S0001")

    assert _types(events) == expected
    assert all(event.room_id == "T01" for event in events)


def test_every_design_action_is_covered() -> None:
    assert {case[1] for case in ACTION_CASES} == set(SIMULATE_ACTIONS)


async def test_card_tap_carries_the_card_and_does_not_unlock(
    radio: SimulatedRadio, events: list[DeviceEvent]
) -> None:
    await radio.async_simulate("T02", "card_tap", card=" C-G0001 ")

    assert events == [DeviceEvent(room_id="T02", type=E.CARD_TAP, card="C-G0001")]
    assert radio.lock_state("T02") is LockState.LOCKED
    assert radio.lock_model("T02").lock_state == DoorLock.LockState.Locked


async def test_states_follow_the_devices(radio: SimulatedRadio) -> None:
    await radio.async_simulate("T01", "push_button")
    await radio.async_simulate("T01", "door_open")
    await radio.async_simulate("T01", "occupied")
    assert radio.lock_state("T01") is LockState.UNLOCKED
    assert radio.door_open("T01") is True
    assert radio.occupied("T01") is True

    await radio.async_simulate("T01", "door_close")
    assert radio.lock_state("T01") is LockState.LOCKED  # relocked by itself
    assert radio.door_open("T01") is False
    # Other rooms did not move.
    assert radio.lock_state("T02") is LockState.LOCKED
    assert radio.occupied("T02") is False


async def test_forced_door_without_contact_comes_from_the_lock(
    radio: SimulatedRadio, events: list[DeviceEvent]
) -> None:
    await radio.async_simulate("L01", "door_open")
    assert _types(events, "L01") == [E.FORCED_OPEN, E.DOOR_OPEN]
    assert radio.door_open("L01") is True


async def test_unlock_and_lock_round_trip(radio: SimulatedRadio, events: list[DeviceEvent]) -> None:
    lock = radio.lock_model("T01")

    await radio.async_unlock("T01")
    await asyncio.sleep(0)  # the report follows the response on the air
    assert lock.lock_state == DoorLock.LockState.Unlocked
    assert radio.lock_state("T01") is LockState.UNLOCKED

    await radio.async_lock("T01")
    await asyncio.sleep(0)
    assert lock.lock_state == DoorLock.LockState.Locked
    assert radio.lock_state("T01") is LockState.LOCKED
    # Our own RF commands are told by lock_state alone, not as door activity.
    assert _types(events) == [E.UNLOCKED, E.LOCKED]


async def test_offline_lock_still_lets_people_out(
    radio: SimulatedRadio, events: list[DeviceEvent]
) -> None:
    await radio.async_simulate("T01", "offline")
    await radio.async_simulate("T01", "push_button")
    assert radio.lock_model("T01").lock_state == DoorLock.LockState.Unlocked
    assert _types(events) == [E.OFFLINE]  # it could not tell anyone

    await radio.async_simulate("T01", "online")
    assert _types(events) == [E.OFFLINE, E.ONLINE, E.UNLOCKED]
    assert radio.is_online("T01")


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (("T01", "explode", None), ValueError, "unknown simulate action 'explode'"),
        (("T01", "card_tap", None), ValueError, "card_tap needs a card number"),
        (("T01", "card_tap", "  "), ValueError, "card_tap needs a card number"),
        (("L01", "occupied", None), ValueError, "L01 has no occupancy sensor"),
        (("X99", "push_button", None), UnknownRoom, "X99"),
    ],
)
async def test_simulate_refuses_bad_requests(
    radio: SimulatedRadio,
    events: list[DeviceEvent],
    call: tuple[str, str, str | None],
    error: type[Exception],
    match: str,
) -> None:
    room, action, card = call
    with pytest.raises(error, match=match):
        await radio.async_simulate(room, action, card=card)
    assert events == []


def test_unknown_room_is_a_key_error() -> None:
    assert issubclass(UnknownRoom, KeyError)


async def test_latency_delays_frames_but_keeps_their_order() -> None:
    radio = SimulatedRadio([simulated_devices("T01")], latency=0.01)
    await radio.async_start()
    received: list[DeviceEvent] = []
    radio.subscribe(received.append)
    try:
        started = time.perf_counter()
        await radio.async_unlock("T01")
        assert time.perf_counter() - started >= 0.02  # there and back
        await radio.async_simulate("T01", "door_open")
        await radio.async_simulate("T01", "door_close")
    finally:
        await radio.async_stop()
    assert [event.type for event in received] == [
        E.UNLOCKED,
        E.DOOR_OPEN,
        E.DOOR_CLOSED,
        E.LOCKED,
    ]


async def test_rooms_added_after_start_join_the_network(radio: SimulatedRadio) -> None:
    new_room = simulated_devices("T03")
    radio.set_rooms([*ROOMS, new_room])
    async with asyncio.timeout(30):  # joined, interviewed, configured and read (a bound only)
        await asyncio.gather(*radio._tasks)
    assert radio.is_online("T03")
    assert radio.lock_state("T03") is LockState.LOCKED
    events: list[DeviceEvent] = []
    radio.subscribe(events.append)
    await radio.async_simulate("T03", "card_tap", card="C-D0001")
    assert events == [DeviceEvent(room_id="T03", type=E.CARD_TAP, card="C-D0001")]


def _live_timers(loop: asyncio.AbstractEventLoop) -> list[asyncio.TimerHandle]:
    # What Home Assistant's test plugin checks after every test.
    scheduled: list[asyncio.TimerHandle] = getattr(loop, "_scheduled", [])
    return [handle for handle in scheduled if not handle.cancelled()]


async def test_stop_leaves_no_task_or_timer() -> None:
    loop = asyncio.get_running_loop()
    tasks_before = asyncio.all_tasks()
    timers_before = set(_live_timers(loop))
    radio = SimulatedRadio([simulated_devices("T01"), simulated_devices("T02")], latency=0.05)
    await radio.async_start()
    await radio.async_simulate("T01", "card_tap", card="C-S0001")
    # Frames still in flight and a room still joining when the radio stops.
    radio.lock_model("T02").push_button()
    radio.set_rooms([simulated_devices("T01"), simulated_devices("T02"), simulated_devices("T03")])
    await asyncio.sleep(0)

    await radio.async_stop()

    assert asyncio.all_tasks() - tasks_before == set()
    assert set(_live_timers(loop)) - timers_before == set()
    assert radio.app is None
    await radio.async_stop()  # twice is harmless


async def test_devices_answer_what_they_do_not_support(radio: SimulatedRadio) -> None:
    assert radio.app is not None
    device = radio.app.devices[t.EUI64.convert(ROOMS[0].lock)]
    door_lock = device.endpoints[1].door_lock
    status = foundation.Status

    success, failure = await door_lock.read_attributes(["lock_type", "door_open_events"])
    assert success == {"lock_type": DoorLock.LockType.Dead_bolt}
    assert failure == {"door_open_events": status.UNSUPPORTED_ATTRIBUTE}
    written = await door_lock.write_attributes({"door_open_events": 3})
    records = getattr(written, "status_records", None) or written[0]  # zigpy 0.78 / 2.x
    assert [record.status for record in records] == [status.UNSUPPORTED_ATTRIBUTE]
    assert (await door_lock.toggle_door()).status == status.UNSUP_CLUSTER_COMMAND
    assert (await door_lock.discover_attributes(0, 10)).status == status.UNSUP_GENERAL_COMMAND
    assert (await device.zdo.Simple_Desc_req(device.nwk, 5))[0] == zdo_t.Status.NOT_ACTIVE
    assert (await device.zdo.Mgmt_Lqi_req(0))[0] == zdo_t.Status.NOT_SUPPORTED


async def test_an_unbound_lock_tells_nothing(
    radio: SimulatedRadio, events: list[DeviceEvent]
) -> None:
    assert radio.app is not None
    device = radio.app.devices[t.EUI64.convert(ROOMS[0].lock)]
    await device.endpoints[1].door_lock.unbind()

    await radio.async_simulate("T01", "card_tap", card="C-S0001")
    await radio.async_simulate("T01", "push_button")
    assert events == []


async def test_a_radio_that_is_not_started_refuses() -> None:
    radio = SimulatedRadio(ROOMS)
    with pytest.raises(RadioError, match="not started"):
        await radio.async_simulate("T01", "push_button")
    with pytest.raises(RadioError, match="not started"):
        await radio.async_inject_frame(ROOMS[0].lock, 1, DoorLock.cluster_id, b"\x18\x01\x0b")


async def test_a_start_that_times_out_cleans_up() -> None:
    radio = SimulatedRadio(ROOMS, latency=0.05, start_timeout=0.01)
    with pytest.raises(TimeoutError):
        await radio.async_start()
    assert radio.app is None


async def test_addresses_are_matched_whatever_their_case() -> None:
    devices = simulated_devices("U01")
    upper = RoomDevices(
        room_id="U01",
        lock=devices.lock.upper(),
        contact=(devices.contact or "").upper(),
        occupancy=(devices.occupancy or "").upper(),
    )
    radio = SimulatedRadio([upper])
    await radio.async_start()
    received: list[DeviceEvent] = []
    radio.subscribe(received.append)
    try:
        await radio.async_simulate("U01", "door_open")
        await radio.async_simulate("U01", "occupied")
    finally:
        await radio.async_stop()
    assert [event.type for event in received] == [E.DOOR_OPEN, E.FORCED_OPEN, E.OCCUPIED]
