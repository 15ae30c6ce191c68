"""Benchmark of the ntnu_library integration in a real Home Assistant (run by `scripts/bench`).

One Home Assistant instance (pytest-homeassistant-custom-component's
`async_test_home_assistant`, custom integrations enabled, time zone Asia/Taipei, a temporary
config directory so the site's Store really writes to disk) runs the demo site of
tests/conftest.py on the simulated Zigbee network: 18 rooms, 54 devices. Measured, each over a
bounded number of iterations:

  setup_s                      async_setup of the entry (Store load, demo seeding with one
                               bcrypt hash, 54 devices through zigpy's interview, platforms);
                               Python imports and the `http` dependency are warmed up first
  borrow_ms_p50 / _p95         a patron's own borrow, as `ntnu_library/patron_action` runs it
                               (bcrypt at the real cost, decision, Store write, unlock_door
                               ZCL round trip); each borrow is followed by a return
  bcrypt_rounds                the cost of the hash patrons log in against (must be 12)
  card_tap_to_unlock_ms_*      `simulate card_tap` by the holder -> the simulated lock has
                               received unlock_door (observed at the lock model)
  unlocks_per_s                all 12 temporary rooms borrowed, one closed loop of
                               `simulate card_tap` -> unlock per room, all rooms at once
  frames_per_s                 occupancy reports (occupied/vacant toggles on every room)
                               through zigpy -> room layer -> runtime -> entities
  login_refusal_ms_*           mean patron borrow refusal time for an unknown ID and for a wrong
                               password (fresh IDs / a different patron each try: no backoff)
  core_decisions_per_s         pure core.study_rooms.StudyRooms borrow+return cycles per second
  sip2_login_ms_p50 / _p95     SIP2 Patron Information (63/64 with the password, checksummed)
                               round trip against the demo ILS on loopback (scripts/lib/ils.py)

`--flood` measures only a patron's borrow latency while the patron gate is flooded with made-up
IDs (scripts/lib/bench_flood.py); its JSON object starts with "mode": "flood".

A short table goes to stdout first; the last line of stdout is one JSON object. Logging goes
to stderr. Exit 0 on success, 1 when a measurement could not be made.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable, Iterator
import contextlib
from dataclasses import dataclass, field
from datetime import datetime
import importlib.metadata
import json
import logging
import math
import os
from pathlib import Path
import platform
import secrets
import statistics
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
from bench_stats import percentile  # noqa: E402 (scripts/lib is on sys.path as a script)

TIME_ZONE = "Asia/Taipei"
REAL_BCRYPT_COST = 12  # auth/local.py DEFAULT_ROUNDS and bcrypt.gensalt()'s default
_LOGGER = logging.getLogger("ntnu_library.bench")


# --- small helpers ---------------------------------------------------------------------------


def ms(seconds: float) -> float:
    """Seconds to milliseconds."""
    return seconds * 1000.0


def rounded(value: float, digits: int = 2) -> float | None:
    """A value for the JSON object (None for NaN)."""
    return None if value is None or math.isnan(value) else round(value, digits)


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


# --- observing the simulated hardware -------------------------------------------------------


class LockProbe:
    """Notes the moment a simulated lock receives unlock_door (wraps the model's handler)."""

    def __init__(self, lock: Any, unlock_command_id: int, cluster_id: int) -> None:
        self.lock = lock
        self.unlocks = 0
        self.last_unlock: float = 0.0
        self._waiters: list[tuple[int, asyncio.Future[float]]] = []
        original = type(lock).command.__get__(lock)

        def command(cid: int, hdr: Any, args: Any) -> bool:
            if cid == cluster_id and hdr.command_id == unlock_command_id:
                self.last_unlock = time.perf_counter()
                self.unlocks += 1
                for wanted, future in list(self._waiters):
                    if self.unlocks >= wanted and not future.done():
                        future.set_result(self.last_unlock)
                self._waiters = [(w, f) for w, f in self._waiters if not f.done()]
            return original(cid, hdr, args)

        lock.command = command  # the instance attribute shadows the class's method

    def next_unlock(self) -> asyncio.Future[float]:
        """A future resolved with the perf_counter time of the next unlock_door."""
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._waiters.append((self.unlocks + 1, future))
        return future

    def remove(self) -> None:
        """Give the lock model its own handler back."""
        with contextlib.suppress(AttributeError):
            del self.lock.command
        for _, future in self._waiters:
            future.cancel()


class StoreProbe:
    """Times every write of the site's Store (wraps the instance's async_save)."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.samples: list[float] = []
        original = store.async_save

        async def async_save(data: Any) -> None:
            started = time.perf_counter()
            try:
                await original(data)
            finally:
                self.samples.append(time.perf_counter() - started)

        store.async_save = async_save

    def take(self) -> list[float]:
        """The write times since the last take, in seconds."""
        samples, self.samples = self.samples, []
        return samples

    def remove(self) -> None:
        """Give the Store its own async_save back."""
        with contextlib.suppress(AttributeError):
            del self.store.async_save


# --- the measurements -----------------------------------------------------------------------


@dataclass
class Results:
    """The JSON values and the rows of the table."""

    values: dict[str, Any] = field(default_factory=dict)
    rows: list[tuple[str, str, str]] = field(default_factory=list)  # (what, value, note)

    def row(self, what: str, value: str, note: str = "") -> None:
        """Add a row to the table."""
        self.rows.append((what, value, note))


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


async def bench_home_assistant(
    scale: Scale, results: Results, config_dir: str, *, flood: bool = False
) -> None:
    """Everything that needs the real Home Assistant instance (--flood: the flood mode only)."""
    from homeassistant import loader
    from homeassistant.helpers import frame
    from homeassistant.setup import async_setup_component
    from pytest_homeassistant_custom_component.common import (
        MockConfigEntry,
        async_test_home_assistant,
    )

    async with async_test_home_assistant(config_dir=config_dir) as hass:
        frame.async_setup(hass)
        # What the `enable_custom_integrations` fixture does.
        hass.data.pop(loader.DATA_CUSTOM_COMPONENTS)
        await hass.config.async_set_time_zone(TIME_ZONE)
        entry: Any = None
        try:
            entry = await _setup_site(hass, results, MockConfigEntry, async_setup_component)
            if flood:
                from bench_flood import measure_flood  # scripts/lib is on sys.path

                cost = _patron_hash_cost(entry.runtime_data, "G0001")
                results.values["bcrypt_rounds"] = cost
                if cost != REAL_BCRYPT_COST:
                    raise RuntimeError(f"demo patrons were hashed at cost {cost}")
                await measure_flood(hass, entry, scale, results)
            else:
                await _measure_site(hass, entry, scale, results)
        finally:
            if entry is not None and entry.state.recoverable:
                await hass.config_entries.async_unload(entry.entry_id)
                await hass.async_block_till_done()
            await hass.async_stop(force=True)


async def _setup_site(
    hass: Any,
    results: Results,
    mock_config_entry: Any,
    async_setup_component: Callable[..., Awaitable[bool]],
) -> Any:
    # Warm up what is not the entry's own work: imports and the `http` dependency.
    started = time.perf_counter()
    from homeassistant import loader
    from homeassistant.config_entries import ConfigEntryState

    from custom_components.ntnu_library import PLATFORMS
    from custom_components.ntnu_library.const import (
        CONF_DEMO_DATA,
        CONF_PATRON_SYSTEM,
        CONF_RADIO,
        CONF_SITE_NAME,
        DOMAIN,
    )
    from custom_components.ntnu_library.core.policy import Policy
    from custom_components.ntnu_library.demo import DEMO_ROOMS
    from custom_components.ntnu_library.subentries import room_subentry

    integration = await loader.async_get_integration(hass, DOMAIN)
    await integration.async_get_component()
    await integration.async_get_platforms([str(p) for p in PLATFORMS])
    for dependency in integration.dependencies:
        if not await async_setup_component(hass, dependency, {}):
            raise RuntimeError(f"dependency {dependency} did not set up")
    warmup = time.perf_counter() - started

    policy = Policy(counter_opens="00:00", counter_closes="00:00", return_at_closing=False)
    entry = mock_config_entry(
        domain=DOMAIN,
        title="Main Library",
        unique_id="main_library",
        data={
            CONF_SITE_NAME: "Main Library",
            CONF_RADIO: "simulated",
            CONF_PATRON_SYSTEM: "local",
            CONF_DEMO_DATA: True,
        },
        options=policy.as_dict(),
        subentries_data=[room_subentry(room) for room in DEMO_ROOMS],
    )
    entry.add_to_hass(hass)
    started = time.perf_counter()
    ok = await hass.config_entries.async_setup(entry.entry_id)
    setup_s = time.perf_counter() - started
    await hass.async_block_till_done()
    settled_s = time.perf_counter() - started
    if not ok or entry.state is not ConfigEntryState.LOADED:
        raise RuntimeError(f"the demo site did not set up: {entry.state}")
    runtime = entry.runtime_data
    devices = len(runtime.radio._devices)  # a count for the table
    results.values["setup_s"] = round(setup_s, 3)
    results.row("imports + http (warm-up)", f"{warmup:.2f} s", "not part of setup_s")
    results.row(
        "entry setup",
        f"{setup_s:.2f} s",
        f"{len(runtime.rooms.rooms)} rooms, {devices} devices; "
        f"{settled_s:.2f} s until Home Assistant is idle",
    )
    return entry


def _patron_hash_cost(runtime: Any, patron_id: str) -> int:
    entry = runtime.patrons.directory._entries[patron_id]  # read the stored cost
    return int(entry.password_hash[4:6])


async def _measure_site(hass: Any, entry: Any, scale: Scale, results: Results) -> None:
    from homeassistant.exceptions import ServiceValidationError
    from zigpy.zcl.clusters.closures import DoorLock

    from custom_components.ntnu_library.const import DOMAIN, EVENT_NAME
    from custom_components.ntnu_library.demo import DEMO_PASSWORD, DEMO_PATRONS
    from custom_components.ntnu_library.websocket import async_patron_action
    from custom_components.ntnu_library.zigbee.radio import DeviceEventType
    from custom_components.ntnu_library.zigbee.simulated import simulated_devices

    runtime = entry.runtime_data
    radio = runtime.radio
    rooms = sorted(runtime.rooms.rooms)
    temporary = [r for r in rooms if r.startswith("T")]

    cost = _patron_hash_cost(runtime, "S0001")
    results.values["bcrypt_rounds"] = cost
    if cost != REAL_BCRYPT_COST:
        raise RuntimeError(f"demo patrons were hashed at cost {cost}, not {REAL_BCRYPT_COST}")
    stored_hash = runtime.patrons.directory._entries["S0001"].password_hash.encode()
    started = time.perf_counter()
    await hass.async_add_executor_job(bcrypt.checkpw, DEMO_PASSWORD.encode(), stored_hash)
    bcrypt_ms = ms(time.perf_counter() - started)
    results.row("bcrypt checkpw, one", f"{bcrypt_ms:.0f} ms", f"cost {cost} (real, not 4)")

    unlock_id = DoorLock.ServerCommandDefs.unlock_door.id
    probes = {
        room: LockProbe(radio.lock_model(room), unlock_id, DoorLock.cluster_id) for room in rooms
    }
    store_probe = StoreProbe(runtime.storage.store)

    async def call(service: str, data: dict[str, Any]) -> Any:
        return await hass.services.async_call(
            DOMAIN, service, data, blocking=True, return_response=True
        )

    async def act(action: str, data: dict[str, Any]) -> Any:
        """A patron's own action with their password (the websocket command's core)."""
        return await async_patron_action(hass, action=action, **data)

    def creds(room: str, patron: str, password: str = DEMO_PASSWORD) -> dict[str, Any]:
        return {"room": room, "patron_id": patron, "password": password}

    try:
        # -- 2. borrow / return round trips ------------------------------------------------
        borrow_s: list[float] = []
        borrow_unlock_s: list[float] = []
        return_s: list[float] = []
        for cycle in range(scale.borrow_cycles + 1):  # the first cycle warms up
            unlocked = probes["T01"].next_unlock()
            started = time.perf_counter()
            answer = await act("borrow", creds("T01", "S0001"))
            done = time.perf_counter()
            if answer.get("door") != "unlocked" or not unlocked.done():
                raise RuntimeError(f"borrow did not unlock: {answer}")
            started_return = time.perf_counter()
            answer = await act("return", creds("T01", "S0001"))
            returned = time.perf_counter()
            if answer.get("status") != "idle":
                raise RuntimeError(f"the return did not free the room: {answer}")
            if cycle:
                borrow_s.append(done - started)
                borrow_unlock_s.append(unlocked.result() - started)
                return_s.append(returned - started_return)
        writes = store_probe.take()
        store_kb = await hass.async_add_executor_job(os.path.getsize, runtime.storage.path) / 1024
        results.values["borrow_ms_p50"] = rounded(ms(percentile(borrow_s, 50)))
        results.values["borrow_ms_p95"] = rounded(ms(percentile(borrow_s, 95)))
        results.row(
            "patron borrow round trip",
            f"p50 {ms(percentile(borrow_s, 50)):.0f} / p95 {ms(percentile(borrow_s, 95)):.0f} ms",
            f"n={len(borrow_s)}; lock had unlock_door after "
            f"p50 {ms(percentile(borrow_unlock_s, 50)):.0f} ms",
        )
        results.row(
            "patron return round trip",
            f"p50 {ms(percentile(return_s, 50)):.0f} / p95 {ms(percentile(return_s, 95)):.0f} ms",
            f"n={len(return_s)}",
        )
        results.row(
            "Store write per decision",
            f"p50 {ms(percentile(writes, 50)):.1f} / p95 {ms(percentile(writes, 95)):.1f} ms",
            f"n={len(writes)}, {store_kb:.1f} kB fsync'd "
            "each time, awaited under the site lock before the bolt moves",
        )

        # -- 3. card tap -> unlock at the lock, one room -----------------------------------
        await act("borrow", creds("T01", "S0001"))
        lock = radio.lock_model("T01")
        tap_s: list[float] = []
        tap_event_s: list[float] = []
        tap_event: asyncio.Future[float] | None = None

        def on_event(event: Any) -> None:
            if (
                event.data.get("type") == "card_tap"
                and event.data.get("room") == "T01"
                and tap_event is not None
                and not tap_event.done()
            ):
                tap_event.set_result(time.perf_counter())

        unsub = hass.bus.async_listen(EVENT_NAME, on_event)
        try:
            for tap in range(scale.taps + 1):
                # Relock as a person does: open the unlocked door, close it; the lock relocks.
                await call("simulate", {"room": "T01", "action": "door_open"})
                await call("simulate", {"room": "T01", "action": "door_close"})
                await hass.async_block_till_done()
                if lock.lock_state != DoorLock.LockState.Locked:
                    raise RuntimeError("the simulated lock did not relock")
                tap_event = hass.loop.create_future()
                unlocked = probes["T01"].next_unlock()
                started = time.perf_counter()
                await call("simulate", {"room": "T01", "action": "card_tap", "card": "C-S0001"})
                # The tap is handled in a background task: block_till_done does not wait
                # for it, the lock and the bus event tell when it is done.
                async with asyncio.timeout(10):
                    at = await unlocked
                    told = await tap_event
                if tap:
                    tap_s.append(at - started)
                    tap_event_s.append(told - started)
        finally:
            unsub()
        store_probe.take()
        results.values["card_tap_to_unlock_ms_p50"] = rounded(ms(percentile(tap_s, 50)))
        results.values["card_tap_to_unlock_ms_p95"] = rounded(ms(percentile(tap_s, 95)))
        results.row(
            "card tap -> lock got unlock_door",
            f"p50 {ms(percentile(tap_s, 50)):.1f} / p95 {ms(percentile(tap_s, 95)):.1f} ms",
            f"n={len(tap_s)}; -> ntnu_library_event card_tap p50 "
            f"{ms(percentile(tap_event_s, 50)):.1f} ms",
        )

        # -- 4. unlocks per second, every temporary room borrowed --------------------------
        holders = {"T01": "S0001"}
        candidates = [pid for pid, _, _, membership in DEMO_PATRONS if membership != "expired"]
        candidates = [pid for pid in candidates if pid not in ("S0001", "X0001")]  # X: frozen
        free = [room for room in temporary if room not in holders]
        while free:
            if len(candidates) < len(free):
                raise RuntimeError("not enough demo patrons may borrow a room")
            batch = list(zip(free, candidates, strict=False))
            del candidates[: len(batch)]
            answers = await asyncio.gather(
                *(act("borrow", creds(room, pid)) for room, pid in batch),
                return_exceptions=True,
            )
            for (room, pid), answer in zip(batch, answers, strict=True):
                if isinstance(answer, ServiceValidationError):
                    _LOGGER.info("%s may not borrow: %s", pid, answer.translation_key)
                elif isinstance(answer, BaseException):
                    raise answer
                else:
                    holders[room] = pid
            free = [room for room in temporary if room not in holders]
        await hass.async_block_till_done()
        store_probe.take()

        stop_at = 0.0
        counts = dict.fromkeys(temporary, 0)

        async def tapper(room: str) -> None:
            card = f"C-{holders[room]}"
            while counts[room] < scale.throughput_max_taps_per_room:
                unlocked = probes[room].next_unlock()
                await call("simulate", {"room": room, "action": "card_tap", "card": card})
                async with asyncio.timeout(10):
                    await unlocked
                counts[room] += 1
                if time.perf_counter() >= stop_at:
                    return

        started = time.perf_counter()
        stop_at = started + scale.throughput_seconds
        await asyncio.gather(*(tapper(room) for room in temporary))
        elapsed = time.perf_counter() - started
        await hass.async_block_till_done()
        writes = store_probe.take()
        total = sum(counts.values())
        unlocks_per_s = total / elapsed
        results.values["unlocks_per_s"] = round(unlocks_per_s, 1)
        results.row(
            "unlocks, 12 rooms tapping at once",
            f"{unlocks_per_s:.1f} /s",
            f"{total} unlocks in {elapsed:.2f} s; Store writes p50 "
            f"{ms(percentile(writes, 50)):.1f} ms x {len(writes)} (serialized)",
        )
        if writes:
            write_bound = 1.0 / statistics.fmean(writes)
            results.row(
                "  ceiling from Store writes alone",
                f"{write_bound:.0f} /s",
                "1 / mean write time: one write per decision, one decision at a time",
            )

        # -- 5. sensor frames per second -----------------------------------------------------
        sensors = [radio.device(simulated_devices(room).occupancy) for room in rooms]
        seen = 0
        target = 0
        reached = asyncio.Event()

        def count(event: Any) -> None:
            nonlocal seen
            if event.type in (DeviceEventType.OCCUPIED, DeviceEventType.VACANT):
                seen += 1
                if seen >= target:
                    reached.set()

        unsubscribe = radio.subscribe(count)  # after the runtime's: it has handled the frame
        try:
            occupied = not bool(radio.occupied(rooms[0]))
            rounds = 0
            started = time.perf_counter()
            deadline = started + scale.frame_seconds
            while rounds < scale.frame_max_rounds:
                target += len(sensors)
                reached.clear()
                for sensor in sensors:
                    sensor.set_occupied(occupied)
                try:
                    async with asyncio.timeout(10):
                        await reached.wait()
                except TimeoutError:
                    late = [r for r in rooms if radio.occupied(r) is not occupied]
                    raise RuntimeError(
                        f"round {rounds}: {target - seen} of {len(sensors)} occupancy reports "
                        f"not handled within 10 s (rooms {', '.join(late)})"
                    ) from None
                occupied = not occupied
                rounds += 1
                if time.perf_counter() >= deadline:
                    break
            await hass.async_block_till_done()  # entity state writes included
            elapsed = time.perf_counter() - started
        finally:
            unsubscribe()
        last = not occupied
        wrong = [room for room in rooms if radio.occupied(room) is not last]
        if wrong:
            raise RuntimeError(f"occupancy not taken for {wrong}")
        frames_per_s = seen / elapsed
        results.values["frames_per_s"] = round(frames_per_s, 1)
        results.row(
            "occupancy frames, 18 sensors",
            f"{frames_per_s:.0f} /s",
            f"{seen} reports in {elapsed:.2f} s, each zigpy -> rooms -> runtime -> entities",
        )

        # -- 6. login refusals -------------------------------------------------------------
        known = [pid for pid, *_ in DEMO_PATRONS]
        unknown_s: list[float] = []
        wrong_s: list[float] = []

        async def refused(data: dict[str, Any]) -> float:
            started = time.perf_counter()
            try:
                await act("borrow", data)
            except ServiceValidationError as err:
                elapsed = time.perf_counter() - started
                if err.translation_key != "invalid_credentials":
                    raise RuntimeError(f"refused for {err.translation_key}") from err
                return elapsed
            raise RuntimeError("a bad login was accepted")

        for n in range(scale.refusals):
            unknown_s.append(await refused(creds("T01", f"NOBODY{n:04d}")))
            wrong_s.append(await refused(creds("T01", known[n % len(known)], "wrong-pw")))
        unknown_ms = ms(statistics.fmean(unknown_s))
        wrong_ms = ms(statistics.fmean(wrong_s))
        results.values["login_refusal_ms_unknown_id"] = rounded(unknown_ms)
        results.values["login_refusal_ms_wrong_password"] = rounded(wrong_ms)
        results.row(
            "login refused, unknown ID",
            f"{unknown_ms:.0f} ms",
            f"mean of {len(unknown_s)}, sd {ms(statistics.pstdev(unknown_s)):.0f} ms",
        )
        results.row(
            "login refused, wrong password",
            f"{wrong_ms:.0f} ms",
            f"mean of {len(wrong_s)}, sd {ms(statistics.pstdev(wrong_s)):.0f} ms; "
            f"difference {wrong_ms - unknown_ms:+.0f} ms",
        )
    finally:
        store_probe.remove()
        for probe in probes.values():
            probe.remove()


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
    "unlocks_per_s",
    "frames_per_s",
    "login_refusal_ms_unknown_id",
    "login_refusal_ms_wrong_password",
    "core_decisions_per_s",
    "sip2_login_ms_p50",
    "sip2_login_ms_p95",
    "ha_version",
    "zigpy_version",
    "python",
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
        "--quick", action="store_true", help="fewer iterations (a smoke run, noisier numbers)"
    )
    parser.add_argument(
        "--debug", action="store_true", help="log at DEBUG level to stderr (slows everything)"
    )
    parser.add_argument(
        "--flood",
        action="store_true",
        help="only a patron's borrow latency under login floods (scripts/lib/bench_flood.py)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run every measurement; print the table, then the JSON object last."""
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
            tempfile.TemporaryDirectory(prefix="ntnu-bench-") as config_dir,
            asyncio.Runner(loop_factory=runner.HassEventLoopPolicy(False).new_event_loop) as run,
        ):
            if patched:
                results.row("bcrypt.gensalt", "patched", "replaced by one honouring the cost")
            bench = bench_home_assistant(scale, results, config_dir, flood=args.flood)
            run.run(asyncio.wait_for(bench, 400 if args.flood else 300))
        if not args.flood:
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
    keys = FLOOD_KEYS if args.flood else KEYS
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
