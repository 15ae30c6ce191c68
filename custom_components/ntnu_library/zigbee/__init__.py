"""Zigbee: radio modes, and the mapping from ZCL frames to room events and back.

`radio` is the contract the rest of the integration uses; `frames` decodes what the rooms'
devices say; `layer` (with `states`) is what every radio mode shares; `owned` configures the
devices of a network the integration owns; the modes are `bellows` (an EZSP coordinator of
our own), `zha` (ZHA's network) and the subpackage `simulated` (a simulated network and its
device models); `compat` holds the differences between zigpy versions. Nothing here imports
from the rest of the integration.
"""

from __future__ import annotations

from .radio import (
    DeviceEvent,
    DeviceEventType,
    LockCommandFailed,
    LockOffline,
    LockState,
    RadioError,
    RoomDevices,
    RoomRadio,
    UnknownRoom,
)

__all__ = [
    "DeviceEvent",
    "DeviceEventType",
    "LockCommandFailed",
    "LockOffline",
    "LockState",
    "RadioError",
    "RoomDevices",
    "RoomRadio",
    "UnknownRoom",
]
