"""The reservation page (事先線上登記) over real HTTP: the patron's journey and every refusal.

The clock is frozen at NOW (Wednesday 12 March 2025, 10:00 in Taipei): the rest of March is
open, April opens on the 20th at 09:00 (the default). The site has the demo's long-term rooms
L01 (D0001 holds it in March), L02 (X0001, frozen, holds it in March) and L03 (free).
"""

from __future__ import annotations

import re
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ntnu_library.const import DOMAIN
from custom_components.ntnu_library.core.reservation_rules import LongTermRules
from custom_components.ntnu_library.web.context import RESERVE_PATH
from custom_components.ntnu_library.web.reserve_texts import RESERVE_TEXTS
from custom_components.ntnu_library.web.texts import TEXTS

from ..conftest import state_of
from ..test_transaction import Disk, disk  # noqa: F401 - the disk fixture
from .reserve_browser import Browser
from .test_room_page import assert_secure, no_iso_moment, room_path, token_of, words

MARCH, APRIL, FEBRUARY = "2025-03", "2025-04", "2025-02"
WRONG = "not-the-password-7Qz"


@pytest.fixture
def site_rooms() -> tuple[str, ...]:
    """A temporary room and the three long-term rooms of the default site."""
    return ("T01", "L01", "L02", "L03")


async def message(hass: HomeAssistant, reason: str, language: str = "en", **values: str) -> str:
    """A refusal's words as the page shows them (placeholders filled)."""
    text = (await words(hass, language))[f"error_{reason}"]
    for key, value in values.items():
        text = text.replace(f"{{{key}}}", value)
    return text


# --- the pages ----------------------------------------------------------------------------------


async def test_the_login_page_in_both_languages(
    hass: HomeAssistant, init_integration: MockConfigEntry, hass_client_no_auth: Any
) -> None:
    """The seed's words, a plain login form, the links; nothing of any patron; safe headers."""
    client = await hass_client_no_auth()
    async with Browser(client, "zh-Hant") as zh, Browser(client) as en:
        assert await zh.get() == 200
        assert '<html lang="zh-Hant">' in zh.page
        assert "事先線上登記" in zh.text and "個人長期研究室" in zh.text
        assert "當月長期研究室使用者無需再進行借用動作" in zh.text
        assert 'name="patron_id"' in zh.page and 'type="password"' in zh.page
        assert 'name="action" value="login"' in zh.page
        assert 'href="/ntnu_library/activate?lang=zh-Hant"' in zh.page
        assert 'href="/ntnu_library/status?lang=zh-Hant"' in zh.page
        assert f'href="{RESERVE_PATH}?lang=en"' in zh.page  # the language switch
        assert await en.get() == 200
        assert "Reserve before use" in en.text and "Long-term study rooms" in en.text
        for browser in (zh, en):
            assert_secure(await browser.session.get(RESERVE_PATH))
            assert "<script>" not in browser.page and " style=" not in browser.page
            assert re.search(r"\son[a-z]+=", browser.page) is None
            for patron in ("D0001", "X0001", "G0001"):
                assert patron not in browser.page
            assert "ntnu_reserve" not in browser.cookies  # no session before a login
        script = re.search(
            r'<script src="(/ntnu_library/static/reserve\.js\?v=\w+)" defer>', en.page
        )
        assert script is not None
        assert (await en.session.get(script.group(1))).status == 200


async def test_links_from_the_status_panel_and_the_long_term_rooms(
    hass: HomeAssistant, init_integration: MockConfigEntry, hass_client_no_auth: Any
) -> None:
    """事先線上登記（點此預約）: on the status panel and every long-term room's page, not T01's."""
    client = await hass_client_no_auth()
    panel = await (await client.get("/ntnu_library/status?lang=zh-Hant")).text()
    assert f'href="{RESERVE_PATH}?lang=zh-Hant"' in panel and "事先線上登記（點此預約）" in panel
    for room in ("L01", "L03"):
        page = await (await client.get(f"{room_path(hass, room)}&lang=en")).text()
        assert f'href="{RESERVE_PATH}?lang=en"' in page
        assert "Reserve before use (click here)" in page
    page = await (await client.get(room_path(hass, "T01"))).text()
    assert RESERVE_PATH not in page
    assert 'href="/ntnu_library/activate?lang=en"' in page  # every room page: set a password


# --- the journey --------------------------------------------------------------------------------


async def test_reserve_see_and_cancel(
    hass: HomeAssistant,
    frozen_clock: FrozenDateTimeFactory,
    init_integration: MockConfigEntry,
    hass_client_no_auth: Any,
) -> None:
    """G0001 logs in, sees what is free, reserves L03 for March, sees it, cancels it."""
    en = RESERVE_TEXTS["en"]
    async with Browser(await hass_client_no_auth()) as browser:
        assert await browser.login("G0001") == 200
        cookie = browser.cookies["ntnu_reserve"]
        assert cookie["httponly"] and cookie["samesite"] == "Strict"
        assert cookie["path"] == RESERVE_PATH
        assert "G0001" not in cookie.value
        text = browser.text
        assert "Logged in as G0001" in text
        assert en["no_reservations"] in text
        assert "Rest of March 2025" in text and "Next month: April 2025" in text
        march = re.search(r'id="month-2025-03".*?</section>', browser.page, re.S)
        assert march is not None
        assert re.findall(r'name="room" value="(\w+)"', march.group(0)) == ["L03"]
        assert "Reservations open at 2025-03-20 09:00." in text  # April, not yet
        assert 'id="month-2025-04"' in browser.page
        assert 'value="2025-04"' not in browser.page  # no form for April yet
        no_iso_moment(text)

        assert await browser.choose("L03", MARCH) == 200
        assert "Reserve room L03 for March 2025?" in browser.text
        assert state_of(hass, "sensor.l03_status") == "idle"  # a question changes nothing
        assert await browser.post(action="reserve", room="L03", month=MARCH) == 200
        assert "Room L03 is yours for March 2025." in browser.result
        assert "No borrowing needed" in browser.result
        assert re.search(r"L03.*March 2025.*Cancel", browser.text)
        await hass.async_block_till_done()
        assert state_of(hass, "sensor.l03_status") == "reserved"
        site = init_integration.runtime_data
        assert site.rooms.holder("L03", dt_util.now()) == "G0001"

        assert await browser.cancel("L03", MARCH) == 200
        assert "Your reservation of room L03 for March 2025 is cancelled." in browser.result
        assert en["no_reservations"] in browser.text
        await hass.async_block_till_done()
        assert state_of(hass, "sensor.l03_status") == "idle"
        assert state_of(hass, "lock.l03") == "locked"

        # Logged out: the session is over, its forms too.
        page = browser.page
        assert await browser.post(action="logout") == 200
        assert "G0001" not in browser.page and 'value="login"' in browser.page
        assert (
            await browser.post(token=token_of(page), action="choose", room="L03", month=MARCH)
            == 403
        )
        assert RESERVE_TEXTS["en"]["session_ended"] in browser.problem


async def test_reserving_in_chinese(
    hass: HomeAssistant,
    frozen_clock: FrozenDateTimeFactory,
    init_integration: MockConfigEntry,
    hass_client_no_auth: Any,
) -> None:
    """The whole journey reads in Traditional Chinese."""
    async with Browser(await hass_client_no_auth(), "zh-Hant") as browser:
        assert await browser.login("D0001") == 200
        assert "已登入：D0001" in browser.text
        assert re.search(r"L01.*2025 年 3 月.*取消登記", browser.text)  # D0001 holds L01
        assert "2025 年 3 月（本月剩餘日數）" in browser.text
        assert "將於 2025-03-20 09:00 開放登記。" in browser.text
        assert await browser.choose("L03", MARCH) == 403
        limit = await message(
            hass, "long_term_limit_reached", "zh-Hant", rooms="L01", month="2025 年 3 月", limit="1"
        )
        assert limit in browser.problem


# --- refusals -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("patron_id", "reason", "values"),
    [
        ("S0001", "not_eligible", {}),  # undergraduate
        ("A0001", "not_eligible", {}),  # alumni
        ("E0001", "membership_expired", {}),
    ],
)
async def test_patrons_who_may_not_reserve_are_told_why(
    hass: HomeAssistant,
    frozen_clock: FrozenDateTimeFactory,
    init_integration: MockConfigEntry,
    hass_client_no_auth: Any,
    patron_id: str,
    reason: str,
    values: dict[str, str],
) -> None:
    """Right after the login the reason shows (and who may); a room asked for is refused."""
    async with Browser(await hass_client_no_auth()) as browser:
        assert await browser.login(patron_id) == 200
        expected = await message(hass, reason, **values)
        assert expected in browser.problem
        assert 'name="room" value="L03"' not in browser.page  # no room to pick
        if reason == "not_eligible":
            assert "Doctoral student" in browser.problem and "Master student" in browser.problem
            assert "Undergraduate student" not in browser.problem
        assert await browser.choose("L03", MARCH) == 403
        assert expected in browser.problem
        assert await browser.post(action="reserve", room="L03", month=MARCH) == 403
        assert state_of(hass, "sensor.l03_status") == "idle"


async def test_a_frozen_patron_is_told_until_when(
    hass: HomeAssistant,
    frozen_clock: FrozenDateTimeFactory,
    init_integration: MockConfigEntry,
    hass_client_no_auth: Any,
) -> None:
    """X0001 is frozen: refused, with the end of the freeze in local time; may still cancel."""
    site = init_integration.runtime_data
    freeze = site.rooms.frozen("X0001", dt_util.now())
    assert freeze is not None
    until = dt_util.as_local(freeze.until).strftime("%Y-%m-%d %H:%M")
    async with Browser(await hass_client_no_auth()) as browser:
        assert await browser.login("X0001") == 200
        assert await message(hass, "frozen", until=until) in browser.problem
        assert await browser.choose("L03", MARCH) == 403
        assert until in browser.problem
        no_iso_moment(browser.text)
        # Their own reservation (L02, made by staff) they may give up.
        assert await browser.cancel("L02", MARCH) == 200
        assert site.rooms.holder("L02", dt_util.now()) is None


async def test_next_month_opens_at_its_time(
    hass: HomeAssistant,
    frozen_clock: FrozenDateTimeFactory,
    init_integration: MockConfigEntry,
    hass_client_no_auth: Any,
) -> None:
    """April before 20 March 09:00 is refused with when it opens; from then on it is open."""
    async with Browser(await hass_client_no_auth()) as browser:
        assert await browser.login("G0001") == 200
        assert await browser.choose("L01", APRIL) == 403
        opens = await message(
            hass, "reservations_not_open", month="April 2025", opens="2025-03-20 09:00"
        )
        assert opens in browser.problem
        frozen_clock.move_to("2025-03-20 08:59:59+08:00")
        assert await browser.login("G0001") == 200  # days later: logged out meanwhile
        assert "Reservations open at 09:00." in browser.text  # today: the time alone
        assert await browser.post(action="reserve", room="L01", month=APRIL) == 403
        assert "open at 09:00" in browser.problem
        frozen_clock.move_to("2025-03-20 09:00:00+08:00")
        await browser.get()
        assert 'name="month" value="2025-04"' in browser.page
        assert await browser.reserve("L01", APRIL) == 200
        assert "Room L01 is yours for April 2025." in browser.result
        # May is not open: it opens on 20 April.
        assert await browser.choose("L02", "2025-05") == 403
        assert "open at 2025-04-20 09:00" in browser.problem


async def test_rooms_taken_held_or_over_the_limit(
    hass: HomeAssistant,
    frozen_clock: FrozenDateTimeFactory,
    init_integration: MockConfigEntry,
    hass_client_no_auth: Any,
) -> None:
    """Taken (and what is still free), already yours, one a month, not long-term, past months."""
    frozen_clock.move_to("2025-03-21 10:00:00+08:00")  # April is open
    site = init_integration.runtime_data
    async with Browser(await hass_client_no_auth()) as browser:
        assert await browser.login("G0001") == 200
        assert await browser.choose("L01", MARCH) == 403  # D0001's this month
        taken = await message(hass, "already_reserved", room="L01", month="March 2025")
        assert taken in browser.problem
        assert "Still free for March 2025: L03." in browser.problem
        assert await browser.reserve("L03", MARCH) == 200
        assert await browser.choose("L01", MARCH) == 403
        assert "No long-term study room is free for March 2025 any more." in browser.problem
        assert await browser.choose("L03", MARCH) == 403
        assert "You already hold room L03." in browser.problem
        assert "patron" not in browser.problem.lower()
        # One a month: another room in April is fine, a second one is not.
        assert await browser.reserve("L02", APRIL) == 200
        assert await browser.choose("L03", APRIL) == 403
        limit = await message(
            hass, "long_term_limit_reached", rooms="L02", month="April 2025", limit="1"
        )
        assert limit in browser.problem
        assert await browser.choose("T01", MARCH) == 403
        assert await message(hass, "not_long_term_room", room="T01") in browser.problem
        assert await browser.choose("L03", FEBRUARY) == 403
        assert await message(hass, "invalid_month", month="February 2025") in browser.problem
        assert await browser.choose("Z99", MARCH) == 403
        assert await message(hass, "unknown_room", room="Z99") in browser.problem
        # Somebody else's reservation is not theirs to cancel; nothing is no reservation.
        assert await browser.post(action="cancel", room="L01", month=MARCH) == 403
        assert await message(hass, "not_holder", room="L01") in browser.problem
        assert await browser.post(action="cancel", room="L01", month=APRIL) == 403
        assert await message(hass, "no_reservation", room="L01", month="April 2025") in (
            browser.problem
        )
    held = {(room, month): pid for room, month, pid in site.rooms.reservations()}
    assert held == {
        ("L01", MARCH): "D0001",
        ("L02", MARCH): "X0001",
        ("L03", MARCH): "G0001",
        ("L02", APRIL): "G0001",
    }


async def test_the_sites_options_decide(
    hass: HomeAssistant,
    frozen_clock: FrozenDateTimeFactory,
    init_integration: MockConfigEntry,
    hass_client_no_auth: Any,
) -> None:
    """Undergraduates allowed, two rooms a month, April open from 1 March: the page follows."""
    entry = init_integration
    rules = LongTermRules(
        long_term_categories=("student_undergraduate",),
        long_term_per_month=2,
        reservations_open_day=1,
        reservations_open_time="00:00",
    )
    hass.config_entries.async_update_entry(entry, options={**entry.options, **rules.as_dict()})
    await hass.async_block_till_done()  # the site starts again with them
    async with Browser(await hass_client_no_auth()) as browser:
        assert await browser.login("S0001") == 200
        assert not browser.problem
        assert "Each patron may hold 2 long-term study room(s) a month." in browser.text
        assert await browser.reserve("L01", APRIL) == 200
        assert await browser.reserve("L02", APRIL) == 200
        assert await browser.choose("L03", APRIL) == 403
        assert "one patron may hold 2" in browser.problem
    async with Browser(await hass_client_no_auth()) as browser:
        assert await browser.login("G0001") == 200  # master students are not on the list now
        assert await message(hass, "not_eligible") in browser.problem
        assert "Undergraduate student" in browser.problem


# --- logins, forms and sessions ------------------------------------------------------------------


async def test_logins_are_the_gates(
    hass: HomeAssistant, init_integration: MockConfigEntry, hass_client_no_auth: Any
) -> None:
    """One answer for a wrong password and an unknown ID; the same backoff as the room page."""
    generic = await message(hass, "invalid_credentials")
    async with Browser(await hass_client_no_auth()) as browser:
        assert await browser.login("G0001", WRONG) == 403
        wrong = browser.problem
        assert await browser.login("ZZ9999", WRONG) == 403
        assert browser.problem == wrong and generic in wrong
        assert "ntnu_reserve" not in browser.cookies
        statuses = [await browser.login("S0001", WRONG) for _ in range(8)]
        assert statuses[:6] == [403] * 6 and statuses[6:] == [429, 429]
        assert int(browser.headers["Retry-After"]) >= 1
        assert await browser.login("S0001") == 429  # the right password waits too
        assert await browser.login("G0001") == 200  # nobody else does


async def test_forms_are_single_use_and_bound(
    hass: HomeAssistant,
    frozen_clock: FrozenDateTimeFactory,
    init_integration: MockConfigEntry,
    hass_client_no_auth: Any,
) -> None:
    """Replayed tokens, another session's, the login form's; missing and malformed fields."""
    expired = TEXTS["en"]["form_expired"]
    client = await hass_client_no_auth()
    async with Browser(client) as browser, Browser(client) as other:
        await browser.get()
        login_token = token_of(browser.page)
        assert await browser.post(action="login", patron_id="G0001", password="") == 400
        assert await browser.post(token=login_token, action="login", patron_id="G0001") == 400
        assert expired in browser.problem
        assert await browser.login("G0001") == 200
        page = browser.page
        assert await browser.choose("L03", MARCH) == 200
        # The page's token again, a login form's token, another session's token.
        assert await other.login("D0001") == 200
        for token in (token_of(page), login_token, token_of(other.page)):
            assert await browser.post(token=token, action="reserve", room="L03", month=MARCH) == 400
            assert expired in browser.problem
        assert state_of(hass, "sensor.l03_status") == "idle"
        for fields in (
            {"action": "reserve", "room": "L03"},
            {"action": "reserve", "room": "L03", "month": "March"},
            {"action": "reserve", "room": "<b>", "month": MARCH},
            {"action": "reserve", "room": "L03", "month": MARCH, "site": "elsewhere"},
            {"action": "unlock", "room": "L03", "month": MARCH},
        ):
            assert await browser.post(**fields) == 400, fields
            assert "<b>" not in browser.page
        response = await browser.session.post(
            RESERVE_PATH,
            data="pad=" + "x" * 9000,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert response.status == 413
    assert state_of(hass, "sensor.l03_status") == "idle"


async def test_a_session_ends_after_a_while(
    hass: HomeAssistant,
    frozen_clock: FrozenDateTimeFactory,
    init_integration: MockConfigEntry,
    hass_client_no_auth: Any,
) -> None:
    """15 minutes without use log the patron out; using the page keeps them in."""
    async with Browser(await hass_client_no_auth()) as browser:
        assert await browser.login("G0001") == 200
        frozen_clock.tick(14 * 60)
        assert await browser.get() == 200 and "G0001" in browser.text
        frozen_clock.tick(9 * 60)  # a form is good for ten minutes
        assert await browser.choose("L03", MARCH) == 200
        frozen_clock.tick(15 * 60 + 1)
        assert await browser.post(action="reserve", room="L03", month=MARCH) == 403
        assert RESERVE_TEXTS["en"]["session_ended"] in browser.problem
        assert "G0001" not in browser.page
    assert state_of(hass, "sensor.l03_status") == "idle"


async def test_no_patron_data_but_in_the_patrons_own_session(
    hass: HomeAssistant,
    frozen_clock: FrozenDateTimeFactory,
    init_integration: MockConfigEntry,
    hass_client_no_auth: Any,
) -> None:
    """Who holds which room shows only to that patron; others see the room as not free."""
    client = await hass_client_no_auth()
    async with Browser(client) as holder, Browser(client) as other, Browser(client) as nobody:
        assert await holder.login("G0001") == 200
        assert await holder.reserve("L03", MARCH) == 200
        assert await other.login("D0001") == 200
        assert "G0001" not in other.page and "陳怡君" not in other.page
        assert "X0001" not in other.page  # L02's holder
        assert await nobody.get() == 200
        for patron in ("G0001", "D0001", "X0001"):
            assert patron not in nobody.page
    api = await (await client.get("/api/ntnu_library/status")).text()
    assert "G0001" not in api


# --- the disk -----------------------------------------------------------------------------------


async def test_a_reservation_the_disk_did_not_take_did_not_happen(
    hass: HomeAssistant,
    frozen_clock: FrozenDateTimeFactory,
    init_integration: MockConfigEntry,
    hass_client_no_auth: Any,
    disk: Disk,  # noqa: F811 - the fixture imported above
) -> None:
    """A failed write: 503, the room still free; the next try, once the disk is back, works."""
    site_store = f"{DOMAIN}.{init_integration.entry_id}"
    async with Browser(await hass_client_no_auth()) as browser:
        assert await browser.login("G0001") == 200
        assert await browser.choose("L03", MARCH) == 200
        disk.failing.add(site_store)
        assert await browser.post(action="reserve", room="L03", month=MARCH) == 503
        assert TEXTS["en"]["service_unavailable"] in browser.problem
        assert init_integration.runtime_data.rooms.holder("L03", dt_util.now()) is None
        assert state_of(hass, "sensor.l03_status") == "idle"
        disk.failing.clear()
        assert await browser.reserve("L03", MARCH) == 200


async def test_the_patron_is_answered_only_once_it_is_written(
    hass: HomeAssistant,
    frozen_clock: FrozenDateTimeFactory,
    init_integration: MockConfigEntry,
    hass_client_no_auth: Any,
    hass_storage: dict[str, Any],
    disk: Disk,  # noqa: F811 - the fixture imported above
) -> None:
    """While the site's Store is being written the patron waits; the answer comes after."""
    entry = init_integration
    site_store = f"{DOMAIN}.{entry.entry_id}"
    async with Browser(await hass_client_no_auth()) as browser:
        assert await browser.login("G0001") == 200
        assert await browser.choose("L03", MARCH) == 200
        release = disk.hold(site_store)
        answer = hass.async_create_task(browser.post(action="reserve", room="L03", month=MARCH))
        await disk.waiting[site_store].wait()
        assert not answer.done()
        release.set()
        assert await answer == 200
        stored = hass_storage[site_store]["data"]["library"]["reservations"]
        assert {"room": "L03", "month": MARCH, "patron_id": "G0001"} in stored
