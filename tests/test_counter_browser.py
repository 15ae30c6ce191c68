"""The counter panel in a real browser, as a counter clerk who is not an administrator.

scripts/demo runs Home Assistant; its administrator makes two ordinary accounts through Home
Assistant's own auth API (a counter clerk and a visitor) and names the clerk counter staff in
the site's options, as an administrator would in the UI. Debian's chromium, driven by
Playwright, opens the sidebar panel at 1280×800 logged in as the clerk: finds S0001 by the card
a reader types, sees T01 held and the loans, returns the room, checks X0001 in, lends CD-B00001
at the counter, unlocks a door only after the confirmation, scans a return box back, adds a
patron from the category list and reads the activation code once (which then works on the
activation page). The same clerk is refused by every staff service; the visitor is refused by
the panel; a room added through the UI is on the panel without any YAML; the panel follows the
browser's language (English, 繁體中文).

One demo for the whole module (it takes a minute to start). Screenshots go to .screenshots/
(or $NTNU_SCREENSHOTS) for people to look at.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
import json
import re
import time
from typing import Any

import aiohttp
import pytest
import pytest_socket

from .demo_harness import Demo, require_demo, running_demo
from .test_counter_ws import _service_data
from .test_patron_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    NEW_PASSWORD,
    SCREENSHOTS,
    _browser_problem,
)

PANEL = "/ntnu-library-counter"
DESK = {"viewport": {"width": 1280, "height": 800}}
STEP_TIMEOUT_MS = 20_000
CLERK = ("clerk", "counter-clerk-desk-7")
VISITOR = ("visitor", "just-looking-around-9")


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations() -> None:
    """Replaces the conftest's: no Home Assistant in this process, the demo runs its own."""


# --- Home Assistant's own APIs, as its UI uses them -------------------------------------------------


def _in_thread(coro: Any) -> Any:
    """Run a coroutine in a thread of its own (Playwright's sync API keeps a loop in this one)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result(timeout=60)


async def _async_ws(demo: Demo, token: str, messages: list[dict[str, Any]]) -> list[Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(f"ws://127.0.0.1:{demo.port}/api/websocket") as ws,
    ):
        assert (await ws.receive_json())["type"] == "auth_required"
        await ws.send_json({"type": "auth", "access_token": token})
        assert (await ws.receive_json())["type"] == "auth_ok"
        answers = []
        for number, message in enumerate(messages, start=1):
            await ws.send_json({"id": number, **message})
            answers.append(await ws.receive_json())
        return answers


def _ws(demo: Demo, token: str, *messages: dict[str, Any]) -> list[Any]:
    return list(_in_thread(_async_ws(demo, token, list(messages))))


def _tokens(demo: Demo, username: str, password: str) -> dict[str, Any]:
    """Home Assistant's login flow, as its login page runs it: the tokens the frontend keeps."""
    api, client_id = demo.api, demo.base + "/"
    flow = api.expect(
        "POST",
        "/auth/login_flow",
        {"client_id": client_id, "handler": ["homeassistant", None], "redirect_uri": client_id},
    )
    result = api.expect(
        "POST",
        f"/auth/login_flow/{flow['flow_id']}",
        {"client_id": client_id, "username": username, "password": password},
    )
    assert result.get("type") == "create_entry", result
    tokens = dict(
        api.expect(
            "POST",
            "/auth/token",
            form={
                "grant_type": "authorization_code",
                "code": result["result"],
                "client_id": client_id,
            },
        )
    )
    return tokens | {
        "hassUrl": demo.base,
        "clientId": client_id,
        "expires": int(time.time() * 1000) + tokens["expires_in"] * 1000,
    }


def _create_user(demo: Demo, admin_token: str, name: str, login: tuple[str, str]) -> str:
    """An ordinary (not administrator) account, made as Settings → People makes one."""
    created = _ws(
        demo,
        admin_token,
        {"type": "config/auth/create", "name": name, "group_ids": ["system-users"]},
    )[0]
    assert created["success"], created
    user_id = str(created["result"]["user"]["id"])
    credentials = _ws(
        demo,
        admin_token,
        {
            "type": "config/auth_provider/homeassistant/create",
            "user_id": user_id,
            "username": login[0],
            "password": login[1],
        },
    )[0]
    assert credentials["success"], credentials
    return user_id


def _call(demo: Demo, token: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    saved, demo.api.token = demo.api.token, token
    try:
        return demo.call(method, path, body)
    finally:
        demo.api.token = saved


def _entry_id(demo: Demo) -> str:
    status, entries = demo.call("GET", "/api/config/config_entries/entry?domain=ntnu_library")
    assert status == 200, entries
    return str(entries[0]["entry_id"])


def _loaded(demo: Demo) -> bool:
    status, entries = demo.call("GET", "/api/config/config_entries/entry?domain=ntnu_library")
    return status == 200 and all(entry["state"] == "loaded" for entry in entries)


def _name_counter_staff(demo: Demo, user_id: str) -> None:
    """The site's options (Configure on the integration's card), as the UI sends them."""
    entry_id = _entry_id(demo)
    status, form = demo.call(
        "POST", "/api/config/config_entries/options/flow", {"handler": entry_id}
    )
    assert status == 200 and form["type"] == "form", form
    status, done = demo.call(
        "POST",
        f"/api/config/config_entries/options/flow/{form['flow_id']}",
        {"counter_staff": [user_id]},
    )
    assert status == 200 and done["type"] == "create_entry", done


def _add_room(demo: Demo, room: str) -> None:
    """Settings → Devices & services → NTNU Library → Add room: the UI's subentry flow."""
    status, form = demo.call(
        "POST", "/api/config/config_entries/subentries/flow", {"handler": [_entry_id(demo), "room"]}
    )
    assert status == 200 and form["type"] == "form", form
    status, done = demo.call(
        "POST",
        f"/api/config/config_entries/subentries/flow/{form['flow_id']}",
        {"room_id": room, "name": "Group study 團體討論室", "kind": "temporary", "floor": "5F"},
    )
    assert status == 200 and done["type"] == "create_entry", done


def _service(demo: Demo, service: str, data: dict[str, Any]) -> Any:
    status, answer = demo.call(
        "POST", f"/api/services/ntnu_library/{service}?return_response", data
    )
    assert status == 200, (service, answer)
    return answer["service_response"]


# --- the browser ---------------------------------------------------------------------------------


def _panel(browser: Any, demo: Demo, tokens: dict[str, Any], locale: str) -> Any:
    """A 1280×800 window logged in with these tokens, on the counter panel."""
    context = browser.new_context(**DESK, locale=locale)
    stored = json.dumps(json.dumps(tokens))
    context.add_init_script(f"window.localStorage.setItem('hassTokens', {stored});")
    page = context.new_page()
    page.set_default_timeout(STEP_TIMEOUT_MS)
    page.goto(demo.base + PANEL)
    return page


def _find(page: Any, query: str) -> None:
    search = page.locator("ntnu-library-counter #search")
    search.fill(query)
    search.press("Enter")


def _shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / name)


def _now_iso() -> str:
    """A moment ago, for the history API (the demo runs on this machine's clock)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(time.time() - 1))


def _states_since(demo: Demo, entity_id: str, since: str) -> list[str]:
    """The states an entity took since a moment, as the recorder wrote them."""
    status, history = demo.call(
        "GET",
        f"/api/history/period/{since.replace('+', '%2B')}"
        f"?filter_entity_id={entity_id}&minimal_response&no_attributes",
    )
    assert status == 200, history
    return [str(state["state"]) for states in history for state in states]


def _state(demo: Demo, entity_id: str) -> str:
    return str(demo.state(entity_id)["state"])


@pytest.fixture(scope="module")
def demo(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Demo]:
    """One demo for the module, its admin logged in."""
    require_demo(request)
    if problem := _browser_problem():
        pytest.fail(problem)  # never skipped: scripts/test installs what it needs
    # Each test blocks sockets as it starts (pytest-socket); this fixture outlives one test.
    pytest_socket.enable_socket()
    started = time.monotonic()
    with running_demo(tmp_path_factory.mktemp("counter")) as running:
        running.wait_until_running(started)
        yield running


@pytest.mark.usefixtures("socket_enabled")
@pytest.mark.timeout(420)
def test_counter_panel_as_counter_staff(demo: Demo) -> None:
    from playwright.sync_api import expect, sync_playwright

    admin_token = str(demo.api.token)
    clerk_id = _create_user(demo, admin_token, "Counter clerk", CLERK)
    _create_user(demo, admin_token, "Visitor", VISITOR)
    _name_counter_staff(demo, clerk_id)
    clerk = _tokens(demo, *CLERK)
    visitor = _tokens(demo, *VISITOR)

    # The clerk's sidebar: the counter panel and the public status, not the admin dashboard.
    panels = _ws(demo, clerk["access_token"], {"type": "get_panels"})[0]["result"]
    assert {"ntnu-library-counter", "ntnu-status"} <= set(panels)
    assert "ntnu-staff" not in panels
    assert "ntnu-staff" in _ws(demo, admin_token, {"type": "get_panels"})[0]["result"]

    # The clerk is no administrator: every staff service refuses them (the panel is their way).
    status, services = _call(demo, clerk["access_token"], "GET", "/api/services")
    names = next(s["services"] for s in services if s["domain"] == "ntnu_library")
    assert len(names) > 20
    for name in names:
        status, _ = _call(
            demo,
            clerk["access_token"],
            "POST",
            f"/api/services/ntnu_library/{name}",
            _service_data(name),
        )
        assert status == 401, name

    # S0001 borrows T01 with their own password and has a book from the kiosk.
    borrowed = _ws(
        demo,
        admin_token,
        {
            "type": "ntnu_library/patron_action",
            "room": "T01",
            "action": "borrow",
            "patron_id": "S0001",
            "password": "ntnu-demo",
        },
    )[0]
    assert borrowed["success"], borrowed
    _service(demo, "self_checkout", {"patron_id": "S0001", "items": ["B00002"], "kiosk": "K1"})

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = _panel(browser, demo, clerk, "en-US")
            panel = page.locator("ntnu-library-counter")
            expect(panel.locator("h1")).to_have_text("Counter")

            # 1. The card reader types C-S0001 and Enter: the patron in full, T01, the loans.
            # From anywhere on the page, "/" goes to the search box first.
            panel.locator("h1").click()
            page.keyboard.press("/")
            page.keyboard.type("C-S0001")
            page.keyboard.press("Enter")
            who = panel.locator(".who h2")
            expect(who).to_contain_text("S0001")
            expect(who).to_contain_text("王小明")
            expect(panel.locator(".who")).to_contain_text("Undergraduate student")
            expect(panel.locator(".patron")).to_contain_text("T01")
            expect(panel.locator("table.loans")).to_contain_text("B00002")
            _shot(page, "counter-patron-en.png")

            # 2. Return the room.
            panel.locator(".patron button.return").click()
            expect(panel.locator(".message")).to_contain_text("Room T01 returned.")
            expect(panel.locator(".patron")).to_contain_text("Holds no room")
            demo.wait(
                "waiting for T01 to show idle",
                time.monotonic() + 30,
                lambda: _state(demo, "sensor.t01_status") == "idle",
            )

            # 3. Lend the CD at the counter (a kiosk refuses it); the reader's Enter sends it.
            lend = panel.locator("#lend-items")
            lend.fill("CD-B00001")
            lend.press("Enter")
            expect(panel.locator(".message")).to_contain_text("1 items lent to S0001.")
            expect(panel.locator("table.loans")).to_contain_text("CD-B00001")

            # 4. X0001 is frozen: check in for today.
            _find(page, "X0001")
            expect(panel.locator(".who")).to_contain_text("Frozen until")
            panel.locator("#check-in").click()
            expect(panel.locator(".who")).to_contain_text("Checked in today")

            # 5. The rooms (Alt+2): unlocking asks first; Escape leaves the door shut.
            since = _now_iso()
            page.keyboard.press("Alt+2")
            expect(panel.locator("#tab-rooms")).to_have_attribute("aria-selected", "true")
            row = panel.locator("tr[data-room=T03]")
            expect(row).to_contain_text("Idle")
            row.locator("button.unlock").click()
            dialog = panel.locator("dialog")
            expect(dialog).to_contain_text("Unlock the door of T03?")
            _shot(page, "counter-unlock-en.png")
            page.keyboard.press("Escape")
            expect(dialog).not_to_be_visible()
            assert "unlocked" not in _states_since(demo, "lock.t03", since)
            row.locator("button.unlock").click()
            dialog.locator("button.confirm").click()
            expect(panel.locator(".message")).to_contain_text("Door of T03 unlocked.")
            # (It relocks by itself when nobody opens it: its history tells it opened.)
            demo.wait(
                "waiting for T03's unlock in its history",
                time.monotonic() + 60,
                lambda: "unlocked" in _states_since(demo, "lock.t03", since),
            )
            # The rooms follow without a reload: G0001 borrows T02 meanwhile.
            borrowed = _ws(
                demo,
                admin_token,
                {
                    "type": "ntnu_library/patron_action",
                    "room": "T02",
                    "action": "borrow",
                    "patron_id": "G0001",
                    "password": "ntnu-demo",
                },
            )[0]
            assert borrowed["success"], borrowed
            t02 = panel.locator("tr[data-room=T02]")
            expect(t02).to_contain_text("G0001 陳怡君", timeout=STEP_TIMEOUT_MS)
            expect(t02).to_contain_text("In use")
            _shot(page, "counter-rooms-en.png")

            # 6. A return box with an item and two findings; scan-back shows what it did.
            _service(
                demo, "return_box_drop", {"box": "main", "items": ["B00002", "CD-B00001", "X-77"]}
            )
            page.reload()
            panel.locator("#tab-boxes").click()
            box = panel.locator("section.box[data-box=main]")
            expect(box).to_contain_text("B00002")
            expect(box.locator(".findings")).to_contain_text("CD-B00001")
            expect(box.locator(".findings")).to_contain_text("X-77")
            expect(box.locator(".findings")).to_contain_text("not one of the library's items")
            _shot(page, "counter-boxes-en.png")
            box.locator("button.scan").click()
            expect(box.locator(".scan-result")).to_contain_text("B00002")
            expect(box.locator(".scan-result")).to_contain_text("X-77")
            expect(panel.locator(".message")).to_contain_text("Scanned back main: 1 checked in.")

            # 7. A new patron from the category list; the code is shown once.
            panel.locator("#tab-add").click()
            form = panel.locator("form.grid")
            form.locator("input[name=patron_id]").fill("N0042")
            form.locator("input[name=name]").fill("New Reader")
            form.locator("select[name=category]").select_option(label="Master student")
            form.locator("button[type=submit]").click()
            code_text = panel.locator(".activation-code")
            expect(code_text).to_have_text(re.compile(r"[A-Z2-9]{4}(-[A-Z2-9]{4}){3}"))
            code = code_text.inner_text().strip()
            _shot(page, "counter-code-en.png")
            panel.locator("#code-done").click()
            expect(code_text).to_have_count(0)
            assert code not in panel.inner_html()

            # The code works, once, on the activation page.
            activate = browser.new_context(**DESK, locale="en-US").new_page()
            activate.set_default_timeout(STEP_TIMEOUT_MS)
            activate.goto(f"{demo.base}/ntnu_library/activate")
            activate.fill("input[name=patron_id]", "N0042")
            activate.fill("input[name=code]", code)
            activate.fill("input[name=password]", NEW_PASSWORD)
            activate.fill("input[name=repeat]", NEW_PASSWORD)
            activate.click("button[type=submit]")
            expect(activate.locator("body")).to_contain_text("Your password is set")

            # 8. A room added in the UI is on the panel at once, without YAML.
            _add_room(demo, "T13")
            demo.wait(
                "waiting for the site to start again with T13",
                time.monotonic() + 60,
                lambda: _loaded(demo) and demo.answers("/api/states/lock.t13"),
            )
            page.reload()
            panel.locator("#tab-rooms").click()
            expect(panel.locator("tr[data-room=T13]")).to_contain_text("Group study")

            # 9. The same clerk in Chinese (with a box to show).
            _service(demo, "return_box_drop", {"box": "gongguan", "items": ["CD-B00001", "X-78"]})
            zh = _panel(browser, demo, clerk, "zh-TW")
            zh_panel = zh.locator("ntnu-library-counter")
            expect(zh_panel.locator("h1")).to_have_text("櫃檯")
            _find(zh, "S0001")
            expect(zh_panel.locator(".who")).to_contain_text("大學部學生")
            expect(zh_panel.locator(".who")).to_contain_text("讀者類別")
            _shot(zh, "counter-patron-zh.png")
            zh_panel.locator("#tab-rooms").click()
            # (T03 relocked by itself meanwhile: nobody opened it.)
            expect(zh_panel.locator("tr[data-room=L01]")).to_contain_text("長期登記中")
            expect(zh_panel.locator("tr[data-room=L01]")).to_contain_text("D0001 林志豪")
            expect(zh_panel.locator("tr[data-room=T01]")).to_contain_text("閒置")
            _shot(zh, "counter-rooms-zh.png")
            zh_panel.locator("#tab-boxes").click()
            zh_box = zh_panel.locator("section.box[data-box=gongguan]")
            expect(zh_box.locator(".findings")).to_contain_text("此物品非本館館藏")
            _shot(zh, "counter-boxes-zh.png")

            # 10. Someone who is not counter staff is refused by the panel.
            other = _panel(browser, demo, visitor, "en-US")
            other_panel = other.locator("ntnu-library-counter")
            expect(other_panel.locator(".refused")).to_contain_text("not counter staff")
            expect(other_panel).not_to_contain_text("王小明")
            _shot(other, "counter-refused-en.png")
        finally:
            browser.close()

    # Nothing the clerk typed at the counter was a (recorded) service call: the recorder's
    # database, once Home Assistant has stopped and written it, holds none of it.
    demo.stop()
    database = demo.log.parent / "demo" / "config" / "home-assistant_v2.db"
    recorded = database.read_bytes()
    for typed in ("C-S0001", "New Reader", code):
        assert typed.encode() not in recorded, typed
