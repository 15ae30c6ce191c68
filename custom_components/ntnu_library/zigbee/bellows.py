"""Own radio: a Silicon Labs EZSP coordinator driven by bellows, with the rooms on it.

`BellowsRadio` starts bellows' `ControllerApplication` on a serial port, or on a network
coordinator (an Ethernet or Wi-Fi gateway serving its EZSP UART over TCP) at
``socket://host:port``, with its own zigpy database, forms a network when the stick has
none, attaches the shared room layer and configures the rooms' devices (bind, reporting,
IAS enrollment). bellows' watchdog stays on: when the stick stops answering, the port goes
away or the TCP connection drops, zigpy calls `connection_lost`; every room goes offline
(fail secure: unlocks raise `LockOffline`) and a task reconnects with exponential backoff
until the coordinator is back, then checks every room's lock.

A network coordinator runs in Home Assistant's event loop, not in bellows' UART thread (as
ZHA does: that thread can carry a cancellation into the main loop when a TCP connection
fails), and its address is always ``host:port``: zigpy 0.78 would take a missing port as
6638, zigpy 2 refuses it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, MutableMapping
import contextlib
import errno
import ipaddress
import logging
import re
import socket
from typing import Any
import urllib.parse

from bellows.config import CONF_USE_THREAD
from bellows.zigbee.application import ControllerApplication
import zigpy.config as conf
import zigpy.types as t

from . import compat
from .layer import DEFAULT_CHECK_TIMEOUT, DEFAULT_COMMAND_TIMEOUT
from .owned import OwnedNetwork
from .radio import RadioError, RoomDevices, Spawn

_LOGGER = logging.getLogger(__name__)

# The serial settings of a stick: its speed, and how the flow is controlled ("none": not).
DEFAULT_BAUDRATE = 115200
FLOW_CONTROLS = ("none", "software", "hardware")

# bellows resets the stick up to three times (2.5–5 s each) before giving up by itself.
DEFAULT_START_TIMEOUT = 60.0
RECONNECT_MIN_DELAY = 1.0
RECONNECT_MAX_DELAY = 60.0

# A network coordinator that accepts but never answers: bounded like a stick's probe.
NETWORK_PROBE_TIMEOUT = 20.0

_MISSING = frozenset({errno.ENOENT, errno.ENODEV, errno.ENXIO})
_BUSY = frozenset({errno.EACCES, errno.EPERM, errno.EBUSY})
_UNREACHABLE = frozenset({errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN})
_CLOSED = frozenset({errno.ECONNRESET, errno.ECONNABORTED, errno.EPIPE, errno.EIO})

# zigpy opens both as TCP; ``socket://`` is the spelling bellows knows a network coordinator by.
NETWORK_SCHEMES = frozenset({"socket", "tcp"})
_HOST_LABEL = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)")


def network_address(path: str) -> str | None:
    """``host:port`` of a network coordinator's ``socket://host:port``; None for a serial port.

    Raises ValueError, saying what is wrong, for a network address that is not host:port
    (no port or one outside 1–65535, spaces, a user name, a path, an odd host name).
    """
    parts = urllib.parse.urlsplit(path)
    if parts.scheme.lower() not in NETWORK_SCHEMES:
        return None
    if any(char.isspace() for char in path):
        raise ValueError("a network address has no spaces")
    if parts.username is not None or parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError("a network address is socket://host:port and nothing more")
    try:
        port = parts.port  # ValueError for a port that is no number or above 65535
    except ValueError:
        port = None
    if port is None or not 1 <= port <= 65535:
        raise ValueError("a network address needs a port from 1 to 65535")
    host = parts.hostname or ""
    try:
        if ipaddress.ip_address(host).version == 6:
            return f"[{host}]:{port}"
    except ValueError:
        labels = host.removesuffix(".").split(".")
        if len(host) > 253 or not all(_HOST_LABEL.fullmatch(label) for label in labels):
            raise ValueError(f"not a host name or IP address: {host!r}") from None
    return f"{host}:{port}"


def form_path(text: str) -> str | None:
    """The path a form's field holds: stripped, a network coordinator as ``socket://host:port``.

    None for a malformed network address (see `network_address`); a serial path as typed.
    """
    path = text.strip()
    try:
        address = network_address(path)
    except ValueError:
        return None
    return path if address is None else f"socket://{address}"


def _describe(path: str) -> str:
    """The coordinator at `path` in words: a stick on a port, or a coordinator on the network."""
    try:
        address = network_address(path)
    except ValueError:
        return f"Zigbee coordinator at {path}"
    return f"Zigbee stick at {path}" if address is None else f"Zigbee coordinator at {address}"


def serial_flow_control(flow_control: str | None) -> str | None:
    """The form's "none" is bellows' None; anything not in FLOW_CONTROLS is refused."""
    if flow_control in (None, "none"):
        return None
    if flow_control not in FLOW_CONTROLS:
        raise ValueError(f"flow_control must be one of {FLOW_CONTROLS}, not {flow_control!r}")
    return flow_control


def _device(path: str, baudrate: int, flow_control: str | None) -> dict[str, Any]:
    return {
        conf.CONF_DEVICE_PATH: path,
        conf.CONF_DEVICE_BAUDRATE: baudrate,
        conf.CONF_DEVICE_FLOW_CONTROL: compat.bellows_flow_control(flow_control),
    }


def _threading(path: str) -> dict[str, Any]:
    """A network coordinator runs in this event loop, never in bellows' UART thread."""
    try:
        network = network_address(path) is not None
    except ValueError:
        network = True
    return {CONF_USE_THREAD: False} if network else {}


def _config(
    path: str, baudrate: int, flow_control: str | None, database_path: str | None
) -> dict[str, Any]:
    """Bellows' configuration as a raw dict (the constructor validates it)."""
    return {
        conf.CONF_DATABASE: database_path,
        conf.CONF_DEVICE: _device(path, baudrate, flow_control),
        **_threading(path),
        conf.CONF_OTA: {conf.CONF_OTA_ENABLED: False},
        **compat.NO_SEND_RETRIES,
        # A backup of the network keys lets a replacement stick take over the network.
        conf.CONF_NWK_BACKUP_ENABLED: True,
        conf.CONF_TOPO_SCAN_ENABLED: False,
        conf.CONF_STARTUP_ENERGY_SCAN: False,
        # The watchdog is how a silent stick is noticed: it calls connection_lost.
        conf.CONF_WATCHDOG_ENABLED: True,
    }


def _radio_error(err: BaseException, path: str, lost: BaseException | None = None) -> RadioError:
    """A RadioError saying in plain words what is wrong with the coordinator at `path`.

    `lost`: the link went while starting; it explains an `err` that says nothing by itself.
    """
    try:
        address = network_address(path)
    except ValueError as bad:
        return RadioError(f"{path} is not a network address of the form socket://host:port: {bad}")
    for cause in (err, lost):
        if address is None and (message := _stick_problem(cause, path)):
            return RadioError(message)
        if address is not None and (message := _network_problem(cause, address)):
            return RadioError(message)
    if address is None:
        return RadioError(f"could not start the Zigbee stick at {path}: {err!r}")
    return RadioError(f"could not start the Zigbee coordinator at {address}: {err!r}")


def _stick_problem(cause: BaseException | None, path: str) -> str | None:
    """What the error (or what caused it) says of the stick at `path`; None: nothing known."""
    while cause is not None:
        if isinstance(cause, FileNotFoundError) or getattr(cause, "errno", None) in _MISSING:
            return f"no Zigbee stick at {path} (unplugged or renamed?)"
        if isinstance(cause, PermissionError) or getattr(cause, "errno", None) in _BUSY:
            return f"the Zigbee stick at {path} is in use by another program or not accessible"
        if isinstance(cause, TimeoutError):
            return f"the Zigbee stick at {path} does not answer (is it an EZSP stick?)"
        if isinstance(cause, ConnectionRefusedError):
            return f"nothing listens at {path}"
        cause = cause.__cause__ or cause.__context__
    return None


def _network_problem(cause: BaseException | None, address: str) -> str | None:
    """What the error says of the network coordinator at `address` (host:port), if anything."""
    while cause is not None:
        code = getattr(cause, "errno", None)
        if isinstance(cause, socket.gaierror):
            return f"the host name in {address} is not known (use its IP address?)"
        if isinstance(cause, ConnectionRefusedError):
            return f"nothing listens at {address} (wrong port, or the gateway is off?)"
        if isinstance(cause, TimeoutError):
            return (
                f"the Zigbee coordinator at {address} does not answer "
                "(switched off, unreachable, or not an EZSP coordinator?)"
            )
        if code in _UNREACHABLE:
            return f"{address} cannot be reached from Home Assistant"
        if isinstance(cause, ConnectionError) or code in _CLOSED:
            return (
                f"the Zigbee coordinator at {address} closed the connection "
                "(is another program connected to it?)"
            )
        cause = cause.__cause__ or cause.__context__
    return None


async def probe(
    path: str, baudrate: int = DEFAULT_BAUDRATE, flow_control: str | None = None
) -> bool:
    """Whether an EZSP coordinator answers at `path` (for the config flow; never raises).

    A stick is probed as bellows does (its baud rates in turn); a network coordinator once,
    in this event loop and within NETWORK_PROBE_TIMEOUT.
    """
    try:
        device = _device(path, baudrate, serial_flow_control(flow_control))
        if network_address(path) is None:
            return bool(await ControllerApplication.probe(device))
        app = ControllerApplication({conf.CONF_DEVICE: device, **_threading(path)})
        try:
            async with asyncio.timeout(NETWORK_PROBE_TIMEOUT):
                await app.connect()
        finally:
            await app.disconnect()
    except Exception:
        _LOGGER.debug("Probing %s failed", path, exc_info=True)
        return False
    return True


async def _async_shutdown(app: Any) -> None:
    """Shut `app` down to the end (its database closed) even when the caller is cancelled.

    Stopping the radio cancels a reconnect attempt wherever it is, also while it closes the
    application of a failed attempt: cut short there, the database would stay open.
    """
    closing = asyncio.ensure_future(compat.async_shutdown(app))
    try:
        await asyncio.shield(closing)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await closing
        raise


class _StartWatch:
    """The link going while bellows starts: the real cause of what fails next.

    (bellows 1.x then fails on the closed transport: "'NoneType' object has no attribute …".)
    """

    lost: BaseException | None = None

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = exc or ConnectionResetError(errno.ECONNRESET, "closed by the other end")


class _RadioListener:
    """zigpy application events the own radio handles (looked up by method name)."""

    def __init__(self, radio: BellowsRadio) -> None:
        self._radio = radio

    def connection_lost(self, exc: Exception | None) -> None:
        self._radio._connection_lost(exc)  # None: the TCP connection was closed

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
        configured: MutableMapping[str, str] | None = None,
        on_configured: Callable[[], None] | None = None,
    ) -> None:
        self._path = path
        self._what = _describe(path)  # for the log: "Zigbee stick at …" / "… coordinator at …"
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
            configured=configured,
            on_configured=on_configured,
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
        watch = _StartWatch()
        try:
            app = await self._async_new_application(config)
            app.add_listener(watch)
            async with asyncio.timeout(self._start_timeout):
                await app.startup(auto_form=True)
        except BaseException as err:
            lost = watch.lost  # before our own shutdown closes the link as well
            if app is not None:
                await _async_shutdown(app)
            if isinstance(err, Exception):
                raise _radio_error(err, self._path, lost) from err
            raise
        finally:
            if app is not None:
                app.remove_listener(watch)
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
                await _async_shutdown(await opening)
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
        await _async_shutdown(app)

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
        await asyncio.gather(*(self.async_configure(room.room_id, again=False) for room in rooms))

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

    def _connection_lost(self, exc: Exception | None) -> None:
        if self._own is None or self._reconnecting:
            return  # stopping, or already reconnecting (watchdog and port both tell)
        _LOGGER.warning(
            "Lost the %s (%s); every room is offline until it is back",
            self._what,
            "the connection was closed" if exc is None else repr(exc),
        )
        # Reconnecting first: listeners told of the rooms going see `connected` False.
        self._reconnecting = True
        compat.abandon_tasks(self._own)
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
                _LOGGER.debug("Reconnect attempt %d to the %s: %s", attempt, self._what, err)
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
            "The %s is back after %d attempt(s); %d of %d rooms answer",
            self._what,
            attempt,
            sum(results),
            len(results),
        )
