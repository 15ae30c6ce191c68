"""What a site tells once a change is decided and written: entities, the bus, the log.

- `notify`: the entities of a room (or of every room) and the public status panel show the
  state again;
- `emit`: room events go to the bus (`ntnu_library_event`, the patron masked, with the opaque
  `ref`), to the room's event entity, and refusals to the log. The bus event names the room's
  device and door-activity entity too, so the logbook shows it with the room (logbook.py
  puts it in words).
"""

from __future__ import annotations

import logging

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import ATTR_DEVICE_ID, ATTR_ENTITY_ID, Platform
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.util import dt as dt_util

from .const import (
    DOMAIN,
    EVENT_NAME,
    SIGNAL_PUBLIC_STATUS,
    room_key,
    signal_room_event,
    signal_room_update,
    signal_site_update,
)
from .core.errors import Refused
from .core.identity import mask_patron_id
from .core.model import EventType, RoomEvent, Source

_LOGGER = logging.getLogger(__package__)


class Announcer:
    """One site's voice."""

    def __init__(self, hass: HomeAssistant, entry: ConfigEntry) -> None:
        self._hass = hass
        self._site = entry.title
        self._entry_id = entry.entry_id
        self._site_update = signal_site_update(entry.entry_id)

    @callback
    def notify(self, room_id: str | None) -> None:
        """Entities of `room_id` (None: of every room) show the state again, and the site's."""
        hass = self._hass
        async_dispatcher_send(hass, signal_room_update(self._entry_id, room_id), room_id)
        async_dispatcher_send(hass, self._site_update, room_id)
        async_dispatcher_send(hass, SIGNAL_PUBLIC_STATUS)

    @callback
    def emit(self, events: list[RoomEvent]) -> None:
        """To the bus, the event entities and the log."""
        for event in events:
            data: dict[str, str | int | None] = {
                "site": self._site,
                "room": event.room_id,
                "type": event.type.value,
                "source": event.source.value,
                "patron": mask_patron_id(event.patron_id),
            }
            if event.reason:
                data["reason"] = event.reason
            if event.ref:
                data["ref"] = event.ref
            if event.minutes is not None:
                data["minutes"] = event.minutes
            if event.source is Source.LOCK:  # decided by the lock itself, at its own time
                data["at"] = event.at.isoformat()
            data |= self._room_ids(event.room_id)
            self._hass.bus.async_fire(EVENT_NAME, data)
            async_dispatcher_send(
                self._hass, signal_room_event(self._entry_id, event.room_id), event
            )
            if event.type is EventType.REFUSED:
                _LOGGER.info(
                    "Refused at room %s (%s, %s) for %s",
                    event.room_id,
                    event.source.value,
                    event.reason,
                    mask_patron_id(event.patron_id),
                )

    def _room_ids(self, room_id: str) -> dict[str, str]:
        """The room's door-activity entity and its device: how the logbook finds a room's events.

        Both read from the entity registry (the device registry's look-up by identifier is
        not the same in every Home Assistant release).
        """
        unique_id = f"{room_key(self._entry_id, room_id)}_door_activity"
        registry = er.async_get(self._hass)
        if (entity_id := registry.async_get_entity_id(Platform.EVENT, DOMAIN, unique_id)) is None:
            return {}
        ids = {ATTR_ENTITY_ID: entity_id}
        if (entity := registry.async_get(entity_id)) is not None and entity.device_id:
            ids[ATTR_DEVICE_ID] = entity.device_id
        return ids

    @callback
    def refusal(
        self,
        room_id: str,
        patron_id: str | None,
        refusal: Refused,
        *,
        source: Source = Source.QR,
    ) -> None:
        """A request at a room refused before any decision (a failed login, a system down)."""
        self.emit(
            [
                RoomEvent(
                    room_id=room_id,
                    type=EventType.REFUSED,
                    source=source,
                    at=dt_util.now(),
                    patron_id=patron_id,
                    reason=refusal.reason.value,
                )
            ]
        )
