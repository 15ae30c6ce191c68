"""The activation page: a new patron chooses their own password with a one-time code.

Staff add the patron (service `add_patron`, or `update_patron` with `reset_password`) and
hand over the activation code; the patron enters their ID, the code and a new password twice.
A wrong ID, a wrong code and an expired code get the same answer; attempts are throttled as
logins are. A password the rules refuse (core.password_rules: too short or long, the patron's
ID, name or code in it, too common or easy to guess) gets its own words, in the patron's
language: the length before the code is checked (it tells nothing of the patron), the rest only
after the code matched. Only a site with its own patron directory has this page (with SIP2 the
library system keeps the passwords). Passwords and codes are never sent back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from aiohttp import web
from homeassistant.components.http import HomeAssistantView
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError

from ..core.errors import Reason, Refused
from ..core.limits import MAX_ID_LENGTH, MAX_PASSWORD_LENGTH
from ..core.password_rules import MIN_PASSWORD_LENGTH, PASSWORD_REASONS, check_length
from .context import ACTIVATE_PATH, WebContext, html_response, page_language
from .forms import (
    async_message_page,
    async_page_form,
    echo_id,
    fill,
    refusal_message,
    refusal_status,
    retry_after,
)
from .texts import other_language

if TYPE_CHECKING:
    from ..site import Site

MAX_CODE_LENGTH: Final = 64
_FIELDS: Final = frozenset({"token", "lang", "patron_id", "code", "password", "repeat"})


def activation_site(context: WebContext) -> Site | None:
    """The site whose patron directory is the library's own (the first loaded), or None."""
    for site in context.sites():
        if site.patrons.directory is not None:
            return site
    return None


def form_scope(site: Site) -> str:
    """What an activation form's token is bound to."""
    return f"activate:{site.entry_id}"


class ActivateView(HomeAssistantView):
    """GET shows the form; POST sets the patron's password."""

    url = ACTIVATE_PATH
    name = "ntnu_library:activate"
    requires_auth = False

    def __init__(self, context: WebContext) -> None:
        self._context = context

    async def get(self, request: web.Request) -> web.Response:
        """The activation form (404 where passwords are the library system's)."""
        site = activation_site(self._context)
        if site is None:
            return await self._async_unavailable(request, page_language(request))
        return await self._async_page(site, page_language(request))

    async def post(self, request: web.Request) -> web.Response:
        """Check the code and set the password."""
        context = self._context
        form, too_large = await async_page_form(context, request, _FIELDS)
        if too_large is not None:
            return too_large
        language = page_language(request, form.get("lang") if form else None)
        site = activation_site(context)
        if site is None:
            return await self._async_unavailable(request, language)
        if form is None:
            return await self._async_page(site, language, status=400, problem_key="invalid_request")
        patron_id = echo_id(form.get("patron_id"))
        if not context.forms.consume(form.get("token"), form_scope(site)):
            return await self._async_page(
                site, language, status=400, problem_key="form_expired", patron_id=patron_id
            )
        given_id = form.get("patron_id", "").strip()
        code = form.get("code", "").strip()
        password = form.get("password", "")
        repeat = form.get("repeat", "")
        words = await context.async_words(language)
        problem: str | None = None
        if not (given_id and code and password and repeat):
            problem = words["activate_missing_fields"]
        elif (
            len(given_id) > MAX_ID_LENGTH
            or len(code) > MAX_CODE_LENGTH
            or len(password) > MAX_PASSWORD_LENGTH
            or len(repeat) > MAX_PASSWORD_LENGTH
        ):
            problem = words["invalid_request"]
        elif password != repeat:
            problem = words["password_mismatch"]
        else:
            try:
                check_length(password)
            except Refused as refusal:
                problem = refusal_message(words, refusal)
        if problem is not None:
            return await self._async_page(
                site, language, status=400, problem=problem, patron_id=patron_id
            )
        try:
            await site.directory.async_activate(given_id, code, password, address=request.remote)
        except Refused as refusal:
            return await self._async_refused(request, site, language, refusal, patron_id)
        except HomeAssistantError:  # the password could not be saved: it is not set
            return await self._async_page(
                site,
                language,
                status=503,
                problem=words["service_unavailable"],
                patron_id=patron_id,
            )
        return await self._async_page(site, language, done=True)

    async def _async_refused(
        self,
        request: web.Request,
        site: Site,
        language: str,
        refusal: Refused,
        patron_id: str,
    ) -> web.Response:
        words = await self._context.async_words(language)
        reason = refusal.reason
        status = refusal_status(refusal)
        if reason is Reason.INVALID_CREDENTIALS:
            problem = words["activation_refused"]  # the same whatever was wrong
        elif reason in PASSWORD_REASONS:
            status = 400  # the code was right and is still good: choose another password
            problem = refusal_message(words, refusal)
        elif reason is Reason.INVALID_VALUE:
            status = 400
            problem = words["invalid_request"]
        elif reason is Reason.PATRONS_MANAGED_ELSEWHERE:
            return await self._async_unavailable(request, language)
        else:
            problem = refusal_message(words, refusal)
        response = await self._async_page(
            site, language, status=status, problem=problem, patron_id=patron_id
        )
        return retry_after(response, refusal)

    async def _async_unavailable(self, request: web.Request, language: str) -> web.Response:
        return await async_message_page(
            self._context,
            request,
            "activate_unavailable",
            404,
            language=language,
            fallback="error_patrons_managed_elsewhere",
        )

    async def _async_page(
        self,
        site: Site,
        language: str,
        *,
        status: int = 200,
        problem_key: str | None = None,
        problem: str | None = None,
        patron_id: str = "",
        done: bool = False,
    ) -> web.Response:
        """The activation page: the form, or the word that the password is set."""
        context = self._context
        words = await context.async_words(language)
        if problem_key is not None:
            problem = words[problem_key]
        body = context.render(
            "activate.html",
            lang=language,
            t=words,
            done=done,
            problem=problem,
            patron_id=patron_id,
            max_id=MAX_ID_LENGTH,
            max_code=MAX_CODE_LENGTH,
            max_password=MAX_PASSWORD_LENGTH,
            min_password=MIN_PASSWORD_LENGTH,
            hint=fill(words["password_hint"], {"min": str(MIN_PASSWORD_LENGTH)}),
            token="" if done else context.forms.issue(form_scope(site)),
            form_action=ACTIVATE_PATH,
            switch_url=f"{ACTIVATE_PATH}?lang={other_language(language)}",
        )
        return html_response(body, status=status, private=True)


def register(hass: HomeAssistant, context: WebContext) -> None:
    """Register the activation page."""
    hass.http.register_view(ActivateView(context))
