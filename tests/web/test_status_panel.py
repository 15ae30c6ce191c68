"""The public status panel: the page, its JSON and its stream show rooms, never patrons."""

from __future__ import annotations

import asyncio
from datetime import timedelta
import json
import re
from typing import Any
from unittest.mock import patch

from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient
from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import SOURCE_USER, ConfigEntryState
from homeassistant.const import CONF_NAME, EVENT_HOMEASSISTANT_STOP
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.ntnu_library.const import (
    CONF_DEMO_DATA,
    CONF_FLOOR,
    CONF_KIND,
    CONF_PATRON_SYSTEM,
    CONF_RADIO,
    CONF_ROOM_ID,
    CONF_SITE_NAME,
    DOMAIN,
    PATRONS_LOCAL,
    SIGNAL_PUBLIC_STATUS,
    SUBENTRY_ROOM,
)
from custom_components.ntnu_library.demo import DEMO_BRANCH_ROOMS, DEMO_PATRONS, DEMO_ROOMS
from custom_components.ntnu_library.subentries import room_subentry
from custom_components.ntnu_library.web import status_panel
from custom_components.ntnu_library.web.context import (
    STATUS_API_PATH,
    STATUS_PATH,
    STATUS_STREAM_PATH,
)
from custom_components.ntnu_library.web.status_panel import STREAMS

from ..conftest import TIME_ZONE, WHOLE_SITE, until

WHOLE_SITE_IDS = set(WHOLE_SITE)
SCRIPT_NAME = "<script>alert(1)</script>"
# A tile as the server renders it: its status class, its room id, its status word.
TILE = re.compile(
    r'<li class="tile status-(?P<status>[a-z_]+)"><span class="room-id">(?P<room>[^<]*)</span>'
    r'(?:<span class="room-name">[^<]*</span>)?<span class="room-status">(?P<word>[^<]*)</span>'
)
ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


@pytest.fixture
async def client(
    init_integration: MockConfigEntry, hass_client_no_auth: ClientSessionGenerator
) -> TestClient:
    """A client of the demo site's Home Assistant (HTTP is up once the integration is)."""
    return await hass_client_no_auth()


async def _json(client: TestClient) -> dict[str, Any]:
    response = await client.get(STATUS_API_PATH)
    assert response.status == 200
    assert response.content_type == "application/json"
    return await response.json()


async def _page(client: TestClient, query: str = "", **headers: str) -> str:
    response = await client.get(STATUS_PATH + query, headers=headers)
    assert response.status == 200
    assert response.content_type == "text/html"
    return await response.text()


def _statuses(data: dict[str, Any], site: int = 0) -> dict[str, str]:
    return {room["room"]: room["status"] for room in data["sites"][site]["rooms"]}


def _tiles(page: str) -> dict[str, tuple[str, str]]:
    return {m["room"]: (m["status"], m["word"]) for m in TILE.finditer(page)}


async def _event(response: ClientResponse, seconds: float = 30) -> tuple[dict[str, Any], str]:
    """The next data event of a stream (comments skipped) and the raw text it came in."""
    raw: list[str] = []
    data: list[str] = []
    async with asyncio.timeout(seconds):
        while True:
            line = (await response.content.readline()).decode()
            assert line, "the stream ended"
            raw.append(line)
            line = line.rstrip("\r\n")
            if line.startswith("data:"):
                data.append(line.removeprefix("data:").removeprefix(" "))
            elif not line and data:
                return json.loads("\n".join(data)), "".join(raw)


async def _data_line(response: ClientResponse) -> str:
    """The next line of data (comments and blank lines skipped)."""
    while True:
        line = (await response.content.readline()).decode()
        assert line, "the stream ended"
        if line.startswith("data:"):
            return line


async def _nothing_sent(response: ClientResponse) -> None:
    """Nothing arrives while the event loop turns: what the server has due, it sends at once.

    For the tests on the frozen clock, where nothing is due until the test moves the clock.
    """
    for _ in range(100):
        await asyncio.sleep(0)
    assert response.content.read_nowait() == b""


def _assert_secure(response: ClientResponse) -> None:
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert not any(name.lower().startswith("access-control-") for name in response.headers)


# --- what the panel shows ------------------------------------------------------------------


# The demo's whole site: 18 rooms on two floors, T10 to T12 sorted after T09.
@pytest.mark.parametrize("site_rooms", [WHOLE_SITE])
async def test_page_and_json_show_every_room_with_its_status(
    hass: HomeAssistant, init_integration: MockConfigEntry, client: TestClient
) -> None:
    runtime = init_integration.runtime_data
    await runtime.commands.async_counter_action("borrow", "T01", "S0001")
    await hass.services.async_call(
        DOMAIN, "simulate", {"room": "T02", "action": "offline"}, blocking=True
    )
    await hass.async_block_till_done()

    data = await _json(client)
    assert [site["site"] for site in data["sites"]] == ["Main Library"]
    statuses = _statuses(data)
    assert set(statuses) == WHOLE_SITE_IDS
    expected = dict.fromkeys(WHOLE_SITE_IDS, "idle") | {
        "T01": "in_use",
        "T02": "unavailable",
        "L01": "reserved",  # the demo's D0001 holds it this month
        "L02": "reserved",  # and X0001 this one
    }
    assert statuses == expected
    site = data["sites"][0]
    assert site["counts"] == {
        "total": 18,
        "idle": 14,
        "in_use": 1,
        "reserved": 2,
        "unavailable": 1,
    }
    assert site["kinds"] == [
        {"kind": "temporary", "total": 12, "idle": 10},
        {"kind": "long_term", "total": 6, "idle": 4},
    ]
    t01 = next(room for room in site["rooms"] if room["room"] == "T01")
    assert t01 == {
        "room": "T01",
        "name": "個人臨時研究室 T01",
        "kind": "temporary",
        "floor": "3F",
        "status": "in_use",
    }
    # Sorted by floor, kind and room, as the page groups them (T10 after T09, not after T01).
    assert [room["room"] for room in site["rooms"]] == [room.room_id for room in DEMO_ROOMS]
    assert re.fullmatch(r"\d{2}:\d{2}", data["updated_time"])

    page = await _page(client, **{"Accept-Language": "zh-TW,zh;q=0.9,en;q=0.8"})
    assert '<html lang="zh-Hant">' in page
    tiles = _tiles(page)
    assert set(tiles) == WHOLE_SITE_IDS
    assert {room: status for room, (status, _) in tiles.items()} == expected
    assert tiles["T01"] == ("in_use", "使用中")
    assert tiles["T03"] == ("idle", "閒置")
    assert tiles["T02"] == ("unavailable", "暫停使用")
    assert tiles["L01"] == ("reserved", "長期登記中")
    assert "共 18 間，14 間閒置" in page
    assert "共 12 間，10 間閒置" in page
    assert "共 6 間，4 間閒置" in page
    assert "個人臨時研究室" in page and "個人長期研究室" in page
    # Local time, never an ISO timestamp.
    assert re.search(r'<time id="updated">\d{2}:\d{2}</time>', page)
    assert not ISO_TIME.search(page)
    assert 'href="?lang=en"' in page

    english = await _page(client, **{"Accept-Language": "en-US,en;q=0.9"})
    assert '<html lang="en">' in english
    tiles = _tiles(english)
    assert tiles["T01"] == ("in_use", "In use")
    assert tiles["T03"] == ("idle", "Idle")
    assert "14 of 18 free" in english
    assert "10 of 12 free" in english
    assert "閒置" not in english
    assert 'href="?lang=zh-Hant"' in english

    # ?lang= wins over the browser's language.
    overridden = await _page(client, "?lang=en", **{"Accept-Language": "zh-TW"})
    assert '<html lang="en">' in overridden
    assert _tiles(overridden)["T01"] == ("in_use", "In use")
    assert "使用中" not in overridden

    # A return shows at once: the page reads the rooms at request time.
    await runtime.commands.async_counter_action("return", "T01", "S0001")
    assert _statuses(await _json(client))["T01"] == "idle"
    assert _tiles(await _page(client, "?lang=en"))["T01"] == ("idle", "Idle")


async def test_page_works_without_scripts_and_loads_its_own_files(
    hass: HomeAssistant, init_integration: MockConfigEntry, client: TestClient
) -> None:
    page = await _page(client, "?lang=en")
    # Refreshes itself when scripts are off; no inline script or style anywhere.
    assert '<noscript><meta http-equiv="refresh" content="30"></noscript>' in page
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page)
    assert "<style" not in page and " style=" not in page
    assert not re.search(r"\son[a-z]+=", page)
    css = re.search(r'href="(/ntnu_library/static/panel\.css\?v=\w+)"', page)
    js = re.search(r'src="(/ntnu_library/static/panel\.js\?v=\w+)"', page)
    assert css and js
    response = await client.get(js[1])
    assert response.status == 200
    assert response.content_type == "text/javascript"
    script = await response.text()
    assert "EventSource" in script
    assert STATUS_API_PATH not in script  # the addresses come from the page
    assert "innerHTML" not in script and "insertAdjacentHTML" not in script
    response = await client.get(css[1])
    assert response.status == 200
    assert response.content_type == "text/css"
    # What the script needs: the addresses and the words it writes.
    assert f'data-api="{STATUS_API_PATH}"' in page
    assert f'data-stream="{STATUS_STREAM_PATH}"' in page
    assert 'data-status-in-use="In use"' in page
    assert 'data-free-count="{free} of {total} free"' in page


async def test_panel_without_sites(
    hass: HomeAssistant, hass_client_no_auth: ClientSessionGenerator
) -> None:
    await hass.config.async_set_time_zone(TIME_ZONE)
    assert await async_setup_component(hass, DOMAIN, {})
    client = await hass_client_no_auth()
    data = await _json(client)
    assert data["sites"] == []
    assert "No study rooms are set up yet." in await _page(client, "?lang=en")
    assert "尚未設定研究室。" in await _page(client, "?lang=zh-Hant")


# --- no personal data ----------------------------------------------------------------------


def _assert_no_patron_data(text: str) -> None:
    for patron_id, name, _, _ in DEMO_PATRONS:
        assert patron_id not in text
        assert f"C-{patron_id}" not in text
        assert name not in text
        assert json.dumps(name) not in text  # nor \\u-escaped in JSON
    for pattern in (r"[A-Z]\*{2,}", r"\*{3}", r"REF-", r"holder", r"since", r"patron"):
        assert not re.search(pattern, text, re.IGNORECASE), pattern


async def test_no_patron_data_anywhere(
    hass: HomeAssistant, init_integration: MockConfigEntry, client: TestClient
) -> None:
    runtime = init_integration.runtime_data
    answer = await runtime.commands.async_counter_action("borrow", "T01", "S0001")
    assert answer["holder"]  # the staff answer has it; the public panel must not

    response = await client.get(STATUS_API_PATH)
    raw_json = await response.text()
    assert _statuses(json.loads(raw_json))["T01"] == "in_use"
    _assert_no_patron_data(raw_json)
    for lang in ("en", "zh-Hant"):
        page = await _page(client, f"?lang={lang}")
        assert _tiles(page)["T01"][0] == "in_use"
        _assert_no_patron_data(page)
    async with client.get(STATUS_STREAM_PATH) as stream:
        data, raw = await _event(stream)
        assert _statuses(data)["T01"] == "in_use"
        _assert_no_patron_data(raw)
        await runtime.commands.async_counter_action("open", "T01", "S0001")
        data, raw = await _event(stream)
        _assert_no_patron_data(raw)


async def test_html_in_a_room_name_is_escaped(
    hass: HomeAssistant, init_integration: MockConfigEntry, client: TestClient
) -> None:
    """A room added in the UI shows at once; its name and floor are text, never markup."""
    entry = init_integration
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, SUBENTRY_ROOM), context={"source": SOURCE_USER}
    )
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"],
        {CONF_ROOM_ID: "T13", CONF_NAME: SCRIPT_NAME, CONF_KIND: "temporary", CONF_FLOOR: "<b>5F"},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED

    for lang in ("en", "zh-Hant"):
        page = await _page(client, f"?lang={lang}")
        assert "<script>alert(1)" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        assert "<b>5F" not in page
        assert "&lt;b&gt;5F" in page
        assert _tiles(page)["T13"][0] == "idle"
    # The JSON carries the name as it is (data, not markup: application/json, nosniff).
    data = await _json(client)
    t13 = next(room for room in data["sites"][0]["rooms"] if room["room"] == "T13")
    assert t13 == {
        "room": "T13",
        "name": SCRIPT_NAME,
        "kind": "temporary",
        "floor": "<b>5F",
        "status": "idle",
    }
    assert data["sites"][0]["rooms"][-1] == t13  # 5F after 3F and 4F


# --- headers --------------------------------------------------------------------------------


async def test_security_headers_and_no_cors(
    hass: HomeAssistant, init_integration: MockConfigEntry, client: TestClient
) -> None:
    origin = {"Origin": "https://evil.example"}
    page = await client.get(STATUS_PATH, headers=origin)
    _assert_secure(page)
    # (X-Frame-Options is Home Assistant's SAMEORIGIN; CSP frame-ancestors 'none' wins.)
    assert page.headers["Vary"] == "Accept-Language"
    api = await client.get(STATUS_API_PATH, headers=origin)
    _assert_secure(api)
    async with client.get(STATUS_STREAM_PATH, headers=origin) as stream:
        assert stream.status == 200
        assert stream.headers["Content-Type"] == "text/event-stream; charset=utf-8"
        assert stream.headers["Cache-Control"] == "no-cache"
        _assert_secure(stream)
    options = await client.options(STATUS_API_PATH, headers=origin)
    assert "Access-Control-Allow-Origin" not in options.headers


# --- the stream ----------------------------------------------------------------------------


async def test_stream_sends_the_snapshot_then_every_change(
    hass: HomeAssistant, init_integration: MockConfigEntry, client: TestClient
) -> None:
    async with client.get(STATUS_STREAM_PATH) as stream:
        assert stream.status == 200
        first, raw = await _event(stream)
        assert raw.startswith("retry: ")
        assert _statuses(first) == {
            "T01": "idle",
            "T02": "idle",
            "L01": "reserved",
            "L02": "reserved",
            "L03": "idle",
        }
        assert first["sites"][0]["counts"]["idle"] == 3
        assert set(first) == {"updated", "updated_time", "sites"}

        await init_integration.runtime_data.commands.async_counter_action("borrow", "T01", "S0001")
        change, _ = await _event(stream)
        assert _statuses(change)["T01"] == "in_use"
        assert change["sites"][0]["counts"]["in_use"] == 1

        await hass.services.async_call(
            DOMAIN, "simulate", {"room": "T02", "action": "offline"}, blocking=True
        )
        change, _ = await _event(stream)
        assert _statuses(change)["T02"] == "unavailable"


async def test_stream_coalesces_a_burst(
    hass: HomeAssistant,
    frozen_clock: FrozenDateTimeFactory,
    init_integration: MockConfigEntry,
    client: TestClient,
) -> None:
    """Changes right after a send wait out the rest of the half second, then go as one event."""
    coalesce = timedelta(seconds=status_panel.COALESCE_SECONDS)
    async with client.get(STATUS_STREAM_PATH) as stream:
        await _event(stream)
        await init_integration.runtime_data.commands.async_counter_action("borrow", "T01", "S0001")
        for _ in range(20):
            async_dispatcher_send(hass, SIGNAL_PUBLIC_STATUS)
        await _nothing_sent(stream)
        frozen_clock.tick(coalesce * 0.9)
        await _nothing_sent(stream)
        # Past the half second: the loop runs a timer once its clock is beyond the moment.
        frozen_clock.tick(coalesce * 0.2)
        data, _ = await _event(stream)
        assert _statuses(data)["T01"] == "in_use"
        frozen_clock.tick(coalesce * 2)
        await _nothing_sent(stream)  # the whole burst went in that one event


async def test_stream_heartbeat(
    hass: HomeAssistant,
    frozen_clock: FrozenDateTimeFactory,
    init_integration: MockConfigEntry,
    client: TestClient,
) -> None:
    """A quiet stream gets a comment every 15 s: proxies and screens see it is alive."""
    quiet = timedelta(seconds=status_panel.HEARTBEAT_SECONDS)
    lines: list[str] = []
    async with client.get(STATUS_STREAM_PATH) as stream:
        await _event(stream)
        for _ in range(2):
            frozen_clock.tick(quiet * 0.9)
            await _nothing_sent(stream)
            frozen_clock.tick(quiet * 0.2)
            lines += [(await stream.content.readline()).decode() for _ in range(2)]
    assert lines == [": heartbeat\n", "\n", ": heartbeat\n", "\n"]


async def test_a_client_going_away_ends_its_stream(
    hass: HomeAssistant, init_integration: MockConfigEntry, client: TestClient
) -> None:
    streams = hass.data[STREAMS]
    stream = await client.get(STATUS_STREAM_PATH)
    await _event(stream)
    assert len(streams) == 1
    stream.close()
    await until(lambda: not len(streams))
    # Changes after that go nowhere and break nothing.
    await init_integration.runtime_data.commands.async_counter_action("borrow", "T01", "S0001")
    await hass.async_block_till_done()
    assert not len(streams)


async def test_streams_over_the_cap_are_turned_away(
    hass: HomeAssistant, init_integration: MockConfigEntry, client: TestClient
) -> None:
    streams = hass.data[STREAMS]
    with patch.object(status_panel, "MAX_STREAMS", 2):
        first = await client.get(STATUS_STREAM_PATH)
        second = await client.get(STATUS_STREAM_PATH)
        await _event(first)
        await _event(second)
        busy = await client.get(STATUS_STREAM_PATH)
        assert busy.status == 503
        assert busy.headers["Retry-After"] == "30"
        _assert_secure(busy)
        assert await busy.json() == {"error": "busy"}
        # The JSON still answers: that is where a turned-away screen goes.
        assert (await client.get(STATUS_API_PATH)).status == 200
        first.close()
        await until(lambda: len(streams) == 1)
        async with client.get(STATUS_STREAM_PATH) as third:
            assert third.status == 200
            await _event(third)
        second.close()
    await until(lambda: not len(streams))


async def test_one_client_holds_at_most_four_streams(
    hass: HomeAssistant, init_integration: MockConfigEntry, client: TestClient
) -> None:
    """An outsider's fifth stream is turned away; the screens of others are not."""
    streams = hass.data[STREAMS]
    held = [
        await client.get(STATUS_STREAM_PATH) for _ in range(status_panel.MAX_STREAMS_PER_CLIENT)
    ]
    for stream in held:
        await _event(stream)
    fifth = await client.get(STATUS_STREAM_PATH)
    assert fifth.status == 503
    assert streams.of("127.0.0.1") == 4
    for stream in held:
        stream.close()
    await until(lambda: not len(streams))


def test_the_lobby_screen_takes_the_place_of_a_flooder() -> None:
    """All streams held by outsiders: a new client ends the oldest stream of the heaviest one."""
    streams = status_panel.StatusStreams(context=None)  # type: ignore[arg-type]
    with patch.object(status_panel, "MAX_STREAMS", 8):
        held = [streams.async_open(f"10.0.0.{n % 2}") for n in range(8)]
        assert all(held) and len(streams) == 8
        assert streams.async_open("10.0.0.1") is None  # at its own cap
        lobby = streams.async_open("192.168.1.20")
        assert lobby is not None
        assert held[0] is not None and held[0].ended.is_set()  # 10.0.0.0's oldest made room
        assert streams.of("10.0.0.0") == 3 and len(streams) == 8
        # New screens keep taking places until every client holds one: then they wait.
        for n in range(5):
            assert streams.async_open(f"192.168.1.{30 + n}") is not None
        assert streams.of("10.0.0.0") == streams.of("10.0.0.1") == 1
        assert streams.async_open("192.168.1.99") is None
        assert len(streams) == 8


def test_an_ipv6_client_is_its_whole_slash_64() -> None:
    assert status_panel.client_of("2001:db8:1:2::10") == status_panel.client_of("2001:db8:1:2::99")
    assert status_panel.client_of("2001:db8:1:3::10") != status_panel.client_of("2001:db8:1:2::10")
    assert status_panel.client_of("::ffff:10.1.2.3") == "10.1.2.3"
    assert status_panel.client_of(None) == "-"


async def test_streams_end_when_home_assistant_stops(
    hass: HomeAssistant, hass_client_no_auth: ClientSessionGenerator
) -> None:
    # No site: the stream serves an empty panel, and no site's own stop runs twice.
    await hass.config.async_set_time_zone(TIME_ZONE)
    assert await async_setup_component(hass, DOMAIN, {})
    client = await hass_client_no_auth()
    streams = hass.data[STREAMS]
    async with client.get(STATUS_STREAM_PATH) as stream:
        data, _ = await _event(stream)
        assert data["sites"] == []
        hass.bus.async_fire(EVENT_HOMEASSISTANT_STOP)
        async with asyncio.timeout(5):
            rest = await stream.content.read()
        assert rest == b""  # ended cleanly, nothing more sent
    assert not len(streams)
    refused = await client.get(STATUS_STREAM_PATH)
    assert refused.status == 503
    await hass.async_block_till_done()


# --- sites come and go -----------------------------------------------------------------------


async def test_a_second_site_appears_when_it_is_set_up(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    client: TestClient,
    policy_options: dict[str, Any],
) -> None:
    assert [site["site"] for site in (await _json(client))["sites"]] == ["Main Library"]
    branch = MockConfigEntry(
        domain=DOMAIN,
        title="Gongguan <Branch>",
        unique_id="gongguan",
        data={
            CONF_SITE_NAME: "Gongguan <Branch>",
            CONF_RADIO: "simulated",
            CONF_PATRON_SYSTEM: PATRONS_LOCAL,
            CONF_DEMO_DATA: True,
        },
        options=policy_options,
        subentries_data=[room_subentry(room) for room in DEMO_BRANCH_ROOMS],
    )
    async with client.get(STATUS_STREAM_PATH) as stream:
        await _event(stream)
        branch.add_to_hass(hass)
        assert await hass.config_entries.async_setup(branch.entry_id)
        await hass.async_block_till_done()
        # The stream hears of it by itself.
        async with asyncio.timeout(5):
            while True:
                data, _ = await _event(stream)
                if len(data["sites"]) == 2:
                    break
    assert [site["site"] for site in data["sites"]] == ["Main Library", "Gongguan <Branch>"]
    assert set(_statuses(data, 1)) == {room.room_id for room in DEMO_BRANCH_ROOMS}
    assert data["sites"][1]["counts"]["total"] == len(DEMO_BRANCH_ROOMS)

    data = await _json(client)
    assert [site["site"] for site in data["sites"]] == ["Main Library", "Gongguan <Branch>"]
    page = await _page(client, "?lang=en")
    assert "Gongguan &lt;Branch&gt;" in page
    assert "6 of 6 free" in page

    await hass.config_entries.async_unload(branch.entry_id)
    await hass.async_block_till_done()
    assert [site["site"] for site in (await _json(client))["sites"]] == ["Main Library"]
    assert "Gongguan" not in await _page(client, "?lang=en")
