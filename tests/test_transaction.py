"""Races and lost writes the one transaction closes, each test named after the one it closes.

Every change of state takes the library's one transaction: decided under its lock, written
before it is acted on, and put back whole when the write fails. Each test here sets up two
things happening at once, or a disk that fails half-way, and checks what staff and patrons
would see.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.storage import Store
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.ntnu_library.const import DOMAIN, PATRONS_SIP2
from custom_components.ntnu_library.websocket import async_patron_action

from .conftest import PASSWORD, SMALL_SITE, IlsServer, call_service, patron_action, state_of

SIP2_ONLY = pytest.mark.parametrize("patron_system", [PATRONS_SIP2])
OCCUPANCY = {"occupied", "vacant"}


@pytest.fixture
def site_rooms() -> tuple[str, ...]:
    """Five rooms keep set-up fast."""
    return SMALL_SITE


@pytest.fixture
def policy_options(policy_options: dict[str, Any]) -> dict[str, Any]:
    """The conftest policy with the demo's kiosk and return boxes."""
    return policy_options | {"kiosks": ["K1"], "return_boxes": ["main", "gongguan", "linkou"]}


class Disk:
    """The Stores' disk, which a test can make fail or hold (per Store key prefix)."""

    def __init__(self) -> None:
        self.failing: set[str] = set()
        self.fail_after: dict[str, int] = {}  # prefix -> writes that still succeed
        self.fail_once: set[str] = set()
        self.held: dict[str, asyncio.Event] = {}
        self.waiting: dict[str, asyncio.Event] = {}

    def hold(self, prefix: str) -> asyncio.Event:
        """Writes of these Stores wait until the returned event is set."""
        self.held[prefix] = asyncio.Event()
        self.waiting[prefix] = asyncio.Event()
        return self.held[prefix]

    async def check(self, key: str) -> None:
        for prefix, release in list(self.held.items()):
            if key.startswith(prefix):
                self.waiting[prefix].set()
                await release.wait()
        for prefix, left in list(self.fail_after.items()):
            if key.startswith(prefix):
                if left <= 0:
                    raise OSError("No space left on device")
                self.fail_after[prefix] = left - 1
        for prefix in list(self.fail_once):
            if key.startswith(prefix):
                self.fail_once.discard(prefix)
                raise OSError("No space left on device")
        if any(key.startswith(prefix) for prefix in self.failing):
            raise OSError("No space left on device")


@pytest.fixture
def disk(monkeypatch: pytest.MonkeyPatch) -> Disk:
    the_disk = Disk()
    original = Store.async_save

    async def async_save(store: Store[Any], data: Any) -> None:
        await the_disk.check(store.key)
        await original(store, data)

    monkeypatch.setattr(Store, "async_save", async_save)
    return the_disk


LIBRARY_STORE = f"{DOMAIN}.library."


def library_data(hass_storage: dict[str, Any]) -> dict[str, Any]:
    """What the library's Store holds on disk."""
    keys = [key for key in hass_storage if key.startswith(LIBRARY_STORE)]
    assert len(keys) == 1
    data: dict[str, Any] = hass_storage[keys[0]]["data"]
    return data


async def borrowing(hass: HomeAssistant, room: str, patron_id: str) -> dict[str, Any]:
    """A patron's borrow that runs beside others (answered when decided, not when all is done)."""
    return await async_patron_action(
        hass, room=room, action="borrow", patron_id=patron_id, password=PASSWORD
    )


async def until(condition: Callable[[], bool]) -> None:
    """Let the event loop run until `condition` holds (Zigbee frames are in flight)."""
    for _ in range(10_000):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("never happened")


async def test_a_patron_removed_while_their_borrow_waits_is_never_both(
    hass: HomeAssistant, init_integration: MockConfigEntry, disk: Disk
) -> None:
    """A patron whose password was checked waits for the decision while staff remove them.

    Either the borrow is decided first (the patron holds the room, and is not removed) or the
    removal is (and the borrow refused); never a room held by a patron who no longer exists.
    """
    site_store = f"{DOMAIN}.{init_integration.entry_id}"
    directory = init_integration.runtime_data.patrons.directory
    original = directory.run_blocking
    checked = asyncio.Event()

    async def check_then_tell(func: Callable[..., Any], *args: Any) -> Any:
        result = await original(func, *args)
        checked.set()
        return result

    # Another decision is being written: the next ones wait for it.
    release = disk.hold(site_store)
    other = hass.async_create_task(borrowing(hass, "T02", "G0001"))
    await disk.waiting[site_store].wait()
    directory.run_blocking = check_then_tell
    borrow = hass.async_create_task(borrowing(hass, "T01", "S0001"))
    await checked.wait()  # S0001 is who they say; their borrow waits to be decided
    directory.run_blocking = original
    removal = hass.async_create_task(
        hass.services.async_call(
            DOMAIN, "remove_patron", {"patron_id": "S0001"}, blocking=True, return_response=True
        )
    )
    for _ in range(100):
        await asyncio.sleep(0)
    release.set()
    borrowed, removed, _ = await asyncio.gather(borrow, removal, other, return_exceptions=True)
    assert not (isinstance(borrowed, dict) and isinstance(removed, dict)), (borrowed, removed)
    assert isinstance(borrowed, dict)  # the borrow asked first: it is decided first
    assert borrowed["status"] == "in_use"
    assert isinstance(removed, HomeAssistantError)
    assert removed.translation_key == "room_has_holder"


async def test_a_patron_removed_whose_write_fails_is_still_there(
    hass: HomeAssistant, init_integration: MockConfigEntry, disk: Disk
) -> None:
    """A removal the disk did not take did not happen: the patron still borrows."""
    disk.failing.add(LIBRARY_STORE)
    with pytest.raises(HomeAssistantError) as err:
        await call_service(hass, "remove_patron", {"patron_id": "S0001"})
    assert err.value.translation_key == "storage_failed"
    disk.failing.clear()
    result = await patron_action(hass, "borrow", "T01", "S0001")
    assert result["status"] == "in_use"


async def test_a_membership_extension_whose_write_fails_changes_nothing(
    hass: HomeAssistant, init_integration: MockConfigEntry, disk: Disk
) -> None:
    """Staff are told the extension failed, and it did: the old expiry stands."""
    before = (await call_service(hass, "patron_loans", {"patron_id": "S0001"}))[
        "membership_expires"
    ]
    disk.failing.add(LIBRARY_STORE)
    with pytest.raises(HomeAssistantError) as err:
        await call_service(hass, "extend_membership", {"patron_id": "S0001"})
    assert err.value.translation_key == "storage_failed"
    disk.failing.clear()
    after = await call_service(hass, "patron_loans", {"patron_id": "S0001"})
    assert after["membership_expires"] == before


async def test_an_occupancy_report_during_a_failed_write_is_kept(
    hass: HomeAssistant,
    frozen_clock: FrozenDateTimeFactory,
    init_integration: MockConfigEntry,
    disk: Disk,
) -> None:
    """A room left empty while another command's write fails still goes back when empty.

    The failed command puts back what it changed, not what the sensor said meanwhile.
    """
    site_store = f"{DOMAIN}.{init_integration.entry_id}"
    radio = init_integration.runtime_data.radio
    await patron_action(hass, "borrow", "T01", "S0001")
    await call_service(hass, "simulate", {"room": "T01", "action": "occupied"})

    release = disk.hold(site_store)
    borrow = hass.async_create_task(borrowing(hass, "T02", "G0001"))
    await disk.waiting[site_store].wait()  # T02's borrow is being written
    left = hass.async_create_task(
        call_service(hass, "simulate", {"room": "T01", "action": "vacant"})
    )
    await until(lambda: radio.occupied("T01") is False)
    disk.fail_once.add(site_store)
    release.set()
    with pytest.raises(HomeAssistantError) as err:
        await borrow
    assert err.value.translation_key == "storage_failed"
    await left
    await hass.async_block_till_done()
    assert state_of(hass, "sensor.t02_status") == "idle"

    frozen_clock.tick(timedelta(minutes=31))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert state_of(hass, "sensor.t01_status") == "idle"  # returned: empty for 30 minutes


async def test_pruning_whose_write_fails_is_tried_again(
    hass: HomeAssistant,
    frozen_clock: FrozenDateTimeFactory,
    init_integration: MockConfigEntry,
    disk: Disk,
    hass_storage: dict[str, Any],
) -> None:
    """An ended freeze is dropped from the disk too, once the disk takes writes again."""
    assert "X0001" in library_data(hass_storage)["patron_state"]["freezes"]
    frozen_clock.tick(timedelta(days=31))  # the demo's freeze of X0001 has ended
    disk.failing.add(LIBRARY_STORE)
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)
    disk.failing.clear()
    frozen_clock.tick(timedelta(minutes=1))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert "X0001" not in library_data(hass_storage)["patron_state"]["freezes"]


@SIP2_ONLY
async def test_loans_the_ils_lists_are_written_when_learnt(
    hass: HomeAssistant,
    ils: IlsServer,
    init_integration: MockConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    """A loan made at another terminal, learnt from the ILS, is on disk when it is answered."""
    from ils_records import Loan as IlsLoan

    ils.loans["B00009"] = IlsLoan("S0001", ils.due())
    answer = await call_service(hass, "patron_loans", {"patron_id": "S0001"})
    assert [loan["barcode"] for loan in answer["loans"]] == ["B00009"]
    assert "B00009" in library_data(hass_storage)["circulation"]["loans"]


@SIP2_ONLY
async def test_a_checkout_the_ils_made_is_on_the_receipt_when_its_record_cannot_be_written(
    hass: HomeAssistant,
    ils: IlsServer,
    init_integration: MockConfigEntry,
    disk: Disk,
) -> None:
    """The ILS lent the book: the patron gets the receipt; the record follows the ILS later."""
    disk.fail_after[LIBRARY_STORE] = 1  # the decision is written, the ILS's answer is not
    result = await call_service(
        hass, "self_checkout", {"patron_id": "S0001", "items": ["B00001"], "kiosk": "K1"}
    )
    assert [line["barcode"] for line in result["receipt"]] == ["B00001"]
    assert ils.loans_of("S0001") == ["B00001"]
    disk.fail_after.clear()
    answer = await call_service(hass, "patron_loans", {"patron_id": "S0001"})
    assert [loan["barcode"] for loan in answer["loans"]] == ["B00001"]


@SIP2_ONLY
async def test_two_box_drops_at_once_keep_their_own_due_dates(
    hass: HomeAssistant,
    ils: IlsServer,
    init_integration: MockConfigEntry,
) -> None:
    """Items lent elsewhere, dropped in two boxes at once, keep the ILS's due dates."""
    from ils_records import Loan as IlsLoan

    due_a, due_b = ils.due() + timedelta(days=3), ils.due() + timedelta(days=9)
    ils.loans["B00011"] = IlsLoan("S0001", due_a)
    ils.loans["B00013"] = IlsLoan("S0001", due_a)
    ils.loans["B00012"] = IlsLoan("G0001", due_b)
    system = init_integration.runtime_data.patrons.ils
    assert system is not None
    original = system.async_item_information
    first_answered, other_box_asked = asyncio.Event(), asyncio.Event()

    async def interleaved(barcode: str) -> Any:
        if barcode == "B00013":  # the first box's second item waits for the other box
            await other_box_asked.wait()
        answer = await original(barcode)
        if barcode == "B00011":
            first_answered.set()
        if barcode == "B00012":
            other_box_asked.set()
        return answer

    system.async_item_information = interleaved  # type: ignore[method-assign]
    first = hass.async_create_task(
        call_service(hass, "return_box_drop", {"box": "main", "items": ["B00011", "B00013"]})
    )
    await first_answered.wait()  # the other box is emptied while the first is being read
    await call_service(hass, "return_box_drop", {"box": "linkou", "items": ["B00012"]})
    await first
    system.async_item_information = original  # type: ignore[method-assign]
    for patron_id, code, due in (
        ("S0001", "B00011", due_a),
        ("S0001", "B00013", due_a),
        ("G0001", "B00012", due_b),
    ):
        answer = await call_service(hass, "patron_loans", {"patron_id": patron_id})
        dues = {loan["barcode"]: loan["due"] for loan in answer["loans"]}
        assert dues[code] == due.date().isoformat(), code


async def test_a_lock_owed_whose_write_fails_is_still_locked_when_it_answers(
    hass: HomeAssistant, init_integration: MockConfigEntry, disk: Disk
) -> None:
    """Fail secure: a debt the disk would not take is still paid when the lock answers."""
    site_store = f"{DOMAIN}.{init_integration.entry_id}"
    radio = init_integration.runtime_data.radio
    await patron_action(hass, "borrow", "T01", "S0001")
    await call_service(hass, "simulate", {"room": "T01", "action": "offline"})
    disk.fail_after[site_store] = 1  # the return is written; the lock it is owed is not
    returned = await patron_action(hass, "return", "T01", "S0001")
    assert returned["door"] == "lock_failed"
    assert returned["status"] == "unavailable"  # returned, its lock away
    assert state_of(hass, "binary_sensor.t01_lock_pending") == "on"
    disk.fail_after.clear()

    await call_service(hass, "simulate", {"room": "T01", "action": "online"})
    await hass.async_block_till_done(wait_background_tasks=True)
    assert radio.lock_model("T01").lock_state == 1  # DoorLock.LockState.Locked
    assert state_of(hass, "lock.t01") == "locked"
    assert state_of(hass, "binary_sensor.t01_lock_pending") == "off"


async def test_a_flood_of_occupancy_reports_is_written_a_few_times(
    hass: HomeAssistant,
    frozen_clock: FrozenDateTimeFactory,
    init_integration: MockConfigEntry,
    disk: Disk,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Sensors chattering while a write is slow cost one more write, not one each; none lost."""
    site = init_integration.runtime_data
    site_store = f"{DOMAIN}.{init_integration.entry_id}"
    for room, patron in (("T01", "S0001"), ("T02", "G0001")):
        await patron_action(hass, "borrow", room, patron)
        await call_service(hass, "simulate", {"room": room, "action": "occupied"})
    writes: list[str] = []
    original = disk.check

    async def counted(key: str) -> None:
        writes.append(key)
        await original(key)

    monkeypatch.setattr(disk, "check", counted)
    changes: list[str] = []
    unsubscribe = site.radio.subscribe(
        lambda event: changes.append(event.room_id) if event.type.value in OCCUPANCY else None
    )
    flood = [("T01", "vacant"), ("T02", "vacant"), ("T01", "occupied")] * 10
    flood += [("T01", "vacant")]  # T01 changes 21 times and ends empty; T02 once, to empty
    release = disk.hold(site_store)  # the disk is slow: the first report's write waits
    try:
        for room, what in flood:
            await site.radio.async_simulate(room, what)
        await until(lambda: len(changes) >= 22)
    finally:
        unsubscribe()
        release.set()
    await hass.async_block_till_done(wait_background_tasks=True)
    assert writes.count(site_store) == 2, writes

    frozen_clock.tick(timedelta(minutes=31))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert state_of(hass, "sensor.t01_status") == "idle"  # returned: empty for 30 minutes
    assert state_of(hass, "sensor.t02_status") == "idle"
