"""Diagnostics: what staff send with a bug report, with every secret and personal datum masked."""

from __future__ import annotations

import time
from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.core import HomeAssistant

from . import NtnuLibraryConfigEntry
from .core.identity import mask_patron_id

TO_REDACT = {"password", "password_hash", "login_password", "login_user"}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: NtnuLibraryConfigEntry
) -> dict[str, Any]:
    """The site's configuration, rooms and counts; patrons only as masked IDs."""
    runtime = entry.runtime_data
    radio = runtime.radio
    rooms = {
        room_id: {
            "kind": room.kind.value,
            "status": runtime.status(room_id).value,
            "holder": runtime.masked_holder(room_id),
            "lock_online": radio.is_online(room_id),
            "lock_state": radio.lock_state(room_id).value,
            "door_open": radio.door_open(room_id),
            "occupied": radio.occupied(room_id),
            "jammed": room_id in runtime.doors.jammed,
            "lock_pending": room_id in runtime.doors.owed,
            # The holder's card in the lock's user table: its mode and counts, never a number.
            "slot_mode": runtime.slots.mode(room_id).value,
            "slots_in_use": runtime.slots.in_use(room_id),
            "slot_changes_pending": runtime.slots.pending(room_id),
        }
        for room_id, room in sorted(runtime.rooms.rooms.items())
    }
    return {
        "entry": {
            "title": entry.title,
            "data": async_redact_data(dict(entry.data), TO_REDACT),
            "options": dict(entry.options),
        },
        "rooms": rooms,
        "reservations": [
            {"room": room, "month": month, "patron": mask_patron_id(pid)}
            for room, month, pid in runtime.rooms.reservations()
        ],
        # Staff's free-text reasons stay out: any logged-in user can download this.
        "freezes": {
            mask_patron_id(pid): {"until": f.until.isoformat()}
            for pid, f in sorted(runtime.rooms.patrons.freezes.items())
        },
        "patrons": {
            "system": runtime.patrons.kind,
            **(
                {"count": runtime.patrons.directory.count()}
                if runtime.patrons.directory is not None
                else {}
            ),
        },
        # Circulation: counts only, never a patron or a barcode.
        "circulation": {
            "loans": len(runtime.library.circulation.loans),
            "catalogue_items": len(runtime.library.circulation.catalogue),
            "kiosks": {kiosk: runtime.desk.kiosk_status(kiosk) for kiosk in runtime.desk.kiosks},
            "return_boxes": {
                box: {
                    "waiting": status["waiting"],
                    "set_aside": status["flagged"],
                }
                for box in runtime.desk.boxes
                if (status := runtime.desk.box_status(box))
            },
        },
        "patron_system_breaker": runtime.gate.breaker.state(time.monotonic()).value,
        "patron_system_down": runtime.gate.down,
        # The library's sites in this Home Assistant (patron-level state is shared by them).
        "library_sites": len(runtime.library.buildings),
    }
