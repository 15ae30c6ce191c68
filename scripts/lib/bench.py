"""Benchmark of the ntnu_library integration in a real Home Assistant (run by `scripts/bench`).

Each part runs real Home Assistant instances (pytest-homeassistant-custom-component's
`async_test_home_assistant`, custom integrations enabled, time zone Asia/Taipei, a temporary
config directory so the site's Stores really write to disk) on the simulated Zigbee network,
whose devices parse and answer real ZCL frames.

The demo site (18 rooms, 54 devices; scripts/lib/bench_demo.py):
  setup_s                      async_setup of the entry (Store load, demo seeding, 54 devices
                               through zigpy's interview and configuration, platforms)
  borrow_ms_p50 / _p95         a patron's own borrow, as `ntnu_library/patron_action` runs it
                               (bcrypt at cost `bcrypt_rounds` = 12, decision, Store write,
                               unlock_door ZCL round trip); each borrow is followed by a return
  card_tap_to_unlock_ms_*      one tap at a time by the holder -> the lock got unlock_door
  tap_to_unlock_ms_p50 / _p99  taps at `tap_rate` (100/s) spread over the 12 borrowed rooms,
                               open loop: the lock sends the tap's frame -> the lock receives
                               unlock_door (scripts/lib/bench_taps.py, the same code as the peer)
  taps_per_s_max               the highest sustained tap rate, every tap answered within 1 s
  unlocks_per_s                closed loop, every room taps again once unlocked
  frames_per_s                 occupancy reports through zigpy -> rooms -> runtime -> entities
  ha_state_changes_per_s       Home Assistant's own `states.async_set` rate, same instance
  pipeline_vs_ha_ratio         room events a second through the whole pipeline (frame -> room
                               event -> entity states, `frames_per_s`) / ha_state_changes_per_s
  lost_answer_stall_s          how long a room's next tap waits after one lost unlock answer
                               (the worst of: the lock reports its bolt / it does not)
  login_refusal_ms_*           a refused borrow for an unknown ID and for a wrong password

The peer (scripts/lib/bench_peer.py): Home Assistant's own ZHA on the same simulated network
with an automation on `zha_event` that calls `lock.unlock`; `peer_tap_to_unlock_ms_p50/_p99`,
`peer_taps_per_s_max`, and `tap_latency_vs_peer` (ours / peer's p50), `taps_per_s_vs_peer`
(ours / peer's max).

A library's scale (scripts/lib/bench_scale.py, a process per size): `setup_s_N`,
`setup_failures_N`, `tap_to_event_ms_p50_N`, `restart_setup_s_1000`, `kb_per_room`,
`kb_per_room_own`, `status_json_req_per_s`, `tap_to_event_growth` (1,000 rooms / 10 rooms).

Outside Home Assistant: `core_decisions_per_s` (pure core borrow+return cycles a second) and
`sip2_login_ms_p50/_p95` (SIP2 login round trips against the demo ILS on loopback).

Modes: `--quick` (fewer iterations, sizes 10 and 100 only: the others are null), `--flood`
(a patron's borrow under login floods, scripts/lib/bench_flood.py), `--day` (a library day
at 1,000 rooms, scripts/lib/bench_day.py). A short table goes to stdout first; the last line
of stdout is one JSON object. Logging goes to stderr. Exit 0 on success, 1 when a measurement
could not be made.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Iterator
import contextlib
from dataclasses import dataclass
from datetime import datetime
import importlib.metadata
import json
import logging
import os
from pathlib import Path
import platform
import secrets
import sys
import tempfile
import threading
import time
import traceback
from typing import Any
from zoneinfo import ZoneInfo

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))  # `custom_components` is a namespace package here

import bcrypt  # noqa: E402
from bench_site import TIME_ZONE, Results  # noqa: E402 (scripts/lib is on sys.path)
from bench_stats import rounded  # noqa: E402

REAL_BCRYPT_COST = 12  # auth/local.py DEFAULT_ROUNDS and bcrypt.gensalt()'s default
_LOGGER = logging.getLogger("ntnu_library.bench")


@dataclass
class Scale:
    """How much work each measurement does (bounded: the whole bench stays under a minute)."""

    borrow_cycles: int = 10
    taps: int = 40
    throughput_seconds: float = 3.0
    throughput_max_taps_per_room: int = 200
    frame_seconds: float = 3.0
    # zigpy drops a frame identical to one the same device sent in the last 10 s, and an
    # occupancy report differs only by its 8-bit sequence numbers: from the 256th report on
    # they would repeat and vanish. One round is one report per sensor.
    frame_max_rounds: int = 240
    refusals: int = 8
    core_seconds: float = 1.0
    core_max_cycles: int = 200_000
    sip2_rounds: int = 500
    flood_samples: int = 30  # --flood: the real patron's borrows per scenario
    tap_rate: float = 100.0  # taps a second for tap_to_unlock_ms_p50/_p99
    tap_seconds: float = 6.0
    # The peer (scripts/lib/bench_peer.py; its module lists the rest of its knobs).
    peer_latency_seconds: float = 6.0
    peer_rounds: int = 3
    peer_max_seconds: float = 3.0
    lost_answer_samples: int = 3
    ha_state_seconds: float = 1.0
    # A library's scale, a process per size (scripts/lib/bench_scale.py).
    sizes: tuple[int, ...] = (10, 100, 1000, 2000)
    status_at: int | None = 1000
    own_memory_at: int | None = 1000

    @classmethod
    def quick(cls) -> Scale:
        """A smoke run: every measurement, fewer iterations."""
        return cls(
            borrow_cycles=3,
            taps=10,
            throughput_seconds=1.0,
            frame_seconds=1.0,
            refusals=3,
            core_seconds=0.3,
            sip2_rounds=50,
            flood_samples=5,
            tap_seconds=1.0,
            peer_latency_seconds=1.0,
            peer_rounds=1,
            peer_max_seconds=1.0,
            lost_answer_samples=1,
            ha_state_seconds=0.3,
            sizes=(10, 100),
            status_at=100,
            own_memory_at=100,
        )


# --- bcrypt at its real cost ----------------------------------------------------------------

_BCRYPT_B64 = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def _real_gensalt(rounds: int = REAL_BCRYPT_COST, prefix: bytes = b"2b") -> bytes:
    """A bcrypt salt honouring `rounds`, built without bcrypt.gensalt (which may be patched)."""
    if not 4 <= rounds <= 31:
        raise ValueError("Invalid rounds")
    # 22 characters of bcrypt base64; the last one carries only 2 bits: . O e u.
    body = "".join(secrets.choice(_BCRYPT_B64) for _ in range(21)) + secrets.choice(".Oeu")
    return b"$" + prefix + b"$" + f"{rounds:02d}".encode() + b"$" + body.encode()


@contextlib.contextmanager
def real_bcrypt_cost() -> Iterator[bool]:
    """Make sure bcrypt.gensalt() gives the real default cost; yields whether it was patched.

    Home Assistant's pytest plugin swaps bcrypt.gensalt for one that always returns cost 4
    (the session fixture `bcrypt_cost`). Nothing here runs that fixture, but a plugin or a
    sitecustomize could: check what gensalt really returns and put a faithful one in place.
    """
    original = bcrypt.gensalt
    patched = not (
        original(rounds=REAL_BCRYPT_COST).startswith(b"$2b$12$")
        and original().startswith(f"$2b${REAL_BCRYPT_COST:02d}$".encode())
    )
    if patched:
        _LOGGER.warning("bcrypt.gensalt is patched (%r); using the real cost", original)
        bcrypt.gensalt = _real_gensalt
    try:
        yield patched
    finally:
        bcrypt.gensalt = original


def core_decisions(scale: Scale, results: Results) -> None:
    """Pure domain: borrow + return on one room while the 11 others stay borrowed."""
    from custom_components.ntnu_library.core.model import Patron
    from custom_components.ntnu_library.core.policy import Policy
    from custom_components.ntnu_library.core.study_rooms import StudyRooms
    from custom_components.ntnu_library.demo import DEMO_ROOMS

    policy = Policy(counter_opens="00:00", counter_closes="00:00", return_at_closing=False)
    library = StudyRooms(DEMO_ROOMS, policy)
    now = datetime(2025, 3, 12, 14, 0, tzinfo=ZoneInfo(TIME_ZONE))
    temporary = [room.room_id for room in DEMO_ROOMS if room.room_id.startswith("T")]
    patrons = [
        Patron(patron_id=f"B{n:04d}", name=f"Bench {n}", category="student_undergraduate")
        for n in range(len(temporary))
    ]
    for room_id, patron in zip(temporary[1:], patrons[1:], strict=True):
        library.borrow(room_id, patron, now, lock_online=True)
    room_id, patron = temporary[0], patrons[0]
    borrow, give_back = library.borrow, library.return_room
    cycles = 0
    started = time.perf_counter()
    deadline = started + scale.core_seconds
    while cycles < scale.core_max_cycles:
        for _ in range(500):
            borrow(room_id, patron, now, lock_online=True)
            give_back(room_id, patron, now)
        cycles += 500
        if time.perf_counter() >= deadline:
            break
    elapsed = time.perf_counter() - started
    per_s = cycles / elapsed
    results.values["core_decisions_per_s"] = round(per_s, 1)
    results.row(
        "core borrow+return cycles",
        f"{per_s:,.0f} /s",
        f"{cycles} cycles, {1e6 / per_s:.1f} us each (2 decisions), no Home Assistant",
    )


# --- running it ------------------------------------------------------------------------------


def versions() -> dict[str, str]:
    """What the numbers were measured with."""
    from homeassistant.const import __version__ as ha_version

    return {
        "ha_version": ha_version,
        "zigpy_version": importlib.metadata.version("zigpy"),
        "python": platform.python_version(),
    }


def sip2_logins(scale: Scale, results: Results) -> None:
    """SIP2 login round trips against the real demo ILS on loopback."""
    from ils import bench as ils_bench  # scripts/lib is on sys.path when run as a script

    timings = asyncio.run(ils_bench(scale.sip2_rounds))
    results.values["sip2_login_ms_p50"] = timings["sip2_login_ms_p50"]
    results.values["sip2_login_ms_p95"] = timings["sip2_login_ms_p95"]
    results.row(
        "SIP2 login round trip p50 / p95",
        f"{timings['sip2_login_ms_p50']} / {timings['sip2_login_ms_p95']} ms",
        "63/64 with password, loopback",
    )


KEYS = (
    "setup_s",
    "borrow_ms_p50",
    "borrow_ms_p95",
    "bcrypt_rounds",
    "card_tap_to_unlock_ms_p50",
    "card_tap_to_unlock_ms_p95",
    "tap_to_unlock_ms_p50",
    "tap_to_unlock_ms_p99",
    "taps_per_s_max",
    "peer_tap_to_unlock_ms_p50",
    "peer_tap_to_unlock_ms_p99",
    "peer_taps_per_s_max",
    "tap_latency_vs_peer",
    "taps_per_s_vs_peer",
    "unlocks_per_s",
    "frames_per_s",
    "ha_state_changes_per_s",
    "pipeline_vs_ha_ratio",
    "lost_answer_stall_s",
    "setup_s_10",
    "setup_s_100",
    "setup_s_1000",
    "setup_s_2000",
    "restart_setup_s_1000",
    "setup_failures",
    "kb_per_room",
    "kb_per_room_own",
    "tap_to_event_ms_p50_10",
    "tap_to_event_ms_p50_1000",
    "tap_to_event_growth",
    "status_json_req_per_s",
    "login_refusal_ms_unknown_id",
    "login_refusal_ms_wrong_password",
    "core_decisions_per_s",
    "sip2_login_ms_p50",
    "sip2_login_ms_p95",
    "scale_curve",
    "ha_version",
    "zigpy_version",
    "python",
)
# Not measured by --quick (its sizes are 10 and 100): null in its JSON object.
QUICK_NULL = (
    "setup_s_1000",
    "setup_s_2000",
    "restart_setup_s_1000",
    "tap_to_event_ms_p50_1000",
    "tap_to_event_growth",
)
FLOOD_KEYS = (
    "mode",
    "idle",
    "addresses_300",
    "addresses_300_known_browser",
    "shared_address",
    "shared_address_known_browser",
    "one_account",
    "one_account_known_browser",
    "samples",
    "setup_s",
    "bcrypt_rounds",
    "ha_version",
    "zigpy_version",
    "python",
)
DAY_KEYS = (
    "mode",
    "day_events",
    "day_lost",
    "day_doors_left_unlocked",
    "day_wall_s",
    "ha_version",
    "zigpy_version",
    "python",
)


def ratios(values: dict[str, object]) -> None:
    """The figures made of others: ours against the peer's, and 1,000 rooms against 10."""

    def ratio(top: str, bottom: str) -> float | None:
        a, b = values.get(top), values.get(bottom)
        if not isinstance(a, int | float) or not isinstance(b, int | float) or not b:
            return None
        return rounded(a / b, 3)

    values["tap_latency_vs_peer"] = ratio("tap_to_unlock_ms_p50", "peer_tap_to_unlock_ms_p50")
    values["taps_per_s_vs_peer"] = ratio("taps_per_s_max", "peer_taps_per_s_max")
    values["tap_to_event_growth"] = ratio("tap_to_event_ms_p50_1000", "tap_to_event_ms_p50_10")
    failures = [v for k, v in values.items() if k.startswith("setup_failures_")]
    failures += [v for k, v in values.items() if k.startswith("restart_setup_failures_")]
    values["setup_failures"] = sum(int(v) for v in failures if isinstance(v, int | float))
    sizes = sorted(int(k.rsplit("_", 1)[1]) for k in values if k.startswith("setup_s_"))
    values["scale_curve"] = {  # for scripts/lib/bench_plot.py
        "rooms": sizes,
        "setup_s": [values.get(f"setup_s_{n}") for n in sizes],
        "restart_setup_s": [values.get(f"restart_setup_s_{n}") for n in sizes],
        "kb_per_room": [values.get(f"kb_per_room_{n}") for n in sizes],
    }
    if "kb_per_room_1000" in values:
        values["kb_per_room"] = values["kb_per_room_1000"]
    elif "kb_per_room_100" in values:
        values["kb_per_room"] = values["kb_per_room_100"]


def print_table(results: Results, total_s: float) -> None:
    """The human-readable part of the output."""
    width = max(len(what) for what, _, _ in results.rows)
    value_width = max(len(value) for _, value, _ in results.rows)
    print(f"ntnu_library bench ({os.cpu_count()} CPUs, {total_s:.1f} s)")
    for what, value, note in results.rows:
        print(f"  {what:<{width}}  {value:>{value_width}}  {note}".rstrip())


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="scripts/bench",
        description="Benchmark the integration in a real Home Assistant; the last line of "
        "output is one JSON object.",
    )
    parser.add_argument(
        "--quick", action="store_true", help="fewer iterations, 10 and 100 rooms (under a minute)"
    )
    parser.add_argument(
        "--debug", action="store_true", help="log at DEBUG level to stderr (slows everything)"
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--flood",
        action="store_true",
        help="only a patron's borrow latency under login floods (scripts/lib/bench_flood.py)",
    )
    mode.add_argument(
        "--day",
        action="store_true",
        help="a library day at 1,000 rooms with a restart and a radio loss (bench_day.py)",
    )
    return parser.parse_args(argv)


async def _run_all(args: argparse.Namespace, scale: Scale, results: Results, folder: str) -> None:
    """Every Home Assistant part of the chosen mode, one instance after another."""
    from bench_demo import bench_demo_site

    if args.flood:
        await bench_demo_site(scale, results, f"{folder}/demo", flood=True)
        results.values["mode"] = "flood"
        return
    if args.day:
        from bench_day import measure_day

        rooms = 50 if args.quick else 1000
        await measure_day(f"{folder}/day", scale, results, rooms=rooms)
        results.values["mode"] = "day"
        return
    from bench_peer import measure_peer
    from bench_pipeline import measure_pipeline

    async def pipeline(hass: Any, entry: Any) -> None:
        await measure_pipeline(hass, entry, scale, results)

    await bench_demo_site(scale, results, f"{folder}/demo", extra=pipeline)
    await measure_peer(f"{folder}/peer", scale, results)


def main(argv: list[str] | None = None) -> int:
    """Run every measurement of the mode; print the table, then the JSON object last."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING,
        stream=sys.stderr,
        format="%(levelname)s %(name)s: %(message)s",
    )
    # Two start-up warnings that say nothing about the bench.
    logging.getLogger("aiohttp_fast_zlib").setLevel(logging.ERROR)
    logging.getLogger("homeassistant.loader").addFilter(
        lambda record: not str(record.msg).startswith("We found a custom integration")
    )
    scale = Scale.quick() if args.quick else Scale()
    results = Results()
    started = time.perf_counter()

    from homeassistant import runner

    try:
        with (
            real_bcrypt_cost() as patched,
            tempfile.TemporaryDirectory(prefix="ntnu-bench-") as folder,
            asyncio.Runner(loop_factory=runner.HassEventLoopPolicy(False).new_event_loop) as run,
        ):
            if patched:
                results.row("bcrypt.gensalt", "patched", "replaced by one honouring the cost")
            for part in ("demo", "peer", "day"):
                os.makedirs(f"{folder}/{part}")
            # A bound on a run that hangs, in the loop's time: the day moves the loop's clock
            # a minute per step, so it has none.
            budget = None if args.day else 600 if args.quick else 3600
            run.run(asyncio.wait_for(_run_all(args, scale, results, folder), budget))
        if not (args.flood or args.day):
            from bench_scale import measure_scale

            measure_scale(
                scale.sizes,
                results,
                status_at=scale.status_at,
                own_memory_at=scale.own_memory_at,
            )
            core_decisions(scale, results)
            sip2_logins(scale, results)
    except Exception:  # noqa: BLE001 - say what failed, then fail
        traceback.print_exc()
        print("scripts/bench: FAILED", file=sys.stderr)
        return 1

    lingering = [t.name for t in threading.enumerate() if t is not threading.main_thread()]
    if lingering:
        _LOGGER.warning("threads still running after the bench: %s", ", ".join(lingering))
    values = results.values | versions()
    keys = FLOOD_KEYS if args.flood else DAY_KEYS if args.day else KEYS
    if keys is KEYS:
        ratios(values)
        if args.quick:
            for key in QUICK_NULL:
                values.setdefault(key, None)
    missing = [key for key in keys if key not in values]
    if missing:
        print(f"scripts/bench: FAILED: no value for {', '.join(missing)}", file=sys.stderr)
        return 1
    print_table(results, time.perf_counter() - started)
    sys.stderr.flush()
    print(json.dumps({key: values[key] for key in keys}, ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
