"""The simulated Zigbee network, for the demo and the tests: a virtual radio and its devices.

`sim_network` is the network (`SimulatedRadio`, zigpy with a virtual radio; `Air` carries its
frames); `sim_application` is zigpy's application on a simulated radio
(`SimulatedApplication`, `InterviewWaiter`), for any coordinator whose devices are simulated
ones; `sim_device` is what the device kinds share, and each kind has its module:
`sim_door_lock`, `sim_contact`, `sim_occupancy`. `sim_addresses` derives a room's device
addresses from its id.
"""

from __future__ import annotations

from .sim_addresses import SIMULATED_IEEE_PREFIX, simulated_devices
from .sim_application import InterviewWaiter, SimulatedApplication
from .sim_contact import SimulatedContact
from .sim_device import BatteryPack, SimulatedDevice
from .sim_door_lock import SimulatedLock
from .sim_network import BATTERY_LOW_PERCENT, Air, SimulatedRadio
from .sim_occupancy import SimulatedOccupancy

__all__ = [
    "BATTERY_LOW_PERCENT",
    "SIMULATED_IEEE_PREFIX",
    "Air",
    "BatteryPack",
    "InterviewWaiter",
    "SimulatedApplication",
    "SimulatedContact",
    "SimulatedDevice",
    "SimulatedLock",
    "SimulatedOccupancy",
    "SimulatedRadio",
    "simulated_devices",
]
