"""The library's loan table, row for row, and the default membership periods."""

from __future__ import annotations

from datetime import date

from hypothesis import given, strategies as st
import pytest

from custom_components.ntnu_library.core.categories import (
    CATEGORIES,
    LOAN_TABLE,
    Category,
    Group,
    LoanPeriod,
    PeriodUnit,
    add_months,
    category,
    default_membership_expiry,
)
from custom_components.ntnu_library.core.errors import Reason, Refused

M, D = PeriodUnit.MONTHS, PeriodUnit.DAYS

# Seed 001, "Patron Status / Item Limits / Loan Period", copied line by line:
# (the seed's wording, its group heading, our category keys, item limit, loan period)
SEED_001: list[tuple[str, Group, tuple[str, ...], int, tuple[int, PeriodUnit] | None]] = [
    ("Full-time faculty members、Part-time faculty members 100 6Month",
     Group.FACULTY, ("faculty_full_time", "faculty_part_time"), 100, (6, M)),
    ("Honorary professors, Visiting professors 100 6Month",
     Group.FACULTY, ("professor_honorary", "professor_visiting"), 100, (6, M)),
    ("Retired Faculty 50 2Month",
     Group.FACULTY, ("faculty_retired",), 50, (2, M)),
    ("Faculty of Mandarin Training Center and Extension, School of Continuing Education 50 2Month",
     Group.FACULTY, ("faculty_mtc_extension",), 50, (2, M)),
    ("Researcher 100 6Month",
     Group.RESEARCHERS, ("researcher",), 100, (6, M)),
    ("Postdoctoral Researcher 100 6Month",
     Group.RESEARCHERS, ("researcher_postdoctoral",), 100, (6, M)),
    ("Doctoral and Master Student 100 6Month",
     Group.STUDENTS, ("student_doctoral", "student_master"), 100, (6, M)),
    ("Undergraduate Student 60 4Month",
     Group.STUDENTS, ("student_undergraduate",), 60, (4, M)),
    ("Students of Division of Preparatory Programs for Oversea Chinese Students 30 1Month",
     Group.STUDENTS, ("student_preparatory_overseas",), 30, (1, M)),
    ("Interns in the Fifth Year 15 1Month",
     Group.STUDENTS, ("student_intern_fifth_year",), 15, (1, M)),
    ("Leave of absence Student (NT$2,000 deposit required) 15 1Month",
     Group.STUDENTS, ("student_leave_deposit",), 15, (1, M)),
    ("leave of absence Student (NT$500 per semester ... NT$1,000 for a full school year) 30 60Days",
     Group.STUDENTS, ("student_leave_paid",), 30, (60, D)),
    ("Regular employees and Staff members 50 2Month",
     Group.ADMINISTRATION, ("staff_regular",), 50, (2, M)),
    ("Full Time Project Assistant 20 2Month",
     Group.ADMINISTRATION, ("staff_project_assistant",), 20, (2, M)),
    ("Retired Employee 10 1Month",
     Group.ADMINISTRATION, ("staff_retired",), 10, (1, M)),
    ("Alumni 15 1Month",
     Group.ALUMNI, ("alumni",), 15, (1, M)),
    ("Friends of Library 5 21Days",
     Group.ALUMNI, ("friend_of_library",), 5, (21, D)),
    ("Students of Mandarin Training Center 5 1Month",
     Group.OTHERS, ("student_mtc",), 5, (1, M)),
    ("Students of NTNU extension, school of continuing education 10 1Month",
     Group.OTHERS, ("student_extension",), 10, (1, M)),
    ("Partner Library Loan Service Users 5 Subject to the Agreement Between the Two Libraries",
     Group.OTHERS, ("partner_library",), 5, None),
]  # fmt: skip

ALL_KEYS = {key for _, _, keys, _, _ in SEED_001 for key in keys}


def test_the_table_has_every_row_of_the_seed_in_its_order() -> None:
    assert len(LOAN_TABLE) == len(SEED_001) == 20
    assert [tuple(c.key for c in row.categories) for row in LOAN_TABLE] == [
        keys for _, _, keys, _, _ in SEED_001
    ]


@pytest.mark.parametrize(
    ("seed_line", "group", "keys", "items", "period"),
    SEED_001,
    ids=[keys[0] for _, _, keys, _, _ in SEED_001],
)
def test_row(
    seed_line: str,
    group: Group,
    keys: tuple[str, ...],
    items: int,
    period: tuple[int, PeriodUnit] | None,
) -> None:
    expected = None if period is None else LoanPeriod(amount=period[0], unit=period[1])
    row = next(r for r in LOAN_TABLE if r.categories[0].key == keys[0])
    assert (row.group, row.item_limit, row.loan_period) == (group, items, expected), seed_line
    for key in keys:
        found = category(key)
        assert found.row is row
        assert (found.group, found.item_limit, found.loan_period) == (group, items, expected)


def test_spot_checks_from_the_design() -> None:
    """100 items / 6 months ... 5 items / 21 days; partner library 5 / by agreement."""
    full_time = CATEGORIES["faculty_full_time"]
    assert full_time.item_limit == 100
    assert full_time.loan_period == LoanPeriod(amount=6, unit=PeriodUnit.MONTHS)
    friend = CATEGORIES["friend_of_library"]
    assert friend.item_limit == 5
    assert friend.loan_period == LoanPeriod(amount=21, unit=PeriodUnit.DAYS)
    partner = CATEGORIES["partner_library"]
    assert partner.item_limit == 5
    assert partner.loan_period is None  # subject to the agreement between the two libraries


def test_exactly_the_agreed_keys() -> None:
    assert set(CATEGORIES) == ALL_KEYS
    assert len(CATEGORIES) == 23
    for key in CATEGORIES:
        assert key == key.lower()
        assert key.replace("_", "").isalpha()


def test_rows_shared_by_two_categories() -> None:
    assert category("faculty_full_time").row is category("faculty_part_time").row
    assert category("professor_honorary").row is category("professor_visiting").row
    assert category("student_doctoral").row is category("student_master").row
    assert category("student_doctoral").row.label_en == "Doctoral and Master Student"


def test_labels_are_bilingual() -> None:
    assert category("faculty_full_time").label_zh == "專任教師"
    assert category("faculty_part_time").label_zh == "兼任教師"
    assert category("student_undergraduate").label_zh == "大學部學生"
    assert category("student_master").label_zh == "碩士生"
    assert category("student_doctoral").label_zh == "博士生"
    assert category("alumni").label_zh == "校友"
    assert category("friend_of_library").label_zh == "圖書館之友"
    for found in CATEGORIES.values():
        assert found.label_en.isascii()
        assert found.label_en.strip() == found.label_en != ""
        assert any("\u4e00" <= ch <= "\u9fff" for ch in found.label_zh), found.key
        assert found.label("zh-Hant") == found.label_zh
        assert found.label("en") == found.label_en
    for row in LOAN_TABLE:
        assert row.label_en
        assert any("\u4e00" <= ch <= "\u9fff" for ch in row.label_zh)


@pytest.mark.parametrize("key", ["", "Faculty_Full_Time", "student", "admin", " alumni"])
def test_unknown_category_is_refused(key: str) -> None:
    with pytest.raises(Refused) as err:
        category(key)
    assert err.value.reason is Reason.INVALID_VALUE
    assert err.value.placeholders == {"field": "category", "value": key}


def test_unhashable_category_is_refused_not_crashed() -> None:
    with pytest.raises(Refused) as err:
        category(["alumni"])  # type: ignore[arg-type]
    assert err.value.reason is Reason.INVALID_VALUE


# --- membership (four years for undergraduate and graduate students, seven for doctoral)


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("student_undergraduate", date(2029, 9, 1)),
        ("student_master", date(2029, 9, 1)),
        ("student_doctoral", date(2032, 9, 1)),
    ],
)
def test_default_membership(key: str, expected: date) -> None:
    assert default_membership_expiry(key, date(2025, 9, 1)) == expected
    assert default_membership_expiry(category(key), date(2025, 9, 1)) == expected


def test_no_default_membership_outside_degree_students() -> None:
    with_default = {"student_undergraduate", "student_master", "student_doctoral"}
    for key in ALL_KEYS - with_default:
        assert default_membership_expiry(key, date(2025, 9, 1)) is None, key
        assert category(key).membership_years is None


def test_membership_from_a_leap_day() -> None:
    leap_day = date(2024, 2, 29)
    assert default_membership_expiry("student_undergraduate", leap_day) == date(2028, 2, 29)
    assert default_membership_expiry("student_doctoral", leap_day) == date(2031, 2, 28)


def test_membership_of_an_unknown_category_is_refused() -> None:
    with pytest.raises(Refused) as err:
        default_membership_expiry("wizard", date(2025, 9, 1))
    assert err.value.placeholders["field"] == "category"


@given(start=st.dates(min_value=date(1950, 1, 1), max_value=date(2100, 12, 31)))
def test_membership_is_whole_years(start: date) -> None:
    for key, years in (("student_undergraduate", 4), ("student_doctoral", 7)):
        end = default_membership_expiry(key, start)
        assert end is not None
        assert (end.year, end.month) == (start.year + years, start.month)
        assert end.day == start.day or (start.month, start.day, end.day) == (2, 29, 28)


# --- loan periods ----------------------------------------------------------------------------


def test_due_dates() -> None:
    lent = date(2025, 1, 31)
    assert category("student_undergraduate").loan_period.due(lent) == date(2025, 5, 31)  # type: ignore[union-attr]
    assert category("alumni").loan_period.due(lent) == date(2025, 2, 28)  # type: ignore[union-attr]
    assert category("friend_of_library").loan_period.due(lent) == date(2025, 2, 21)  # type: ignore[union-attr]
    assert category("student_leave_paid").loan_period.due(lent) == date(2025, 4, 1)  # type: ignore[union-attr]


def test_period_labels() -> None:
    assert LoanPeriod(amount=6, unit=PeriodUnit.MONTHS).label_en == "6 months"
    assert LoanPeriod(amount=1, unit=PeriodUnit.MONTHS).label_en == "1 month"
    assert LoanPeriod(amount=21, unit=PeriodUnit.DAYS).label_zh == "21 天"
    assert LoanPeriod(amount=6, unit=PeriodUnit.MONTHS).label_zh == "6 個月"


@given(start=st.dates(), months=st.integers(min_value=0, max_value=120))
def test_add_months_never_overshoots(start: date, months: int) -> None:
    if start.year * 12 + start.month + months > 9999 * 12 + 12:
        return
    end = add_months(start, months)
    assert (end.year * 12 + end.month) - (start.year * 12 + start.month) == months
    assert end.day <= start.day


def test_categories_are_read_only() -> None:
    with pytest.raises(TypeError):
        CATEGORIES["wizard"] = CATEGORIES["alumni"]  # type: ignore[index]
    assert isinstance(CATEGORIES["alumni"], Category)
