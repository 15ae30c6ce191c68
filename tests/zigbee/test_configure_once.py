"""Devices are configured once: a restart reads their state and configures nothing again.

The simulated devices keep their bindings, reporting and state across a restart of the
network (as real ones keep them in flash); the network's owner keeps, per device, the
settings it was configured with. What the devices receive is counted at the device models.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from zigpy.zcl import foundation
from zigpy.zcl.clusters.closures import DoorLock
import zigpy.zdo.types as zdo_t

from custom_components.ntnu_library.const import DOMAIN
from custom_components.ntnu_library.zigbee.owned import CONFIGURE_IN_FLIGHT
from custom_components.ntnu_library.zigbee.radio import DeviceEvent, DeviceEventType as E
from custom_components.ntnu_library.zigbee.simulated import SimulatedRadio, simulated_devices
from custom_components.ntnu_library.zigbee.simulated.sim_device import SimulatedDevice

from .conftest import ROOMS

_GENERAL = foundation.GeneralCommand


@pytest.fixture
def received(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """What the device models receive, by kind: zdo:<command>, zcl:<general command>."""
    seen: Counter[str] = Counter()
    zdo = SimulatedDevice._receive_zdo
    general = SimulatedDevice._general

    def on_zdo(self: SimulatedDevice, command_id: int, data: bytes) -> None:
        seen[f"zdo:{zdo_t.ZDOCmd(command_id).name}"] += 1
        zdo(self, command_id, data)

    def on_general(self: SimulatedDevice, cluster: Any, hdr: Any, args: Any) -> None:
        seen[f"zcl:{_GENERAL(hdr.command_id).name}"] += 1
        general(self, cluster, hdr, args)

    monkeypatch.setattr(SimulatedDevice, "_receive_zdo", on_zdo)
    monkeypatch.setattr(SimulatedDevice, "_general", on_general)
    return seen


def _radio(
    configured: dict[str, str], memory: dict[str, Any], *, relock: int = 0
) -> SimulatedRadio:
    return SimulatedRadio(
        ROOMS,
        command_timeout=0.5,
        check_timeout=0.3,
        configured=configured,
        device_memory=memory,
        auto_relock_seconds=relock,
    )


async def test_a_restart_reads_state_and_configures_nothing(received: Counter[str]) -> None:
    configured: dict[str, str] = {}
    memory: dict[str, Any] = {}
    first = _radio(configured, memory)
    await first.async_start()
    assert received["zdo:Node_Desc_req"] == 7  # every device was interviewed
    assert received["zdo:Bind_req"] > 0
    assert received["zcl:Configure_Reporting"] > 0
    assert len(configured) == 7
    await first.async_unlock("T01")  # the bolt is open when Home Assistant stops
    await first.async_stop()
    assert set(memory) == set(configured)

    received.clear()
    again = _radio(configured, memory)
    events: list[DeviceEvent] = []
    again.subscribe(events.append)
    await again.async_start()
    try:
        assert received["zdo:Node_Desc_req"] == 0  # known devices: no interview
        assert received["zdo:Bind_req"] == 0
        assert received["zcl:Configure_Reporting"] == 0
        assert received["zcl:Write_Attributes"] == 0
        assert received["zcl:Read_Attributes"] > 0  # their state is read
        assert again.lock_state("T01").name == "UNLOCKED"  # the lock kept its bolt
        assert again.is_online("L01")
        # The bindings the lock kept: it still reports without being configured again.
        again.lock_model("T02").push_button()
        await again._async_settle()
        assert E.PUSH_EXIT in [event.type for event in events if event.room_id == "T02"]
        again.device(simulated_devices("T02").occupancy).set_occupied(True)
        await again._async_settle()
        assert again.occupied("T02") is True
    finally:
        await again.async_stop()


async def test_new_settings_configure_the_devices_again(received: Counter[str]) -> None:
    configured: dict[str, str] = {}
    memory: dict[str, Any] = {}
    first = _radio(configured, memory)
    await first.async_start()
    await first.async_stop()

    received.clear()
    again = _radio(configured, memory, relock=30)  # a new auto-relock time for the locks
    await again.async_start()
    try:
        assert received["zdo:Node_Desc_req"] == 0
        assert received["zcl:Write_Attributes"] == 3  # each of the three locks, nothing else
        lock = again.lock_model("T01")
        relock = lock.attributes[DoorLock.cluster_id][DoorLock.AttributeDefs.auto_relock_time.id]
        assert relock == 30
    finally:
        await again.async_stop()


async def test_a_device_that_forgot_everything_joins_and_is_configured(
    received: Counter[str],
) -> None:
    """A record without the device's memory (a reset device): it joins and is configured."""
    configured: dict[str, str] = {}
    memory: dict[str, Any] = {}
    first = _radio(configured, memory)
    await first.async_start()
    await first.async_stop()
    contact = simulated_devices("T01").contact
    assert contact is not None
    del memory[contact]  # reset: it kept nothing

    received.clear()
    again = _radio(configured, memory)
    events: list[DeviceEvent] = []
    again.subscribe(events.append)
    await again.async_start()
    try:
        assert received["zdo:Node_Desc_req"] == 1  # only the reset contact is interviewed
        # Its room is configured afresh: three devices, each its own cluster and its battery.
        assert received["zdo:Bind_req"] == 6
        again.device(contact).set_open(True)  # enrolled again: it speaks
        await again._async_settle()
        assert E.DOOR_OPEN in [event.type for event in events if event.room_id == "T01"]
    finally:
        await again.async_stop()


async def test_configuration_keeps_a_bound_on_devices_in_flight(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """However many rooms, at most CONFIGURE_IN_FLIGHT devices are configured at once."""
    rooms = [simulated_devices(f"R{n:03d}") for n in range(1, 41)]
    radio = SimulatedRadio(rooms, command_timeout=5, check_timeout=5)
    busy = 0
    most = 0
    configure = SimulatedRadio._async_configure_device

    async def counting(self: SimulatedRadio, *args: Any) -> bool:
        nonlocal busy, most
        busy += 1
        most = max(most, busy)
        try:
            return await configure(self, *args)
        finally:
            busy -= 1

    monkeypatch.setattr(SimulatedRadio, "_async_configure_device", counting)
    await radio.async_start()
    try:
        assert most == CONFIGURE_IN_FLIGHT
        assert len(radio.configured) == 3 * len(rooms)
        assert all(radio.is_online(room.room_id) for room in rooms)
    finally:
        await radio.async_stop()


async def test_a_reloaded_site_configures_nothing_again(
    received: Counter[str],
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    """Through Home Assistant: what each device was configured with survives in the radio's Store."""
    entry = init_integration
    await hass.async_block_till_done(wait_background_tasks=True)
    assert received["zdo:Bind_req"] > 0 and received["zcl:Configure_Reporting"] > 0

    received.clear()
    await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    stored = hass_storage[f"{DOMAIN}.{entry.entry_id}.radio"]["data"]["configured"]
    rooms = entry.runtime_data.rooms.rooms
    assert len(stored) == 3 * len(rooms)  # a lock, a contact and an occupancy sensor each
    assert received["zdo:Node_Desc_req"] == 0
    assert received["zdo:Bind_req"] == 0
    assert received["zcl:Configure_Reporting"] == 0
    assert received["zcl:Read_Attributes"] > 0
