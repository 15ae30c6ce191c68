"""The rush: next month opens and 200 patrons ask for the six long-term rooms at once.

Every room goes to exactly one patron, nobody gets two, every other patron is told why not (the
room is taken, and what is still free), every reservation is on disk before it is answered, and
a restart of the site in between loses nothing.
"""

from __future__ import annotations

import asyncio
from collections import Counter
import time
from typing import Any

import bcrypt
from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ntnu_library.const import DOMAIN
from custom_components.ntnu_library.core.reservation_rules import DEFAULT_LONG_TERM_CATEGORIES

from ..conftest import PASSWORD
from .reserve_browser import Browser

LONG_TERM = ("L01", "L02", "L03", "L04", "L05", "L06")
APRIL = "2025-04"
PATRONS = 200
# Logins before the opening come a few at a time (a login queue lets one address have 32
# waiting); the rush itself needs no password check.
LOGINS_AT_ONCE = 16


@pytest.fixture
def frozen_clock(freezer: FrozenDateTimeFactory) -> FrozenDateTimeFactory:
    """A few minutes before April opens (20 March, 09:00 in Taipei)."""
    freezer.move_to("2025-03-20 08:55:00+08:00")
    return freezer


@pytest.fixture
def site_rooms() -> tuple[str, ...]:
    """A temporary room and the demo's six long-term rooms."""
    return ("T01", *LONG_TERM)


def _wall_clock() -> float:
    """Seconds on the machine's own clock, whatever the frozen clock of the test says."""
    return time.clock_gettime(time.CLOCK_MONOTONIC)


def rush_patrons() -> list[dict[str, Any]]:
    """200 eligible patrons (J0000–J0199, of every eligible category), as the directory keeps them."""
    password_hash = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()
    categories = DEFAULT_LONG_TERM_CATEGORIES
    return [
        {
            "patron_id": f"J{number:04d}",
            "name": f"Rush Reader {number}",
            "category": categories[number % len(categories)],
            "membership_expires": None,
            "suspended": False,
            "card": f"C-J{number:04d}",
            "password_hash": password_hash,
        }
        for number in range(PATRONS)
    ]


def stored_reservations(hass_storage: dict[str, Any], entry: MockConfigEntry) -> dict[str, str]:
    """April's reservations as the site's Store has them on disk: room -> patron."""
    data = hass_storage[f"{DOMAIN}.{entry.entry_id}"]["data"]
    return {
        held["room"]: held["patron_id"]
        for held in data["library"]["reservations"]
        if held["month"] == APRIL
    }


def april(entry: MockConfigEntry) -> dict[str, str]:
    """April's reservations as the running site has them: room -> patron."""
    rooms = entry.runtime_data.rooms
    return {room: pid for room, month, pid in rooms.reservations() if month == APRIL}


async def test_two_hundred_patrons_six_rooms(
    hass: HomeAssistant,
    frozen_clock: FrozenDateTimeFactory,
    init_integration: MockConfigEntry,
    hass_client_no_auth: Any,
    hass_storage: dict[str, Any],
    record_property: Any,
) -> None:
    entry = init_integration
    directory = entry.runtime_data.patrons.directory
    assert directory is not None
    await directory.async_import(rush_patrons())
    client = await hass_client_no_auth()
    browsers = [Browser(client) for _ in range(PATRONS)]
    try:
        # 08:55: everyone logs in and waits; April is not open yet.
        gate = asyncio.Semaphore(LOGINS_AT_ONCE)

        async def log_in(number: int) -> int:
            async with gate:
                return await browsers[number].login(f"J{number:04d}")

        assert await asyncio.gather(*(log_in(n) for n in range(PATRONS))) == [200] * PATRONS
        early = browsers[0]
        assert await early.choose("L01", APRIL) == 403
        assert "Reservations for April 2025 open at 09:00." in early.problem

        # 09:00: each patron picks a room (six rooms, about 33 patrons each) and confirms.
        frozen_clock.move_to("2025-03-20 09:00:00+08:00")
        wanted = {number: LONG_TERM[number % len(LONG_TERM)] for number in range(PATRONS)}
        for number, browser in enumerate(browsers):
            assert await browser.choose(wanted[number], APRIL) == 200
            assert f"Reserve room {wanted[number]} for April 2025?" in browser.text

        answered_on_disk: list[bool] = []

        async def confirm(number: int) -> int:
            status = await browsers[number].post(action="reserve", room=wanted[number], month=APRIL)
            if status == 200:  # answered: it must be on disk by now
                on_disk = stored_reservations(hass_storage, entry)
                answered_on_disk.append(on_disk.get(wanted[number]) == f"J{number:04d}")
            return status

        started = _wall_clock()
        statuses = await asyncio.gather(*(confirm(n) for n in range(PATRONS)))
        took = _wall_clock() - started
        # How long the rush took, for whoever reads the run (-s; or the JUnit report).
        record_property("rush_seconds", round(took, 3))
        print(f"\nrush: {PATRONS} reservations, {len(LONG_TERM)} rooms: {took:.2f} s")  # noqa: T201

        winners = [n for n, status in enumerate(statuses) if status == 200]
        losers = [n for n, status in enumerate(statuses) if status != 200]
        # As many winners as rooms, each room once, no patron twice.
        assert len(winners) == len(LONG_TERM)
        assert sorted(wanted[n] for n in winners) == sorted(LONG_TERM)
        held = april(entry)
        assert sorted(held) == sorted(LONG_TERM)
        assert sorted(held.values()) == sorted(f"J{n:04d}" for n in winners)
        assert answered_on_disk == [True] * len(winners)
        for number in winners:
            assert f"Room {wanted[number]} is yours for April 2025." in browsers[number].result
        # Every other patron is told why, and what is left (nothing, by the end).
        assert Counter(statuses[n] for n in losers) == {403: PATRONS - len(LONG_TERM)}
        for number in losers:
            problem = browsers[number].problem
            assert f"Room {wanted[number]} is already reserved for April 2025." in problem
            assert "Still free for April 2025:" in problem or "any more" in problem
        assert any("any more" in browsers[n].problem for n in losers)

        # On disk as in memory; a restart of the site keeps it all.
        assert stored_reservations(hass_storage, entry) == held
        assert await hass.config_entries.async_reload(entry.entry_id)
        await hass.async_block_till_done()
        assert april(entry) == held
        for room in LONG_TERM:
            assert entry.runtime_data.rooms.state.reservations[(room, APRIL)] == held[room]
        # A winner sees it after the restart; a loser still cannot have it.
        winner, loser = browsers[winners[0]], browsers[losers[0]]
        assert await winner.get() == 200
        assert f"{wanted[winners[0]]}" in winner.text and "April 2025" in winner.text
        assert await loser.choose(wanted[losers[0]], APRIL) == 403
    finally:
        await asyncio.gather(*(browser.session.close() for browser in browsers))


async def test_one_patron_asking_twice_at_once_gets_one_room(
    hass: HomeAssistant,
    frozen_clock: FrozenDateTimeFactory,
    init_integration: MockConfigEntry,
    hass_client_no_auth: Any,
) -> None:
    """Two browsers of one patron, two rooms, one moment: one room, and the reason for the other."""
    frozen_clock.move_to("2025-03-20 09:00:00+08:00")
    client = await hass_client_no_auth()
    async with Browser(client) as phone, Browser(client) as laptop:
        for browser, room in ((phone, "L03"), (laptop, "L04")):
            assert await browser.login("G0001") == 200
            assert await browser.choose(room, APRIL) == 200
        statuses = await asyncio.gather(
            phone.post(action="reserve", room="L03", month=APRIL),
            laptop.post(action="reserve", room="L04", month=APRIL),
        )
        assert sorted(statuses) == [200, 403]
        loser = laptop if statuses[1] == 403 else phone
        assert "one patron may hold 1 long-term study room(s) a month" in loser.problem
    assert list(april(init_integration).values()) == ["G0001"]
