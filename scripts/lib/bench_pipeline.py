"""The demo site's tap pipeline, measured as the peer's is (run by scripts/lib/bench_demo.py).

After the demo measurements every temporary room T01-T12 has a holder. On those rooms:

- `tap_to_unlock_ms_p50/_p99`: `bench_taps.tap_load` at `tap_rate` taps a second round the
  rooms (open loop), each tap the holder's card from the room's simulated lock, until the
  lock receives unlock_door; after each unlock the holder opens and closes the door and the
  lock throws its bolt (`relock_by_door`), as for the peer;
- `taps_per_s_max`: `bench_taps.tap_capacity`, every room tapping again as soon as it was
  answered (closed loop), the method the peer's figure is taken with (`peer_max_method`
  "closed"), for `peer_max_seconds`;
- `ha_state_changes_per_s`: Home Assistant's own `hass.states.async_set` of one entity with a
  new state each time, in a loop, in the same instance: what any state change costs at least;
- `pipeline_vs_ha_ratio`: `frames_per_s` (occupancy frames: zigpy -> room layer -> site ->
  entity states, each a room event) / `ha_state_changes_per_s`;
- `lost_answer_stall_s`: one room's unlock_door answer is lost on the air (the bolt moves);
  the holder taps again at once; how long until that second tap is handled (its room event).
  Twice, worst of: the lock reports its bolt (as configured locks do) / it does not (only a
  read tells); the lock must stay online.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bench_site import Results
from bench_stats import percentile
from bench_taps import UnlockWatch, relock_by_door, tap_capacity, tap_load

TEMPORARY = [f"T{n:02d}" for n in range(1, 13)]


async def measure_pipeline(hass: Any, entry: Any, scale: Any, results: Results) -> None:
    """Every figure of the module on the demo site, its temporary rooms borrowed."""
    from homeassistant.util import dt as dt_util

    site = entry.runtime_data
    radio = site.radio
    now = dt_util.now()
    holders = {room: site.rooms.holder(room, now) for room in TEMPORARY}
    if missing := [room for room, holder in holders.items() if holder is None]:
        raise RuntimeError(f"rooms without a holder for the tap load: {missing}")
    locks = {room: radio.lock_model(room) for room in TEMPORARY}
    cards = {room: f"C-{holder}" for room, holder in holders.items()}
    await _settle(hass, locks)

    watch = UnlockWatch(locks, relock=relock_by_door(locks))
    try:
        rate = float(getattr(scale, "tap_rate", 100.0))
        seconds = float(getattr(scale, "tap_seconds", 3.0))
        run = await tap_load(
            lambda room: locks[room].card_tap(cards[room]),
            watch,
            TEMPORARY,
            rate=rate,
            seconds=seconds,
        )
        await _settle(hass, locks)
        closed = await tap_capacity(
            lambda room: locks[room].card_tap(cards[room]),
            watch,
            TEMPORARY,
            seconds=float(getattr(scale, "peer_max_seconds", 3.0)),
        )
        await _settle(hass, locks)
    finally:
        watch.remove()
    results.values["tap_to_unlock_ms_p50"] = round(run.p(50), 3)
    results.values["tap_to_unlock_ms_p99"] = round(run.p(99), 3)
    results.values["taps_per_s_max"] = round(closed.answered_per_s, 1)
    faults = run.faults()
    results.row(
        "tap -> unlock under load",
        f"p50 {run.p(50):.2f} / p99 {run.p(99):.2f} ms",
        f"{rate:.0f} taps/s over 12 rooms, n={run.answered}" + (f"; {faults}" if faults else ""),
    )
    results.row(
        "taps/s max (closed loop)",
        f"{closed.answered_per_s:.0f} /s",
        f"12 rooms, each taps again once answered, n={closed.answered}; "
        f"p50 {closed.p(50):.2f} ms" + (f"; {closed.faults()}" if closed.faults() else ""),
    )

    await _ha_state_rate(hass, scale, results)
    await _lost_answer(hass, site, scale, results, cards)


async def _settle(hass: Any, locks: dict[str, Any]) -> None:
    """Every lock relocked and Home Assistant idle."""
    from zigpy.zcl.clusters.closures import DoorLock

    for lock in locks.values():
        if lock.lock_state != DoorLock.LockState.Locked:
            lock.door_opened()
            lock.door_closed()
    for _ in range(50):
        await hass.async_block_till_done()
        if all(lock.lock_state == DoorLock.LockState.Locked for lock in locks.values()):
            return
        await asyncio.sleep(0.02)
    raise RuntimeError("the locks did not relock")


async def _ha_state_rate(hass: Any, scale: Any, results: Results) -> None:
    """hass.states.async_set in a loop, one entity, a new state each time."""
    seconds = float(getattr(scale, "ha_state_seconds", 1.0))
    attributes = {"friendly_name": "Bench probe"}
    count = 0
    started = time.perf_counter()
    deadline = started + seconds
    while True:
        for _ in range(200):
            hass.states.async_set("sensor.bench_probe", str(count), attributes)
            count += 1
        await asyncio.sleep(0)  # let the state_changed events be delivered
        if time.perf_counter() >= deadline:
            break
    await hass.async_block_till_done()
    rate = count / (time.perf_counter() - started)
    hass.states.async_remove("sensor.bench_probe")
    results.values["ha_state_changes_per_s"] = round(rate, 1)
    frames = results.values.get("frames_per_s")
    ratio = round(frames / rate, 4) if isinstance(frames, int | float) and rate else None
    results.values["pipeline_vs_ha_ratio"] = ratio
    results.row(
        "Home Assistant's states.async_set",
        f"{rate:,.0f} /s",
        f"one entity, {count} states; pipeline (frames_per_s) / this = {ratio}",
    )


async def _lost_answer(
    hass: Any, site: Any, scale: Any, results: Results, cards: dict[str, str]
) -> None:
    """One lost unlock answer, then the holder's next tap: how long until it is handled."""
    from custom_components.ntnu_library.const import EVENT_NAME

    room = TEMPORARY[0]
    lock = site.radio.lock_model(room)
    stalls: dict[str, list[float]] = {"reports": [], "silent": []}
    told: asyncio.Future[float] | None = None

    def on_event(event: Any) -> None:
        if (
            event.data.get("room") == room
            and event.data.get("type") == "card_tap"
            and told is not None
            and not told.done()
        ):
            told.set_result(time.perf_counter())

    unsub = hass.bus.async_listen(EVENT_NAME, on_event)
    try:
        for _ in range(int(getattr(scale, "lost_answer_samples", 3))):
            for variant in ("reports", "silent"):
                await _settle(hass, {room: lock})
                lock.reports_bolt = variant == "reports"
                lock.lose_answers = 1
                first = hass.loop.create_future()
                told = first
                lock.card_tap(cards[room])  # its unlock's answer is lost
                async with asyncio.timeout(15):
                    await first
                told = hass.loop.create_future()
                started = time.perf_counter()
                lock.card_tap(cards[room])  # the holder taps again at once
                async with asyncio.timeout(15):
                    handled = await told
                stalls[variant].append(handled - started)
                lock.reports_bolt = True
                await hass.async_block_till_done()
                if not site.radio.is_online(room):
                    raise RuntimeError("one lost answer took the lock offline")
    finally:
        unsub()
        lock.reports_bolt = True
        lock.lose_answers = 0
    reports, silent = (percentile(stalls[v], 50) for v in ("reports", "silent"))
    results.values["lost_answer_stall_s"] = round(max(reports, silent), 3)
    results.values["lost_answer_stall_s_reported"] = round(reports, 4)
    results.row(
        "next tap after a lost unlock answer",
        f"{max(reports, silent):.3f} s",
        f"the lock reports its bolt: {reports * 1000:.1f} ms; it does not: "
        f"{silent * 1000:.0f} ms (a read decides); the lock stays online",
    )
