"""What the public forms share: a small urlencoded body, a refusal in the patron's words.

The patron pages read their POST bodies with `read_form` (small, each field once), answer a
refusal with `refusal_message`, `refusal_status` and `retry_after`, put only a short printable
patron ID back in the form (`echo_id`), know and remember the patron's own browser
(`device_of`, `remember_device`) and show a bad link or a body too large as a page with one
message (`async_message_page`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
import re
from typing import Final
from urllib.parse import parse_qsl

from aiohttp import web

from ..core.device_credentials import COOKIE_NAME, COOKIE_PATH, COOKIE_SECONDS
from ..core.errors import Reason, Refused
from ..core.limits import MAX_ID_LENGTH
from .context import WebContext, html_response, local_time, page_language
from .texts import other_language

# A patron form is a few short fields: anything bigger is not one of ours.
MAX_FORM_BYTES: Final = 4096
MAX_FORM_FIELDS: Final = 16
FORM_CONTENT_TYPE: Final = "application/x-www-form-urlencoded"

_PLACEHOLDER: Final = re.compile(r"\{(\w+)\}")
_ISO_MOMENT: Final = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
# Refusals that are not the patron's doing: the service, not the request, failed.
_SERVICE_DOWN: Final = frozenset({Reason.PATRON_SYSTEM_UNAVAILABLE, Reason.PATRON_SYSTEM_ERROR})


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


def refusal_message(
    words: Mapping[str, str], refusal: Refused, shown: Mapping[str, str] | None = None
) -> str:
    """A refusal in the patron's words; moments in local time, never an ISO timestamp.

    `shown`: placeholders as the page words them instead (a month by its name, say).
    """
    values = {
        key: local_time(value) if _ISO_MOMENT.match(value) else value
        for key, value in refusal.placeholders.items()
    } | dict(shown or {})
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


def device_of(context: WebContext, request: web.Request, patron_id: str) -> str | None:
    """The patron's own browser, if this one holds their device credential."""
    return context.devices.device_for(request.cookies.get(COOKIE_NAME), patron_id)


def remember_device(
    context: WebContext, request: web.Request, response: web.Response, patron_id: str
) -> None:
    """The patron logged in here: this browser is theirs from now on (or still)."""
    response.set_cookie(
        COOKIE_NAME,
        context.devices.remember(request.cookies.get(COOKIE_NAME), patron_id),
        max_age=COOKIE_SECONDS,
        path=COOKIE_PATH,
        httponly=True,
        secure=request.secure,
        samesite="Strict",
    )


def echo_id(value: str | None) -> str:
    """The patron ID to put back in a form (never the password): short and printable only."""
    value = (value or "").strip()
    if len(value) > MAX_ID_LENGTH or not value.isprintable():
        return ""
    return value


async def async_page_form(
    context: WebContext, request: web.Request, fields: Iterable[str]
) -> tuple[dict[str, str] | None, web.Response | None]:
    """A patron page's posted form, or the page refusing a body too large.

    (form, None); (None, None) for a malformed form (the page says what is missing); (None,
    the refusal) for a body over the limit.
    """
    try:
        return await read_form(request, fields), None
    except BadForm as err:
        if err.status != 413:
            return None, None
        return None, await async_message_page(
            context, request, "request_too_large", 413, fallback="missing_fields"
        )


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
