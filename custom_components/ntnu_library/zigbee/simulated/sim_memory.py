"""What a simulated device keeps in its own memory while its coordinator restarts.

A real device keeps its bindings, its reporting configuration and its attributes (the IAS
zone's enrollment, the lock's bolt and settings) in flash; the coordinator restarting does not
reset it. `remember_device` gives that memory as JSON-ready data, `recall_device` puts it back into a device
model made afresh, so the simulated network restarts as a real one does: the devices known,
nothing to configure again. Device models reach them as `remember` and `recall`, which a
kind extends with what only it keeps (a lock's user table).
"""

from __future__ import annotations

from typing import Any

import zigpy.types as t

# The device is a `sim_device.SimulatedDevice` (not imported: that module uses this one).
type SimulatedDevice = Any


def remember_device(device: SimulatedDevice) -> dict[str, Any]:
    """The device's non-volatile memory: bindings, reporting, attribute values (JSON-ready)."""
    attributes: dict[str, dict[str, Any]] = {}
    for cid, values in device.attributes.items():
        kept: dict[str, Any] = {}
        for attrid, value in values.items():
            if isinstance(value, t.EUI64):
                kept[str(attrid)] = {"eui64": str(value)}
            elif isinstance(value, bool | int | float | str):
                kept[str(attrid)] = value
        attributes[str(cid)] = kept
    return {
        "nwk": int(device.nwk),
        "bound": sorted(device.bound),
        "reporting": [[cid, attrid, *config] for (cid, attrid), config in device.reporting.items()],
        "attributes": attributes,
    }


def recall_device(device: SimulatedDevice, memory: dict[str, Any]) -> None:
    """Put back what `remember_device` gave (values keep the types the model's defaults have)."""
    device.bound = {int(cid) for cid in memory.get("bound", ())}
    for cid_text, values in (memory.get("attributes") or {}).items():
        if (current := device.attributes.get(int(cid_text))) is None:
            continue
        for attrid_text, value in values.items():
            attrid = int(attrid_text)
            if isinstance(value, dict) and "eui64" in value:
                current[attrid] = t.EUI64.convert(value["eui64"])
            elif attrid in current and isinstance(current[attrid], int | float | str):
                current[attrid] = type(current[attrid])(value)
            else:
                current[attrid] = value
    for cid, attrid, *config in memory.get("reporting", ()):
        key = (int(cid), int(attrid))
        device.reporting[key] = (int(config[0]), int(config[1]), int(config[2]))
        device.note_reported(key)  # changes count from the value it had
