"""The room page behind the QR code on each room's e-label.

The seed: scan the code → the room page opens → check that it is the room (個人臨時研究室) and
that it is idle (閒置) → log in with the My Library account and password → tick 登記使用,
開門 or 結束使用 → press 登錄 → the door unlocks. A long-term room's holder only opens (開門).

One form, mobile first, in Traditional Chinese and English. The address is signed (a forged
or another room's address is refused), every form carries a single-use token bound to the
room, and the password is never sent back. The login throttle (core/throttle.py) sees the
client's address, so guessing is slowed here as everywhere.

Also the form helpers the activation page shares: reading a small urlencoded body, the page
language and a refusal in the patron's words.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
import re
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qsl

from aiohttp import web
from homeassistant.components.http import HomeAssistantView
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError

from ..commands import PATRON_ACTIONS
from ..core.errors import Reason, Refused
from ..core.limits import MAX_ID_LENGTH, MAX_PASSWORD_LENGTH
from ..core.model import RoomKind, RoomStatus
from .context import (
    ROOM_PATH,
    STATUS_API_PATH,
    WebContext,
    html_response,
    local_time,
    page_language,
)
from .texts import TEXTS, other_language

if TYPE_CHECKING:
    from ..site import SiteRuntime

# The room ids an address may carry; anything else is no page at all.
ROOM_ID_IN_PATH: Final = re.compile(r"^[A-Za-z0-9_-]{1,16}\Z")
# A patron form is a few short fields: anything bigger is not one of ours.
MAX_FORM_BYTES: Final = 4096
MAX_FORM_FIELDS: Final = 16
FORM_CONTENT_TYPE: Final = "application/x-www-form-urlencoded"
# What the status badge polls (another page's public JSON) and how often.
STATUS_POLL_SECONDS: Final = 10

_PLACEHOLDER: Final = re.compile(r"\{(\w+)\}")
_ISO_MOMENT: Final = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
_FIELDS: Final = frozenset({"token", "sig", "lang", "patron_id", "password", "action"})
# Refusals that are not the patron's doing: the service, not the request, failed.
_SERVICE_DOWN: Final = frozenset({Reason.PATRON_SYSTEM_UNAVAILABLE, Reason.PATRON_SYSTEM_ERROR})
# The answer's door, as the patron reads it.
_DOOR_WORDS: Final = {
    "unlocked": "door_unlocked",
    "locked": "door_locked",
    "unlock_failed": "door_failed",
    "lock_failed": "door_pending",
}


# --- shared by the public forms ------------------------------------------------------------


class BadForm(Exception):
    """The request body is not a small form of ours (413 too large, 400 anything else)."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


async def read_form(request: web.Request, fields: Iterable[str]) -> dict[str, str]:
    """The urlencoded body's fields of `fields`, each at most once; BadForm otherwise.

    The body is read up to MAX_FORM_BYTES, whatever the request claims, so a huge or endless
    body costs nothing.
    """
    if request.content_length is not None and request.content_length > MAX_FORM_BYTES:
        raise BadForm(413)
    if request.content_type != FORM_CONTENT_TYPE:
        raise BadForm(400)
    body = bytearray()
    while chunk := await request.content.readany():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise BadForm(413)
    try:
        pairs = parse_qsl(
            body.decode("utf-8"),
            keep_blank_values=True,
            max_num_fields=MAX_FORM_FIELDS,
            errors="strict",
        )
    except (UnicodeDecodeError, ValueError):
        raise BadForm(400) from None
    wanted = set(fields)
    form: dict[str, str] = {}
    for name, value in pairs:
        if name not in wanted:
            continue  # a submit button's name, say: not ours to judge
        if name in form:
            raise BadForm(400)
        form[name] = value
    return form


def word(words: Mapping[str, str], key: str, fallback: str) -> str:
    """A message by key, or `fallback`'s (a refusal whose translation did not load)."""
    return words.get(key) or words[fallback]


def fill(template: str, values: Mapping[str, str]) -> str:
    """A message with its {placeholders} filled; one without a value shows as '-'."""
    return _PLACEHOLDER.sub(lambda match: values.get(match.group(1), "-"), template)


def refusal_message(words: Mapping[str, str], refusal: Refused) -> str:
    """A refusal in the patron's words; moments in local time, never an ISO timestamp."""
    values = {
        key: local_time(value) if _ISO_MOMENT.match(value) else value
        for key, value in refusal.placeholders.items()
    }
    return fill(word(words, f"error_{refusal.reason.value}", "refused"), values)


def refusal_status(refusal: Refused) -> int:
    """The HTTP status of a refused request."""
    if refusal.reason is Reason.TOO_MANY_ATTEMPTS:
        return 429
    if refusal.reason in _SERVICE_DOWN:
        return 503
    return 403


def retry_after(response: web.Response, refusal: Refused) -> web.Response:
    """Tell a throttled client when to come back."""
    if refusal.reason is Reason.TOO_MANY_ATTEMPTS:
        seconds = refusal.placeholders.get("retry_after", "1")
        response.headers["Retry-After"] = seconds if seconds.isdigit() else "1"
    return response


def echo_id(value: str | None) -> str:
    """The patron ID to put back in a form (never the password): short and printable only."""
    value = (value or "").strip()
    if len(value) > MAX_ID_LENGTH or not value.isprintable():
        return ""
    return value


async def async_message_page(
    context: WebContext,
    request: web.Request,
    key: str,
    status: int,
    *,
    language: str | None = None,
    fallback: str | None = None,
) -> web.Response:
    """A page with one message and no form (a bad link, no such page, a body too large)."""
    language = language or page_language(request)
    words = await context.async_words(language)
    switch = request.rel_url.update_query(lang=other_language(language))
    body = context.render(
        "message.html",
        lang=language,
        t=words,
        message=word(words, key, fallback or key),
        switch_url=str(switch) if request.method == "GET" else "",
    )
    return html_response(body, status=status, private=True)


# --- the room page -------------------------------------------------------------------------


def form_scope(site: SiteRuntime, room_id: str) -> str:
    """What a room form's token is bound to: this site's room."""
    return f"room:{site.entry_id}:{room_id}"


def actions_of(kind: RoomKind) -> tuple[str, ...]:
    """What a patron does at a room: a long-term room's holder only opens it."""
    if kind is RoomKind.TEMPORARY:
        return PATRON_ACTIONS
    return ("open",)


def _both_languages(words: Mapping[str, str], language: str, key: str) -> tuple[str, str]:
    """A word and, below it, the other language's, each said once.

    The English words carry the Chinese in brackets ("Register use (登記使用)"): on the
    Chinese page the line below reads "Register use", on the English page there is none.
    """
    first = words[key]
    second = TEXTS[other_language(language)][key]
    if second in first:
        return first, ""
    for bracket in (f" ({first})", f"({first})", f"（{first}）"):
        second = second.replace(bracket, "")
    return first, second.strip()


def door_message(words: Mapping[str, str], answer: Mapping[str, Any]) -> str:
    """What the door did, from the command's answer."""
    key = _DOOR_WORDS.get(str(answer.get("door")))
    if key is None:  # no bolt moved: the lock's own view (locked, unlocked or unknown)
        key = _DOOR_WORDS.get(str(answer.get("lock")))
    return words[key] if key else ""


class RoomView(HomeAssistantView):
    """GET shows the room and its form; POST does what the patron ticked."""

    url = ROOM_PATH
    name = "ntnu_library:room"
    requires_auth = False

    def __init__(self, context: WebContext) -> None:
        self._context = context

    async def get(self, request: web.Request, room: str) -> web.Response:
        """The room, its live status and the form (or 403 for an address not signed here)."""
        if not ROOM_ID_IN_PATH.match(room):
            return await async_message_page(self._context, request, "unknown_room", 404)
        site = self._context.site_of(room, request.query.get("sig"))
        if site is None:
            return await async_message_page(self._context, request, "bad_link", 403)
        language = page_language(request)
        return await self._async_page(site, room, language)

    async def post(self, request: web.Request, room: str) -> web.Response:
        """Borrow, open or return as the patron logged in; the page again with the result."""
        context = self._context
        if not ROOM_ID_IN_PATH.match(room):
            return await async_message_page(context, request, "unknown_room", 404)
        try:
            form = await read_form(request, _FIELDS)
        except BadForm as err:
            if err.status == 413:
                return await async_message_page(
                    context, request, "request_too_large", 413, fallback="missing_fields"
                )
            form = None
        query_sig = request.query.get("sig")
        form_sig = form.get("sig") if form else None
        signature = query_sig or form_sig
        if query_sig and form_sig and query_sig != form_sig:
            signature = None
        site = context.site_of(room, signature)
        language = page_language(request, form.get("lang") if form else None)
        if site is None:
            return await async_message_page(context, request, "bad_link", 403, language=language)
        if form is None:
            return await self._async_page(
                site, room, language, status=400, problem_key="invalid_request"
            )
        patron_id = echo_id(form.get("patron_id"))
        action = form.get("action", "")
        again: dict[str, Any] = {"patron_id": patron_id, "action": action}
        if not context.forms.consume(form.get("token"), form_scope(site, room)):
            return await self._async_page(
                site, room, language, status=400, problem_key="form_expired", **again
            )
        given_id = form.get("patron_id", "").strip()
        password = form.get("password", "")
        if not given_id or not password or not action:
            return await self._async_page(
                site, room, language, status=400, problem_key="missing_fields", **again
            )
        if (
            len(given_id) > MAX_ID_LENGTH
            or len(password) > MAX_PASSWORD_LENGTH
            or action not in PATRON_ACTIONS
        ):
            return await self._async_page(
                site, room, language, status=400, problem_key="invalid_request", **again
            )
        words = await context.async_words(language)
        try:
            answer = await site.commands.async_patron_action(
                action,
                room,
                given_id,
                password,
                caller=f"web:{request.remote}",
                address=request.remote,
            )
        except Refused as refusal:
            response = await self._async_page(
                site,
                room,
                language,
                status=refusal_status(refusal),
                problem=refusal_message(words, refusal),
                **again,
            )
            return retry_after(response, refusal)
        except HomeAssistantError:  # the decision could not be saved: nothing changed
            return await self._async_page(
                site,
                room,
                language,
                status=503,
                problem=words["service_unavailable"],
                **again,
            )
        door = answer.get("door")
        result = {
            "title": words[f"result_{action}"],
            "door": door_message(words, answer),
            "reminder": action == "borrow",
            "failed": door == "unlock_failed",
        }
        # The next action is the patron's own: the ID stays, nothing is ticked.
        return await self._async_page(site, room, language, result=result, patron_id=patron_id)

    async def _async_page(
        self,
        site: SiteRuntime,
        room_id: str,
        language: str,
        *,
        status: int = 200,
        problem_key: str | None = None,
        problem: str | None = None,
        result: Mapping[str, Any] | None = None,
        patron_id: str = "",
        action: str = "",
    ) -> web.Response:
        """The room page: the room, its status, a result or a problem, and a fresh form."""
        context = self._context
        words = await context.async_words(language)
        if problem_key is not None:
            problem = words[problem_key]
        room = site.library.rooms[room_id]
        status_value = site.status(room_id).value
        actions = actions_of(room.kind)
        if action not in actions:
            action = actions[0] if len(actions) == 1 else ""
        path = context.room_path(site, room_id)
        body = context.render(
            "room.html",
            lang=language,
            t=words,
            room=room,
            site_name=site.site_name,
            kind=words[f"kind_{room.kind.value}"],
            status=status_value,
            status_word=words[f"status_{status_value}"],
            status_words={value.value: words[f"status_{value.value}"] for value in RoomStatus},
            status_url=STATUS_API_PATH,
            poll_seconds=STATUS_POLL_SECONDS,
            actions=[
                (name, *_both_languages(words, language, f"action_{name}")) for name in actions
            ],
            submit=_both_languages(words, language, "submit"),
            checked=action,
            patron_id=patron_id,
            max_id=MAX_ID_LENGTH,
            max_password=MAX_PASSWORD_LENGTH,
            form_action=path,
            signature=context.signer.sign(site.entry_id, room_id),
            token=context.forms.issue(form_scope(site, room_id)),
            switch_url=f"{path}&lang={other_language(language)}",
            result=result,
            problem=problem,
        )
        return html_response(body, status=status, private=True)


def register(hass: HomeAssistant, context: WebContext) -> None:
    """Register the room page."""
    hass.http.register_view(RoomView(context))
