"""What every benchmark mode shares: a real Home Assistant, a site on the simulated radio.

`bench_hass(config_dir)` starts one Home Assistant instance (pytest-homeassistant-custom-
component's `async_test_home_assistant`, custom integrations enabled, time zone Asia/Taipei,
the config directory a real folder so the site's Store writes to disk) and stops it at the end.
`async_setup_site(hass, rooms)` adds the site's config entry (simulated radio, local patron
directory, the rooms as subentries) and sets it up; `make_rooms(n)` makes n temporary rooms
`R0001`... . `Results` collects the JSON values and the table rows of a run.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
import contextlib
from dataclasses import dataclass, field
import time
from typing import Any

TIME_ZONE = "Asia/Taipei"


@dataclass
class Results:
    """The JSON values and the rows of the table."""

    values: dict[str, Any] = field(default_factory=dict)
    rows: list[tuple[str, str, str]] = field(default_factory=list)  # (what, value, note)

    def row(self, what: str, value: str, note: str = "") -> None:
        """Add a row to the table."""
        self.rows.append((what, value, note))


@contextlib.asynccontextmanager
async def bench_hass(config_dir: str) -> AsyncIterator[Any]:
    """A running Home Assistant with custom integrations enabled; stopped on exit."""
    from homeassistant import loader
    from homeassistant.helpers import frame
    from pytest_homeassistant_custom_component.common import async_test_home_assistant

    async with async_test_home_assistant(config_dir=config_dir) as hass:
        frame.async_setup(hass)
        hass.data.pop(loader.DATA_CUSTOM_COMPONENTS)  # the `enable_custom_integrations` fixture
        await hass.config.async_set_time_zone(TIME_ZONE)
        try:
            yield hass
        finally:
            await hass.async_stop(force=True)


async def async_warm_up(hass: Any) -> float:
    """Import the integration and its platforms, set up `http`; seconds it took."""
    from homeassistant import loader
    from homeassistant.setup import async_setup_component

    from custom_components.ntnu_library import PLATFORMS
    from custom_components.ntnu_library.const import DOMAIN

    started = time.perf_counter()
    integration = await loader.async_get_integration(hass, DOMAIN)
    await integration.async_get_component()
    await integration.async_get_platforms([str(p) for p in PLATFORMS])
    for dependency in integration.dependencies:
        if not await async_setup_component(hass, dependency, {}):
            raise RuntimeError(f"dependency {dependency} did not set up")
    return time.perf_counter() - started


def make_rooms(count: int) -> list[Any]:
    """`count` temporary rooms R0001, R0002, ... (each with its own simulated devices)."""
    from custom_components.ntnu_library.core.model import Room, RoomKind

    return [
        Room(room_id=f"R{n:04d}", name=f"Room {n}", kind=RoomKind.TEMPORARY, floor="1F")
        for n in range(1, count + 1)
    ]


SITE_ENTRY_ID = "bench_site"  # the same at every start, so a restart finds the site's Stores


def site_entry(rooms: Iterable[Any], *, demo_data: bool, policy: Any = None) -> Any:
    """The site's config entry (not yet added): simulated radio, local patrons, the rooms."""
    from pytest_homeassistant_custom_component.common import MockConfigEntry

    from custom_components.ntnu_library.const import (
        CONF_DEMO_DATA,
        CONF_PATRON_SYSTEM,
        CONF_RADIO,
        CONF_SITE_NAME,
        DOMAIN,
    )
    from custom_components.ntnu_library.core.policy import Policy
    from custom_components.ntnu_library.subentries import room_subentry

    if policy is None:
        # Open around the clock: the bench may run at any hour.
        policy = Policy(counter_opens="00:00", counter_closes="00:00", return_at_closing=False)
    return MockConfigEntry(
        domain=DOMAIN,
        entry_id=SITE_ENTRY_ID,
        title="Main Library",
        unique_id="main_library",
        data={
            CONF_SITE_NAME: "Main Library",
            CONF_RADIO: "simulated",
            CONF_PATRON_SYSTEM: "local",
            CONF_DEMO_DATA: demo_data,
        },
        options=policy.as_dict(),
        subentries_data=[room_subentry(room) for room in rooms],
    )


async def async_setup_site(hass: Any, entry: Any) -> float:
    """Add the entry (if it is not yet) and set it up; the seconds `async_setup` took."""
    from homeassistant.config_entries import ConfigEntryState

    if hass.config_entries.async_get_entry(entry.entry_id) is None:
        entry.add_to_hass(hass)
    started = time.perf_counter()
    ok = await hass.config_entries.async_setup(entry.entry_id)
    elapsed = time.perf_counter() - started
    if not ok or entry.state is not ConfigEntryState.LOADED:
        raise RuntimeError(f"the site did not set up: {entry.state}")
    return elapsed
