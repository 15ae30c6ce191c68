"""Bring the demo's Home Assistant to a usable state over its REST API (stdlib only).

Run by scripts/demo while Home Assistant starts:

    demo_bootstrap.py --port 8123 --pid HASS_PID        wait, log in, add the site, print how to use it
    demo_bootstrap.py --port 8123 --check-port          fail at once if the port is taken

Steps: wait until http://127.0.0.1:PORT/api/ answers; log in as the demo admin through the
auth login flow (/auth/login_flow, /auth/token) and check the token; wait until Home
Assistant is RUNNING; unless an ntnu_library config entry exists, run the integration's
config flow with the demo site; wait for the entry to load; make one automation from each of
the library's blueprints (once: staff change or delete them in Settings → Automations);
print the addresses and logins.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import time
from typing import Any
import urllib.error
import urllib.parse
import urllib.request

DOMAIN = "ntnu_library"
USERNAME = "admin"
PASSWORD = "ntnu-admin"  # the documented demo login
SITE = {
    "site_name": "Main Library",
    "radio": "simulated",
    "patron_system": "local",
    "demo_data": True,
}
# The demo sites' own names in Chinese, as staff give them in the config flow.
SITE_NAMES_ZH = {"Main Library": "總館", "Gongguan": "公館分館"}
# The demo ILS of scripts/lib/ils.py (SIP2 on loopback, no TLS: it never leaves this machine).
ILS = {
    "host": "127.0.0.1",
    "tls": False,
    "verify_tls": True,
    "institution": "NTNU",
    "login_user": "ntnu-door",
    "login_password": "ntnu-door-secret",
    "location": "",
}
DEMO_PATRONS = (
    ("S0001", "undergraduate"),
    ("G0001", "master"),
    ("D0001", "doctoral, holds L01 this month"),
    ("F0001", "full-time faculty"),
    ("A0001", "alumni"),
    ("X0001", "doctoral, frozen, holds L02 this month"),
    ("E0001", "membership expired"),
)

# Never go through a proxy to reach our own Home Assistant on loopback.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class DemoError(Exception):
    """A step failed; the message says what to do."""


class Api:
    """A few JSON calls to one Home Assistant."""

    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.token: str | None = None

    def call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        form: dict[str, str] | None = None,
        timeout: float = 30,
    ) -> tuple[int, Any]:
        """Send one request; return (HTTP status, decoded JSON or text). Never raises on 4xx/5xx."""
        headers = {"Accept": "application/json"}
        data = None
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(self.base + path, data, headers, method=method)
        try:
            with _OPENER.open(request, timeout=timeout) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as err:
            status, raw = err.code, err.read()
        text = raw.decode("utf-8", "replace")
        try:
            return status, json.loads(text)
        except ValueError:
            return status, text

    def expect(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Any:
        """Like call(), but a status other than 200 is a DemoError."""
        status, result = self.call(method, path, body, **kwargs)
        if status != 200:
            raise DemoError(f"{method} {path} answered HTTP {status}: {result}")
        return result


def _alive(pid: int | None) -> bool:
    if pid is None:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def wait_for_http(api: Api, pid: int | None, timeout: float) -> float:
    """Wait until the HTTP server serves the login providers; return seconds waited.

    (Asking /api/ without a token would log an "invalid authentication" warning; /api/
    is checked with the token once logged in.)
    """
    started = time.monotonic()
    while True:
        try:
            if api.call("GET", "/auth/providers", timeout=5)[0] == 200:
                return time.monotonic() - started
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            pass
        if not _alive(pid):
            raise DemoError("Home Assistant stopped before its API answered (its log is above)")
        if time.monotonic() - started > timeout:
            raise DemoError(f"Home Assistant's API did not answer within {timeout:.0f} s")
        time.sleep(0.5)


def log_in(api: Api, username: str, password: str) -> None:
    """Log in through the login flow, as the frontend does, and keep the access token."""
    client_id = api.base + "/"
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
    if result.get("type") != "create_entry":
        raise DemoError(
            f"login as {username!r} failed: {result.get('errors') or result}. "
            "If the demo's users were changed, start afresh with scripts/demo --reset."
        )
    tokens = api.expect(
        "POST",
        "/auth/token",
        form={"grant_type": "authorization_code", "code": result["result"], "client_id": client_id},
    )
    api.token = tokens["access_token"]


def check_api(api: Api, timeout: float) -> float:
    """Wait until GET /api/ with the token says "API running."; return seconds waited."""
    started = time.monotonic()
    while True:
        status, answer = api.call("GET", "/api/")
        if status == 200 and isinstance(answer, dict) and answer.get("message") == "API running.":
            return time.monotonic() - started
        if status != 404 or time.monotonic() - started > timeout:
            raise DemoError(f"the token does not work: GET /api/ answered HTTP {status}: {answer}")
        time.sleep(0.5)


def wait_until_running(api: Api, pid: int | None, timeout: float) -> None:
    """Wait for the end of Home Assistant's start-up, so every integration can be loaded."""
    started = time.monotonic()
    while (state := api.expect("GET", "/api/config").get("state")) != "RUNNING":
        if not _alive(pid):
            raise DemoError("Home Assistant stopped during start-up (its log is above)")
        if time.monotonic() - started > timeout:
            raise DemoError(f"Home Assistant is still {state!r} after {timeout:.0f} s")
        time.sleep(0.5)


def _entries(api: Api) -> list[dict[str, Any]]:
    entries = api.expect("GET", f"/api/config/config_entries/entry?domain={DOMAIN}")
    return [entry for entry in entries if entry.get("domain") == DOMAIN]


def _describe_form(result: dict[str, Any]) -> str:
    fields = [
        f"{field.get('name')}{'*' if field.get('required') else ''}"
        for field in result.get("data_schema") or []
    ]
    return (
        f"step {result.get('step_id')!r}, fields {', '.join(fields) or '(none)'}, "
        f"errors {result.get('errors') or {}}"
    )


# The second building of --sites 2: it joins the first one's library (the flow's default).
BRANCH = "Gongguan"


def add_sites(api: Api, patrons: str = "local", ils_port: int = 6001, sites: int = 1) -> str:
    """Add the demo's sites that are not there yet; return what happened, a line each."""
    titles = {entry.get("title") for entry in _entries(api)}
    done = []
    for name in (SITE["site_name"], BRANCH)[:sites]:
        if name in titles:
            done.append(f"site already set up: {name!r} (--reset starts a new one)")
        else:
            done.append(add_site(api, patrons, ils_port, name))
    return "\ndemo: ".join(done)


def add_site(
    api: Api, patrons: str = "local", ils_port: int = 6001, name: str = SITE["site_name"]
) -> str:
    """Run the config flow for one demo site; return what happened."""
    site = SITE | {"patron_system": patrons, "site_name": name}
    if name in SITE_NAMES_ZH:
        site["site_name_zh"] = SITE_NAMES_ZH[name]

    status, result = api.call(
        "POST",
        "/api/config/config_entries/flow",
        {"handler": DOMAIN, "show_advanced_options": False},
    )
    if status != 200:
        raise DemoError(
            f"could not start the {DOMAIN} config flow (HTTP {status}: {result}). "
            "Is custom_components/ntnu_library complete, with config_flow: true in its manifest?"
        )
    if result.get("type") == "form" and result.get("step_id") == "user":
        # Send only the fields the form asks for; name any of ours it does not know.
        names = {field.get("name") for field in result.get("data_schema") or []}
        if unknown := sorted(set(site) - names):
            print(f"demo: warning: the user step has no field(s) {', '.join(unknown)}")
        data = {key: value for key, value in site.items() if key in names}
        status, result = api.call(
            "POST", f"/api/config/config_entries/flow/{result['flow_id']}", data
        )
        if status != 200:
            raise DemoError(f"the {DOMAIN} user step refused {data}: HTTP {status}: {result}")

    if result.get("type") == "form" and result.get("step_id") == "sip2":
        sip2 = ILS | {"port": ils_port}
        status, result = api.call(
            "POST", f"/api/config/config_entries/flow/{result['flow_id']}", sip2
        )
        if status != 200:
            raise DemoError(f"the {DOMAIN} SIP2 step refused the demo ILS: HTTP {status}: {result}")

    kind = result.get("type")
    if kind == "create_entry":
        return f"site added: {result.get('title')!r}"
    if kind == "abort" and result.get("reason") in {
        "already_configured",
        "single_instance_allowed",
    }:
        return f"site already set up ({result.get('reason')})"
    if kind == "form":
        api.call("DELETE", f"/api/config/config_entries/flow/{result.get('flow_id')}")
        raise DemoError(
            f"the {DOMAIN} config flow asked for more than the demo knows: {_describe_form(result)}\n"
            f"  sent: {site}\n  full answer: {json.dumps(result, ensure_ascii=False)}"
        )
    raise DemoError(f"the {DOMAIN} config flow ended with {kind!r}: {result}")


def wait_until_loaded(api: Api, timeout: float) -> None:
    """Wait for every ntnu_library entry to finish setting up; fail on a set-up error."""
    started = time.monotonic()
    while True:
        states = {entry.get("title"): entry.get("state") for entry in _entries(api)}
        if states and all(state == "loaded" for state in states.values()):
            return
        if failed := {t: s for t, s in states.items() if s in {"setup_error", "migration_error"}}:
            raise DemoError(f"the site did not load: {failed} (its log is above)")
        if time.monotonic() - started > timeout:
            raise DemoError(f"the site is not loaded after {timeout:.0f} s: {states}")
        time.sleep(0.5)


# The main library's rooms as the demo makes them (entity ids in English, as it is set up).
_TEMPORARY = [f"t{n:02d}" for n in range(1, 13)]
_ROOMS = _TEMPORARY + [f"l{n:02d}" for n in range(1, 7)]
_BLUEPRINTS = "ntnu_library/{}.yaml"

# One automation from each blueprint in blueprints/automation/ntnu_library/ (scripts/demo
# installs them), by automation id: the library's policy at work in the demo.
DEMO_AUTOMATIONS: dict[str, dict[str, Any]] = {
    "ntnu_library_release_unopened_room": {
        "alias": "Release a borrowed room nobody came to / 釋出登記後未開門的研究室",
        "description": "A temporary room borrowed 15 minutes ago whose door nobody opened.",
        "use_blueprint": {
            "path": _BLUEPRINTS.format("release_unopened_room"),
            "input": {"locks": [f"lock.{room}" for room in _TEMPORARY], "minutes": 15},
        },
    },
    "ntnu_library_freeze_after_violation": {
        "alias": "Freeze a patron after 3 violations in 30 days / 30 天內違規 3 次即凍結",
        "description": "Rooms left at closing or never opened count; a freeze lasts 7 days.",
        "use_blueprint": {
            "path": _BLUEPRINTS.format("freeze_after_violation"),
            "input": {
                "reasons": ["closing", "not_opened"],
                "violations": 3,
                "window_days": 30,
                "freeze_days": 7,
            },
        },
    },
    "ntnu_library_door_alert": {
        "alias": "Door alerts: forced doors, jams, locks offline, low batteries / 門禁警報",
        "description": "A persistent notification for staff.",
        "use_blueprint": {
            "path": _BLUEPRINTS.format("door_alert"),
            "input": {
                "locks": [f"lock.{room}" for room in _ROOMS],
                "batteries": [
                    f"sensor.{room}_{device}_battery"
                    for room in _ROOMS
                    for device in ("lock", "door_contact", "occupancy_sensor")
                ],
            },
        },
    },
    "ntnu_library_auto_return_empty_room": {
        "alias": "Return a room empty for 20 minutes / 無人 20 分鐘自動歸還",
        "description": "Sooner than the site's own 30 minutes, to show the blueprint at work.",
        "use_blueprint": {
            "path": _BLUEPRINTS.format("auto_return_empty_room"),
            "input": {
                "occupancy_sensors": [f"binary_sensor.{room}_occupancy" for room in _TEMPORARY],
                "minutes": 20,
            },
        },
    },
    "ntnu_library_push_e_label": {
        "alias": "Push T01's e-label to its tag / 更新 T01 電子標示",
        "description": (
            "Off: the demo has no OpenEPaperLink tag. Choose T01's tag, then turn it on."
        ),
        "initial_state": False,
        "use_blueprint": {
            "path": _BLUEPRINTS.format("push_e_label"),
            "input": {"label": "image.t01_e_label", "tag": "open_epaper_link.t01_tag"},
        },
    },
}


def add_automations(api: Api) -> str:
    """Make the demo's automations that are not there yet; return what happened."""
    made = []
    for automation_id, config in DEMO_AUTOMATIONS.items():
        path = f"/api/config/automation/config/{automation_id}"
        if api.call("GET", path)[0] == 200:
            continue  # made on an earlier run (and maybe changed by staff since)
        api.expect("POST", path, config)
        made.append(automation_id.removeprefix("ntnu_library_"))
    if not made:
        return "automations from the blueprints already made"
    return f"automations made from the blueprints: {', '.join(made)}"


def room_page(api: Api, room: str = "T01") -> str:
    """The signed room page address the room's e-label carries (its QR code)."""
    status, state = api.call("GET", f"/api/states/image.{room.lower()}_e_label")
    if status != 200 or not isinstance(state, dict):
        return f"(not available: image.{room.lower()}_e_label answered HTTP {status})"
    return str(state.get("attributes", {}).get("room_page") or "(no address)")


def print_summary(api: Api, demo_dir: str = ".demo", sites: int = 1) -> None:
    """How to use the demo."""
    base = api.base
    lines = [
        "",
        "=" * 80,
        f" NTNU Library demo is running: {base}",
        f"   Home Assistant login   {USERNAME} / {PASSWORD}  (owner, administrator)",
        f"   Dashboards             {base}/ntnu-staff   {base}/ntnu-status",
        f"   Room page (T01's QR)   {room_page(api)}",
        f"   Status panel (public)  {base}/ntnu_library/status",
        "   Patron actions         the room page, or websocket ntnu_library/patron_action",
        "   Staff services         ntnu_library.borrow / counter_return / add_patron / simulate …",
        "   Automations            one from each blueprint (Settings → Automations & scenes)",
        "   Rooms                  temporary T01-T12, long-term L01-L06",
        *(
            [f"   {BRANCH:<22} temporary T01-T06, the same library (config_entry_id picks a site)"]
            if sites > 1
            else []
        ),
        "   Demo patrons           password ntnu-demo, card C-<id>",
        *(f"      {pid}  {what}" for pid, what in DEMO_PATRONS),
    ]
    lines += [
        " Settings → System → Restart restarts Home Assistant; Ctrl-C stops the demo.",
        f" The configuration stays in {demo_dir}/ (scripts/demo --reset starts afresh).",
        "=" * 80,
    ]
    print("\n".join(lines), flush=True)


def check_port(port: int) -> None:
    """Fail if something already listens on the port (Home Assistant would start without HTTP)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1)
        if sock.connect_ex(("127.0.0.1", port)) == 0:
            raise DemoError(f"port {port} is already in use; pick another with --port N")


def main() -> int:
    """Run the steps; print one clear line on failure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument(
        "--pid", type=int, help="Home Assistant's process, to stop waiting if it dies"
    )
    parser.add_argument("--timeout", type=float, default=120, help="seconds for each wait")
    parser.add_argument("--check-port", action="store_true", help="only check the port is free")
    parser.add_argument("--patrons", choices=("local", "sip2"), default="local")
    parser.add_argument("--ils-port", type=int, default=6001, help="the demo ILS (SIP2)")
    parser.add_argument("--demo-dir", default=".demo", help="where the demo's state is, as shown")
    parser.add_argument("--sites", type=int, choices=(1, 2), default=1, help="buildings")
    args = parser.parse_args()
    api = Api(args.port)
    try:
        if args.check_port:
            check_port(args.port)
            return 0
        started = time.monotonic()
        wait_for_http(api, args.pid, args.timeout)
        log_in(api, USERNAME, PASSWORD)
        check_api(api, args.timeout)
        print(
            f"demo: API answers {time.monotonic() - started:.1f} s after start;"
            f" logged in as {USERNAME}, token works",
            flush=True,
        )
        wait_until_running(api, args.pid, args.timeout)
        site = add_sites(api, args.patrons, args.ils_port, args.sites)
        print(f"demo: {site}", flush=True)
        wait_until_loaded(api, args.timeout)
        print(f"demo: {add_automations(api)}", flush=True)
        print_summary(api, args.demo_dir, args.sites)
    except DemoError as err:
        print(f"demo: FAILED: {err}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
