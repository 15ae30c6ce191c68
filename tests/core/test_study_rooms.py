"""The study-room rules, one test (or table) per rule and refusal.

Seed 000: borrow an idle temporary room by QR + login (登記使用) and the door unlocks; a
long-term room is reserved for a month beforehand and needs no borrow, but a holder whose rights
are frozen checks in at the counter every day before the first open; the PUSH button lets anyone
out; the holder opens by QR (開門) or by tapping their ID card; the borrower returns the room
(結束使用), or staff do it at the 2nd-floor counter during service hours. Every refusal has a
reason and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
import json
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given, settings, strategies as st
import pytest

from custom_components.ntnu_library.core.errors import Reason, Refused
from custom_components.ntnu_library.core.identity import mask_patron_id
from custom_components.ntnu_library.core.model import (
    Borrow,
    EventType,
    Freeze,
    Patron,
    Room,
    RoomEvent,
    RoomKind,
    RoomStatus,
    Source,
    month_key,
)
from custom_components.ntnu_library.core.policy import Policy
from custom_components.ntnu_library.core.room_state import PatronState, RefEntry, Violation
from custom_components.ntnu_library.core.study_rooms import (
    MAX_FREEZE_DAYS,
    AutoReturnReason,
    Outcome,
    StudyRooms,
    StudyRoomsState,
    parse_month,
)

TAIPEI = ZoneInfo("Asia/Taipei")


def _freeze(library: Any, patron_id: str, days: int | None, reason: str, now: datetime) -> Any:
    """Freeze, and return the freeze the patron now has."""
    library.freeze(patron_id, days, reason, now)
    return library.patrons.freezes[patron_id]


def at(hour: int, minute: int = 0, *, day: int = 10, month: int = 3, year: int = 2026) -> datetime:
    """A moment on the library's wall clock (Asia/Taipei)."""
    return datetime(year, month, day, hour, minute, tzinfo=TAIPEI)


NOW = at(14)  # 2026-03-10 14:00, the counter serves (08:00–22:00)
TODAY = NOW.date()
THIS_MONTH = "2026-03"
NEXT_MONTH = "2026-04"
LAST_MONTH = "2026-02"

T01 = Room(room_id="T01", name="個人臨時研究室 T01", kind=RoomKind.TEMPORARY, floor="2F")
T02 = Room(room_id="T02", name="個人臨時研究室 T02", kind=RoomKind.TEMPORARY, floor="2F")
L01 = Room(room_id="L01", name="個人長期研究室 L01", kind=RoomKind.LONG_TERM, floor="3F")
L02 = Room(room_id="L02", name="個人長期研究室 L02", kind=RoomKind.LONG_TERM, floor="3F")
ROOMS = (T01, T02, L01, L02)


def patron(patron_id: str, **kwargs: Any) -> Patron:
    """A patron whose card number is `C-` + the ID, as in the demo."""
    kwargs.setdefault("category", "student_undergraduate")
    kwargs.setdefault("card", f"C-{patron_id}")
    return Patron(patron_id=patron_id, name=f"Patron {patron_id}", **kwargs)


ALICE = patron("S0001")  # undergraduate
BOB = patron("G0001", category="student_master")
DORA = patron("D0001", category="student_doctoral", membership_expires=date(2030, 7, 31))
XENA = patron("X0001", category="student_doctoral")  # frozen long-term holder
EXPIRED = patron("E0001", membership_expires=date(2026, 3, 9))  # expired yesterday
SUSPENDED = patron("U0001", membership_expires=date(2030, 7, 31), suspended=True)


@pytest.fixture
def library() -> StudyRooms:
    """The four rooms with the default policy and nothing borrowed."""
    return StudyRooms(ROOMS, Policy())


def snapshot(library: StudyRooms) -> tuple[dict[str, Any], dict[str, bool]]:
    """Everything a command could change: the stored state and the live sensor knowledge."""
    return library.state.as_dict(), dict(library._occupied)


@contextmanager
def refused(library: StudyRooms, reason: Reason) -> Iterator[pytest.ExceptionInfo[Refused]]:
    """Expect a refusal for `reason` that leaves the library exactly as it was."""
    before = snapshot(library)
    with pytest.raises(Refused) as err:
        yield err
    assert err.value.reason is reason, err.value
    assert snapshot(library) == before, "a refused action changed the state"


def borrowed(
    library: StudyRooms, room: Room = T01, who: Patron = ALICE, when: datetime = NOW
) -> None:
    """Set the scene: `who` has borrowed `room`."""
    library.borrow(room.room_id, who, when, lock_online=True)


def event(kind: EventType, source: Source, **kwargs: Any) -> RoomEvent:
    """The event the library logs at NOW in T01 unless told otherwise."""
    kwargs.setdefault("room_id", "T01")
    kwargs.setdefault("at", NOW)
    return RoomEvent(type=kind, source=source, **kwargs)


# --- Section 1: borrow a temporary room (登記使用) -----------------------------------------------


def test_a_patron_borrows_an_idle_temporary_room_and_the_door_unlocks(library: StudyRooms) -> None:
    assert library.status("T01", NOW, lock_online=True) is RoomStatus.IDLE

    outcome = library.borrow("T01", ALICE, NOW, lock_online=True)

    assert outcome == Outcome(
        room_id="T01",
        events=[event(EventType.BORROWED, Source.QR, patron_id="S0001")],
        unlock=True,
        lock=False,
    )
    assert library.status("T01", NOW, lock_online=True) is RoomStatus.IN_USE
    assert library.holder("T01", NOW) == "S0001"
    assert library.in_use_since("T01") == NOW
    assert library.borrowed_room("S0001") == "T01"
    assert library.state.borrows == {"T01": Borrow(patron_id="S0001", since=NOW)}
    # The other rooms are untouched.
    assert library.status("T02", NOW, lock_online=True) is RoomStatus.IDLE
    assert library.in_use_since("T02") is None
    assert library.borrowed_room("G0001") is None


@pytest.mark.parametrize(
    ("who", "reason"),
    [(BOB, Reason.ROOM_NOT_IDLE), (ALICE, Reason.ALREADY_HOLDING)],
    ids=["another patron", "the borrower again"],
)
def test_a_room_in_use_cannot_be_borrowed(library: StudyRooms, who: Patron, reason: Reason) -> None:
    """Someone else is told the room is not idle; its borrower, that they hold it already."""
    borrowed(library, T01, ALICE)
    with refused(library, reason) as err:
        library.borrow("T01", who, NOW, lock_online=True)
    assert err.value.placeholders == {"room": "T01"}


@pytest.mark.parametrize("room", [L01, L02])
def test_a_long_term_room_cannot_be_borrowed(library: StudyRooms, room: Room) -> None:
    with refused(library, Reason.NOT_TEMPORARY_ROOM):
        library.borrow(room.room_id, DORA, NOW, lock_online=True)
    assert library.status(room.room_id, NOW, lock_online=True) is RoomStatus.IDLE


def test_one_temporary_room_per_patron(library: StudyRooms) -> None:
    borrowed(library, T01, ALICE)
    with refused(library, Reason.ALREADY_HOLDING) as err:
        library.borrow("T02", ALICE, NOW, lock_online=True)
    assert err.value.placeholders == {"room": "T01"}
    # Once T01 is returned, T02 may be borrowed.
    library.return_room("T01", ALICE, NOW)
    assert library.borrow("T02", ALICE, NOW, lock_online=True).unlock


def test_a_long_term_holder_may_still_borrow_a_temporary_room(library: StudyRooms) -> None:
    library.reserve_long_term("L01", DORA, THIS_MONTH, NOW)
    assert library.borrow("T01", DORA, NOW, lock_online=True).unlock


def test_a_frozen_patron_cannot_borrow(library: StudyRooms) -> None:
    library.freeze("S0001", 7, "left T02 unreturned", NOW - timedelta(days=1))
    with refused(library, Reason.FROZEN) as err:
        library.borrow("T01", ALICE, NOW, lock_online=True)
    assert err.value.placeholders == {"until": "2026-03-16T14:00+08:00"}


def test_a_frozen_patron_cannot_borrow_even_after_checking_in(library: StudyRooms) -> None:
    # Check-in is for long-term holders' doors; a freeze still bars temporary rooms.
    library.freeze("S0001", 7, "violation", NOW)
    library.check_in("S0001", NOW)
    with refused(library, Reason.FROZEN):
        library.borrow("T01", ALICE, NOW, lock_online=True)


def test_a_patron_may_borrow_again_once_the_freeze_has_ended(library: StudyRooms) -> None:
    library.freeze("S0001", 7, "violation", NOW - timedelta(days=7))
    assert library.frozen("S0001", NOW) is None
    assert library.borrow("T01", ALICE, NOW, lock_online=True).unlock


def test_the_lock_offline_refuses_a_borrow_fail_secure(library: StudyRooms) -> None:
    with refused(library, Reason.LOCK_OFFLINE) as err:
        library.borrow("T01", ALICE, NOW, lock_online=False)
    assert err.value.placeholders == {"room": "T01"}
    assert library.status("T01", NOW, lock_online=False) is RoomStatus.UNAVAILABLE


# --- membership (circulation rules: an expired or suspended membership cannot borrow rooms) -------------


MEMBERSHIP_ACTIONS: dict[str, Callable[[StudyRooms, Patron], object]] = {
    "borrow": lambda lib, who: lib.borrow("T01", who, NOW, lock_online=True),
    "open": lambda lib, who: lib.open_door("L01", who, NOW, lock_online=True),
    "reserve": lambda lib, who: lib.reserve_long_term("L02", who, NEXT_MONTH, NOW),
}


@pytest.mark.parametrize("who", [EXPIRED, SUSPENDED], ids=["expired", "suspended"])
@pytest.mark.parametrize("action", MEMBERSHIP_ACTIONS.values(), ids=MEMBERSHIP_ACTIONS)
def test_an_expired_or_suspended_membership_is_refused(
    library: StudyRooms, who: Patron, action: Callable[[StudyRooms, Patron], object]
) -> None:
    # The patron holds L01 this month, reserved while the membership was still valid.
    library.state.reservations[("L01", THIS_MONTH)] = who.patron_id
    with refused(library, Reason.MEMBERSHIP_EXPIRED) as err:
        action(library, who)
    assert err.value.placeholders == {}


@pytest.mark.parametrize("who", [EXPIRED, SUSPENDED], ids=["expired", "suspended"])
def test_an_expired_members_card_is_refused_and_logged(library: StudyRooms, who: Patron) -> None:
    library.state.reservations[("L01", THIS_MONTH)] = who.patron_id
    before = snapshot(library)
    outcome = library.card_tap("L01", f"C-{who.patron_id}", who, NOW, lock_online=True)
    assert not outcome.unlock
    assert [(e.type, e.reason) for e in outcome.events] == [
        (EventType.REFUSED, "membership_expired")
    ]
    assert snapshot(library) == before


def test_a_membership_is_valid_through_its_last_day(library: StudyRooms) -> None:
    last_day = patron("E0002", membership_expires=TODAY)
    assert last_day.membership_valid(TODAY)
    assert not last_day.membership_valid(TODAY + timedelta(days=1))
    assert library.borrow("T01", last_day, NOW, lock_online=True).unlock


# --- Section 2: long-term rooms, reserved beforehand (事先線上登記) ------------------------------


def test_the_months_long_term_holder_opens_without_borrowing(library: StudyRooms) -> None:
    assert library.reserve_long_term("L01", DORA, THIS_MONTH, NOW) == Outcome(room_id="L01")
    assert library.status("L01", NOW, lock_online=True) is RoomStatus.RESERVED
    assert library.holder("L01", NOW) == "D0001"

    outcome = library.open_door("L01", DORA, NOW, lock_online=True)

    assert outcome == Outcome(
        room_id="L01",
        events=[event(EventType.QR_OPEN, Source.QR, room_id="L01", patron_id="D0001")],
        unlock=True,
    )


def test_a_reservation_holds_only_its_own_month(library: StudyRooms) -> None:
    library.reserve_long_term("L01", DORA, NEXT_MONTH, NOW)
    assert library.holder("L01", NOW) is None
    assert library.status("L01", NOW, lock_online=True) is RoomStatus.IDLE
    with refused(library, Reason.NOT_HOLDER):
        library.open_door("L01", DORA, NOW, lock_online=True)
    april = at(9, day=1, month=4)
    assert library.holder("L01", april) == "D0001"
    assert library.status("L01", april, lock_online=True) is RoomStatus.RESERVED
    assert library.open_door("L01", DORA, april, lock_online=True).unlock


@pytest.fixture
def frozen_holder(library: StudyRooms) -> StudyRooms:
    """X0001 holds L02 this month and was frozen yesterday for a week."""
    library.reserve_long_term("L02", XENA, THIS_MONTH, NOW - timedelta(days=1))
    library.freeze("X0001", 7, "left T01 unreturned", NOW - timedelta(days=1))
    return library


def test_a_frozen_long_term_holder_cannot_open_before_checking_in(
    frozen_holder: StudyRooms,
) -> None:
    with refused(frozen_holder, Reason.NOT_CHECKED_IN) as err:
        frozen_holder.open_door("L02", XENA, NOW, lock_online=True)
    assert err.value.placeholders == {"room": "L02"}
    assert not frozen_holder.checked_in_today("X0001", NOW)


def test_a_frozen_holder_opens_for_the_rest_of_the_day_after_counter_check_in(
    frozen_holder: StudyRooms,
) -> None:
    morning = at(8, 30)
    frozen_holder.check_in("X0001", morning)
    assert frozen_holder.patrons.check_ins == {"X0001": TODAY}
    assert frozen_holder.checked_in_today("X0001", morning)

    for moment in (morning, NOW, at(23, 59)):  # again and again, until midnight
        outcome = frozen_holder.open_door("L02", XENA, moment, lock_online=True)
        assert outcome.unlock
        assert outcome.events == [
            event(EventType.QR_OPEN, Source.QR, room_id="L02", patron_id="X0001", at=moment)
        ]


def test_a_check_in_does_not_carry_over_to_the_next_day(frozen_holder: StudyRooms) -> None:
    frozen_holder.check_in("X0001", at(8, 30))
    tomorrow = at(8, 30, day=11)
    with refused(frozen_holder, Reason.NOT_CHECKED_IN):
        frozen_holder.open_door("L02", XENA, tomorrow, lock_online=True)
    frozen_holder.check_in("X0001", tomorrow)
    assert frozen_holder.open_door("L02", XENA, tomorrow, lock_online=True).unlock


def test_a_holder_whose_freeze_ended_opens_without_checking_in(frozen_holder: StudyRooms) -> None:
    after = NOW + timedelta(days=6, minutes=1)  # frozen yesterday at 14:00 for 7 days
    assert frozen_holder.frozen("X0001", after) is None
    assert frozen_holder.open_door("L02", XENA, after, lock_online=True).unlock


def test_a_check_in_outside_service_hours_is_refused(frozen_holder: StudyRooms) -> None:
    with refused(frozen_holder, Reason.OUTSIDE_SERVICE_HOURS) as err:
        frozen_holder.check_in("X0001", at(7, 59))
    assert err.value.placeholders == {"opens": "08:00", "closes": "22:00"}
    with refused(frozen_holder, Reason.OUTSIDE_SERVICE_HOURS):
        frozen_holder.check_in("X0001", at(22))


@pytest.mark.parametrize(
    "patron_id", ["S0001", "X0001"], ids=["never frozen", "freeze already ended"]
)
def test_a_patron_who_is_not_frozen_need_not_check_in(library: StudyRooms, patron_id: str) -> None:
    library.freeze("X0001", 1, "violation", NOW - timedelta(days=2))
    with refused(library, Reason.NOT_FROZEN) as err:
        library.check_in(patron_id, NOW)
    assert err.value.placeholders == {"patron": patron_id}


# --- Section 3: leave by the PUSH button ---------------------------------------------------------


@pytest.mark.parametrize("in_use", [True, False], ids=["room in use", "idle room"])
def test_the_push_button_lets_anyone_out_and_is_logged(library: StudyRooms, in_use: bool) -> None:
    if in_use:
        borrowed(library)
    before = snapshot(library)

    outcome = library.door_event("T01", EventType.PUSH_EXIT, NOW)

    # Free egress: no decision, no patron, the lock opens mechanically from inside.
    assert outcome == Outcome(
        room_id="T01", events=[event(EventType.PUSH_EXIT, Source.PUSH_BUTTON, patron_id=None)]
    )
    assert snapshot(library) == before


def test_a_forced_door_is_logged_from_the_door_sensor(library: StudyRooms) -> None:
    outcome = library.door_event("L01", EventType.FORCED_OPEN, NOW)
    assert outcome.events == [event(EventType.FORCED_OPEN, Source.DOOR, room_id="L01")]
    assert not outcome.unlock
    assert not outcome.lock


# --- Section 4: enter (開門 by QR, or a card tap) -------------------------------------------------


def test_the_borrower_opens_by_qr(library: StudyRooms) -> None:
    borrowed(library)
    later = NOW + timedelta(hours=1)
    outcome = library.open_door("T01", ALICE, later, lock_online=True)
    assert outcome == Outcome(
        room_id="T01",
        events=[event(EventType.QR_OPEN, Source.QR, patron_id="S0001", at=later)],
        unlock=True,
    )


@pytest.mark.parametrize(
    ("room", "who"),
    [(T01, BOB), (T02, ALICE), (L01, BOB), (L02, DORA)],
    ids=["someone else's room", "an idle room", "another's long-term room", "unreserved room"],
)
def test_anyone_but_the_holder_is_refused_the_door(
    library: StudyRooms, room: Room, who: Patron
) -> None:
    borrowed(library, T01, ALICE)
    library.reserve_long_term("L01", DORA, THIS_MONTH, NOW)
    with refused(library, Reason.NOT_HOLDER) as err:
        library.open_door(room.room_id, who, NOW, lock_online=True)
    assert err.value.placeholders == {"room": room.room_id}


def test_the_lock_offline_refuses_an_open_fail_secure(library: StudyRooms) -> None:
    borrowed(library)
    with refused(library, Reason.LOCK_OFFLINE):
        library.open_door("T01", ALICE, NOW, lock_online=False)


def test_the_borrowers_card_opens_the_door(library: StudyRooms) -> None:
    borrowed(library)
    outcome = library.card_tap("T01", "C-S0001", ALICE, NOW, lock_online=True)
    assert outcome == Outcome(
        room_id="T01",
        events=[event(EventType.CARD_TAP, Source.CARD, patron_id="S0001")],
        unlock=True,
    )


def test_the_long_term_holders_card_opens_the_door(library: StudyRooms) -> None:
    library.reserve_long_term("L01", DORA, THIS_MONTH, NOW)
    outcome = library.card_tap("L01", "C-D0001", DORA, NOW, lock_online=True)
    assert outcome.unlock
    assert outcome.events[0].type is EventType.CARD_TAP


@pytest.mark.parametrize(
    ("card", "who", "lock_online", "reason"),
    [
        ("C-G0001", BOB, True, Reason.NOT_HOLDER),
        ("C-99999", None, True, Reason.UNKNOWN_CARD),
        ("C-S0001", ALICE, False, Reason.LOCK_OFFLINE),
    ],
    ids=["a stranger's card", "an unknown card", "the lock offline"],
)
def test_a_refused_card_tap_is_logged_not_raised(
    library: StudyRooms, card: str, who: Patron | None, lock_online: bool, reason: Reason
) -> None:
    borrowed(library, T01, ALICE)
    before = snapshot(library)

    outcome = library.card_tap("T01", card, who, NOW, lock_online=lock_online)

    assert outcome == Outcome(
        room_id="T01",
        events=[
            event(
                EventType.REFUSED,
                Source.CARD,
                patron_id=who.patron_id if who else None,
                reason=reason.value,
                card=card,
            )
        ],
        unlock=False,
        lock=False,
    )
    assert snapshot(library) == before


def test_a_frozen_holders_card_is_refused_until_check_in(frozen_holder: StudyRooms) -> None:
    before = snapshot(frozen_holder)
    outcome = frozen_holder.card_tap("L02", "C-X0001", XENA, NOW, lock_online=True)
    assert not outcome.unlock
    assert outcome.events[0].type is EventType.REFUSED
    assert outcome.events[0].reason == "not_checked_in"
    assert snapshot(frozen_holder) == before

    frozen_holder.check_in("X0001", NOW)
    assert frozen_holder.card_tap("L02", "C-X0001", XENA, NOW, lock_online=True).unlock


# --- Section 5: return (結束使用, or at the counter) ----------------------------------------------


def test_the_borrower_returns_the_room_it_is_idle_and_locked(library: StudyRooms) -> None:
    borrowed(library)
    later = NOW + timedelta(hours=2)

    outcome = library.return_room("T01", ALICE, later)

    assert outcome == Outcome(
        room_id="T01",
        events=[event(EventType.RETURNED, Source.QR, patron_id="S0001", at=later)],
        unlock=False,
        lock=True,
    )
    assert library.status("T01", later, lock_online=True) is RoomStatus.IDLE
    assert library.holder("T01", later) is None
    assert library.borrowed_room("S0001") is None
    # Nothing of the borrow is left but its ref, which staff may still name the patron by.
    assert library.state.as_dict() == StudyRoomsState().as_dict()
    assert set(library.patrons.refs.values()) == {
        RefEntry(patron_id="S0001", room_id="T01", month=None, until=NOW + timedelta(days=30))
    }
    # Someone else may borrow it now.
    assert library.borrow("T01", BOB, later, lock_online=True).unlock


def test_only_the_borrower_returns_the_room(library: StudyRooms) -> None:
    borrowed(library, T01, ALICE)
    with refused(library, Reason.NOT_HOLDER) as err:
        library.return_room("T01", BOB, NOW)
    assert err.value.placeholders == {"room": "T01"}


def test_an_idle_room_cannot_be_returned(library: StudyRooms) -> None:
    with refused(library, Reason.ROOM_NOT_IN_USE):
        library.return_room("T01", ALICE, NOW)


def test_a_long_term_room_is_not_returned(library: StudyRooms) -> None:
    library.reserve_long_term("L01", DORA, THIS_MONTH, NOW)
    with refused(library, Reason.NOT_TEMPORARY_ROOM):
        library.return_room("L01", DORA, NOW)


def test_a_borrower_whose_membership_ran_out_can_still_return(library: StudyRooms) -> None:
    last_day = patron("E0003", membership_expires=TODAY)
    borrowed(library, T01, last_day)
    assert library.return_room("T01", last_day, NOW + timedelta(days=1)).lock


def test_staff_return_a_room_at_the_counter_by_room(library: StudyRooms) -> None:
    borrowed(library, T01, ALICE)
    outcome = library.counter_return(NOW, room_id="T01")
    assert outcome == Outcome(
        room_id="T01",
        events=[event(EventType.RETURNED, Source.COUNTER, patron_id="S0001")],
        lock=True,
    )
    assert library.status("T01", NOW, lock_online=True) is RoomStatus.IDLE


def test_staff_return_a_room_at_the_counter_by_patron_id(library: StudyRooms) -> None:
    borrowed(library, T01, ALICE)
    borrowed(library, T02, BOB)
    outcome = library.counter_return(NOW, patron_id="G0001")
    assert outcome.room_id == "T02"
    assert outcome.events == [
        event(EventType.RETURNED, Source.COUNTER, room_id="T02", patron_id="G0001")
    ]
    assert library.holder("T01", NOW) == "S0001"  # Alice keeps hers


@pytest.mark.parametrize("moment", [at(7, 59), at(22), at(23, 30), at(3)])
def test_a_counter_return_outside_service_hours_is_refused(
    library: StudyRooms, moment: datetime
) -> None:
    borrowed(library, T01, ALICE, at(7))
    with refused(library, Reason.OUTSIDE_SERVICE_HOURS) as err:
        library.counter_return(moment, room_id="T01")
    assert err.value.placeholders == {"opens": "08:00", "closes": "22:00"}
    with refused(library, Reason.OUTSIDE_SERVICE_HOURS):
        library.counter_return(moment, patron_id="S0001")


@pytest.mark.parametrize("moment", [at(8), at(21, 59)])
def test_a_counter_return_inside_service_hours_is_served(
    library: StudyRooms, moment: datetime
) -> None:
    borrowed(library, T01, ALICE, at(7))
    assert library.counter_return(moment, room_id="T01").lock


def test_a_counter_that_opens_when_it_closes_is_always_open() -> None:
    library = StudyRooms(ROOMS, Policy(counter_opens="00:00", counter_closes="00:00"))
    borrowed(library, T01, ALICE, at(1))
    assert library.counter_return(at(3), room_id="T01").lock
    library.freeze("X0001", 3, "violation", at(1))
    library.check_in("X0001", at(3))
    assert library.checked_in_today("X0001", at(3))


def test_a_counter_serving_past_midnight_serves_at_one_in_the_morning() -> None:
    library = StudyRooms(ROOMS, Policy(counter_opens="20:00", counter_closes="02:00"))
    borrowed(library, T01, ALICE, at(21))
    with refused(library, Reason.OUTSIDE_SERVICE_HOURS):
        library.counter_return(at(14), room_id="T01")
    assert library.counter_return(at(1, day=11), room_id="T01").lock


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"room_id": "T02"}, Reason.ROOM_NOT_IN_USE),
        ({"patron_id": "G0001"}, Reason.HOLDS_NO_ROOM),
        ({}, Reason.HOLDS_NO_ROOM),
        ({"room_id": "L01"}, Reason.NOT_TEMPORARY_ROOM),
        ({"room_id": "Z99"}, Reason.UNKNOWN_ROOM),
    ],
    ids=["idle room", "patron holding nothing", "neither room nor patron", "long-term", "unknown"],
)
def test_a_counter_return_of_nothing_is_refused(
    library: StudyRooms, kwargs: dict[str, str], reason: Reason
) -> None:
    borrowed(library, T01, ALICE)
    with refused(library, reason):
        library.counter_return(NOW, **kwargs)


# --- automatic return --------------------------------------------------------------------------


def test_an_automatic_return_ends_the_borrow_and_locks(library: StudyRooms) -> None:
    borrowed(library)
    outcome = library.auto_return("T01", AutoReturnReason.EMPTY, NOW)
    assert outcome == Outcome(
        room_id="T01",
        events=[
            event(EventType.AUTO_RETURNED, Source.AUTOMATION, patron_id="S0001", reason="empty")
        ],
        lock=True,
    )
    assert library.status("T01", NOW, lock_online=True) is RoomStatus.IDLE


@pytest.mark.parametrize(
    ("room_id", "reason"),
    [("T02", Reason.ROOM_NOT_IN_USE), ("L01", Reason.NOT_TEMPORARY_ROOM)],
)
def test_an_automatic_return_of_nothing_is_refused(
    library: StudyRooms, room_id: str, reason: Reason
) -> None:
    borrowed(library)
    with refused(library, reason):
        library.auto_return(room_id, "closing", NOW)


# --- reserving long-term rooms -------------------------------------------------------------------


@pytest.mark.parametrize("month", [THIS_MONTH, NEXT_MONTH, "2027-01", "2026-12"])
def test_staff_reserve_a_long_term_room_for_this_or_a_later_month(
    library: StudyRooms, month: str
) -> None:
    assert library.reserve_long_term("L01", DORA, month, NOW) == Outcome(room_id="L01")
    assert library.reservations() == [("L01", month, "D0001")]


def test_only_long_term_rooms_are_reserved(library: StudyRooms) -> None:
    with refused(library, Reason.NOT_LONG_TERM_ROOM) as err:
        library.reserve_long_term("T01", DORA, THIS_MONTH, NOW)
    assert err.value.placeholders == {"room": "T01"}


@pytest.mark.parametrize(
    "month",
    ["2026-13", "26-01", "2026-00", "2026-3", "2026/03", "2026-03-01", " 2026-03", "", "March",
     "2026-03\n", "２０２６-03", LAST_MONTH, "2025-12", "0000-01", None, 202603],
)  # fmt: skip
def test_a_month_must_be_a_yyyy_mm_from_this_month_on(library: StudyRooms, month: Any) -> None:
    with refused(library, Reason.INVALID_MONTH) as err:
        library.reserve_long_term("L01", DORA, month, NOW)
    assert set(err.value.placeholders) == {"month"}


def test_a_room_reserved_by_someone_else_is_refused(library: StudyRooms) -> None:
    library.reserve_long_term("L01", DORA, THIS_MONTH, NOW)
    with refused(library, Reason.ALREADY_RESERVED) as err:
        library.reserve_long_term("L01", BOB, THIS_MONTH, NOW)
    assert err.value.placeholders == {"room": "L01", "month": THIS_MONTH}
    # The same room in another month is free.
    library.reserve_long_term("L01", BOB, NEXT_MONTH, NOW)
    assert library.reservations() == [
        ("L01", THIS_MONTH, "D0001"),
        ("L01", NEXT_MONTH, "G0001"),
    ]


def test_reserving_the_same_room_twice_for_the_same_patron_is_a_no_op(library: StudyRooms) -> None:
    library.reserve_long_term("L01", DORA, THIS_MONTH, NOW)
    before = snapshot(library)
    assert library.reserve_long_term("L01", DORA, THIS_MONTH, NOW) == Outcome(room_id="L01")
    assert snapshot(library) == before


def test_one_long_term_room_per_patron_per_month(library: StudyRooms) -> None:
    library.reserve_long_term("L01", DORA, THIS_MONTH, NOW)
    with refused(library, Reason.ALREADY_HOLDING) as err:
        library.reserve_long_term("L02", DORA, THIS_MONTH, NOW)
    assert err.value.placeholders == {"room": "L01"}
    # Another month is another matter.
    library.reserve_long_term("L02", DORA, NEXT_MONTH, NOW)


def test_a_frozen_patron_may_still_be_given_a_long_term_room(library: StudyRooms) -> None:
    # The freeze is enforced at the door (daily check-in), not at reservation.
    library.freeze("X0001", 7, "violation", NOW)
    library.reserve_long_term("L02", XENA, THIS_MONTH, NOW)
    assert library.holder("L02", NOW) == "X0001"


def test_cancelling_this_months_reservation_locks_the_room(library: StudyRooms) -> None:
    library.reserve_long_term("L01", DORA, THIS_MONTH, NOW)
    outcome = library.cancel_reservation("L01", THIS_MONTH, NOW)
    assert outcome == Outcome(room_id="L01", lock=True)
    assert library.holder("L01", NOW) is None
    assert library.status("L01", NOW, lock_online=True) is RoomStatus.IDLE
    with refused(library, Reason.NOT_HOLDER):
        library.open_door("L01", DORA, NOW, lock_online=True)


def test_cancelling_a_later_months_reservation_leaves_the_lock_alone(library: StudyRooms) -> None:
    library.reserve_long_term("L01", DORA, THIS_MONTH, NOW)
    library.reserve_long_term("L01", BOB, NEXT_MONTH, NOW)
    assert library.cancel_reservation("L01", NEXT_MONTH, NOW) == Outcome(room_id="L01", lock=False)
    assert library.reservations() == [("L01", THIS_MONTH, "D0001")]


@pytest.mark.parametrize(
    ("room_id", "month", "reason"),
    [
        ("L01", NEXT_MONTH, Reason.NO_RESERVATION),
        ("L02", THIS_MONTH, Reason.NO_RESERVATION),
        ("T01", THIS_MONTH, Reason.NO_RESERVATION),
        ("L01", "2026-13", Reason.INVALID_MONTH),
        ("Z99", THIS_MONTH, Reason.UNKNOWN_ROOM),
    ],
)
def test_cancelling_a_reservation_that_does_not_exist_is_refused(
    library: StudyRooms, room_id: str, month: str, reason: Reason
) -> None:
    library.reserve_long_term("L01", DORA, THIS_MONTH, NOW)
    with refused(library, reason):
        library.cancel_reservation(room_id, month, NOW)


def test_parse_month_returns_a_valid_month() -> None:
    assert parse_month("2026-03") == "2026-03"
    with pytest.raises(Refused) as err:
        parse_month("2026-3")
    assert err.value.reason is Reason.INVALID_MONTH
    assert err.value.placeholders == {"month": "2026-3"}


# --- freezes -------------------------------------------------------------------------------------


def test_a_freeze_lasts_the_policys_days_by_default(library: StudyRooms) -> None:
    freeze = _freeze(library, "S0001", None, "left T01 unreturned", NOW)
    assert freeze == Freeze(until=NOW + timedelta(days=7), reason="left T01 unreturned")
    assert library.frozen("S0001", NOW) == freeze
    assert library.patrons.freezes == {"S0001": freeze}

    library = StudyRooms(ROOMS, Policy(freeze_days=14))
    assert _freeze(library, "S0001", None, "r", NOW).until == NOW + timedelta(days=14)


def test_a_freeze_ends_at_its_moment(library: StudyRooms) -> None:
    library.freeze("S0001", 2, "r", NOW)
    assert library.frozen("S0001", NOW + timedelta(days=2, seconds=-1)) is not None
    assert library.frozen("S0001", NOW + timedelta(days=2)) is None


@pytest.mark.parametrize("days", [1, 30, MAX_FREEZE_DAYS])
def test_staff_may_freeze_for_1_to_3650_days(library: StudyRooms, days: int) -> None:
    assert _freeze(library, "S0001", days, "r", NOW).until == NOW + timedelta(days=days)


@pytest.mark.parametrize("days", [0, -1, MAX_FREEZE_DAYS + 1, True, False, "7", 1.5])
def test_a_freeze_length_out_of_range_is_refused(library: StudyRooms, days: Any) -> None:
    with refused(library, Reason.INVALID_VALUE) as err:
        library.freeze("S0001", days, "r", NOW)
    assert err.value.placeholders == {"field": "days", "value": str(days)}


def test_a_shorter_freeze_never_shortens_a_longer_one(library: StudyRooms) -> None:
    library.freeze("S0001", 30, "first", NOW)
    freeze = _freeze(library, "S0001", 3, "second", NOW + timedelta(days=1))
    assert freeze.until == NOW + timedelta(days=30)
    assert library.patrons.freezes["S0001"].until == NOW + timedelta(days=30)


def test_a_longer_freeze_extends_a_shorter_one(library: StudyRooms) -> None:
    library.freeze("S0001", 3, "first", NOW)
    assert _freeze(library, "S0001", 30, "second", NOW).until == NOW + timedelta(days=30)


def test_a_new_freeze_after_an_ended_one_starts_afresh(library: StudyRooms) -> None:
    library.freeze("S0001", 30, "first", NOW - timedelta(days=60))
    assert _freeze(library, "S0001", 3, "second", NOW).until == NOW + timedelta(days=3)


def test_unfreezing_lifts_the_freeze_and_the_check_in(frozen_holder: StudyRooms) -> None:
    frozen_holder.check_in("X0001", NOW)
    frozen_holder.unfreeze("X0001", NOW)
    assert frozen_holder.frozen("X0001", NOW) is None
    assert "X0001" not in frozen_holder.patrons.freezes
    assert "X0001" not in frozen_holder.patrons.check_ins
    assert frozen_holder.borrow("T01", XENA, NOW, lock_online=True).unlock


@pytest.mark.parametrize("patron_id", ["S0001", "X0001"], ids=["never frozen", "freeze ended"])
def test_unfreezing_a_patron_who_is_not_frozen_is_refused(
    library: StudyRooms, patron_id: str
) -> None:
    library.freeze("X0001", 1, "r", NOW - timedelta(days=1))
    with refused(library, Reason.NOT_FROZEN) as err:
        library.unfreeze(patron_id, NOW)
    assert err.value.placeholders == {"patron": patron_id}


# --- status --------------------------------------------------------------------------------------


def test_the_status_of_every_kind_of_room(library: StudyRooms) -> None:
    borrowed(library, T01, ALICE)
    library.reserve_long_term("L01", DORA, THIS_MONTH, NOW)
    statuses = {room.room_id: library.status(room.room_id, NOW, lock_online=True) for room in ROOMS}
    assert statuses == {
        "T01": RoomStatus.IN_USE,
        "T02": RoomStatus.IDLE,
        "L01": RoomStatus.RESERVED,
        "L02": RoomStatus.IDLE,
    }
    for room in ROOMS:  # a lock offline shows unavailable, whatever the room holds
        assert library.status(room.room_id, NOW, lock_online=False) is RoomStatus.UNAVAILABLE


def test_a_reservation_shows_only_in_its_month(library: StudyRooms) -> None:
    library.reserve_long_term("L01", DORA, THIS_MONTH, NOW)
    assert library.status("L01", at(0, day=1, month=4), lock_online=True) is RoomStatus.IDLE
    assert library.status("L01", at(23, 59, day=31), lock_online=True) is RoomStatus.RESERVED


# --- unknown rooms -------------------------------------------------------------------------------

UNKNOWN_ROOM_ACTIONS: dict[str, Callable[[StudyRooms, Any], object]] = {
    "borrow": lambda lib, r: lib.borrow(r, ALICE, NOW, lock_online=True),
    "open": lambda lib, r: lib.open_door(r, ALICE, NOW, lock_online=True),
    "card tap": lambda lib, r: lib.card_tap(r, "C-S0001", ALICE, NOW, lock_online=True),
    "return": lambda lib, r: lib.return_room(r, ALICE, NOW),
    "counter return": lambda lib, r: lib.counter_return(NOW, room_id=r),
    "auto return": lambda lib, r: lib.auto_return(r, "empty", NOW),
    "reserve": lambda lib, r: lib.reserve_long_term(r, DORA, THIS_MONTH, NOW),
    "cancel": lambda lib, r: lib.cancel_reservation(r, THIS_MONTH, NOW),
    "status": lambda lib, r: lib.status(r, NOW, lock_online=True),
    "holder": lambda lib, r: lib.holder(r, NOW),
    "push exit": lambda lib, r: lib.door_event(r, EventType.PUSH_EXIT, NOW),
    "occupancy": lambda lib, r: lib.occupancy(r, False, NOW),
}


@pytest.mark.parametrize("room_id", ["Z99", "t01", "", ["T01"]])
@pytest.mark.parametrize("action", UNKNOWN_ROOM_ACTIONS.values(), ids=UNKNOWN_ROOM_ACTIONS)
def test_an_unknown_room_is_refused(
    library: StudyRooms, action: Callable[[StudyRooms, Any], object], room_id: Any
) -> None:
    borrowed(library)
    with refused(library, Reason.UNKNOWN_ROOM) as err:
        action(library, room_id)
    assert err.value.placeholders == {"room": str(room_id)}


# --- due returns: empty rooms, closing time, maximum use -----------------------------------------


def test_a_room_left_empty_for_the_auto_return_minutes_is_due(library: StudyRooms) -> None:
    borrowed(library, T01, ALICE, at(9))
    library.occupancy("T01", True, at(9, 1))
    library.occupancy("T01", False, at(10))  # the patron leaves without returning
    assert library.state.vacant_since == {"T01": at(10)}
    assert library.due_returns(at(10, 29)) == []
    assert library.due_returns(at(10, 30)) == [("T01", AutoReturnReason.EMPTY)]

    library.auto_return("T01", AutoReturnReason.EMPTY, at(10, 30))
    assert library.due_returns(at(10, 31)) == []
    assert library.state.vacant_since == {}


def test_a_vacant_report_does_not_restart_the_clock(library: StudyRooms) -> None:
    borrowed(library, T01, ALICE, at(9))
    library.occupancy("T01", False, at(10))
    library.occupancy("T01", False, at(10, 20))
    assert library.due_returns(at(10, 30)) == [("T01", "empty")]


def test_someone_coming_back_stops_the_clock(library: StudyRooms) -> None:
    borrowed(library, T01, ALICE, at(9))
    library.occupancy("T01", False, at(10))
    library.occupancy("T01", True, at(10, 20))
    assert library.due_returns(at(11)) == []
    assert library.state.vacant_since == {}


def test_a_room_already_empty_when_borrowed_counts_from_the_borrow(library: StudyRooms) -> None:
    library.occupancy("T01", False, at(8))
    assert library.state.vacant_since == {}  # an idle room keeps no clock
    borrowed(library, T01, ALICE, at(9))
    assert library.state.vacant_since == {"T01": at(9)}
    assert library.due_returns(at(9, 29)) == []
    assert library.due_returns(at(9, 30)) == [("T01", "empty")]


def test_without_an_occupancy_report_a_room_never_returns_for_emptiness(
    library: StudyRooms,
) -> None:
    borrowed(library, T01, ALICE, at(9))
    assert library.due_returns(at(21, 59)) == []


def test_auto_return_minutes_zero_turns_the_empty_room_timer_off() -> None:
    library = StudyRooms(ROOMS, Policy(auto_return_minutes=0))
    borrowed(library, T01, ALICE, at(9))
    library.occupancy("T01", False, at(9, 1))
    assert library.due_returns(at(21, 59)) == []


def test_every_temporary_room_goes_back_at_closing_time(library: StudyRooms) -> None:
    borrowed(library, T01, ALICE, at(9))
    borrowed(library, T02, BOB, at(21, 59))
    assert library.due_returns(at(21, 59)) == []
    assert library.due_returns(at(22)) == [("T01", "closing"), ("T02", "closing")]
    assert library.due_returns(at(23, 59)) == [("T01", "closing"), ("T02", "closing")]


def test_a_room_borrowed_after_closing_is_not_returned_at_once(library: StudyRooms) -> None:
    borrowed(library, T01, ALICE, at(22, 30))
    assert library.due_returns(at(23)) == []
    assert library.due_returns(at(9, day=11)) == []
    assert library.due_returns(at(22, day=11)) == [("T01", "closing")]


def test_a_closing_missed_overnight_is_caught_up_next_morning(library: StudyRooms) -> None:
    # Home Assistant was down from 21:00 to 08:00: yesterday's closing still sends the room back.
    borrowed(library, T01, ALICE, at(9))
    assert library.due_returns(at(8, day=11)) == [("T01", "closing")]


def test_return_at_closing_off_keeps_rooms_overnight() -> None:
    library = StudyRooms(ROOMS, Policy(return_at_closing=False))
    borrowed(library, T01, ALICE, at(9))
    assert library.due_returns(at(22)) == []
    assert library.due_returns(at(9, day=11)) == []


def test_a_room_used_longer_than_the_maximum_is_due() -> None:
    library = StudyRooms(ROOMS, Policy(max_use_minutes=120))
    borrowed(library, T01, ALICE, at(9))
    assert library.due_returns(at(10, 59)) == []
    assert library.due_returns(at(11)) == [("T01", AutoReturnReason.MAX_USE)]


def test_the_empty_room_reason_comes_first(library: StudyRooms) -> None:
    borrowed(library, T01, ALICE, at(9))
    library.occupancy("T01", False, at(9))
    assert library.due_returns(at(22)) == [("T01", "empty")]


def test_nothing_is_due_when_every_timer_is_off() -> None:
    library = StudyRooms(
        ROOMS, Policy(auto_return_minutes=0, return_at_closing=False, max_use_minutes=0)
    )
    borrowed(library, T01, ALICE, at(9))
    library.occupancy("T01", False, at(9))
    assert library.due_returns(at(9, day=20)) == []


def test_long_term_rooms_are_never_due(library: StudyRooms) -> None:
    library.reserve_long_term("L01", DORA, THIS_MONTH, NOW)
    library.occupancy("L01", False, at(9))
    assert library.state.vacant_since == {}
    assert library.due_returns(at(23)) == []


# --- prune ---------------------------------------------------------------------------------------


def test_prune_drops_ended_freezes_old_check_ins_and_past_months(library: StudyRooms) -> None:
    state, patrons = library.state, library.patrons
    patrons.freezes = {
        "S0001": Freeze(until=NOW - timedelta(seconds=1), reason="ended"),
        "G0001": Freeze(until=NOW, reason="ends now"),
        "X0001": Freeze(until=NOW + timedelta(days=3), reason="runs"),
    }
    patrons.check_ins = {"S0001": TODAY - timedelta(days=1), "X0001": TODAY}
    state.reservations = {
        ("L01", "2025-12"): "D0001",
        ("L01", LAST_MONTH): "D0001",
        ("L01", THIS_MONTH): "D0001",
        ("L02", NEXT_MONTH): "X0001",
    }
    borrowed(library)

    assert library.prune(NOW) is True

    assert set(patrons.freezes) == {"X0001"}
    assert patrons.check_ins == {"X0001": TODAY}
    assert state.reservations == {("L01", THIS_MONTH): "D0001", ("L02", NEXT_MONTH): "X0001"}
    assert set(state.borrows) == {"T01"}  # a borrow is never pruned
    assert library.prune(NOW) is False


def test_prune_of_nothing_changes_nothing(library: StudyRooms) -> None:
    assert library.prune(NOW) is False
    assert library.state.as_dict() == StudyRoomsState().as_dict()


# --- persistence ---------------------------------------------------------------------------------


def busy_state() -> StudyRoomsState:
    """A state with something in every field."""
    return StudyRoomsState(
        borrows={
            "T01": Borrow(patron_id="S0001", since=at(9, 15)),
            "T02": Borrow(patron_id="G0001", since=at(13, 2)),
        },
        reservations={
            ("L01", THIS_MONTH): "D0001",
            ("L02", THIS_MONTH): "X0001",
            ("L01", NEXT_MONTH): "G0001",
        },
        vacant_since={"T01": at(10)},
    )


def busy_patrons() -> PatronState:
    """The library's part, with something in every field."""
    return PatronState(
        freezes={"X0001": Freeze(until=at(14, day=17), reason="left T01 unreturned 未歸還")},
        check_ins={"X0001": TODAY},
        refs={
            "REF-0123456789AB": RefEntry(
                patron_id="S0001", room_id="T01", month=None, until=at(9, day=20)
            )
        },
        violations={
            "S0001": (Violation(at=at(22, day=9), reason="closing", ref="REF-0123456789AB"),)
        },
    )


def test_the_state_survives_a_round_trip_through_json() -> None:
    state = busy_state()
    stored = json.loads(json.dumps(state.as_dict()))
    restored = StudyRoomsState.from_dict(stored)
    assert restored == state
    assert restored.as_dict() == state.as_dict()
    assert restored.borrows["T01"].since.utcoffset() == timedelta(hours=8)


def test_the_stored_form_is_plain_json() -> None:
    assert busy_state().as_dict() == {
        "borrows": {
            "T01": {"patron_id": "S0001", "since": "2026-03-10T09:15:00+08:00", "ref": ""},
            "T02": {"patron_id": "G0001", "since": "2026-03-10T13:02:00+08:00", "ref": ""},
        },
        "reservations": [
            {"room": "L01", "month": "2026-03", "patron_id": "D0001"},
            {"room": "L01", "month": "2026-04", "patron_id": "G0001"},
            {"room": "L02", "month": "2026-03", "patron_id": "X0001"},
        ],
        "vacant_since": {"T01": "2026-03-10T10:00:00+08:00"},
    }
    assert busy_patrons().as_dict() == {
        "freezes": {
            "X0001": {"until": "2026-03-17T14:00:00+08:00", "reason": "left T01 unreturned 未歸還"}
        },
        "check_ins": {"X0001": "2026-03-10"},
        "refs": {
            "REF-0123456789AB": {
                "patron_id": "S0001",
                "room": "T01",
                "month": None,
                "until": "2026-03-20T09:00:00+08:00",
            }
        },
        "violations": {
            "S0001": [
                {"at": "2026-03-09T22:00:00+08:00", "reason": "closing", "ref": "REF-0123456789AB"}
            ]
        },
    }
    patrons = busy_patrons()
    assert PatronState.from_dict(json.loads(json.dumps(patrons.as_dict()))) == patrons


def test_an_empty_store_reads_as_an_empty_state() -> None:
    assert StudyRoomsState.from_dict({}) == StudyRoomsState()
    assert json.dumps(StudyRoomsState().as_dict())


def test_a_restored_library_keeps_applying_the_rules() -> None:
    library = StudyRooms(
        ROOMS,
        Policy(),
        StudyRoomsState.from_dict(busy_state().as_dict()),
        patrons=PatronState.from_dict(busy_patrons().as_dict()),
    )
    with refused(library, Reason.ROOM_NOT_IDLE):
        library.borrow("T01", BOB, NOW, lock_online=True)
    assert library.open_door("L02", XENA, NOW, lock_online=True).unlock  # checked in today
    with refused(library, Reason.NOT_CHECKED_IN):
        library.open_door("L02", XENA, at(9, day=11), lock_online=True)
    assert library.open_door("L01", DORA, NOW, lock_online=True).unlock
    assert library.due_returns(at(10, 30)) == [("T01", "empty")]


def test_a_room_removed_from_the_configuration_drops_its_borrow_on_load() -> None:
    library = StudyRooms((T02, L01, L02), Policy(), busy_state())
    assert set(library.state.borrows) == {"T02"}
    assert library.state.vacant_since == {}
    assert library.borrowed_room("S0001") is None  # Alice holds nothing any more
    assert library.state.reservations == busy_state().reservations
    assert library.due_returns(at(10, 30)) == []


# --- masks and months ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("patron_id", "masked"),
    [
        (None, None),
        ("", None),
        ("A", "*"),
        ("AB", "**"),
        ("S01", "S*1"),
        ("S0001", "S***1"),
        ("X00001", "X****1"),
        ("40947001", "40*****1"),
        ("C-S0001", "C-****1"),
    ],
)
def test_mask_patron_id(patron_id: str | None, masked: str | None) -> None:
    assert mask_patron_id(patron_id) == masked


@given(st.text(min_size=1))
def test_a_mask_keeps_the_length_and_shows_at_most_three_characters(patron_id: str) -> None:
    masked = mask_patron_id(patron_id)
    assert masked is not None
    assert len(masked) == len(patron_id)
    shown = [m for m in masked if m != "*"]
    assert "*" in masked
    assert len(shown) <= 3
    assert len(shown) < len(patron_id)


@given(st.text(alphabet=st.characters(blacklist_characters="*"), min_size=1))
def test_a_mask_never_shows_the_whole_id(patron_id: str) -> None:
    assert mask_patron_id(patron_id) != patron_id


@pytest.mark.parametrize(
    ("moment", "key"),
    [
        (NOW, "2026-03"),
        (date(2026, 12, 31), "2026-12"),
        (date(999, 1, 1), "0999-01"),
        (at(0, day=1, month=4), "2026-04"),
        (datetime(2026, 3, 31, 16, 0, tzinfo=ZoneInfo("UTC")), "2026-03"),  # caller localises
    ],
)
def test_month_key(moment: datetime | date, key: str) -> None:
    assert month_key(moment) == key


# --- invariants, whatever happens ----------------------------------------------------------------

PATRONS = (ALICE, BOB, DORA, XENA, EXPIRED)
ROOM_IDS = [room.room_id for room in ROOMS]
COMMANDS: dict[str, Callable[[StudyRooms, str, Patron, datetime], object]] = {
    "borrow": lambda lib, r, p, t: lib.borrow(r, p, t, lock_online=True),
    "borrow offline": lambda lib, r, p, t: lib.borrow(r, p, t, lock_online=False),
    "open": lambda lib, r, p, t: lib.open_door(r, p, t, lock_online=True),
    "return": lambda lib, r, p, t: lib.return_room(r, p, t),
    "counter return": lambda lib, r, p, t: lib.counter_return(t, room_id=r),
    "counter return by id": lambda lib, r, p, t: lib.counter_return(t, patron_id=p.patron_id),
    "reserve": lambda lib, r, p, t: lib.reserve_long_term(r, p, month_key(t), t),
    "cancel": lambda lib, r, p, t: lib.cancel_reservation(r, month_key(t), t),
    "freeze": lambda lib, r, p, t: lib.freeze(p.patron_id, 1, "r", t),
    "unfreeze": lambda lib, r, p, t: lib.unfreeze(p.patron_id, t),
    "check in": lambda lib, r, p, t: lib.check_in(p.patron_id, t),
    "vacant": lambda lib, r, p, t: lib.occupancy(r, False, t),
    "occupied": lambda lib, r, p, t: lib.occupancy(r, True, t),
    "auto return": lambda lib, r, p, t: lib.auto_return(r, "empty", t),
}


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(sorted(COMMANDS)),
            st.sampled_from(ROOM_IDS),
            st.sampled_from(PATRONS),
            st.integers(min_value=0, max_value=60 * 24 * 3),
        ),
        max_size=40,
    )
)
def test_whatever_happens_the_rules_hold(steps: list[tuple[str, str, Patron, int]]) -> None:
    library = StudyRooms(ROOMS, Policy())
    start = at(7)
    for command, room_id, who, minutes in sorted(steps, key=lambda step: step[3]):
        now = start + timedelta(minutes=minutes)
        before = snapshot(library)
        try:
            COMMANDS[command](library, room_id, who, now)
        except Refused:
            assert snapshot(library) == before, command
        holders = [b.patron_id for b in library.state.borrows.values()]
        assert len(holders) == len(set(holders)), "a patron holds two temporary rooms"
        assert all(library.rooms[r].kind is RoomKind.TEMPORARY for r in library.state.borrows)
        assert set(library.state.vacant_since) <= set(library.state.borrows)
        months = [(pid, month) for (_, month), pid in library.state.reservations.items()]
        assert len(months) == len(set(months)), "a patron holds two long-term rooms in a month"
        assert EXPIRED.patron_id not in holders
        json.dumps(library.state.as_dict())
