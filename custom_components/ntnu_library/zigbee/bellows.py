"""Own radio: a Silicon Labs EZSP coordinator driven by bellows, with the rooms on it.

`BellowsRadio` starts bellows' `ControllerApplication` on a serial port (or
``socket://host:port``) with its own zigpy database, forms a network when the stick has
none, attaches the shared room layer and configures the rooms' devices (bind, reporting,
IAS enrollment). bellows' watchdog stays on: when the stick stops answering or the port
goes away, zigpy calls `connection_lost`; every room goes offline (fail secure: unlocks
raise `LockOffline`) and a task reconnects with exponential backoff until the stick is
back, then checks every room's lock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
import contextlib
import errno
import logging
from typing import Any

from bellows.zigbee.application import ControllerApplication
import zigpy.config as conf
import zigpy.types as t

from ..const import DEFAULT_BAUDRATE, FLOW_CONTROLS
from . import compat
from .layer import DEFAULT_CHECK_TIMEOUT, DEFAULT_COMMAND_TIMEOUT
from .owned import OwnedNetwork
from .radio import RadioError, RoomDevices, Spawn

_LOGGER = logging.getLogger(__name__)

# bellows resets the stick up to three times (2.5–5 s each) before giving up by itself.
DEFAULT_START_TIMEOUT = 60.0
RECONNECT_MIN_DELAY = 1.0
RECONNECT_MAX_DELAY = 60.0

_MISSING = frozenset({errno.ENOENT, errno.ENODEV, errno.ENXIO})
_BUSY = frozenset({errno.EACCES, errno.EPERM, errno.EBUSY})


def serial_flow_control(flow_control: str | None) -> str | None:
    """The form's "none" is bellows' None; anything not in FLOW_CONTROLS is refused."""
    if flow_control in (None, "none"):
        return None
    if flow_control not in FLOW_CONTROLS:
        raise ValueError(f"flow_control must be one of {FLOW_CONTROLS}, not {flow_control!r}")
    return flow_control


def _config(
    path: str, baudrate: int, flow_control: str | None, database_path: str | None
) -> dict[str, Any]:
    """Bellows' configuration as a raw dict (the constructor validates it)."""
    return {
        conf.CONF_DATABASE: database_path,
        conf.CONF_DEVICE: {
            conf.CONF_DEVICE_PATH: path,
            conf.CONF_DEVICE_BAUDRATE: baudrate,
            conf.CONF_DEVICE_FLOW_CONTROL: compat.bellows_flow_control(flow_control),
        },
        conf.CONF_OTA: {conf.CONF_OTA_ENABLED: False},
        **compat.NO_SEND_RETRIES,
        # A backup of the network keys lets a replacement stick take over the network.
        conf.CONF_NWK_BACKUP_ENABLED: True,
        conf.CONF_TOPO_SCAN_ENABLED: False,
        conf.CONF_STARTUP_ENERGY_SCAN: False,
        # The watchdog is how a silent stick is noticed: it calls connection_lost.
        conf.CONF_WATCHDOG_ENABLED: True,
    }


def _radio_error(err: BaseException, path: str) -> RadioError:
    """A RadioError saying in plain words what is wrong with the stick at `path`."""
    cause: BaseException | None = err
    while cause is not None:
        if isinstance(cause, FileNotFoundError) or getattr(cause, "errno", None) in _MISSING:
            return RadioError(f"no Zigbee stick at {path} (unplugged or renamed?)")
        if isinstance(cause, PermissionError) or getattr(cause, "errno", None) in _BUSY:
            return RadioError(
                f"the Zigbee stick at {path} is in use by another program or not accessible"
            )
        if isinstance(cause, TimeoutError):
            return RadioError(f"the Zigbee stick at {path} does not answer (is it an EZSP stick?)")
        if isinstance(cause, ConnectionRefusedError):
            return RadioError(f"nothing listens at {path}")
        cause = cause.__cause__ or cause.__context__
    return RadioError(f"could not start the Zigbee stick at {path}: {err!r}")


async def probe(
    path: str, baudrate: int = DEFAULT_BAUDRATE, flow_control: str | None = None
) -> bool:
    """Whether an EZSP stick answers at `path` (for the config flow; never raises)."""
    try:
        device = {
            conf.CONF_DEVICE_PATH: path,
            conf.CONF_DEVICE_BAUDRATE: baudrate,
            conf.CONF_DEVICE_FLOW_CONTROL: compat.bellows_flow_control(
                serial_flow_control(flow_control)
            ),
        }
        return bool(await ControllerApplication.probe(device))
    except Exception:
        _LOGGER.debug("Probing %s failed", path, exc_info=True)
        return False


class _RadioListener:
    """zigpy application events the own radio handles (looked up by method name)."""

    def __init__(self, radio: BellowsRadio) -> None:
        self._radio = radio

    def connection_lost(self, exc: Exception) -> None:
        self._radio._connection_lost(exc)

    def device_initialized(self, device: Any) -> None:
        self._radio._device_initialized(device.ieee)

    device_reinterviewed = device_initialized


class BellowsRadio(OwnedNetwork):
    """A `RoomRadio` on a Zigbee network this integration forms on its own EZSP stick."""

    can_permit_join = True

    def __init__(
        self,
        rooms: Iterable[RoomDevices] = (),
        *,
        path: str,
        baudrate: int = DEFAULT_BAUDRATE,
        flow_control: str | None = None,
        database_path: str,
        command_timeout: float = DEFAULT_COMMAND_TIMEOUT,
        check_timeout: float = DEFAULT_CHECK_TIMEOUT,
        start_timeout: float = DEFAULT_START_TIMEOUT,
        reconnect_min_delay: float = RECONNECT_MIN_DELAY,
        reconnect_max_delay: float = RECONNECT_MAX_DELAY,
        spawn: Spawn | None = None,
        auto_relock_seconds: int = 0,
    ) -> None:
        self._path = path
        self._baudrate = baudrate
        self._flow_control = serial_flow_control(flow_control)
        self._database_path = database_path
        self._start_timeout = start_timeout
        self._reconnect_delays = (reconnect_min_delay, reconnect_max_delay)
        self._radio_listener = _RadioListener(self)
        self._own: ControllerApplication | None = None  # the app we started, attached or not
        self._reconnecting = False
        super().__init__(
            rooms,
            command_timeout=command_timeout,
            check_timeout=check_timeout,
            spawn=spawn,
            auto_relock_seconds=auto_relock_seconds,
        )

    @property
    def connected(self) -> bool:
        """Whether the stick is up (False while reconnecting)."""
        return self._own is not None and not self._reconnecting

    # -- start and stop ------------------------------------------------------------

    async def async_start(self) -> None:
        """Open the stick, form or load the network, configure the rooms' devices.

        Raises RadioError when the stick is missing, busy or does not answer.
        """
        if self._own is not None:
            return
        app = await self._async_open()
        self._use(app)
        await self._async_configure_present()

    async def _async_open(self) -> ControllerApplication:
        """Start bellows; raise RadioError, leaving nothing open, when that fails."""
        config = _config(self._path, self._baudrate, self._flow_control, self._database_path)
        app: Any = None  # zigpy types new() as returning its own base class
        try:
            app = await self._async_new_application(config)
            async with asyncio.timeout(self._start_timeout):
                await app.startup(auto_form=True)
        except BaseException as err:
            if app is not None:
                await compat.async_shutdown(app)
            if isinstance(err, Exception):
                raise _radio_error(err, self._path) from err
            raise
        assert isinstance(app, ControllerApplication)
        return app

    @staticmethod
    async def _async_new_application(config: dict[str, Any]) -> Any:
        """Bellows' application with its database open; on cancellation nothing stays open.

        new() opens the zigpy database before it returns the application: cancelled inside
        it, we would never get the object that holds the database. So it runs shielded, and
        a cancelled caller still waits for it and closes what it opened.
        """
        opening = asyncio.ensure_future(
            ControllerApplication.new(config, auto_form=True, start_radio=False)
        )
        try:
            return await asyncio.shield(opening)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await compat.async_shutdown(await opening)
            raise

    def _use(self, app: ControllerApplication) -> None:
        self._own = app
        app.add_listener(self._radio_listener)
        self.attach(app)

    async def _async_close(self) -> None:
        """Detach from and shut down the app we started (waiting for all its tasks)."""
        if (app := self._own) is None:
            return
        self._own = None
        if self.app is app:
            self.detach()
        app.remove_listener(self._radio_listener)
        await compat.async_shutdown(app)

    async def async_stop(self) -> None:
        """Stop reconnecting, close the stick, leave no task or timer behind."""
        await self._async_end_tasks()
        self._reconnecting = False
        await self._async_close()

    # -- configuration -------------------------------------------------------------

    def _present(self, room: RoomDevices) -> bool:
        app = self.app
        return app is not None and any(
            (device := app.devices.get(t.EUI64.convert(address))) is not None
            and device.is_initialized
            for address in (room.lock, room.contact, room.occupancy)
            if address is not None
        )

    async def _async_configure_present(self) -> None:
        rooms = [room.devices for room in self._rooms.values() if self._present(room.devices)]
        await asyncio.gather(*(self.async_configure(room.room_id) for room in rooms))

    def _device_initialized(self, ieee: t.EUI64) -> None:
        """A bound device joined or was re-interviewed: configure its room (tracked task)."""
        if (binding := self._bindings.get(ieee)) is None:
            return
        self._spawn(self.async_configure(binding[0]), f"configure room {binding[0]}")

    async def async_permit_join(self, seconds: int = 60) -> None:
        """Let new devices join the network for `seconds` (0 closes it)."""
        if not self.connected or self._own is None:
            raise RadioError("the Zigbee stick is not connected")
        await self._own.permit(time_s=seconds)

    # -- link loss -----------------------------------------------------------------

    def _connection_lost(self, exc: Exception) -> None:
        if self._own is None or self._reconnecting:
            return  # stopping, or already reconnecting (watchdog and port both tell)
        _LOGGER.warning(
            "Lost the Zigbee stick at %s (%r); every room is offline until it is back",
            self._path,
            exc,
        )
        # Reconnecting first: listeners told of the rooms going see `connected` False.
        self._reconnecting = True
        pending = [task for task in self._tasks if not task.done()]
        self._spawn(self._async_reconnect(pending), f"reconnect {self._path}")
        for room_id in self._rooms:
            self._set_online(room_id, False)

    async def _async_reconnect(self, pending: list[asyncio.Task[Any]]) -> None:
        # What ran on the lost stick (configuring, checks) has nothing left to talk to.
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        await self._async_close()
        delay, max_delay = self._reconnect_delays
        attempt = 0
        while True:
            await asyncio.sleep(delay)
            attempt += 1
            try:
                app = await self._async_open()
            except RadioError as err:
                _LOGGER.debug("Reconnect attempt %d to %s failed: %s", attempt, self._path, err)
                delay = min(delay * 2, max_delay)
                continue
            break
        self._use(app)
        self._reconnecting = False
        # Still this task's own work: stopping the radio cancels the checks with it.
        results = await asyncio.gather(
            *(self.async_check_availability(room_id) for room_id in self._rooms)
        )
        _LOGGER.warning(
            "The Zigbee stick at %s is back after %d attempt(s); %d of %d rooms answer",
            self._path,
            attempt,
            sum(results),
            len(results),
        )
