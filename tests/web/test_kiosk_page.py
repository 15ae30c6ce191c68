"""The self-checkout station over real HTTP: opening it, a patron's session, every refusal."""

from __future__ import annotations

from datetime import timedelta
import html
import re
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient
from freezegun.api import FrozenDateTimeFactory
from homeassistant.auth.models import User
from homeassistant.core import Context, HomeAssistant
from homeassistant.exceptions import ServiceValidationError, Unauthorized
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, MockUser

from custom_components.ntnu_library.core.policy import Policy
from custom_components.ntnu_library.web.context import SECURITY_HEADERS
from custom_components.ntnu_library.web.kiosk_page import STATION_COOKIE
from custom_components.ntnu_library.web.kiosk_texts import KIOSK_TEXTS

from ..conftest import PASSWORD, call_service, state_of
from .test_room_page import text_of

K1 = "/ntnu_library/kiosk/K1"
K2 = "/ntnu_library/kiosk/K2"
EN = KIOSK_TEXTS["en"]
ZH = KIOSK_TEXTS["zh-Hant"]
_INPUT = re.compile(r'<input type="hidden" name="(\w+)" value="([^"]*)"')


@pytest.fixture
def site_rooms() -> tuple[str, ...]:
    """No room is needed at a kiosk: the smallest site."""
    return ("T01",)


@pytest.fixture
def policy_options() -> dict[str, Any]:
    """The demo site's policy with two kiosks."""
    return Policy(
        counter_opens="00:00", counter_closes="00:00", return_at_closing=False
    ).as_dict() | {
        "kiosks": ["K1", "K2"],
        "return_boxes": ["main"],
    }


# --- helpers ----------------------------------------------------------------------------------


def hidden(body: str) -> dict[str, str]:
    """The hidden fields of a page's form(s)."""
    return {name: html.unescape(value) for name, value in _INPUT.findall(body)}


async def get(client: TestClient, path: str = K1, **headers: str) -> tuple[ClientResponse, str]:
    response = await client.get(path, headers={"Accept-Language": "en", **headers})
    return response, await response.text()


async def post(
    client: TestClient, path: str = K1, *, cookie: str | None = None, **fields: str
) -> tuple[ClientResponse, str]:
    headers = {"Cookie": f"{STATION_COOKIE}={cookie}"} if cookie else {}
    response = await client.post(path, data=fields, headers=headers, allow_redirects=False)
    return response, await response.text()


async def admin_token(hass: HomeAssistant, user: User, client_id: str) -> str:
    """What Home Assistant's login gives the station page's script for this user."""
    refresh = await hass.auth.async_create_refresh_token(user, client_id)
    return hass.auth.async_create_access_token(refresh)


async def open_station(
    hass: HomeAssistant, client: TestClient, user: User, path: str = K1
) -> tuple[ClientResponse, str]:
    """Staff press "Open this station", log in, and come back with a token."""
    response, body = await get(client, path)
    assert response.status == 403, body
    link = html.unescape(re.search(r'id="open-station" href="([^"]+)"', body).group(1))
    query = parse_qs(urlsplit(link).query)
    assert urlsplit(link).path == "/auth/authorize"
    client_id = query["client_id"][0]
    assert client_id.endswith(path) and query["redirect_uri"][0].startswith(client_id)
    token = await admin_token(hass, user, client_id)
    return await post(
        client, path, op="open", state=query["state"][0], access_token=token, lang="en"
    )


async def opened(hass: HomeAssistant, client: TestClient, user: User, path: str = K1) -> str:
    """An opened station's credential (the client keeps it as its cookie)."""
    response, _ = await open_station(hass, client, user, path)
    assert response.status == 303
    assert response.headers["Location"] == f"{path}?lang=en"
    morsel = response.cookies[STATION_COOKIE]
    assert morsel["httponly"] and morsel["samesite"] == "Strict" and morsel["path"] == path
    return morsel.value


async def start(client: TestClient, patron: str, password: str = "") -> tuple[ClientResponse, str]:
    """The patron's card (and password) on the welcome page."""
    _, body = await get(client)
    fields = hidden(body)
    assert fields["op"] == "start", body
    response, answer = await post(client, patron=patron, password=password, **fields)
    assert patron not in answer  # a card is never sent back
    return response, answer


async def scan(client: TestClient, body: str, barcode: str = "", op: str = "item") -> str:
    """One barcode (or a button) on the session page; the next page."""
    response, answer = await post(client, barcode=barcode, op=op, **hidden(body))
    assert response.status == 200, answer
    return answer


def loans(entry: MockConfigEntry) -> dict[str, str]:
    """Barcode -> patron of every loan on the record."""
    return {
        code: loan.patron_id for code, loan in entry.runtime_data.library.circulation.loans.items()
    }


# --- opening the station ----------------------------------------------------------------------


async def test_a_browser_not_opened_lends_nothing(
    hass: HomeAssistant, init_integration: MockConfigEntry, hass_client_no_auth: Any
) -> None:
    client = await hass_client_no_auth()
    response, body = await get(client)
    assert response.status == 403
    # The public pages' headers (Home Assistant's own middleware sets X-Frame-Options).
    for name, value in SECURITY_HEADERS.items():
        assert name == "X-Frame-Options" or response.headers[name] == value
    assert response.headers["Cache-Control"] == "no-store"
    assert EN["not_open_title"] in text_of(body) and 'name="patron"' not in body
    assert "<script>" not in body and "<script " in body  # only the page's own file
    # Posting a patron's form anyway: refused, nothing lent.
    response, body = await post(client, op="start", patron="C-S0001", token="x")
    assert response.status == 403 and EN["not_open_title"] in text_of(body)
    response, _ = await post(client, op="item", barcode="B00001", session="x", token="x")
    assert response.status == 403
    assert loans(init_integration) == {}
    # No such kiosk, or no kiosk id at all.
    for path in ("/ntnu_library/kiosk/K9", "/ntnu_library/kiosk/K1.x", f"{K1}%20"):
        response, body = await get(client, path)
        assert response.status == 404, path
        assert "<form" not in body


async def test_only_an_administrator_opens_a_station(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    hass_client_no_auth: Any,
    hass_admin_user: MockUser,
    hass_read_only_user: MockUser,
) -> None:
    client = await hass_client_no_auth()
    response, body = await open_station(hass, client, hass_read_only_user)
    assert response.status == 403 and EN["opening_not_admin"] in text_of(body)
    assert STATION_COOKIE not in response.cookies

    # A state that is not this kiosk's, or used twice: refused.
    response, body = await get(client)
    state = parse_qs(
        urlsplit(html.unescape(re.search(r'href="(/auth/[^"]+)"', body).group(1))).query
    )
    client_id = state["client_id"][0]
    token = await admin_token(hass, hass_admin_user, client_id)
    for forged in ("", "A" * 64):
        response, body = await post(client, op="open", state=forged, access_token=token)
        assert response.status == 400 and EN["opening_expired"] in text_of(body)
    response, body = await post(client, K2, op="open", state=state["state"][0], access_token=token)
    assert response.status == 400  # K1's opening at K2
    assert STATION_COOKIE not in response.cookies

    before = set(hass_admin_user.refresh_tokens)
    response, _ = await open_station(hass, client, hass_admin_user)
    assert response.status == 303
    credential = response.cookies[STATION_COOKIE].value
    # The staff member's login served the opening only: it is gone.
    assert set(hass_admin_user.refresh_tokens) == before
    # The station list: ids, site, kiosk, who and when; never the credential or its hash.
    listed = (await call_service(hass, "kiosk_stations", {}))["stations"]
    assert [(s["kiosk"], s["site"], s["opened_by"]) for s in listed] == [
        ("K1", "Main Library", hass_admin_user.name)
    ]
    station_id, secret = credential.split(".")
    assert listed[0]["station"] == station_id and secret not in str(listed)
    kept = init_integration.runtime_data.library.as_store_data()["kiosk_stations"]
    assert secret not in str(kept) and kept[station_id]["secret_hash"] not in str(listed)

    response, body = await get(client)
    assert response.status == 200 and 'name="patron"' in body

    # The list and the revocation are for administrators; an unknown station is refused.
    for service, data in (("kiosk_stations", {}), ("revoke_kiosk_station", {"station": "x"})):
        with pytest.raises(Unauthorized):
            await call_service(hass, service, data, Context(user_id=hass_read_only_user.id))
    with pytest.raises(ServiceValidationError) as err:
        await call_service(hass, "revoke_kiosk_station", {"station": "0123456789ab"})
    assert err.value.translation_key == "unknown_station"
    assert len((await call_service(hass, "kiosk_stations", {}))["stations"]) == 1


async def test_a_credential_is_for_its_own_kiosk_until_revoked(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    hass_client_no_auth: Any,
    hass_admin_user: MockUser,
) -> None:
    client = await hass_client_no_auth()
    credential = await opened(hass, client, hass_admin_user)
    other = await hass_client_no_auth()  # another browser
    response, body = await post(other, cookie=credential, op="start", patron="C-S0001")
    assert response.status == 400  # no form of this station: nothing done
    # At another kiosk's page the credential opens nothing.
    response = await other.get(K2, headers={"Cookie": f"{STATION_COOKIE}={credential}"})
    assert response.status == 403 and EN["not_open_title"] in text_of(await response.text())
    for forged in (credential + "x", credential.split(".")[0] + ".AAAA", "garbage"):
        response = await other.get(K1, headers={"Cookie": f"{STATION_COOKIE}={forged}"})
        assert response.status == 403, forged

    # It survives a restart of the site (the Store keeps its hash).
    assert await hass.config_entries.async_reload(init_integration.entry_id)
    await hass.async_block_till_done()
    response, body = await get(client)
    assert response.status == 200 and 'name="patron"' in body

    # Revoked: the next request is refused; a patron mid-session lends nothing more.
    _, body = await start(client, "C-S0001")
    station = credential.split(".")[0]
    answer = await call_service(hass, "revoke_kiosk_station", {"station": station})
    assert answer == {"station": station, "kiosk": "K1", "revoked": True}
    response, after = await post(client, barcode="B00001", op="item", **hidden(body))
    assert response.status == 403 and EN["not_open_title"] in text_of(after)
    assert loans(init_integration) == {}
    assert (await call_service(hass, "kiosk_stations", {}))["stations"] == []


async def test_opening_again_replaces_the_kiosks_station(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    hass_client_no_auth: Any,
    hass_admin_user: MockUser,
) -> None:
    first = await hass_client_no_auth()
    old = await opened(hass, first, hass_admin_user)
    second = await hass_client_no_auth()
    new = await opened(hass, second, hass_admin_user)
    assert old != new
    assert (await get(first))[0].status == 403
    assert (await get(second))[0].status == 200
    await opened(hass, second, hass_admin_user, K2)
    assert [s["kiosk"] for s in (await call_service(hass, "kiosk_stations", {}))["stations"]] == [
        "K1",
        "K2",
    ]


# --- a patron's session ----------------------------------------------------------------------


async def test_card_and_enter_then_each_item_answers_at_once(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    hass_client_no_auth: Any,
    hass_admin_user: MockUser,
) -> None:
    client = await hass_client_no_auth()
    await opened(hass, client, hass_admin_user)
    response, body = await start(client, "C-S0001")
    assert response.status == 200
    assert "S***1" in text_of(body) and "S0001" not in body
    assert 'data-idle-seconds="60"' in body

    body = await scan(client, body, "B00001")
    text = text_of(body)
    assert EN["lent"] in text and "Book 00001" in text and re.search(r"Due \d{4}-\d{2}-\d{2}", text)
    body = await scan(client, body, "r00001")
    assert "for use in the library only" in text_of(body)
    assert EN["advice_library_use_only"] in text_of(body)
    body = await scan(client, body, "CD-B00001")
    assert "lent at the counter only" in text_of(body)
    assert EN["advice_accompanying_material_counter_only"] in text_of(body)
    body = await scan(client, body, "C-G0001")  # a card in the item field: not shown back
    assert "C-G0001" not in body and EN["unknown_barcode"] in text_of(body)
    assert "take it to the counter" in text_of(body)
    body = await scan(client, body, "B00001")
    assert "already have this item" in text_of(body)

    assert loans(init_integration) == {"B00001": "S0001"}
    assert state_of(hass, "sensor.kiosk_k1_loans_today") == "1"

    # The receipt: the loans, their due dates, the kiosk, the patron masked; printed at once.
    body = await scan(client, body, op="receipt")
    receipt = text_of(
        re.search(r'<section class="receipt shown".*?</section>', body, re.S).group(0)
    )
    assert "data-print" in body
    assert (
        "B00001" in receipt and "Book 00001" in receipt and re.search(r"\d{4}-\d{2}-\d{2}", receipt)
    )
    assert "K1" in receipt and "S***1" in receipt and "R00001" not in receipt
    assert EN["receipt_keep"] in receipt

    # My items: every loan of the patron with its due date.
    body = await scan(client, body, op="items")
    listed = text_of(re.search(r'id="my-items-list".*?</section>', body, re.S).group(0))
    assert "Your loans: 1 of 60" in listed and "B00001" in listed and "Due " in listed

    # Done: the next patron finds the welcome page, nothing of the one before.
    done = await scan(client, body, op="done")
    assert EN["thank_you"] in text_of(done) and "S***1" not in done and "B00001" not in done
    _, page = await get(client)
    assert "S***1" not in page and 'name="patron"' in page
    # The old page's form cannot lend any more.
    response, stale = await post(client, barcode="B00002", op="item", **hidden(body))
    assert "B00002" not in loans(init_integration)
    assert response.status == 400 or EN["session_ended"] in text_of(stale)


async def test_a_form_is_good_once(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    hass_client_no_auth: Any,
    hass_admin_user: MockUser,
) -> None:
    client = await hass_client_no_auth()
    await opened(hass, client, hass_admin_user)
    _, body = await start(client, "C-S0001")
    await scan(client, body, "B00002")
    response, again = await post(client, barcode="B00003", op="item", **hidden(body))
    assert response.status == 400 and "expired" in text_of(again)
    assert loans(init_integration) == {"B00002": "S0001"}


async def test_the_loan_limit_says_the_count_and_the_limit(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    hass_client_no_auth: Any,
    hass_admin_user: MockUser,
) -> None:
    """A Friend of the Library (5 items) scans a sixth."""
    client = await hass_client_no_auth()
    await opened(hass, client, hass_admin_user)
    _, body = await start(client, "C-N0001")
    for n in range(1, 7):
        body = await scan(client, body, f"B{n:05d}")
    text = text_of(body)
    assert "You have 5 items on loan; your limit is 5." in text
    assert sorted(loans(init_integration)) == [f"B{n:05d}" for n in range(1, 6)]


async def test_an_expired_membership_borrows_nothing(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    hass_client_no_auth: Any,
    hass_admin_user: MockUser,
) -> None:
    client = await hass_client_no_auth()
    await opened(hass, client, hass_admin_user)
    _, body = await start(client, "C-E0001")
    assert "membership has expired" in text_of(body)  # said at once, before any scan
    body = await scan(client, body, "B00010")
    assert EN["not_lent"] in text_of(body) and "membership has expired" in text_of(body)
    assert loans(init_integration) == {}


async def test_an_id_needs_its_password_and_failures_are_throttled(
    hass: HomeAssistant,
    frozen_clock: FrozenDateTimeFactory,
    init_integration: MockConfigEntry,
    hass_client_no_auth: Any,
    hass_admin_user: MockUser,
) -> None:
    client = await hass_client_no_auth()
    await opened(hass, client, hass_admin_user)
    # An ID alone is not a card: refused like an unknown card, as a failed login.
    response, body = await start(client, "S0001")
    assert response.status == 403 and EN["card_not_recognised"] in text_of(body)
    response, body = await start(client, "S0001", "not-the-password")
    assert response.status == 403 and "Wrong patron ID or password" in text_of(body)
    response, body = await start(client, "S0001", PASSWORD)
    assert response.status == 200 and "S***1" in text_of(body)
    assert PASSWORD not in body
    await scan(client, body, op="done")

    # Made-up cards back off like wrong passwords: counted against the number typed.
    library = init_integration.runtime_data.library
    statuses = [(await start(client, "C-NOBODY"))[0].status for _ in range(8)]
    assert statuses[0] == 403 and statuses[-1] == 429
    response, body = await start(client, "C-NOBODY")
    assert response.status == 429 and response.headers["Retry-After"].isdigit()
    assert "Too many failed logins" in text_of(body)
    assert library.login_key("C-NOBODY") in library.throttle.failures_per_key(time.monotonic())
    frozen_clock.tick(timedelta(hours=2))
    response, body = await start(client, "C-S0001")
    assert response.status == 200


async def test_the_site_may_ask_the_password_after_the_card(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    hass_client_no_auth: Any,
    hass_admin_user: MockUser,
) -> None:
    hass.config_entries.async_update_entry(
        init_integration, options={**init_integration.options, "kiosk_password": True}
    )
    await hass.async_block_till_done()
    client = await hass_client_no_auth()
    await opened(hass, client, hass_admin_user)
    _, page = await get(client)
    assert re.search(r'name="password"[^>]*required', page)
    response, body = await start(client, "C-S0001")
    assert response.status == 400 and EN["password_needed"] in text_of(body)
    response, body = await start(client, "C-S0001", "wrong-wrong")
    assert response.status == 403
    response, body = await start(client, "C-S0001", PASSWORD)
    assert response.status == 200 and "S***1" in text_of(body)


async def test_a_session_ends_after_its_idle_time_on_the_server(
    hass: HomeAssistant,
    frozen_clock: FrozenDateTimeFactory,
    init_integration: MockConfigEntry,
    hass_client_no_auth: Any,
    hass_admin_user: MockUser,
) -> None:
    client = await hass_client_no_auth()
    await opened(hass, client, hass_admin_user)
    _, body = await start(client, "C-S0001")
    frozen_clock.tick(timedelta(seconds=59))
    body = await scan(client, body, "B00003")  # input: the idle time starts again
    frozen_clock.tick(timedelta(seconds=59))
    _, page = await get(client)
    assert "S***1" in page
    frozen_clock.tick(timedelta(seconds=1))
    _, page = await get(client)
    assert "S***1" not in page and "B00003" not in page and 'name="patron"' in page
    _, after = await post(client, barcode="B00004", op="item", **hidden(body))
    assert EN["session_ended"] in text_of(after)
    assert loans(init_integration) == {"B00003": "S0001"}


async def test_a_faulted_kiosk_is_out_of_service_in_both_languages(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    hass_client_no_auth: Any,
    hass_admin_user: MockUser,
) -> None:
    client = await hass_client_no_auth()
    await opened(hass, client, hass_admin_user)
    _, body = await start(client, "C-S0001")
    await call_service(hass, "kiosk_fault", {"kiosk": "K1", "fault": "barcode_reader"})
    for language in ("en", "zh-TW"):
        response, page = await get(client, **{"Accept-Language": language})
        assert response.status == 503
        text = text_of(page)
        assert "Out of service" in text and "Please go to the counter." in text
        assert "暫停服務" in text and "請至櫃檯辦理借書" in text
        assert "<form" not in page
    response, page = await post(client, barcode="B00005", op="item", **hidden(body))
    assert response.status == 503 and "Out of service" in text_of(page)
    assert loans(init_integration) == {}
    await call_service(hass, "clear_kiosk_fault", {"kiosk": "K1"})
    _, page = await get(client)
    assert 'name="patron"' in page and "S***1" not in page  # the fault ended the session


async def test_the_station_speaks_both_languages(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    hass_client_no_auth: Any,
    hass_admin_user: MockUser,
) -> None:
    client = await hass_client_no_auth()
    await opened(hass, client, hass_admin_user)
    _, page = await get(client, **{"Accept-Language": "zh-TW"})
    assert '<html lang="zh-Hant">' in page
    assert ZH["scan_card"] in text_of(page) and EN["scan_card"] in text_of(page)
    assert f'href="{K1}?lang=en"' in page
    _, page = await get(client, f"{K1}?lang=en")
    assert '<html lang="en">' in page and f'href="{K1}?lang=zh-Hant"' in page
    fields = hidden(page)
    assert fields["lang"] == "en"
    _, body = await post(client, patron="C-S0001", password="", **(fields | {"lang": "zh-Hant"}))
    body = await scan(client, body, "R00002")
    assert "僅限館內使用" in text_of(body) and ZH["advice_library_use_only"] in text_of(body)


async def test_the_station_options(hass: HomeAssistant, init_integration: MockConfigEntry) -> None:
    """The password after the card and the idle time are the site's options, checked."""
    result = await hass.config_entries.options.async_init(init_integration.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"kiosk_idle_seconds": 7.5}
    )
    assert result["errors"] == {"kiosk_idle_seconds": "invalid_value"}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"kiosk_idle_seconds": 20, "kiosk_password": True}
    )
    await hass.async_block_till_done()
    assert init_integration.options["kiosk_idle_seconds"] == 20
    assert init_integration.options["kiosk_password"] is True
