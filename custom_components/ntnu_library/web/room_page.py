"""The room page behind the QR code on each room's e-label.

The seed: scan the code → the room page opens → check that it is the room (個人臨時研究室) and
that it is idle (閒置) → log in with the My Library account and password → tick 登記使用,
開門 or 結束使用 → press 登錄 → the door unlocks. A long-term room's holder only opens (開門).

One form, mobile first, in Traditional Chinese and English. The address is signed (a forged
or another room's address is refused), every form carries a single-use token bound to the
room, and the password is never sent back. The login throttle (core/throttle.py) sees the
client's address, so guessing is slowed here as everywhere. A patron who logged in on this
browser before gets a device credential (an HttpOnly cookie, core/device_credentials.py): from
that browser, their logins run on an allowance of its own, so nobody else's guesses lock the
patron out of their own phone.
"""

from __future__ import annotations

from collections.abc import Mapping
import re
from typing import TYPE_CHECKING, Any, Final

from aiohttp import web
from homeassistant.components.http import HomeAssistantView
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError

from ..commands import PATRON_ACTIONS
from ..core.errors import Refused
from ..core.limits import MAX_ID_LENGTH, MAX_PASSWORD_LENGTH
from ..core.model import RoomKind, RoomStatus
from .context import (
    ACTIVATE_PATH,
    RESERVE_PATH,
    ROOM_PATH,
    STATUS_API_PATH,
    WebContext,
    html_response,
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
from .texts import TEXTS, other_language

if TYPE_CHECKING:
    from ..site import Site

# The room ids an address may carry; anything else is no page at all.
ROOM_ID_IN_PATH: Final = re.compile(r"^[A-Za-z0-9_-]{1,16}\Z")
# What the status badge polls (another page's public JSON) and how often.
STATUS_POLL_SECONDS: Final = 10

_FIELDS: Final = frozenset({"token", "sig", "lang", "patron_id", "password", "action"})
# The answer's door, as the patron reads it.
_DOOR_WORDS: Final = {
    "unlocked": "door_unlocked",
    "locked": "door_locked",
    "unlock_failed": "door_failed",
    "lock_failed": "door_pending",
}


def form_scope(site: Site, room_id: str) -> str:
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
        form, too_large = await async_page_form(context, request, _FIELDS)
        if too_large is not None:
            return too_large
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
                device=device_of(context, request, given_id),
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
        relock = site.doors.relock_after_s
        result = {
            "title": words[f"result_{action}"],
            "door": door_message(words, answer),
            # An unlocked door nobody opens locks again by itself: say so, and how soon.
            "relock": fill(words["relock_notice"], {"seconds": str(relock)})
            if door == "unlocked" and relock
            else "",
            "reminder": action == "borrow",
            "failed": door == "unlock_failed",
        }
        # The next action is the patron's own: the ID stays, nothing is ticked.
        response = await self._async_page(site, room, language, result=result, patron_id=patron_id)
        remember_device(context, request, response, given_id)
        return response

    async def _async_page(
        self,
        site: Site,
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
        room = site.rooms.rooms[room_id]
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
            activate_url=f"{ACTIVATE_PATH}?lang={language}",
            # A long-term room is reserved online beforehand (事先線上登記).
            reserve_url=f"{RESERVE_PATH}?lang={language}"
            if room.kind is RoomKind.LONG_TERM
            else "",
        )
        return html_response(body, status=status, private=True)


def register(hass: HomeAssistant, context: WebContext) -> None:
    """Register the room page."""
    hass.http.register_view(RoomView(context))
