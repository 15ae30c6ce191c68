"""Door activity of each room as an event entity."""

from __future__ import annotations

from homeassistant.components.event import EventEntity
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from . import NtnuLibraryConfigEntry
from .const import signal_room_event
from .core.identity import mask_patron_id
from .core.model import EventType, Room, RoomEvent, Source
from .entity import RoomEntity, room_subentry_pairs
from .site import Site

PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant,
    entry: NtnuLibraryConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """One door-activity entity per room."""
    runtime = entry.runtime_data
    for room, subentry_id in room_subentry_pairs(runtime, entry):
        async_add_entities([DoorActivity(runtime, room)], config_subentry_id=subentry_id)


class DoorActivity(RoomEntity, EventEntity):
    """Card taps, QR opens, PUSH exits, forced doors, borrows, returns and refusals."""

    _attr_translation_key = "door_activity"
    _attr_event_types = [t.value for t in EventType]

    def __init__(self, runtime: Site, room: Room) -> None:
        super().__init__(runtime, "door_activity", room)

    @property
    def available(self) -> bool:
        """The log stays readable while the lock is away (its refusals belong in it)."""
        return True

    async def async_added_to_hass(self) -> None:
        """Follow the site's room events."""
        await super().async_added_to_hass()
        self.async_on_remove(
            async_dispatcher_connect(
                self.hass,
                signal_room_event(self.runtime.entry_id, self.room.room_id),
                self._handle_event,
            )
        )

    @callback
    def _handle_event(self, event: RoomEvent) -> None:
        attributes: dict[str, str | int] = {"source": event.source.value}
        if patron := mask_patron_id(event.patron_id):
            attributes["patron"] = patron
        if event.reason:
            attributes["reason"] = event.reason
        if event.minutes is not None:
            attributes["minutes"] = event.minutes
        if event.source is Source.LOCK:  # decided by the lock itself, at its own time
            attributes["at"] = event.at.isoformat()
        self._trigger_event(event.type.value, attributes)
        self.async_write_ha_state()
