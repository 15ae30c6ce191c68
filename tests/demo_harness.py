"""Run the real scripts/demo from a test: a process group, its Home Assistant and a client.

Used by the tests that need Home Assistant as a user meets it (its own process, the recorder,
the web server on a real port): the restart test and the browser tests. Nothing is installed:
scripts/demo runs on the existing .venv with ``NTNU_VENV_REUSE_ONLY=1``.
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
PATRON_PASSWORD = "ntnu-demo"  # every demo patron's

FIRST_START_TIMEOUT = 120.0  # a fresh demo: owner, Home Assistant start, site set-up
STOP_TIMEOUT = 60.0
POLL = 0.2


def in_ci() -> bool:
    """CI sets CI=true: there nothing may be skipped for want of a set-up."""
    return os.environ.get("CI", "") not in {"", "0", "false", "False"}


def venv_env() -> dict[str, str]:
    """scripts/demo's environment: the existing .venv only, never a build."""
    return os.environ | {
        "NTNU_VENV_REUSE_ONLY": "1",
        # The interpreter .venv was made from (same version string, so the same hash).
        "NTNU_LIBRARY_PYTHON": str(VENV / "bin" / "python"),
    }


def venv_problem() -> str | None:
    """Why scripts/demo could not run on .venv as it is, or None."""
    if not (VENV / ".requirements.sha256").is_file() or not os.access(
        VENV / "bin" / "python", os.X_OK
    ):
        return f"{VENV} is missing or not built (scripts/test or scripts/demo builds it)"
    check = subprocess.run(
        ["bash", "-c", "source scripts/lib/venv.sh"],
        cwd=REPO,
        env=venv_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if check.returncode != 0:
        return f".venv cannot be reused as it is: {check.stderr.strip()}"
    return None


def require_demo(request: pytest.FixtureRequest) -> None:
    """Skip (fail in CI) where scripts/demo cannot run: it runs on .venv, the pinned HA."""
    if request.config.pluginmanager.hasplugin("tests.ha_current_plugin"):
        pytest.skip(
            "scripts/demo runs on .venv (the pinned Home Assistant): the first run tests it"
        )
    if problem := venv_problem():
        if in_ci():
            pytest.fail(f"CI builds .venv before the tests (scripts/test), yet: {problem}")
        pytest.skip(problem)


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def group_members(pgid: int) -> dict[int, str]:
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


def hass_pids(pgid: int, config_dir: Path) -> set[int]:
    """The demo's Home Assistant process(es): `hass --config <config_dir>`."""
    return {
        pid
        for pid, cmdline in group_members(pgid).items()
        if "--config" in cmdline and str(config_dir) in cmdline
    }


class Demo:
    """A scripts/demo process and the Home Assistant it runs."""

    def __init__(self, process: subprocess.Popen[bytes], port: int, log: Path) -> None:
        self.process = process
        self.port = port
        self.api = demo_bootstrap.Api(port)
        self.base = self.api.base
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

    def state(self, entity_id: str) -> dict[str, Any]:
        status, state = self.call("GET", f"/api/states/{entity_id}")
        assert status == 200, (entity_id, state)
        return dict(state)

    def wait_until_running(self, started: float) -> None:
        """The API answers, the admin is logged in and the demo printed its banner."""
        deadline = started + FIRST_START_TIMEOUT
        self.wait("waiting for the HTTP API", deadline, lambda: self.answers("/auth/providers"))
        self.log_in(*ADMIN)
        self.wait(
            "waiting for the demo's banner",
            deadline,
            lambda: "demo is running" in self.log.read_text(errors="replace"),
        )

    def stop(self) -> None:
        """Ctrl-C: the demo stops Home Assistant and waits for it; nothing may be left."""
        os.kill(self.process.pid, signal.SIGINT)
        try:
            returncode = self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.fail(f"scripts/demo still runs {STOP_TIMEOUT:.0f} s after SIGINT")
        assert returncode == 0, self.log_tail()
        assert not group_members(self.process.pid), self.log_tail()


def _default_sigint() -> None:
    """In the child: Ctrl-C as in a terminal, even if the test runner ignores SIGINT.

    (A shell cannot trap a signal that was ignored when it started, and children of a
    background job start with SIGINT ignored.)
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@contextlib.contextmanager
def running_demo(tmp_path: Path, *args: str) -> Iterator[Demo]:
    """scripts/demo in a fresh NTNU_DEMO_DIR on a free port.

    Whatever happens, nothing of its process group outlives the block.
    """
    demo_dir = tmp_path / "demo"
    port = free_port()
    log = tmp_path / "demo.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(DEMO), "--port", str(port), "--reset", *args],
            cwd=REPO,
            env=venv_env() | {"NTNU_DEMO_DIR": str(demo_dir)},
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, to find and end every process
            preexec_fn=_default_sigint,  # noqa: PLW1509 - nothing runs in threads here
        )
    try:
        yield Demo(process, port, log)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)
