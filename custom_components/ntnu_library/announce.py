"""What a site tells once a change is decided and written: entities, the bus, the log.

- `notify`: the entities of a room (or of every room) and the public status panel show the
  state again;
- `emit`: room events go to the bus (`ntnu_library_event`, the patron masked, with the opaque
  `ref`), to the room's event entity, and refusals to the log.
"""

from __future__ import annotations

import logging

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.util import dt as dt_util

from .const import (
    EVENT_NAME,
    SIGNAL_PUBLIC_STATUS,
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
            data = {
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
