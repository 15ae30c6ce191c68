"""The site's sensors: rooms, room counts, failed logins, self-checkout kiosks and return boxes.

Rooms: status, holder, in use since, their devices' batteries. The site: idle rooms, rooms in
use, and for staff the failed logins of the last hour at its library (with how many IDs they
were for, never the IDs). Kiosks: status (ready or the fault), loans today. Return boxes: items
awaiting scan-back, the oldest drop, items set aside.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
import time
from typing import Any

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import PERCENTAGE, EntityCategory
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.debounce import Debouncer
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.event import async_track_time_interval

from . import NtnuLibraryConfigEntry
from .const import (
    CONF_CONTACT_IEEE,
    CONF_LOCK_IEEE,
    CONF_OCCUPANCY_IEEE,
    DOMAIN,
    LOGGER,
    signal_circulation_update,
    signal_logins,
)
from .core.circulation_state import KIOSK_FAULTS
from .core.lock_slots import SlotMode
from .core.model import Room, RoomStatus
from .entity import MANUFACTURER, NtnuLibraryEntity, RoomEntity, room_subentry_pairs
from .site import Site
from .zigbee.radio import Role

PARALLEL_UPDATES = 0

# "unavailable" is shown by the entity going unavailable with its lock.
STATUS_OPTIONS = [s.value for s in RoomStatus if s is not RoomStatus.UNAVAILABLE]
# The holder of a room nobody holds: a word ("No holder"), not "unknown", which reads like a
# fault. A masked ID always has a "*" in it, so no holder is ever called this.
NO_HOLDER = "none"

# A sensor following a signal writes its state at most this often (the first change at once):
# a flood of failed logins must not become a flood of state changes in the recorder.
SIGNAL_COOLDOWN_SECONDS = 10.0


@dataclass(frozen=True, kw_only=True)
class RoomSensorDescription(SensorEntityDescription):
    """A room sensor and how to read it."""

    value_fn: Callable[[Site, str], str | int | datetime | None]
    device_key: str | None = None  # the bound device it needs; None: every room has it


@dataclass(frozen=True, kw_only=True)
class SiteSensorDescription(SensorEntityDescription):
    """A site sensor and how to read it.

    A count of rooms in a `status` is kept by difference: a room's update recounts that room,
    not the site. Any other is read on every room update when it `follows_rooms`, on its
    `signal_fn`'s dispatcher signal (at most every SIGNAL_COOLDOWN_SECONDS) and `every` so often.
    """

    value_fn: Callable[[Site], int] = lambda _runtime: 0
    status: RoomStatus | None = None
    follows_rooms: bool = True
    attributes_fn: Callable[[Site], Mapping[str, Any]] | None = None
    signal_fn: Callable[[Site], str] | None = None
    every: timedelta | None = None


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
        value_fn=lambda runtime, room_id: runtime.masked_holder(room_id) or NO_HOLDER,
    ),
    RoomSensorDescription(
        key="in_use_since",
        translation_key="in_use_since",
        device_class=SensorDeviceClass.TIMESTAMP,
        value_fn=lambda runtime, room_id: runtime.rooms.in_use_since(room_id),
    ),
    _battery(Role.LOCK, CONF_LOCK_IEEE, translation_key="lock_battery"),
    _battery(Role.CONTACT, CONF_CONTACT_IEEE, translation_key="contact_battery"),
    _battery(Role.OCCUPANCY, CONF_OCCUPANCY_IEEE, translation_key="occupancy_battery"),
    # Who decides a card tap: the lock too (the holder's card in its user table), or the
    # site only; and how many of the site's slots on the lock hold a card (never which).
    RoomSensorDescription(
        key="card_mode",
        translation_key="card_mode",
        device_class=SensorDeviceClass.ENUM,
        options=[mode.value for mode in SlotMode],
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda runtime, room_id: runtime.slots.mode(room_id).value,
    ),
    RoomSensorDescription(
        key="cards_in_lock",
        translation_key="cards_in_lock",
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda runtime, room_id: (
            runtime.slots.in_use(room_id)
            if runtime.slots.mode(room_id) is SlotMode.LOCK_SLOTS
            else None
        ),
    ),
)


class StatusTally:
    """Each room's last status and the rooms per status, kept up to date by difference."""

    def __init__(self) -> None:
        self._of: dict[str, RoomStatus] = {}
        self._rooms: Counter[RoomStatus] = Counter()

    def count(self, status: RoomStatus) -> int:
        """Rooms in `status`."""
        return self._rooms[status]

    def update(self, runtime: Site, room_id: str | None) -> None:
        """A room (None: every room) may show another status."""
        rooms = runtime.rooms.rooms
        if room_id is None or not self._of:
            self._of = {room: runtime.status(room) for room in rooms}
            self._rooms = Counter(self._of.values())
            return
        old = self._of.pop(room_id, None)
        if old is not None:
            self._rooms[old] -= 1
        if room_id in rooms:
            self._of[room_id] = new = runtime.status(room_id)
            self._rooms[new] += 1


def _failed_logins(runtime: Site) -> tuple[int, int]:
    """Failed logins at the site's library in the last hour, and how many IDs they were for.

    The library's throttle (shared by its sites) is read each time: a site that joins a
    library may replace it.
    """
    return runtime.library.throttle.failures_in_window(time.monotonic())


SITE_SENSORS: tuple[SiteSensorDescription, ...] = (
    SiteSensorDescription(
        key="idle_rooms",
        translation_key="idle_rooms",
        state_class=SensorStateClass.MEASUREMENT,
        status=RoomStatus.IDLE,
    ),
    SiteSensorDescription(
        key="in_use_rooms",
        translation_key="in_use_rooms",
        state_class=SensorStateClass.MEASUREMENT,
        status=RoomStatus.IN_USE,
    ),
    # For staff: a count of guesses, and the patrons (masked) most of them were for; never
    # what else was guessed, never an address. The count falls as failures age out of the
    # hour, so it is read again every minute.
    SiteSensorDescription(
        key="failed_logins",
        translation_key="failed_logins",
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda runtime: _failed_logins(runtime)[0],
        follows_rooms=False,
        attributes_fn=lambda runtime: {
            "patron_ids": _failed_logins(runtime)[1],
            "guessed_patrons": runtime.library.guessed_patrons(time.monotonic()),
        },
        signal_fn=lambda runtime: signal_logins(runtime.library.library_id),
        every=timedelta(minutes=1),
    ),
)


# A kiosk is ready, or out of order with one of its faults.
KIOSK_READY = "ready"
KIOSK_OPTIONS = [KIOSK_READY, *sorted(KIOSK_FAULTS)]


@dataclass(frozen=True, kw_only=True)
class StationSensorDescription(SensorEntityDescription):
    """A sensor of a kiosk or a return box, read from the site's circulation desk."""

    value_fn: Callable[[Site, str], str | int | datetime | None]


KIOSK_SENSORS: tuple[StationSensorDescription, ...] = (
    StationSensorDescription(
        key="kiosk_status",
        translation_key="kiosk_status",
        device_class=SensorDeviceClass.ENUM,
        options=KIOSK_OPTIONS,
        value_fn=lambda runtime, kiosk: runtime.desk.kiosk_status(kiosk)["fault"] or KIOSK_READY,
    ),
    StationSensorDescription(
        key="loans_today",
        translation_key="loans_today",
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=lambda runtime, kiosk: runtime.desk.kiosk_status(kiosk)["loans_today"],
    ),
)
BOX_SENSORS: tuple[StationSensorDescription, ...] = (
    StationSensorDescription(
        key="awaiting_scan_back",
        translation_key="awaiting_scan_back",
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=lambda runtime, box: runtime.desk.box_status(box)["waiting"],
    ),
    StationSensorDescription(
        key="waiting_since",
        translation_key="waiting_since",
        device_class=SensorDeviceClass.TIMESTAMP,
        value_fn=lambda runtime, box: runtime.desk.box_status(box)["oldest"],
    ),
    StationSensorDescription(
        key="set_aside",
        translation_key="set_aside",
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=lambda runtime, box: runtime.desk.box_status(box)["flagged"],
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
    async_add_entities(
        [
            *(
                StationSensor(runtime, "kiosk", kiosk, description)
                for kiosk in runtime.desk.kiosks
                for description in KIOSK_SENSORS
            ),
            *(
                StationSensor(runtime, "box", box, description)
                for box in runtime.desk.boxes
                for description in BOX_SENSORS
            ),
        ]
    )
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

    def __init__(self, runtime: Site, room: Room, description: RoomSensorDescription) -> None:
        super().__init__(runtime, description.key, room)
        self.entity_description = description

    @property
    def native_value(self) -> str | int | datetime | None:
        """Read from the runtime."""
        return self.entity_description.value_fn(self.runtime, self.room.room_id)


class SiteSensor(NtnuLibraryEntity, SensorEntity):
    """A count over the site's rooms, or over its library's failed logins."""

    entity_description: SiteSensorDescription

    def __init__(self, runtime: Site, description: SiteSensorDescription) -> None:
        super().__init__(runtime, description.key)
        self.entity_description = description
        self._tally = StatusTally() if description.status is not None else None

    async def async_added_to_hass(self) -> None:
        """Follow the room updates, and the description's signal and interval."""
        await super().async_added_to_hass()
        description = self.entity_description
        if self._tally is not None:
            self._tally.update(self.runtime, None)
        if description.signal_fn is not None:
            debouncer = Debouncer(
                self.hass,
                LOGGER,
                cooldown=SIGNAL_COOLDOWN_SECONDS,
                immediate=True,
                function=self.async_write_ha_state,
            )
            self.async_on_remove(debouncer.async_shutdown)
            self.async_on_remove(
                async_dispatcher_connect(
                    self.hass, description.signal_fn(self.runtime), debouncer.async_schedule_call
                )
            )
        if description.every is not None:
            self.async_on_remove(
                async_track_time_interval(
                    self.hass,
                    self._handle_interval,
                    description.every,
                    name=f"{DOMAIN} {self.entity_id}",
                )
            )

    @callback
    def _handle_interval(self, _now: datetime) -> None:
        self.async_write_ha_state()

    @callback
    def _handle_room_update(self, room_id: str | None) -> None:
        if self._tally is not None:
            self._tally.update(self.runtime, room_id)
        if self.entity_description.follows_rooms:
            self.async_write_ha_state()

    @property
    def native_value(self) -> int:
        """Count now."""
        description = self.entity_description
        if self._tally is not None and description.status is not None:
            return self._tally.count(description.status)
        return description.value_fn(self.runtime)

    @property
    def extra_state_attributes(self) -> Mapping[str, int] | None:
        """Counts that go with the state (never who or what was counted)."""
        attributes_fn = self.entity_description.attributes_fn
        return None if attributes_fn is None else attributes_fn(self.runtime)


class StationSensor(SensorEntity):
    """A sensor of one self-checkout kiosk or one 24-hour return box (its own device)."""

    _attr_has_entity_name = True
    _attr_should_poll = False
    entity_description: StationSensorDescription

    def __init__(
        self,
        runtime: Site,
        station: str,
        station_id: str,
        description: StationSensorDescription,
    ) -> None:
        self.runtime = runtime
        self.station_id = station_id
        self.entity_description = description
        self._attr_unique_id = f"{runtime.entry_id}_{station}_{station_id}_{description.key}"
        kiosk = station == "kiosk"
        # Named in Home Assistant's language: "Kiosk K1", "自助借書機 K1".
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, f"{runtime.entry_id}_{station}_{station_id}")},
            translation_key="kiosk" if kiosk else "return_box",
            translation_placeholders={"kiosk" if kiosk else "box": station_id},
            manufacturer=MANUFACTURER,
            model="Self-checkout kiosk" if kiosk else "24-hour return box",
        )

    async def async_added_to_hass(self) -> None:
        """Follow the site's circulation."""
        await super().async_added_to_hass()
        self.async_on_remove(
            async_dispatcher_connect(
                self.hass,
                signal_circulation_update(self.runtime.entry_id),
                self._handle_update,
            )
        )

    @callback
    def _handle_update(self) -> None:
        self.async_write_ha_state()

    @property
    def native_value(self) -> str | int | datetime | None:
        """Read from the circulation desk."""
        return self.entity_description.value_fn(self.runtime, self.station_id)
