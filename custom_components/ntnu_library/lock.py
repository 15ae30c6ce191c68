"""The room's door: the device's main entity."""

from __future__ import annotations

from typing import Any

from homeassistant.components.lock import LockEntity
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, Unauthorized
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from . import NtnuLibraryConfigEntry
from .const import DOMAIN, LOGGER
from .core.model import Room
from .entity import RoomEntity, room_subentry_pairs
from .runtime import SiteRuntime
from .zigbee.radio import LockOffline, LockState, RadioError

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

    def __init__(self, runtime: SiteRuntime, room: Room) -> None:
        super().__init__(runtime, "lock", room)

    @property
    def is_locked(self) -> bool | None:
        """The bolt as the lock last reported it."""
        state = self.runtime.radio.lock_state(self.room.room_id)
        return None if state is LockState.UNKNOWN else state is LockState.LOCKED

    @property
    def is_jammed(self) -> bool:
        """The lock reported a jam."""
        return self.room.room_id in self.runtime.jammed

    async def async_lock(self, **kwargs: Any) -> None:
        """Lock the door."""
        await self._async_send(locked=True)

    async def async_unlock(self, **kwargs: Any) -> None:
        """Unlock from Home Assistant: administrators and automations only."""
        user_id = self._context.user_id if self._context else None
        if user_id is not None:
            user = await self.hass.auth.async_get_user(user_id)
            if user is None or not user.is_admin:
                raise Unauthorized(context=self._context)
        LOGGER.info("Room %s unlocked from Home Assistant", self.room.room_id)
        await self._async_send(locked=False)

    async def _async_send(self, *, locked: bool) -> None:
        radio = self.runtime.radio
        try:
            if locked:
                await radio.async_lock(self.room.room_id)
            else:
                await radio.async_unlock(self.room.room_id)
        except LockOffline as err:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="lock_offline",
                translation_placeholders={"room": self.room.room_id},
            ) from err
        except RadioError as err:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="lock_command_failed",
                translation_placeholders={"room": self.room.room_id},
            ) from err
        else:
            # The lock confirmed the command: its bolt moves, so it is no longer jammed.
            self.runtime.jammed.discard(self.room.room_id)
        finally:
            self.async_write_ha_state()
