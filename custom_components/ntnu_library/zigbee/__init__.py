"""Zigbee: radio modes, and the mapping from ZCL frames to room events and back.

`radio` is the contract the rest of the integration uses; `rooms` is the layer every radio
mode shares; `simulated` is a zigpy network with simulated devices; `compat` holds the
differences between zigpy versions.
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
