"""What a room's devices tell, routed to where it is handled.

Card taps and occupancy go to the room commands (each through the one transaction), door and
lock news to the door keeper, PUSH exits and forced doors to the room's events, a lock lost or
a device gone to the log and to repairs.
"""

from __future__ import annotations

import logging

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util

from .announce import Announcer
from .commands import SiteCommands
from .const import DOMAIN
from .core.model import EventType
from .core.study_rooms import StudyRooms
from .doors import DoorKeeper
from .zigbee.radio import DeviceEvent, DeviceEventType, Role, RoomRadio

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
        rooms: StudyRooms,
        radio: RoomRadio,
        commands: SiteCommands,
        doors: DoorKeeper,
        announcer: Announcer,
    ) -> None:
        self._hass = hass
        self._entry = entry
        self._rooms = rooms
        self._radio = radio
        self._commands = commands
        self._doors = doors
        self._announcer = announcer
        self._left: dict[str, set[Role | None]] = {}  # per room, the devices that left

    @callback
    def handle(self, event: DeviceEvent) -> None:
        """One decoded event of one room."""
        room_id = event.room_id
        if room_id not in self._rooms.rooms:
            _LOGGER.debug("Event for a room this site does not have: %s", event.type)
            return
        kind = event.type
        if kind is DeviceEventType.CARD_TAP:
            self._commands.card_tap(room_id, event.card or "")
            return
        self._doors.on_device_event(event)
        if kind in _DOOR_EVENTS:
            self._announcer.emit(
                self._rooms.door_event(room_id, _DOOR_EVENTS[kind], dt_util.now()).events
            )
        elif kind in (DeviceEventType.OCCUPIED, DeviceEventType.VACANT):
            self._commands.occupancy(room_id, kind is DeviceEventType.OCCUPIED)
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
            self._back(room_id, Role.LOCK)
        elif kind is DeviceEventType.JOINED:
            _LOGGER.info("A device of room %s joined the Zigbee network again", room_id)
            self._back(room_id, event.role)
        elif kind is DeviceEventType.LEFT:
            _LOGGER.warning("A device of room %s left the Zigbee network", room_id)
            self._left.setdefault(room_id, set()).add(event.role)
            ir.async_create_issue(
                self._hass,
                DOMAIN,
                self._left_issue(room_id),
                is_fixable=False,
                severity=ir.IssueSeverity.WARNING,
                translation_key="device_left",
                translation_placeholders={"room": room_id, "site": self._entry.title},
            )
        self._announcer.notify(room_id)

    def _back(self, room_id: str, role: Role | None) -> None:
        """A device of the room is back: the notice goes once none of them is missing."""
        missing = self._left.get(room_id, set())
        missing.discard(role)
        if not missing:
            self._left.pop(room_id, None)
            ir.async_delete_issue(self._hass, DOMAIN, self._left_issue(room_id))

    def _left_issue(self, room_id: str) -> str:
        return f"device_left_{self._entry.entry_id}_{room_id}"
