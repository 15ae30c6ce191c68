"""The self-checkout station `/ntnu_library/kiosk/{kiosk}`: a browser in kiosk mode by the books.

Staff open the station once (web/kiosk_open.py): the browser then holds a station credential,
an HttpOnly, SameSite=Strict cookie limited to this kiosk's page, valid for this site's kiosk
only and revocable (service `revoke_kiosk_station`). Without it the page lends nothing and
offers only the opening. With it, the page needs no Home Assistant account and does one thing:
this kiosk's self-checkout, through the same circulation rules and transaction as the staff
services (`CirculationDesk.async_checkout`), so every loan counts on the kiosk's entities.

The library's machine "reads the patron and the status of the book": the patron's card reader
types the card number and Enter (a keyboard wedge) and the session starts; or the patron types
their ID and My Library password (an ID is no secret, so it never starts a session alone). With
the site option `kiosk_password` the card needs the password too. Failed cards and IDs go
through the login throttle like any login. Each scanned barcode answers at once: lent with its
due date, or refused with the reason and what to do. "Print receipt" prints the loan list on an
80 mm receipt (the print style sheet), "My items" lists the patron's loans, "Done" ends the
session, and so does `kiosk_idle_seconds` without input (decided here at every request; the
page's script and, without script, a refresh only show it). A kiosk with a fault
(`kiosk_fault`) is out of service in both languages and lends nothing.

Plain forms, each with a single-use token bound to the station and the session, the same
headers as every public page; a card number is never sent back, logged or put in an address.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
import re
from typing import TYPE_CHECKING, Any, Final

from aiohttp import web
from homeassistant.components.http import HomeAssistantView
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.util import dt as dt_util

from ..core.errors import Reason, Refused
from ..core.identity import mask_patron_id
from ..core.kiosk_sessions import KioskSession, KioskSessions, KioskSettings
from ..core.limits import MAX_CARD_LENGTH, MAX_PASSWORD_LENGTH
from ..core.station_credentials import Station
from ..kiosk_stations import async_open_station
from .context import WebContext, html_response, page_language, secure_headers
from .forms import BadForm, fill, read_form, refusal_message, refusal_status, retry_after
from .kiosk_lines import async_scan, loan_rows, scan_rows
from .kiosk_open import KIOSK_PATH, authorize_url, client_id, confirmed_admin, open_scope
from .kiosk_texts import KIOSK_TEXTS, OUT_OF_SERVICE
from .texts import other_language

if TYPE_CHECKING:
    from ..site import Site

# The station credential: sent only to this kiosk's page. Browsers keep a cookie at most 400
# days; every visit of an open station renews it.
STATION_COOKIE: Final = "ntnu_station"
STATION_COOKIE_SECONDS: Final = 400 * 24 * 3600
KIOSK_ID_IN_PATH: Final = re.compile(r"^[A-Za-z0-9_-]{1,32}\Z")
# An idle welcome page reloads before its form token would expire.
WELCOME_REFRESH_SECONDS: Final = 300
_FIELDS: Final = frozenset(
    {"token", "lang", "session", "op", "patron", "password", "barcode", "state", "access_token"}
)


@dataclass(frozen=True, slots=True)
class _Open:
    """An open station, as a request finds it."""

    site: Site
    kiosk: str
    station: Station
    settings: KioskSettings


class KioskView(HomeAssistantView):
    """GET shows the station as it is; POST opens it, starts a session, lends, ends."""

    url = KIOSK_PATH
    name = "ntnu_library:kiosk"
    requires_auth = False

    def __init__(self, context: WebContext) -> None:
        self._context = context
        self.sessions = KioskSessions()

    # --- finding the station ------------------------------------------------------------------

    def _sites(self, kiosk: str) -> list[Site]:
        return [site for site in self._context.sites() if kiosk in site.desk.kiosks]

    def _station(self, request: web.Request, sites: list[Site], kiosk: str) -> _Open | None:
        cookie = request.cookies.get(STATION_COOKIE)
        for site in sites:
            station = site.library.stations.find(cookie, site=site.entry_id, kiosk=kiosk)
            if station is not None:
                entry = site.hass.config_entries.async_get_entry(site.entry_id)
                options: Mapping[str, Any] = entry.options if entry is not None else {}
                return _Open(site, kiosk, station, KioskSettings.from_options(options))
        return None

    def _session(self, where: _Open, session_id: str | None = None) -> KioskSession | None:
        return self.sessions.current(
            where.station.station_id,
            dt_util.utcnow(),
            where.settings.idle_seconds,
            session_id,
        )

    @staticmethod
    def _scope(where: _Open, session_id: str | None) -> str:
        """What a station form's token is bound to: the station, and the session if any."""
        station = where.station.station_id
        return f"kiosk:{where.site.entry_id}:{where.kiosk}:{station}:{session_id or '-'}"

    @staticmethod
    def _fault(where: _Open) -> str | None:
        fault: str | None = where.site.desk.kiosk_status(where.kiosk)["fault"]
        return fault

    # --- requests -----------------------------------------------------------------------------

    async def get(self, request: web.Request, kiosk: str) -> web.Response:
        """The station: not open, out of service, waiting for a card, or a patron's session."""
        language = page_language(request)
        sites = self._sites(kiosk) if KIOSK_ID_IN_PATH.match(kiosk) else []
        if not sites:
            return await self._async_message(language, "no_such_kiosk", 404)
        code, state = request.query.get("code"), request.query.get("state")
        if code and state:
            return await self._async_closed(request, sites[0], kiosk, language, code=code)
        where = self._station(request, sites, kiosk)
        if where is None:
            return await self._async_closed(request, sites[0], kiosk, language, status=403)
        if self._fault(where) is not None:
            return await self._async_out_of_service(where, language)
        response = await self._async_page(where, language, self._session(where))
        return self._renew(request, response, where)

    async def post(self, request: web.Request, kiosk: str) -> web.Response:
        """One form of the station (`op`): open, start, item, receipt, items or done."""
        sites = self._sites(kiosk) if KIOSK_ID_IN_PATH.match(kiosk) else []
        try:
            form = await read_form(request, _FIELDS)
        except BadForm as err:
            return await self._async_message(page_language(request), "invalid_request", err.status)
        language = page_language(request, form.get("lang"))
        if not sites:
            return await self._async_message(language, "no_such_kiosk", 404)
        op = form.get("op", "")
        if op == "open":
            return await self._async_open(request, sites[0], kiosk, form, language)
        where = self._station(request, sites, kiosk)
        if where is None:
            return await self._async_closed(request, sites[0], kiosk, language, status=403)
        if self._fault(where) is not None:
            return await self._async_out_of_service(where, language)
        named = form.get("session") or None
        if not self._context.forms.consume(form.get("token"), self._scope(where, named)):
            return await self._async_page(
                where, language, self._session(where), status=400, problem_key="form_expired"
            )
        if op == "start":
            return await self._async_start(request, where, form, language)
        session = self._session(where, named) if named else None
        if session is None:  # ended: Done elsewhere, a new patron, or idle too long
            return await self._async_page(where, language, None, notice_key="session_ended")
        if op == "done":
            self.sessions.end(where.station.station_id)
            return await self._async_page(
                where, page_language(request), None, notice_key="thank_you"
            )
        self.sessions.touch(session, dt_util.utcnow())
        if op == "item":
            return await self._async_item(where, session, form.get("barcode", ""), language)
        if op in ("receipt", "items"):
            return await self._async_page(where, language, session, view=op)
        return await self._async_page(
            where, language, session, status=400, problem_key="invalid_request"
        )

    # --- what each form does ------------------------------------------------------------------

    async def _async_open(
        self,
        request: web.Request,
        site: Site,
        kiosk: str,
        form: Mapping[str, str],
        language: str,
    ) -> web.Response:
        """An administrator's login comes back: the browser becomes this kiosk's station."""
        if not self._context.forms.consume(form.get("state"), open_scope(site, kiosk)):
            return await self._async_closed(
                request, site, kiosk, language, status=400, problem_key="opening_expired"
            )
        user = confirmed_admin(site.hass, form.get("access_token", ""), client_id(request, kiosk))
        if user is None:
            return await self._async_closed(
                request, site, kiosk, language, status=403, problem_key="opening_not_admin"
            )
        try:
            _, credential = await async_open_station(
                site.library, site=site.entry_id, kiosk=kiosk, opened_by=user.id
            )
        except HomeAssistantError:
            return await self._async_closed(
                request, site, kiosk, language, status=503, problem_key="service_unavailable"
            )
        # Back to the station by GET: the opening's code leaves the address and the history.
        response = web.Response(
            status=303, headers={"Location": f"{KIOSK_PATH.format(kiosk=kiosk)}?lang={language}"}
        )
        secure_headers(response, private=True)
        self._set_cookie(request, response, kiosk, credential)
        return response

    async def _async_start(
        self, request: web.Request, where: _Open, form: Mapping[str, str], language: str
    ) -> web.Response:
        """A card (or an ID and password) starts a patron's session."""
        typed = form.get("patron", "").strip()
        password = form.get("password", "")
        if not typed:
            return await self._async_page(
                where, language, None, status=400, problem_key="scan_card"
            )
        if len(typed) > MAX_CARD_LENGTH or len(password) > MAX_PASSWORD_LENGTH:
            return await self._async_page(
                where, language, None, status=400, problem_key="invalid_request"
            )
        if not password and where.settings.password_required:
            return await self._async_page(
                where, language, None, status=400, problem_key="password_needed"
            )
        gate = where.site.gate
        caller = f"kiosk:{where.kiosk}"
        try:
            if password:
                # A card or an ID, then the password: the card's holder is who logs in.
                holder = await gate.async_find_by_card(typed)
                patron_id = holder.patron_id if holder is not None else typed
                patron = await gate.async_login(
                    patron_id, password, caller=caller, address=request.remote
                )
            else:
                patron = await gate.async_card_login(typed, caller=caller, address=request.remote)
        except Refused as refusal:
            words = await self._async_words(language)
            if refusal.reason is Reason.INVALID_CREDENTIALS and not password:
                problem = words["card_not_recognised"]
            else:
                problem = refusal_message(words, refusal)
            response = await self._async_page(
                where, language, None, status=refusal_status(refusal), problem=problem
            )
            return retry_after(response, refusal)
        session = self.sessions.start(where.station.station_id, patron.patron_id, dt_util.utcnow())
        return await self._async_page(where, language, session, view="start")

    async def _async_item(
        self, where: _Open, session: KioskSession, barcode: str, language: str
    ) -> web.Response:
        """One scanned barcode: lent or refused, at once."""
        if not barcode.strip():
            return await self._async_page(where, language, session)
        try:
            line = await async_scan(where.site.desk, where.kiosk, session.patron_id, barcode)
        except Refused as refusal:
            if refusal.reason is Reason.KIOSK_FAULT:
                return await self._async_out_of_service(where, language)
            raise
        except HomeAssistantError:  # the loan could not be saved: nothing was lent
            return await self._async_page(
                where, language, session, status=503, problem_key="service_unavailable"
            )
        session.add(line)
        return await self._async_page(where, language, session)

    # --- pages --------------------------------------------------------------------------------

    async def _async_words(self, language: str) -> dict[str, str]:
        return await self._context.async_words(language) | KIOSK_TEXTS[language]

    async def _async_page(
        self,
        where: _Open,
        language: str,
        session: KioskSession | None,
        *,
        status: int = 200,
        problem_key: str | None = None,
        problem: str | None = None,
        notice_key: str | None = None,
        view: str = "",
    ) -> web.Response:
        """The welcome page (no session) or the patron's session, with a fresh form."""
        context = self._context
        words = await self._async_words(language)
        if problem_key is not None:
            problem = words[problem_key]
        path = KIOSK_PATH.format(kiosk=where.kiosk)
        values: dict[str, Any] = {"blocked": None, "loans": None, "my_items_title": ""}
        if session is not None:
            desk = where.site.desk
            values |= {
                "patron": mask_patron_id(session.patron_id),
                "rows": scan_rows(words, session.lines),
                "receipt": scan_rows(words, session.lent),
                "receipt_time": dt_util.now().strftime("%Y-%m-%d %H:%M"),
                "receipt_count": fill(words["receipt_count"], {"count": str(len(session.lent))}),
            }
            if view in ("items", "start"):
                try:
                    loans = await desk.async_patron_loans(session.patron_id)
                except (Refused, HomeAssistantError):
                    loans = None
                if loans is not None:
                    values |= loan_rows(words, loans, listed=view == "items")
        body = context.render(
            "kiosk.html",
            lang=language,
            t=words,
            kiosk=where.kiosk,
            kiosk_name=words["kiosk_name"].format(kiosk=where.kiosk),
            site_name=where.site.name_in(language),
            session=session,
            session_id=session.session_id if session is not None else "",
            view=view,
            problem=problem,
            notice=words[notice_key] if notice_key else None,
            token=context.forms.issue(
                self._scope(where, session.session_id if session is not None else None)
            ),
            form_action=path,
            switch_url=f"{path}?lang={other_language(language)}",
            password_required=where.settings.password_required,
            idle_seconds=where.settings.idle_seconds,
            idle_hint=words["idle_hint"].format(seconds=where.settings.idle_seconds),
            refresh_seconds=WELCOME_REFRESH_SECONDS,
            other_lang=other_language(language),
            o=KIOSK_TEXTS[other_language(language)],
            max_card=MAX_CARD_LENGTH,
            max_password=MAX_PASSWORD_LENGTH,
            **values,
        )
        return html_response(body, status=status, private=True)

    async def _async_closed(
        self,
        request: web.Request,
        site: Site,
        kiosk: str,
        language: str,
        *,
        status: int = 200,
        problem_key: str | None = None,
        code: str | None = None,
    ) -> web.Response:
        """Not open here: the opening for staff (or, with a code, its last step)."""
        words = await self._async_words(language)
        path = KIOSK_PATH.format(kiosk=kiosk)
        state = self._context.forms.issue(open_scope(site, kiosk))
        body = self._context.render(
            "kiosk_station.html",
            lang=language,
            t=words,
            mode="opening" if code else "closed",
            kiosk_name=words["kiosk_name"].format(kiosk=kiosk),
            problem=words[problem_key] if problem_key else None,
            open_url=authorize_url(request, kiosk, state, language),
            form_action=path,
            client_id=client_id(request, kiosk),
            code=code or "",
            state=request.query.get("state", "") if code else "",
            switch_url=f"{path}?lang={other_language(language)}" if not code else "",
        )
        return html_response(body, status=status, private=True)

    async def _async_out_of_service(self, where: _Open, language: str) -> web.Response:
        """A kiosk with a fault: nothing is lent; the notice in both languages."""
        self.sessions.end(where.station.station_id)
        words = await self._async_words(language)
        body = self._context.render(
            "kiosk_station.html",
            lang=language,
            t=words,
            mode="fault",
            kiosk_name=words["kiosk_name"].format(kiosk=where.kiosk),
            notices=OUT_OF_SERVICE,
            problem=None,
            switch_url="",
        )
        return html_response(body, status=503, private=True)

    async def _async_message(self, language: str, key: str, status: int) -> web.Response:
        words = await self._async_words(language)
        body = self._context.render(
            "message.html", lang=language, t=words, message=words[key], switch_url=""
        )
        return html_response(body, status=status, private=True)

    # --- the credential -----------------------------------------------------------------------

    @staticmethod
    def _set_cookie(
        request: web.Request, response: web.StreamResponse, kiosk: str, credential: str
    ) -> None:
        response.set_cookie(
            STATION_COOKIE,
            credential,
            max_age=STATION_COOKIE_SECONDS,
            path=KIOSK_PATH.format(kiosk=kiosk),
            httponly=True,
            secure=request.secure,
            samesite="Strict",
        )

    def _renew(self, request: web.Request, response: web.Response, where: _Open) -> web.Response:
        credential = request.cookies.get(STATION_COOKIE)
        if credential:
            self._set_cookie(request, response, where.kiosk, credential)
        return response


def register(hass: HomeAssistant, context: WebContext) -> None:
    """Register the self-checkout station page."""
    hass.http.register_view(KioskView(context))
