"""The room page behind the QR code, over real HTTP: the seed's flow and what guards it."""

from __future__ import annotations

import html
import re
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ntnu_library.const import (
    CONF_DEMO_DATA,
    CONF_PATRON_SYSTEM,
    CONF_RADIO,
    CONF_SITE_NAME,
    DOMAIN,
    PATRONS_LOCAL,
)
from custom_components.ntnu_library.core.model import Room, RoomKind
from custom_components.ntnu_library.subentries import room_subentry
from custom_components.ntnu_library.web.context import WEB
from custom_components.ntnu_library.web.texts import TEXTS

from ..conftest import PASSWORD, TIME_ZONE, state_of

WRONG = "not-the-password-7Qz"
ZH = {"Accept-Language": "zh-TW,zh;q=0.9,en;q=0.5"}
EN = {"Accept-Language": "en-US,en;q=0.8"}
_TOKEN = re.compile(r'name="token" value="([^"]+)"')
_ACTION = re.compile(r'name="action" value="([a-z]+)"')


@pytest.fixture
def site_rooms() -> tuple[str, ...]:
    """The rooms these tests use."""
    return ("T01", "T02", "T03", "T04", "L01")


# --- helpers (the activation tests use them too) ----------------------------------------------


def room_path(hass: HomeAssistant, room_id: str) -> str:
    """The signed path the room's QR code carries."""
    context = hass.data[WEB]
    return context.room_path(context.sites()[0], room_id)


def token_of(body: str) -> str:
    """The form token of a page."""
    match = _TOKEN.search(body)
    assert match is not None, body
    return match.group(1)


def actions_of(body: str) -> list[str]:
    """The actions a page's form offers."""
    return _ACTION.findall(body)


def text_of(body: str) -> str:
    """A page's text as a reader sees it (tags dropped, entities decoded)."""
    return html.unescape(re.sub(r"<[^>]+>", " ", body))


async def fetch_form(
    client: TestClient, path: str, headers: dict[str, str] | None = None
) -> tuple[str, str]:
    """GET a form page: its body and form token."""
    response = await client.get(path, headers=headers or EN)
    body = await response.text()
    assert response.status == 200, body
    return body, token_of(body)


async def post_room(
    client: TestClient,
    path: str,
    *,
    token: str | None,
    patron_id: str = "S0001",
    password: str = PASSWORD,
    action: str = "borrow",
    lang: str = "en",
    **extra: str,
) -> tuple[ClientResponse, str]:
    """POST the room form; the password must never come back."""
    data = {"patron_id": patron_id, "password": password, "action": action, "lang": lang}
    if token is not None:
        data["token"] = token
    data |= extra
    response = await client.post(path, data=data)
    body = await response.text()
    assert not password or password not in body
    return response, body


async def act(client: TestClient, path: str, **kwargs: Any) -> tuple[ClientResponse, str]:
    """GET the room page, then POST its form."""
    _, token = await fetch_form(client, path)
    return await post_room(client, path, token=token, **kwargs)


def no_iso_moment(text: str) -> None:
    """A page shows local times, never an ISO timestamp."""
    assert not re.search(r"\d{4}-\d{2}-\d{2}T\d{2}", text), text
    assert not re.search(r"\d{2}:\d{2}(:\d{2})?[+-]\d{2}:?\d{2}", text), text
    assert "+08:00" not in text


async def words(hass: HomeAssistant, language: str) -> dict[str, str]:
    """The page words, with the translated refusals."""
    return await hass.data[WEB].async_words(language)


# --- GET ----------------------------------------------------------------------------------------


async def test_room_page_in_both_languages(
    hass: HomeAssistant, init_integration: MockConfigEntry, hass_client_no_auth: Any
) -> None:
    """A signed address shows the room, its kind and status, and the actions that apply."""
    client = await hass_client_no_auth()
    path = room_path(hass, "T01")

    body, _ = await fetch_form(client, path, ZH)
    text = text_of(body)
    assert '<html lang="zh-Hant">' in body
    assert "個人臨時研究室 T01" in text
    assert "個人臨時研究室" in text and "Temporary Study Room" not in text
    assert 'class="status status-idle"' in body and "閒置" in text
    assert "3F" in text
    assert actions_of(body) == ["borrow", "open", "return"]
    for label in ("登記使用", "開門", "結束使用", "登錄"):
        assert label in text
    # The seed's words in both languages: the English below the Chinese.
    assert "Register use" in text and "End use" in text
    assert 'autocomplete="username"' in body and 'autocomplete="current-password"' in body
    assert 'inputmode="text"' in body
    assert f'name="sig" value="{path.split("sig=")[1]}"' in body
    assert 'name="lang" value="zh-Hant"' in body
    # The switch keeps the signature.
    assert f'href="{html.escape(path)}&amp;lang=en"' in body

    body, _ = await fetch_form(client, f"{path}&lang=en", ZH)
    text = text_of(body)
    assert '<html lang="en">' in body
    assert "Temporary Study Room" in text and "Idle" in text
    assert "Register use (登記使用)" in text and "Open the door (開門)" in text
    assert "End use (結束使用)" in text and "(登錄)" in text

    body, _ = await fetch_form(client, room_path(hass, "L01"), ZH)
    text = text_of(body)
    assert "個人長期研究室" in text
    assert actions_of(body) == ["open"]
    assert "登記使用" not in text and "結束使用" not in text
    # The only choice is ticked already.
    assert re.search(r'value="open" required checked', body)


async def test_addresses_not_signed_for_the_room_are_refused(
    hass: HomeAssistant, init_integration: MockConfigEntry, hass_client_no_auth: Any
) -> None:
    """Forged, another room's and missing signatures: 403, no room data, no form."""
    client = await hass_client_no_auth()
    t02_sig = room_path(hass, "T02").split("sig=")[1]
    for path in (
        "/ntnu_library/room/T01?sig=AAAAAAAAAAAAAAAA",
        f"/ntnu_library/room/T01?sig={t02_sig}",
        "/ntnu_library/room/T01",
        "/ntnu_library/room/T01?sig=",
        "/ntnu_library/room/T99?sig=AAAAAAAAAAAAAAAA",
    ):
        response = await client.get(path, headers=EN)
        body = await response.text()
        assert response.status == 403, path
        assert "<form" not in body
        assert "T01" not in text_of(body) and "Temporary" not in body
        assert TEXTS["en"]["bad_link"] in text_of(body)
        # Posting to it does nothing either.
        response, body = await post_room(client, path, token="x")
        assert response.status == 403
        assert "<form" not in body
    assert state_of(hass, "sensor.t01_status") == "idle"

    # Not a room id at all: no such page.
    for bad in ("T01.x", "T01!", "T%C3%A901", "A" * 17, "T%2001"):
        response = await client.get(f"/ntnu_library/room/{bad}?sig={t02_sig}")
        assert response.status == 404, bad
        assert "<form" not in await response.text()


# --- the seed's flow ------------------------------------------------------------------------------


async def test_borrow_open_return(
    hass: HomeAssistant, init_integration: MockConfigEntry, hass_client_no_auth: Any
) -> None:
    """登記使用 → the door unlocks; someone else is refused; 開門; 結束使用 → idle again."""
    client = await hass_client_no_auth()
    path = room_path(hass, "T01")
    en = TEXTS["en"]

    response, body = await act(client, path, action="borrow")
    assert response.status == 200, body
    text = text_of(body)
    assert en["result_borrow"] in text and en["door_unlocked"] in text
    assert en["return_reminder"] in text
    assert state_of(hass, "lock.t01") == "unlocked"
    assert state_of(hass, "sensor.t01_status") == "in_use"
    # A fresh form for the next action, the ID kept, the status shown as it is now.
    assert token_of(body) and 'value="S0001"' in body
    assert 'class="status status-in_use"' in body
    assert not re.search(r"required checked", body)

    response, body = await act(client, path, patron_id="G0001", action="borrow")
    assert response.status == 403
    room_not_idle = (await words(hass, "en"))["error_room_not_idle"].replace("{room}", "T01")
    assert room_not_idle in text_of(body)
    assert en["refused"] in text_of(body)
    assert 'value="G0001"' in body and token_of(body)
    assert state_of(hass, "sensor.t01_status") == "in_use"

    response, body = await act(client, path, action="open")
    assert response.status == 200, body
    assert en["result_open"] in text_of(body) and en["door_unlocked"] in text_of(body)
    assert en["return_reminder"] not in text_of(body)

    response, body = await act(client, path, action="return")
    assert response.status == 200, body
    assert en["result_return"] in text_of(body)
    assert state_of(hass, "sensor.t01_status") == "idle"
    assert 'class="status status-idle"' in body


async def test_long_term_holder_opens_in_chinese(
    hass: HomeAssistant, init_integration: MockConfigEntry, hass_client_no_auth: Any
) -> None:
    """D0001 holds L01 this month: 開門 works; borrowing a long-term room does not."""
    client = await hass_client_no_auth()
    path = room_path(hass, "L01")
    zh = TEXTS["zh-Hant"]
    response, body = await act(client, path, patron_id="D0001", action="open", lang="zh-Hant")
    assert response.status == 200, body
    assert zh["result_open"] in text_of(body) and zh["door_unlocked"] in text_of(body)
    assert state_of(hass, "lock.l01") == "unlocked"

    response, body = await act(client, path, patron_id="D0001", action="borrow", lang="zh-Hant")
    assert response.status == 403
    message = (await words(hass, "zh-Hant"))["error_not_temporary_room"]
    assert message.replace("{room}", "L01") in text_of(body)


# --- form tokens ----------------------------------------------------------------------------------


async def test_a_form_is_good_once_and_for_its_room(
    hass: HomeAssistant, init_integration: MockConfigEntry, hass_client_no_auth: Any
) -> None:
    """Replayed, missing and another room's tokens: 400 with a fresh form, nothing done."""
    client = await hass_client_no_auth()
    path = room_path(hass, "T01")
    expired = TEXTS["en"]["form_expired"]

    _, token = await fetch_form(client, path)
    response, _ = await post_room(client, path, token=token, action="borrow")
    assert response.status == 200
    response, body = await post_room(client, path, token=token, action="return")
    assert response.status == 400
    assert expired in text_of(body)
    # The ID may come back, never the password; a new token to try again.
    assert 'value="S0001"' in body and token_of(body) != token
    assert state_of(hass, "sensor.t01_status") == "in_use"

    response, body = await post_room(client, path, token=None, action="return")
    assert response.status == 400 and expired in text_of(body)

    _, t02_token = await fetch_form(client, room_path(hass, "T02"))
    response, body = await post_room(client, path, token=t02_token, action="return")
    assert response.status == 400 and expired in text_of(body)
    # Spent on the wrong room: no good on its own room either.
    response, _ = await post_room(
        client, room_path(hass, "T02"), token=t02_token, patron_id="G0001"
    )
    assert response.status == 400
    assert state_of(hass, "sensor.t01_status") == "in_use"
    assert state_of(hass, "sensor.t02_status") == "idle"


async def test_fields_are_checked(
    hass: HomeAssistant, init_integration: MockConfigEntry, hass_client_no_auth: Any
) -> None:
    """Missing or malformed fields are 400, a large body 413; nothing happens."""
    client = await hass_client_no_auth()
    path = room_path(hass, "T01")
    missing = TEXTS["en"]["missing_fields"]

    for fields in ({"patron_id": ""}, {"password": ""}, {"action": ""}):
        _, token = await fetch_form(client, path)
        response, body = await post_room(client, path, token=token, **fields)
        assert response.status == 400, fields
        assert missing in text_of(body)

    for fields in (
        {"patron_id": "S" * 33},
        {"password": "p" * 257},
        {"action": "unlock"},
        {"action": "staff_unlock"},
    ):
        _, token = await fetch_form(client, path)
        response, body = await post_room(client, path, token=token, **fields)
        assert response.status == 400, fields
        assert token_of(body)

    # Not a form (JSON), duplicated fields, a body far larger than any form.
    _, token = await fetch_form(client, path)
    response = await client.post(path, json={"token": token, "patron_id": "S0001"})
    assert response.status == 400
    response = await client.post(
        path, data=f"token={token}&action=borrow&action=return&patron_id=S0001&password=x"
    )
    assert response.status == 400
    response = await client.post(
        path,
        data=f"patron_id=S0001&password={PASSWORD}&action=borrow&pad={'x' * 10_000}",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status == 413
    assert PASSWORD not in await response.text()

    async def endless() -> Any:
        for _ in range(20):
            yield b"pad=" + b"x" * 1000 + b"&"

    response = await client.post(
        path, data=endless(), headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert response.status == 413
    assert state_of(hass, "sensor.t01_status") == "idle"


# --- logins -------------------------------------------------------------------------------------


async def test_a_wrong_password_says_nothing_about_the_id(
    hass: HomeAssistant, init_integration: MockConfigEntry, hass_client_no_auth: Any
) -> None:
    """A wrong password and an unknown ID get the same refusal."""
    client = await hass_client_no_auth()
    path = room_path(hass, "T01")
    generic = (await words(hass, "en"))["error_invalid_credentials"]

    response, wrong = await act(client, path, patron_id="G0001", password=WRONG)
    assert response.status == 403
    response, unknown = await act(client, path, patron_id="ZZ9999", password=WRONG)
    assert response.status == 403

    def refusal(body: str) -> str:
        match = re.search(r'<section class="card result refused".*?</section>', body, re.S)
        assert match is not None
        return match.group(0)

    assert generic in text_of(wrong)
    assert refusal(wrong) == refusal(unknown)
    assert state_of(hass, "sensor.t01_status") == "idle"


async def test_guessing_a_password_is_slowed(
    hass: HomeAssistant, init_integration: MockConfigEntry, hass_client_no_auth: Any
) -> None:
    """Five free failures, then the ID backs off: 429 too_many_attempts, even for the right password.

    core/throttle.py: after the sixth failure in a row the ID waits 1 s, then 2 s, 4 s …
    """
    client = await hass_client_no_auth()
    path = room_path(hass, "T01")
    statuses = []
    for _ in range(8):
        response, body = await act(client, path, patron_id="S0001", password=WRONG)
        statuses.append(response.status)
    assert statuses[:6] == [403] * 6
    assert statuses[6:] == [429, 429]
    assert int(response.headers["Retry-After"]) >= 1
    message = (await words(hass, "en"))["error_too_many_attempts"]
    assert message.split("{")[0] in text_of(body)
    assert "{retry_after}" not in body

    response, body = await act(client, path, patron_id="S0001", password=PASSWORD)
    assert response.status == 429
    assert state_of(hass, "sensor.t01_status") == "idle"
    # Another patron is not held up.
    response, body = await act(client, path, patron_id="G0001", password=PASSWORD)
    assert response.status == 200, body


async def test_a_freeze_shows_its_end_in_local_time(
    hass: HomeAssistant, init_integration: MockConfigEntry, hass_client_no_auth: Any
) -> None:
    """X0001 is frozen: the refusal says until when, as the patron reads a clock."""
    client = await hass_client_no_auth()
    path = room_path(hass, "T03")
    freeze = init_integration.runtime_data.rooms.frozen("X0001", dt_util.now())
    assert freeze is not None
    local = freeze.until.astimezone(ZoneInfo(TIME_ZONE)).strftime("%Y-%m-%d %H:%M")

    for lang in ("en", "zh-Hant"):
        response, body = await act(client, path, patron_id="X0001", action="borrow", lang=lang)
        assert response.status == 403
        text = text_of(body)
        assert local in text
        assert "{until}" not in text
        no_iso_moment(text)
        no_iso_moment(body)
    assert state_of(hass, "sensor.t03_status") == "idle"

    response, body = await act(client, path, patron_id="E0001", action="borrow")
    assert response.status == 403
    assert (await words(hass, "en"))["error_membership_expired"] in text_of(body)


# --- what every response carries ---------------------------------------------------------------


def assert_secure(response: ClientResponse) -> None:
    """The headers of every patron page."""
    csp = response.headers["Content-Security-Policy"]
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.content_type == "text/html"


async def test_every_response_has_the_security_headers(
    hass: HomeAssistant, init_integration: MockConfigEntry, hass_client_no_auth: Any
) -> None:
    """200, 400, 403, 404, 413 and 429 pages alike; no inline script anywhere."""
    client = await hass_client_no_auth()
    path = room_path(hass, "T01")
    seen = set()
    responses = [
        await client.get(path),
        await client.get("/ntnu_library/room/T01?sig=forged"),
        await client.get("/ntnu_library/room/T.1?sig=forged"),
        (await post_room(client, path, token="spent"))[0],
        (await post_room(client, "/ntnu_library/room/T01?sig=forged", token="x"))[0],
        (await act(client, path, action="borrow"))[0],
        (await act(client, path, patron_id="G0001", password=WRONG))[0],
        await client.post(
            path,
            data="pad=" + "x" * 9000,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        ),
    ]
    responses.extend(
        [(await act(client, path, patron_id="G0001", password=WRONG))[0] for _ in range(7)]
    )
    for response in responses:
        seen.add(response.status)
        assert_secure(response)
        body = await response.text()
        assert "<script>" not in body and "<script " not in body.replace("<script src=", "")
        assert " style=" not in body and "<style" not in body
        assert re.search(r"\son[a-z]+=", body) is None
    assert seen == {200, 400, 403, 404, 413, 429}


async def test_the_script_is_served_and_named_by_the_page(
    hass: HomeAssistant, init_integration: MockConfigEntry, hass_client_no_auth: Any
) -> None:
    """room.js polls the public status API for this site's room; the page tells it which."""
    client = await hass_client_no_auth()
    body, _ = await fetch_form(client, room_path(hass, "T01"))
    script = re.search(r'<script src="(/ntnu_library/static/room\.js\?v=\w+)" defer>', body)
    assert script is not None
    assert 'data-site="Main Library"' in body and 'data-room="T01"' in body
    assert 'data-status-url="/api/ntnu_library/status"' in body
    assert 'data-word-in_use="In use"' in body
    response = await client.get(script.group(1))
    assert response.status == 200
    assert response.content_type == "text/javascript"
    js = await response.text()
    assert "setInterval" in js and "disabled = true" in js
    style = re.search(r'href="(/ntnu_library/static/room\.css\?v=\w+)"', body)
    assert style is not None
    assert (await client.get(style.group(1))).status == 200


async def test_the_password_never_comes_back(
    hass: HomeAssistant, init_integration: MockConfigEntry, hass_client_no_auth: Any
) -> None:
    """Whatever the outcome, no page carries the password typed."""
    client = await hass_client_no_auth()
    path = room_path(hass, "T02")
    secret = "Sécret<&>'\"-pw-42"
    cases: list[dict[str, Any]] = [
        {"password": secret},
        {"password": secret, "patron_id": "ZZ0001"},
        {"password": secret, "action": ""},
        {"password": secret, "action": "bogus"},
        {"password": secret, "patron_id": ""},
    ]
    for case in cases:
        response, body = await act(client, path, **case)
        assert response.status in (400, 403)
        for form in (secret, html.escape(secret), html.escape(secret, quote=False)):
            assert form not in body
    response, body = await post_room(client, path, token="replayed", password=secret)
    assert response.status == 400
    assert html.escape(secret) not in body
    # The right password, after a success: not in the page either.
    response, body = await act(client, path, patron_id="G0001", password=PASSWORD)
    assert response.status == 200
    assert 'type="password" id="password" name="password" required' in body
    assert f'value="{PASSWORD}"' not in body


# --- a room named with HTML -----------------------------------------------------------------------

HOSTILE = "<img src=x onerror=alert(1)>"


@pytest.fixture
def hostile_entry() -> MockConfigEntry:
    """A site whose room name is HTML."""
    return MockConfigEntry(
        domain=DOMAIN,
        title='Lib "<b>"',
        unique_id="hostile_library",
        data={
            CONF_SITE_NAME: 'Lib "<b>"',
            CONF_RADIO: "simulated",
            CONF_PATRON_SYSTEM: PATRONS_LOCAL,
            CONF_DEMO_DATA: True,
        },
        subentries_data=[
            room_subentry(Room(room_id="T01", name=HOSTILE, kind=RoomKind.TEMPORARY, floor="<i>"))
        ],
    )


async def test_html_in_a_room_name_is_shown_as_text(
    hass: HomeAssistant, hostile_entry: MockConfigEntry, hass_client_no_auth: Any
) -> None:
    """The name is escaped in the title, the heading and the data attributes."""
    await hass.config.async_set_time_zone(TIME_ZONE)
    hostile_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(hostile_entry.entry_id)
    await hass.async_block_till_done()
    try:
        client = await hass_client_no_auth()
        path = room_path(hass, "T01")
        body, _ = await fetch_form(client, path)
        assert HOSTILE not in body and "<img" not in body and "<i>" not in body
        assert "<b>" not in body
        assert body.count("&lt;img src=x onerror=alert(1)&gt;") >= 2  # title and heading
        assert HOSTILE in text_of(body)
        assert 'data-site="Lib &#34;&lt;b&gt;&#34;"' in body

        response, body = await act(client, path, patron_id="G0001", password=WRONG)
        assert response.status == 403
        assert HOSTILE not in body and "&lt;img" in body
        response, body = await act(client, path, patron_id="G0001", password=PASSWORD)
        assert response.status == 200
        assert HOSTILE not in body and "&lt;img" in body
    finally:
        await hass.config_entries.async_unload(hostile_entry.entry_id)
        await hass.async_block_till_done()
