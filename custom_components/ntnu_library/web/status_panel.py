"""The public status panel: every site's study rooms at a glance, for a lobby screen or a phone.

Three addresses, no Home Assistant account, no personal data (room id, name, kind, floor and
status only; never a holder, patron id, name, card, ref or "in use since"):

- `STATUS_PATH`: the page, rendered in full by the server (readable without JavaScript, a
  `<noscript>` refresh keeps it current); `static/panel.js` keeps it live;
- `STATUS_API_PATH`: the same data as JSON (what the script polls when it cannot stream);
- `STATUS_STREAM_PATH`: server-sent events, the JSON at once and again on every change
  (`SIGNAL_PUBLIC_STATUS`, bursts coalesced), a comment heartbeat in between. Streams are
  shared out per client (`StatusStreams.async_open`), so no one client can hold them all.

All three read the sites through one function, `panel_data`, so a room or a site added in the
UI shows without anything else being done. Its JSON is made once per change and kept at most
`PANEL_MAX_AGE_S` (a status can also change with the clock alone): at a thousand rooms a
lobby full of screens then costs one rendering a second, not one per request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from ipaddress import IPv6Address, ip_address, ip_network
from itertools import count
import re
import time
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
    RESERVE_PATH,
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
from .texts import LANGUAGES, other_language

if TYPE_CHECKING:
    from ..site import Site

# At most this many screens stream at once, at most this many of them from one client (an
# address; for IPv6 a /64). A screen turned away polls the JSON (503 + Retry-After).
MAX_STREAMS: Final = 64
MAX_STREAMS_PER_CLIENT: Final = 4
# A comment this often keeps proxies from closing a quiet stream.
HEARTBEAT_SECONDS: Final = 15.0
# A burst of changes (a borrow moves the bolt, then the room) is sent at most this often.
COALESCE_SECONDS: Final = 0.5
# How long a browser waits before it opens a dropped stream again.
RECONNECT_MILLISECONDS: Final = 5000
# How long a screen turned away waits before it tries the stream again.
BUSY_RETRY_SECONDS: Final = 30
# The JSON of the rooms is made again after a change, and at least this often.
PANEL_MAX_AGE_S: Final = 1.0
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
        result.append(
            {
                # The site's own name in each language the pages speak (the Chinese one given
                # when the site was set up; else the one name everywhere).
                "site": site.site_name,
                "site_names": {language: site.name_in(language) for language in LANGUAGES},
                "rooms": rooms,
                "counts": counts,
                "kinds": kinds,
            }
        )
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


def client_of(remote: str | None) -> str:
    """Whose stream it is: the client's address (`request.remote`); for IPv6 its /64.

    Behind a reverse proxy Home Assistant's `use_x_forwarded_for`, with the proxy among the
    `trusted_proxies`, makes `request.remote` the client's own address (as for the login
    throttle); Home Assistant refuses forwarded requests from a proxy it does not trust. One
    IPv6 subscriber holds a whole /64, so that is one client, however many addresses it uses.
    """
    if not remote:
        return "-"
    try:
        address = ip_address(remote)
    except ValueError:
        return remote
    if isinstance(address, IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ip_network(f"{address}/64", strict=False))
    return str(address)


@dataclass(eq=False)
class Stream:
    """One open stream: whose it is, when it opened, what wakes it and what ends it."""

    client: str
    opened: int
    waker: asyncio.Event = field(default_factory=asyncio.Event)
    ended: asyncio.Event = field(default_factory=asyncio.Event)

    def end(self) -> None:
        """End the stream: its loop stops and the response finishes cleanly."""
        self.ended.set()
        self.waker.set()


class StatusStreams:
    """The open streams, by client: opened fairly, woken on every change, ended at the stop.

    A client gets at most `MAX_STREAMS_PER_CLIENT`. When all `MAX_STREAMS` are taken, a client
    with fewer streams than the one holding the most (fewer even once it has this one) takes
    the place of that client's oldest stream, which is ended cleanly; anyone else is told to
    come back later (and polls meanwhile). So a lobby screen always gets its stream, however
    many streams an outsider opens, unless every client already holds as many as the screen's.
    """

    def __init__(self, context: WebContext) -> None:
        self._context = context
        self._by_client: dict[str, list[Stream]] = {}
        self._count = 0
        self._order = count()
        self.stopping = False
        self._json: bytes | None = None  # panel_data as JSON, until a change or its max age
        self._json_at = 0.0

    def __len__(self) -> int:
        """How many streams are open."""
        return self._count

    def of(self, client: str) -> int:
        """How many streams `client` holds."""
        return len(self._by_client.get(client, ()))

    @callback
    def async_open(self, client: str) -> Stream | None:
        """A place for a new stream of `client`, or None when there is none for it."""
        mine = self._by_client.get(client, [])
        if self.stopping or len(mine) >= MAX_STREAMS_PER_CLIENT:
            return None
        if self._count >= MAX_STREAMS:
            heaviest = max(
                self._by_client.values(), key=lambda streams: (len(streams), -streams[0].opened)
            )
            if len(mine) + 1 >= len(heaviest):
                return None
            oldest = heaviest[0]
            self.async_close(oldest)
            oldest.end()
        stream = Stream(client, next(self._order))
        self._by_client.setdefault(client, []).append(stream)
        self._count += 1
        return stream

    @callback
    def async_close(self, stream: Stream) -> None:
        """The stream is over (its client left, or it made room): its place is free."""
        streams = self._by_client.get(stream.client)
        if streams is None or stream not in streams:
            return
        streams.remove(stream)
        self._count -= 1
        if not streams:
            del self._by_client[stream.client]

    def data_json(self) -> bytes:
        """`panel_data` as JSON: made again after a change or once `PANEL_MAX_AGE_S` passed."""
        now = time.monotonic()
        if self._json is None or now - self._json_at >= PANEL_MAX_AGE_S:
            self._json = json_bytes(panel_data(self._context.sites()))
            self._json_at = now
        return self._json

    @callback
    def async_changed(self) -> None:
        """Some room may show another status, or a site started or stopped."""
        self._json = None
        for streams in self._by_client.values():
            for stream in streams:
                stream.waker.set()

    @callback
    def async_stop(self, _event: Event | None = None) -> None:
        """Home Assistant stops: every stream ends now."""
        self.stopping = True
        for streams in self._by_client.values():
            for stream in streams:
                stream.end()

    def snapshot(self) -> bytes:
        """One server-sent event with the panel's data."""
        return b"data: " + self.data_json() + b"\n\n"

    async def async_run(self, response: web.StreamResponse, stream: Stream) -> None:
        """Send the data now and after every change; a heartbeat comment when quiet."""
        loop = asyncio.get_running_loop()
        await response.write(f"retry: {RECONNECT_MILLISECONDS}\n".encode() + self.snapshot())
        last_sent = loop.time()
        while not stream.ended.is_set():
            try:
                async with asyncio.timeout(HEARTBEAT_SECONDS):
                    await stream.waker.wait()
            except TimeoutError:
                await response.write(b": heartbeat\n\n")
                continue
            # The first change of a burst goes out at once, the rest with the next send.
            if (delay := last_sent + COALESCE_SECONDS - loop.time()) > 0:
                with suppress(TimeoutError):
                    async with asyncio.timeout(delay):
                        await stream.ended.wait()
            if stream.ended.is_set():
                break
            stream.waker.clear()
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
            # Long-term rooms are reserved online beforehand (事先線上登記).
            reserve_url=f"{RESERVE_PATH}?lang={lang}"
            if any(room["kind"] == RoomKind.LONG_TERM for s in data["sites"] for room in s["rooms"])
            else "",
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

    def __init__(self, streams: StatusStreams) -> None:
        self._streams = streams

    async def get(self, request: web.Request) -> web.Response:
        """What `panel_data` says (made again after every change, at least every second)."""
        response = web.Response(body=self._streams.data_json(), content_type="application/json")
        secure_headers(response, private=False)
        return response


class StatusStreamView(HomeAssistantView):
    """The panel's data as server-sent events."""

    url = STATUS_STREAM_PATH
    name = "api:ntnu_library:status:stream"
    requires_auth = False

    def __init__(self, streams: StatusStreams) -> None:
        self._streams = streams

    async def get(self, request: web.Request) -> web.StreamResponse:
        """Stream until the client goes away, the stream makes room or Home Assistant stops."""
        streams = self._streams
        stream = streams.async_open(client_of(request.remote))
        if stream is None:
            busy = json_response({"error": "busy"}, status=503)
            busy.headers["Retry-After"] = str(BUSY_RETRY_SECONDS)
            return busy
        response = web.StreamResponse()
        response.content_type = "text/event-stream"
        response.charset = "utf-8"
        secure_headers(response, private=False)
        response.headers["X-Accel-Buffering"] = "no"  # a proxy in front must not hold events
        try:
            await response.prepare(request)
            await streams.async_run(response, stream)
        except ConnectionError:
            pass  # the client went away mid-write; a cancelled handler unwinds the same way
        finally:
            streams.async_close(stream)
        return response


def register(hass: HomeAssistant, context: WebContext) -> None:
    """Register the panel, its JSON and its stream; streams follow every change and the stop."""
    streams = StatusStreams(context)
    hass.data[STREAMS] = streams
    async_dispatcher_connect(hass, SIGNAL_PUBLIC_STATUS, streams.async_changed)
    hass.bus.async_listen_once(EVENT_HOMEASSISTANT_STOP, streams.async_stop)
    hass.http.register_view(StatusPageView(context))
    hass.http.register_view(StatusApiView(streams))
    hass.http.register_view(StatusStreamView(streams))
