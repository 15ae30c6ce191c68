"""A patron's whole session in a real browser, against the real demo.

scripts/demo runs Home Assistant in its own process (its web server on a free loopback port,
its recorder writing home-assistant_v2.db), and Debian's chromium, driven by Playwright (never
Playwright's own browser download), plays the seed's patron on a phone-sized window:

scan the QR code (the address the demo prints, which the e-label carries) → the room page
says 閒置 → log in → tick 登記使用 → press 登錄 → the door unlocks. A second patron is refused;
the holder opens and returns. A lobby screen shows the public status panel, which follows
without a reload. Staff add a patron (the activation code comes back as response data only),
the patron chooses a password on the activation page and borrows from a kiosk over the
websocket. A self-checkout at kiosk K1 lends a book and refuses a library-use-only title and a
CD. Then the demo stops and its recorder database is searched for every password and
code used: none may be there.

Screenshots of the pages are saved in .screenshots/ (or $NTNU_SCREENSHOTS) for people to look
at.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
import os
from pathlib import Path
import re
import shutil
import time
from typing import Any

import aiohttp
import pytest

from .demo_harness import REPO, Demo, require_demo, running_demo

CHROMIUM = "/usr/bin/chromium"
# As the machines' own browser check starts it: no sandbox as root, no background traffic.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True}
LOBBY = {"viewport": {"width": 1920, "height": 1080}}
PASSWORD = "ntnu-demo"
NEW_PASSWORD = "lantern-on-the-desk-42"
STEP_TIMEOUT_MS = 20_000
SCREENSHOTS = Path(os.environ.get("NTNU_SCREENSHOTS", REPO / ".screenshots"))


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations() -> None:
    """Replaces the conftest's: no Home Assistant in this process, the demo runs its own."""


def _browser_problem() -> str | None:
    if not os.access(CHROMIUM, os.X_OK):
        return f"{CHROMIUM} is missing (scripts/test installs Debian's chromium)"
    if shutil.which("node") is None and not _playwright_driver():
        return "Playwright's driver is missing"
    return None


def _playwright_driver() -> bool:
    try:
        import playwright
    except ImportError:
        return False
    return Path(playwright.__file__).parent.joinpath("driver").is_dir()


def _room_page(demo: Demo) -> str:
    """The address the demo prints for T01 (what the QR code on T01's e-label carries)."""
    match = re.search(r"Room page \(T01's QR\)\s+(\S+)", demo.log.read_text(errors="replace"))
    assert match, demo.log_tail()
    url = match.group(1)
    assert url.startswith(demo.base + "/ntnu_library/room/T01?sig="), url
    return url


def _kiosk(demo: Demo, token: str, message: dict[str, Any]) -> dict[str, Any]:
    """One patron_action over Home Assistant's websocket, as a kiosk would send it.

    In a thread of its own: Playwright's synchronous API keeps an event loop in this one.
    """
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, _async_kiosk(demo, token, message)).result(timeout=30)


async def _async_kiosk(demo: Demo, token: str, message: dict[str, Any]) -> dict[str, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(f"ws://127.0.0.1:{demo.port}/api/websocket") as ws,
    ):
        assert (await ws.receive_json())["type"] == "auth_required"
        await ws.send_json({"type": "auth", "access_token": token})
        assert (await ws.receive_json())["type"] == "auth_ok"
        await ws.send_json({"id": 1, "type": "ntnu_library/patron_action", **message})
        return dict(await ws.receive_json())


def _tile(page: Any, room: str) -> Any:
    return page.locator(".tile").filter(
        has=page.locator(".room-id", has_text=re.compile(f"^{room}$"))
    )


@pytest.mark.usefixtures("socket_enabled")
@pytest.mark.timeout(420)
def test_patron_session_in_a_real_browser(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    require_demo(request)
    if problem := _browser_problem():
        pytest.fail(problem)  # never skipped: scripts/test installs what it needs
    from playwright.sync_api import expect, sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with running_demo(tmp_path) as demo, sync_playwright() as playwright:
        demo.wait_until_running(started)
        room_url = _room_page(demo)
        assert f"Status panel (public)  {demo.base}/ntnu_library/status" in demo.log.read_text()
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            # The lobby screen shows the panel all along.
            lobby = browser.new_context(**LOBBY, locale="zh-TW").new_page()
            lobby.set_default_timeout(STEP_TIMEOUT_MS)
            lobby.goto(f"{demo.base}/ntnu_library/status")
            expect(_tile(lobby, "T01")).to_contain_text("閒置")
            expect(_tile(lobby, "L01")).to_contain_text("長期登記中")
            lobby.screenshot(path=SCREENSHOTS / "status-panel-before.png")

            # 1. S0001 scans T01's code on a phone, sees 閒置, borrows.
            phone = browser.new_context(**PHONE, locale="zh-TW").new_page()
            phone.set_default_timeout(STEP_TIMEOUT_MS)
            phone.goto(room_url)
            expect(phone.locator("#room-status")).to_have_text("閒置")
            expect(phone.locator("body")).to_contain_text("個人臨時研究室")
            phone.screenshot(path=SCREENSHOTS / "room-page.png", full_page=True)
            phone.fill("input[name=patron_id]", "S0001")
            phone.fill("input[name=password]", PASSWORD)
            phone.check("input[name=action][value=borrow]")
            phone.click("button[type=submit]")
            expect(phone.locator("body")).to_contain_text("門鎖已打開")
            phone.screenshot(path=SCREENSHOTS / "room-page-borrowed.png", full_page=True)
            assert PASSWORD not in phone.content()
            lock = demo.wait(
                "waiting for T01's lock to show unlocked",
                time.monotonic() + 10,
                lambda: demo.state("lock.t01")["state"] == "unlocked" or None,
            )
            assert lock
            assert demo.state("sensor.t01_status")["state"] == "in_use"
            # The lobby panel follows without a reload.
            expect(_tile(lobby, "T01")).to_contain_text("使用中")

            # 2. G0001 (an English phone) is refused: the room is not idle.
            other = browser.new_context(**PHONE, locale="en-US").new_page()
            other.set_default_timeout(STEP_TIMEOUT_MS)
            other.goto(room_url)
            expect(other.locator("#room-status")).to_have_text("In use")
            other.fill("input[name=patron_id]", "G0001")
            other.fill("input[name=password]", PASSWORD)
            other.check("input[name=action][value=borrow]")
            other.click("button[type=submit]")
            expect(other.locator(".result")).to_contain_text("Not done")
            other.screenshot(path=SCREENSHOTS / "room-page-refused.png", full_page=True)
            assert demo.state("sensor.t01_status")["state"] == "in_use"

            # 3. The holder opens the door again, then ends use.
            for action, words in (("open", "門鎖已打開"), ("return", "歸還完成")):
                phone.fill("input[name=patron_id]", "S0001")
                phone.fill("input[name=password]", PASSWORD)
                phone.check(f"input[name=action][value={action}]")
                phone.click("button[type=submit]")
                expect(phone.locator(".result")).to_contain_text(words)
            phone.screenshot(path=SCREENSHOTS / "room-page-returned.png", full_page=True)
            expect(_tile(lobby, "T01")).to_contain_text("閒置")
            lobby.screenshot(path=SCREENSHOTS / "status-panel-after.png")
            assert demo.state("sensor.t01_status")["state"] == "idle"

            # 4. Staff add a patron; the code comes back as response data only.
            status, answer = demo.call(
                "POST",
                "/api/services/ntnu_library/add_patron?return_response",
                {"patron_id": "N0042", "name": "New Reader", "category": "student_master"},
            )
            assert status == 200, answer
            code = answer["service_response"]["activation_code"]
            activate = browser.new_context(**PHONE, locale="zh-TW").new_page()
            activate.set_default_timeout(STEP_TIMEOUT_MS)
            activate.goto(f"{demo.base}/ntnu_library/activate")
            activate.fill("input[name=patron_id]", "N0042")
            activate.fill("input[name=code]", code)
            activate.fill("input[name=password]", NEW_PASSWORD)
            activate.fill("input[name=repeat]", NEW_PASSWORD)
            activate.click("button[type=submit]")
            expect(activate.locator("body")).to_contain_text("密碼已設定")
            activate.screenshot(path=SCREENSHOTS / "activate.png", full_page=True)

            # 5. The new patron borrows T02 from a kiosk (websocket), then returns it.
            token = demo.api.token
            assert token
            for action in ("borrow", "return"):
                reply = _kiosk(
                    demo,
                    token,
                    {
                        "room": "T02",
                        "action": action,
                        "patron_id": "N0042",
                        "password": NEW_PASSWORD,
                    },
                )
                assert reply["success"], reply
            wrong = _kiosk(
                demo,
                token,
                {
                    "room": "T02",
                    "action": "borrow",
                    "patron_id": "N0042",
                    "password": "nope-nope",
                },
            )
            assert wrong["error"]["code"] == "invalid_credentials"
            # 6. Circulation, as a new user tries it: one receipt line, two refusals.
            status, answer = demo.call(
                "POST",
                "/api/services/ntnu_library/self_checkout?return_response",
                {"patron_id": "S0001", "items": ["B00001", "R00001", "CD-B00001"], "kiosk": "K1"},
            )
            assert status == 200, answer
            checkout = answer["service_response"]
            assert [line["barcode"] for line in checkout["receipt"]] == ["B00001"]
            assert {(x["barcode"], x["reason"]) for x in checkout["refused"]} == {
                ("R00001", "library_use_only"),
                ("CD-B00001", "accompanying_material_counter_only"),
            }
            assert demo.state("sensor.kiosk_k1_loans_today")["state"] == "1"
        finally:
            browser.close()

        # 7. Stop; the recorder's database holds the calls, and no secret.
        demo.stop()
        config = tmp_path / "demo" / "config"
        recorded = b"".join(
            path.read_bytes() for path in sorted(config.glob("home-assistant_v2.db*"))
        )
        assert b"add_patron" in recorded  # the recorder did record the service calls
        for secret in (PASSWORD, NEW_PASSWORD, "nope-nope", code, code.replace("-", "")):
            assert secret.encode() not in recorded, secret
