"""Identify and Power Configuration on the simulated devices, and the battery levels they report.

Every request below goes out through zigpy's own cluster objects and codec, and every answer
and report comes back through them, as with real locks and sensors.
"""

from __future__ import annotations

from typing import Any

import pytest
import zigpy.types as t
from zigpy.zcl import Cluster, foundation
from zigpy.zcl.clusters.general import Identify, PowerConfiguration

from custom_components.ntnu_library.zigbee.frames import battery_percent
from custom_components.ntnu_library.zigbee.owned import BATTERY_REPORTING
from custom_components.ntnu_library.zigbee.radio import DeviceEvent, DeviceEventType as E, Role
from custom_components.ntnu_library.zigbee.simulated import BATTERY_LOW_PERCENT, SimulatedRadio

from .conftest import ROOMS

STATUS = foundation.Status
POWER = PowerConfiguration.AttributeDefs
ROLES = [Role.LOCK, Role.CONTACT, Role.OCCUPANCY]


def _address(role: Role, room: int = 0) -> str:
    address = getattr(ROOMS[room], role.value)
    assert address is not None
    return str(address)


def _cluster(radio: SimulatedRadio, role: Role, cluster: type[Cluster]) -> Any:
    """The T01 device's zigpy cluster object, in `role`."""
    assert radio.app is not None
    device = radio.app.devices[t.EUI64.convert(_address(role))]
    return device.endpoints[1].in_clusters[cluster.cluster_id]


def _records(response: Any) -> list[Any]:
    return list(getattr(response, "status_records", None) or response[0])  # zigpy 0.78 / 2.x


def _reporting(answer: Any) -> list[tuple[Any, int | None]]:
    """(status, attribute id) of a configure_reporting answer, on either zigpy."""
    if isinstance(answer, dict):  # zigpy >= 2: {attribute: status}
        return [(status, attribute.id) for attribute, status in answer.items()]
    return [(record.status, record.attrid) for record in _records(answer)]


# -- Identify ------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
async def test_every_device_identifies_on_request(radio: SimulatedRadio, role: Role) -> None:
    identify = _cluster(radio, role, Identify)
    model = radio.device(_address(role))

    # Not identifying: the query gets a plain answer, the attribute reads 0.
    assert (await identify.identify_query()).status == STATUS.SUCCESS
    assert (await identify.read_attributes(["identify_time"]))[0] == {"identify_time": 0}

    assert (await identify.identify(30)).status == STATUS.SUCCESS
    assert 29 <= model.identify_time <= 30
    assert 29 <= (await identify.identify_query()).timeout <= 30
    success, _ = await identify.read_attributes(["identify_time"])
    assert 29 <= success["identify_time"] <= 30

    await identify.identify(0)  # stop
    assert model.identify_time == 0
    assert (await identify.identify_query()).status == STATUS.SUCCESS

    # identify_time is writable too (ZCL: writing it starts identifying).
    (record,) = _records(await identify.write_attributes({"identify_time": 10}))
    assert record.status == STATUS.SUCCESS
    assert 9 <= model.identify_time <= 10
    assert (await identify.trigger_effect(0, 0)).status == STATUS.UNSUP_CLUSTER_COMMAND


# -- Power Configuration --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "size", "quantity", "volts"),
    [
        (Role.LOCK, PowerConfiguration.BatterySize.AA, 4, 62),
        (Role.CONTACT, PowerConfiguration.BatterySize.Other, 1, 30),
        (Role.OCCUPANCY, PowerConfiguration.BatterySize.AAA, 2, 31),
    ],
)
async def test_every_device_tells_its_battery(
    radio: SimulatedRadio, role: Role, size: int, quantity: int, volts: int
) -> None:
    power = _cluster(radio, role, PowerConfiguration)
    names = ["battery_percentage_remaining", "battery_voltage", "battery_size", "mains_voltage"]
    success, failure = await power.read_attributes([*names, "battery_quantity"])
    assert success == {
        "battery_percentage_remaining": 200,  # half-percent: full
        "battery_voltage": volts,  # 100 mV
        "battery_size": size,
        "battery_quantity": quantity,
    }
    assert failure == {"mains_voltage": STATUS.UNSUPPORTED_ATTRIBUTE}  # not mains powered

    radio.device(_address(role)).set_battery(25)
    success, _ = await power.read_attributes(names[:2])
    assert success["battery_percentage_remaining"] == 50
    assert volts * 0.7 < success["battery_voltage"] < volts


async def test_battery_reporting_is_configured_and_answered(radio: SimulatedRadio) -> None:
    # The owned network configured every device when it joined.
    for role in ROLES:
        device = radio.device(_address(role))
        assert PowerConfiguration.cluster_id in device.bound
        key = (PowerConfiguration.cluster_id, POWER.battery_percentage_remaining.id)
        assert device.reporting[key] == BATTERY_REPORTING
    assert BATTERY_REPORTING[1] == 6 * 3600  # at least every six hours

    power = _cluster(radio, Role.CONTACT, PowerConfiguration)
    answer = await power.configure_reporting("battery_voltage", 60, 3600, 2)
    assert [status for status, _ in _reporting(answer)] == [STATUS.SUCCESS]
    contact = radio.device(_address(Role.CONTACT))
    assert contact.reporting[(PowerConfiguration.cluster_id, POWER.battery_voltage.id)] == (
        60,
        3600,
        2,
    )
    answer = await power.configure_reporting("mains_voltage", 60, 3600, 1)
    assert _reporting(answer) == [(STATUS.UNSUPPORTED_ATTRIBUTE, POWER.mains_voltage.id)]


# -- battery levels in the room layer -------------------------------------------------------


async def test_levels_are_known_from_the_start(radio: SimulatedRadio) -> None:
    for room in ROOMS[:2]:
        for role in ROLES:
            assert radio.battery(room.room_id, role) == 100
    assert radio.battery("L01", Role.LOCK) == 100
    assert radio.battery("L01", Role.CONTACT) is None  # the room has no contact
    assert radio.battery("X99", Role.LOCK) is None


async def test_a_falling_battery_is_reported_per_device(
    radio: SimulatedRadio, events: list[DeviceEvent]
) -> None:
    contact = radio.device(_address(Role.CONTACT))
    contact.set_battery(40)
    await radio._async_settle()
    assert events == [DeviceEvent(room_id="T01", type=E.BATTERY, role=Role.CONTACT, battery=40)]
    assert radio.battery("T01", Role.CONTACT) == 40
    assert radio.battery("T01", Role.LOCK) == 100  # the other devices of the room did not move
    assert radio.battery("T02", Role.CONTACT) == 100

    # Less than the configured change (2 %): the device keeps it to itself.
    contact.set_battery(39.5)
    await radio._async_settle()
    assert len(events) == 1 and radio.battery("T01", Role.CONTACT) == 40
    contact.set_battery(38)
    await radio._async_settle()
    assert events[-1] == DeviceEvent(room_id="T01", type=E.BATTERY, role=Role.CONTACT, battery=38)

    # 19.5 % is below a 20 % threshold: levels are rounded down.
    radio.device(_address(Role.OCCUPANCY, room=1)).set_battery(19.5)
    await radio._async_settle()
    assert events[-1] == DeviceEvent(room_id="T02", type=E.BATTERY, role=Role.OCCUPANCY, battery=19)


async def test_battery_low_action_drains_the_lock(
    radio: SimulatedRadio, events: list[DeviceEvent]
) -> None:
    await radio.async_simulate("L01", "battery_low")
    assert events == [
        DeviceEvent(room_id="L01", type=E.BATTERY, role=Role.LOCK, battery=BATTERY_LOW_PERCENT)
    ]
    assert radio.battery("L01", Role.LOCK) == BATTERY_LOW_PERCENT


@pytest.mark.parametrize(
    ("raw", "percent"), [(200, 100), (39, 19), (0, 0), (0xFF, None), (201, None), ("x", None)]
)
def test_battery_percent_decoding(raw: Any, percent: int | None) -> None:
    assert battery_percent(raw) == percent


async def test_an_unknown_level_changes_nothing(
    radio: SimulatedRadio, events: list[DeviceEvent]
) -> None:
    """0xFF is ZCL's "invalid or unknown": the last known level stands."""
    # Report_Attributes, server to client: battery_percentage_remaining (uint8) = 0xFF.
    header = foundation.ZCLHeader.general(
        1,
        foundation.GeneralCommand.Report_Attributes,
        direction=foundation.Direction.Server_to_Client,
    )
    payload = header.serialize() + bytes([0x21, 0x00, 0x20, 0xFF])
    await radio.async_inject_frame(_address(Role.LOCK), 1, PowerConfiguration.cluster_id, payload)
    assert events == []
    assert radio.battery("T01", Role.LOCK) == 100

    await radio.async_inject_frame(
        _address(Role.LOCK), 1, PowerConfiguration.cluster_id, payload[:-1] + bytes([60])
    )
    assert events == [DeviceEvent(room_id="T01", type=E.BATTERY, role=Role.LOCK, battery=30)]
