"""The holder's card in the lock: which card belongs in which slot until when, and the changes."""

from __future__ import annotations

from datetime import date, datetime, timedelta
import hashlib
import json
from zoneinfo import ZoneInfo

import pytest

from custom_components.ntnu_library.core.lock_slots import (
    Grant,
    HeardMark,
    LockDecision,
    LockFacts,
    LockSlotsState,
    LogMark,
    SlotChange,
    SlotMode,
    Wanted,
    lock_event,
    plan,
    wanted,
)
from custom_components.ntnu_library.core.model import (
    Borrow,
    EventType,
    Freeze,
    Patron,
    Room,
    RoomKind,
    Source,
)
from custom_components.ntnu_library.core.policy import Policy
from custom_components.ntnu_library.core.study_rooms import StudyRooms

TAIPEI = ZoneInfo("Asia/Taipei")
NOW = datetime(2026, 3, 10, 10, 0, tzinfo=TAIPEI)
FACTS = LockFacts(rfid_users=10, year_day_schedules=1, log_records=64, min_card=4, max_card=32)
ROOMS = [
    Room(room_id="T01", name="T01", kind=RoomKind.TEMPORARY),
    Room(room_id="L01", name="L01", kind=RoomKind.LONG_TERM),
]
PATRONS = {
    "S0001": Patron(patron_id="S0001", name="s", category="student", card="c-s0001"),
    "D0001": Patron(patron_id="D0001", name="d", category="student", card="C-D0001"),
    "X0001": Patron(patron_id="X0001", name="x", category="student", card="C-X0001"),
    "N0001": Patron(patron_id="N0001", name="n", category="student"),  # no card
    "E0001": Patron(
        patron_id="E0001",
        name="e",
        category="student",
        card="C-E0001",
        membership_expires=date(2026, 3, 20),
    ),
    "U0001": Patron(
        patron_id="U0001", name="u", category="student", card="C-U0001", suspended=True
    ),
}


def _rooms(**policy: object) -> StudyRooms:
    return StudyRooms(ROOMS, Policy(**policy))  # type: ignore[arg-type]


def _key(card: str) -> str:
    return "K:" + hashlib.sha256(card.encode()).hexdigest()[:16]


def _wanted(rooms: StudyRooms, room_id: str, now: datetime = NOW, facts: LockFacts = FACTS):
    return wanted(rooms, room_id, now, facts=facts, patron_of=PATRONS.get, key=_key)


def _windows(items: list[Wanted]) -> list[tuple[str, str, datetime, datetime]]:
    return [(w.grant.patron_id, w.card, w.grant.start, w.grant.end) for w in items]


def _borrow(rooms: StudyRooms, patron_id: str, since: datetime = NOW) -> None:
    rooms.state.borrows["T01"] = Borrow(patron_id=patron_id, since=since, ref="REF-1")


# --- what a lock should hold ------------------------------------------------------------------


def test_a_borrowers_card_opens_until_the_next_closing_time() -> None:
    rooms = _rooms()
    _borrow(rooms, "S0001", NOW.replace(microsecond=123))
    assert _windows(_wanted(rooms, "T01")) == [
        ("S0001", "C-S0001", NOW, NOW.replace(hour=22)),  # the card as every system keys it
    ]
    assert _wanted(rooms, "T01")[0].grant.card_key == _key("C-S0001")


def test_a_borrow_after_closing_runs_to_the_next_days_closing() -> None:
    rooms = _rooms()
    late = NOW.replace(hour=23)
    _borrow(rooms, "S0001", late)
    assert _windows(_wanted(rooms, "T01", late))[0][3] == (NOW + timedelta(days=1)).replace(hour=22)


def test_a_maximum_use_ends_the_card_sooner() -> None:
    rooms = _rooms(max_use_minutes=90)
    _borrow(rooms, "S0001")
    assert _windows(_wanted(rooms, "T01"))[0][3] == NOW + timedelta(minutes=90)


def test_a_borrow_kept_past_closing_opens_until_the_next_one_when_rooms_stay_borrowed() -> None:
    rooms = _rooms(return_at_closing=False)
    _borrow(rooms, "S0001")
    next_day = NOW + timedelta(days=1)
    assert _windows(_wanted(rooms, "T01", next_day))[0][2:] == (NOW, next_day.replace(hour=22))
    # Rooms that go back at closing: past it, nothing (the room is returned then).
    rooms = _rooms()
    _borrow(rooms, "S0001")
    assert _wanted(rooms, "T01", NOW.replace(hour=22, minute=1)) == []


def test_a_long_term_holder_opens_for_the_month_and_the_next_holder_from_the_first() -> None:
    rooms = _rooms()
    rooms.state.reservations[("L01", "2026-03")] = "D0001"
    rooms.state.reservations[("L01", "2026-04")] = "S0001"
    march = datetime(2026, 3, 1, tzinfo=TAIPEI)
    april = datetime(2026, 4, 1, tzinfo=TAIPEI)
    may = datetime(2026, 5, 1, tzinfo=TAIPEI)
    assert _windows(_wanted(rooms, "L01")) == [
        ("D0001", "C-D0001", march, april),
        ("S0001", "C-S0001", april, may),
    ]
    # A lock with one slot for the site takes this month's holder only.
    one = LockFacts(rfid_users=1, year_day_schedules=1)
    assert [w.grant.patron_id for w in _wanted(rooms, "L01", facts=one)] == ["D0001"]


@pytest.mark.parametrize(
    ("patron_id", "why"),
    [("N0001", "no card"), ("U0001", "suspended"), ("Z0001", "not in the directory")],
)
def test_nothing_for_a_patron_the_lock_cannot_know(patron_id: str, why: str) -> None:
    rooms = _rooms()
    _borrow(rooms, patron_id)
    assert _wanted(rooms, "T01") == [], why


def test_a_card_the_lock_cannot_take_is_not_written() -> None:
    rooms = _rooms()
    _borrow(rooms, "S0001")
    assert (
        _wanted(rooms, "T01", facts=LockFacts(rfid_users=2, year_day_schedules=1, max_card=4)) == []
    )


def test_a_membership_ending_ends_the_card_with_it() -> None:
    rooms = _rooms()
    rooms.state.reservations[("L01", "2026-03")] = "E0001"
    (_, _, _, end) = _windows(_wanted(rooms, "L01"))[0]
    assert end == datetime(2026, 3, 21, tzinfo=TAIPEI)
    assert _wanted(rooms, "L01", datetime(2026, 3, 21, 9, tzinfo=TAIPEI)) == []


def test_a_frozen_holder_opens_only_after_checking_in_and_only_that_day() -> None:
    rooms = _rooms()
    rooms.state.reservations[("L01", "2026-03")] = "X0001"
    rooms.patrons.freezes["X0001"] = Freeze(until=NOW + timedelta(days=30), reason="late")
    assert _wanted(rooms, "L01") == []  # frozen beyond the month: nothing in the lock

    rooms.patrons.check_ins["X0001"] = NOW.date()
    midnight = NOW.replace(hour=0)
    assert _windows(_wanted(rooms, "L01")) == [
        ("X0001", "C-X0001", midnight, midnight + timedelta(days=1))
    ]
    assert _wanted(rooms, "L01", NOW + timedelta(days=1)) == []  # a new day: check in again


def test_a_freeze_ending_within_the_month_opens_from_its_end() -> None:
    rooms = _rooms()
    rooms.state.reservations[("L01", "2026-03")] = "X0001"
    until = NOW + timedelta(days=3)
    rooms.patrons.freezes["X0001"] = Freeze(until=until, reason="late")
    assert _windows(_wanted(rooms, "L01"))[0][2] == until


# --- the changes that get it there ------------------------------------------------------------


def _grant(patron_id: str, end_hour: int = 22) -> Grant:
    return Grant(
        patron_id=patron_id,
        card_key=_key(f"C-{patron_id}"),
        start=NOW,
        end=NOW.replace(hour=end_hour),
    )


def _want(patron_id: str, end_hour: int = 22) -> Wanted:
    return Wanted(grant=_grant(patron_id, end_hour), card=f"C-{patron_id}")


def test_what_is_held_already_stays() -> None:
    assert plan([9, 8], {8: _grant("S0001")}, [_want("S0001")]) == []


def test_a_card_no_longer_wanted_is_cleared_and_a_new_one_written_clears_first() -> None:
    changes = plan([9], {9: _grant("S0001")}, [_want("G0001")])
    assert changes == [SlotChange(slot=9, wanted=None), SlotChange(slot=9, wanted=_want("G0001"))]
    assert plan([9, 8], {9: _grant("S0001")}, []) == [SlotChange(slot=9, wanted=None)]


def test_a_card_with_another_end_is_written_again_in_its_own_slot() -> None:
    changes = plan([9, 8], {8: _grant("S0001", 20)}, [_want("S0001")])
    assert changes == [SlotChange(slot=8, wanted=_want("S0001"))]


def test_the_site_keeps_the_locks_last_slots_and_never_more_than_it_has() -> None:
    assert LockFacts(rfid_users=10, year_day_schedules=1).slot_ids(RoomKind.LONG_TERM) == [9, 8]
    assert LockFacts(rfid_users=10, year_day_schedules=1).slot_ids(RoomKind.TEMPORARY) == [9]
    assert LockFacts(rfid_users=1, year_day_schedules=1).slot_ids(RoomKind.LONG_TERM) == [0]
    assert LockFacts().mode is SlotMode.SITE_ONLY
    assert LockFacts(rfid_users=5).mode is SlotMode.SITE_ONLY  # no schedules: no end to a card
    assert LockSlotsState().mode("T01") is SlotMode.UNKNOWN


def test_the_state_keeps_no_card_and_reads_back_what_it_wrote() -> None:
    state = LockSlotsState()
    state.facts["T01"] = FACTS
    state.hold("T01", 9, _grant("S0001"))
    state.log_seen["T01"] = LogMark(3, NOW)
    state.heard_to["T01"] = HeardMark(NOW, (("push", 0xFFFF), ("card", 9)))
    data = json.loads(json.dumps(state.as_dict()))
    assert "C-S0001" not in json.dumps(data)
    again = LockSlotsState.from_dict(data)
    assert again.snapshot() == state.snapshot()
    assert (again.facts, again.log_seen, again.heard_to) == (
        state.facts,
        state.log_seen,
        state.heard_to,
    )
    assert again.in_use("T01") == 1
    state.hold("T01", 9, None)
    assert state.in_use("T01") == 0 and "T01" not in state.held
    assert LockSlotsState.from_dict({"held": {"T01": {"x": {}}}, "facts": "?"}).held == {}


# --- what a lock decided by itself ------------------------------------------------------------


def test_the_heard_mark_moves_forward_and_counts_one_second() -> None:
    """The lock counts in seconds: what it told in the same second adds up; older is ignored."""
    mark = HeardMark(NOW, (("card", 9),))
    assert mark.after(NOW, "push", 0xFFFF) == HeardMark(NOW, (("card", 9), ("push", 0xFFFF)))
    later = NOW + timedelta(seconds=1)
    assert mark.after(later, "card", 9) == HeardMark(later, (("card", 9),))
    assert mark.after(NOW - timedelta(seconds=1), "card", 9) is None
    state = LockSlotsState(heard_to={"T01": mark, "T02": mark})
    state.forget_rooms(["T01"])
    assert list(state.heard_to) == ["T01"]
    assert LockSlotsState.from_dict({"heard_to": {"T01": {"at": "?"}}}).heard_to == {}


def test_a_locks_own_decisions_are_events_at_its_time_marked_as_its_own() -> None:
    rooms = _rooms()
    _borrow(rooms, "S0001")
    at = NOW - timedelta(minutes=5)
    opened = lock_event(rooms, "T01", LockDecision.OPENED, at, "S0001", NOW)
    assert (opened.type, opened.source, opened.at, opened.patron_id, opened.ref) == (
        EventType.CARD_TAP,
        Source.LOCK,
        at,
        "S0001",
        "REF-1",
    )
    refused = lock_event(rooms, "T01", LockDecision.REFUSED_CARD, at, None, NOW)
    assert (refused.type, refused.reason, refused.card) == (EventType.REFUSED, "unknown_card", None)
    late = lock_event(rooms, "T01", LockDecision.REFUSED_SCHEDULE, at, "S0001", NOW)
    assert late.reason == "not_holder"
    pushed = lock_event(rooms, "T01", LockDecision.PUSH_EXIT, at, None, NOW)
    assert (pushed.type, pushed.source) == (EventType.PUSH_EXIT, Source.LOCK)
    # A long-term holder's open carries the month's ref, as a tap the site decides does.
    rooms.state.reservations[("L01", "2026-03")] = "D0001"
    held = lock_event(rooms, "L01", LockDecision.OPENED, at, "D0001", NOW)
    assert held.ref is not None and rooms.patrons.patron_of_ref(held.ref, NOW) == "D0001"
