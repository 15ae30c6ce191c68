"""The reservation page: a patron reserves a long-term study room online (事先線上登記).

The seed: "Reserve before use (click here)"; this month's holder of a long-term room then
needs no borrow step. The page (linked from the status panel and from every long-term room's
page) is mobile first, in Traditional Chinese and English, and works without JavaScript:

1. the patron logs in with their My Library account and password, through the patron gate
   like the room page (the same throttle, fair password checks and known browser);
2. the page shows the long-term rooms still free for the rest of this month and for next
   month (from the site's opening day and time), and the patron's own reservations;
3. the patron picks a room, confirms, and the room is theirs (or they are told why not: the
   room was just taken, and which are still free); they may cancel a reservation of theirs.

A login opens a session (core/patron_sessions.py: an HttpOnly cookie that names no one, kept
here only as a hash, ended by logging out or 15 minutes without use). Only that session's pages
show anything of the patron. Every form carries a single-use token bound to the login form or to
the session; reserving and cancelling take the site's one command path
(patron_reservations.py), so a reservation is written before it is answered.
"""

from __future__ import annotations

from dataclasses import dataclass
import re
import time
from typing import TYPE_CHECKING, Any, Final

from aiohttp import web
from homeassistant.components.http import HomeAssistantView
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.util import dt as dt_util

from ..core.categories import CATEGORIES
from ..core.errors import Reason, Refused
from ..core.limits import MAX_ID_LENGTH, MAX_PASSWORD_LENGTH
from ..core.patron_sessions import PatronSessions, Session
from ..core.reservation_rules import free_rooms
from ..patron_reservations import (
    Overview,
    async_cancel,
    async_reserve,
    check,
    overview,
    reserving_sites,
)
from .context import (
    ACTIVATE_PATH,
    RESERVE_PATH,
    STATUS_PATH,
    WebContext,
    html_response,
    local_time,
    page_language,
)
from .forms import (
    async_message_page,
    async_page_form,
    device_of,
    echo_id,
    fill,
    refusal_message,
    refusal_status,
    remember_device,
    retry_after,
)
from .reserve_texts import RESERVE_TEXTS, month_label
from .texts import other_language

if TYPE_CHECKING:
    from ..site import Site

SESSION_COOKIE: Final = "ntnu_reserve"
SESSION_IDLE_SECONDS: Final = 15 * 60
MAX_SESSIONS: Final = 10_000
MAX_SESSIONS_PER_PATRON: Final = 4
LOGIN_SCOPE: Final = "reserve:login"

ACTIONS: Final = ("login", "logout", "choose", "reserve", "ask_cancel", "cancel")
_FIELDS: Final = frozenset(
    {"token", "lang", "action", "patron_id", "password", "room", "month", "site"}
)
_ROOM: Final = re.compile(r"^[A-Za-z0-9_-]{1,16}\Z")
_MONTH: Final = re.compile(r"^[0-9]{4}-[0-9]{2}\Z")
_SITE: Final = re.compile(r"^[A-Za-z0-9_-]{1,64}\Z")


@dataclass(frozen=True, slots=True)
class Choice:
    """The room, month and site a form names (already checked for shape)."""

    site: Site
    room: str
    month: str


class ReserveView(HomeAssistantView):
    """GET shows the login or the patron's page; POST logs in, reserves, cancels, logs out."""

    url = RESERVE_PATH
    name = "ntnu_library:reserve"
    requires_auth = False

    def __init__(self, context: WebContext) -> None:
        self._context = context
        self.sessions = PatronSessions(
            idle_seconds=SESSION_IDLE_SECONDS,
            max_sessions=MAX_SESSIONS,
            max_per_patron=MAX_SESSIONS_PER_PATRON,
        )

    async def get(self, request: web.Request) -> web.Response:
        """The login form, or the logged-in patron's rooms and reservations."""
        language = page_language(request)
        sites = reserving_sites(self._context.sites())
        if not sites:
            return await self._async_none(request, language)
        session = self._session(request)
        if session is None:
            return await self._async_login_page(language)
        return await self._async_patron_page(sites, session, language)

    async def post(self, request: web.Request) -> web.Response:
        """One step of the patron's: log in, choose, reserve, cancel or log out."""
        context = self._context
        form, too_large = await async_page_form(context, request, _FIELDS)
        if too_large is not None:
            return too_large
        language = page_language(request, form.get("lang") if form else None)
        sites = reserving_sites(context.sites())
        if not sites:
            return await self._async_none(request, language)
        session = self._session(request)
        action = form.get("action", "") if form else ""
        if form is None or action not in ACTIONS:
            if session is None:
                return await self._async_login_page(language, 400, problem_key="invalid_request")
            return await self._async_patron_page(
                sites, session, language, 400, problem_key="invalid_request"
            )
        if action == "login":
            return await self._async_login(request, sites, form, language)
        if session is None:
            response = await self._async_login_page(language, 403, problem_key="session_ended")
            response.del_cookie(SESSION_COOKIE, path=RESERVE_PATH)
            return response
        if not context.forms.consume(form.get("token"), _scope(session)):
            return await self._async_patron_page(
                sites, session, language, 400, problem_key="form_expired"
            )
        if action == "logout":
            self.sessions.close(request.cookies.get(SESSION_COOKIE))
            response = await self._async_login_page(language)
            response.del_cookie(SESSION_COOKIE, path=RESERVE_PATH)
            return response
        choice = _choice(sites, form)
        if choice is None:
            return await self._async_patron_page(
                sites, session, language, 400, problem_key="invalid_request"
            )
        if action == "choose":
            return await self._async_confirm(sites, session, language, choice, cancelling=False)
        if action == "ask_cancel":
            return await self._async_confirm(sites, session, language, choice, cancelling=True)
        return await self._async_change(sites, session, language, choice, action)

    # --- the steps ---------------------------------------------------------------------------

    async def _async_login(
        self, request: web.Request, sites: list[Site], form: dict[str, str], language: str
    ) -> web.Response:
        """Check the account through the site's gate; a session on success."""
        context = self._context
        patron_id = echo_id(form.get("patron_id"))
        if not context.forms.consume(form.get("token"), LOGIN_SCOPE):
            return await self._async_login_page(
                language, 400, problem_key="form_expired", patron_id=patron_id
            )
        given_id = form.get("patron_id", "").strip()
        password = form.get("password", "")
        if not given_id or not password:
            return await self._async_login_page(
                language, 400, problem_key="missing_fields", patron_id=patron_id
            )
        if len(given_id) > MAX_ID_LENGTH or len(password) > MAX_PASSWORD_LENGTH:
            return await self._async_login_page(
                language, 400, problem_key="invalid_request", patron_id=patron_id
            )
        words = await self._async_words(language)
        try:
            patron = await sites[0].gate.async_login(
                given_id,
                password,
                caller=f"web:{request.remote}",
                address=request.remote,
                device=device_of(context, request, given_id),
            )
        except Refused as refusal:
            response = await self._async_login_page(
                language,
                refusal_status(refusal),
                problem=refusal_message(words, refusal),
                patron_id=patron_id,
            )
            return retry_after(response, refusal)
        token = self.sessions.open(patron, time.monotonic())
        session = self.sessions.get(token, time.monotonic())
        assert session is not None
        response = await self._async_patron_page(sites, session, language)
        response.set_cookie(
            SESSION_COOKIE,
            token,
            path=RESERVE_PATH,
            httponly=True,
            secure=request.secure,
            samesite="Strict",
        )
        remember_device(context, request, response, given_id)
        return response

    async def _async_confirm(
        self,
        sites: list[Site],
        session: Session,
        language: str,
        choice: Choice,
        *,
        cancelling: bool,
    ) -> web.Response:
        """Ask the patron to confirm; a room they may not reserve is refused at once."""
        if not cancelling:
            try:
                check(
                    self._context.hass,
                    choice.site,
                    session.patron,
                    choice.room,
                    choice.month,
                    dt_util.now(),
                )
            except Refused as refusal:
                return await self._async_refused(sites, session, language, choice, refusal)
        words = await self._async_words(language)
        values = {"room": choice.room, "month": month_label(choice.month, language)}
        confirm = {
            "action": "cancel" if cancelling else "reserve",
            "question": fill(words["confirm_cancel" if cancelling else "confirm_reserve"], values),
            "button": words["confirm_cancel_button" if cancelling else "confirm_reserve_button"],
            "site": choice.site.entry_id,
            "room": choice.room,
            "month": choice.month,
        }
        return await self._async_patron_page(sites, session, language, confirm=confirm)

    async def _async_change(
        self, sites: list[Site], session: Session, language: str, choice: Choice, action: str
    ) -> web.Response:
        """Reserve or cancel, in the one transaction; the page with what came of it."""
        hass = self._context.hass
        words = await self._async_words(language)
        try:
            if action == "reserve":
                await async_reserve(hass, choice.site, session.patron, choice.room, choice.month)
            else:
                await async_cancel(choice.site, session.patron, choice.room, choice.month)
        except Refused as refusal:
            return await self._async_refused(sites, session, language, choice, refusal)
        except HomeAssistantError:  # not written: nothing changed
            return await self._async_patron_page(
                sites, session, language, 503, problem=words["service_unavailable"]
            )
        values = {"room": choice.room, "month": month_label(choice.month, language)}
        if action == "reserve":
            result = {"title": fill(words["reserved"], values), "note": words["reserved_how"]}
        else:
            result = {"title": fill(words["cancelled"], values), "note": ""}
        return await self._async_patron_page(sites, session, language, result=result)

    async def _async_refused(
        self,
        sites: list[Site],
        session: Session,
        language: str,
        choice: Choice,
        refusal: Refused,
    ) -> web.Response:
        """The reason, in the patron's words; a room just taken says which are still free."""
        words = await self._async_words(language)
        month = month_label(choice.month, language)
        problem = refusal_message(words, refusal, {"month": month})
        if refusal.reason is Reason.ALREADY_RESERVED:
            free = [room.room_id for room in free_rooms(choice.site.rooms, choice.month)]
            more = (
                fill(words["still_free"], {"month": month, "rooms": ", ".join(free)})
                if free
                else fill(words["none_free"], {"month": month})
            )
            problem = f"{problem} {more}"
        response = await self._async_patron_page(
            sites, session, language, refusal_status(refusal), problem=problem
        )
        return retry_after(response, refusal)

    # --- pages -------------------------------------------------------------------------------

    async def _async_none(self, request: web.Request, language: str) -> web.Response:
        return await async_message_page(
            self._context, request, "no_long_term_rooms", 404, language=language
        )

    async def _async_login_page(
        self,
        language: str,
        status: int = 200,
        *,
        problem_key: str | None = None,
        problem: str | None = None,
        patron_id: str = "",
    ) -> web.Response:
        """The login form (nothing of any patron on it)."""
        words = await self._async_words(language)
        return self._render(
            language,
            words,
            status,
            problem=words[problem_key] if problem_key else problem,
            token=self._context.forms.issue(LOGIN_SCOPE),
            patron_id=patron_id,
            max_id=MAX_ID_LENGTH,
            max_password=MAX_PASSWORD_LENGTH,
        )

    async def _async_patron_page(
        self,
        sites: list[Site],
        session: Session,
        language: str,
        status: int = 200,
        *,
        problem_key: str | None = None,
        problem: str | None = None,
        result: dict[str, str] | None = None,
        confirm: dict[str, str] | None = None,
    ) -> web.Response:
        """The patron's own page: their reservations and the rooms free this month and next."""
        words = await self._async_words(language)
        now = dt_util.now()
        try:
            seen = overview(self._context.hass, sites, session.patron, now)
        except Refused:  # removed from the directory meanwhile: logged out
            return await self._async_login_page(language, 403, problem_key="session_ended")
        return self._render(
            language,
            words,
            status,
            problem=words[problem_key] if problem_key else problem,
            token=self._context.forms.issue(_scope(session)),
            patron=session.patron.patron_id,
            result=result,
            confirm=confirm,
            **_shown(seen, words, language, many_sites=len(sites) > 1),
        )

    def _render(
        self, language: str, words: dict[str, str], status: int, **values: Any
    ) -> web.Response:
        body = self._context.render(
            "reserve.html",
            lang=language,
            t=words,
            form_action=RESERVE_PATH,
            switch_url=f"{RESERVE_PATH}?lang={other_language(language)}",
            activate_url=f"{ACTIVATE_PATH}?lang={language}",
            status_url=f"{STATUS_PATH}?lang={language}",
            # The seed's own words under the English title.
            seed_title=RESERVE_TEXTS["zh-Hant"]["reserve_title"] if language == "en" else "",
            **{"patron": "", "result": None, "confirm": None} | values,
        )
        return html_response(body, status=status, private=True)

    async def _async_words(self, language: str) -> dict[str, str]:
        return await self._context.async_words(language) | RESERVE_TEXTS[language]

    def _session(self, request: web.Request) -> Session | None:
        return self.sessions.get(request.cookies.get(SESSION_COOKIE), time.monotonic())


def _scope(session: Session) -> str:
    """What a session's form tokens are bound to."""
    return f"reserve:{session.scope}"


def _choice(sites: list[Site], form: dict[str, str]) -> Choice | None:
    """The room, month and site a form names; None for anything malformed."""
    room, month, site_id = form.get("room", ""), form.get("month", ""), form.get("site", "")
    if not _ROOM.match(room) or not _MONTH.match(month):
        return None
    if not site_id and len(sites) == 1:
        return Choice(site=sites[0], room=room, month=month)
    if not _SITE.match(site_id):
        return None
    site = next((site for site in sites if site.entry_id == site_id), None)
    return Choice(site=site, room=room, month=month) if site is not None else None


def _shown(
    seen: Overview, words: dict[str, str], language: str, *, many_sites: bool
) -> dict[str, Any]:
    """What the template shows of the overview, every label in the patron's language."""
    months = []
    limit = seen.rules.long_term_per_month
    for index, offer in enumerate(seen.months):
        label = month_label(offer.month, language)
        months.append(
            {
                "month": offer.month,
                "heading": fill(
                    words["month_this" if index == 0 else "month_next"], {"month": label}
                ),
                "is_open": offer.is_open,
                "opens": fill(words["opens_at"], {"time": local_time(offer.opens)}),
                # At the month's limit already: no room to pick, and why.
                "full": fill(
                    words["error_long_term_limit_reached"],
                    {"rooms": ", ".join(offer.held), "month": label, "limit": str(limit)},
                )
                if len(offer.held) >= limit
                else "",
                "sites": [
                    {
                        "site": part.site.entry_id,
                        "name": part.site.site_name if many_sites else "",
                        "free": part.free,
                    }
                    for part in offer.sites
                ],
                "any_free": any(part.free for part in offer.sites),
            }
        )
    rules = seen.rules
    allowed = [CATEGORIES[key].label(language) for key in rules.long_term_categories]
    separator = ", " if language == "en" else "、"
    return {
        "refusal": refusal_message(words, seen.refusal) if seen.refusal else "",
        "eligible": fill(words["eligible_list"], {"categories": separator.join(allowed)})
        if allowed
        else words["nobody_eligible"],
        "limit": fill(words["limit_note"], {"limit": str(rules.long_term_per_month)}),
        "months": months,
        "holdings": [
            {
                "site": held.site.entry_id,
                "site_name": held.site.site_name if many_sites else "",
                "room": held.room,
                "month": held.month,
                "label": month_label(held.month, language),
            }
            for held in seen.holdings
        ],
        "can_reserve": seen.refusal is None,
        "show_eligible": seen.refusal is not None and seen.refusal.reason is Reason.NOT_ELIGIBLE,
    }


def register(hass: HomeAssistant, context: WebContext) -> None:
    """Register the reservation page."""
    hass.http.register_view(ReserveView(context))
