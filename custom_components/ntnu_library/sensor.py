"""Room status, holder, in-use-since and its devices' batteries; the site's room counts."""

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
from homeassistant.const import PERCENTAGE, EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from . import NtnuLibraryConfigEntry
from .const import CONF_CONTACT_IEEE, CONF_LOCK_IEEE, CONF_OCCUPANCY_IEEE
from .core.model import Room, RoomStatus
from .entity import NtnuLibraryEntity, RoomEntity, room_subentry_pairs
from .site import SiteRuntime
from .zigbee.radio import Role

PARALLEL_UPDATES = 0

# "unavailable" is shown by the entity going unavailable with its lock.
STATUS_OPTIONS = [s.value for s in RoomStatus if s is not RoomStatus.UNAVAILABLE]


@dataclass(frozen=True, kw_only=True)
class RoomSensorDescription(SensorEntityDescription):
    """A room sensor and how to read it."""

    value_fn: Callable[[SiteRuntime, str], str | int | datetime | None]
    device_key: str | None = None  # the bound device it needs; None: every room has it


@dataclass(frozen=True, kw_only=True)
class SiteSensorDescription(SensorEntityDescription):
    """A site sensor and how to read it."""

    value_fn: Callable[[SiteRuntime], int]


def _battery(role: Role, device_key: str, translation_key: str) -> RoomSensorDescription:
    """The battery level of one of the room's devices (unknown until it reports one)."""
    return RoomSensorDescription(
        key=translation_key,
        translation_key=translation_key,
        device_class=SensorDeviceClass.BATTERY,
        native_unit_of_measurement=PERCENTAGE,
        suggested_display_precision=0,  # whole percent (also what newer HA would default to)
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
        device_key=device_key,
        value_fn=lambda runtime, room_id: runtime.radio.battery(room_id, role),
    )


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
    _battery(Role.LOCK, CONF_LOCK_IEEE, translation_key="lock_battery"),
    _battery(Role.CONTACT, CONF_CONTACT_IEEE, translation_key="contact_battery"),
    _battery(Role.OCCUPANCY, CONF_OCCUPANCY_IEEE, translation_key="occupancy_battery"),
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
    """The site's counts, then each room's sensors on the room's subentry.

    A battery sensor for each device bound to the room (a contact or an occupancy sensor only
    where the room has one).
    """
    runtime = entry.runtime_data
    async_add_entities(SiteSensor(runtime, description) for description in SITE_SENSORS)
    for room, subentry_id in room_subentry_pairs(runtime, entry):
        data = entry.subentries[subentry_id].data
        async_add_entities(
            [
                RoomSensor(runtime, room, description)
                for description in ROOM_SENSORS
                if description.device_key is None or data.get(description.device_key)
            ],
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
    def native_value(self) -> str | int | datetime | None:
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
