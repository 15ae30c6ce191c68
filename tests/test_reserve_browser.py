"""The reservation page and the room page on a phone, in a real browser, against the real demo.

scripts/demo runs Home Assistant in its own process, and Debian's chromium (driven by
Playwright) plays patrons on a 390×844 phone:

- G0001 (master student) follows 事先線上登記（點此預約） from the status panel, logs in,
  reserves a free long-term room for next month, sees it among their reservations (also from
  another browser, in English), and cancels it; S0001 (undergraduate) is refused as not
  eligible; a long-term room's page leads to the reservation page too;
- on the room page the 登錄 button is in sight without scrolling, before and after a result;
  the holder pressing 登記使用 again is told they hold the room; the answer says the door locks
  again by itself.

Screenshots of both pages in both languages are saved in .screenshots/ (or $NTNU_SCREENSHOTS).
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from .demo_harness import Demo, require_demo, running_demo
from .test_patron_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    PASSWORD,
    PHONE,
    SCREENSHOTS,
    STEP_TIMEOUT_MS,
    _browser_problem,
    _room_page,
)

VIEWPORT_HEIGHT = PHONE["viewport"]["height"]  # type: ignore[index]


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations() -> None:
    """Replaces the conftest's: no Home Assistant in this process, the demo runs its own."""


def _phone(browser: Any, locale: str) -> Any:
    page = browser.new_context(**PHONE, locale=locale).new_page()
    page.set_default_timeout(STEP_TIMEOUT_MS)
    return page


def _in_sight(page: Any, selector: str) -> None:
    """The element is on the first screen: no scrolling needed to reach it."""
    assert page.evaluate("window.scrollY") == 0
    box = page.locator(selector).bounding_box()
    assert box is not None, selector
    assert box["y"] >= 0 and box["y"] + box["height"] <= VIEWPORT_HEIGHT, (selector, box)


def _log_in(page: Any, patron_id: str) -> None:
    page.fill("input[name=patron_id]", patron_id)
    page.fill("input[name=password]", PASSWORD)
    page.click("#login")


def _next_month(page: Any) -> str:
    """The month the page offers after this one (its section's id: month-YYYY-MM)."""
    ids = page.locator("section.month").evaluate_all("nodes => nodes.map(n => n.id)")
    assert len(ids) == 2, ids
    return str(ids[1]).removeprefix("month-")


def _reserve_journey(demo: Demo, browser: Any, expect: Any) -> None:
    # G0001 on a Chinese phone, from the lobby's status panel.
    phone = _phone(browser, "zh-TW")
    phone.goto(f"{demo.base}/ntnu_library/status")
    phone.click("text=事先線上登記（點此預約）")
    expect(phone.locator("h1")).to_have_text("事先線上登記")
    phone.screenshot(path=SCREENSHOTS / "reserve-login-zh.png", full_page=True)
    _log_in(phone, "G0001")
    expect(phone.locator(".session-bar")).to_contain_text("G0001")
    month = _next_month(phone)
    offer = phone.locator(f"#month-{month}")
    expect(offer.locator("input[name=room]").first).to_be_visible()
    room = offer.locator("input[name=room]").first.get_attribute("value")
    assert room and room.startswith("L"), room
    phone.screenshot(path=SCREENSHOTS / "reserve-rooms-zh.png", full_page=True)
    offer.locator(f"input[name=room][value={room}]").check()
    offer.locator("button[value=choose]").click()
    expect(phone.locator(".question")).to_contain_text(f"確定登記研究室 {room}")
    _in_sight(phone, "#confirm")
    phone.screenshot(path=SCREENSHOTS / "reserve-confirm-zh.png", full_page=True)
    phone.click("#confirm")
    expect(phone.locator("#result")).to_contain_text(f"研究室 {room} 由您使用")
    expect(phone.locator("#mine")).to_contain_text(room)
    phone.screenshot(path=SCREENSHOTS / "reserve-done-zh.png", full_page=True)
    assert PASSWORD not in phone.content()

    # The same patron on an English phone sees it, and cancels it.
    other = _phone(browser, "en-US")
    other.goto(f"{demo.base}/ntnu_library/reserve")
    expect(other.locator("h1")).to_contain_text("Reserve before use")
    other.screenshot(path=SCREENSHOTS / "reserve-login-en.png", full_page=True)
    _log_in(other, "G0001")
    held = other.locator("#mine form.held")
    expect(held).to_have_count(1)
    expect(held).to_contain_text(room)
    other.screenshot(path=SCREENSHOTS / "reserve-rooms-en.png", full_page=True)
    held.locator("button[value=ask_cancel]").click()
    expect(other.locator(".question")).to_contain_text(f"Cancel your reservation of room {room}")
    other.screenshot(path=SCREENSHOTS / "reserve-confirm-cancel-en.png", full_page=True)
    other.click("#confirm")
    expect(other.locator("#result")).to_contain_text("is cancelled")
    expect(other.locator("#mine")).to_contain_text("You hold no long-term study room.")
    other.screenshot(path=SCREENSHOTS / "reserve-cancelled-en.png", full_page=True)
    other.click("#logout")
    expect(other.locator("#login")).to_be_visible()

    # S0001, an undergraduate, may not reserve by default.
    student = _phone(browser, "en-US")
    student.goto(f"{demo.base}/ntnu_library/reserve")
    _log_in(student, "S0001")
    expect(student.locator("#not-eligible")).to_contain_text(
        "Your patron category may not reserve a long-term study room"
    )
    expect(student.locator("input[name=room]")).to_have_count(0)
    student.screenshot(path=SCREENSHOTS / "reserve-refused-en.png", full_page=True)

    # A long-term room's page (L01's QR code) leads here too.
    l01 = demo.state("image.l01_e_label")["attributes"]["room_page"]
    visitor = _phone(browser, "zh-TW")
    visitor.goto(l01)
    visitor.click("text=事先線上登記（點此預約）")
    expect(visitor.locator("#login")).to_be_visible()


def _room_page_on_a_phone(demo: Demo, browser: Any, expect: Any) -> None:
    room_url = _room_page(demo)
    for locale, lang, patron, words in (
        (
            "zh-TW",
            "zh",
            "S0001",
            ("門鎖已打開", "若 10 秒內未開門", "您已登記使用研究室 T01", "歸還完成"),
        ),
        (
            "en-US",
            "en",
            "G0001",
            (
                "The door is unlocked",
                "within 10 seconds",
                "You already hold room T01",
                "Room returned",
            ),
        ),
    ):
        borrowed, relock, held, returned = words
        phone = _phone(browser, locale)
        phone.goto(room_url)
        _in_sight(phone, "#submit")
        phone.screenshot(path=SCREENSHOTS / f"room-phone-{lang}.png")
        phone.fill("input[name=patron_id]", patron)
        phone.fill("input[name=password]", PASSWORD)
        phone.check("input[name=action][value=borrow]")
        phone.click("#submit")
        expect(phone.locator("#result")).to_contain_text(borrowed)
        expect(phone.locator("#result")).to_contain_text(relock)
        _in_sight(phone, "#submit")
        phone.screenshot(path=SCREENSHOTS / f"room-phone-borrowed-{lang}.png")
        phone.fill("input[name=password]", PASSWORD)
        phone.check("input[name=action][value=borrow]")
        phone.click("#submit")
        expect(phone.locator("#problem")).to_contain_text(held)
        _in_sight(phone, "#submit")
        phone.screenshot(path=SCREENSHOTS / f"room-phone-held-{lang}.png")
        phone.fill("input[name=password]", PASSWORD)
        phone.check("input[name=action][value=return]")
        phone.click("#submit")
        expect(phone.locator("#result")).to_contain_text(returned)
        expect(phone.locator("a[href^='/ntnu_library/activate']")).to_be_visible()


@pytest.mark.usefixtures("socket_enabled")
@pytest.mark.timeout(300)
def test_reserving_and_the_room_page_on_a_phone(
    tmp_path: Any, request: pytest.FixtureRequest
) -> None:
    require_demo(request)
    if problem := _browser_problem():
        pytest.fail(problem)  # never skipped: scripts/test installs what it needs
    from playwright.sync_api import expect, sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with running_demo(tmp_path) as demo, sync_playwright() as playwright:
        demo.wait_until_running(started)
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            _reserve_journey(demo, browser, expect)
            _room_page_on_a_phone(demo, browser, expect)
        finally:
            browser.close()
