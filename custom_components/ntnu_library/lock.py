"""The room's door: the device's main entity. It moves the bolt only through the site's commands."""

from __future__ import annotations

from typing import Any

from homeassistant.components.lock import LockEntity
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import Unauthorized
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from . import NtnuLibraryConfigEntry
from .core.model import Room, Source
from .entity import RoomEntity, room_subentry_pairs
from .exceptions import door_error, translated_errors
from .site import Site
from .zigbee.radio import LockState

PARALLEL_UPDATES = 1


async def async_setup_entry(
    hass: HomeAssistant,
    entry: NtnuLibraryConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """One lock per room."""
    runtime = entry.runtime_data
    for room, subentry_id in room_subentry_pairs(runtime, entry):
        async_add_entities([RoomLock(runtime, room)], config_subentry_id=subentry_id)


class RoomLock(RoomEntity, LockEntity):
    """The electronic lock; staff may lock and (as administrators) unlock it."""

    _attr_name = None

    def __init__(self, runtime: Site, room: Room) -> None:
        super().__init__(runtime, "lock", room)

    @property
    def is_locked(self) -> bool | None:
        """The bolt as the lock last reported it."""
        state = self.runtime.radio.lock_state(self.room.room_id)
        return None if state is LockState.UNKNOWN else state is LockState.LOCKED

    @property
    def is_jammed(self) -> bool:
        """The lock reported a jam."""
        return self.room.room_id in self.runtime.doors.jammed

    async def async_lock(self, **kwargs: Any) -> None:
        """Lock the door (a lock that does not answer is locked as soon as it does)."""
        with translated_errors():
            result = await self.runtime.commands.async_relock(self.room.room_id)
        self._raise_if_not_moved(result["door"])

    async def async_unlock(self, **kwargs: Any) -> None:
        """Unlock from Home Assistant: administrators and automations only."""
        await self._async_require_admin()
        by_user = self._context is not None and self._context.user_id is not None
        with translated_errors():
            result = await self.runtime.commands.async_staff_unlock(
                self.room.room_id, source=Source.COUNTER if by_user else Source.AUTOMATION
            )
        self._raise_if_not_moved(result["door"])

    async def _async_require_admin(self) -> None:
        """Raise Unauthorized unless an administrator or an automation (no user) asks.

        Home Assistant lets every user control every entity; opening a door past the rules
        is for administrators only.
        """
        user_id = self._context.user_id if self._context is not None else None
        if user_id is None:
            return
        user = await self.hass.auth.async_get_user(user_id)
        if user is None or not user.is_admin:
            raise Unauthorized(context=self._context)

    def _raise_if_not_moved(self, door: str) -> None:
        room_id = self.room.room_id
        online = self.runtime.radio.is_online(room_id)
        if (error := door_error(room_id, door, lock_online=online)) is not None:
            raise error
