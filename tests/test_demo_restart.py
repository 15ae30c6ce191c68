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

import contextlib
from pathlib import Path
import time
from typing import Any

import pytest

from .demo_harness import (
    ADMIN,
    DOMAIN,
    FIRST_START_TIMEOUT,
    STOP_TIMEOUT,
    Demo,
    group_members,
    hass_pids,
    require_demo,
    running_demo,
)

ROOM = "T03"
PATRON = "S0001"
RESTART_TIMEOUT = 120.0  # Home Assistant's stop, then its start again


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations() -> None:
    """Replaces the conftest's: no Home Assistant in this process, the demo runs its own."""


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


# socket_enabled: Home Assistant's test plugin blocks sockets (here: the free-port probe).
@pytest.mark.usefixtures("socket_enabled")
@pytest.mark.timeout(FIRST_START_TIMEOUT + RESTART_TIMEOUT + STOP_TIMEOUT + 60)
def test_restart_from_home_assistant_keeps_the_demo_running(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    require_demo(request)
    config_dir = tmp_path / "demo" / "config"
    started = time.monotonic()
    with running_demo(tmp_path) as demo:
        process, log = demo.process, demo.log
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
        (old_hass,) = hass_pids(process.pid, config_dir)
        restart_asked = time.monotonic()
        deadline = restart_asked + RESTART_TIMEOUT
        with contextlib.suppress(OSError):  # Home Assistant may drop the call as it stops
            status, answer = demo.call("POST", "/api/services/homeassistant/restart", {})
            assert status == 200, answer
        demo.wait(
            "waiting for Home Assistant to stop for the restart",
            deadline,
            lambda: old_hass not in group_members(process.pid),
        )
        (new_hass,) = demo.wait(
            "waiting for scripts/demo to start Home Assistant again",
            deadline,
            lambda: hass_pids(process.pid, config_dir),
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
        # scripts/demo waits for Home Assistant before it exits: nothing may be left.
        stop_asked = time.monotonic()
        demo.stop()
        stopped = time.monotonic() - stop_asked

    timings = (
        f"first start {first_start:.1f} s, restart {restarted:.1f} s, stop {stopped:.1f} s,"
        f" total {time.monotonic() - started:.1f} s"
    )
    request.node.user_properties.append(("timings", timings))  # in --junitxml reports
