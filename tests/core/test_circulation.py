"""Circulation: kiosks, the circulation desk, the 24-hour return boxes and the loan table.

Seed 001: the kiosk reads the patron and each item; what it cannot handle goes to the
circulation desk; library-use-only titles are never lent; accompanying materials are lent at
the counter only, count toward the loan total and take the book's loan period; an expired or
suspended membership cannot borrow; items in a return box are scanned back the next day and
count toward the limit until then; only the library's items (and never accompanying materials)
belong in a box. Every refusal has a reason and changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
import json
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given, settings, strategies as st
import pytest

from custom_components.ntnu_library.core.categories import (
    LOAN_TABLE,
    CategoryEntry,
    LoanRow,
    PeriodUnit,
    default_membership_expiry,
)
from custom_components.ntnu_library.core.circulation import Circulation, CirculationPolicy
from custom_components.ntnu_library.core.circulation_state import (
    KIOSK_FAULTS,
    MAX_BARCODES,
    BoxFinding,
    CirculationState,
    DropResult,
    Item,
    KioskState,
    Loan,
    ReceiptLine,
    RefusedItem,
    ScanBackResult,
    normalize_barcode,
)
from custom_components.ntnu_library.core.errors import Reason, Refused
from custom_components.ntnu_library.core.membership import extend_membership, reactivate_membership
from custom_components.ntnu_library.core.model import Patron
from custom_components.ntnu_library.demo import demo_catalogue

TAIPEI = ZoneInfo("Asia/Taipei")
BOXES = ("main", "gongguan", "linkou")
KIOSKS = ("K1", "K2")


def at(year: int, month: int, day: int, hour: int = 14, minute: int = 0) -> datetime:
    """A moment on the library's wall clock (Asia/Taipei)."""
    return datetime(year, month, day, hour, minute, tzinfo=TAIPEI)


NOW = at(2026, 3, 10)
TODAY = NOW.date()


def patron(patron_id: str, category: str = "student_undergraduate", **kwargs: Any) -> Patron:
    return Patron(patron_id=patron_id, name=f"Patron {patron_id}", category=category, **kwargs)


ALICE = patron("S0001")  # undergraduate: 60 items, 4 months
BOB = patron("S0002")
FRIEND = patron("F0001", "friend_of_library")  # 5 items, 21 days


def book(n: int) -> str:
    return f"B{n:05d}"


def make(policy: CirculationPolicy | None = None) -> Circulation:
    return Circulation(
        CirculationState(catalogue=demo_catalogue()), policy or CirculationPolicy(), BOXES, KIOSKS
    )


@pytest.fixture
def circ() -> Circulation:
    """The demo catalogue, three return boxes, two kiosks, nothing on loan."""
    return make()


def snapshot(circ: Circulation) -> tuple[dict[str, Any], Any]:
    """Everything a command could change, in both forms."""
    return circ.state.as_dict(), circ.state.snapshot()


@contextmanager
def refused(circ: Circulation, reason: Reason) -> Iterator[pytest.ExceptionInfo[Refused]]:
    """Expect a refusal for `reason` that leaves circulation exactly as it was."""
    before = snapshot(circ)
    with pytest.raises(Refused) as err:
        yield err
    assert err.value.reason is reason, err.value
    assert snapshot(circ) == before, "a refused action changed the state"


def on_loan(circ: Circulation, who: Patron, count: int, *, first: int = 1) -> list[str]:
    """Set the scene: `who` already has `count` books on loan (straight into the state)."""
    codes = [book(n) for n in range(first, first + count)]
    for code in codes:
        circ.state.loans[code] = Loan(
            barcode=code, patron_id=who.patron_id, since=NOW, due=TODAY + timedelta(days=30)
        )
    return codes


def desk(circ: Circulation, who: Patron, codes: list[str], now: datetime = NOW, **kw: Any) -> Any:
    """Checkout at the circulation desk."""
    kw.setdefault("frozen", False)
    return circ.checkout(who, codes, now, kiosk=None, **kw)


def reasons(result: Any) -> list[tuple[str, Reason]]:
    return [(r.barcode, r.reason) for r in result.refused]


def expected_due(start: date, amount: int, unit: PeriodUnit) -> date:
    """The due date computed here, not with categories.add_months."""
    if unit is PeriodUnit.DAYS:
        return start + timedelta(days=amount)
    years, month0 = divmod(start.month - 1 + amount, 12)
    year, month = start.year + years, month0 + 1
    first_of_next = date(year + month // 12, month % 12 + 1, 1)
    return date(year, month, min(start.day, (first_of_next - timedelta(days=1)).day))


# --- the loan table, row for row --------------------------------------------------------------

TABLE = [(row, entry) for row in LOAN_TABLE for entry in row.categories]
TABLE_IDS = [entry.key for _, entry in TABLE]
JAN_31 = at(2026, 1, 31, 10)  # the hardest start for month arithmetic


def test_the_table_covers_every_row() -> None:
    assert len(LOAN_TABLE) == 20
    assert len(TABLE) == 23


@pytest.mark.parametrize(("row", "entry"), TABLE, ids=TABLE_IDS)
def test_one_below_the_limit_borrows_one_more(row: LoanRow, entry: CategoryEntry) -> None:
    circ = make()
    who = patron("P0001", entry.key)
    on_loan(circ, who, row.item_limit - 1)

    result = desk(circ, who, [book(row.item_limit)], JAN_31)

    if row.loan_period is None:  # partner library: the agreement's period
        due = JAN_31.date() + timedelta(days=30)
    else:
        due = expected_due(JAN_31.date(), row.loan_period.amount, row.loan_period.unit)
    title = demo_catalogue()[book(row.item_limit)].title
    assert result.receipt == [ReceiptLine(barcode=book(row.item_limit), title=title, due=due)]
    assert result.refused == []
    assert circ.loans_counted(who.patron_id) == row.item_limit


@pytest.mark.parametrize(("row", "entry"), TABLE, ids=TABLE_IDS)
def test_at_the_limit_the_next_is_refused(row: LoanRow, entry: CategoryEntry) -> None:
    circ = make()
    who = patron("P0001", entry.key)
    on_loan(circ, who, row.item_limit)
    before = snapshot(circ)

    result = desk(circ, who, [book(row.item_limit + 1)], JAN_31)

    assert result.receipt == []
    assert reasons(result) == [(book(row.item_limit + 1), Reason.LOAN_LIMIT_REACHED)]
    assert snapshot(circ) == before
    assert circ.patron_loans(who, JAN_31.date())["remaining"] == 0


# Hard-coded from the seed, not from the table: (category, limit, start, due).
HARD_CODED = [
    ("faculty_full_time", 100, date(2026, 1, 31), date(2026, 7, 31)),  # 6 months
    ("student_undergraduate", 60, date(2026, 10, 31), date(2027, 2, 28)),  # 4 months
    ("student_doctoral", 100, date(2026, 8, 31), date(2027, 2, 28)),  # 6 months
    ("staff_regular", 50, date(2027, 12, 31), date(2028, 2, 29)),  # 2 months, leap year
    ("alumni", 15, date(2026, 3, 31), date(2026, 4, 30)),  # 1 month
    ("student_leave_paid", 30, date(2026, 1, 1), date(2026, 3, 2)),  # 60 days
    ("friend_of_library", 5, date(2026, 3, 10), date(2026, 3, 31)),  # 21 days
    ("partner_library", 5, date(2026, 3, 10), date(2026, 4, 9)),  # the agreement: 30 days
]


@pytest.mark.parametrize(
    ("key", "limit", "start", "due"), HARD_CODED, ids=[row[0] for row in HARD_CODED]
)
def test_limits_and_due_dates_of_the_seed(key: str, limit: int, start: date, due: date) -> None:
    circ = make()
    who = patron("P0001", key)
    now = datetime(start.year, start.month, start.day, 9, tzinfo=TAIPEI)

    assert circ.policy.item_limit(key) == limit
    assert circ.policy.loan_period_due(key, start) == due
    on_loan(circ, who, limit - 1, first=2)
    assert desk(circ, who, [book(1)], now).receipt[0].due == due
    assert reasons(desk(circ, who, [book(limit + 1)], now)) == [
        (book(limit + 1), Reason.LOAN_LIMIT_REACHED)
    ]


def test_the_partner_period_is_the_librarys_option() -> None:
    circ = make(CirculationPolicy(partner_loan_days=14))
    result = desk(circ, patron("P0001", "partner_library"), [book(1)])
    assert result.receipt[0].due == date(2026, 3, 24)


@pytest.mark.parametrize("days", [0, -1, 366, True, "30", None])
def test_a_bad_partner_period_is_refused(days: Any) -> None:
    with pytest.raises(Refused) as err:
        CirculationPolicy(partner_loan_days=days)
    assert err.value.reason is Reason.INVALID_VALUE
    assert err.value.placeholders["field"] == "partner_loan_days"


def test_the_policy_from_options_ignores_other_options() -> None:
    assert CirculationPolicy.from_options({"partner_loan_days": 45, "freeze_days": 7}) == (
        CirculationPolicy(partner_loan_days=45)
    )


# --- month ends -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "due"),
    [
        (at(2026, 1, 31), date(2026, 2, 28)),
        (at(2028, 1, 31), date(2028, 2, 29)),
        (at(2026, 3, 31), date(2026, 4, 30)),
        (at(2026, 12, 31), date(2027, 1, 31)),
        (at(2026, 3, 10), date(2026, 4, 10)),
    ],
    ids=["jan31", "jan31-leap", "mar31", "dec31", "mid-month"],
)
def test_a_one_month_loan_ends_at_the_month_end(start: datetime, due: date) -> None:
    circ = make()
    alumnus = patron("A0001", "alumni")  # 15 items, 1 month
    assert desk(circ, alumnus, [book(1)], start).receipt[0].due == due


def test_the_due_date_is_from_the_local_date_of_now() -> None:
    """Just after midnight in Taipei (still the day before in UTC) is the new day."""
    circ = make()
    alumnus = patron("A0001", "alumni")
    assert desk(circ, alumnus, [book(1)], at(2026, 3, 31, 0, 5)).receipt[0].due == date(2026, 4, 30)


# --- membership -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "expires"),
    [
        ("student_undergraduate", date(2030, 9, 1)),
        ("student_master", date(2030, 9, 1)),
        ("student_doctoral", date(2033, 9, 1)),
        ("faculty_full_time", None),
    ],
)
def test_default_membership_is_4_or_7_years(key: str, expires: date | None) -> None:
    assert default_membership_expiry(key, date(2026, 9, 1)) == expires


def test_an_expired_membership_cannot_borrow(circ: Circulation) -> None:
    expired = patron("E0001", membership_expires=date(2026, 3, 9))  # yesterday
    with refused(circ, Reason.MEMBERSHIP_EXPIRED):
        desk(circ, expired, [book(1)])
    with refused(circ, Reason.MEMBERSHIP_EXPIRED):
        circ.checkout(expired, [book(1)], NOW, frozen=False, kiosk="K1")


def test_the_last_day_of_a_membership_still_borrows(circ: Circulation) -> None:
    last_day = patron("E0002", membership_expires=TODAY)
    assert len(desk(circ, last_day, [book(1)]).receipt) == 1


def test_a_suspended_membership_cannot_borrow(circ: Circulation) -> None:
    suspended = patron("U0001", membership_expires=date(2030, 7, 31), suspended=True)
    with refused(circ, Reason.MEMBERSHIP_SUSPENDED):
        desk(circ, suspended, [book(1)])


def test_an_unknown_category_is_refused(circ: Circulation) -> None:
    with refused(circ, Reason.INVALID_VALUE) as err:
        desk(circ, patron("Z0001", "wizard"), [book(1)])
    assert err.value.placeholders["field"] == "category"


def test_extend_by_default_adds_a_year_to_the_later_of_today_and_the_expiry() -> None:
    running = patron("S0009", membership_expires=date(2027, 6, 30))
    lapsed = patron("S0010", membership_expires=date(2025, 1, 1))

    assert extend_membership(running, TODAY).membership_expires == date(2028, 6, 30)
    assert extend_membership(lapsed, TODAY).membership_expires == date(2027, 3, 10)
    assert running.membership_expires == date(2027, 6, 30)  # pure: a new Patron
    leap = patron("S0011", membership_expires=date(2028, 2, 29))
    assert extend_membership(leap, TODAY).membership_expires == date(2029, 2, 28)


def test_extend_an_open_ended_membership_changes_nothing() -> None:
    faculty = patron("T0001", "faculty_full_time")
    assert extend_membership(faculty, TODAY) == faculty


def test_extend_until_a_date() -> None:
    student = patron("S0009", membership_expires=date(2027, 6, 30))
    assert extend_membership(student, TODAY, until=date(2029, 1, 31)).membership_expires == date(
        2029, 1, 31
    )
    assert extend_membership(student, TODAY, until=TODAY).membership_expires == TODAY
    eight_years = date(2034, 3, 10)
    assert extend_membership(student, TODAY, until=eight_years).membership_expires == eight_years


@pytest.mark.parametrize(
    "until",
    [date(2026, 3, 9), date(2034, 3, 11), datetime(2027, 1, 1, tzinfo=TAIPEI), "2027-01-01"],
    ids=["past", "over-8-years", "datetime", "text"],
)
def test_extend_until_a_bad_date_is_refused(until: Any) -> None:
    with pytest.raises(Refused) as err:
        extend_membership(patron("S0009"), TODAY, until=until)
    assert err.value.reason is Reason.INVALID_VALUE
    assert err.value.placeholders["field"] == "until"


def test_reactivate_lifts_the_suspension_only(circ: Circulation) -> None:
    suspended = patron("U0001", membership_expires=date(2030, 7, 31), suspended=True)
    lapsed = patron("U0002", membership_expires=date(2025, 7, 31), suspended=True)

    active = reactivate_membership(suspended, TODAY)
    assert active == patron("U0001", membership_expires=date(2030, 7, 31))
    assert suspended.suspended  # pure
    assert len(desk(circ, active, [book(1)]).receipt) == 1

    still_lapsed = reactivate_membership(lapsed, TODAY)
    assert not still_lapsed.suspended
    assert still_lapsed.membership_expires == date(2025, 7, 31)
    with refused(circ, Reason.MEMBERSHIP_EXPIRED):
        desk(circ, still_lapsed, [book(2)])


def test_reactivate_a_patron_who_is_not_suspended_is_refused() -> None:
    with pytest.raises(Refused) as err:
        reactivate_membership(ALICE, TODAY)
    assert err.value.reason is Reason.NOT_SUSPENDED
    assert err.value.placeholders == {"patron": "S0001"}


# --- checkout: the patron is refused as a whole -----------------------------------------------


def test_a_frozen_patron_cannot_borrow(circ: Circulation) -> None:
    with refused(circ, Reason.FROZEN) as err:
        circ.checkout(
            ALICE, [book(1)], NOW, frozen=True, frozen_until="2026-03-17 14:00", kiosk="K1"
        )
    assert err.value.placeholders == {"until": "2026-03-17 14:00"}
    with refused(circ, Reason.FROZEN) as err:
        desk(circ, ALICE, [book(1)], frozen=True)
    assert err.value.placeholders == {"until": "-"}


def test_an_unknown_kiosk_is_refused(circ: Circulation) -> None:
    for kiosk in ("K9", ""):
        with refused(circ, Reason.UNKNOWN_KIOSK):
            circ.checkout(ALICE, [book(1)], NOW, kiosk=kiosk, frozen=False)
    with refused(circ, Reason.UNKNOWN_KIOSK):
        circ.kiosk_fault("K9", "sensor")
    with refused(circ, Reason.UNKNOWN_KIOSK):
        circ.kiosk_status("K9", TODAY)


def test_a_kiosk_in_fault_sends_patrons_to_the_desk_until_cleared(circ: Circulation) -> None:
    circ.kiosk_fault("K1", "magnetic_strip")
    assert circ.kiosk_status("K1", TODAY) == {"fault": "magnetic_strip", "loans_today": 0}

    with refused(circ, Reason.KIOSK_FAULT) as err:
        circ.checkout(ALICE, [book(1)], NOW, frozen=False, kiosk="K1")
    assert err.value.placeholders == {"kiosk": "K1", "fault": "magnetic_strip"}
    assert len(circ.checkout(ALICE, [book(1)], NOW, frozen=False, kiosk="K2").receipt) == 1
    assert len(desk(circ, ALICE, [book(2)]).receipt) == 1

    circ.clear_kiosk_fault("K1")
    assert circ.kiosk_status("K1", TODAY)["fault"] is None
    assert len(circ.checkout(ALICE, [book(3)], NOW, frozen=False, kiosk="K1").receipt) == 1
    circ.clear_kiosk_fault("K1")  # clearing a working kiosk is harmless


@pytest.mark.parametrize("fault", sorted(KIOSK_FAULTS))
def test_every_kiosk_fault_blocks_the_kiosk(fault: str) -> None:
    circ = make()
    circ.kiosk_fault("K1", fault)
    with refused(circ, Reason.KIOSK_FAULT):
        circ.checkout(ALICE, [book(1)], NOW, frozen=False, kiosk="K1")


@pytest.mark.parametrize("fault", ["exploded", "", None, "SENSOR"])
def test_an_unknown_fault_is_refused(circ: Circulation, fault: Any) -> None:
    with refused(circ, Reason.INVALID_VALUE) as err:
        circ.kiosk_fault("K1", fault)
    assert err.value.placeholders["field"] == "fault"


@pytest.mark.parametrize(
    "barcodes", ["B00001", {"B00001"}, None, [book(1)] * (MAX_BARCODES + 1)], ids=str
)
def test_a_request_that_is_not_a_list_of_barcodes_is_refused(
    circ: Circulation, barcodes: Any
) -> None:
    with refused(circ, Reason.INVALID_VALUE) as err:
        desk(circ, ALICE, barcodes)
    assert err.value.placeholders["field"] == "barcodes"


# --- checkout: item by item -------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw", ["", "   ", "B 00001", "-B00001", "B00001!", "書00001", "A" * 33, "B00001\nX", 42]
)
def test_an_unreadable_barcode_goes_to_the_desk(circ: Circulation, raw: Any) -> None:
    before = snapshot(circ)
    result = circ.checkout(ALICE, [raw], NOW, frozen=False, kiosk="K1")
    assert result.receipt == []
    assert [r.reason for r in result.refused] == [Reason.UNREADABLE_BARCODE]
    assert "\n" not in result.refused[0].barcode
    assert snapshot(circ) == before


def test_a_barcode_is_read_upper_case_and_stripped(circ: Circulation) -> None:
    assert normalize_barcode("  cd-b00001 \n") == "CD-B00001"
    assert normalize_barcode("A" * 32) == "A" * 32
    result = desk(circ, ALICE, [" b00001 "])
    assert [line.barcode for line in result.receipt] == ["B00001"]
    assert "B00001" in circ.state.loans


def test_an_unknown_item_goes_to_the_desk(circ: Circulation) -> None:
    result = desk(circ, ALICE, ["B99999", book(1)])
    assert reasons(result) == [("B99999", Reason.UNKNOWN_ITEM)]
    assert [line.barcode for line in result.receipt] == [book(1)]


def test_library_use_only_is_never_lent(circ: Circulation) -> None:
    for kiosk in ("K1", None):
        result = circ.checkout(ALICE, ["R00001"], NOW, frozen=False, kiosk=kiosk)
        assert reasons(result) == [("R00001", Reason.LIBRARY_USE_ONLY)]
    assert circ.state.loans == {}


def test_accompanying_material_is_lent_at_the_counter_only(circ: Circulation) -> None:
    result = circ.checkout(ALICE, ["CD-B00001"], NOW, frozen=False, kiosk="K1")
    assert reasons(result) == [("CD-B00001", Reason.ACCOMPANYING_MATERIAL_COUNTER_ONLY)]
    assert circ.state.loans == {}

    result = desk(circ, ALICE, ["CD-B00001"])
    assert result.refused == []
    assert result.receipt == [
        ReceiptLine(barcode="CD-B00001", title="CD of Book 00001 附件光碟", due=date(2026, 7, 10))
    ]  # without the book: the patron's own period (4 months)


def test_accompanying_material_is_due_with_the_patrons_book(circ: Circulation) -> None:
    desk(circ, ALICE, [book(1)], at(2026, 1, 31))  # due 2026-05-31
    result = desk(circ, ALICE, ["CD-B00001"], NOW)
    assert result.receipt[0].due == date(2026, 5, 31)
    assert circ.state.loans["CD-B00001"].due == date(2026, 5, 31)
    assert circ.loans_counted(ALICE.patron_id) == 2  # the CD counts toward the total


def test_accompanying_material_ignores_another_patrons_book(circ: Circulation) -> None:
    desk(circ, BOB, [book(1)], at(2026, 1, 31))
    assert desk(circ, ALICE, ["CD-B00001"], NOW).receipt[0].due == date(2026, 7, 10)


def test_accompanying_material_with_its_book_in_the_same_request(circ: Circulation) -> None:
    result = desk(circ, ALICE, ["CD-B00002", book(2)], at(2026, 10, 31))
    assert [(line.barcode, line.due) for line in result.receipt] == [
        ("CD-B00002", date(2027, 2, 28)),
        (book(2), date(2027, 2, 28)),
    ]


def test_accompanying_material_counts_toward_the_limit(circ: Circulation) -> None:
    on_loan(circ, FRIEND, 4)
    result = desk(circ, FRIEND, ["CD-B00001", book(10)])
    assert [line.barcode for line in result.receipt] == ["CD-B00001"]
    assert reasons(result) == [(book(10), Reason.LOAN_LIMIT_REACHED)]


def test_an_item_on_loan_to_another_or_already_borrowed(circ: Circulation) -> None:
    desk(circ, BOB, [book(1)])
    desk(circ, ALICE, [book(2)])
    before = snapshot(circ)

    result = desk(circ, ALICE, [book(1), book(2)])

    assert reasons(result) == [(book(1), Reason.ITEM_ON_LOAN), (book(2), Reason.ALREADY_BORROWED)]
    assert snapshot(circ) == before
    assert circ.state.loans[book(1)].patron_id == "S0002"


def test_a_barcode_twice_in_one_request(circ: Circulation) -> None:
    result = desk(circ, ALICE, [book(1), "b00001", "B99999", "B99999"])
    assert [line.barcode for line in result.receipt] == [book(1)]
    assert reasons(result) == [
        (book(1), Reason.DUPLICATE_ITEM),
        ("B99999", Reason.UNKNOWN_ITEM),
        ("B99999", Reason.DUPLICATE_ITEM),
    ]


def test_the_limit_counts_loans_in_a_box_and_items_earlier_in_the_request(
    circ: Circulation,
) -> None:
    codes = on_loan(circ, FRIEND, 3)  # limit 5
    circ.drop_in_box("main", [codes[0]], at(2026, 3, 9, 21))  # still counts until scan-back

    result = desk(circ, FRIEND, [book(10), "R00001", book(11), book(12)])

    assert [line.barcode for line in result.receipt] == [book(10), book(11)]
    assert reasons(result) == [
        ("R00001", Reason.LIBRARY_USE_ONLY),
        (book(12), Reason.LOAN_LIMIT_REACHED),
    ]
    assert circ.loans_counted(FRIEND.patron_id) == 5


def test_a_partly_refused_request_keeps_what_was_lent(circ: Circulation) -> None:
    desk(circ, BOB, [book(3)])
    codes = [book(1), "???", "R00002", book(2), book(3), "CD-B00004"]
    result = circ.checkout(ALICE, codes, NOW, frozen=False, kiosk="K1")
    assert [line.barcode for line in result.receipt] == [book(1), book(2)]
    assert reasons(result) == [
        ("???", Reason.UNREADABLE_BARCODE),
        ("R00002", Reason.LIBRARY_USE_ONLY),
        (book(3), Reason.ITEM_ON_LOAN),
        ("CD-B00004", Reason.ACCOMPANYING_MATERIAL_COUNTER_ONLY),
    ]
    assert circ.state.loans[book(1)] == Loan(
        barcode=book(1),
        patron_id="S0001",
        since=NOW,
        due=date(2026, 7, 10),
        title="Book 00001 圖書",
    )
    assert circ.kiosk_status("K1", TODAY)["loans_today"] == 2


def test_kiosk_loans_today_count_and_reset_on_a_new_day(circ: Circulation) -> None:
    circ.checkout(ALICE, [book(1), book(2)], NOW, frozen=False, kiosk="K1")
    circ.checkout(BOB, [book(3), "R00001"], NOW, frozen=False, kiosk="K1")
    desk(circ, BOB, [book(4)])  # the desk is no kiosk
    assert circ.kiosk_status("K1", TODAY) == {"fault": None, "loans_today": 3}
    assert circ.kiosk_status("K2", TODAY) == {"fault": None, "loans_today": 0}

    tomorrow = NOW + timedelta(days=1)
    assert circ.kiosk_status("K1", tomorrow.date())["loans_today"] == 0
    circ.checkout(ALICE, [book(5)], tomorrow, frozen=False, kiosk="K1")
    assert circ.kiosk_status("K1", tomorrow.date())["loans_today"] == 1


def test_a_site_with_a_library_system_passes_its_items_in() -> None:
    circ = Circulation(CirculationState(), CirculationPolicy(), BOXES, KIOSKS)
    ils = {"X123": Item(barcode="X123", title="From the ILS")}

    result = desk(circ, ALICE, ["x123", "B00001"], lookup=ils.get)

    assert [line.title for line in result.receipt] == ["From the ILS"]
    assert reasons(result) == [("B00001", Reason.UNKNOWN_ITEM)]
    assert circ.patron_loans(ALICE, TODAY)["loans"][0]["title"] == "From the ILS"


def test_a_failing_lookup_changes_nothing(circ: Circulation) -> None:
    def lookup(code: str) -> Item | None:
        if code == book(2):
            raise OSError("the library system went away")
        return circ.state.catalogue.get(code)

    before = snapshot(circ)
    with pytest.raises(OSError):
        desk(circ, ALICE, [book(1), book(2)], lookup=lookup)
    assert snapshot(circ) == before


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.sampled_from(["B00001", "B00002", "b00003", "R00001", "CD-B00001", "X", "", "#", "B9"]),
        max_size=12,
    ),
    st.sampled_from(["K1", None]),
)
def test_every_barcode_is_either_lent_or_refused(codes: list[str], kiosk: str | None) -> None:
    circ = make()
    on_loan(circ, FRIEND, 2, first=100)
    result = circ.checkout(FRIEND, codes, NOW, frozen=False, kiosk=kiosk)
    assert len(result.receipt) + len(result.refused) == len(codes)
    assert circ.loans_counted(FRIEND.patron_id) == 2 + len(result.receipt) <= 5
    assert all(circ.state.loans[line.barcode].patron_id == "F0001" for line in result.receipt)


# --- desk check-in ----------------------------------------------------------------------------


def test_the_desk_checks_items_in(circ: Circulation) -> None:
    desk(circ, ALICE, [book(1), book(2)])
    circ.drop_in_box("main", [book(2)], NOW)

    result = circ.checkin([book(1), "b00002", book(1), book(9), "!"], NOW)

    assert result.checked_in == [book(1), book(2)]
    assert reasons(result) == [
        (book(1), Reason.DUPLICATE_ITEM),
        (book(9), Reason.NOT_ON_LOAN),
        ("!", Reason.UNREADABLE_BARCODE),
    ]
    assert circ.state.loans == {}


# --- the 24-hour return boxes -----------------------------------------------------------------

EVENING = at(2026, 3, 10, 21)
NEXT_MORNING = at(2026, 3, 11, 8)


def test_a_dropped_item_counts_until_it_is_scanned_back(circ: Circulation) -> None:
    codes = on_loan(circ, FRIEND, 5)  # at the limit

    dropped = circ.drop_in_box("gongguan", [codes[0]], EVENING)

    assert dropped == DropResult(accepted=[codes[0]], flagged=[])
    assert circ.state.loans[codes[0]].box == "gongguan"
    assert circ.state.loans[codes[0]].dropped_at == EVENING
    assert circ.loans_counted(FRIEND.patron_id) == 5
    status = circ.patron_loans(FRIEND, EVENING.date())
    assert status["remaining"] == 0
    assert [loan["awaiting_scan_back"] for loan in status["loans"]] == [True] + [False] * 4
    assert reasons(desk(circ, FRIEND, [book(10)], EVENING)) == [
        (book(10), Reason.LOAN_LIMIT_REACHED)
    ]

    scanned = circ.scan_back("gongguan", NEXT_MORNING)

    assert scanned == ScanBackResult(checked_in=[codes[0]], flagged=[])
    assert codes[0] not in circ.state.loans
    assert circ.patron_loans(FRIEND, NEXT_MORNING.date())["remaining"] == 1
    assert [line.barcode for line in desk(circ, FRIEND, [book(10)], NEXT_MORNING).receipt] == [
        book(10)
    ]


def test_accompanying_material_in_a_box_is_flagged_and_stays_on_loan(circ: Circulation) -> None:
    desk(circ, ALICE, [book(1), "CD-B00001"])

    dropped = circ.drop_in_box("main", [book(1), "CD-B00001"], EVENING)

    finding = BoxFinding(
        box="main", barcode="CD-B00001", reason=Reason.ACCOMPANYING_MATERIAL_IN_BOX, at=EVENING
    )
    assert dropped == DropResult(accepted=[book(1)], flagged=[finding])
    assert circ.state.loans["CD-B00001"].dropped_at is None
    assert circ.state.loans["CD-B00001"].box is None

    scanned = circ.scan_back("main", NEXT_MORNING)

    assert scanned == ScanBackResult(checked_in=[book(1)], flagged=[finding])
    assert "CD-B00001" in circ.state.loans  # on the patron's record until the desk has it
    assert circ.loans_counted(ALICE.patron_id) == 1
    assert circ.state.findings == []


def test_what_is_not_the_librarys_is_flagged(circ: Circulation) -> None:
    dropped = circ.drop_in_box("linkou", ["ISBN9789570000", "###", "  "], EVENING)

    assert dropped.accepted == []
    assert [(f.barcode, f.reason) for f in dropped.flagged] == [
        ("ISBN9789570000", Reason.NOT_LIBRARY_ITEM),
        ("###", Reason.NOT_LIBRARY_ITEM),
        ("", Reason.NOT_LIBRARY_ITEM),
    ]
    assert circ.box_status("linkou") == {"waiting": 0, "oldest": None, "flagged": 3}


def test_a_library_item_not_on_loan_is_flagged(circ: Circulation) -> None:
    dropped = circ.drop_in_box("main", [book(400), "R00001", book(400)], EVENING)
    assert [(f.barcode, f.reason) for f in dropped.flagged] == [
        (book(400), Reason.NOT_ON_LOAN),
        ("R00001", Reason.NOT_ON_LOAN),
    ]
    assert circ.scan_back("main", NEXT_MORNING).flagged == dropped.flagged
    assert circ.box_status("main")["flagged"] == 0


def test_an_unknown_box_is_refused(circ: Circulation) -> None:
    desk(circ, ALICE, [book(1)])
    for box in ("roof", "", None, "Main"):
        with refused(circ, Reason.UNKNOWN_BOX):
            circ.drop_in_box(box, [book(1)], EVENING)  # type: ignore[arg-type]
    with refused(circ, Reason.UNKNOWN_BOX) as err:
        circ.scan_back("roof", NEXT_MORNING)
    assert err.value.placeholders == {"box": "roof"}
    with refused(circ, Reason.UNKNOWN_BOX):
        circ.box_status("roof")


def test_box_status_and_scan_back_per_box(circ: Circulation) -> None:
    desk(circ, ALICE, [book(1), book(2), book(3)])
    circ.drop_in_box("main", [book(2)], at(2026, 3, 10, 22))
    circ.drop_in_box("main", [book(1)], at(2026, 3, 10, 20))
    circ.drop_in_box("linkou", [book(3)], at(2026, 3, 10, 19))
    circ.drop_in_box("main", [book(1)], at(2026, 3, 10, 23))  # read again: the first drop counts

    assert circ.box_status("main") == {
        "waiting": 2,
        "oldest": at(2026, 3, 10, 20),
        "flagged": 0,
    }
    assert circ.box_status("gongguan") == {"waiting": 0, "oldest": None, "flagged": 0}

    assert circ.scan_back("main", NEXT_MORNING).checked_in == [book(1), book(2)]
    assert circ.box_status("main")["waiting"] == 0
    assert circ.box_status("linkou")["waiting"] == 1
    assert list(circ.state.loans) == [book(3)]
    assert circ.scan_back("main", NEXT_MORNING) == ScanBackResult()


def test_scan_back_leaves_what_was_dropped_after_it(circ: Circulation) -> None:
    desk(circ, ALICE, [book(1)])
    circ.drop_in_box("main", [book(1), "FOREIGN1"], at(2026, 3, 11, 9))
    assert circ.scan_back("main", NEXT_MORNING) == ScanBackResult()
    assert circ.box_status("main") == {"waiting": 1, "oldest": at(2026, 3, 11, 9), "flagged": 1}


def test_a_dropped_item_is_not_lent_again_before_scan_back(circ: Circulation) -> None:
    desk(circ, ALICE, [book(1)])
    circ.drop_in_box("main", [book(1)], EVENING)
    assert reasons(desk(circ, BOB, [book(1)], EVENING)) == [(book(1), Reason.ITEM_ON_LOAN)]


# --- what the patron and the devices see ------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "label"),
    [
        ("faculty_full_time", "6 months"),
        ("student_preparatory_overseas", "1 month"),
        ("friend_of_library", "21 days"),
        ("student_leave_paid", "60 days"),
        ("partner_library", "by agreement"),
    ],
)
def test_patron_loans_names_the_period(circ: Circulation, key: str, label: str) -> None:
    assert circ.patron_loans(patron("P0001", key), TODAY)["loan_period"] == label


def test_patron_loans_is_json_safe(circ: Circulation) -> None:
    student = patron("S0005", membership_expires=date(2026, 3, 1))
    desk(circ, student, [book(1)], at(2026, 2, 1))
    circ.drop_in_box("main", [book(1)], EVENING)

    status = circ.patron_loans(student, TODAY, frozen=True)

    assert json.loads(json.dumps(status)) == status
    assert status == {
        "category": "student_undergraduate",
        "item_limit": 60,
        "loan_period": "4 months",
        "loans": [
            {
                "barcode": book(1),
                "title": "Book 00001 圖書",
                "due": "2026-06-01",
                "overdue": False,
                "awaiting_scan_back": True,
            }
        ],
        "remaining": 59,
        "membership_expires": "2026-03-01",
        "expired": True,
        "suspended": False,
        "frozen": True,
    }


def test_remaining_is_never_below_zero(circ: Circulation) -> None:
    on_loan(circ, FRIEND, 7)  # e.g. the category changed after the loans
    assert circ.patron_loans(FRIEND, TODAY)["remaining"] == 0
    assert circ.patron_loans(ALICE, TODAY)["membership_expires"] is None
    assert circ.patron_loans(ALICE, TODAY)["loans"] == []


# --- the stored state -------------------------------------------------------------------------


def busy_state() -> Circulation:
    circ = make()
    desk(circ, ALICE, [book(1), "CD-B00001"], at(2026, 1, 31))
    circ.checkout(BOB, [book(2), book(3)], NOW, frozen=False, kiosk="K1")
    circ.drop_in_box("main", [book(2), "CD-B00001", "FOREIGN", book(400)], EVENING)
    circ.kiosk_fault("K2", "printer")
    return circ


def test_the_state_survives_a_round_trip_through_json() -> None:
    circ = busy_state()
    data = json.loads(json.dumps(circ.state.as_dict()))

    restored = CirculationState.from_dict(data)

    assert restored == circ.state
    assert restored.kiosks == {
        "K1": KioskState(fault=None, loans_today=2, day=TODAY),
        "K2": KioskState(fault="printer"),
    }
    assert len(restored.findings) == 3
    assert restored.loans[book(2)].dropped_at == EVENING
    assert CirculationState.from_dict({}) == CirculationState()


def test_snapshot_and_restore() -> None:
    circ = busy_state()
    saved = circ.state.snapshot()
    before = circ.state.as_dict()

    circ.scan_back("main", NEXT_MORNING)
    desk(circ, ALICE, [book(50)])
    circ.clear_kiosk_fault("K2")
    assert circ.state.as_dict() != before

    circ.state.restore(saved)
    assert circ.state.as_dict() == before
    circ.state.findings.clear()  # restore copied: the snapshot is untouched
    assert len(saved[2]) == 3


def test_sites_share_the_state_and_keep_each_others_kiosks() -> None:
    """Two sites of one library: one state; a site does not drop the other's kiosks."""
    state = busy_state().state
    kiosks = set(state.kiosks)
    main = Circulation(state, CirculationPolicy(), BOXES, ("K1",))
    Circulation(state, CirculationPolicy(), ("gongguan",), ("G1",))
    assert set(main.state.kiosks) == kiosks
    with pytest.raises(Refused):
        main.kiosk_fault("G1", "sensor")  # not this site's kiosk


def _damage(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    data = busy_state().state.as_dict()
    target: Any = data
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "named"),
    [
        (("loans", "B00001", "due"), "soon", "loans/B00001"),
        (("loans", "B00001", "since"), None, "loans/B00001"),
        (("loans", "B00001", "patron_id"), 7, "loans/B00001"),
        (("loans", "B00001", "box"), "main", "loans/B00001"),  # a box without a drop time
        (("loans", "b00001"), {"patron_id": "X"}, "loans/b00001"),
        (("loans", "B00001"), ["not", "a", "record"], "loans/B00001"),
        (("catalogue", "B00007", "library_use_only"), "yes", "catalogue/B00007"),
        (("catalogue", "B00007", "title"), None, "catalogue/B00007"),
        (("catalogue", "CD-B00003", "accompanies"), "not a code", "catalogue/CD-B00003"),
        (("catalogue", "bad key!"), {"title": "x"}, "catalogue/bad key!"),
        (("findings", 0, "reason"), "frozen", "findings/0"),
        (("findings", 1, "at"), "yesterday", "findings/1"),
        (("kiosks", "K2", "fault"), "exploded", "kiosks/K2"),
        (("kiosks", "K1", "loans_today"), True, "kiosks/K1"),
        (("kiosks", "K1", "loans_today"), -1, "kiosks/K1"),
        (("kiosks", "K1", "day"), "Tuesday", "kiosks/K1"),
        (("loans",), ["B00001"], "loans"),
        (("findings",), {}, "findings"),
    ],
)
def test_damaged_data_is_refused_by_name(path: tuple[Any, ...], value: Any, named: str) -> None:
    with pytest.raises(ValueError, match=named):
        CirculationState.from_dict(_damage(path, value))


def test_damaged_data_that_is_no_mapping() -> None:
    with pytest.raises(ValueError, match="not a mapping"):
        CirculationState.from_dict(["loans"])  # type: ignore[arg-type]


# --- the demo ---------------------------------------------------------------------------------


def test_the_demo_catalogue() -> None:
    catalogue = demo_catalogue()
    assert len(catalogue) == 500 + 20 + 20
    assert {"B00001", "B00500", "R00001", "R00020", "CD-B00001", "CD-B00020"} <= set(catalogue)
    assert not {"B00000", "B00501", "R00021", "CD-B00021"} & set(catalogue)
    assert all(normalize_barcode(code) == code == item.barcode for code, item in catalogue.items())
    assert all(item.library_use_only for code, item in catalogue.items() if code[0] == "R")
    assert catalogue["CD-B00020"].accompanies == "B00020"
    assert all(
        not item.library_use_only and item.accompanies is None
        for code, item in catalogue.items()
        if code[0] == "B"
    )


def test_the_demo_self_checkout() -> None:
    circ = make()
    result = circ.checkout(ALICE, ["B00001", "R00001", "CD-B00001"], NOW, kiosk="K1", frozen=False)
    assert result.receipt == [
        ReceiptLine(barcode="B00001", title="Book 00001 圖書", due=date(2026, 7, 10))
    ]
    assert result.refused == [
        RefusedItem(barcode="R00001", reason=Reason.LIBRARY_USE_ONLY),
        RefusedItem(barcode="CD-B00001", reason=Reason.ACCOMPANYING_MATERIAL_COUNTER_ONLY),
    ]
    assert circ.kiosk_status("K1", TODAY) == {"fault": None, "loans_today": 1}


def test_a_stray_read_twice_is_set_aside_once() -> None:
    """Dropping the same stray again (or reading it twice) does not count it twice."""
    circ = Circulation(CirculationState(catalogue=demo_catalogue()), CirculationPolicy(), BOXES)
    now = datetime(2026, 3, 2, 20, 0)
    circ.drop_in_box("main", ["XYZ-1"], now)
    circ.drop_in_box("main", ["XYZ-1"], now + timedelta(minutes=5))
    assert circ.box_status("main")["flagged"] == 1
    circ.drop_in_box("linkou", ["XYZ-1"], now)  # another box: another finding
    assert circ.box_status("linkou")["flagged"] == 1
