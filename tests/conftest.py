"""Fixtures: a real Home Assistant with the integration on the simulated Zigbee network."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable, Generator
from pathlib import Path
import re
import sys
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import CONF_HOST, CONF_PORT, MAJOR_VERSION, MINOR_VERSION
from homeassistant.core import Context, Event, HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events
from pytest_homeassistant_custom_component.syrupy import HomeAssistantSnapshotExtension
from syrupy.assertion import SnapshotAssertion
from syrupy.location import PyTestLocation

from custom_components.ntnu_library.const import (
    CONF_DEMO_DATA,
    CONF_INSTITUTION,
    CONF_LOCATION,
    CONF_LOGIN_PASSWORD,
    CONF_LOGIN_USER,
    CONF_PATRON_SYSTEM,
    CONF_RADIO,
    CONF_SIP2,
    CONF_SITE_NAME,
    CONF_TLS,
    CONF_VERIFY_TLS,
    DOMAIN,
    EVENT_NAME,
    PATRONS_LOCAL,
    PATRONS_SIP2,
)
from custom_components.ntnu_library.core.errors import UNREACHABLE
from custom_components.ntnu_library.core.policy import Policy
from custom_components.ntnu_library.demo import DEMO_PASSWORD, DEMO_ROOMS
from custom_components.ntnu_library.subentries import room_subentry
from custom_components.ntnu_library.transaction import Transaction
from custom_components.ntnu_library.websocket import async_patron_action

# The ILS (scripts/lib/ils.py) is a real SIP2 server the tests and the demo run on loopback.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts" / "lib"))
from ils import IlsServer, demo_patrons

PASSWORD = DEMO_PASSWORD
ILS_LOGIN_USER = "ntnu-door"
ILS_LOGIN_PASSWORD = "ntnu-door-secret"
TIME_ZONE = "Asia/Taipei"
# A fixed moment for tests of the clocks (counter hours, check-in days, timers).
NOW = "2025-03-12 10:00:00+08:00"
THIS_MONTH = "2025-03"
# The default site: five rooms set up in a fraction of the demo's time. Two idle temporary
# rooms (T01, T02), two long-term rooms the demo reserves this month (L01 for D0001, L02 for
# X0001) and an idle one (L03).
SMALL_SITE = ("T01", "T02", "L01", "L02", "L03")
# The demo's eighteen rooms, for the tests about the whole site (parametrize `site_rooms`).
WHOLE_SITE = tuple(room.room_id for room in DEMO_ROOMS)
# What add_patron and update_patron (reset_password) hand staff for the patron.
ACTIVATION_CODE = re.compile(r"[A-Z2-9]{4}(-[A-Z2-9]{4}){3}")


class SeriesSnapshotExtension(HomeAssistantSnapshotExtension):
    """Snapshots per Home Assistant release series: registry entries differ between them."""

    @classmethod
    def dirname(cls, *, test_location: PyTestLocation) -> str:
        """tests/snapshots/<major>.<minor>/."""
        return str(
            Path(test_location.filepath).parent / "snapshots" / f"{MAJOR_VERSION}.{MINOR_VERSION}"
        )


@pytest.fixture
def snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """Home Assistant's serializer (no ids, no times), one folder per release series."""
    return snapshot.use_extension(SeriesSnapshotExtension)


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load custom_components/ntnu_library."""


@pytest.fixture(autouse=True)
def every_change_in_the_transaction() -> Generator[None]:
    """Every test checks that state changes only in the one transaction, each part it names."""
    Transaction.verify = True
    Transaction.violations.clear()
    yield
    violations = list(Transaction.violations)
    Transaction.violations.clear()
    assert not violations, violations


@pytest.fixture
def policy_options() -> dict[str, Any]:
    """A policy whose clocks do not depend on when the suite runs.

    The counter never closes and nothing returns at closing; tests of the clocks set them.
    """
    return Policy(counter_opens="00:00", counter_closes="00:00", return_at_closing=False).as_dict()


@pytest.fixture
def patron_system() -> str:
    """Where the site checks patrons: its own directory, or the ILS over SIP2 (`ils`)."""
    return PATRONS_LOCAL


@pytest.fixture
async def ils(
    patron_system: str, request: pytest.FixtureRequest
) -> AsyncGenerator[IlsServer | None]:
    """A real SIP2 server on loopback serving the demo patrons, for SIP2 sites."""
    if patron_system != PATRONS_SIP2:
        yield None
        return
    request.getfixturevalue("socket_enabled")
    async with IlsServer(
        demo_patrons(), login_user=ILS_LOGIN_USER, login_password=ILS_LOGIN_PASSWORD
    ) as server:
        yield server


def sip2_settings(server: IlsServer) -> dict[str, Any]:
    """The entry's SIP2 settings for a loopback ILS."""
    return {
        CONF_HOST: "127.0.0.1",
        CONF_PORT: server.port,
        CONF_TLS: False,
        CONF_VERIFY_TLS: True,
        CONF_INSTITUTION: server.institution,
        CONF_LOGIN_USER: ILS_LOGIN_USER,
        CONF_LOGIN_PASSWORD: ILS_LOGIN_PASSWORD,
        CONF_LOCATION: "",
    }


@pytest.fixture
def site_rooms() -> tuple[str, ...]:
    """The demo rooms the site has: five, unless a test needs the whole site (`WHOLE_SITE`)."""
    return SMALL_SITE


@pytest.fixture
def mock_config_entry(
    policy_options: dict[str, Any],
    site_rooms: tuple[str, ...],
    patron_system: str,
    ils: IlsServer | None,
) -> MockConfigEntry:
    """The demo site: its patrons and reservations, the rooms of `site_rooms`."""
    return MockConfigEntry(
        domain=DOMAIN,
        title="Main Library",
        unique_id="main_library",
        data={
            CONF_SITE_NAME: "Main Library",
            CONF_RADIO: "simulated",
            CONF_PATRON_SYSTEM: patron_system,
            CONF_DEMO_DATA: True,
            **({CONF_SIP2: sip2_settings(ils)} if ils is not None else {}),
        },
        options=policy_options,
        subentries_data=[room_subentry(r) for r in DEMO_ROOMS if r.room_id in site_rooms],
    )


@pytest.fixture
async def init_integration(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> AsyncGenerator[MockConfigEntry]:
    """Set the demo site up and take it down again after the test."""
    await hass.config.async_set_time_zone(TIME_ZONE)
    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    yield mock_config_entry
    removed = hass.config_entries.async_get_entry(mock_config_entry.entry_id) is None
    if mock_config_entry.state.recoverable and not removed:
        await hass.config_entries.async_unload(mock_config_entry.entry_id)
        await hass.async_block_till_done()


@pytest.fixture
def frozen_clock(freezer: FrozenDateTimeFactory) -> FrozenDateTimeFactory:
    """Freeze the clock at NOW; list it before init_integration so the demo seeds then."""
    freezer.move_to(NOW)
    return freezer


@pytest.fixture
def events(hass: HomeAssistant) -> list[Event]:
    """Every ntnu_library_event from now on."""
    return async_capture_events(hass, EVENT_NAME)


async def call_service(
    hass: HomeAssistant, service: str, data: dict[str, Any], context: Context | None = None
) -> dict[str, Any]:
    """Call one of the integration's services and wait for what it set off."""
    response = await hass.services.async_call(
        DOMAIN, service, data, blocking=True, return_response=True, context=context
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    assert response is not None
    return dict(response)


async def patron_action(
    hass: HomeAssistant,
    action: str,
    room: str,
    patron_id: str,
    password: str = PASSWORD,
    *,
    config_entry_id: str | None = None,
    caller: str | None = None,
) -> dict[str, Any]:
    """A patron's own borrow, open or return with ID and password, and what it set off.

    What the websocket command `ntnu_library/patron_action` runs once its message is valid;
    refusals are the translated ServiceValidationError keyed by their reason.
    """
    result = await async_patron_action(
        hass,
        room=room,
        action=action,
        patron_id=patron_id,
        password=password,
        config_entry_id=config_entry_id,
        caller=caller,
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    return result


async def activate(
    entry: MockConfigEntry, patron_id: str, code: str, password: str
) -> dict[str, Any]:
    """The patron chooses their password with the code staff handed over (the activation page)."""
    runtime = entry.runtime_data
    answer: dict[str, Any] = await runtime.directory.async_activate(
        patron_id, code, password, address=None
    )
    return answer


async def in_transaction[T](entry: MockConfigEntry, change: Callable[[], T]) -> T:
    """Set up a scene by changing a site's (or its library's) state as the run time would."""
    site = entry.runtime_data
    library = site.library
    return await library.transaction.async_run(
        lambda _now: change(),
        site.kept_rooms,
        library.kept_patrons,
        library.kept_circulation,
        library.kept_directory,
    )


def refusal(err: HomeAssistantError) -> str:
    """A refusal's reason, once its kind is checked.

    A refusal of the request is a ServiceValidationError; a part that cannot be reached (a lock
    offline, the patron system down) is a plain HomeAssistantError.
    """
    assert err.translation_domain == DOMAIN
    key = str(err.translation_key)
    assert isinstance(err, ServiceValidationError) is (key not in {r.value for r in UNREACHABLE})
    return key


async def until(condition: Callable[[], bool], *, turns: int = 10_000) -> None:
    """Let the event loop run, a turn at a time, until `condition` holds.

    For what happens on this loop, or reaches it over a loopback socket (the kernel hands the
    bytes over at once): no clock is waited on, so a busy machine makes it slower, never fail.
    """
    for _ in range(turns):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError(f"still not so after {turns} turns of the event loop")


def state_of(hass: HomeAssistant, entity_id: str) -> str:
    """An entity's state; the entity must exist."""
    state = hass.states.get(entity_id)
    assert state is not None, entity_id
    return state.state
