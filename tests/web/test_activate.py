"""The activation page: a new patron sets their own password with staff's one-time code."""

from __future__ import annotations

import html
from typing import Any

from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ntnu_library.const import PATRONS_SIP2
from custom_components.ntnu_library.web.context import ACTIVATE_PATH, WEB
from custom_components.ntnu_library.web.texts import TEXTS

from ..conftest import PASSWORD, call_service, state_of
from .test_room_page import EN, ZH, act, assert_secure, fetch_form, room_path, text_of, token_of

NEW_ID = "N0099"
CHOSEN = "my-own-Pässword-2025"
en = TEXTS["en"]


@pytest.fixture
def site_rooms() -> tuple[str, ...]:
    """The rooms these tests use."""
    return ("T01", "T04")


async def add_patron(hass: HomeAssistant, patron_id: str = NEW_ID) -> str:
    """Staff add a patron; the answer carries the activation code."""
    answer = await call_service(
        hass,
        "add_patron",
        {"patron_id": patron_id, "name": "New Patron", "category": "student_undergraduate"},
    )
    code = answer["activation_code"]
    assert isinstance(code, str) and code
    return code


async def post_activate(
    client: TestClient,
    *,
    token: str | None,
    patron_id: str = NEW_ID,
    code: str = "",
    password: str = CHOSEN,
    repeat: str | None = None,
    lang: str = "en",
) -> tuple[ClientResponse, str]:
    """POST the activation form; neither password nor code ever comes back."""
    data = {
        "patron_id": patron_id,
        "code": code,
        "password": password,
        "repeat": password if repeat is None else repeat,
        "lang": lang,
    }
    if token is not None:
        data["token"] = token
    response = await client.post(ACTIVATE_PATH, data=data)
    body = await response.text()
    assert_secure(response)
    for secret in (password, repeat, code):
        if secret:
            assert secret not in body and html.escape(secret) not in body
    return response, body


async def activate(client: TestClient, **kwargs: Any) -> tuple[ClientResponse, str]:
    """GET the activation page, then POST its form."""
    _, token = await fetch_form(client, ACTIVATE_PATH)
    return await post_activate(client, token=token, **kwargs)


async def test_a_new_patron_activates_and_borrows(
    hass: HomeAssistant, init_integration: MockConfigEntry, hass_client_no_auth: Any
) -> None:
    """add_patron → the code → the patron's own password → 登記使用 at T04 with it."""
    client = await hass_client_no_auth()
    code = await add_patron(hass)

    response = await client.get(ACTIVATE_PATH, headers=ZH)
    assert response.status == 200
    assert_secure(response)
    body = await response.text()
    text = text_of(body)
    zh = TEXTS["zh-Hant"]
    for key in ("activate_title", "activation_code", "new_password", "repeat_password"):
        assert zh[key] in text
    assert body.count('autocomplete="new-password"') == 2
    assert 'autocomplete="one-time-code"' in body
    assert f'href="{ACTIVATE_PATH}?lang=en"' in body

    # Not yet: the new patron has no password to log in with.
    response, _ = await act(
        client, room_path(hass, "T04"), patron_id=NEW_ID, password=CHOSEN, action="borrow"
    )
    assert response.status == 403

    response, body = await post_activate(client, token=token_of(body), code=code, lang="zh-Hant")
    assert response.status == 200, body
    assert zh["activated"] in text_of(body)
    assert "<form" not in body

    response, body = await act(
        client, room_path(hass, "T04"), patron_id=NEW_ID, password=CHOSEN, action="borrow"
    )
    assert response.status == 200, body
    assert en["result_borrow"] in text_of(body)
    assert state_of(hass, "sensor.t04_status") == "in_use"
    assert state_of(hass, "lock.t04") == "unlocked"

    # The code is spent: it cannot set another password.
    response, body = await activate(client, code=code, password="someone-elses-pw")
    assert response.status == 403
    assert en["activation_refused"] in text_of(body)
    response, _ = await act(
        client, room_path(hass, "T04"), patron_id=NEW_ID, password="someone-elses-pw", action="open"
    )
    assert response.status == 403


async def test_a_wrong_id_or_code_gets_one_answer(
    hass: HomeAssistant, init_integration: MockConfigEntry, hass_client_no_auth: Any
) -> None:
    """A wrong code, an unknown ID, another patron's code: 403 with the same words."""
    client = await hass_client_no_auth()
    code = await add_patron(hass)
    other_code = await add_patron(hass, "N0098")
    bodies = []
    for patron_id, given in (
        (NEW_ID, "AAAA-BBBB-CCCC-DDDD"),
        ("ZZ0404", code),
        (NEW_ID, other_code),
        ("S0001", code),  # has a password, no code
    ):
        response, body = await activate(client, patron_id=patron_id, code=given)
        assert response.status == 403, patron_id
        assert en["activation_refused"] in text_of(body)
        bodies.append(body.split('id="problem"')[1].split("</section>")[0])
    assert len(set(bodies)) == 1
    # The right code still works: a wrong guess does not spend it.
    response, body = await activate(client, code=code)
    assert response.status == 200, body


async def test_the_password_is_checked_before_the_code(
    hass: HomeAssistant, init_integration: MockConfigEntry, hass_client_no_auth: Any
) -> None:
    """Too short 400, not repeated alike 400, missing fields 400; the code stays good."""
    client = await hass_client_no_auth()
    code = await add_patron(hass)

    words = await hass.data[WEB].async_words("en")
    response, body = await activate(client, code=code, password="short")
    assert response.status == 400
    assert words["error_password_too_short"] in text_of(body)
    assert 'value="N0099"' in body and token_of(body)

    response, body = await activate(client, code=code, repeat="something-else-entirely")
    assert response.status == 400
    assert en["password_mismatch"] in text_of(body)

    response, body = await activate(client, code=code, password="長" * 25)  # 75 UTF-8 bytes
    assert response.status == 400

    response, body = await activate(client, code="")
    assert response.status == 400

    response, body = await activate(client, code=code, password="p" * 300)
    assert response.status == 400

    response, body = await activate(client, code=code)
    assert response.status == 200, body
    assert en["activated"] in text_of(body)


async def test_an_activation_form_is_good_once(
    hass: HomeAssistant, init_integration: MockConfigEntry, hass_client_no_auth: Any
) -> None:
    """Replayed, missing and a room's tokens: 400, nothing set."""
    client = await hass_client_no_auth()
    code = await add_patron(hass)
    _, token = await fetch_form(client, ACTIVATE_PATH)
    response, _ = await post_activate(client, token=token, code=code, repeat="mismatch-mismatch")
    assert response.status == 400
    response, body = await post_activate(client, token=token, code=code)
    assert response.status == 400
    assert en["form_expired"] in text_of(body)
    response, body = await post_activate(client, token=None, code=code)
    assert response.status == 400
    _, room_token = await fetch_form(client, room_path(hass, "T01"))
    response, body = await post_activate(client, token=room_token, code=code)
    assert response.status == 400
    # None of them used the code.
    response, body = await activate(client, code=code)
    assert response.status == 200, body

    response = await client.post(
        ACTIVATE_PATH,
        data="pad=" + "x" * 9000,
        headers={"Content-Type": "application/x-www-form-urlencoded", **EN},
    )
    assert response.status == 413
    assert_secure(response)


async def test_guessing_codes_is_throttled(
    hass: HomeAssistant, init_integration: MockConfigEntry, hass_client_no_auth: Any
) -> None:
    """Wrong codes count as failed logins for the ID: after a few, 429 even for the right one."""
    client = await hass_client_no_auth()
    code = await add_patron(hass)
    statuses = []
    for n in range(7):
        response, _ = await activate(client, code=f"WRNG-CODE-0000-000{n}")
        statuses.append(response.status)
    assert statuses == [403] * 6 + [429]
    response, body = await activate(client, code=code)
    assert response.status == 429
    assert response.headers["Retry-After"].isdigit()
    assert "{retry_after}" not in body


class TestSip2Site:
    """With SIP2 the library system keeps the passwords: there is no activation page."""

    @pytest.fixture
    def patron_system(self) -> str:
        """The demo ILS serves the patrons."""
        return PATRONS_SIP2

    async def test_no_activation_page(
        self, hass: HomeAssistant, init_integration: MockConfigEntry, hass_client_no_auth: Any
    ) -> None:
        client = await hass_client_no_auth()
        response = await client.get(ACTIVATE_PATH, headers=EN)
        assert response.status == 404
        assert_secure(response)
        assert "<form" not in await response.text()
        response = await client.post(
            ACTIVATE_PATH,
            data={"patron_id": "S0001", "code": "AAAA", "password": PASSWORD, "repeat": PASSWORD},
        )
        assert response.status == 404
        assert PASSWORD not in await response.text()
        # The room page works as ever, checked by the library system.
        response, body = await act(client, room_path(hass, "T01"), action="borrow")
        assert response.status == 200, body


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("12345678", "password_too_common"),
        ("iloveyou", "password_too_common"),
        ("n0099-n0099", "password_contains_id"),
        ("patron-of-the-year", "password_contains_name"),
        ("aaaaaaaaaaaa", "password_too_guessable"),
    ],
)
async def test_a_weak_password_is_refused_in_both_languages_and_the_code_stays_good(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    hass_client_no_auth: Any,
    password: str,
    reason: str,
) -> None:
    """Common, the patron's ID or name, guessable: 400 with the reason; the code still works."""
    client = await hass_client_no_auth()
    code = await add_patron(hass)
    for lang in ("en", "zh-Hant"):
        words = await hass.data[WEB].async_words(lang)
        response, body = await activate(client, code=code, password=password, lang=lang)
        assert response.status == 400, body
        assert words[f"error_{reason}"] in text_of(body), lang
    response, body = await activate(client, code=code)
    assert response.status == 200, body
    assert en["activated"] in text_of(body)
