"""The integration's services, called as Home Assistant calls them, on the simulated network."""

from __future__ import annotations

import asyncio
import copy
from datetime import date, datetime, timedelta
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.auth.models import User
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import Context, Event, HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError, Unauthorized
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed
import voluptuous as vol

from custom_components.ntnu_library.commands import LOGIN_FAILURES
from custom_components.ntnu_library.const import (
    CONF_DEMO_DATA,
    CONF_PATRON_SYSTEM,
    CONF_RADIO,
    CONF_SITE_NAME,
    DOMAIN,
    PATRONS_LOCAL,
    PATRONS_SIP2,
)
from custom_components.ntnu_library.core.errors import UNREACHABLE, Reason, Refused
from custom_components.ntnu_library.core.identity import mask_patron_id
from custom_components.ntnu_library.demo import DEMO_ROOMS
from custom_components.ntnu_library.subentries import room_subentry

from .conftest import (
    ACTIVATION_CODE,
    PASSWORD,
    THIS_MONTH,
    WHOLE_SITE,
    IlsServer,
    activate,
    call_service,
    in_transaction,
    patron_action,
    refusal,
    state_of,
)

# A Wednesday morning, mid-month: the counter rows below set hours around it.
NEXT_MONTH = "2025-04"
WRONG = "not-the-password"
PATRON_IDS = ("S0001", "G0001", "D0001", "X0001", "E0001", "F0001", "A0001")


@pytest.fixture(params=[PATRONS_LOCAL, PATRONS_SIP2])
def patron_system(request: pytest.FixtureRequest) -> str:
    """Every test here runs against the site's own directory and against the ILS over SIP2."""
    return str(request.param)


@pytest.fixture
def policy_options(
    policy_options: dict[str, Any], request: pytest.FixtureRequest
) -> dict[str, Any]:
    """The conftest policy, with a test's own changes (indirect parametrization)."""
    return policy_options | getattr(request, "param", {})


# A patron's own action (ID and password, the websocket command's core) in the tables below,
# beside the services: (PATRON, its arguments).
PATRON = "patron_action"


def _patron(
    action: str, room: str, patron_id: str, password: str = PASSWORD
) -> tuple[str, dict[str, str]]:
    return (PATRON, {"action": action, "room": room, "patron_id": patron_id, "password": password})


async def _run(hass: HomeAssistant, service: str, data: dict[str, Any]) -> dict[str, Any]:
    """One row of a table: the patron's own action, or a service."""
    if service == PATRON:
        return await patron_action(hass, **data)
    return await call_service(hass, service, data)


def _directory(entry: MockConfigEntry) -> dict[str, Any]:
    """The library's own patron directory as stored (SIP2 sites do not use it)."""
    return copy.deepcopy(entry.runtime_data.library.as_store_data()["patrons"])


def _snapshot(hass: HomeAssistant, entry: MockConfigEntry) -> dict[str, Any]:
    """Everything a refusal must leave alone."""
    runtime = entry.runtime_data
    return {
        "store": copy.deepcopy(runtime.as_store_data()["library"]),
        "patron_state": copy.deepcopy(runtime.library.as_store_data()["patron_state"]),
        "rooms": {
            s.entity_id: s.state
            for s in hass.states.async_all("sensor")
            if s.entity_id.endswith(("_status", "_holder", "_in_use_since"))
        },
        "sites": {
            s.entity_id: s.state
            for s in hass.states.async_all("sensor")
            # Failed logins are counted (tests/test_failed_logins.py): not a change of state.
            if s.entity_id.startswith("sensor.main_library_")
            and not s.entity_id.endswith("_failed_logins_last_hour")
        },
        "locks": {s.entity_id: s.state for s in hass.states.async_all("lock")},
        # The bolts themselves: a lock entity is unavailable while its lock is offline.
        "bolts": {room: runtime.radio.lock_state(room) for room in runtime.rooms.rooms},
    }


# --- 1. the acceptance path -------------------------------------------------------------------


@pytest.mark.parametrize("site_rooms", [WHOLE_SITE])
async def test_borrow_card_tap_return(
    hass: HomeAssistant, init_integration: MockConfigEntry, events: list[Event]
) -> None:
    """Seed 000 sections 1, 4 and 5 end to end, through the services and the simulated lock."""
    assert state_of(hass, "sensor.t01_status") == "idle"
    assert state_of(hass, "lock.t01") == "locked"
    idle_before = int(state_of(hass, "sensor.main_library_idle_rooms"))

    result = await patron_action(hass, "borrow", "T01", "S0001")
    assert result["room"] == "T01"
    assert result["status"] == "in_use"
    assert result["holder"] == "S***1"
    assert "S0001" not in str(result)
    assert state_of(hass, "lock.t01") == "unlocked"
    assert state_of(hass, "sensor.t01_status") == "in_use"
    assert state_of(hass, "sensor.t01_holder") == "S***1"
    assert state_of(hass, "sensor.t01_in_use_since") not in ("unknown", STATE_UNAVAILABLE)
    assert int(state_of(hass, "sensor.main_library_idle_rooms")) == idle_before - 1
    assert int(state_of(hass, "sensor.main_library_rooms_in_use")) == 1
    assert [(e.data["type"], e.data["room"], e.data["patron"]) for e in events] == [
        ("borrowed", "T01", "S***1")
    ]

    await hass.services.async_call("lock", "lock", {"entity_id": "lock.t01"}, blocking=True)
    await hass.async_block_till_done()
    assert state_of(hass, "lock.t01") == "locked"

    # Method 2 of section 4: the borrower's card opens the door.
    events.clear()
    await call_service(hass, "simulate", {"room": "T01", "action": "card_tap", "card": "C-S0001"})
    assert state_of(hass, "lock.t01") == "unlocked"
    assert [(e.data["type"], e.data["source"], e.data["patron"]) for e in events] == [
        ("card_tap", "card", "S***1")
    ]
    activity = hass.states.get("event.t01_door_activity")
    assert activity is not None
    assert activity.attributes["event_type"] == "card_tap"
    assert activity.attributes["patron"] == "S***1"

    # Any other card is refused and logged; the door stays locked.
    await hass.services.async_call("lock", "lock", {"entity_id": "lock.t01"}, blocking=True)
    events.clear()
    await call_service(hass, "simulate", {"room": "T01", "action": "card_tap", "card": "C-G0001"})
    assert state_of(hass, "lock.t01") == "locked"
    assert [(e.data["type"], e.data["reason"], e.data["patron"]) for e in events] == [
        ("refused", "not_holder", "G***1")
    ]
    activity = hass.states.get("event.t01_door_activity")
    assert activity is not None
    assert activity.attributes["event_type"] == "refused"
    assert activity.attributes["reason"] == "not_holder"
    assert state_of(hass, "sensor.t01_status") == "in_use"

    # Section 5 method 1: the borrower returns the room.
    events.clear()
    result = await patron_action(hass, "return", "T01", "S0001")
    assert result["status"] == "idle"
    assert result["holder"] is None
    assert state_of(hass, "sensor.t01_status") == "idle"
    assert state_of(hass, "lock.t01") == "locked"
    assert state_of(hass, "sensor.t01_holder") == "none"  # "No holder", not "Unknown"
    assert int(state_of(hass, "sensor.main_library_idle_rooms")) == idle_before
    assert [e.data["type"] for e in events] == ["returned"]


# --- 2. every refusal, and nothing changes ------------------------------------------------------

COUNTER_CLOSED = {"counter_opens": "13:00", "counter_closes": "17:00"}
BORROW_T01 = [_patron("borrow", "T01", "S0001")]

# (policy options, steps before, service, data, translation key)
# Where a SIP2 site answers otherwise: the ILS keeps the patrons (staff manage them there)
# and SIP2 cannot look a patron up by name.
SIP2_REFUSALS = {
    "update_unknown": "patrons_managed_elsewhere",
    "add_existing": "patrons_managed_elsewhere",
    "add_with_taken_card": "patrons_managed_elsewhere",
    "remove_unknown": "patrons_managed_elsewhere",
    "remove_borrower": "patrons_managed_elsewhere",
    "remove_long_term_holder": "patrons_managed_elsewhere",
    "counter_return_by_name_closed": "unknown_patron",
}

REFUSALS = [
    pytest.param(
        {},
        [],
        *_patron("borrow", "T01", "S0001", WRONG),
        "invalid_credentials",
        id="wrong_password",
    ),
    pytest.param(
        {}, [], *_patron("borrow", "T01", "Z9999"), "invalid_credentials", id="unknown_patron_id"
    ),
    pytest.param(
        {},
        BORROW_T01,
        *_patron("open", "T01", "S0001", WRONG),
        "invalid_credentials",
        id="open_wrong_password",
    ),
    pytest.param(
        {},
        [_patron("borrow", "T01", "S0001", WRONG)] * 6,
        *_patron("borrow", "T01", "S0001"),
        "too_many_attempts",
        id="too_many_attempts",
    ),
    pytest.param(
        {}, BORROW_T01, *_patron("borrow", "T01", "G0001"), "room_not_idle", id="room_not_idle"
    ),
    pytest.param(
        {}, [], *_patron("borrow", "L03", "S0001"), "not_temporary_room", id="borrow_long_term"
    ),
    pytest.param(
        {},
        [],
        *_patron("return", "L01", "D0001"),
        "not_temporary_room",
        id="return_long_term",
    ),
    pytest.param(
        {}, BORROW_T01, *_patron("open", "T01", "G0001"), "not_holder", id="open_not_holder"
    ),
    pytest.param(
        {},
        BORROW_T01,
        *_patron("return", "T01", "G0001"),
        "not_holder",
        id="return_not_holder",
    ),
    pytest.param(
        {}, [], *_patron("open", "L01", "S0001"), "not_holder", id="open_others_long_term"
    ),
    pytest.param({}, [], *_patron("open", "T01", "S0001"), "not_holder", id="open_idle_room"),
    pytest.param(
        {}, BORROW_T01, *_patron("borrow", "T02", "S0001"), "already_holding", id="second_room"
    ),
    pytest.param({}, [], *_patron("borrow", "T01", "X0001"), "frozen", id="frozen_borrow"),
    pytest.param({}, [], *_patron("open", "L02", "X0001"), "not_checked_in", id="frozen_open"),
    pytest.param(
        {}, [], *_patron("borrow", "T01", "E0001"), "membership_expired", id="expired_borrow"
    ),
    pytest.param(
        {},
        [],
        "reserve_long_term",
        {"room": "L03", "patron_id": "E0001", "month": THIS_MONTH},
        "membership_expired",
        id="expired_reserve",
    ),
    pytest.param(
        {},
        [("simulate", {"room": "T01", "action": "offline"})],
        *_patron("borrow", "T01", "S0001"),
        "lock_offline",
        id="offline_borrow",
    ),
    pytest.param(
        {},
        [("simulate", {"room": "L01", "action": "offline"})],
        *_patron("open", "L01", "D0001"),
        "lock_offline",
        id="offline_open",
    ),
    pytest.param({}, [], *_patron("borrow", "T99", "S0001"), "unknown_room", id="borrow_T99"),
    pytest.param({}, [], *_patron("open", "X1", "S0001"), "unknown_room", id="open_X1"),
    pytest.param(
        {}, [], "counter_return", {"room": "T99"}, "unknown_room", id="counter_return_T99"
    ),
    pytest.param({}, [], "auto_return", {"room": "T99"}, "unknown_room", id="auto_return_T99"),
    pytest.param(
        {},
        [],
        "simulate",
        {"room": "T99", "action": "push_button"},
        "unknown_room",
        id="simulate_T99",
    ),
    pytest.param({}, [], *_patron("return", "T01", "S0001"), "room_not_in_use", id="return_idle"),
    pytest.param(
        {}, [], "counter_return", {"room": "T01"}, "room_not_in_use", id="counter_return_idle"
    ),
    pytest.param(
        {},
        [],
        "counter_return",
        {"patron_id": "S0001"},
        "holds_no_room",  # "Patron S***1 holds no temporary room.", not "Room - is not in use."
        id="counter_return_patron_holds_nothing",
    ),
    pytest.param({}, [], "auto_return", {"room": "T01"}, "room_not_in_use", id="auto_return_idle"),
    pytest.param(
        COUNTER_CLOSED,
        BORROW_T01,
        "counter_return",
        {"room": "T01"},
        "outside_service_hours",
        id="counter_return_closed",
    ),
    pytest.param(
        COUNTER_CLOSED,
        BORROW_T01,
        "counter_return",
        {"patron_name": "王小明"},
        "outside_service_hours",
        id="counter_return_by_name_closed",
    ),
    pytest.param(
        COUNTER_CLOSED,
        [],
        "check_in",
        {"patron_id": "X0001"},
        "outside_service_hours",
        id="check_in_closed",
    ),
    pytest.param({}, [], "unfreeze_patron", {"patron_id": "S0001"}, "not_frozen", id="unfreeze"),
    pytest.param({}, [], "check_in", {"patron_id": "S0001"}, "not_frozen", id="check_in"),
    pytest.param(
        {},
        [],
        "reserve_long_term",
        {"room": "L01", "patron_id": "G0001", "month": THIS_MONTH},
        "already_reserved",
        id="already_reserved",
    ),
    pytest.param(
        {},
        [],
        "reserve_long_term",
        {"room": "L03", "patron_id": "D0001", "month": THIS_MONTH},
        "already_holding",
        id="reserve_second_room",
    ),
    pytest.param(
        {},
        [],
        "reserve_long_term",
        {"room": "T01", "patron_id": "G0001", "month": THIS_MONTH},
        "not_long_term_room",
        id="reserve_temporary",
    ),
    pytest.param(
        {},
        [],
        "cancel_reservation",
        {"room": "L03", "month": THIS_MONTH},
        "no_reservation",
        id="no_reservation",
    ),
    pytest.param(
        {},
        [],
        "cancel_reservation",
        {"room": "L01", "month": NEXT_MONTH},
        "no_reservation",
        id="no_reservation_next_month",
    ),
    pytest.param(
        {},
        [],
        "reserve_long_term",
        {"room": "L03", "patron_id": "G0001", "month": "2025-13"},
        "invalid_month",
        id="month_13",
    ),
    pytest.param(
        {},
        [],
        "reserve_long_term",
        {"room": "L03", "patron_id": "G0001", "month": "2025-02"},
        "invalid_month",
        id="past_month",
    ),
    pytest.param(
        {},
        [],
        "cancel_reservation",
        {"room": "L01", "month": "March"},
        "invalid_month",
        id="month_in_words",
    ),
    pytest.param(
        {}, [], "freeze_patron", {"patron_id": "Z9999"}, "unknown_patron", id="freeze_unknown"
    ),
    pytest.param(
        {}, [], "check_in", {"patron_id": "Z9999"}, "unknown_patron", id="check_in_unknown"
    ),
    pytest.param(
        {},
        [],
        "reserve_long_term",
        {"room": "L03", "patron_id": "Z9999", "month": THIS_MONTH},
        "unknown_patron",
        id="reserve_unknown",
    ),
    pytest.param(
        {},
        BORROW_T01,
        "counter_return",
        {"patron_name": "Nobody Here"},
        "unknown_patron",
        id="counter_return_unknown_name",
    ),
    pytest.param(
        {},
        BORROW_T01,
        "counter_return",
        {"patron_id": "Z9999"},
        "unknown_patron",
        id="counter_return_unknown_id",
    ),
    pytest.param(
        {},
        [],
        "update_patron",
        {"patron_id": "Z9999", "name": "Nobody"},
        "unknown_patron",
        id="update_unknown",
    ),
    pytest.param(
        {}, [], "remove_patron", {"patron_id": "Z9999"}, "unknown_patron", id="remove_unknown"
    ),
    pytest.param(
        {},
        BORROW_T01,
        "remove_patron",
        {"patron_id": "S0001"},
        "room_has_holder",
        id="remove_borrower",
    ),
    pytest.param(
        {},
        [],
        "remove_patron",
        {"patron_id": "D0001"},
        "room_has_holder",
        id="remove_long_term_holder",
    ),
    pytest.param(
        {},
        [],
        "add_patron",
        {"patron_id": "S0001", "name": "Again", "category": "alumni"},
        "patron_exists",
        id="add_existing",
    ),
    pytest.param(
        {},
        [],
        "add_patron",
        {
            "patron_id": "S0002",
            "name": "Card Thief",
            "category": "alumni",
            "card": "C-G0001",
        },
        "invalid_value",
        id="add_with_taken_card",
    ),
    # Staff at the counter act for a patron: the patron's rules hold, without a password.
    pytest.param(
        {},
        BORROW_T01,
        "borrow",
        {"room": "T01", "patron_id": "G0001"},
        "room_not_idle",
        id="counter_borrow_room_not_idle",
    ),
    pytest.param(
        {},
        BORROW_T01,
        "borrow",
        {"room": "T02", "patron_id": "S0001"},
        "already_holding",
        id="counter_borrow_second_room",
    ),
    pytest.param(
        {}, [], "borrow", {"room": "T01", "patron_id": "X0001"}, "frozen", id="counter_frozen"
    ),
    pytest.param(
        {},
        [],
        "borrow",
        {"room": "T01", "patron_id": "E0001"},
        "membership_expired",
        id="counter_expired",
    ),
    pytest.param(
        {},
        [],
        "borrow",
        {"room": "T01", "patron_id": "Z9999"},
        "unknown_patron",
        id="counter_unknown_patron",
    ),
    pytest.param(
        {}, [], "borrow", {"room": "T99", "patron_id": "S0001"}, "unknown_room", id="counter_T99"
    ),
    pytest.param(
        {},
        BORROW_T01,
        "open_door",
        {"room": "T01", "patron_id": "G0001"},
        "not_holder",
        id="counter_open_not_holder",
    ),
    pytest.param(
        {},
        [],
        "open_door",
        {"room": "L02", "patron_id": "X0001"},
        "not_checked_in",
        id="counter_open_not_checked_in",
    ),
    pytest.param(
        {},
        BORROW_T01,
        "return_room",
        {"room": "T01", "patron_id": "G0001"},
        "not_holder",
        id="counter_return_room_not_holder",
    ),
    pytest.param(
        {},
        [("simulate", {"room": "T01", "action": "offline"})],
        "borrow",
        {"room": "T01", "patron_id": "S0001"},
        "lock_offline",
        id="counter_offline_borrow",
    ),
]


@pytest.mark.parametrize(
    ("policy_options", "steps", "service", "data", "key"),
    REFUSALS,
    indirect=["policy_options"],
)
async def test_refusal_changes_nothing(
    hass: HomeAssistant,
    policy_options: dict[str, Any],
    frozen_clock: FrozenDateTimeFactory,
    init_integration: MockConfigEntry,
    events: list[Event],
    steps: list[tuple[str, dict[str, Any]]],
    service: str,
    data: dict[str, Any],
    key: str,
    patron_system: str,
    request: pytest.FixtureRequest,
) -> None:
    """Every refusal is keyed by its reason, and nothing changes.

    A refusal of the request is a ServiceValidationError; a part that cannot be reached (a
    lock offline, the patron system down) is a HomeAssistantError: the request was fine.
    """
    if patron_system == PATRONS_SIP2:
        key = SIP2_REFUSALS.get(request.node.callspec.id.split("-", 1)[1], key)
    assert key in {reason.value for reason in Reason}
    # The start-up reads of every lock (its user slots) are done: a lock taken offline in the
    # middle of one would leave it to its command timeout, which the frozen clock never reaches.
    await hass.async_block_till_done(wait_background_tasks=True)
    for step_service, step_data in steps:
        if step_data.get("password") == WRONG:
            with pytest.raises(ServiceValidationError, match="Wrong patron ID or password"):
                await _run(hass, step_service, step_data)
        else:
            await _run(hass, step_service, step_data)
    before = _snapshot(hass, init_integration)
    patron_before = _directory(init_integration)
    events.clear()

    with pytest.raises(HomeAssistantError) as err:
        await _run(hass, service, data)
    await hass.async_block_till_done()

    unreachable = key in {reason.value for reason in UNREACHABLE}
    assert isinstance(err.value, ServiceValidationError) is not unreachable
    assert err.value.translation_domain == DOMAIN
    assert err.value.translation_key == key
    # A clear, translated message; never a full patron ID.
    message = str(err.value)
    assert message
    assert message != key
    assert "{" not in message
    for patron_id in PATRON_IDS:
        assert patron_id not in message
    assert _snapshot(hass, init_integration) == before
    assert _directory(init_integration) == patron_before
    # A patron's own refused request is logged as a refusal at the room; nothing else happens.
    # A failed login is only counted: what was typed need not be anybody's ID. Staff (and
    # automations) see theirs as the error only.
    if service == PATRON and key not in {"unknown_room", *LOGIN_FAILURES}:
        assert [(e.data["room"], e.data["reason"]) for e in events] == [(data["room"], key)]
        assert "patron" in events[0].data
        assert data["patron_id"] not in str(events[0].data)
    else:
        assert events == []


async def test_offline_lock_stays_locked(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """While T01's lock is away the room is unavailable; borrow is refused; the bolt stays."""
    runtime = init_integration.runtime_data
    await call_service(hass, "simulate", {"room": "T01", "action": "offline"})
    assert state_of(hass, "sensor.t01_status") == STATE_UNAVAILABLE
    assert state_of(hass, "lock.t01") == STATE_UNAVAILABLE
    with pytest.raises(HomeAssistantError) as err:
        await patron_action(hass, "borrow", "T01", "S0001")
    assert not isinstance(err.value, ServiceValidationError)  # the request was fine
    assert err.value.translation_key == "lock_offline"
    assert runtime.radio.lock_model("T01").lock_state == 1  # DoorLock.LockState.Locked

    await call_service(hass, "simulate", {"room": "T01", "action": "online"})
    assert state_of(hass, "sensor.t01_status") == "idle"
    assert state_of(hass, "lock.t01") == "locked"
    result = await patron_action(hass, "borrow", "T01", "S0001")
    assert result["status"] == "in_use"
    assert state_of(hass, "lock.t01") == "unlocked"


async def test_failed_login_does_not_hint_whether_the_id_exists(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """Wrong password and unknown ID give the same key and the same message."""
    messages = []
    for patron_id, password in (("S0001", WRONG), ("Z9999", PASSWORD), ("s0001 ", WRONG)):
        with pytest.raises(ServiceValidationError) as err:
            await patron_action(hass, "borrow", "T01", patron_id, password)
        assert err.value.translation_key == "invalid_credentials"
        messages.append(str(err.value))
    assert len(set(messages)) == 1


async def test_simultaneous_borrows_one_wins(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """Two patrons at one door, or one patron at two doors, at the same moment."""
    library = init_integration.runtime_data.rooms
    results = await asyncio.gather(
        patron_action(hass, "borrow", "T01", "S0001"),
        patron_action(hass, "borrow", "T01", "G0001"),
        return_exceptions=True,
    )
    won = [r for r in results if isinstance(r, dict)]
    lost = [r.translation_key for r in results if isinstance(r, ServiceValidationError)]
    assert len(won) == 1
    assert lost == ["room_not_idle"]
    assert mask_patron_id(library.holder("T01", dt_util.now())) == won[0]["holder"]
    await call_service(hass, "counter_return", {"room": "T01"})

    results = await asyncio.gather(
        patron_action(hass, "borrow", "T01", "F0001"),
        patron_action(hass, "borrow", "T02", "F0001"),
        return_exceptions=True,
    )
    won = [r for r in results if isinstance(r, dict)]
    lost = [r.translation_key for r in results if isinstance(r, ServiceValidationError)]
    assert len(won) == 1
    assert lost == ["already_holding"]
    assert sorted(state_of(hass, f"sensor.{room}_status") for room in ("t01", "t02")) == [
        "idle",
        "in_use",
    ]
    assert sorted(state_of(hass, f"lock.{room}") for room in ("t01", "t02")) == [
        "locked",
        "unlocked",
    ]


# --- 3. staff services and who may call them -----------------------------------------------------

STAFF_CALLS = [
    ("borrow", {"room": "T01", "patron_id": "S0001"}),
    ("open_door", {"room": "L01", "patron_id": "D0001"}),
    ("return_room", {"room": "T01", "patron_id": "S0001"}),
    ("counter_return", {"room": "T01"}),
    ("check_in", {"patron_id": "X0001"}),
    ("reserve_long_term", {"room": "L03", "patron_id": "G0001", "month": NEXT_MONTH}),
    ("cancel_reservation", {"room": "L01", "month": THIS_MONTH}),
    ("freeze_patron", {"patron_id": "S0001", "days": 3, "reason": "late"}),
    ("unfreeze_patron", {"patron_id": "X0001"}),
    ("auto_return", {"room": "T01"}),
    ("simulate", {"room": "T01", "action": "push_button"}),
    ("add_patron", {"patron_id": "N9999", "name": "New", "category": "alumni"}),
    ("update_patron", {"patron_id": "S0001", "suspended": True}),
    ("update_patron", {"patron_id": "S0001", "reset_password": True}),
    ("remove_patron", {"patron_id": "A0001"}),
]


@pytest.fixture
async def staff_user(hass: HomeAssistant, hass_owner_user: User) -> User:
    """A Home Assistant user who is not an administrator.

    The owner exists first: the first user Home Assistant creates would become the owner.
    """
    return await hass.auth.async_create_user("staff", group_ids=["system-users"])


@pytest.mark.parametrize(
    ("service", "data"),
    STAFF_CALLS,
    ids=[f"{service}-{'-'.join(data)}" for service, data in STAFF_CALLS],
)
async def test_staff_service_refuses_non_admin(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    staff_user: User,
    service: str,
    data: dict[str, Any],
) -> None:
    before = _snapshot(hass, init_integration)
    patrons = _directory(init_integration)
    with pytest.raises(Unauthorized):
        await call_service(hass, service, data, context=Context(user_id=staff_user.id))
    assert _snapshot(hass, init_integration) == before
    assert _directory(init_integration) == patrons
    # Nor was a password reset: the patron's own still works.
    assert (await patron_action(hass, "borrow", "T02", "S0001"))["status"] == "in_use"


async def test_staff_service_for_admin_and_automation(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    hass_admin_user: User,
    staff_user: User,
    events: list[Event],
) -> None:
    """An administrator and an automation (no user) may; a patron acts with their password."""
    admin, staff = Context(user_id=hass_admin_user.id), Context(user_id=staff_user.id)
    counter = {"room": "T01", "patron_id": "S0001"}
    # Borrowing for a patron at the counter is for administrators: no password is asked.
    with pytest.raises(Unauthorized):
        await call_service(hass, "borrow", counter, context=staff)
    assert events == []
    result = await call_service(hass, "borrow", counter, context=admin)
    assert (result["status"], result["holder"]) == ("in_use", "S***1")
    assert state_of(hass, "lock.t01") == "unlocked"
    await call_service(hass, "return_room", counter, context=Context())
    assert [(e.data["type"], e.data["source"], e.data["patron"]) for e in events] == [
        ("borrowed", "counter", "S***1"),
        ("returned", "counter", "S***1"),
    ]
    # The patron's own request needs no admin: any account (a kiosk's) sends it.
    events.clear()
    await patron_action(hass, "borrow", "T01", "S0001", caller=f"user:{staff_user.id}")
    assert [(e.data["type"], e.data["source"]) for e in events] == [("borrowed", "qr")]
    result = await call_service(hass, "counter_return", {"room": "T01"}, context=admin)
    assert result["status"] == "idle"
    await patron_action(hass, "borrow", "T01", "S0001")
    result = await call_service(hass, "counter_return", {"room": "T01"}, context=Context())
    assert result["status"] == "idle"
    result = await call_service(
        hass, "freeze_patron", {"patron_id": "G0001"}, context=Context(user_id=hass_admin_user.id)
    )
    assert result["patron"] == "G***1"
    result = await call_service(hass, "unfreeze_patron", {"patron_id": "G0001"})
    assert result == {"patron": "G***1", "frozen_until": None}


# --- 4. a frozen long-term holder checks in every day -----------------------------------------


async def test_frozen_holder_checks_in_each_day(
    hass: HomeAssistant,
    frozen_clock: FrozenDateTimeFactory,
    init_integration: MockConfigEntry,
    events: list[Event],
) -> None:
    open_l02 = ("open", "L02", "X0001")
    assert state_of(hass, "sensor.l02_status") == "reserved"
    with pytest.raises(ServiceValidationError) as err:
        await patron_action(hass, *open_l02)
    assert err.value.translation_key == "not_checked_in"
    assert state_of(hass, "lock.l02") == "locked"

    result = await call_service(hass, "check_in", {"patron_id": "X0001"})
    assert result == {"patron": "X***1", "checked_in": "2025-03-12"}
    result = await patron_action(hass, *open_l02)
    assert result["door"] == "unlocked"
    assert state_of(hass, "lock.l02") == "unlocked"
    assert events[-1].data["type"] == "qr_open"
    await hass.services.async_call("lock", "lock", {"entity_id": "lock.l02"}, blocking=True)

    # Later the same day the check-in still holds, also for the card.
    frozen_clock.tick(timedelta(hours=6))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    await call_service(hass, "simulate", {"room": "L02", "action": "card_tap", "card": "C-X0001"})
    assert state_of(hass, "lock.l02") == "unlocked"
    await hass.services.async_call("lock", "lock", {"entity_id": "lock.l02"}, blocking=True)

    # The next morning: check in again first. Asked before the policy tick has pruned
    # yesterday's check-in, then after it.
    frozen_clock.move_to("2025-03-13 09:00:00+08:00")
    with pytest.raises(ServiceValidationError) as err:
        await patron_action(hass, *open_l02)
    assert err.value.translation_key == "not_checked_in"
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    with pytest.raises(ServiceValidationError) as err:
        await patron_action(hass, *open_l02)
    assert err.value.translation_key == "not_checked_in"
    await call_service(hass, "simulate", {"room": "L02", "action": "card_tap", "card": "C-X0001"})
    assert state_of(hass, "lock.l02") == "locked"
    assert events[-1].data["type"] == "refused"
    assert events[-1].data["reason"] == "not_checked_in"

    await call_service(hass, "check_in", {"patron_id": "X0001"})
    result = await patron_action(hass, *open_l02)
    assert result["door"] == "unlocked"

    # A check-in of another day never counts, pruned or not (the clock's tick prunes them).
    patrons = init_integration.runtime_data.rooms.patrons
    await in_transaction(
        init_integration, lambda: patrons.check_ins.update(X0001=date(2025, 3, 12))
    )
    with pytest.raises(ServiceValidationError) as err:
        await patron_action(hass, *open_l02)
    assert err.value.translation_key == "not_checked_in"


# --- 5. bad input ------------------------------------------------------------------------------

BAD_INPUT = [
    pytest.param("borrow", {"room": "T01", "patron_id": ""}, id="empty_id"),
    pytest.param("borrow", {"room": "T01", "patron_id": "   "}, id="blank_id"),
    pytest.param("borrow", {"room": "T01", "patron_id": "S" * 10_000}, id="10kB_id"),
    pytest.param("borrow", {"room": "T01"}, id="no_patron_id"),
    pytest.param("borrow", {"room": ["T01"], "patron_id": "S0001"}, id="room_list"),
    pytest.param("borrow", {"room": {"id": "T01"}, "patron_id": "S0001"}, id="dict"),
    pytest.param("borrow", {"room": None, "patron_id": "S0001"}, id="room_none"),
    pytest.param("borrow", {"room": "T01", "patron_id": "S0001", "admin": True}, id="extra_key"),
    # No secret is service data (Home Assistant records every call with its data).
    pytest.param(
        "borrow", {"room": "T01", "patron_id": "S0001", "password": PASSWORD}, id="borrow_password"
    ),
    pytest.param(
        "open_door",
        {"room": "T01", "patron_id": "S0001", "password": PASSWORD},
        id="open_password",
    ),
    pytest.param(
        "add_patron",
        {"patron_id": "N1", "name": "N", "category": "alumni", "password": "secret-1"},
        id="add_patron_password",
    ),
    pytest.param(
        "update_patron", {"patron_id": "S0001", "password": "secret-1"}, id="update_password"
    ),
    pytest.param(
        "update_patron", {"patron_id": "S0001", "reset_password": "maybe"}, id="reset_not_boolean"
    ),
    pytest.param("freeze_patron", {"patron_id": "S0001", "days": "abc"}, id="days_abc"),
    pytest.param("freeze_patron", {"patron_id": "S0001", "days": 0}, id="days_0"),
    pytest.param("freeze_patron", {"patron_id": "S0001", "days": 10**9}, id="days_huge"),
    pytest.param("simulate", {"room": "T01", "action": "explode"}, id="unknown_action"),
    pytest.param("counter_return", {}, id="counter_return_no_key"),
    pytest.param(
        "counter_return", {"room": "T01", "patron_id": "S0001"}, id="counter_return_two_keys"
    ),
    pytest.param("counter_return", {"patron_name": ""}, id="counter_return_empty_name"),
    pytest.param(
        "reserve_long_term",
        {"room": "L03", "patron_id": "G0001", "month": "x" * 10_000},
        id="month_10kB",
    ),
]


@pytest.mark.parametrize("patron_system", [PATRONS_LOCAL])
@pytest.mark.parametrize("category", ["undergraduate", "emperor"])
async def test_unknown_category_is_one_translated_refusal(
    hass: HomeAssistant, init_integration: MockConfigEntry, category: str
) -> None:
    """A category not in the list reads as one sentence, not a list of every key."""
    patrons = _directory(init_integration)
    with pytest.raises(ServiceValidationError) as err:
        await call_service(
            hass, "add_patron", {"patron_id": "N1", "name": "N", "category": category}
        )
    assert refusal(err.value) == "invalid_value"
    assert err.value.translation_placeholders["field"] == "category"
    assert "student_undergraduate" not in str(err.value)
    assert _directory(init_integration) == patrons


@pytest.mark.parametrize(("service", "data"), BAD_INPUT)
async def test_bad_input_is_rejected_by_the_schema(
    hass: HomeAssistant, init_integration: MockConfigEntry, service: str, data: dict[str, Any]
) -> None:
    await patron_action(hass, "borrow", "T02", "G0001")
    before = _snapshot(hass, init_integration)
    patrons = _directory(init_integration)
    with pytest.raises(vol.Invalid) as err:
        await call_service(hass, service, data)
    assert str(err.value)
    assert _snapshot(hass, init_integration) == before
    assert _directory(init_integration) == patrons
    assert state_of(hass, "sensor.t01_status") == "idle"


@pytest.mark.parametrize(
    ("service", "data", "key"),
    [
        pytest.param(
            "simulate", {"room": "T01", "action": "card_tap"}, "card_required", id="no_card"
        ),
        pytest.param(
            "simulate",
            {"room": "T01", "action": "card_tap", "card": "   "},
            "card_required",
            id="blank_card",
        ),
        pytest.param(
            "borrow",
            {"room": "T01", "patron_id": "S0001", "config_entry_id": "nope"},
            "site_not_found",
            id="unknown_site",
        ),
        pytest.param(
            PATRON,
            _patron("borrow", "T01", "S0001")[1] | {"config_entry_id": "nope"},
            "site_not_found",
            id="patron_unknown_site",
        ),
    ],
)
async def test_bad_input_refused_with_a_message(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    service: str,
    data: dict[str, Any],
    key: str,
) -> None:
    before = _snapshot(hass, init_integration)
    with pytest.raises(ServiceValidationError) as err:
        await _run(hass, service, data)
    assert err.value.translation_key == key
    assert str(err.value) != key
    assert _snapshot(hass, init_integration) == before


async def test_room_id_is_case_insensitive(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """The counter's services take a room and a patron in any case; so does the patron's login."""
    result = await call_service(hass, "borrow", {"room": " t01 ", "patron_id": "s0001"})
    assert result["room"] == "T01"
    assert result["holder"] == "S***1"
    assert state_of(hass, "sensor.t01_status") == "in_use"
    result = await patron_action(hass, "return", "T01", "s0001")
    assert result["status"] == "idle"


# --- 6. staff and automation services at work ------------------------------------------------


# The counter finds what to return by the room or the patron's ID with either patron system,
# by the patron's name only in the site's own directory (SIP2 has no search by name).
COUNTER_RETURNS = [
    *(
        pytest.param(system, how, id=f"{system}-{name}")
        for system in (PATRONS_LOCAL, PATRONS_SIP2)
        for name, how in (
            ("room", {"room": "T01"}),
            ("room_lower_case", {"room": "t01"}),
            ("patron_id", {"patron_id": "S0001"}),
        )
    ),
    pytest.param(PATRONS_LOCAL, {"patron_name": "王小明"}, id=f"{PATRONS_LOCAL}-patron_name"),
]


@pytest.mark.parametrize(("patron_system", "how"), COUNTER_RETURNS)
async def test_counter_return(
    hass: HomeAssistant, init_integration: MockConfigEntry, events: list[Event], how: dict
) -> None:
    await patron_action(hass, "borrow", "T01", "S0001")
    await patron_action(hass, "borrow", "T02", "G0001")
    events.clear()
    result = await call_service(hass, "counter_return", how)
    assert result["room"] == "T01"
    assert result["status"] == "idle"
    assert result["lock"] == "locked"
    assert state_of(hass, "sensor.t01_status") == "idle"
    assert state_of(hass, "lock.t01") == "locked"
    assert state_of(hass, "sensor.t02_status") == "in_use"
    assert [(e.data["type"], e.data["source"], e.data["patron"]) for e in events] == [
        ("returned", "counter", "S***1")
    ]


@pytest.mark.parametrize("patron_system", [PATRONS_SIP2])
async def test_counter_return_by_name_over_sip2_is_refused(
    hass: HomeAssistant, init_integration: MockConfigEntry, events: list[Event], ils: IlsServer
) -> None:
    """SIP2 cannot look a patron up by name: the name finds nobody, the room stays borrowed.

    Staff are told the patron is unknown and ask for the ID or the room instead.
    """
    await patron_action(hass, "borrow", "T01", "S0001")
    events.clear()
    asked = dict(ils.counts)
    with pytest.raises(ServiceValidationError) as refused:
        await call_service(hass, "counter_return", {"patron_name": "王小明"})
    assert refusal(refused.value) == "unknown_patron"
    assert refused.value.translation_placeholders == {"patron": "王小明"}
    assert ils.counts == asked  # nothing to ask the ILS
    assert state_of(hass, "sensor.t01_status") == "in_use"
    assert state_of(hass, "sensor.t01_holder") == "S***1"
    assert not [e for e in events if e.data["type"] == "returned"]
    # By ID the same patron's room comes back.
    assert (await call_service(hass, "counter_return", {"patron_id": "S0001"}))["room"] == "T01"


async def test_reserve_open_and_cancel_long_term(
    hass: HomeAssistant, init_integration: MockConfigEntry, events: list[Event]
) -> None:
    month = init_integration.runtime_data.rooms.reservations()[0][1]  # the demo's month
    assert state_of(hass, "sensor.l03_status") == "idle"
    idle_before = int(state_of(hass, "sensor.main_library_idle_rooms"))
    result = await call_service(
        hass, "reserve_long_term", {"room": "L03", "patron_id": "G0001", "month": month}
    )
    assert result["room"] == "L03"
    assert result["status"] == "reserved"
    assert result["holder"] == "G***1"
    assert result["month"] == month
    assert state_of(hass, "sensor.l03_status") == "reserved"
    assert state_of(hass, "sensor.l03_holder") == "G***1"
    assert int(state_of(hass, "sensor.main_library_idle_rooms")) == idle_before - 1

    # Reserving again for the same patron changes nothing.
    await call_service(
        hass, "reserve_long_term", {"room": "L03", "patron_id": "G0001", "month": month}
    )

    # The holder opens without borrowing (the library's instructions, section 2), by QR and by card.
    result = await patron_action(hass, "open", "L03", "G0001")
    assert result["door"] == "unlocked"
    assert state_of(hass, "lock.l03") == "unlocked"
    await hass.services.async_call("lock", "lock", {"entity_id": "lock.l03"}, blocking=True)
    await call_service(hass, "simulate", {"room": "L03", "action": "card_tap", "card": "C-G0001"})
    assert state_of(hass, "lock.l03") == "unlocked"

    events.clear()
    result = await call_service(hass, "cancel_reservation", {"room": "L03", "month": month})
    assert result["status"] == "idle"
    assert result["holder"] is None
    assert result["month"] == month
    assert state_of(hass, "sensor.l03_status") == "idle"
    assert state_of(hass, "lock.l03") == "locked"  # this month's holder is gone: lock up
    with pytest.raises(ServiceValidationError) as err:
        await patron_action(hass, "open", "L03", "G0001")
    assert err.value.translation_key == "not_holder"


async def test_reserve_next_month_leaves_this_month_alone(
    hass: HomeAssistant, frozen_clock: FrozenDateTimeFactory, init_integration: MockConfigEntry
) -> None:
    result = await call_service(
        hass, "reserve_long_term", {"room": "L03", "patron_id": "G0001", "month": NEXT_MONTH}
    )
    assert result["status"] == "idle"
    assert result["holder"] is None
    assert ("L03", NEXT_MONTH, "G0001") in init_integration.runtime_data.rooms.reservations()
    with pytest.raises(ServiceValidationError) as err:
        await patron_action(hass, "open", "L03", "G0001")
    assert err.value.translation_key == "not_holder"
    result = await call_service(hass, "cancel_reservation", {"room": "L03", "month": NEXT_MONTH})
    assert init_integration.runtime_data.rooms.reservations() == [
        ("L01", THIS_MONTH, "D0001"),
        ("L02", THIS_MONTH, "X0001"),
    ]


async def test_freeze_and_unfreeze(
    hass: HomeAssistant,
    frozen_clock: FrozenDateTimeFactory,
    init_integration: MockConfigEntry,
    ils: IlsServer | None,
) -> None:
    result = await call_service(
        hass, "freeze_patron", {"patron_id": "s0001", "days": 3, "reason": "x"}
    )
    # With SIP2 the freeze is also a block in the ILS, for the library's other installations.
    blocked = {} if ils is None else {"ils_blocked": True}
    assert result == {"patron": "S***1", "frozen_until": "2025-03-15T10:00:00+08:00"} | blocked
    with pytest.raises(ServiceValidationError) as err:
        await patron_action(hass, "borrow", "T01", "S0001")
    assert err.value.translation_key == "frozen"
    assert "2025-03-15" in str(err.value)

    # A shorter freeze does not shorten a longer one; no days: the policy's 7.
    result = await call_service(hass, "freeze_patron", {"patron_id": "S0001", "days": 1})
    assert result["frozen_until"] == "2025-03-15T10:00:00+08:00"
    result = await call_service(hass, "freeze_patron", {"patron_id": "S0001"})
    assert result["frozen_until"] == "2025-03-19T10:00:00+08:00"

    result = await call_service(hass, "unfreeze_patron", {"patron_id": "S0001"})
    assert result == {"patron": "S***1", "frozen_until": None}
    if ils is not None:  # SIP2 cannot lift a block: staff do it in the ILS
        ils.unblock("S0001")
    result = await patron_action(hass, "borrow", "T01", "S0001")
    assert result["status"] == "in_use"

    # Unfreezing X0001 lets her open L02 without checking in.
    await call_service(hass, "unfreeze_patron", {"patron_id": "X0001"})
    result = await patron_action(hass, "open", "L02", "X0001")
    assert result["door"] == "unlocked"


async def test_auto_return_service(
    hass: HomeAssistant, init_integration: MockConfigEntry, events: list[Event]
) -> None:
    await patron_action(hass, "borrow", "T01", "S0001")
    events.clear()
    result = await call_service(hass, "auto_return", {"room": "T01", "reason": "door left open"})
    assert result["status"] == "idle"
    assert state_of(hass, "sensor.t01_status") == "idle"
    assert state_of(hass, "lock.t01") == "locked"
    assert [(e.data["type"], e.data["source"], e.data["reason"]) for e in events] == [
        ("auto_returned", "automation", "door left open")
    ]
    activity = hass.states.get("event.t01_door_activity")
    assert activity is not None
    assert activity.attributes["event_type"] == "auto_returned"


async def test_patron_directory_services(
    hass: HomeAssistant, init_integration: MockConfigEntry, patron_system: str
) -> None:
    if patron_system == PATRONS_SIP2:
        for service, data in (
            ("add_patron", {"patron_id": "N9", "name": "N", "category": "alumni"}),
            ("update_patron", {"patron_id": "S0001", "name": "New name"}),
            ("update_patron", {"patron_id": "S0001", "reset_password": True}),
            ("remove_patron", {"patron_id": "S0001"}),
        ):
            with pytest.raises(ServiceValidationError) as refused:
                await call_service(hass, service, data)
            assert refused.value.translation_key == "patrons_managed_elsewhere"
        return
    result = await call_service(
        hass,
        "add_patron",
        {
            "patron_id": "S0002",
            "name": "New Student",
            "category": "student_undergraduate",
            "card": "C-S0002",
        },
    )
    assert result["patron"] == "S***2"
    assert result["category"] == "student_undergraduate"
    assert result["membership_expires"] is not None  # the category's default period
    assert result["card"] is True
    # Staff hand the patron a one-time code; the patron has no password until they use it.
    code = result["activation_code"]
    assert ACTIVATION_CODE.fullmatch(code)
    expires = datetime.fromisoformat(result["activation_expires"])
    assert dt_util.now() + timedelta(days=1) < expires <= dt_util.now() + timedelta(days=15)
    with pytest.raises(ServiceValidationError) as err:
        await patron_action(hass, "borrow", "T01", "S0002", "secret-1")
    assert err.value.translation_key == "invalid_credentials"

    assert await activate(init_integration, "S0002", code, "secret-1") == {
        "patron": "S***2",
        "activated": True,
    }
    await patron_action(hass, "borrow", "T01", "S0002", "secret-1")
    await hass.services.async_call("lock", "lock", {"entity_id": "lock.t01"}, blocking=True)
    await call_service(hass, "simulate", {"room": "T01", "action": "card_tap", "card": "C-S0002"})
    assert state_of(hass, "lock.t01") == "unlocked"

    # A password reset: the old one stops working; the patron chooses another with a new code.
    result = await call_service(
        hass, "update_patron", {"patron_id": "S0002", "reset_password": True}
    )
    assert result["patron"] == "S***2"
    assert ACTIVATION_CODE.fullmatch(result["activation_code"])
    assert result["activation_code"] != code
    with pytest.raises(ServiceValidationError) as err:
        await patron_action(hass, "open", "T01", "S0002", "secret-1")
    assert err.value.translation_key == "invalid_credentials"
    await activate(init_integration, "S0002", result["activation_code"], "secret-2")
    await patron_action(hass, "open", "T01", "S0002", "secret-2")

    # Suspended: the membership no longer opens the room.
    result = await call_service(hass, "update_patron", {"patron_id": "S0002", "suspended": True})
    assert result["suspended"] is True
    assert "activation_code" not in result  # the password stays as it was
    with pytest.raises(ServiceValidationError) as err:
        await patron_action(hass, "open", "T01", "S0002", "secret-2")
    assert err.value.translation_key == "membership_expired"

    with pytest.raises(ServiceValidationError) as err:
        await call_service(hass, "remove_patron", {"patron_id": "S0002"})
    assert err.value.translation_key == "room_has_holder"
    await call_service(hass, "counter_return", {"patron_id": "S0002"})
    result = await call_service(hass, "remove_patron", {"patron_id": "S0002"})
    assert result == {"patron": "S***2", "removed": True}
    with pytest.raises(ServiceValidationError) as err:
        await patron_action(hass, "borrow", "T01", "S0002", "secret-2")
    assert err.value.translation_key == "invalid_credentials"
    stored = init_integration.runtime_data.library.as_store_data()["patrons"]
    assert "S0002" not in str(stored)


async def test_reset_password_gives_a_new_activation_code(
    hass: HomeAssistant, init_integration: MockConfigEntry, patron_system: str
) -> None:
    """Staff reset a forgotten password: the old one stops at once, the code sets a new one."""
    if patron_system == PATRONS_SIP2:  # the ILS keeps the passwords
        with pytest.raises(ServiceValidationError) as refused:
            await call_service(
                hass, "update_patron", {"patron_id": "G0001", "reset_password": True}
            )
        assert refused.value.translation_key == "patrons_managed_elsewhere"
        assert (await patron_action(hass, "borrow", "T01", "G0001"))["status"] == "in_use"
        return
    await patron_action(hass, "borrow", "T01", "G0001")
    # Other changes leave the password alone.
    result = await call_service(hass, "update_patron", {"patron_id": "G0001", "name": "New"})
    assert "activation_code" not in result
    await patron_action(hass, "open", "T01", "G0001")

    result = await call_service(
        hass, "update_patron", {"patron_id": "g0001", "reset_password": True}
    )
    assert result["patron"] == "G***1"
    code = result["activation_code"]
    assert ACTIVATION_CODE.fullmatch(code)
    assert code not in str(init_integration.runtime_data.library.as_store_data())  # a digest only
    with pytest.raises(ServiceValidationError) as err:
        await patron_action(hass, "open", "T01", "G0001")
    assert err.value.translation_key == "invalid_credentials"

    # The patron chooses a new password (long enough) with the code, once.
    with pytest.raises(Refused) as refused:
        await activate(init_integration, "G0001", code, "short")
    assert refused.value.reason is Reason.PASSWORD_TOO_SHORT
    await activate(init_integration, "G0001", code.lower(), "quiet-harbour-1")
    assert (await patron_action(hass, "open", "T01", "G0001", "quiet-harbour-1"))[
        "door"
    ] == "unlocked"
    with pytest.raises(ServiceValidationError) as err:
        await patron_action(hass, "open", "T01", "G0001")
    assert err.value.translation_key == "invalid_credentials"
    with pytest.raises(Refused) as refused:
        await activate(init_integration, "G0001", code, "another-secret")
    assert refused.value.reason is Reason.INVALID_CREDENTIALS
    assert (await patron_action(hass, "return", "T01", "G0001", "quiet-harbour-1"))[
        "status"
    ] == "idle"


async def test_too_many_attempts_then_backoff_ends(
    hass: HomeAssistant, frozen_clock: FrozenDateTimeFactory, init_integration: MockConfigEntry
) -> None:
    """The throttle refuses after repeated wrong passwords and lets the patron in later."""
    for _ in range(6):
        with pytest.raises(ServiceValidationError):
            await patron_action(hass, "borrow", "T01", "S0001", WRONG)
    with pytest.raises(ServiceValidationError) as err:
        await patron_action(hass, "borrow", "T01", "S0001")
    assert err.value.translation_key == "too_many_attempts"
    assert err.value.translation_placeholders == {"retry_after": "1"}
    # Another patron is not affected.
    await patron_action(hass, "borrow", "T02", "G0001")

    frozen_clock.tick(timedelta(seconds=2))
    result = await patron_action(hass, "borrow", "T01", "S0001")
    assert result["status"] == "in_use"


# --- several sites ---------------------------------------------------------------------------


async def test_config_entry_id_picks_the_site(
    hass: HomeAssistant, init_integration: MockConfigEntry, policy_options: dict[str, Any]
) -> None:
    second = MockConfigEntry(
        domain=DOMAIN,
        title="Gongguan",
        unique_id="gongguan",
        data={
            CONF_SITE_NAME: "Gongguan",
            CONF_RADIO: "simulated",
            CONF_PATRON_SYSTEM: "local",
            CONF_DEMO_DATA: True,
        },
        options=policy_options,
        subentries_data=[room_subentry(room) for room in DEMO_ROOMS[:2]],
    )
    second.add_to_hass(hass)
    assert await hass.config_entries.async_setup(second.entry_id)
    await hass.async_block_till_done()

    # Both sites have T01: the patron's request and the counter's service name theirs.
    with pytest.raises(ServiceValidationError) as err:
        await patron_action(hass, "borrow", "T01", "S0001")
    assert err.value.translation_key == "site_required"
    counter = {"room": "T02", "patron_id": "G0001"}
    with pytest.raises(ServiceValidationError) as err:
        await call_service(hass, "borrow", counter)
    assert err.value.translation_key == "site_required"

    at_second = {"config_entry_id": second.entry_id}
    result = await patron_action(hass, "borrow", "T01", "S0001", **at_second)
    assert result["status"] == "in_use"
    assert second.runtime_data.status("T01").value == "in_use"
    assert init_integration.runtime_data.status("T01").value == "idle"
    assert state_of(hass, "sensor.t01_status") == "idle"
    await call_service(hass, "return_room", {"room": "T01", "patron_id": "S0001"} | at_second)
    assert second.runtime_data.status("T01").value == "idle"
    assert (await call_service(hass, "borrow", counter | at_second))["holder"] == "G***1"
    assert second.runtime_data.status("T02").value == "in_use"
    assert init_integration.runtime_data.status("T02").value == "idle"
    # Only the first site has L01: its holder's request needs no id.
    assert (await patron_action(hass, "open", "L01", "D0001"))["door"] == "unlocked"

    await hass.config_entries.async_unload(second.entry_id)
    await hass.async_block_till_done()
    with pytest.raises(ServiceValidationError) as err:
        await patron_action(hass, "borrow", "T01", "S0001", **at_second)
    assert err.value.translation_key == "site_not_loaded"
    with pytest.raises(ServiceValidationError) as err:
        await call_service(hass, "borrow", {"room": "T01", "patron_id": "S0001"} | at_second)
    assert err.value.translation_key == "site_not_loaded"
    # One site left: it is picked without an id.
    result = await patron_action(hass, "borrow", "T01", "S0001")
    assert result["status"] == "in_use"
    assert state_of(hass, "sensor.t01_status") == "in_use"
    await hass.config_entries.async_unload(init_integration.entry_id)
    with pytest.raises(ServiceValidationError) as err:
        await patron_action(hass, "return", "T01", "S0001")
    assert err.value.translation_key == "no_site"


# --- the simulated hardware ------------------------------------------------------------------


async def test_simulate_door_hardware(
    hass: HomeAssistant, init_integration: MockConfigEntry, events: list[Event]
) -> None:
    """PUSH exit unlocks from inside; a door opened while locked is forced; a jam shows."""
    await call_service(hass, "simulate", {"room": "T01", "action": "push_button"})
    assert state_of(hass, "lock.t01") == "unlocked"
    assert [(e.data["type"], e.data["source"]) for e in events] == [("push_exit", "push_button")]
    await call_service(hass, "simulate", {"room": "T01", "action": "door_open"})
    assert state_of(hass, "binary_sensor.t01_door") == "on"
    await call_service(hass, "simulate", {"room": "T01", "action": "door_close"})
    assert state_of(hass, "binary_sensor.t01_door") == "off"
    assert state_of(hass, "lock.t01") == "locked"  # it relocks when the door closes

    events.clear()
    await call_service(hass, "simulate", {"room": "T01", "action": "door_open"})
    assert [(e.data["type"], e.data["source"]) for e in events] == [("forced_open", "door")]
    assert state_of(hass, "sensor.t01_status") == "idle"

    await call_service(hass, "simulate", {"room": "T02", "action": "jam"})
    assert state_of(hass, "lock.t02") == "jammed"


async def test_lock_not_confirming_the_unlock(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """The borrow is recorded but the answer says the door did not open; open_door retries."""
    lock = init_integration.runtime_data.radio.lock_model("T01")
    lock.command_status = 0x01  # FAILURE
    result = await patron_action(hass, "borrow", "T01", "S0001")
    assert result["status"] == "in_use"
    assert result["door"] == "unlock_failed"
    assert state_of(hass, "lock.t01") == "locked"

    lock.command_status = 0x00
    result = await patron_action(hass, "open", "T01", "S0001")
    assert result["door"] == "unlocked"
    assert state_of(hass, "lock.t01") == "unlocked"
