"""`scripts/bench --quick` runs and ends with one JSON object (no figure is asserted).

It runs on the existing .venv, as scripts/demo does in the browser tests; against the newest
Home Assistant (`scripts/test --ha current`) it is skipped, since the bench runs the pinned one.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from .demo_harness import REPO, require_demo, venv_env

# What the bench promises to print (a sample; scripts/lib/bench.py lists them all).
FIELDS = (
    "setup_s",
    "borrow_ms_p50",
    "tap_to_unlock_ms_p50",
    "tap_to_unlock_ms_p99",
    "taps_per_s_max",
    "peer_tap_to_unlock_ms_p50",
    "tap_latency_vs_peer",
    "taps_per_s_vs_peer",
    "ha_state_changes_per_s",
    "pipeline_vs_ha_ratio",
    "setup_s_10",
    "setup_s_100",
    "setup_s_1000",
    "setup_failures",
    "kb_per_room",
    "kb_per_room_own",
    "status_json_req_per_s",
    "lost_answer_stall_s",
    "core_decisions_per_s",
    "sip2_login_ms_p50",
)


@pytest.mark.timeout(600)
def test_quick_bench_prints_one_json_object_last(request: pytest.FixtureRequest) -> None:
    require_demo(request)
    done = subprocess.run(
        ["scripts/bench", "--quick"],
        cwd=REPO,
        env=venv_env(),
        capture_output=True,
        text=True,
        timeout=590,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    assert lines[0].startswith("ntnu_library bench")  # the table comes first
    figures = json.loads(lines[-1])
    assert isinstance(figures, dict)
    for field in FIELDS:
        assert field in figures, field
    assert figures["bcrypt_rounds"] == 12
    assert figures["setup_failures"] == 0
    assert figures["setup_s_1000"] is None  # --quick stops at 100 rooms
    assert isinstance(figures["setup_s_100"], float)
