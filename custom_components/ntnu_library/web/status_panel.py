"""The public status panel: every site's study rooms at a glance, for a lobby screen or a phone.

Three addresses, no Home Assistant account, no personal data (room id, name, kind, floor and
status only; never a holder, patron id, name, card, ref or "in use since"):

- `STATUS_PATH`: the page, rendered in full by the server (readable without JavaScript, a
  `<noscript>` refresh keeps it current); `static/panel.js` keeps it live;
- `STATUS_API_PATH`: the same data as JSON (what the script polls when it cannot stream);
- `STATUS_STREAM_PATH`: server-sent events, the JSON at once and again on every change
  (`SIGNAL_PUBLIC_STATUS`, bursts coalesced), a comment heartbeat in between.

All three read the sites at request time through one function, `panel_data`, so a room or a
site added in the UI shows without anything else being done.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from contextlib import suppress
from datetime import datetime
import re
from typing import TYPE_CHECKING, Any, Final

from aiohttp import web
from homeassistant.components.http import HomeAssistantView
from homeassistant.const import EVENT_HOMEASSISTANT_STOP
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.json import json_bytes
from homeassistant.util import dt as dt_util
from homeassistant.util.hass_dict import HassKey

from ..const import DOMAIN, SIGNAL_PUBLIC_STATUS
from ..core.model import RoomKind, RoomStatus
from .context import (
    STATUS_API_PATH,
    STATUS_PATH,
    STATUS_STREAM_PATH,
    WebContext,
    html_response,
    json_response,
    local_time,
    page_language,
    secure_headers,
)
from .texts import other_language

if TYPE_CHECKING:
    from ..site import Site

# At most this many screens stream at once; beyond it they poll the JSON (503 + Retry-After).
MAX_STREAMS: Final = 64
# A comment this often keeps proxies from closing a quiet stream.
HEARTBEAT_SECONDS: Final = 15.0
# A burst of changes (a borrow moves the bolt, then the room) is sent at most this often.
COALESCE_SECONDS: Final = 0.5
# How long a browser waits before it opens a dropped stream again.
RECONNECT_MILLISECONDS: Final = 5000
# How long a screen turned away waits before it tries the stream again.
BUSY_RETRY_SECONDS: Final = 30
# The page refreshes itself this often when scripts are off.
NOSCRIPT_REFRESH_SECONDS: Final = 30

STREAMS: HassKey[StatusStreams] = HassKey(f"{DOMAIN}_status_streams")

# Words the panel needs that web/texts.py does not have (yet).
_DIGITS = re.compile(r"([0-9]+)")


def _natural(text: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key: "2F" before "10F", "T2" before "T10", letters without case."""
    return tuple(
        (0, int(part)) if part.isdigit() and part.isascii() else (1, part.casefold())
        for part in _DIGITS.split(text)
        if part
    )


_KIND_ORDER: Final = {kind.value: index for index, kind in enumerate(RoomKind)}


def _room_order(room: dict[str, str]) -> tuple[Any, ...]:
    """Floors in natural order (no floor last), then kind, then room."""
    return (
        room["floor"] == "",
        _natural(room["floor"]),
        room["floor"],
        _KIND_ORDER.get(room["kind"], len(_KIND_ORDER)),
        _natural(room["room"]),
        room["room"],
    )


def panel_data(sites: Iterable[Site], now: datetime | None = None) -> dict[str, Any]:
    """What the panel shows, for the page, the JSON and the stream alike: no personal data.

    Each site's rooms are sorted by floor, kind and room (the page groups them in this
    order); `counts` are per status, `kinds` the free count per kind. `updated_time` is the
    local HH:MM the page shows (never the ISO `updated`).
    """
    now = now or dt_util.now()
    result: list[dict[str, Any]] = []
    for site in sites:
        rooms = sorted(
            (
                {
                    "room": room.room_id,
                    "name": room.name,
                    "kind": room.kind.value,
                    "floor": room.floor,
                    "status": site.status(room.room_id).value,
                }
                for room in site.rooms.rooms.values()
            ),
            key=_room_order,
        )
        counts = {"total": len(rooms)} | {status.value: 0 for status in RoomStatus}
        for room in rooms:
            counts[room["status"]] += 1
        kinds = []
        for kind in RoomKind:
            of_kind = [room for room in rooms if room["kind"] == kind.value]
            if of_kind:
                idle = sum(room["status"] == RoomStatus.IDLE.value for room in of_kind)
                kinds.append({"kind": kind.value, "total": len(of_kind), "idle": idle})
        result.append({"site": site.site_name, "rooms": rooms, "counts": counts, "kinds": kinds})
    return {
        "updated": now.isoformat(timespec="seconds"),
        "updated_time": local_time(now),
        "sites": result,
    }


def _grouped(rooms: list[dict[str, str]]) -> list[dict[str, Any]]:
    """Sorted rooms as the page shows them: floors, each with its kinds, each with its rooms."""
    floors: list[dict[str, Any]] = []
    for room in rooms:
        if not floors or floors[-1]["floor"] != room["floor"]:
            floors.append({"floor": room["floor"], "kinds": []})
        kinds = floors[-1]["kinds"]
        if not kinds or kinds[-1]["kind"] != room["kind"]:
            kinds.append({"kind": room["kind"], "rooms": []})
        kinds[-1]["rooms"].append(room)
    return floors


class StatusStreams:
    """The open streams: woken on every change, ended when Home Assistant stops."""

    def __init__(self, context: WebContext) -> None:
        self._context = context
        self.wakers: set[asyncio.Event] = set()
        self.stopping = False
        self._stopped = asyncio.Event()

    @callback
    def async_changed(self) -> None:
        """Some room may show another status, or a site started or stopped."""
        for waker in self.wakers:
            waker.set()

    @callback
    def async_stop(self, _event: Event | None = None) -> None:
        """Home Assistant stops: every stream ends now."""
        self.stopping = True
        self._stopped.set()
        self.async_changed()

    def snapshot(self) -> bytes:
        """One server-sent event with the panel's data."""
        return b"data: " + json_bytes(panel_data(self._context.sites())) + b"\n\n"

    async def async_wait_stop(self, seconds: float) -> None:
        """Sleep, but not past Home Assistant stopping."""
        with suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._stopped.wait()

    async def async_run(self, response: web.StreamResponse, waker: asyncio.Event) -> None:
        """Send the data now and after every change; a heartbeat comment when quiet."""
        loop = asyncio.get_running_loop()
        await response.write(f"retry: {RECONNECT_MILLISECONDS}\n".encode() + self.snapshot())
        last_sent = loop.time()
        while not self.stopping:
            try:
                async with asyncio.timeout(HEARTBEAT_SECONDS):
                    await waker.wait()
            except TimeoutError:
                await response.write(b": heartbeat\n\n")
                continue
            # The first change of a burst goes out at once, the rest with the next send.
            if (delay := last_sent + COALESCE_SECONDS - loop.time()) > 0:
                await self.async_wait_stop(delay)
            if self.stopping:
                break
            waker.clear()
            await response.write(self.snapshot())
            last_sent = loop.time()


class StatusPageView(HomeAssistantView):
    """The panel as a page, in the patron's language."""

    url = STATUS_PATH
    name = "ntnu_library:status"
    requires_auth = False

    def __init__(self, context: WebContext) -> None:
        self._context = context

    async def get(self, request: web.Request) -> web.Response:
        """Every site's rooms, rendered in full."""
        lang = page_language(request)
        words = await self._context.async_words(lang)
        other = other_language(lang)
        data = panel_data(self._context.sites())

        def free_count(idle: int, total: int) -> str:
            return words["free_count"].format(free=idle, total=total)

        body = self._context.render(
            "status.html",
            lang=lang,
            t=words,
            other_lang=other,
            data=data,
            sites=[site | {"floors": _grouped(site["rooms"])} for site in data["sites"]],
            statuses=[status.value for status in RoomStatus],
            kinds=[kind.value for kind in RoomKind],
            free_count=free_count,
            api_url=STATUS_API_PATH,
            stream_url=STATUS_STREAM_PATH,
            refresh_seconds=NOSCRIPT_REFRESH_SECONDS,
        )
        response = html_response(body, private=False)
        response.headers["Vary"] = "Accept-Language"
        response.headers["Content-Language"] = lang
        return response


class StatusApiView(HomeAssistantView):
    """The panel's data as JSON."""

    url = STATUS_API_PATH
    name = "api:ntnu_library:status"
    requires_auth = False

    def __init__(self, context: WebContext) -> None:
        self._context = context

    async def get(self, request: web.Request) -> web.Response:
        """What `panel_data` says now."""
        return json_response(panel_data(self._context.sites()))


class StatusStreamView(HomeAssistantView):
    """The panel's data as server-sent events."""

    url = STATUS_STREAM_PATH
    name = "api:ntnu_library:status:stream"
    requires_auth = False

    def __init__(self, streams: StatusStreams) -> None:
        self._streams = streams

    async def get(self, request: web.Request) -> web.StreamResponse:
        """Stream until the client goes away or Home Assistant stops."""
        streams = self._streams
        if streams.stopping or len(streams.wakers) >= MAX_STREAMS:
            busy = json_response({"error": "busy"}, status=503)
            busy.headers["Retry-After"] = str(BUSY_RETRY_SECONDS)
            return busy
        response = web.StreamResponse()
        response.content_type = "text/event-stream"
        response.charset = "utf-8"
        secure_headers(response, private=False)
        response.headers["X-Accel-Buffering"] = "no"  # a proxy in front must not hold events
        waker = asyncio.Event()
        streams.wakers.add(waker)
        try:
            await response.prepare(request)
            await streams.async_run(response, waker)
        except ConnectionError:
            pass  # the client went away mid-write; a cancelled handler unwinds the same way
        finally:
            streams.wakers.discard(waker)
        return response


def register(hass: HomeAssistant, context: WebContext) -> None:
    """Register the panel, its JSON and its stream; streams follow every change and the stop."""
    streams = StatusStreams(context)
    hass.data[STREAMS] = streams
    async_dispatcher_connect(hass, SIGNAL_PUBLIC_STATUS, streams.async_changed)
    hass.bus.async_listen_once(EVENT_HOMEASSISTANT_STOP, streams.async_stop)
    hass.http.register_view(StatusPageView(context))
    hass.http.register_view(StatusApiView(context))
    hass.http.register_view(StatusStreamView(streams))
