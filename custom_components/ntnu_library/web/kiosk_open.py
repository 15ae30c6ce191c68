"""Opening a self-checkout station: an administrator logs in once with Home Assistant's login.

The station page of a browser that holds no station credential offers "Open this station". It
leads to Home Assistant's own login page (`/auth/authorize`, OAuth 2 as Home Assistant's apps
use it, with its multi-factor step if the user has one), with the station page as both the
client id and the address to come back to, and a signed single-use `state` bound to that
site's kiosk. Back on the station page with an authorization code, the page's script
(web/static/kiosk.js; no inline script) exchanges the code at `/auth/token` as every Home
Assistant client does, and posts the access token with the `state`. Here the token must be an
active administrator's; the login it came from is removed at once (the staff member leaves no
Home Assistant session on a public machine) and the browser receives the station credential.

A staff member thus only logs in at the kiosk as they would on Home Assistant; nothing is
copied or pasted. Without JavaScript a station cannot be opened (the patrons' forms need none).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final
from urllib.parse import urlencode

from aiohttp import web
from homeassistant.auth.models import TOKEN_TYPE_NORMAL, User
from homeassistant.core import HomeAssistant

if TYPE_CHECKING:
    from ..site import Site

KIOSK_PATH: Final = "/ntnu_library/kiosk/{kiosk}"
AUTHORIZE_PATH: Final = "/auth/authorize"
# Home Assistant's access tokens are JWTs of a few hundred characters.
MAX_ACCESS_TOKEN_LENGTH: Final = 2048


def open_scope(site: Site, kiosk: str) -> str:
    """What an opening's `state` is bound to: this site's kiosk."""
    return f"kiosk-open:{site.entry_id}:{kiosk}"


def client_id(request: web.Request, kiosk: str) -> str:
    """The OAuth client id of a station: its own page, as this browser reaches it."""
    return f"{request.url.origin()}{KIOSK_PATH.format(kiosk=kiosk)}"


def authorize_url(request: web.Request, kiosk: str, state: str, language: str) -> str:
    """Home Assistant's login page, coming back to the station page with a code."""
    client = client_id(request, kiosk)
    query = {
        "response_type": "code",
        "client_id": client,
        "redirect_uri": f"{client}?lang={language}",
        "state": state,
    }
    return f"{AUTHORIZE_PATH}?{urlencode(query)}"


def confirmed_admin(hass: HomeAssistant, access_token: str, client: str) -> User | None:
    """The active administrator whose access token this is, or None.

    A token this station's login made (its client id) is removed whoever it belongs to: the
    login served only to open the station.
    """
    if not access_token or len(access_token) > MAX_ACCESS_TOKEN_LENGTH:
        return None
    refresh = hass.auth.async_validate_access_token(access_token)
    if refresh is None:
        return None
    user = refresh.user
    if refresh.client_id == client and refresh.token_type == TOKEN_TYPE_NORMAL:
        hass.auth.async_remove_refresh_token(refresh)
    if not user.is_active or not user.is_admin or user.system_generated:
        return None
    return user
