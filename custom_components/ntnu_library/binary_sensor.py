"""Door contact and occupancy of each room, and whether its lock still owes a lock command."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from homeassistant.components.binary_sensor import (
    BinarySensorDeviceClass,
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from . import NtnuLibraryConfigEntry
from .const import CONF_CONTACT_IEEE, CONF_OCCUPANCY_IEEE
from .core.model import Room
from .entity import RoomEntity, room_subentry_pairs
from .site import Site

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class RoomBinarySensorDescription(BinarySensorEntityDescription):
    """A room sensor and the device that must be bound for it."""

    device_key: str | None  # None: every room has it
    is_on_fn: Callable[[Site, str], bool | None]
    always_available: bool = False


DESCRIPTIONS: tuple[RoomBinarySensorDescription, ...] = (
    RoomBinarySensorDescription(
        key="door",
        translation_key="door_open",
        device_class=BinarySensorDeviceClass.DOOR,
        device_key=CONF_CONTACT_IEEE,
        is_on_fn=lambda runtime, room_id: runtime.radio.door_open(room_id),
    ),
    RoomBinarySensorDescription(
        key="occupancy",
        translation_key="occupancy",
        device_class=BinarySensorDeviceClass.OCCUPANCY,
        device_key=CONF_OCCUPANCY_IEEE,
        is_on_fn=lambda runtime, room_id: runtime.radio.occupied(room_id),
    ),
    RoomBinarySensorDescription(
        key="lock_pending",
        translation_key="lock_pending",
        device_class=BinarySensorDeviceClass.PROBLEM,
        entity_category=EntityCategory.DIAGNOSTIC,
        device_key=None,
        is_on_fn=lambda runtime, room_id: room_id in runtime.doors.owed,
        # Staff must see it most while the lock is away.
        always_available=True,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: NtnuLibraryConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """A door and an occupancy sensor for every room that has the device."""
    runtime = entry.runtime_data
    for room, subentry_id in room_subentry_pairs(runtime, entry):
        data = entry.subentries[subentry_id].data
        async_add_entities(
            [
                RoomBinarySensor(runtime, room, description)
                for description in DESCRIPTIONS
                if description.device_key is None or data.get(description.device_key)
            ],
            config_subentry_id=subentry_id,
        )


class RoomBinarySensor(RoomEntity, BinarySensorEntity):
    """A room's door contact or occupancy sensor."""

    entity_description: RoomBinarySensorDescription

    def __init__(self, runtime: Site, room: Room, description: RoomBinarySensorDescription) -> None:
        super().__init__(runtime, description.key, room)
        self.entity_description = description

    @property
    def available(self) -> bool:
        """Follow the lock, unless the sensor is about the lock being away."""
        return self.entity_description.always_available or super().available

    @property
    def is_on(self) -> bool | None:
        """Open / occupied / waiting for its lock."""
        return self.entity_description.is_on_fn(self.runtime, self.room.room_id)
