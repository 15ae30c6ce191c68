"""`scripts/bench --day`: a library day at 1,000 rooms, opening to closing, at the bench's speed.

`measure_day(config_dir, scale, results, rooms=1000)` replays one planned day
(scripts/lib/bench_day_plan.py) in a real Home Assistant with the site on the simulated
network, from 07:50 to 22:15 local time (Asia/Taipei), a minute at a time:

- The clock is driven, not waited for: Home Assistant's wall clock is frozen with freezegun
  (as the tests' `freezer`) and the event loop's clock is moved with it, a minute per step,
  then `async_fire_time_changed` runs what fell due (the doors' relock timers, the site's
  policy tick: automatic returns of rooms empty too long and at closing) and the step settles
  (`async_block_till_done`, background tasks included) before the next minute's visits act.
- Visits: patrons borrow (most through the staff `borrow` service, `patron_share` of them
  through the patron command `websocket.async_patron_action` with their password), open and
  close the door, are seen by the occupancy sensor, take breaks (out with the PUSH button, back
  with their card: `simulate card_tap` with `C-` + the patron ID), push the button and stay in,
  have another patron's card tried at their door, return the room (the same way they borrowed
  it), leave without returning, never enter, or stay until closing. Every device act is the
  `simulate` service (the real ZCL frames through zigpy).
- The day's patrons are in the local directory, imported in one transaction as the demo seeds
  its own, all with one bcrypt hash at cost 4 (the real cost, 12, is measured elsewhere in the
  bench; at 12 the patron command's borrows would be the bcrypt thread's time, not the site's).
- At `restart_at` Home Assistant is stopped and a new one started on the same config folder:
  the Stores are read again, the simulated network starts again with what its devices keep in
  their own memory (as real ones do), and the sensors of rooms with someone inside report them.
- At `radio_loss_at` the locks of `radio_loss_share` of the rooms go offline (the `simulate`
  service's `offline`) for `radio_loss_minutes`, then come back (`online`).

The replay's ledger (what it asked for, what the site answered) is checked against the site's
state just before and after the restart and against its `ntnu_library_event`s at the end.
Results: `day_events` (events on the bus), `day_lost` (borrows or returns lost, events doubled
or missing), `day_doors_left_unlocked` (locks whose bolt is open at the end, nobody inside,
every relock time passed), `day_wall_s`, and `day_detail` (the ledger in numbers).

Scale attributes read with getattr (defaults in brackets): day_rooms [the `rooms` argument],
day_seed [21], day_opens ["08:00"], day_closes ["22:00"], day_visit_minutes [(60, 300)],
day_patron_share [0.25], day_restart_at ["13:00"], day_radio_loss_at ["16:00"],
day_radio_loss_minutes [15], day_radio_loss_share [0.05], day_concurrency [32],
day_budget_s [1800: real seconds, then TimeoutError]. `QUICK` is the small day for `--quick`
(20 rooms, 08:00-12:00, a few seconds).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import date, datetime, timedelta
import logging
import os
import random
import shutil
import tempfile
from typing import Any
from zoneinfo import ZoneInfo

from bench_day_clock import REAL, DayClock, Timeline
from bench_day_ledger import Borrowed, Ledger, report
from bench_day_plan import (  # scripts/lib is on sys.path when bench.py runs
    CLOSING,
    LEAVE,
    NO_SHOW,
    PATRON_CMD,
    RETURN,
    Visit,
    assign_patrons,
    hhmm,
    minute_of,
    plan_day,
)
from bench_site import (
    TIME_ZONE,
    async_setup_site,
    async_warm_up,
    bench_hass,
    make_rooms,
    site_entry,
)

# `--quick`: 20 rooms, a morning (restart, radio loss and closing all in it).
QUICK = {
    "day_rooms": 20,
    "day_closes": "12:00",
    "day_restart_at": "10:00",
    "day_radio_loss_at": "11:00",
    "day_radio_loss_share": 0.1,
}
DAY = date(2025, 3, 12)  # a Wednesday in term
PASSWORD = "Study-room-day-2025"  # the day's patrons' own password (bcrypt cost 4)
DAY_BCRYPT_COST = 4
CALLER = "bench:day"
_LOGGER = logging.getLogger("ntnu_library.bench.day")
AFTER_CLOSING = 15  # minutes the replay runs on after closing (relock times long passed)
STEP_LIMIT_S = 120  # real seconds one minute of the day may take before the replay gives up


class LibraryDay:
    """The replay: one site, its visits, its ledger; Home Assistant changes at the restart."""

    def __init__(self, scale: Any, rooms: int) -> None:
        self.rooms = getattr(scale, "day_rooms", None) or rooms
        self.rng = random.Random(getattr(scale, "day_seed", 21))
        self.opens = minute_of(getattr(scale, "day_opens", "08:00"))
        self.closes = minute_of(getattr(scale, "day_closes", "22:00"))
        self.patron_share = float(getattr(scale, "day_patron_share", 0.25))
        self.restart_at = minute_of(getattr(scale, "day_restart_at", "13:00"))
        self.loss_at = minute_of(getattr(scale, "day_radio_loss_at", "16:00"))
        self.loss_minutes = int(getattr(scale, "day_radio_loss_minutes", 15))
        self.loss_share = float(getattr(scale, "day_radio_loss_share", 0.05))
        self.slots = asyncio.Semaphore(int(getattr(scale, "day_concurrency", 32)))
        self.budget_s = float(getattr(scale, "day_budget_s", 1800))
        self.began = REAL["perf"]()
        self.deadline = self.began + self.budget_s  # real seconds: the loop's clock is moved
        self.room_ids = [room.room_id for room in make_rooms(self.rooms)]
        self.visits = plan_day(
            self.room_ids,
            self.rng,
            opens=self.opens,
            closes=self.closes,
            visit_minutes=tuple(getattr(scale, "day_visit_minutes", (60, 300))),
            patron_share=self.patron_share,
        )
        self.patrons = assign_patrons(self.visits, self.rng)
        self.bcrypt_cost = DAY_BCRYPT_COST
        self.ledger = Ledger()
        self.timeline = Timeline(self.opens - 10)
        self.inside: dict[str, bool] = {}
        self.offline: list[str] = []
        self.unlocked: list[str] = []
        self.phases: Counter[str] = Counter()  # real seconds: visits, settle, timers
        self.writes: Counter[str] = Counter()  # Store writes: site, library; their seconds
        self.store_kb: dict[str, float] = {}
        self.clock: DayClock | None = None
        self.hass: Any = None
        self.entry: Any = None

    @property
    def site(self) -> Any:
        """The site of the Home Assistant running now."""
        return self.entry.runtime_data

    # --- Home Assistant ------------------------------------------------------------------------

    async def attach(self, hass: Any, entry: Any) -> float:
        """Set the site up in this Home Assistant and listen to its events; set-up seconds."""
        from custom_components.ntnu_library.const import EVENT_NAME

        self.hass, self.entry = hass, entry
        fields = ("type", "room", "ref", "reason", "source")
        hass.bus.async_listen(  # before the set-up: a start may return rooms or relock doors
            EVENT_NAME,
            lambda event: self.ledger.event(
                {k: event.data.get(k) for k in fields} | {"minute": self.timeline.minute}
            ),
        )
        await async_warm_up(hass)
        started = REAL["perf"]()  # the bench's own timings read the frozen perf_counter
        await async_setup_site(hass, entry)
        seconds = REAL["perf"]() - started
        await self.settle()
        self._time_writes(entry.runtime_data)
        return seconds

    def _time_writes(self, site: Any) -> None:
        """Count and time the writes of the site's, its locks' and the library's Stores."""
        for name, storage in _stores(site):
            save = storage.async_save

            async def timed(save: Any = save, name: str = name) -> None:
                started = REAL["perf"]()
                try:
                    await save()
                finally:
                    self.writes[name] += 1
                    self.writes[f"{name}_s"] += REAL["perf"]() - started

            storage.async_save = timed

    async def settle(self) -> None:
        """Everything started has finished (taps, relocks, automatic returns, Store writes)."""
        await self.hass.async_block_till_done(wait_background_tasks=True)

    def held(self) -> dict[str, tuple[str, str]]:
        """The site's borrows: room -> (patron, ref)."""
        return {room: (b.patron_id, b.ref) for room, b in self.site.rooms.state.borrows.items()}

    async def import_patrons(self) -> None:
        """The day's patrons, in one transaction, with one hash at cost DAY_BCRYPT_COST."""
        import bcrypt

        from custom_components.ntnu_library.core.categories import default_membership_expiry

        hashed = await self.hass.async_add_executor_job(
            lambda: bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(DAY_BCRYPT_COST)).decode()
        )
        expires = default_membership_expiry("student_undergraduate", DAY).isoformat()
        records = [
            {
                "patron_id": pid,
                "name": f"Day patron {pid}",
                "category": "student_undergraduate",
                "membership_expires": expires,
                "suspended": False,
                "card": f"C-{pid}",
                "password_hash": hashed,
            }
            for pid in self.patrons
        ]
        await self.site.patrons.directory.async_import(records)

    # --- what patrons and devices do -----------------------------------------------------------

    async def _service(self, service: str, data: dict[str, Any]) -> Any:
        from custom_components.ntnu_library.const import DOMAIN

        async with self.slots:
            return await self.hass.services.async_call(
                DOMAIN, service, data, blocking=True, return_response=True
            )

    async def _as_patron(self, visit: Visit, action: str) -> dict[str, Any]:
        """The patron's own borrow or return: password command, or staff at the counter."""
        from custom_components.ntnu_library.websocket import async_patron_action

        data = {"room": visit.room, "patron_id": visit.patron}
        if visit.via != PATRON_CMD:
            service = "borrow" if action == "borrow" else "return_room"
            return dict(await self._service(service, data))
        async with self.slots:
            return await async_patron_action(
                self.hass, action=action, password=PASSWORD, caller=CALLER, **data
            )

    async def simulate(self, room: str, action: str, card: str | None = None) -> None:
        """A device acts (real frames through zigpy); returns once the site has handled them."""
        data = {"room": room, "action": action} | ({"card": card} if card else {})
        self.ledger.asked[f"simulate:{action}"] += 1
        if action == "push_button":  # one push_exit, live or from the lock's log
            self.ledger.pushes[room] += 1
        await self._service("simulate", data)

    def bolt_open(self, room: str) -> bool:
        """The simulated lock's own bolt (not what the site believes)."""
        from zigpy.zcl.clusters.closures import DoorLock

        return self.site.radio.lock_model(room).lock_state == DoorLock.LockState.Unlocked

    async def borrow(self, visit: Visit) -> Borrowed | None:
        """Borrow; the ledger keeps the answer and the borrow's ref."""
        from homeassistant.exceptions import HomeAssistantError

        self.ledger.asked[f"borrow:{visit.via}"] += 1
        try:
            answer = await self._as_patron(visit, "borrow")
        except HomeAssistantError as err:
            self.ledger.refused[f"borrow:{err.translation_key or type(err).__name__}"] += 1
            return None
        self.ledger.asked[f"borrow_door:{answer.get('door')}"] += 1
        held = self.site.rooms.state.borrows.get(visit.room)
        if answer.get("status") != "in_use" or held is None or held.patron_id != visit.patron:
            self.ledger.problem("borrow_lost", f"{visit.room}: acknowledged {answer}, not held")
            return None
        borrowed = Borrowed(visit=visit, ref=held.ref, at=self.timeline.minute)
        self.ledger.borrows[held.ref] = borrowed
        return borrowed

    async def give_back(self, visit: Visit, borrowed: Borrowed) -> None:
        """Return the room the way it was borrowed."""
        from homeassistant.exceptions import HomeAssistantError

        self.ledger.asked[f"return:{visit.via}"] += 1
        try:
            answer = await self._as_patron(visit, "return")
        except HomeAssistantError as err:
            self.ledger.refused[f"return:{err.translation_key or type(err).__name__}"] += 1
            return
        borrowed.returned_at = self.timeline.minute
        held = self.site.rooms.state.borrows.get(visit.room)
        if answer.get("holder") is not None or (held is not None and held.ref == borrowed.ref):
            self.ledger.problem("return_lost", f"{visit.room}: acknowledged {answer}, still held")

    async def enter(self, visit: Visit) -> None:
        """Through the unlocked door, seen by the sensor; the lock throws its bolt on closing."""
        for action in ("door_open", "occupied", "door_close"):
            await self.simulate(visit.room, action)
        self.inside[visit.room] = True

    async def leave(self, visit: Visit) -> None:
        """Out with the PUSH button; the room is empty."""
        for action in ("push_button", "door_open", "vacant", "door_close"):
            await self.simulate(visit.room, action)
        self.inside[visit.room] = False

    async def come_back(self, visit: Visit, borrowed: Borrowed) -> bool:
        """The holder's card at the reader; in if the door opened."""
        await self.simulate(visit.room, "card_tap", f"C-{visit.patron}")
        if not self.bolt_open(visit.room):
            self.ledger.taps["holder_not_opened"] += 1
            self.ledger.refusable[visit.room] += 1
            return False
        self.ledger.taps["holder_opened"] += 1
        borrowed.opened_by_card += 1
        await self.enter(visit)
        return True

    async def stranger(self, visit: Visit) -> None:
        """Another patron's card at a door: refused, the bolt stays."""
        await self.timeline.until(visit.stranger or 0)
        was_open = self.bolt_open(visit.room)
        await self.simulate(visit.room, "card_tap", visit.stranger_card)
        self.ledger.taps["stranger"] += 1
        self.ledger.refusable[visit.room] += 1
        if not was_open and self.bolt_open(visit.room):
            self.ledger.problem("stranger_opened", f"{visit.room}: {visit.stranger_card}")

    async def visit(self, visit: Visit) -> None:
        """One visit, minute by minute."""
        until = self.timeline.until
        await until(visit.start)
        borrowed = await self.borrow(visit)
        if borrowed is None or visit.ending == NO_SHOW:
            return
        if visit.stranger is not None and visit.stranger_card:
            self.timeline.spawn(self.stranger(visit))
        await self.enter(visit)
        moments = sorted([*visit.breaks, *([(visit.hesitate, 0)] if visit.hesitate else [])])
        for out, back in moments:
            await until(out)
            if not back:  # pushes the button, stays in: the site relocks the door
                await self.simulate(visit.room, "push_button")
                continue
            await self.leave(visit)
            while not await self._back_in(visit, borrowed, back):
                if (back := back + 3) >= visit.end or self._gone(visit, borrowed):
                    return  # gave up: the site returns the room once it has been empty long enough
        await until(visit.end)
        if visit.ending == RETURN:
            await self.leave(visit)
            await self.give_back(visit, borrowed)
        elif visit.ending == LEAVE:
            await self.leave(visit)
        elif visit.ending == CLOSING:
            await until(self.closes + 1)  # returned at closing by the site; then out
            await self.leave(visit)

    async def _back_in(self, visit: Visit, borrowed: Borrowed, back: int) -> bool:
        await self.timeline.until(back)
        return not self._gone(visit, borrowed) and await self.come_back(visit, borrowed)

    def _gone(self, visit: Visit, borrowed: Borrowed) -> bool:
        held = self.site.rooms.state.borrows.get(visit.room)
        return held is None or held.ref != borrowed.ref

    async def radio_loss(self) -> None:
        """Some locks drop off the network for a while, then come back."""
        await self.timeline.until(self.loss_at)
        count = max(1, round(self.rooms * self.loss_share)) if self.loss_share else 0
        self.offline = sorted(self.rng.sample(self.room_ids, count))
        await asyncio.gather(*(self.simulate(room, "offline") for room in self.offline))
        await self.timeline.until(self.loss_at + self.loss_minutes)
        await asyncio.gather(*(self.simulate(room, "online") for room in self.offline))

    # --- the day -------------------------------------------------------------------------------

    async def run_until(self, last: int) -> None:
        """Minute by minute until `last` (its visits not yet acted)."""
        from pytest_homeassistant_custom_component.common import async_fire_time_changed

        perf, phases = REAL["perf"], self.phases
        while self.timeline.minute < last:
            if perf() > self.deadline:
                raise TimeoutError(f"the day took over {self.budget_s:.0f} s (at {hhmm(last)})")
            began = perf()
            # Within a minute the loop's clock runs in real seconds: a visit that hangs ends here.
            async with asyncio.timeout(STEP_LIMIT_S):
                await self.timeline.run_minute()
                acted = perf()
                await self.settle()
            settled = perf()
            if self.timeline.failures:
                raise self.timeline.failures[0]
            assert self.clock is not None
            self.clock.advance(60)
            self.timeline.minute += 1
            async_fire_time_changed(self.hass)  # what fell due: relocks, the policy tick
            async with asyncio.timeout(STEP_LIMIT_S):
                await self.settle()
            if self.timeline.minute % 60 == 0:
                _LOGGER.info(
                    "day at %s: %.0f s, %d events",
                    hhmm(self.timeline.minute),
                    perf() - self.began,
                    len(self.ledger.events),
                )
            phases["visits"] += acted - began
            phases["settle"] += settled - acted
            phases["timers"] += perf() - settled

    async def after_restart(self) -> None:
        """The new simulated network's sensors see the patrons still inside."""
        await asyncio.gather(
            *(self.simulate(room, "occupied") for room, there in self.inside.items() if there)
        )
        await self.settle()

    def doors_left_unlocked(self) -> list[str]:
        """Bolts open at the end with nobody inside."""
        return [r for r in self.room_ids if not self.inside.get(r) and self.bolt_open(r)]


def _same_entry(entry: Any) -> Any:
    """The site's entry for the next Home Assistant: same ids, data and rooms."""
    from pytest_homeassistant_custom_component.common import MockConfigEntry

    return MockConfigEntry(
        domain=entry.domain,
        title=entry.title,
        unique_id=entry.unique_id,
        entry_id=entry.entry_id,
        data=dict(entry.data),
        options=dict(entry.options),
        subentries_data=[
            {
                "data": dict(sub.data),
                "subentry_id": sub.subentry_id,
                "subentry_type": sub.subentry_type,
                "title": sub.title,
                "unique_id": sub.unique_id,
            }
            for sub in entry.subentries.values()
        ],
    )


async def measure_day(config_dir: str, scale: Any, results: Any, *, rooms: int = 1000) -> None:
    """Replay the day; the values and rows go to `results` (see the module's docstring)."""
    from custom_components.ntnu_library.core.policy import Policy

    started = REAL["perf"]()
    day = LibraryDay(scale, rooms)
    folder = tempfile.mkdtemp(prefix="day-", dir=config_dir)
    start = datetime.combine(DAY, datetime.min.time(), ZoneInfo(TIME_ZONE)) + timedelta(
        minutes=day.timeline.minute
    )
    clock = day.clock = DayClock(start)
    clock.start()
    try:
        opens, closes = hhmm(day.opens), hhmm(day.closes)
        policy = Policy(closing_time=closes, counter_opens=opens, counter_closes=closes)
        setup_s, restart_s = await _replay(day, folder, policy)
    finally:
        await day.timeline.cancel()
        clock.stop()
        shutil.rmtree(folder, ignore_errors=True)
    report(day, results, setup_s, restart_s, REAL["perf"]() - started)


async def _replay(day: LibraryDay, folder: str, policy: Any) -> tuple[float, float]:
    """Both Home Assistants; the set-up and restart seconds."""
    entry = site_entry(make_rooms(day.rooms), demo_data=False, policy=policy)
    async with bench_hass(folder) as hass:
        setup_s = await day.attach(hass, entry)
        await day.import_patrons()
        for visit in day.visits:
            day.timeline.spawn(day.visit(visit))
        day.timeline.spawn(day.radio_loss())
        await day.run_until(day.restart_at)
        day.ledger.check_state(day.held(), "before the restart")
        restarting = REAL["perf"]()
    async with bench_hass(folder) as hass:
        await day.attach(hass, _same_entry(entry))
        restart_s = REAL["perf"]() - restarting
        day.ledger.check_state(day.held(), "after the restart")
        await day.after_restart()
        await day.run_until(day.closes + AFTER_CLOSING)
        day.unlocked = day.doors_left_unlocked()
        day.ledger.check_events(day.held())
        for name, storage in _stores(day.site):
            size = await hass.async_add_executor_job(os.path.getsize, storage.path)
            day.store_kb[name] = size / 1024
        await hass.config_entries.async_unload(day.entry.entry_id)
        await hass.async_block_till_done()
    return setup_s, restart_s


def _stores(site: Any) -> tuple[tuple[str, Any], ...]:
    """The Stores a day writes, by name."""
    return (
        ("site", site.storage),
        ("locks", site.slots.kept.storage),
        ("library", site.library.storage),
    )
