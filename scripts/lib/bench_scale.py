"""The bench at a library's scale: one site of N rooms, each size in a process of its own.

`measure_scale(sizes, results, ...)` runs this file once per size (a fresh Python process,
so memory is measured from a clean start and one size cannot slow the next) and collects:

  setup_s_N             entry set-up until every entity exists and every device is configured
                        (the simulated network joins, interviews and configures 3 devices a
                        room; Home Assistant has settled), first start
  restart_setup_s_N     the same after a restart of Home Assistant (a new instance on the same
                        config directory): devices known and configured before are only read
  setup_failures_N      devices not configured plus entities unavailable after set-up
  kb_per_room           process RSS after set-up minus before, per room (first start)
  kb_per_room_own       tracemalloc: what the integration's own modules allocated and still
                        hold after set-up, per room, without the simulated devices' modules
                        (a separate process: tracing slows everything)
  tap_to_event_ms_p50_N a holder's card tap (the simulated lock sends its ZCL frame) until
                        the room's `ntnu_library_event` is on the bus, rooms spread over the site
  status_json_req_per_s the public status JSON, concurrent clients on loopback (a client
                        process of its own: scripts/lib/bench_http_load.py)

Run by scripts/lib/bench.py; by hand: `python scripts/lib/bench_scale.py --rooms 100`.
Its last line of output is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import logging
import os
from pathlib import Path
import socket
import subprocess
import sys
import tempfile
import time
import tracemalloc
from typing import Any

from bench_site import Results, async_setup_site, async_warm_up, bench_hass, make_rooms, site_entry
from bench_stats import percentile

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))  # `custom_components` is a namespace package here

STATUS_CLIENTS = 50
STATUS_SECONDS = 3.0
TAP_SAMPLES = 30


def rss_kb() -> int:
    """The process's resident set now, in KB (Linux)."""
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def _own(filename: str) -> bool:
    return "ntnu_library" in filename and "simulated" not in filename


async def _start(config_dir: str, rooms: int, out: dict[str, Any], prefix: str) -> None:
    """One Home Assistant start with a site of `rooms` rooms; what it took goes into `out`."""
    async with bench_hass(config_dir) as hass:
        await async_warm_up(hass)
        gc.collect()
        before_kb = rss_kb()
        entry = site_entry(make_rooms(rooms), demo_data=False)
        started = time.perf_counter()
        await async_setup_site(hass, entry)
        await hass.async_block_till_done()
        out[f"{prefix}setup_s"] = round(time.perf_counter() - started, 3)
        gc.collect()
        if not prefix:
            out["kb_per_room"] = round((rss_kb() - before_kb) / rooms, 1)
        site = entry.runtime_data
        radio = site.radio
        devices = 3 * rooms
        unconfigured = devices - len(radio.configured)
        states = [s for s in hass.states.async_all() if s.entity_id.split(".")[1][:1] == "r"]
        unavailable = sum(1 for s in states if s.state == "unavailable")
        out[f"{prefix}setup_failures"] = unconfigured + unavailable
        out[f"{prefix}entities"] = len(hass.states.async_all())
        if not prefix:
            out["tap_to_event_ms_p50"] = await _tap_to_event(hass, entry, rooms)
        await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()


async def _tap_to_event(hass: Any, entry: Any, rooms: int) -> float | None:
    """A holder's tap (frame sent by the lock) until the room's event is on the bus, p50 ms."""
    from custom_components.ntnu_library.const import DOMAIN, EVENT_NAME

    site = entry.runtime_data
    step = max(1, rooms // 10)
    room_ids = [f"R{n:04d}" for n in range(1, rooms + 1, step)][:10]
    await _add_patrons(site, len(room_ids))
    for n, room_id in enumerate(room_ids):
        await hass.services.async_call(
            DOMAIN,
            "borrow",
            {"room": room_id, "patron_id": f"B{n:04d}"},
            blocking=True,
        )
    await hass.async_block_till_done()
    waiting: dict[str, asyncio.Future[float]] = {}

    def on_event(event: Any) -> None:
        future = waiting.get(event.data.get("room"))
        if event.data.get("type") == "card_tap" and future is not None and not future.done():
            future.set_result(time.perf_counter())

    samples: list[float] = []
    unsub = hass.bus.async_listen(EVENT_NAME, on_event)
    try:
        for sample in range(TAP_SAMPLES + 1):
            n = sample % len(room_ids)
            room_id = room_ids[n]
            await site.radio.async_simulate(room_id, "door_open")
            await site.radio.async_simulate(room_id, "door_close")
            await hass.async_block_till_done()
            waiting[room_id] = hass.loop.create_future()
            lock = site.radio.lock_model(room_id)
            started = time.perf_counter()
            lock.card_tap(f"C-B{n:04d}")
            async with asyncio.timeout(10):
                told = await waiting[room_id]
            if sample:
                samples.append((told - started) * 1000)
    finally:
        unsub()
    return round(percentile(samples, 50), 2)


async def _add_patrons(site: Any, count: int) -> None:
    """Patrons B0000... with cards C-B0000... in the local directory, as staff add them."""
    for n in range(count):
        await site.directory.async_add_patron(
            patron_id=f"B{n:04d}",
            name=f"Bench {n}",
            category="student_master",
            card=f"C-B{n:04d}",
        )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _status_load(config_dir: str, rooms: int, out: dict[str, Any]) -> None:
    """The public status JSON of a site of `rooms` rooms, many clients at once on loopback."""
    from aiohttp import web

    from custom_components.ntnu_library.web.context import STATUS_API_PATH

    async with bench_hass(config_dir) as hass:
        await async_warm_up(hass)
        entry = site_entry(make_rooms(rooms), demo_data=False)
        await async_setup_site(hass, entry)
        await hass.async_block_till_done()
        runner = web.AppRunner(hass.http.app, access_log=None)
        await runner.setup()
        port = _free_port()
        site = web.TCPSite(runner, "127.0.0.1", port)
        await site.start()
        try:
            load = await asyncio.create_subprocess_exec(
                sys.executable,
                str(HERE / "bench_http_load.py"),
                f"http://127.0.0.1:{port}{STATUS_API_PATH}",
                str(STATUS_CLIENTS),
                str(STATUS_SECONDS),
                stdout=subprocess.PIPE,
            )
            stdout, _ = await load.communicate()
            answer = json.loads(stdout.decode().strip().splitlines()[-1])
        finally:
            await runner.cleanup()
        out["status_json_req_per_s"] = answer["req_per_s"]
        out["status_json_ms_p95"] = answer["ms_p95"]
        out["status_json_errors"] = answer["errors"]
        await hass.config_entries.async_unload(entry.entry_id)


async def _own_memory(config_dir: str, rooms: int, out: dict[str, Any]) -> None:
    """What the integration's own modules hold after set-up, per room (tracemalloc)."""
    async with bench_hass(config_dir) as hass:
        await async_warm_up(hass)
        entry = site_entry(make_rooms(rooms), demo_data=False)
        gc.collect()
        tracemalloc.start(1)
        try:
            baseline = tracemalloc.take_snapshot()
            await async_setup_site(hass, entry)
            await hass.async_block_till_done()
            gc.collect()
            after = tracemalloc.take_snapshot()
        finally:
            tracemalloc.stop()
        grown = after.compare_to(baseline, "lineno")
        own = [stat for stat in grown if _own(stat.traceback[0].filename)]
        out["kb_per_room_own"] = round(sum(stat.size_diff for stat in own) / 1024 / rooms, 2)
        out["own_top"] = [
            [
                f"{Path(stat.traceback[0].filename).name}:{stat.traceback[0].lineno}",
                round(stat.size_diff / 1024 / rooms, 2),
            ]
            for stat in sorted(own, key=lambda stat: -stat.size_diff)[:5]
        ]
        await hass.config_entries.async_unload(entry.entry_id)


def child_main(argv: list[str]) -> int:
    """One size, in this process: print one JSON object."""
    parser = argparse.ArgumentParser(prog="bench_scale.py")
    parser.add_argument("--rooms", type=int, required=True)
    parser.add_argument("--restart", action="store_true")
    parser.add_argument("--status", action="store_true")
    parser.add_argument("--own-memory", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    logging.getLogger("homeassistant.loader").addFilter(
        lambda record: not str(record.msg).startswith("We found a custom integration")
    )
    logging.getLogger("aiohttp_fast_zlib").setLevel(logging.ERROR)
    from homeassistant import runner

    out: dict[str, Any] = {"rooms": args.rooms}
    with (
        tempfile.TemporaryDirectory(prefix="ntnu-bench-scale-") as config_dir,
        asyncio.Runner(loop_factory=runner.HassEventLoopPolicy(False).new_event_loop) as run,
    ):
        run.run(_start(config_dir, args.rooms, out, ""))
        if args.restart:
            run.run(_start(config_dir, args.rooms, out, "restart_"))
        if args.status:
            run.run(_status_load(config_dir, args.rooms, out))
    if args.own_memory:  # last, on a config directory of its own: tracing slows everything
        with (
            tempfile.TemporaryDirectory(prefix="ntnu-bench-scale-") as config_dir,
            asyncio.Runner(loop_factory=runner.HassEventLoopPolicy(False).new_event_loop) as run,
        ):
            run.run(_own_memory(config_dir, args.rooms, out))
    print(json.dumps(out), flush=True)
    return 0


def _run_child(*flags: str, timeout: float) -> dict[str, Any]:
    """Run this file with `flags`; its JSON object."""
    done = subprocess.run(
        [sys.executable, __file__, *flags],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        sys.stderr.write(done.stderr[-4000:])
        raise RuntimeError(f"bench_scale.py {' '.join(flags)} failed ({done.returncode})")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def measure_scale(
    sizes: list[int],
    results: Results,
    *,
    status_at: int | None,
    own_memory_at: int | None,
) -> None:
    """Every size in a process of its own; values named by size into `results`."""
    for rooms in sizes:
        flags = ["--rooms", str(rooms), "--restart"]
        if rooms == status_at:
            flags.append("--status")
        if rooms == own_memory_at:
            flags.append("--own-memory")
        got = _run_child(*flags, timeout=1200)
        results.values[f"setup_s_{rooms}"] = got["setup_s"]
        results.values[f"setup_failures_{rooms}"] = got["setup_failures"]
        results.values[f"tap_to_event_ms_p50_{rooms}"] = got["tap_to_event_ms_p50"]
        note = (
            f"{got['entities']} entities, {got['setup_failures']} failures; "
            f"tap -> event p50 {got['tap_to_event_ms_p50']} ms; {got['kb_per_room']} KB/room RSS"
        )
        results.row(f"set-up, {rooms:,} rooms", f"{got['setup_s']:.2f} s", note)
        results.values[f"kb_per_room_{rooms}"] = got["kb_per_room"]
        if "restart_setup_s" in got:
            results.values[f"restart_setup_s_{rooms}"] = got["restart_setup_s"]
            results.values[f"restart_setup_failures_{rooms}"] = got["restart_setup_failures"]
            results.row(
                f"  restart, {rooms:,} rooms",
                f"{got['restart_setup_s']:.2f} s",
                f"{got['restart_setup_failures']} failures; devices configured before are read",
            )
        if "status_json_req_per_s" in got:
            _status_row(got, results)
        if "kb_per_room_own" in got:
            _own_row(got, results)


def _status_row(got: dict[str, Any], results: Results) -> None:
    results.values["status_json_req_per_s"] = got["status_json_req_per_s"]
    results.row(
        f"status JSON, {got['rooms']:,} rooms",
        f"{got['status_json_req_per_s']:.0f} req/s",
        f"{STATUS_CLIENTS} clients on loopback, p95 {got['status_json_ms_p95']} ms, "
        f"{got['status_json_errors']} errors",
    )


def _own_row(got: dict[str, Any], results: Results) -> None:
    results.values["kb_per_room_own"] = got["kb_per_room_own"]
    top = ", ".join(f"{where} {kb} KB" for where, kb in got["own_top"][:3])
    results.row(f"own memory, {got['rooms']:,} rooms", f"{got['kb_per_room_own']} KB/room", top)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(child_main(sys.argv[1:]))
