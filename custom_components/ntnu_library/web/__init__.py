"""The public side: room pages, status panel, activation, reservations, self-checkout stations.

The room page is behind each QR code; long-term rooms are reserved on the reservation page; a
self-checkout kiosk's browser shows its station page once staff opened it. These pages need no
Home Assistant account (`requires_auth = False`): patrons reach them from their phones, lobby
screens show the panel. They carry no personal data, sign every room address, take a
single-use token with every form and send strict security headers (`context.py`).
"""

from __future__ import annotations

from aiohttp import web
from homeassistant.components.http import HomeAssistantView
from homeassistant.core import HomeAssistant

from . import activate, kiosk_page, reserve_page, room_page, status_panel
from .context import STATIC_PATH, WEB, WebContext, async_create_context, secure_headers


class StaticView(HomeAssistantView):
    """The pages' own style sheets and scripts (nothing is fetched from elsewhere)."""

    url = STATIC_PATH
    name = "ntnu_library:static"
    requires_auth = False

    def __init__(self, context: WebContext) -> None:
        self._context = context

    async def get(self, request: web.Request, name: str) -> web.Response:
        """One file by name; only the files the integration ships."""
        if name not in self._context.static:
            raise web.HTTPNotFound
        body, content_type = self._context.static[name]
        response = web.Response(body=body, content_type=content_type, charset="utf-8")
        secure_headers(response, private=False)
        response.headers["Cache-Control"] = "public, max-age=86400"
        return response


async def async_setup_web(hass: HomeAssistant) -> WebContext:
    """Register the public pages once for every site."""
    if (context := hass.data.get(WEB)) is not None:
        return context
    context = await async_create_context(hass)
    hass.data[WEB] = context
    hass.http.register_view(StaticView(context))
    room_page.register(hass, context)
    activate.register(hass, context)
    reserve_page.register(hass, context)
    status_panel.register(hass, context)
    kiosk_page.register(hass, context)
    return context
