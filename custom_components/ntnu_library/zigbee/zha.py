"""ZHA mode: the rooms' locks live on Home Assistant's own Zigbee network (the ZHA integration).

`ZhaRadio` attaches the room layer to the zigpy `ControllerApplication` that ZHA runs. It
never opens a port, never binds, configures reporting or enrolls zones (ZHA does all that
for the devices it manages) and never shuts ZHA's application down: `async_stop` only
removes our listeners. Card numbers are read from the Door Lock cluster itself, as
`zha_event` drops them.

ZHA's application object is reached through a getter, so nothing here imports Home
Assistant; the integration passes
``lambda: get_zha_gateway(hass).application_controller`` (``ValueError`` while ZHA is not
loaded; the attribute is ``None`` while ZHA's gateway starts or after it shut down).

Following ZHA:
- a device re-interviewed or replaced (``device_initialized`` / ``device_reinterviewed``
  on the application): the room layer re-attaches that device's cluster listeners;
- ZHA reloaded (a new application object): `async_reattach`, which the integration calls
  when ZHA's config entry changes state, and lazily before every command and
  availability check, so a missed reload costs at most one stale check;
- ZHA unloaded: every room's lock goes offline and commands raise `LockOffline`
  (fail secure) until ZHA is back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
import logging

from zigpy.application import ControllerApplication

from .layer import DEFAULT_CHECK_TIMEOUT, DEFAULT_COMMAND_TIMEOUT, ZigbeeRooms
from .radio import LockOffline, RadioError, RoomDevices, Spawn

_LOGGER = logging.getLogger(__name__)

type ApplicationGetter = Callable[[], ControllerApplication | None]

# What a getter raises when ZHA is not (or no longer) loaded: get_zha_gateway raises
# ValueError; the others cover a gateway torn down half-way.
_NOT_LOADED = (ValueError, LookupError, AttributeError)


class ZhaNotLoaded(RadioError):
    """ZHA is not loaded, so there is no Zigbee network to attach to."""


class ZhaRadio(ZigbeeRooms):
    """A `RoomRadio` on ZHA's Zigbee network; ZHA owns the radio, we only listen and command."""

    def __init__(
        self,
        get_application: ApplicationGetter,
        rooms: Iterable[RoomDevices] = (),
        *,
        command_timeout: float = DEFAULT_COMMAND_TIMEOUT,
        check_timeout: float = DEFAULT_CHECK_TIMEOUT,
        spawn: Spawn | None = None,
    ) -> None:
        self._get_application = get_application
        self._started = False
        super().__init__(
            rooms, command_timeout=command_timeout, check_timeout=check_timeout, spawn=spawn
        )

    @property
    def started(self) -> bool:
        """Whether `async_start` succeeded and `async_stop` has not been called since."""
        return self._started

    def _current_application(self) -> ControllerApplication:
        """ZHA's application now; raises ZhaNotLoaded."""
        try:
            app = self._get_application()
        except _NOT_LOADED as err:
            raise ZhaNotLoaded(
                "ZHA (Zigbee Home Automation) is not loaded: set it up first, "
                f"or choose another radio mode ({err})"
            ) from err
        if app is None:
            raise ZhaNotLoaded(
                "ZHA (Zigbee Home Automation) has no running Zigbee network yet: "
                "wait for ZHA to finish starting, or choose another radio mode"
            )
        return app

    async def async_start(self) -> None:
        """Attach to ZHA's network and check every room's lock; RadioError if ZHA is not loaded."""
        app = self._current_application()
        self._started = True
        self.attach(app)
        _LOGGER.debug("Attached to ZHA's Zigbee network (%s)", type(app).__name__)
        await self._async_check_all()

    async def async_stop(self) -> None:
        """Remove our listeners; ZHA's application keeps running."""
        self._started = False
        await self._async_end_tasks()
        self.detach()

    async def async_reattach(self) -> bool:
        """Attach again to ZHA's current application (after ZHA reloaded) and check every room.

        Returns False, with every room offline, when ZHA is not loaded now. Does nothing
        (False) before `async_start` or after `async_stop`.
        """
        if not self._started:
            return False
        try:
            app = self._current_application()
        except ZhaNotLoaded as err:
            self._lost(err)
            return False
        self.attach(app)  # listeners anew, even on the same object: cheap and idempotent
        await self._async_check_all()
        return True

    def _follow(self) -> bool:
        """Follow ZHA to its current application; False (rooms offline) when it has none."""
        if not self._started:
            return self.app is not None
        try:
            app = self._current_application()
        except ZhaNotLoaded as err:
            self._lost(err)
            return False
        if app is not self.app:
            _LOGGER.info("ZHA's Zigbee network was restarted; attaching to the new one")
            self.attach(app)
        return True

    def _lost(self, err: Exception) -> None:
        if self.app is not None:
            _LOGGER.warning("Lost ZHA's Zigbee network; every room's lock is offline: %s", err)
            self.detach()
        for room_id in self._rooms:
            self._set_online(room_id, False)

    async def _async_check_all(self) -> None:
        await asyncio.gather(
            *(super(ZhaRadio, self).async_check_availability(room) for room in self._rooms)
        )

    async def async_check_availability(self, room_id: str) -> bool:
        """Read the lock's state on ZHA's current network; False when ZHA is gone."""
        self._room(room_id)  # UnknownRoom first
        if not self._follow():
            return False
        return await super().async_check_availability(room_id)

    async def async_unlock(self, room_id: str) -> None:
        """Send unlock_door through ZHA's cluster object; raise LockOffline or LockCommandFailed."""
        self._ensure_network(room_id)
        await super().async_unlock(room_id)

    async def async_lock(self, room_id: str) -> None:
        """Send lock_door through ZHA's cluster object; raise LockOffline or LockCommandFailed."""
        self._ensure_network(room_id)
        await super().async_lock(room_id)

    def _ensure_network(self, room_id: str) -> None:
        self._room(room_id)  # UnknownRoom first
        if not self._follow():
            raise LockOffline(f"room {room_id}: ZHA's Zigbee network is not running")
