"""The self-checkout station in a real browser, against the real demo.

scripts/demo runs Home Assistant in its own process; Debian's chromium, driven by Playwright,
is the kiosk's browser at 1280×1024: staff open the station with the demo admin's login on
Home Assistant's own login page; a patron's card reader types C-S0001 and Enter; B00001 is
lent, R00001 and CD-B00001 are refused with their reasons; the receipt is printed to PDF and
read back; "My items" and "Done"; a session left alone ends by itself; the station's credential
opens nothing at another kiosk or once revoked; a kiosk with a fault lends nothing. In the end
the recorder's database holds no card number.

Screenshots of the station, in English and 繁體中文, are saved in .screenshots/ (or
$NTNU_SCREENSHOTS).
"""

from __future__ import annotations

from pathlib import Path
import re
import time
from typing import Any

import pytest

from .demo_harness import ADMIN, DOMAIN, Demo, require_demo, running_demo
from .pdf_text import pdf_text
from .test_patron_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    SCREENSHOTS,
    STEP_TIMEOUT_MS,
    _browser_problem,
)

KIOSK = {"viewport": {"width": 1280, "height": 1024}}
CARD = "C-S0001"  # the demo's cards are C- + the patron id
IDLE_SECONDS = 8  # the site's option, for the step where a patron walks away


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations() -> None:
    """Replaces the conftest's: no Home Assistant in this process, the demo runs its own."""


def _service(demo: Demo, service: str, data: dict[str, Any]) -> dict[str, Any]:
    status, answer = demo.call("POST", f"/api/services/{DOMAIN}/{service}?return_response", data)
    assert status == 200, answer
    return dict(answer["service_response"])


def _set_options(demo: Demo, **options: Any) -> None:
    """The site's options flow over the REST API, as the options dialog sends it."""
    entries = demo.call("GET", f"/api/config/config_entries/entry?domain={DOMAIN}")[1]
    status, flow = demo.call(
        "POST", "/api/config/config_entries/options/flow", {"handler": entries[0]["entry_id"]}
    )
    assert status == 200, flow
    status, done = demo.call(
        "POST", f"/api/config/config_entries/options/flow/{flow['flow_id']}", options
    )
    assert status == 200 and done["type"] == "create_entry", done

    def loaded() -> bool:
        entry = demo.call("GET", f"/api/config/config_entries/entry?domain={DOMAIN}")[1][0]
        return entry["state"] == "loaded" and demo.call("GET", "/ntnu_library/kiosk/K2")[0] == 403

    demo.wait("waiting for the site to reload", time.monotonic() + 60, loaded)


def _loans(demo: Demo) -> list[str]:
    return [
        loan["barcode"] for loan in _service(demo, "patron_loans", {"patron_id": "S0001"})["loans"]
    ]


def _scan(page: Any, barcode: str) -> None:
    """A keyboard-wedge reader: the barcode, then Enter; the answer comes back at once."""
    rows = page.locator("#lines li.line").count()
    page.fill("#barcode", barcode)
    page.press("#barcode", "Enter")
    page.wait_for_function("n => document.querySelectorAll('#lines li.line').length > n", arg=rows)


@pytest.mark.usefixtures("socket_enabled")
@pytest.mark.timeout(420)
def test_self_checkout_station_in_a_real_browser(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    require_demo(request)
    if problem := _browser_problem():
        pytest.fail(problem)  # never skipped: scripts/test installs what it needs
    from playwright.sync_api import expect, sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with running_demo(tmp_path) as demo, sync_playwright() as playwright:
        demo.wait_until_running(started)
        _set_options(demo, kiosks=["K1", "K2"])
        station_url = f"{demo.base}/ntnu_library/kiosk/K1"
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            kiosk = browser.new_context(**KIOSK, locale="en-US")
            page = kiosk.new_page()
            page.set_default_timeout(STEP_TIMEOUT_MS)

            # 1. Not open: nothing but the opening. Staff log in on Home Assistant's page.
            page.goto(station_url)
            expect(page.locator("body")).to_contain_text("This self-checkout station is not open")
            expect(page.locator("#patron")).to_have_count(0)
            page.screenshot(path=SCREENSHOTS / "kiosk-not-open.png")
            page.click("#open-station")
            page.wait_for_url(re.compile(r".*/auth/authorize\?.*"))
            page.fill("input[name=username]", ADMIN[0])
            page.fill("input[name=password]", ADMIN[1])
            page.press("input[name=password]", "Enter")
            expect(page.locator("#patron")).to_be_visible()
            assert "code=" not in page.url
            (cookie,) = [c for c in kiosk.cookies() if c["name"] == "ntnu_station"]
            assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
            assert cookie["path"] == "/ntnu_library/kiosk/K1"
            stations = _service(demo, "kiosk_stations", {})["stations"]
            assert [(s["kiosk"], s["opened_by"]) for s in stations] == [("K1", "Admin")]
            assert cookie["value"].split(".")[1] not in str(stations)
            page.screenshot(path=SCREENSHOTS / "kiosk-welcome-en.png")

            # 2. The patron's card reader types the card number and Enter.
            page.fill("#patron", CARD)
            page.press("#patron", "Enter")
            expect(page.locator("#patron-masked")).to_have_text("S***1")
            assert CARD not in page.content() and CARD not in page.url
            _scan(page, "B00001")
            lent = page.locator("#lines li.line").first
            expect(lent).to_contain_text("Lent")
            due = re.search(r"Due (\d{4}-\d{2}-\d{2})", lent.inner_text())
            assert due, lent.inner_text()
            _scan(page, "R00001")
            expect(page.locator("#lines li.line").first).to_contain_text(
                "for use in the library only"
            )
            _scan(page, "CD-B00001")
            expect(page.locator("#lines li.line").first).to_contain_text("lent at the counter only")
            expect(page.locator("#lines li.refused")).to_have_count(2)
            page.screenshot(path=SCREENSHOTS / "kiosk-session-en.png")
            assert demo.state("sensor.kiosk_k1_loans_today")["state"] == "1"
            assert _loans(demo) == ["B00001"]

            # 3. The receipt, printed (the 80 mm print style sheet) and read back.
            page.click("#print")
            expect(page.locator("#receipt.shown")).to_be_visible()
            pdf = page.pdf(prefer_css_page_size=True)
            (tmp_path / "receipt.pdf").write_bytes(pdf)
            receipt = pdf_text(pdf)
            for expected in ("Loan receipt", "B00001", f"Due {due.group(1)}", "K1", "S***1"):
                assert expected in receipt, receipt
            assert "R00001" not in receipt and "CD-B00001" not in receipt
            assert "S0001" not in receipt and CARD not in receipt
            width_mm = float(re.search(rb"/MediaBox \[0 0 ([\d.]+)", pdf).group(1)) * 25.4 / 72
            assert 79 < width_mm < 81, width_mm

            # 4. My items, in Chinese (the switch keeps the session).
            page.click("#my-items")
            expect(page.locator("#my-items-list")).to_contain_text("B00001")
            expect(page.locator("#my-items-list")).to_contain_text(f"Due {due.group(1)}")
            page.click("a.language")
            expect(page.locator("html")).to_have_attribute("lang", "zh-Hant")
            expect(page.locator("#lines")).to_contain_text("僅限館內使用")
            expect(page.locator("#lines")).to_contain_text("已借出")
            page.screenshot(path=SCREENSHOTS / "kiosk-session-zh.png")

            # 5. Done: the next patron sees nothing of this one.
            page.click("#done")
            expect(page.locator("#patron")).to_be_visible()
            expect(page.locator("body")).not_to_contain_text("S***1")
            expect(page.locator("body")).not_to_contain_text("B00001")
            page.goto(f"{station_url}?lang=zh-Hant")
            expect(page.locator("body")).to_contain_text("請掃描借書證")
            page.screenshot(path=SCREENSHOTS / "kiosk-welcome-zh.png")

            # 6. The credential opens nothing at another kiosk's page.
            other = browser.new_context(**KIOSK, locale="en-US")
            other.add_cookies(
                [cookie | {"path": "/ntnu_library/kiosk/K2"}]  # as if the browser sent it
            )
            elsewhere = other.new_page()
            elsewhere.set_default_timeout(STEP_TIMEOUT_MS)
            response = elsewhere.goto(f"{demo.base}/ntnu_library/kiosk/K2")
            assert response is not None and response.status == 403
            expect(elsewhere.locator("#patron")).to_have_count(0)
            expect(elsewhere.locator("body")).to_contain_text("not open")

            # 7. A kiosk with a fault: out of service in both languages, nothing lent.
            page.fill("#patron", CARD)
            page.press("#patron", "Enter")
            expect(page.locator("#barcode")).to_be_visible()
            _service(demo, "kiosk_fault", {"kiosk": "K1", "fault": "barcode_reader"})
            page.fill("#barcode", "B00002")
            page.press("#barcode", "Enter")
            expect(page.locator("#out-of-service")).to_contain_text("Out of service")
            expect(page.locator("#out-of-service")).to_contain_text("暫停服務")
            expect(page.locator("#barcode")).to_have_count(0)
            page.screenshot(path=SCREENSHOTS / "kiosk-out-of-service.png")
            assert _loans(demo) == ["B00001"]
            _service(demo, "clear_kiosk_fault", {"kiosk": "K1"})

            # 8. A patron walks away: the session ends by itself (the page says so, the
            # server had ended it).
            _set_options(demo, kiosks=["K1", "K2"], kiosk_idle_seconds=IDLE_SECONDS)
            page.goto(f"{station_url}?lang=en")
            page.fill("#patron", CARD)
            page.press("#patron", "Enter")
            expect(page.locator("#patron-masked")).to_have_text("S***1")
            # No input for IDLE_SECONDS: the welcome page again.
            expect(page.locator("#patron")).to_be_visible(
                timeout=IDLE_SECONDS * 1000 + STEP_TIMEOUT_MS
            )
            expect(page.locator("body")).to_contain_text("Your session has ended")
            expect(page.locator("body")).not_to_contain_text("S***1")

            # 9. Revoked: the station is closed again; the card on its open page lends nothing.
            station = _service(demo, "kiosk_stations", {})["stations"][0]["station"]
            _service(demo, "revoke_kiosk_station", {"station": station})
            page.fill("#patron", CARD)
            page.press("#patron", "Enter")
            expect(page.locator("body")).to_contain_text("This self-checkout station is not open")
            expect(page.locator("#barcode")).to_have_count(0)
            page.goto(station_url)
            expect(page.locator("#patron")).to_have_count(0)
            assert _loans(demo) == ["B00001"]
            assert demo.state("sensor.kiosk_k1_loans_today")["state"] == "1"
        finally:
            browser.close()

        # 10. Stop; the recorder's database holds no card number.
        demo.stop()
        config = tmp_path / "demo" / "config"
        recorded = b"".join(
            path.read_bytes() for path in sorted(config.glob("home-assistant_v2.db*"))
        )
        assert b"kiosk_stations" in recorded  # the recorder did record the service calls
        assert CARD.encode() not in recorded
