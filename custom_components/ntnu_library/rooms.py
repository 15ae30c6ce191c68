"""Rooms are config subentries; this reads them into the domain's and the radio's terms."""

from __future__ import annotations

from homeassistant.config_entries import ConfigEntry, ConfigSubentry

from .const import (
    CONF_CONTACT_IEEE,
    CONF_FLOOR,
    CONF_KIND,
    CONF_LOCK_IEEE,
    CONF_NAME,
    CONF_OCCUPANCY_IEEE,
    CONF_ROOM_ID,
    SUBENTRY_ROOM,
)
from .core.model import Room, RoomKind
from .zigbee.radio import RoomDevices


def room_subentries(entry: ConfigEntry) -> list[ConfigSubentry]:
    """The entry's room subentries, in room-id order."""
    subentries = [s for s in entry.subentries.values() if s.subentry_type == SUBENTRY_ROOM]
    return sorted(subentries, key=lambda s: str(s.data[CONF_ROOM_ID]))


def room_of(subentry: ConfigSubentry) -> Room:
    """The domain room a subentry describes."""
    data = subentry.data
    return Room(
        room_id=data[CONF_ROOM_ID],
        name=data.get(CONF_NAME) or data[CONF_ROOM_ID],
        kind=RoomKind(data[CONF_KIND]),
        floor=data.get(CONF_FLOOR, ""),
    )


def rooms_of_entry(entry: ConfigEntry) -> list[Room]:
    """Every room of a site."""
    return [room_of(s) for s in room_subentries(entry)]


def room_devices(entry: ConfigEntry) -> list[RoomDevices]:
    """The Zigbee devices bound to each room."""
    return [
        RoomDevices(
            room_id=s.data[CONF_ROOM_ID],
            lock=s.data[CONF_LOCK_IEEE],
            contact=s.data.get(CONF_CONTACT_IEEE),
            occupancy=s.data.get(CONF_OCCUPANCY_IEEE),
        )
        for s in room_subentries(entry)
    ]


def room_subentry_data(room: Room, devices: RoomDevices) -> dict[str, str]:
    """What a room subentry stores."""
    data = {
        CONF_ROOM_ID: room.room_id,
        CONF_NAME: room.name,
        CONF_KIND: room.kind.value,
        CONF_FLOOR: room.floor,
        CONF_LOCK_IEEE: devices.lock,
    }
    if devices.contact:
        data[CONF_CONTACT_IEEE] = devices.contact
    if devices.occupancy:
        data[CONF_OCCUPANCY_IEEE] = devices.occupancy
    return data
