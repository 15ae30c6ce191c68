"""A started simulated network: two full rooms and one room with only a lock."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import pytest

from custom_components.ntnu_library.zigbee.radio import DeviceEvent, RoomDevices
from custom_components.ntnu_library.zigbee.simulated import SimulatedRadio, simulated_devices

ROOMS = [
    simulated_devices("T01"),
    simulated_devices("T02"),
    RoomDevices(room_id="L01", lock=simulated_devices("L01").lock),
]


@pytest.fixture
async def radio() -> AsyncGenerator[SimulatedRadio]:
    """A started radio with short timeouts, stopped after the test."""
    radio = SimulatedRadio(ROOMS, command_timeout=0.5, check_timeout=0.3)
    await radio.async_start()
    yield radio
    await radio.async_stop()


@pytest.fixture
def events(radio: SimulatedRadio) -> list[DeviceEvent]:
    """Every event the radio emits from now on."""
    received: list[DeviceEvent] = []
    radio.subscribe(received.append)
    return received
