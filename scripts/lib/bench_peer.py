"""The peer: what a Home Assistant user would build instead of the integration, measured alike.

`measure_peer(config_dir, scale, results, rooms=12)` starts its own Home Assistant
(`bench_site.bench_hass`, in a fresh `peer/` folder under `config_dir`) with Home Assistant's
own ZHA integration owning a simulated Zigbee stick (tests/zigbee/zha_network.py: only the
radio's controller class is the simulated application; ZHA forms the network, the rooms'
locks, door contacts and occupancy sensors join, zigpy interviews them and ZHA binds and
configures them over serialized ZCL frames). The room devices are those of
`simulated_devices("R0001")`... as the integration's own bench rooms have.

Two peers, each an automation on ZHA's `zha_event` for the lock's operation event from its
card reader (`command: operation_event_notification`, `args: {source: RFID}`) that calls
`lock.unlock`, with `mode: parallel` (a room's next patron need not wait for the previous
run, nor one room for another):

  per_lock   one automation per lock, its trigger on that lock's `device_ieee`, its action
             on that room's ZHA lock entity
  template   one automation for every lock, its action's target the device that sent the
             event (`device_id: "{{ trigger.event.data.device_id }}"`)

Each is measured with scripts/lib/bench_taps.py, the same code as the integration's tap
figures: the simulated lock sends a card tap's frame (`SimulatedLock.card_tap`, a new card
number every tap) and the time runs until that lock receives `unlock_door`; after each unlock
the patron opens and closes the door and the lock relocks itself. The two peers take turns
(`peer_rounds` rounds, in ABBA order, so that both see the same machine), only the measured
peer's automations on: latency under `peer_latency_rate` taps a second spread over the rooms
(`tap_load`, open loop), and the tap rate when every room taps again as soon as its last tap
was answered (`tap_capacity`, closed loop). With `peer_max_method="ladder"` the rate is
instead the highest sustained open-loop rate of a ladder of rates (`max_tap_rate`), measured
after the turns.

Values: `peer_per_lock_*` and `peer_template_*` (`tap_to_unlock_ms_p50`, `_p99`,
`taps_per_s_max`), and the plain `peer_*` figures of THE peer (`peer_variant`): the
template automation unless the per-lock one answers faster at the median and sustains a
higher rate.

The scale's attributes, each with a default (`PeerScale`): `peer_latency_rate` (100 taps/s),
`peer_latency_seconds` (6, each peer), `peer_rounds` (3), `peer_max_method` ("closed"),
`peer_max_seconds` (3, each peer; with the ladder, each step), and for the ladder
`peer_start_rate` (100), `peer_rate_factor` (2), `peer_rate_limit` (12,800) and
`peer_refine` (2 bisections between the last good and the first bad rate).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
import logging
import math
from pathlib import Path
import shutil
import sys
import time
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))  # custom_components and tests, as namespace packages

from bench_site import Results, bench_hass  # noqa: E402 (scripts/lib is on sys.path)
from bench_taps import (  # noqa: E402
    DropCounter,
    TapRun,
    UnlockWatch,
    ladder_note,
    max_tap_rate,
    numbered_cards,
    relock_by_door,
    tap_capacity,
    tap_load,
)

PER_LOCK = "per_lock"
TEMPLATE = "template"
PER_LOCK_MAX_RUNS = 100  # mode: parallel's bound on one automation's runs at a time
TEMPLATE_MAX_RUNS = 1000
SETTLE_TIMEOUT_S = 30.0
_LOGGER = logging.getLogger("ntnu_library.bench.peer")


def peer_automations(locks: dict[str, tuple[str, str]]) -> dict[str, list[dict[str, Any]]]:
    """The two peers' automations, by peer; `locks` maps a room to (lock IEEE, lock entity)."""
    card_event = {"command": "operation_event_notification", "args": {"source": "RFID"}}
    per_lock = [
        {
            "id": f"peer_unlock_{room.lower()}",
            "alias": f"Unlock {room} on a card",
            "mode": "parallel",
            "max": PER_LOCK_MAX_RUNS,
            "triggers": [
                {
                    "trigger": "event",
                    "event_type": "zha_event",
                    "event_data": {"device_ieee": ieee} | card_event,
                }
            ],
            "actions": [{"action": "lock.unlock", "target": {"entity_id": entity_id}}],
        }
        for room, (ieee, entity_id) in locks.items()
    ]
    template = {
        "id": "peer_unlock_any_lock",
        "alias": "Unlock the lock that read a card",
        "mode": "parallel",
        "max": TEMPLATE_MAX_RUNS,
        "initial_state": False,
        "triggers": [{"trigger": "event", "event_type": "zha_event", "event_data": card_event}],
        "actions": [
            {
                "action": "lock.unlock",
                "target": {"device_id": "{{ trigger.event.data.device_id }}"},
            }
        ],
    }
    return {PER_LOCK: per_lock, TEMPLATE: [template]}


async def _start_zha(hass: Any, stick: Any, folder: Path) -> None:
    """ZHA's entry on the stick, set up; every device joined and configured by ZHA."""
    from homeassistant.components.zha.helpers import get_zha_gateway
    from homeassistant.config_entries import ConfigEntryState
    from homeassistant.setup import async_setup_component
    from pytest_homeassistant_custom_component.common import MockConfigEntry

    from tests.zigbee.zha_network import ZHA_ENTRY_DATA

    entry = MockConfigEntry(domain="zha", version=4, data=ZHA_ENTRY_DATA)
    entry.add_to_hass(hass)
    config = {"zha": {"database_path": str(folder / "zigbee.db")}}
    if not await async_setup_component(hass, "zha", config):
        raise RuntimeError("ZHA did not set up")
    await hass.async_block_till_done()
    if entry.state is not ConfigEntryState.LOADED:
        raise RuntimeError(f"ZHA's entry did not load: {entry.state}")
    await stick.async_join()
    await get_zha_gateway(hass).async_block_till_done()  # ZHA configures and initializes
    await hass.async_block_till_done()


def _zha_locks(hass: Any, rooms: dict[str, str]) -> dict[str, tuple[str, str]]:
    """Room -> (lock IEEE, ZHA's lock entity), for `rooms` (room -> lock IEEE)."""
    from homeassistant.helpers import device_registry as dr, entity_registry as er

    devices, entities = dr.async_get(hass), er.async_get(hass)
    found = {}
    for room, ieee in rooms.items():
        device = devices.async_get_device(identifiers={("zha", ieee)})
        if device is None:
            raise RuntimeError(f"ZHA has no device for {room}'s lock {ieee}")
        locks = [
            entry.entity_id
            for entry in er.async_entries_for_device(entities, device.id)
            if entry.domain == "lock"
        ]
        if len(locks) != 1 or hass.states.get(locks[0]) is None:
            raise RuntimeError(f"ZHA made no lock entity for {room}: {locks}")
        found[room] = (ieee, locks[0])
    return found


async def _use(hass: Any, automations: dict[str, list[str]], peer: str) -> None:
    """Only `peer`'s automations on."""
    for name, entity_ids in automations.items():
        service = "turn_on" if name == peer else "turn_off"
        await hass.services.async_call(
            "automation", service, {"entity_id": entity_ids}, blocking=True
        )
    await hass.async_block_till_done()
    off = [e for e in automations[peer] if hass.states.get(e).state != "on"]
    if off:
        raise RuntimeError(f"automations did not turn on: {off}")


@dataclass
class PeerScale:
    """How much the peer measures (read from the bench's scale, with these defaults)."""

    peer_latency_rate: float = 100.0  # taps a second over the rooms, for p50 / p99
    peer_latency_seconds: float = 6.0  # each peer
    peer_rounds: int = 3  # the peers take turns, this many times
    peer_max_method: str = "closed"  # taps_per_s_max: "closed" (all rooms) or "ladder"
    peer_max_seconds: float = 3.0  # closed: each peer in all; ladder: each step
    peer_start_rate: float = 100.0  # ladder only, from here
    peer_rate_factor: float = 2.0  # times this each step
    peer_rate_limit: float = 12_800.0  # up to here
    peer_refine: int = 2  # geometric bisections between the last good and first bad rate

    @classmethod
    def of(cls, scale: Any) -> PeerScale:
        """The bench's scale's values, where it has them."""
        defaults = cls()
        return cls(
            **{
                name: type(getattr(defaults, name))(getattr(scale, name, getattr(defaults, name)))
                for name in cls.__dataclass_fields__
            }
        )


async def measure_peer(config_dir: str, scale: Any, results: Any, *, rooms: int = 12) -> None:
    """Measure both peers on `rooms` rooms; set their values and rows in `results`."""
    import pytest

    from custom_components.ntnu_library.zigbee.simulated import simulated_devices
    from tests.zigbee.zha_network import SimulatedStick

    knobs = PeerScale.of(scale)
    _LOGGER.info("measuring the peer: %s", knobs)
    folder = Path(config_dir) / "peer"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    devices = [simulated_devices(f"R{n:04d}") for n in range(1, rooms + 1)]
    stick = SimulatedStick(devices)
    zigpy_log = logging.getLogger("zigpy.application")
    zigpy_log.addFilter(_quiet_database_close)
    try:
        with pytest.MonkeyPatch.context() as monkeypatch:
            stick.install_in_zha(monkeypatch)
            async with bench_hass(str(folder)) as hass:
                latency, best, ladders = await _measure(hass, stick, devices, knobs, results)
    finally:
        zigpy_log.removeFilter(_quiet_database_close)

    for peer in (PER_LOCK, TEMPLATE):
        _report(results, peer, latency[peer], best[peer], ladders.get(peer))
    per_lock, template = best[PER_LOCK], best[TEMPLATE]
    chosen = TEMPLATE
    if latency[PER_LOCK].p(50) < latency[TEMPLATE].p(50) and (
        per_lock is not None
        and per_lock.answered_per_s > (template.answered_per_s if template else 0.0)
    ):
        chosen = PER_LOCK
    results.values["peer_variant"] = chosen
    for figure in ("tap_to_unlock_ms_p50", "tap_to_unlock_ms_p99", "taps_per_s_max"):
        results.values[f"peer_{figure}"] = results.values[f"peer_{chosen}_{figure}"]
    results.row("peer for the ratios", chosen.replace("_", " "), "see the module's docstring")


async def _measure(
    hass: Any, stick: Any, devices: list[Any], knobs: PeerScale, results: Results
) -> tuple[dict[str, TapRun], dict[str, TapRun | None], dict[str, list[TapRun]]]:
    """ZHA and the automations set up, then both peers measured (see `_Peers.measure`)."""
    _LOGGER.info("Home Assistant started for the peer")
    started = time.perf_counter()
    await _start_zha(hass, stick, Path(hass.config.config_dir))
    setup_s = time.perf_counter() - started
    _LOGGER.info("ZHA set up with %d devices in %.1f s", len(devices) * 3, setup_s)
    results.row(
        "peer: ZHA set-up",
        f"{setup_s:.1f} s",
        f"{len(devices) * 3} devices joined, interviewed and configured, {len(devices)} rooms",
    )
    automations = await _setup_automations(hass, devices)
    peers = _Peers(hass, stick, [d.room_id for d in devices], automations)
    try:
        return await peers.measure(knobs)
    finally:
        peers.remove()


def _quiet_database_close(record: logging.LogRecord) -> bool:
    """Not zigpy's warning that it could not close its database at the stop.

    zigpy's shutdown calls a method the installed aiosqlite no longer has; the database is
    closed all the same, and the warning says nothing about the peer.
    """
    return not str(record.msg).startswith("Failed to disconnect from database")


async def _setup_automations(hass: Any, devices: list[Any]) -> dict[str, list[str]]:
    """Both peers' automations, the per-lock ones on; their entity ids by peer."""
    from homeassistant.helpers import entity_registry as er
    from homeassistant.setup import async_setup_component

    locks = _zha_locks(hass, {d.room_id: str(d.lock) for d in devices})
    configs = peer_automations(locks)
    config = {"automation": [a for peer in configs.values() for a in peer]}
    if not await async_setup_component(hass, "automation", config):
        raise RuntimeError("the peer's automations did not set up")
    await hass.async_block_till_done()
    registry = er.async_get(hass)
    return {
        peer: [registry.async_get_entity_id("automation", "automation", a["id"]) for a in items]
        for peer, items in configs.items()
    }


class _Peers:
    """The taps of both peers on one ZHA network."""

    def __init__(
        self, hass: Any, stick: Any, rooms: list[str], automations: dict[str, list[str]]
    ) -> None:
        self.hass = hass
        self.stick = stick
        self.rooms = rooms
        self.automations = automations
        self.models = {room: stick.lock(room) for room in rooms}
        self.drops = DropCounter(
            stick.app.get_device(ieee=model.ieee) for model in self.models.values()
        )
        self.watch = UnlockWatch(self.models, relock=relock_by_door(self.models))
        self._card = numbered_cards()

    def send_tap(self, room: str) -> None:
        """A card at the room's reader (a new card every time)."""
        self.models[room].card_tap(self._card())

    async def settle(self) -> None:
        """Until the frames in flight and what they set off in Home Assistant are done."""
        async with asyncio.timeout(SETTLE_TIMEOUT_S):
            for _ in range(3):
                await self.stick.async_settle()
                await self.hass.async_block_till_done()

    async def measure(
        self, knobs: PeerScale
    ) -> tuple[dict[str, TapRun], dict[str, TapRun | None], dict[str, list[TapRun]]]:
        """Latency and capacity of both peers, taking turns (ABBA); the ladders after."""
        latency: dict[str, TapRun] = {}
        capacity: dict[str, TapRun] = {}
        rounds = max(1, knobs.peer_rounds)
        for turn in range(rounds):
            for peer in (TEMPLATE, PER_LOCK)[:: 1 if turn % 2 == 0 else -1]:
                await _use(self.hass, self.automations, peer)
                run = await tap_load(
                    self.send_tap,
                    self.watch,
                    self.rooms,
                    rate=knobs.peer_latency_rate,
                    seconds=knobs.peer_latency_seconds / rounds,
                    drops=self.drops,
                )
                await self.settle()
                _LOGGER.info("%s latency: %s", peer, run)
                latency[peer] = _merge(latency.get(peer), run)
                if knobs.peer_max_method != "closed":
                    continue
                run = await tap_capacity(
                    self.send_tap,
                    self.watch,
                    self.rooms,
                    seconds=knobs.peer_max_seconds / rounds,
                    drops=self.drops,
                )
                await self.settle()
                _LOGGER.info("%s capacity: %s", peer, run)
                capacity[peer] = _merge(capacity.get(peer), run)
        best: dict[str, TapRun | None] = dict(capacity)
        ladders: dict[str, list[TapRun]] = {}
        if knobs.peer_max_method == "ladder":
            for peer in (PER_LOCK, TEMPLATE):
                await _use(self.hass, self.automations, peer)
                best[peer], ladders[peer] = await max_tap_rate(
                    self.send_tap,
                    self.watch,
                    self.rooms,
                    start=knobs.peer_start_rate,
                    factor=knobs.peer_rate_factor,
                    limit=knobs.peer_rate_limit,
                    seconds=knobs.peer_max_seconds,
                    refine=knobs.peer_refine,
                    settle=self.settle,
                    drops=self.drops,
                )
                _LOGGER.info("%s ladder: %s", peer, ladder_note(ladders[peer]))
        return latency, best, ladders

    def remove(self) -> None:
        """Give the lock models and zigpy their own methods back."""
        self.watch.remove()
        self.drops.remove()


def _merge(before: TapRun | None, run: TapRun) -> TapRun:
    """Two runs of one kind as one."""
    if before is None:
        return run
    merged = TapRun(offered_per_s=run.offered_per_s)
    for name in (
        "sent",
        "lost",
        "late",
        "extra",
        "dropped",
        "dropped_reports",
        "span_s",
        "problems",
    ):
        setattr(merged, name, getattr(before, name) + getattr(run, name))
    merged.latencies = before.latencies + run.latencies
    merged.lag_max_s = max(before.lag_max_s, run.lag_max_s)
    merged.first_problem = before.first_problem or run.first_problem
    return merged


def _report(
    results: Results,
    peer: str,
    latency: TapRun,
    best: TapRun | None,
    ladder: list[TapRun] | None,
) -> None:
    """The peer's values and rows."""
    key = f"peer_{peer}"
    for q in (50, 99):  # None when no tap was answered (NaN is no JSON)
        value = latency.p(q)
        results.values[f"{key}_tap_to_unlock_ms_p{q}"] = (
            None if math.isnan(value) else round(value, 3)
        )
    results.values[f"{key}_taps_per_s_max"] = round(best.answered_per_s, 1) if best else 0.0
    name = "automation per lock" if peer == PER_LOCK else "one template automation"
    faults = latency.faults()
    results.row(
        f"peer ({name}): tap -> unlock",
        f"p50 {latency.p(50):.2f} / p99 {latency.p(99):.2f} ms",
        f"{latency.offered_per_s or 0:.0f} taps/s over the rooms, n={latency.answered}"
        + (f"; {faults}" if faults else ""),
    )
    if ladder is not None:
        note = f"open loop, offered: {ladder_note(ladder)}"
    elif best is not None:
        note = f"every room tapping again once answered (closed loop), n={best.answered}"
        note += f"; p50 {best.p(50):.2f} ms" + (f"; {best.faults()}" if best.faults() else "")
    else:
        note = ""
    results.row(
        f"peer ({name}): taps/s max",
        f"{best.answered_per_s:.0f} /s" if best else "none held",
        note,
    )
