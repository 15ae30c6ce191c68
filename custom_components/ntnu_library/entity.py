"""The base entity: one device per room (and one per site), pushed by the dispatcher."""

from __future__ import annotations

import functools
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import callback
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity import Entity

from .const import CONF_ROOM_ID, DOMAIN, room_key, signal_room_update, signal_site_update
from .core.model import Room, RoomKind
from .site import Site
from .subentries import room_subentries

MANUFACTURER = "NTNU Library"


def site_device_info(runtime: Site) -> DeviceInfo:
    """The site (library building) device, named in Home Assistant's language."""
    return DeviceInfo(
        identifiers={(DOMAIN, runtime.entry_id)},
        name=runtime.name_in(runtime.hass.config.language),
        manufacturer=MANUFACTURER,
        model="Self-service site",
    )


def room_device_info(runtime: Site, room: Room) -> DeviceInfo:
    """A study room device: its lock, sensors and e-label (one object a room, read only)."""
    return _room_device_info(runtime.entry_id, room.room_id, room.kind)


@functools.lru_cache(maxsize=4096)
def _room_device_info(entry_id: str, room_id: str, kind: RoomKind) -> DeviceInfo:
    # Every entity of a room gets this same object: a dozen entities a room, a thousand rooms.
    model = "Temporary study room" if kind is RoomKind.TEMPORARY else "Long-term study room"
    return DeviceInfo(
        identifiers={(DOMAIN, room_key(entry_id, room_id))},
        name=room_id,
        manufacturer=MANUFACTURER,
        model=model,
    )


class NtnuLibraryEntity(Entity):
    """Shared behaviour: names from translations, push updates, no polling."""

    _attr_has_entity_name = True
    _attr_should_poll = False
    _shown: tuple[Any, ...] | None = None  # what the last room update wrote

    def __init__(self, runtime: Site, key: str, room: Room | None = None) -> None:
        self.runtime = runtime
        self.room = room
        if room is None:
            self._attr_unique_id = f"{runtime.entry_id}_{key}"
            self._attr_device_info = site_device_info(runtime)
        else:
            self._attr_unique_id = f"{room_key(runtime.entry_id, room.room_id)}_{key}"
            self._attr_device_info = room_device_info(runtime, room)

    async def async_added_to_hass(self) -> None:
        """Follow the room's updates (and those of every room); a site entity, the site's."""
        await super().async_added_to_hass()
        entry_id = self.runtime.entry_id
        if self.room is None:
            signals = [signal_site_update(entry_id)]
        else:
            signals = [signal_room_update(entry_id, self.room.room_id)]
            signals.append(signal_room_update(entry_id, None))
        for signal in signals:
            self.async_on_remove(
                async_dispatcher_connect(self.hass, signal, self._handle_room_update)
            )

    @callback
    def _handle_room_update(self, room_id: str | None) -> None:
        """Show the state again if what it shows changed (the room, or some room, changed).

        A room's update reaches all of its entities, and most show something else of the
        room: what this one shows (availability, state, attributes) is compared with what it
        last wrote, which costs a fraction of Home Assistant's own state write.
        """
        shown = (True, self.state, self.extra_state_attributes) if self.available else (False,)
        if shown == self._shown:
            return
        self._shown = shown
        self.async_write_ha_state()


class RoomEntity(NtnuLibraryEntity):
    """An entity of one room; unavailable while the room's lock does not answer.

    The runtime logs the lock going and coming back once; entities only follow it.
    """

    room: Room

    def __init__(self, runtime: Site, key: str, room: Room) -> None:
        super().__init__(runtime, key, room)

    @property
    def available(self) -> bool:
        """Follow the lock's radio link."""
        return self.runtime.radio.is_online(self.room.room_id)


def room_subentry_pairs(runtime: Site, entry: ConfigEntry) -> list[tuple[Room, str]]:
    """Each room of the site with the subentry its device belongs to."""
    return [
        (runtime.rooms.rooms[s.data[CONF_ROOM_ID]], s.subentry_id)
        for s in room_subentries(entry)
        if s.data[CONF_ROOM_ID] in runtime.rooms.rooms
    ]
