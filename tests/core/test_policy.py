"""The numbers the room instructions leave to the library, with their documented defaults.

Auto-return after a room has been empty 30 minutes, return of every temporary room at closing
time (22:00), a freeze of 7 days after a violation, counter service 08:00–22:00, no maximum
continuous use. A bad value is refused with the name of its field, so the options form can point
at it.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
import json
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given, strategies as st
import pytest

from custom_components.ntnu_library.core import study_rooms as rooms
from custom_components.ntnu_library.core.errors import Reason, Refused
from custom_components.ntnu_library.core.policy import (
    DEFAULT_AUTO_RETURN_MINUTES,
    DEFAULT_CLOSING_TIME,
    DEFAULT_COUNTER_CLOSES,
    DEFAULT_COUNTER_OPENS,
    DEFAULT_FREEZE_DAYS,
    DEFAULT_MAX_USE_MINUTES,
    Policy,
    parse_hhmm,
)

TAIPEI = ZoneInfo("Asia/Taipei")


def _freeze(library: Any, patron_id: str, days: int | None, reason: str, now: datetime) -> Any:
    """Freeze, and return the freeze the patron now has."""
    library.freeze(patron_id, days, reason, now)
    return library.patrons.freezes[patron_id]


def at(hour: int, minute: int = 0, *, day: int = 10) -> datetime:
    """A moment on the library's wall clock (Asia/Taipei)."""
    return datetime(2026, 3, day, hour, minute, tzinfo=TAIPEI)


# --- defaults ------------------------------------------------------------------------------------


def test_the_documented_defaults() -> None:
    policy = Policy()
    assert policy.auto_return_minutes == DEFAULT_AUTO_RETURN_MINUTES == 30
    assert policy.return_at_closing is True
    assert policy.closing_time == DEFAULT_CLOSING_TIME == "22:00"
    assert policy.freeze_days == DEFAULT_FREEZE_DAYS == 7
    assert policy.counter_opens == DEFAULT_COUNTER_OPENS == "08:00"
    assert policy.counter_closes == DEFAULT_COUNTER_CLOSES == "22:00"
    assert policy.max_use_minutes == DEFAULT_MAX_USE_MINUTES == 0  # none


def test_the_options_as_stored() -> None:
    stored = Policy().as_dict()
    assert stored == {
        "auto_return_minutes": 30,
        "return_at_closing": True,
        "closing_time": "22:00",
        "freeze_days": 7,
        "counter_opens": "08:00",
        "counter_closes": "22:00",
        "max_use_minutes": 0,
        "relock_after_s": 10,
    }
    assert json.loads(json.dumps(stored)) == stored


def test_options_round_trip() -> None:
    policy = Policy(
        auto_return_minutes=15,
        return_at_closing=False,
        closing_time="21:30",
        freeze_days=14,
        counter_opens="09:00",
        counter_closes="17:00",
        max_use_minutes=240,
    )
    assert Policy.from_options(policy.as_dict()) == policy


def test_empty_options_give_the_defaults() -> None:
    assert Policy.from_options({}) == Policy()


def test_unknown_options_are_ignored() -> None:
    assert Policy.from_options({"freeze_days": 3, "site_name": "Main", "radio": "simulated"}) == (
        Policy(freeze_days=3)
    )


def test_a_policy_is_immutable() -> None:
    with pytest.raises(AttributeError):
        Policy().freeze_days = 3  # type: ignore[misc]


# --- invalid values are refused with the field name ----------------------------------------------

MINUTE_FIELDS = ("auto_return_minutes", "max_use_minutes")
TIME_FIELDS = ("closing_time", "counter_opens", "counter_closes")


@pytest.mark.parametrize("field", [*MINUTE_FIELDS, "freeze_days"])
@pytest.mark.parametrize("value", [-1, 10_001, True, False, "30", 1.5, None])
def test_a_number_out_of_range_or_not_a_whole_number_is_refused(field: str, value: Any) -> None:
    with pytest.raises(Refused) as err:
        Policy(**{field: value})
    assert err.value.reason is Reason.INVALID_VALUE
    assert err.value.placeholders == {"field": field, "value": str(value)}


@pytest.mark.parametrize("field", MINUTE_FIELDS)
@pytest.mark.parametrize("value", [0, 1, 1440, 10_000])
def test_minutes_from_0_turn_a_timer_off_up_to_10000(field: str, value: int) -> None:
    options: dict[str, Any] = {field: value}
    assert getattr(Policy(**options), field) == value


@pytest.mark.parametrize("value", [0, rooms.MAX_FREEZE_DAYS + 1, 10_000])
def test_a_default_freeze_length_no_freeze_could_have_is_refused(value: int) -> None:
    # StudyRooms.freeze takes 1..MAX_FREEZE_DAYS days; a default outside it would refuse every
    # freeze that does not name its days.
    with pytest.raises(Refused) as err:
        Policy(freeze_days=value)
    assert err.value.reason is Reason.INVALID_VALUE
    assert err.value.placeholders["field"] == "freeze_days"


@pytest.mark.parametrize("value", [1, 365, rooms.MAX_FREEZE_DAYS])
def test_a_default_freeze_length_from_1_to_3650_days(value: int) -> None:
    library = rooms.StudyRooms([], Policy(freeze_days=value))
    now = at(14)
    assert _freeze(library, "S0001", None, "r", now).until == now + timedelta(days=value)


@pytest.mark.parametrize("field", TIME_FIELDS)
@pytest.mark.parametrize(
    "value", ["24:00", "12:60", "7pm", "", "12", "12:00:00", "12-00", "-1:00", None, 1200]
)
def test_a_wall_clock_time_that_is_not_hh_mm_is_refused(field: str, value: Any) -> None:
    with pytest.raises(Refused) as err:
        Policy(**{field: value})
    assert err.value.reason is Reason.INVALID_VALUE
    assert err.value.placeholders == {"field": field, "value": str(value)}


def test_a_refused_value_is_cut_short_in_the_message() -> None:
    with pytest.raises(Refused) as err:
        Policy(closing_time="x" * 100)
    assert err.value.placeholders == {"field": "closing_time", "value": "x" * 32}


def test_from_options_refuses_a_bad_option_by_name() -> None:
    with pytest.raises(Refused) as err:
        Policy.from_options({**Policy().as_dict(), "counter_closes": "25:00"})
    assert err.value.placeholders["field"] == "counter_closes"


@pytest.mark.parametrize(
    ("value", "parsed"),
    [("08:00", time(8)), ("22:00", time(22)), ("00:00", time(0)), ("23:59", time(23, 59))],
)
def test_parse_hhmm(value: str, parsed: time) -> None:
    assert parse_hhmm(value, "closing_time") == parsed


# --- counter service hours (section 5, method 2: 須為 2 樓櫃檯服務時間內) --------------------------


@pytest.mark.parametrize(
    ("moment", "open_"),
    [
        (at(0), False),
        (at(7, 59), False),
        (at(8), True),
        (at(14), True),
        (at(21, 59), True),
        (at(22), False),
        (at(23, 59), False),
    ],
)
def test_the_counter_serves_from_8_to_22(moment: datetime, open_: bool) -> None:
    assert Policy().counter_open(moment) is open_


@pytest.mark.parametrize(
    ("moment", "open_"),
    [
        (at(12), False),
        (at(19, 59), False),
        (at(20), True),
        (at(23, 59), True),
        (at(0, day=11), True),
        (at(1, 59, day=11), True),
        (at(2, day=11), False),
    ],
)
def test_counter_hours_across_midnight(moment: datetime, open_: bool) -> None:
    assert Policy(counter_opens="20:00", counter_closes="02:00").counter_open(moment) is open_


@given(st.times(), st.sampled_from(["00:00", "08:00", "23:59"]))
def test_a_counter_that_opens_when_it_closes_never_closes(wall: time, hours: str) -> None:
    policy = Policy(counter_opens=hours, counter_closes=hours)
    assert policy.counter_open(datetime.combine(at(0).date(), wall, tzinfo=TAIPEI))


def test_counter_hours_are_read_on_the_wall_clock_of_the_moment_given() -> None:
    # 09:00 in Taipei is 01:00 UTC: the runtime passes local time (dt_util.as_local).
    morning = at(9)
    assert Policy().counter_open(morning)
    assert not Policy().counter_open(morning.astimezone(ZoneInfo("UTC")))


# --- closing time --------------------------------------------------------------------------------


def test_the_closing_moment_is_today_at_closing_time_in_the_same_zone() -> None:
    assert Policy().closing_moment(at(14)) == at(22)
    assert Policy().closing_moment(at(14)).tzinfo is TAIPEI
    assert Policy().closing_moment(at(23, 30)) == at(22)  # today's, even after it
    late = datetime(2026, 3, 10, 9, 41, 7, 123456, tzinfo=TAIPEI)
    assert Policy(closing_time="21:30").closing_moment(late) == at(21, 30)
