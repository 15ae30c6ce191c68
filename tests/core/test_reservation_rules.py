"""A patron's own long-term reservation: who may, how many, from when; and their sessions."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given, settings, strategies as st
import pytest

from custom_components.ntnu_library.core.categories import CATEGORIES
from custom_components.ntnu_library.core.errors import Reason, Refused
from custom_components.ntnu_library.core.model import Patron, Room, RoomKind
from custom_components.ntnu_library.core.patron_sessions import PatronSessions
from custom_components.ntnu_library.core.policy import Policy
from custom_components.ntnu_library.core.reservation_rules import (
    DEFAULT_LONG_TERM_CATEGORIES,
    LongTermRules,
    cancel,
    free_rooms,
    held_by,
    reserve,
)
from custom_components.ntnu_library.core.room_state import PatronState
from custom_components.ntnu_library.core.study_rooms import StudyRooms

TAIPEI = ZoneInfo("Asia/Taipei")
NOW = datetime(2026, 3, 10, 14, 0, tzinfo=TAIPEI)
MARCH, APRIL = "2026-03", "2026-04"
ROOMS = (
    *(
        Room(room_id=f"L0{n}", name=f"個人長期研究室 L0{n}", kind=RoomKind.LONG_TERM)
        for n in (1, 2, 3)
    ),
    Room(room_id="T01", name="T01", kind=RoomKind.TEMPORARY),
)


def patron(patron_id: str, category: str = "student_master", **kwargs: Any) -> Patron:
    return Patron(patron_id=patron_id, name=patron_id, category=category, **kwargs)


MASTER = patron("G0001")
DOCTOR = patron("D0001", "student_doctoral")
UNDERGRADUATE = patron("S0001", "student_undergraduate")
EXPIRED = patron("E0001", membership_expires=date(2026, 3, 9))
SUSPENDED = patron("U0001", suspended=True)


@pytest.fixture
def rooms() -> StudyRooms:
    return StudyRooms(ROOMS, Policy(), patrons=PatronState())


def refused(reason: Reason, rooms: StudyRooms, call: Any) -> Refused:
    """The call is refused for `reason` and changes nothing."""
    before = rooms.state.as_dict()
    with pytest.raises(Refused) as err:
        call()
    assert err.value.reason is reason, err.value
    assert rooms.state.as_dict() == before
    return err.value


# --- the options -----------------------------------------------------------------------------


def test_the_defaults() -> None:
    """Doctoral and master students, faculty and researchers; one a month; the 20th at 09:00."""
    rules = LongTermRules()
    groups = {CATEGORIES[key].group.value for key in rules.long_term_categories}
    assert groups == {"faculty", "researchers", "students"}
    assert {"student_doctoral", "student_master", "faculty_full_time", "researcher"} <= set(
        rules.long_term_categories
    )
    assert "student_undergraduate" not in rules.long_term_categories
    assert "alumni" not in rules.long_term_categories
    assert rules.long_term_categories == DEFAULT_LONG_TERM_CATEGORIES
    assert (rules.long_term_per_month, rules.reservations_open_day) == (1, 20)
    assert rules.reservations_open_time == "09:00"
    assert LongTermRules.from_options({}) == rules
    assert LongTermRules.from_options(rules.as_dict() | {"freeze_days": 3}) == rules


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("long_term_categories", ["student_master", "wizard"]),
        ("long_term_categories", ["student_master", "student_master"]),
        ("long_term_categories", "student_master"),
        ("long_term_per_month", 0),
        ("long_term_per_month", 13),
        ("long_term_per_month", True),
        ("long_term_per_month", 1.5),
        ("reservations_open_day", 0),
        ("reservations_open_day", 29),
        ("reservations_open_time", "25:00"),
        ("reservations_open_time", "9"),
    ],
)
def test_options_that_are_not_valid(field: str, value: Any) -> None:
    with pytest.raises(Refused) as err:
        LongTermRules.from_options({field: value})
    assert err.value.reason is Reason.INVALID_VALUE
    assert err.value.placeholders["field"] == field


def test_when_a_month_opens() -> None:
    """The opening day of the month before, in the site's time; this month stays open."""
    rules = LongTermRules()
    assert rules.opens(APRIL, NOW) == datetime(2026, 3, 20, 9, 0, tzinfo=TAIPEI)
    assert rules.opens("2027-01", NOW) == datetime(2026, 12, 20, 9, 0, tzinfo=TAIPEI)
    assert rules.is_open(MARCH, NOW)
    assert not rules.is_open(APRIL, NOW)
    assert not rules.is_open(APRIL, datetime(2026, 3, 20, 8, 59, 59, tzinfo=TAIPEI))
    assert rules.is_open(APRIL, datetime(2026, 3, 20, 9, 0, tzinfo=TAIPEI))
    assert not rules.is_open("2026-05", datetime(2026, 3, 31, 23, 59, tzinfo=TAIPEI))
    assert not rules.is_open("2026-02", NOW)  # past
    early = LongTermRules(reservations_open_day=1, reservations_open_time="00:00")
    assert early.is_open(APRIL, NOW)


@settings(max_examples=200, deadline=None)
@given(
    moment=st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2040, 12, 31)),
    day=st.integers(1, 28),
)
def test_a_month_is_open_from_its_opening_to_its_end(moment: datetime, day: int) -> None:
    """The current month always; next month from its opening; the one after never."""
    now = moment.replace(tzinfo=TAIPEI)
    rules = LongTermRules(reservations_open_day=day)
    this = f"{now.year:04d}-{now.month:02d}"
    following = (now.replace(day=1) + timedelta(days=32)).strftime("%Y-%m")
    after = (now.replace(day=1) + timedelta(days=64)).strftime("%Y-%m")
    assert rules.is_open(this, now)
    assert rules.is_open(following, now) == (now >= rules.opens(following, now))
    assert not rules.is_open(after, now)


# --- reserving ---------------------------------------------------------------------------------


def test_reserve_a_free_room(rooms: StudyRooms) -> None:
    outcome = reserve(LongTermRules(), rooms, [rooms], "L01", MASTER, MARCH, NOW)
    assert outcome.room_id == "L01" and not outcome.unlock and not outcome.lock
    assert rooms.holder("L01", NOW) == "G0001"
    assert [room.room_id for room in free_rooms(rooms, MARCH)] == ["L02", "L03"]
    assert held_by([rooms], "G0001", MARCH) == ["L01"]


@pytest.mark.parametrize(
    ("who", "reason"),
    [
        (UNDERGRADUATE, Reason.NOT_ELIGIBLE),
        (EXPIRED, Reason.MEMBERSHIP_EXPIRED),
        (SUSPENDED, Reason.MEMBERSHIP_EXPIRED),
    ],
)
def test_who_may_not(rooms: StudyRooms, who: Patron, reason: Reason) -> None:
    refused(reason, rooms, lambda: reserve(LongTermRules(), rooms, [rooms], "L01", who, MARCH, NOW))


def test_a_frozen_patron_may_not(rooms: StudyRooms) -> None:
    rooms.freeze("D0001", 7, "late", NOW)
    err = refused(
        Reason.FROZEN,
        rooms,
        lambda: reserve(LongTermRules(), rooms, [rooms], "L01", DOCTOR, MARCH, NOW),
    )
    assert err.placeholders == {"until": "2026-03-17T14:00+08:00"}


def test_the_site_chooses_who_may(rooms: StudyRooms) -> None:
    rules = LongTermRules(long_term_categories=("student_undergraduate",))
    reserve(rules, rooms, [rooms], "L01", UNDERGRADUATE, MARCH, NOW)
    refused(
        Reason.NOT_ELIGIBLE,
        rooms,
        lambda: reserve(rules, rooms, [rooms], "L02", MASTER, MARCH, NOW),
    )
    nobody = LongTermRules(long_term_categories=())
    refused(
        Reason.NOT_ELIGIBLE,
        rooms,
        lambda: reserve(nobody, rooms, [rooms], "L02", DOCTOR, MARCH, NOW),
    )


def test_not_open_yet_says_when(rooms: StudyRooms) -> None:
    err = refused(
        Reason.RESERVATIONS_NOT_OPEN,
        rooms,
        lambda: reserve(LongTermRules(), rooms, [rooms], "L01", MASTER, APRIL, NOW),
    )
    assert err.placeholders == {"month": APRIL, "opens": "2026-03-20T09:00+08:00"}


@pytest.mark.parametrize(
    ("room", "month", "reason"),
    [
        ("T01", MARCH, Reason.NOT_LONG_TERM_ROOM),
        ("Z99", MARCH, Reason.UNKNOWN_ROOM),
        ("L01", "2026-02", Reason.INVALID_MONTH),
        ("L01", "2026-13", Reason.INVALID_MONTH),
        ("L01", "March", Reason.INVALID_MONTH),
    ],
)
def test_what_cannot_be_reserved(rooms: StudyRooms, room: str, month: str, reason: Reason) -> None:
    refused(
        reason, rooms, lambda: reserve(LongTermRules(), rooms, [rooms], room, MASTER, month, NOW)
    )


def test_taken_held_and_the_monthly_limit(rooms: StudyRooms) -> None:
    rules = LongTermRules()
    reserve(rules, rooms, [rooms], "L01", DOCTOR, MARCH, NOW)
    err = refused(
        Reason.ALREADY_RESERVED,
        rooms,
        lambda: reserve(rules, rooms, [rooms], "L01", MASTER, MARCH, NOW),
    )
    assert err.placeholders == {"room": "L01", "month": MARCH}
    refused(
        Reason.ALREADY_HOLDING,
        rooms,
        lambda: reserve(rules, rooms, [rooms], "L01", DOCTOR, MARCH, NOW),
    )
    err = refused(
        Reason.LONG_TERM_LIMIT_REACHED,
        rooms,
        lambda: reserve(rules, rooms, [rooms], "L02", DOCTOR, MARCH, NOW),
    )
    assert err.placeholders == {"rooms": "L01", "month": MARCH, "limit": "1"}
    two = LongTermRules(long_term_per_month=2)
    reserve(two, rooms, [rooms], "L02", DOCTOR, MARCH, NOW)
    refused(
        Reason.LONG_TERM_LIMIT_REACHED,
        rooms,
        lambda: reserve(two, rooms, [rooms], "L03", DOCTOR, MARCH, NOW),
    )
    assert held_by([rooms], "D0001", MARCH) == ["L01", "L02"]


def test_the_limit_counts_every_building(rooms: StudyRooms) -> None:
    """A room held at another building of the library counts toward the month's limit."""
    other = StudyRooms(
        (Room(room_id="L01", name="L01", kind=RoomKind.LONG_TERM),), Policy(), patrons=rooms.patrons
    )
    reserve(LongTermRules(), other, [rooms, other], "L01", MASTER, MARCH, NOW)
    refused(
        Reason.LONG_TERM_LIMIT_REACHED,
        rooms,
        lambda: reserve(LongTermRules(), rooms, [rooms, other], "L02", MASTER, MARCH, NOW),
    )


def test_cancel_only_ones_own(rooms: StudyRooms) -> None:
    reserve(LongTermRules(), rooms, [rooms], "L01", MASTER, MARCH, NOW)
    refused(Reason.NOT_HOLDER, rooms, lambda: cancel(rooms, "L01", DOCTOR, MARCH, NOW))
    refused(Reason.NO_RESERVATION, rooms, lambda: cancel(rooms, "L02", MASTER, MARCH, NOW))
    refused(Reason.INVALID_MONTH, rooms, lambda: cancel(rooms, "L01", MASTER, "2026-02", NOW))
    outcome = cancel(rooms, "L01", MASTER, MARCH, NOW)
    assert outcome.lock  # this month's room: its door is locked
    assert rooms.holder("L01", NOW) is None


# --- sessions ----------------------------------------------------------------------------------


def test_a_session_lives_while_it_is_used() -> None:
    sessions = PatronSessions(idle_seconds=900, max_sessions=10, max_per_patron=2)
    token = sessions.open(MASTER, 0.0)
    assert "G0001" not in token and len(token) >= 40
    session = sessions.get(token, 899.0)
    assert session is not None and session.patron == MASTER
    assert sessions.get(token, 1700.0) is not None  # moved on at 899
    assert sessions.get(token, 2600.0) is None
    assert sessions.get(token, 2601.0) is None  # gone
    assert sessions.get("forged", 0.0) is None and sessions.get(None, 0.0) is None
    assert sessions.get("x" * 10_000, 0.0) is None


def test_a_session_ends_at_log_out_and_its_scope_is_its_own() -> None:
    sessions = PatronSessions(idle_seconds=900, max_sessions=10, max_per_patron=2)
    one, two = sessions.open(MASTER, 0.0), sessions.open(MASTER, 0.0)
    first, second = sessions.get(one, 1.0), sessions.get(two, 1.0)
    assert first is not None and second is not None and first.scope != second.scope
    assert one not in first.scope  # the scope is no token
    sessions.close(one)
    assert sessions.get(one, 2.0) is None and sessions.get(two, 2.0) is not None


def test_sessions_are_bounded() -> None:
    """At most a few a patron and so many in all, the oldest going first."""
    sessions = PatronSessions(idle_seconds=900, max_sessions=3, max_per_patron=2)
    a1, a2, a3 = (sessions.open(MASTER, float(n)) for n in range(3))
    assert sessions.get(a1, 3.0) is None
    assert sessions.get(a2, 3.0) is not None and sessions.get(a3, 3.0) is not None
    d1 = sessions.open(DOCTOR, 4.0)
    u1 = sessions.open(UNDERGRADUATE, 5.0)  # a fourth: the least recently used goes
    assert len(sessions) == 3
    assert sessions.get(a2, 6.0) is None
    assert all(sessions.get(t, 6.0) is not None for t in (a3, d1, u1))
    with pytest.raises(ValueError):
        PatronSessions(idle_seconds=0, max_sessions=1, max_per_patron=1)
