"""What every public page shares: the signing key, form tokens, templates, words and headers.

Built once per Home Assistant (`async_setup_web`); the pages find the sites at request time,
so a site or room added in the UI is served without a restart.

The page key is kept in a private store and made once. The form tokens are signed with a key
derived from it (core/page_tokens.py), so a form outlives a restart; what they need to stay
single-use across one (the spent ones) is written at Home Assistant's final write, and a start
that does not find that written (a crash, a power cut) refuses every earlier form.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from aiohttp import web
from homeassistant.const import EVENT_HOMEASSISTANT_FINAL_WRITE
from homeassistant.core import Event, HomeAssistant
from homeassistant.helpers.network import NoURLAvailableError, get_url
from homeassistant.helpers.storage import Store
from homeassistant.helpers.translation import async_get_translations
from homeassistant.util import dt as dt_util
from homeassistant.util.hass_dict import HassKey
import jinja2

from ..const import DOMAIN
from ..core.device_credentials import DeviceCredentials
from ..core.page_tokens import FormTokens, RoomSigner, new_key
from .texts import LANGUAGES, TEXTS, choose_language

if TYPE_CHECKING:
    from ..site import Site

WEB: HassKey[WebContext] = HassKey(f"{DOMAIN}_web")

ROOM_PATH: Final = "/ntnu_library/room/{room}"
STATUS_PATH: Final = "/ntnu_library/status"
STATUS_API_PATH: Final = "/api/ntnu_library/status"
STATUS_STREAM_PATH: Final = "/api/ntnu_library/status/stream"
ACTIVATE_PATH: Final = "/ntnu_library/activate"
RESERVE_PATH: Final = "/ntnu_library/reserve"
STATIC_PATH: Final = "/ntnu_library/static/{name}"

# A form is good once, for this long. Issuing a form stores nothing; a posted one is remembered
# until it would have expired, at most this many at a time (about two megabytes). Past that
# every open form is refused once (core/page_tokens.py): far beyond what a library posts in ten
# minutes, it takes a flood of posts, each with a page load of its own.
FORM_TOKEN_SECONDS: Final = 600
MAX_SPENT_FORMS: Final = 20_000

_KEY_STORE: Final = f"{DOMAIN}.page_key"
_FORMS_STORE: Final = f"{DOMAIN}.page_forms"
_HERE = Path(__file__).parent

# No inline script or style anywhere: the pages load only their own files.
CONTENT_SECURITY_POLICY: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS: Final = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
_STATIC_TYPES: Final = {".css": "text/css", ".js": "text/javascript"}


def secure_headers(response: web.StreamResponse, *, private: bool) -> web.StreamResponse:
    """The security headers of every public page; personal pages are never cached."""
    response.headers.update(SECURITY_HEADERS)
    response.headers["Cache-Control"] = "no-store" if private else "no-cache"
    if private:
        response.headers["Pragma"] = "no-cache"
    return response


def html_response(body: str, *, status: int = 200, private: bool = True) -> web.Response:
    """An HTML page with the security headers."""
    response = web.Response(text=body, status=status, content_type="text/html", charset="utf-8")
    secure_headers(response, private=private)
    return response


def json_response(data: Any, *, status: int = 200) -> web.Response:
    """Public JSON (no personal data) with the security headers."""
    response = web.json_response(data, status=status)
    secure_headers(response, private=False)
    return response


def _load_files() -> tuple[dict[str, str], dict[str, tuple[bytes, str]]]:
    """The templates and static files, read once (not in the event loop)."""
    templates = {
        path.name: path.read_text(encoding="utf-8")
        for path in sorted((_HERE / "templates").glob("*.html"))
    }
    static = {
        path.name: (path.read_bytes(), _STATIC_TYPES[path.suffix])
        for path in sorted((_HERE / "static").iterdir())
        if path.suffix in _STATIC_TYPES
    }
    return templates, static


@dataclass
class WebContext:
    """The public pages' shared parts."""

    hass: HomeAssistant
    signer: RoomSigner
    env: jinja2.Environment
    static: dict[str, tuple[bytes, str]]
    forms: FormTokens
    devices: DeviceCredentials
    _translations: dict[str, dict[str, str]] = field(default_factory=dict)

    # --- sites and rooms ---------------------------------------------------------------------

    def sites(self) -> list[Site]:
        """Every loaded site, in the order Home Assistant lists them."""
        return [
            entry.runtime_data for entry in self.hass.config_entries.async_loaded_entries(DOMAIN)
        ]

    def site_of(self, room_id: str, signature: str | None) -> Site | None:
        """The site whose room `room_id` the signature is for; None if forged or unknown."""
        for site in self.sites():
            if room_id in site.rooms.rooms and self.signer.verify(
                site.entry_id, room_id, signature
            ):
                return site
        return None

    def room_path(self, site: Site, room_id: str) -> str:
        """The room page's path with its signature (what the QR code points to)."""
        signature = self.signer.sign(site.entry_id, room_id)
        return f"{ROOM_PATH.format(room=room_id)}?sig={signature}"

    def base_url(self) -> str:
        """Home Assistant's address as patrons' phones reach it ('' if none is known)."""
        try:
            return get_url(self.hass, prefer_external=True, allow_cloud=False)
        except NoURLAvailableError:
            return ""

    def room_url(self, site: Site, room_id: str) -> str:
        """The full address the room's QR code carries."""
        return f"{self.base_url()}{self.room_path(site, room_id)}"

    # --- words -------------------------------------------------------------------------------

    async def async_words(self, language: str) -> dict[str, str]:
        """The page words of `language`, with refusals and statuses from the translations."""
        if language not in self._translations:
            strings = await async_get_translations(self.hass, language, "exceptions", [DOMAIN])
            prefix = f"component.{DOMAIN}.exceptions."
            words = {
                f"error_{key[len(prefix) : -len('.message')]}": value
                for key, value in strings.items()
                if key.startswith(prefix) and key.endswith(".message")
            }
            self._translations[language] = words | TEXTS[language]
        return self._translations[language]

    def render(self, template: str, **context: Any) -> str:
        """A page from its template; every value is HTML-escaped."""
        return self.env.get_template(template).render(
            static=self.static_url, languages=LANGUAGES, **context
        )

    def static_url(self, name: str) -> str:
        """A static file's address, with its content hash so a new version is fetched."""
        body, _ = self.static[name]
        return f"/ntnu_library/static/{name}?v={hashlib.sha256(body).hexdigest()[:10]}"


def page_language(request: web.Request, requested: str | None = None) -> str:
    """A page's language: the form's or `?lang=`, else the browser's first we have."""
    return choose_language(
        requested or request.query.get("lang"), request.headers.get("Accept-Language")
    )


def local_time(value: datetime | str) -> str:
    """A moment as patrons read it: local date and minute, never an ISO timestamp."""
    if isinstance(value, str):
        parsed = dt_util.parse_datetime(value)
        if parsed is None:
            return value
        value = parsed
    local = dt_util.as_local(value)
    if local.date() == dt_util.now().date():
        return local.strftime("%H:%M")
    return local.strftime("%Y-%m-%d %H:%M")


async def async_form_tokens(hass: HomeAssistant, key: bytes) -> FormTokens:
    """The form tokens, honouring the forms of before a clean restart and none of a crash.

    The store says "clean" (with the spent tokens) only from Home Assistant's final write to
    the next start, which at once marks it otherwise. A start that finds no clean record
    cannot know which tokens were spent since the last one, so it begins a new generation
    and refuses them all: a patron retypes a form, no form is ever taken twice.
    """
    store: Store[dict[str, Any]] = Store(hass, 1, _FORMS_STORE, private=True)
    data = await store.async_load()
    saved = data.get("tokens") if isinstance(data, dict) and data.get("clean") is True else None
    forms = FormTokens(
        key,
        ttl=FORM_TOKEN_SECONDS,
        max_spent=MAX_SPENT_FORMS,
        saved=saved if isinstance(saved, dict) else None,
    )
    await store.async_save({"clean": False})

    async def async_save_clean(_event: Event) -> None:
        await store.async_save({"clean": True, "tokens": forms.saved()})

    hass.bus.async_listen_once(EVENT_HOMEASSISTANT_FINAL_WRITE, async_save_clean)
    return forms


async def async_create_context(hass: HomeAssistant) -> WebContext:
    """Load (or make, once) the signing key and the form tokens; read the templates."""
    store: Store[dict[str, str]] = Store(hass, 1, _KEY_STORE, private=True)
    data = await store.async_load()
    if data and isinstance(data.get("key"), str):
        key = bytes.fromhex(data["key"])
    else:
        key = new_key()
        await store.async_save({"key": key.hex()})
    templates, static = await hass.async_add_executor_job(_load_files)
    env = jinja2.Environment(
        loader=jinja2.DictLoader(templates),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["local_time"] = local_time
    return WebContext(
        hass=hass,
        signer=RoomSigner(key),
        env=env,
        static=static,
        forms=await async_form_tokens(hass, key),
        devices=DeviceCredentials(key),
    )
