"""What a room's devices tell, routed to where it is handled.

Card taps go to the command path, door and lock news to the door keeper, occupancy to the
rules, a lock lost or a device gone to the log and to repairs.
"""

from __future__ import annotations

import logging

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util

from .commands import SiteCommands
from .const import DOMAIN
from .core.model import EventType
from .core.study_rooms import Library
from .doors import DoorKeeper
from .storage import SiteStorage
from .zigbee.radio import DeviceEvent, DeviceEventType, RoomRadio

_LOGGER = logging.getLogger(__package__)

_DOOR_EVENTS = {
    DeviceEventType.PUSH_EXIT: EventType.PUSH_EXIT,
    DeviceEventType.FORCED_OPEN: EventType.FORCED_OPEN,
}


class DeviceEvents:
    """The site's listener on its radio."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry,
        *,
        library: Library,
        radio: RoomRadio,
        commands: SiteCommands,
        doors: DoorKeeper,
        storage: SiteStorage,
    ) -> None:
        self._hass = hass
        self._entry = entry
        self._library = library
        self._radio = radio
        self._commands = commands
        self._doors = doors
        self._storage = storage

    @callback
    def take_initial_occupancy(self) -> None:
        """The sensors' start-up reports came before we listened: read them now.

        Without them a room borrowed and never entered would never be returned for standing
        empty.
        """
        before = dict(self._library.state.vacant_since)
        now = dt_util.now()
        for room_id in self._library.rooms:
            if (occupied := self._radio.occupied(room_id)) is not None:
                self._library.occupancy(room_id, occupied, now)
        if self._library.state.vacant_since != before:
            self._storage.async_schedule_save()

    @callback
    def handle(self, event: DeviceEvent) -> None:
        """One decoded event of one room."""
        room_id = event.room_id
        if room_id not in self._library.rooms:
            _LOGGER.debug("Event for a room this site does not have: %s", event.type)
            return
        kind = event.type
        if kind is DeviceEventType.CARD_TAP:
            self._commands.card_tap(room_id, event.card or "")
            return
        self._doors.on_device_event(event)
        if kind in _DOOR_EVENTS:
            self._commands.record(
                self._library.door_event(room_id, _DOOR_EVENTS[kind], dt_util.now())
            )
        elif kind in (DeviceEventType.OCCUPIED, DeviceEventType.VACANT):
            self._library.occupancy(room_id, kind is DeviceEventType.OCCUPIED, dt_util.now())
            self._storage.async_schedule_save()
        elif kind is DeviceEventType.OFFLINE:
            # Taps being decided run on: their unlock fails at once (the lock is offline) and
            # they are logged as refused or failed, which staff want to see.
            # The radio itself gone takes every lock with it: the radio says that once.
            _LOGGER.log(
                logging.WARNING if self._radio.connected else logging.DEBUG,
                "Lock of room %s stopped answering",
                room_id,
            )
        elif kind is DeviceEventType.ONLINE:
            _LOGGER.info("Lock of room %s answers again", room_id)
            ir.async_delete_issue(self._hass, DOMAIN, self._left_issue(room_id))
        elif kind is DeviceEventType.LEFT:
            _LOGGER.warning("A device of room %s left the Zigbee network", room_id)
            ir.async_create_issue(
                self._hass,
                DOMAIN,
                self._left_issue(room_id),
                is_fixable=False,
                severity=ir.IssueSeverity.WARNING,
                translation_key="device_left",
                translation_placeholders={"room": room_id, "site": self._entry.title},
            )
        self._commands.notify(room_id)

    def _left_issue(self, room_id: str) -> str:
        return f"device_left_{self._entry.entry_id}_{room_id}"
