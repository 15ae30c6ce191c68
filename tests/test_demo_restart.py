"""scripts/demo starts Home Assistant again when it asks to be restarted (exit code 100).

Settings → System → Restart calls ``homeassistant.restart``: Home Assistant stops with exit
code 100 and expects whatever supervises it to start it again, as its container and OS do.
This test runs the real ``scripts/demo`` (on the repository's ``.venv``, in a temporary
``NTNU_DEMO_DIR``, on a free loopback port), borrows a room over the REST API, restarts Home
Assistant through the same API and checks that the same scripts/demo process brought it back
with the loan kept; then stops the demo with SIGINT (Ctrl-C) and checks nothing is left over.

No Home Assistant runs in the test's own process (no ``hass`` fixture) and nothing is
installed: scripts/demo runs with ``NTNU_VENV_REUSE_ONLY=1``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
import contextlib
import os
from pathlib import Path
import signal
import socket
import subprocess
import time
from typing import Any

import demo_bootstrap  # scripts/lib, on the path through tests/conftest.py
import pytest

REPO = Path(__file__).resolve().parents[1]
VENV = REPO / ".venv"
DEMO = REPO / "scripts" / "demo"
DOMAIN = "ntnu_library"
ADMIN = ("admin", "ntnu-admin")  # the demo's documented owner login
ROOM = "T03"
PATRON = "S0001"

FIRST_START_TIMEOUT = 120.0  # a fresh demo: owner, Home Assistant start, site set-up
RESTART_TIMEOUT = 120.0  # Home Assistant's stop, then its start again
STOP_TIMEOUT = 60.0
POLL = 0.2


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations() -> None:
    """Replaces the conftest's: no Home Assistant in this process, the demo runs its own."""


def _in_ci() -> bool:
    return os.environ.get("CI", "") not in {"", "0", "false", "False"}


def _venv_env() -> dict[str, str]:
    """scripts/demo's environment: the existing .venv only, never a build."""
    return os.environ | {
        "NTNU_VENV_REUSE_ONLY": "1",
        # The interpreter .venv was made from (same version string, so the same hash).
        "NTNU_LIBRARY_PYTHON": str(VENV / "bin" / "python"),
    }


def _venv_problem() -> str | None:
    """Why scripts/demo could not run on .venv as it is, or None."""
    if not (VENV / ".requirements.sha256").is_file() or not os.access(
        VENV / "bin" / "python", os.X_OK
    ):
        return f"{VENV} is missing or not built (scripts/test or scripts/demo builds it)"
    check = subprocess.run(
        ["bash", "-c", "source scripts/lib/venv.sh"],
        cwd=REPO,
        env=_venv_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if check.returncode != 0:
        return f".venv cannot be reused as it is: {check.stderr.strip()}"
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _group_members(pgid: int) -> dict[int, str]:
    """Live (not zombie) processes of a process group: pid -> command line."""
    members: dict[int, str] = {}
    if Path("/proc/self/stat").exists():
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            # pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses.
            state, _ppid, pgrp = stat[stat.rindex(")") + 2 :].split()[:3]
            if int(pgrp) == pgid and state not in {"Z", "X"}:
                members[int(entry.name)] = cmdline.replace(b"\0", b" ").decode(errors="replace")
        return members
    listing = subprocess.run(
        ["ps", "-A", "-o", "pid=,pgid=,stat=,args="],
        capture_output=True,
        text=True,
        check=True,
        timeout=10,
    ).stdout
    for line in listing.splitlines():
        pid, pgrp, state, *args = line.split(None, 3)
        if int(pgrp) == pgid and not state.startswith("Z"):
            members[int(pid)] = " ".join(args)
    return members


def _hass_pids(pgid: int, config_dir: Path) -> set[int]:
    """The demo's Home Assistant process(es): `hass --config <config_dir>`."""
    return {
        pid
        for pid, cmdline in _group_members(pgid).items()
        if "--config" in cmdline and str(config_dir) in cmdline
    }


class Demo:
    """A scripts/demo process and the Home Assistant it runs."""

    def __init__(self, process: subprocess.Popen[bytes], port: int, log: Path) -> None:
        self.process = process
        self.api = demo_bootstrap.Api(port)
        self.log = log

    def log_tail(self, lines: int = 60) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def fail(self, message: str) -> None:
        pytest.fail(f"{message}\n--- scripts/demo output (last lines) ---\n{self.log_tail()}")

    def wait(self, what: str, deadline: float, done: Callable[[], Any]) -> Any:
        """Poll done() until it returns something truthy, while scripts/demo runs.

        deadline is a time.monotonic() value.
        """
        while True:
            if self.process.poll() is not None:
                self.fail(f"scripts/demo exited ({self.process.returncode}) while {what}")
            if result := done():
                return result
            if time.monotonic() > deadline:
                self.fail(f"gave up {what}")
            time.sleep(POLL)

    def call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        form: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        """One request; (HTTP status, decoded JSON). Raises OSError when nothing answers."""
        return self.api.call(method, path, body, form=form, timeout=15)

    def answers(self, path: str) -> bool:
        """The HTTP API answers path with 200."""
        try:
            return self.call("GET", path)[0] == 200
        except OSError:  # refused, reset or timed out: not (yet) listening
            return False

    def log_in(self, username: str, password: str) -> None:
        """Home Assistant's login flow, as the frontend runs it (the demo's own helper)."""
        demo_bootstrap.log_in(self.api, username, password)

    def states(self) -> list[dict[str, Any]]:
        try:
            status, states = self.call("GET", "/api/states")
        except OSError:
            return []
        return states if status == 200 else []


def borrow(demo: Demo, room: str, patron_id: str) -> dict[str, Any]:
    """Staff borrow a room for a patron at the counter; return the integration's answer.

    The staff `borrow` action over the REST API, as the demo's owner (an administrator): it
    takes the patron's ID only, no password.
    """
    status, answer = demo.call(
        "POST",
        f"/api/services/{DOMAIN}/borrow?return_response",
        {"room": room, "patron_id": patron_id},
    )
    assert status == 200, answer
    return dict(answer["service_response"])


def _status_sensor(states: list[dict[str, Any]], room: str) -> dict[str, Any] | None:
    """The room's status sensor: an enum sensor of the room's device that knows `in_use`."""
    found = [
        state
        for state in states
        if state["entity_id"].startswith("sensor.")
        and state["attributes"].get("device_class") == "enum"
        and "in_use" in state["attributes"].get("options", ())
        and str(state["attributes"].get("friendly_name", "")).split(" ")[0] == room
    ]
    assert len(found) <= 1, found
    return found[0] if found else None


def _settled(state: dict[str, Any] | None) -> bool:
    """Set by the integration, not the registry's stand-in from before the entry loads."""
    return (
        state is not None
        and state["state"] not in {"unavailable", "unknown"}
        and not state["attributes"].get("restored")
    )


@contextlib.contextmanager
def _no_process_left(process: subprocess.Popen[bytes]) -> Iterator[None]:
    """Whatever happens, nothing of the demo's process group outlives the test."""
    try:
        yield
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)


def _default_sigint() -> None:
    """In the child: Ctrl-C as in a terminal, even if the test runner ignores SIGINT.

    (A shell cannot trap a signal that was ignored when it started, and children of a
    background job start with SIGINT ignored.)
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


# socket_enabled: Home Assistant's test plugin blocks sockets (here: the free-port probe).
@pytest.mark.usefixtures("socket_enabled")
@pytest.mark.timeout(FIRST_START_TIMEOUT + RESTART_TIMEOUT + STOP_TIMEOUT + 60)
def test_restart_from_home_assistant_keeps_the_demo_running(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if request.config.pluginmanager.hasplugin("tests.ha_current_plugin"):
        pytest.skip(
            "scripts/demo runs on .venv (the pinned Home Assistant): the first run tests it"
        )
    if problem := _venv_problem():
        if _in_ci():
            pytest.fail(f"CI builds .venv before the tests (scripts/test), yet: {problem}")
        pytest.skip(problem)

    demo_dir = tmp_path / "demo"
    config_dir = demo_dir / "config"
    port = _free_port()
    log = tmp_path / "demo.log"
    started = time.monotonic()
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(DEMO), "--port", str(port), "--reset"],
            cwd=REPO,
            env=_venv_env() | {"NTNU_DEMO_DIR": str(demo_dir)},
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, to find and end every process
            preexec_fn=_default_sigint,  # noqa: PLW1509 - nothing runs in threads here
        )
    demo = Demo(process, port, log)
    with _no_process_left(process):
        # 1. First start: the API answers, the site is set up, the demo says it is running.
        deadline = started + FIRST_START_TIMEOUT
        demo.wait("waiting for the HTTP API", deadline, lambda: demo.answers("/auth/providers"))
        demo.log_in(*ADMIN)
        sensor = demo.wait(
            f"waiting for {ROOM}'s status sensor",
            deadline,
            lambda: (s := _status_sensor(demo.states(), ROOM)) and _settled(s) and s,
        )
        # The set-up step (demo_bootstrap.py) is over once the demo prints its banner; a
        # restart before that would stop the set-up half-way.
        demo.wait(
            "waiting for the demo's banner",
            deadline,
            lambda: "demo is running" in log.read_text(errors="replace"),
        )
        entity_id = sensor["entity_id"]
        assert sensor["state"] == "idle"
        first_start = time.monotonic() - started

        # 2. Staff borrow the room for a patron.
        answer = borrow(demo, ROOM, PATRON)
        assert answer["status"] == "in_use", answer
        demo.wait(
            f"waiting for {entity_id} to show the loan",
            time.monotonic() + 10,
            lambda: demo.call("GET", f"/api/states/{entity_id}")[1].get("state") == "in_use",
        )

        # 3. Settings → System → Restart: Home Assistant exits with 100, the demo starts it again.
        (old_hass,) = _hass_pids(process.pid, config_dir)
        restart_asked = time.monotonic()
        deadline = restart_asked + RESTART_TIMEOUT
        with contextlib.suppress(OSError):  # Home Assistant may drop the call as it stops
            status, answer = demo.call("POST", "/api/services/homeassistant/restart", {})
            assert status == 200, answer
        demo.wait(
            "waiting for Home Assistant to stop for the restart",
            deadline,
            lambda: old_hass not in _group_members(process.pid),
        )
        (new_hass,) = demo.wait(
            "waiting for scripts/demo to start Home Assistant again",
            deadline,
            lambda: _hass_pids(process.pid, config_dir),
        )
        assert new_hass != old_hass
        demo.wait("waiting for the API after the restart", deadline, lambda: demo.answers("/api/"))
        after = demo.wait(
            f"waiting for {entity_id} after the restart",
            deadline,
            lambda: (s := _status_sensor(demo.states(), ROOM)) and _settled(s) and s,
        )
        restarted = time.monotonic() - restart_asked

        # 4. The same scripts/demo process runs on, and the loan is kept (so is the session).
        assert process.poll() is None
        assert after["entity_id"] == entity_id
        assert after["state"] == "in_use", after

        # 5. Ctrl-C ends the demo, and Home Assistant with it.
        stop_asked = time.monotonic()
        os.kill(process.pid, signal.SIGINT)
        try:
            returncode = process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            demo.fail(f"scripts/demo still runs {STOP_TIMEOUT:.0f} s after SIGINT")
        stopped = time.monotonic() - stop_asked
        assert returncode == 0, demo.log_tail()
        # scripts/demo waits for Home Assistant before it exits: nothing may be left.
        assert not _group_members(process.pid), demo.log_tail()

    timings = (
        f"first start {first_start:.1f} s, restart {restarted:.1f} s, stop {stopped:.1f} s,"
        f" total {time.monotonic() - started:.1f} s"
    )
    request.node.user_properties.append(("timings", timings))  # in --junitxml reports
