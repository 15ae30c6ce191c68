"""A network coordinator: the own-radio mode on an EZSP coordinator at socket://host:port.

The coordinator is `FakeNcp` behind a real TCP server on 127.0.0.1 (`NcpServer`): bellows
opens ``socket://127.0.0.1:PORT`` through zigpy's own serial layer and speaks ASH (byte
stuffing, CRC, numbered and acknowledged DATA frames, RST / RSTACK) with it, nothing patched
in between. The link is lost the two ways a gateway loses it: it hangs up but still listens
(its bridge restarted), or it is gone from the network (nothing listens) and comes back.

A UART bridge sends nothing until the host resets it; bellows first waits a moment for a
reset that zigbeed would send by itself (1 s in bellows 0.44, 2 s in 1.x). That wait is
shortened here except in the probe test, which shows the unshortened path.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
import errno
import functools
import logging
from pathlib import Path
import socket
import threading
from typing import Any
from unittest.mock import patch

import bellows.ezsp
from homeassistant.config_entries import SOURCE_USER, ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import HomeAssistantError
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from zigpy.zcl.clusters.closures import DoorLock

from custom_components.ntnu_library import backends
from custom_components.ntnu_library.const import (
    CONF_BAUDRATE,
    CONF_BELLOWS,
    CONF_DEMO_DATA,
    CONF_DEVICE_PATH,
    CONF_FLOW_CONTROL,
    CONF_PATRON_SYSTEM,
    CONF_RADIO,
    CONF_SITE_NAME,
    DOMAIN,
    PATRONS_LOCAL,
)
from custom_components.ntnu_library.demo import DEMO_ROOMS
from custom_components.ntnu_library.subentries import room_subentry
from custom_components.ntnu_library.zigbee import bellows as own_radio, compat
from custom_components.ntnu_library.zigbee.bellows import (
    BellowsRadio,
    _radio_error,
    form_path,
    network_address,
    probe,
)
from custom_components.ntnu_library.zigbee.radio import (
    DeviceEvent,
    DeviceEventType as E,
    LockOffline,
    LockState,
    RadioError,
)
from custom_components.ntnu_library.zigbee.simulated import (
    SimulatedContact,
    SimulatedDevice,
    SimulatedLock,
    SimulatedOccupancy,
    simulated_devices,
)

from ..conftest import TIME_ZONE, call_service, patron_action, refusal, state_of, until
from .fake_ncp import ROOMS, FakeNcp, NcpServer, bellows_radio, wait_for

_BELLOWS = "custom_components.ntnu_library.zigbee.bellows"
_FLOW = "custom_components.ntnu_library.config_flow"
BELLOWS_RESET_WAIT = bellows.ezsp.NETWORK_COORDINATOR_STARTUP_RESET_WAIT  # 1 s, 2 s in 1.x
LOCKED = DoorLock.LockState.Locked
UNLOCKED = DoorLock.LockState.Unlocked


@pytest.fixture(autouse=True)
def short_reset_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    """The wait for a reset the coordinator sends by itself: 0.05 s here, not bellows' 1–2 s."""
    monkeypatch.setattr(bellows.ezsp, "NETWORK_COORDINATOR_STARTUP_RESET_WAIT", 0.05)


@pytest.fixture
async def server(socket_enabled: None) -> AsyncGenerator[NcpServer]:
    """The coordinator, listening on 127.0.0.1 (a literal address: no name is resolved)."""
    async with NcpServer(FakeNcp()) as server:
        yield server


def _radio(path: str, tmp_path: Path, **kwargs: Any) -> BellowsRadio:
    return bellows_radio(path, tmp_path, **kwargs)


def _bellows_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("bellows")]


def _others() -> set[asyncio.Task[Any]]:
    return {task for task in asyncio.all_tasks() if task is not asyncio.current_task()}


@pytest.fixture
async def radio(server: NcpServer, tmp_path: Path) -> AsyncGenerator[BellowsRadio]:
    """A radio on the network coordinator whose rooms' devices joined and were configured."""
    ncp = server.ncp
    radio = _radio(server.path, tmp_path)
    await radio.async_start()
    room = ROOMS[0]
    assert room.contact is not None
    devices: list[SimulatedDevice] = [
        ncp.add(SimulatedLock, room.lock, 0x1A01),
        ncp.add(SimulatedContact, room.contact, 0x1A02),
        ncp.add(SimulatedLock, ROOMS[1].lock, 0x1B01),
    ]
    await radio.async_permit_join(60)
    for device in devices:
        ncp.join(device)
    contact = devices[1]
    assert isinstance(contact, SimulatedContact)
    await wait_for(
        lambda: (
            all(radio.lock_state(room.room_id) is LockState.LOCKED for room in ROOMS)
            and contact.enrolled
            and not radio._tasks
        )
    )
    yield radio
    await radio.async_stop()


@pytest.fixture
def events(radio: BellowsRadio) -> list[DeviceEvent]:
    received: list[DeviceEvent] = []
    radio.subscribe(received.append)
    return received


def _lock(server: NcpServer, nwk: int = 0x1A01) -> SimulatedLock:
    lock = server.ncp.devices[nwk]
    assert isinstance(lock, SimulatedLock)
    return lock


# --- the address ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("socket://192.0.2.10:6638", "socket://192.0.2.10:6638"),
        ("  SOCKET://Zigbee-GW.library.example:8888/ ", "socket://zigbee-gw.library.example:8888"),
        ("tcp://192.0.2.10:6638", "socket://192.0.2.10:6638"),
        ("socket://[2001:db8::10]:6638", "socket://[2001:db8::10]:6638"),
        ("/dev/serial/by-id/usb-Silicon_Labs-if00", "/dev/serial/by-id/usb-Silicon_Labs-if00"),
        (" /dev/ttyUSB0 ", "/dev/ttyUSB0"),
    ],
)
def test_a_path_as_the_form_stores_it(typed: str, stored: str) -> None:
    assert form_path(typed) == stored


@pytest.mark.parametrize(
    ("typed", "why"),
    [
        ("socket://192.0.2.10", "port"),  # zigpy 0.78 would guess 6638, zigpy 2 refuses
        ("socket://192.0.2.10:", "port"),
        ("socket://192.0.2.10:0", "port"),
        ("socket://192.0.2.10:65536", "port"),
        ("socket://192.0.2.10:port", "port"),
        ("socket://192.0.2.10 :6638", "spaces"),
        ("socket://zigbee gw:6638", "spaces"),
        ("socket://:6638", "host name"),
        ("socket://-gw-.example:6638", "host name"),
        ("socket:/192.0.2.10:6638", "nothing more"),
        ("socket://admin:secret@192.0.2.10:6638", "nothing more"),
        ("socket://192.0.2.10:6638/ezsp", "nothing more"),
    ],
)
def test_a_malformed_network_address_is_refused(typed: str, why: str) -> None:
    assert form_path(typed) is None
    with pytest.raises(ValueError, match=why):
        network_address(typed)


def test_zhas_port_is_compared_by_address_never_as_a_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    resolved: list[str] = []
    realpath = backends.os.path.realpath

    def watching(path: str) -> str:
        resolved.append(path)
        return realpath(path)

    monkeypatch.setattr(backends.os.path, "realpath", watching)
    assert backends.same_port("socket://zigbee-gw:6638", ["tcp://Zigbee-GW:6638/"])
    assert backends.same_port(
        "socket://192.0.2.10:6638", ["/dev/ttyUSB0", "socket://192.0.2.10:6638"]
    )
    assert not backends.same_port("socket://192.0.2.10:6638", ["socket://192.0.2.10:6639"])
    assert not backends.same_port("socket://192.0.2.10:6638", ["socket://192.0.2.10"])
    assert resolved == ["/dev/ttyUSB0"]  # only the serial port is resolved as a file


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (
            ConnectionRefusedError(errno.ECONNREFUSED, "refused"),
            "nothing listens at 192.0.2.10:6638",
        ),
        (TimeoutError(), "the Zigbee coordinator at 192.0.2.10:6638 does not answer"),
        (OSError(errno.EHOSTUNREACH, "No route to host"), "192.0.2.10:6638 cannot be reached"),
        (OSError(errno.ENETUNREACH, "Network is unreachable"), "cannot be reached"),
        (socket.gaierror(socket.EAI_NONAME, "Name or service not known"), "is not known"),
        (ConnectionResetError(errno.ECONNRESET, "reset"), "closed the connection"),
        (OSError(errno.EIO, "socket closed by peer"), "closed the connection"),
        (ValueError("odd"), "could not start the Zigbee coordinator at 192.0.2.10:6638"),
    ],
)
def test_network_errors_name_the_address(error: Exception, message: str) -> None:
    wrapped = RuntimeError("startup failed")
    wrapped.__cause__ = error
    text = str(_radio_error(wrapped, "socket://192.0.2.10:6638"))
    assert message in text
    assert "stick" not in text


def test_a_stored_address_without_port_says_how_to_fix_it() -> None:
    text = str(_radio_error(ValueError("Invalid socket URI"), "socket://192.0.2.10"))
    assert "socket://192.0.2.10 is not a network address of the form socket://host:port" in text


# --- the radio on a network coordinator -----------------------------------------------------


async def test_a_network_coordinator_starts_and_serves_its_rooms(
    radio: BellowsRadio, server: NcpServer, events: list[DeviceEvent]
) -> None:
    assert radio.connected
    assert server.connections == 1
    assert server.ncp.sent("version")
    # In this event loop, as ZHA runs a network coordinator: no bellows UART thread.
    assert _bellows_threads() == []
    await radio.async_unlock("T01")
    await wait_for(lambda: radio.lock_state("T01") is LockState.UNLOCKED)
    assert _lock(server).lock_state == UNLOCKED
    _lock(server).card_tap("04A1B2C3")
    await wait_for(lambda: any(event.type is E.CARD_TAP for event in events))


def _ours(record: logging.LogRecord) -> bool:
    """A warning or worse of the integration's."""
    return record.name.startswith("custom_components.ntnu_library") and (
        record.levelno >= logging.WARNING
    )


def _attempts(caplog: pytest.LogCaptureFixture) -> int:
    """The reconnect attempts that failed, as the radio logs them (at debug level)."""
    return sum(
        r.name == _BELLOWS and r.getMessage().startswith("Reconnect attempt ")
        for r in caplog.records
    )


def _lost_and_back(caplog: pytest.LogCaptureFixture) -> tuple[list[str], list[str]]:
    warnings = [
        r.getMessage()
        for r in caplog.records
        if r.name == _BELLOWS and r.levelno >= logging.WARNING
    ]
    return (
        [w for w in warnings if w.startswith("Lost the Zigbee coordinator at 127.0.0.1:")],
        [w for w in warnings if w.startswith("The Zigbee coordinator at 127.0.0.1:")],
    )


@pytest.mark.parametrize("how", ["hangs up", "is gone"])
async def test_a_lost_link_takes_every_room_offline_until_the_coordinator_is_back(
    radio: BellowsRadio,
    server: NcpServer,
    events: list[DeviceEvent],
    caplog: pytest.LogCaptureFixture,
    how: str,
) -> None:
    lock = _lock(server)
    caplog.set_level(logging.DEBUG, logger=_BELLOWS)
    caplog.clear()
    if how == "hangs up":
        server.drop()  # still listening: the first attempt gets through
    else:
        await server.stop()  # nothing listens: attempts are refused, with backoff
    await wait_for(lambda: not radio.connected)
    assert not radio.is_online("T01")
    assert not radio.is_online("L01")
    assert {(event.room_id, event.type) for event in events} == {
        ("T01", E.OFFLINE),
        ("L01", E.OFFLINE),
    }
    with pytest.raises(LockOffline):  # fail secure: no unlock goes anywhere
        await radio.async_unlock("T01")
    with pytest.raises(RadioError):
        await radio.async_permit_join(10)
    assert lock.lock_state == LOCKED  # still locked behind the gateway

    if how == "is gone":
        await wait_for(lambda: _attempts(caplog) >= 3)  # refused, with backoff in between
        assert not radio.connected
        assert server.connections == 1
        await server.start()  # the same port again
    events.clear()
    await wait_for(lambda: bool(_lost_and_back(caplog)[1]))  # logged once the rooms answered
    assert radio.connected
    assert radio.is_online("T01")
    assert radio.is_online("L01")
    assert server.connections == 2
    assert {(event.room_id, event.type) for event in events} == {
        ("T01", E.ONLINE),
        ("L01", E.ONLINE),
    }
    lost, back = _lost_and_back(caplog)
    assert (len(lost), len(back)) == (1, 1), (lost, back)
    assert "2 of 2 rooms answer" in back[0]
    if how == "hangs up":
        assert "(the connection was closed)" in lost[0]
    await radio.async_unlock("T01")
    await wait_for(lambda: radio.lock_state("T01") is LockState.UNLOCKED)


async def test_work_in_flight_when_the_link_goes_is_abandoned(
    radio: BellowsRadio, server: NcpServer
) -> None:
    """The application's own tasks waiting on the coordinator end cancelled, not failed.

    Failed, nobody would retrieve their error: asyncio logs it (zigpy 0.78), or zigpy does
    as an error (zigpy 2).
    """
    app = radio.app
    assert app is not None
    server.silent = True
    feeding = app.create_task(app.watchdog_feed(), "watchdog feed in flight")
    link = server.link
    assert link is not None
    await until(lambda: link.unheard > 0)  # its frame is out and not acknowledged
    assert not feeding.done()
    server.drop()
    await wait_for(feeding.done)
    assert feeding.cancelled()
    server.silent = False
    await wait_for(lambda: radio.connected)


@pytest.mark.parametrize(
    "moment", ["between attempts", "while an attempt closes", "while an attempt waits"]
)
async def test_stopping_while_reconnecting_leaves_nothing_behind(
    radio: BellowsRadio,
    server: NcpServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    moment: str,
) -> None:
    """Home Assistant stops (or the site unloads) while the coordinator is away.

    Nothing may stay behind: no task, no socket, no database (zigpy's SQLite thread).
    """
    closed: list[Any] = []
    stopping = asyncio.Event()
    shutdown = compat.async_shutdown

    async def slow_shutdown(app: Any, **kwargs: Any) -> None:
        """Close as zigpy does; an attempt's close is slow (an SD card): the stop comes first."""
        closed.append(app)
        if moment == "while an attempt closes" and len(closed) > 1:
            await stopping.wait()
        await shutdown(app, **kwargs)

    monkeypatch.setattr(compat, "async_shutdown", slow_shutdown)
    caplog.set_level(logging.DEBUG, logger=_BELLOWS)
    if moment == "while an attempt waits":
        server.silent = True  # it connects, then waits for an answer that never comes
        server.drop()
        # The attempt's connection is the second; its reset goes unanswered.
        await wait_for(
            lambda: server.connections == 2 and server.link is not None and server.link.unheard > 0
        )
    else:
        await server.stop()  # attempts are refused
    await wait_for(lambda: not radio.connected)
    if moment == "while an attempt closes":
        await wait_for(lambda: len(closed) == 2)  # the lost application, then an attempt's
    elif moment == "between attempts":
        # An attempt failed: the reconnect task waits out its backoff. Looked at after every
        # turn of the loop, this is seen before the backoff's timer can fire.
        async with asyncio.timeout(20):
            while not _attempts(caplog):  # noqa: ASYNC110
                await asyncio.sleep(0)
    stopping.set()
    await radio.async_stop()
    assert radio.app is None
    assert not radio.connected
    assert _others() == set()  # zigpy's database writer included
    await wait_for(lambda: server.link is None)  # an attempt's connection is closed too


async def test_start_errors_name_the_address(server: NcpServer, tmp_path: Path) -> None:
    address = f"127.0.0.1:{server.port}"
    other = _radio(server.path, tmp_path / "other")
    (tmp_path / "other").mkdir()
    await other.async_start()  # holds the gateway's one connection
    try:
        busy = _radio(server.path, tmp_path, start_timeout=5)
        with pytest.raises(RadioError, match=f"coordinator at {address} closed the connection"):
            await busy.async_start()
    finally:
        await other.async_stop()

    server.silent = True
    silent = _radio(server.path, tmp_path, start_timeout=0.5)
    with pytest.raises(RadioError, match=f"coordinator at {address} does not answer"):
        await silent.async_start()

    await server.stop()
    refused = _radio(server.path, tmp_path)
    with pytest.raises(RadioError, match=f"nothing listens at {address}"):
        await refused.async_start()
    for radio in (busy, silent, refused):
        assert radio.app is None
        await radio.async_stop()
    assert _others() == set()


async def test_probe_a_network_coordinator(
    server: NcpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # bellows' own wait for a reset that the gateway never sends, then bellows resets it
    monkeypatch.setattr(bellows.ezsp, "NETWORK_COORDINATOR_STARTUP_RESET_WAIT", BELLOWS_RESET_WAIT)
    assert BELLOWS_RESET_WAIT >= 1
    assert await probe(server.path) is True
    assert server.ncp.sent("version")
    assert _bellows_threads() == []

    monkeypatch.setattr(bellows.ezsp, "NETWORK_COORDINATOR_STARTUP_RESET_WAIT", 0.05)
    monkeypatch.setattr(own_radio, "NETWORK_PROBE_TIMEOUT", 0.5)
    server.silent = True  # a TCP port, but no EZSP coordinator behind it
    assert await probe(server.path) is False
    await server.stop()
    assert await probe(server.path) is False  # nothing listens
    assert await probe("socket://127.0.0.1") is False  # no port: never opened
    await wait_for(lambda: server.link is None)
    assert _others() == set()
    assert _bellows_threads() == []


# --- through Home Assistant: the config flow and a site -------------------------------------

SITE = {CONF_SITE_NAME: "Linkou", CONF_PATRON_SYSTEM: PATRONS_LOCAL, CONF_DEMO_DATA: False}


async def test_the_flow_probes_a_network_coordinator(
    hass: HomeAssistant, server: NcpServer
) -> None:
    MockConfigEntry(domain="zha", data={"device": {"path": "socket://127.0.0.1:6638"}}).add_to_hass(
        hass
    )
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], SITE | {CONF_RADIO: "bellows"}
    )
    assert result["step_id"] == "bellows"

    async def step(path: str) -> dict[str, Any]:
        stick = {CONF_DEVICE_PATH: path, CONF_BAUDRATE: 115200, CONF_FLOW_CONTROL: "none"}
        return dict(await hass.config_entries.flow.async_configure(result["flow_id"], stick))

    for malformed in ("socket://127.0.0.1", "socket://127.0.0.1:99999", "socket://127.0.0. 1:80"):
        assert (await step(malformed))["errors"] == {CONF_DEVICE_PATH: "invalid_network_address"}
    with patch(f"{_FLOW}.probe") as probing:
        # ZHA's coordinator, written another way: refused before anything is opened.
        assert (await step("tcp://127.0.0.1:6638/"))["errors"] == {
            CONF_DEVICE_PATH: "port_used_by_zha"
        }
    assert probing.call_count == 0
    assert server.connections == 0

    server.silent = True
    with patch(f"{_BELLOWS}.NETWORK_PROBE_TIMEOUT", 0.5):
        assert (await step(server.path))["errors"] == {"base": "cannot_connect_network"}
    server.silent = False
    with patch("custom_components.ntnu_library.async_setup_entry", return_value=True):
        done = await step(f" SOCKET://127.0.0.1:{server.port}/ ")
    assert done["type"] is FlowResultType.CREATE_ENTRY
    assert done["data"][CONF_BELLOWS][CONF_DEVICE_PATH] == server.path
    assert server.connections == 2  # the silent probe, then the one that answered
    await wait_for(lambda: server.link is None)  # the probe closed its connection


@pytest.fixture
async def network_site(
    hass: HomeAssistant, server: NcpServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> AsyncGenerator[MockConfigEntry]:
    """A site whose radio is the network coordinator; T01's devices joined and configured."""
    await hass.config.async_set_time_zone(TIME_ZONE)
    hass.config.config_dir = str(tmp_path)
    monkeypatch.setattr(
        "custom_components.ntnu_library.backends.BellowsRadio",
        functools.partial(
            BellowsRadio,
            command_timeout=2,
            check_timeout=1,
            reconnect_min_delay=0.01,
            reconnect_max_delay=0.04,
        ),
    )
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Linkou",
        unique_id="linkou",
        data={
            **SITE,
            CONF_RADIO: "bellows",
            CONF_DEMO_DATA: True,  # the demo patrons
            CONF_BELLOWS: {
                CONF_DEVICE_PATH: server.path,
                CONF_BAUDRATE: 115200,
                CONF_FLOW_CONTROL: "none",
            },
        },
        subentries_data=[room_subentry(DEMO_ROOMS[0])],
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    radio = entry.runtime_data.radio
    assert isinstance(radio, BellowsRadio)
    assert radio.connected

    devices = simulated_devices("T01")
    assert devices.contact is not None and devices.occupancy is not None
    ncp = server.ncp
    joining = [
        ncp.add(SimulatedLock, devices.lock, 0x1A01),
        ncp.add(SimulatedContact, devices.contact, 0x1A02),
        ncp.add(SimulatedOccupancy, devices.occupancy, 0x1A03),
    ]
    await call_service(hass, "permit_join", {"seconds": 60})
    for device in joining:
        ncp.join(device)
    contact = joining[1]
    assert isinstance(contact, SimulatedContact)
    await wait_for(
        lambda: (
            radio.is_online("T01")
            and radio.lock_state("T01") is LockState.LOCKED
            and contact.enrolled
            and not radio._tasks
        ),
    )
    await hass.async_block_till_done()
    yield entry
    if entry.state is ConfigEntryState.LOADED:
        assert await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()


async def test_a_site_on_a_network_coordinator_survives_the_link_going(
    hass: HomeAssistant,
    network_site: MockConfigEntry,
    server: NcpServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    radio = network_site.runtime_data.radio
    lock = _lock(server)
    room_entities = ("lock.t01", "sensor.t01_status", "binary_sensor.t01_door")
    assert (await patron_action(hass, "borrow", "T01", "S0001"))["door"] == "unlocked"
    await wait_for(lambda: lock.lock_state == UNLOCKED)  # Unlocked, behind the gateway
    await hass.services.async_call("lock", "lock", {"entity_id": "lock.t01"}, blocking=True)
    await wait_for(lambda: lock.lock_state == LOCKED)

    caplog.set_level(logging.DEBUG, logger=_BELLOWS)
    caplog.clear()
    await server.stop()  # the building's gateway is off the network
    await wait_for(lambda: not radio.connected)
    await hass.async_block_till_done()
    lost, _ = _lost_and_back(caplog)
    assert [r.getMessage() for r in caplog.records if _ours(r)] == lost  # one line, not per room
    for entity_id in room_entities:
        assert state_of(hass, entity_id) == STATE_UNAVAILABLE, entity_id
    with pytest.raises(HomeAssistantError) as refused:
        await patron_action(hass, "open", "T01", "S0001")
    assert refusal(refused.value) == "lock_offline"
    assert lock.lock_state == LOCKED
    await wait_for(lambda: _attempts(caplog) >= 3)  # refused, with backoff in between

    await server.start()
    await wait_for(lambda: bool(_lost_and_back(caplog)[1]))
    assert radio.connected
    assert radio.is_online("T01")
    await hass.async_block_till_done()
    for entity_id in room_entities:
        assert state_of(hass, entity_id) != STATE_UNAVAILABLE, entity_id
    assert state_of(hass, "sensor.t01_status") == "in_use"
    lost, back = _lost_and_back(caplog)
    assert (len(lost), len(back)) == (1, 1), (lost, back)
    assert (await patron_action(hass, "open", "T01", "S0001"))["door"] == "unlocked"
    await wait_for(lambda: lock.lock_state == UNLOCKED)
