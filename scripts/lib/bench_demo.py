"""The demo site's measurements (run by scripts/lib/bench.py, which documents each figure).

One Home Assistant instance runs the demo site of tests/conftest.py on the simulated Zigbee
network (18 rooms, 54 devices, the demo patrons hashed at bcrypt's real cost): set-up, a
patron's borrow, card taps, unlocks per second, sensor frames, login refusals, and (with
`--flood`) a patron's borrow under login floods (scripts/lib/bench_flood.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
import contextlib
import logging
import os
import statistics
import time
from typing import Any

import bcrypt
from bench_site import Results, async_setup_site, async_warm_up, bench_hass, site_entry
from bench_stats import ms, percentile, rounded

REAL_BCRYPT_COST = 12  # auth/local.py DEFAULT_ROUNDS and bcrypt.gensalt()'s default
_LOGGER = logging.getLogger("ntnu_library.bench")


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


async def bench_demo_site(
    scale: Any,
    results: Results,
    config_dir: str,
    *,
    flood: bool = False,
    extra: Callable[[Any, Any], Awaitable[None]] | None = None,
) -> None:
    """The demo site in one Home Assistant: its measurements (--flood: the flood mode only).

    `extra(hass, entry)` runs after the demo measurements, on the same site.
    """
    async with bench_hass(config_dir) as hass:
        entry: Any = None
        try:
            entry = await _setup_demo_site(hass, results)
            if flood:
                from bench_flood import measure_flood  # scripts/lib is on sys.path

                cost = _patron_hash_cost(entry.runtime_data, "G0001")
                results.values["bcrypt_rounds"] = cost
                if cost != REAL_BCRYPT_COST:
                    raise RuntimeError(f"demo patrons were hashed at cost {cost}")
                await measure_flood(hass, entry, scale, results)
            else:
                await _measure_site(hass, entry, scale, results)
                if extra is not None:
                    await extra(hass, entry)
        finally:
            if entry is not None and entry.state.recoverable:
                await hass.config_entries.async_unload(entry.entry_id)
                await hass.async_block_till_done()


async def _setup_demo_site(hass: Any, results: Results) -> Any:
    """The demo site's entry, set up; setup_s and the warm-up before it into `results`."""
    from custom_components.ntnu_library.demo import DEMO_ROOMS

    # Warm up what is not the entry's own work: imports and the `http` dependency.
    warmup = await async_warm_up(hass)
    entry = site_entry(DEMO_ROOMS, demo_data=True)
    entry.add_to_hass(hass)
    started = time.perf_counter()
    setup_s = await async_setup_site(hass, entry)
    await hass.async_block_till_done()
    settled_s = time.perf_counter() - started
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


async def _measure_site(hass: Any, entry: Any, scale: Any, results: Results) -> None:
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
