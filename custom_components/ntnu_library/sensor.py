"""Room status, holder and in-use-since; the site's counts of idle and in-use rooms."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from . import NtnuLibraryConfigEntry
from .core.model import Room, RoomStatus
from .entity import NtnuLibraryEntity, RoomEntity, room_subentry_pairs
from .site import SiteRuntime

PARALLEL_UPDATES = 0

# "unavailable" is shown by the entity going unavailable with its lock.
STATUS_OPTIONS = [s.value for s in RoomStatus if s is not RoomStatus.UNAVAILABLE]


@dataclass(frozen=True, kw_only=True)
class RoomSensorDescription(SensorEntityDescription):
    """A room sensor and how to read it."""

    value_fn: Callable[[SiteRuntime, str], str | datetime | None]


@dataclass(frozen=True, kw_only=True)
class SiteSensorDescription(SensorEntityDescription):
    """A site sensor and how to read it."""

    value_fn: Callable[[SiteRuntime], int]


ROOM_SENSORS: tuple[RoomSensorDescription, ...] = (
    RoomSensorDescription(
        key="status",
        translation_key="status",
        device_class=SensorDeviceClass.ENUM,
        options=STATUS_OPTIONS,
        value_fn=lambda runtime, room_id: runtime.status(room_id).value,
    ),
    RoomSensorDescription(
        key="holder",
        translation_key="holder",
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda runtime, room_id: runtime.masked_holder(room_id),
    ),
    RoomSensorDescription(
        key="in_use_since",
        translation_key="in_use_since",
        device_class=SensorDeviceClass.TIMESTAMP,
        value_fn=lambda runtime, room_id: runtime.library.in_use_since(room_id),
    ),
)


def _count(status: RoomStatus) -> Callable[[SiteRuntime], int]:
    return lambda runtime: sum(runtime.status(r) is status for r in runtime.library.rooms)


SITE_SENSORS: tuple[SiteSensorDescription, ...] = (
    SiteSensorDescription(
        key="idle_rooms",
        translation_key="idle_rooms",
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=_count(RoomStatus.IDLE),
    ),
    SiteSensorDescription(
        key="in_use_rooms",
        translation_key="in_use_rooms",
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=_count(RoomStatus.IN_USE),
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: NtnuLibraryConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """The site's counts, then each room's sensors on the room's subentry."""
    runtime = entry.runtime_data
    async_add_entities(SiteSensor(runtime, description) for description in SITE_SENSORS)
    for room, subentry_id in room_subentry_pairs(runtime, entry):
        async_add_entities(
            [RoomSensor(runtime, room, description) for description in ROOM_SENSORS],
            config_subentry_id=subentry_id,
        )


class RoomSensor(RoomEntity, SensorEntity):
    """One of a room's sensors."""

    entity_description: RoomSensorDescription

    def __init__(
        self, runtime: SiteRuntime, room: Room, description: RoomSensorDescription
    ) -> None:
        super().__init__(runtime, description.key, room)
        self.entity_description = description

    @property
    def native_value(self) -> str | datetime | None:
        """Read from the runtime."""
        return self.entity_description.value_fn(self.runtime, self.room.room_id)


class SiteSensor(NtnuLibraryEntity, SensorEntity):
    """A count over the site's rooms."""

    entity_description: SiteSensorDescription

    def __init__(self, runtime: SiteRuntime, description: SiteSensorDescription) -> None:
        super().__init__(runtime, description.key)
        self.entity_description = description

    @property
    def native_value(self) -> int:
        """Count now."""
        return self.entity_description.value_fn(self.runtime)
