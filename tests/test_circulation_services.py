"""Circulation as staff and automations use it: the services, on the local directory and on SIP2.

Kiosk K1 and the return boxes main, Gongguan and Linkou come from the site's options (the demo's
circulation); the catalogue is the demo's (local) or the loopback ILS's (scripts/lib/ils.py).
The clock stands at conftest's NOW (a Wednesday, 2025-03-12 10:00 in Taipei) unless moved.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.auth.models import User
from homeassistant.core import Context, HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError, Unauthorized
from homeassistant.helpers import issue_registry as ir
from ils_records import Loan as IlsLoan
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
    async_fire_time_changed,
)
import voluptuous as vol

from custom_components.ntnu_library.const import (
    CONF_DEMO_DATA,
    CONF_LIBRARY,
    CONF_PATRON_SYSTEM,
    CONF_RADIO,
    CONF_SITE_NAME,
    DOMAIN,
    PATRONS_LOCAL,
    PATRONS_SIP2,
)
from custom_components.ntnu_library.core.categories import add_months
from custom_components.ntnu_library.demo import DEMO_ROOMS, demo_membership_expires
from custom_components.ntnu_library.desk import BOX_ISSUE, EVENT_BOX_FINDING
from custom_components.ntnu_library.subentries import room_subentry

from .conftest import NOW, IlsServer, call_service, refusal as refusal_key

TODAY = date.fromisoformat(NOW[:10])
BOTH = pytest.mark.parametrize("patron_system", [PATRONS_LOCAL, PATRONS_SIP2])
SIP2_ONLY = pytest.mark.parametrize("patron_system", [PATRONS_SIP2])
# The demo's circulation, as its options name it.
CIRCULATION_OPTIONS = {"kiosks": ["K1"], "return_boxes": ["main", "gongguan", "linkou"]}


@pytest.fixture
def policy_options(
    policy_options: dict[str, Any], request: pytest.FixtureRequest
) -> dict[str, Any]:
    """The conftest policy with the demo's kiosk and return boxes (and a test's own changes)."""
    return policy_options | CIRCULATION_OPTIONS | getattr(request, "param", {})


@pytest.fixture
async def staff_user(hass: HomeAssistant, hass_owner_user: User) -> User:
    """A Home Assistant user who is not an administrator (the owner exists first)."""
    return await hass.auth.async_create_user("staff", group_ids=["system-users"])


# --- helpers --------------------------------------------------------------------------------------


async def checkout(
    hass: HomeAssistant, patron_id: str, *items: str, kiosk: str | None = None
) -> dict[str, Any]:
    """self_checkout by patron ID, at a kiosk or (without one) at the counter."""
    data: dict[str, Any] = {"patron_id": patron_id, "items": list(items)}
    if kiosk is not None:
        data["kiosk"] = kiosk
    return await call_service(hass, "self_checkout", data)


async def loans(hass: HomeAssistant, patron_id: str) -> dict[str, Any]:
    """patron_loans."""
    return await call_service(hass, "patron_loans", {"patron_id": patron_id})


async def refusal(hass: HomeAssistant, service: str, data: dict[str, Any]) -> str:
    """The translation key of the refusal a service call raises."""
    with pytest.raises(HomeAssistantError) as err:
        await call_service(hass, service, data)
    return refusal_key(err.value)


def barcodes(answer: dict[str, Any]) -> list[str]:
    """The barcodes of a patron_loans answer's loans."""
    return [loan["barcode"] for loan in answer["loans"]]


def reasons(result: dict[str, Any]) -> dict[str, str]:
    """A checkout's refused items: barcode -> reason."""
    return {line["barcode"]: line["reason"] for line in result["refused"]}


def title(ils: IlsServer | None, code: str) -> str:
    """An item's title as the receipt prints it: the demo catalogue's, or the ILS's."""
    if ils is not None:
        record = ils.item(code)
        assert record is not None
        return str(record["title"])
    return f"Book {code[1:]} 圖書"


def due(ils: IlsServer | None, code: str, period_due: date) -> str:
    """The due date a receipt shows: the loan table's (local), or the ILS's own."""
    if ils is not None:
        return ils.loans[code].due.date().isoformat()
    return period_due.isoformat()


def circulation_loans(entry: MockConfigEntry) -> dict[str, Any]:
    """The library's loans as kept here (the Store's record)."""
    return dict(entry.runtime_data.library.circulation.loans)


# --- 1. the demo as a new user tries it ----------------------------------------------------------


@BOTH
async def test_first_checkout_at_the_kiosk(
    hass: HomeAssistant,
    frozen_clock: FrozenDateTimeFactory,
    ils: IlsServer | None,
    init_integration: MockConfigEntry,
) -> None:
    """A book is lent; a reference copy and a CD are refused at the kiosk, the CD is lent later."""
    result = await checkout(hass, "S0001", "B00001", "R00001", "CD-B00001", kiosk="K1")
    book_due = due(ils, "B00001", add_months(TODAY, 4))
    assert result["patron"] == "S***1"
    assert result["kiosk"] == "K1"
    assert result["receipt"] == [
        {"barcode": "B00001", "title": title(ils, "B00001"), "due": book_due}
    ]
    assert result["refused"] == [
        {"barcode": "R00001", "reason": "library_use_only"},
        {"barcode": "CD-B00001", "reason": "accompanying_material_counter_only"},
    ]
    assert result.get("ils", False) is (ils is not None)
    if ils is not None:
        assert ils.loans_of("S0001") == ["B00001"]
    assert init_integration.runtime_data.desk.kiosk_status("K1") == {
        "fault": None,
        "loans_today": 1,
    }

    # At the counter the CD is lent: due with its book.
    result = await checkout(hass, "S0001", "CD-B00001")
    assert "kiosk" not in result
    assert [(line["barcode"], line["due"]) for line in result["receipt"]] == [
        ("CD-B00001", book_due)
    ]
    assert result["refused"] == []
    answer = await loans(hass, "S0001")
    assert sorted(barcodes(answer)) == ["B00001", "CD-B00001"]
    assert {loan["due"] for loan in answer["loans"]} == {book_due}
    assert answer["remaining"] == 60 - 2
    if ils is not None:
        assert ils.loans_of("S0001") == ["B00001", "CD-B00001"]
        assert ils.loans["CD-B00001"].due == ils.loans["B00001"].due
    # The counter's loans are not the kiosk's.
    assert init_integration.runtime_data.desk.kiosk_status("K1")["loans_today"] == 1


@BOTH
async def test_cd_before_its_book_at_the_counter(
    hass: HomeAssistant,
    frozen_clock: FrozenDateTimeFactory,
    ils: IlsServer | None,
    init_integration: MockConfigEntry,
) -> None:
    """A CD read before its book in one counter checkout is due with the book."""
    result = await checkout(hass, "G0001", "CD-B00002", "B00002")
    assert [line["barcode"] for line in result["receipt"]] == ["CD-B00002", "B00002"]
    due_dates = {line["due"] for line in result["receipt"]}
    assert len(due_dates) == 1
    if ils is None:
        assert due_dates == {add_months(TODAY, 6).isoformat()}


# --- 2. the limit, a return box and the scan-back ------------------------------------------------


@BOTH
async def test_limit_counts_items_awaiting_scan_back(
    hass: HomeAssistant,
    frozen_clock: FrozenDateTimeFactory,
    ils: IlsServer | None,
    init_integration: MockConfigEntry,
) -> None:
    """An alumnus (15 items) at the limit; a box drop still counts until the scan-back."""
    books = [f"B{n:05d}" for n in range(1, 16)]
    result = await checkout(hass, "A0001", *books, kiosk="K1")
    assert [line["barcode"] for line in result["receipt"]] == books
    assert result["refused"] == []
    if ils is None:
        assert {line["due"] for line in result["receipt"]} == {add_months(TODAY, 1).isoformat()}
    else:
        assert ils.loans_of("A0001") == books
    answer = await loans(hass, "A0001")
    assert (answer["item_limit"], answer["loan_period"], answer["remaining"]) == (15, "1 month", 0)

    # The 16th is refused, alone at the counter or among others.
    result = await checkout(hass, "A0001", "B00016")
    assert (result["receipt"], reasons(result)) == ([], {"B00016": "loan_limit_reached"})

    # Dropped in the main library's box: it still counts.
    frozen_clock.move_to("2025-03-12 21:30:00+08:00")
    drop = await call_service(hass, "return_box_drop", {"box": "main", "items": ["B00001"]})
    assert drop == {"box": "main", "accepted": ["B00001"], "flagged": []}
    result = await checkout(hass, "A0001", "B00016", kiosk="K1")
    assert (result["receipt"], reasons(result)) == ([], {"B00016": "loan_limit_reached"})
    answer = await loans(hass, "A0001")
    assert answer["remaining"] == 0
    waiting = {loan["barcode"]: loan["awaiting_scan_back"] for loan in answer["loans"]}
    assert waiting == {code: code == "B00001" for code in books}
    assert init_integration.runtime_data.desk.box_status("main")["waiting"] == 1
    if ils is not None:
        assert "B00001" in ils.loans_of("A0001")  # the ILS hears of it at the scan-back
        assert [c[0] for c in ils.checkins] == []

    # The next morning staff scan the box back: it is returned.
    frozen_clock.move_to("2025-03-13 08:30:00+08:00")
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    scanned = await call_service(hass, "scan_back", {"box": "main"})
    assert scanned == {"box": "main", "checked_in": ["B00001"], "flagged": []}
    answer = await loans(hass, "A0001")
    assert answer["remaining"] == 1
    assert "B00001" not in barcodes(answer)
    assert init_integration.runtime_data.desk.box_status("main")["waiting"] == 0
    if ils is not None:
        assert [c[0] for c in ils.checkins] == ["B00001"]
        assert ils.loans_of("A0001") == books[1:]

    result = await checkout(hass, "A0001", "B00016", kiosk="K1")
    assert [line["barcode"] for line in result["receipt"]] == ["B00016"]
    if ils is None:
        assert result["receipt"][0]["due"] == add_months(TODAY + timedelta(days=1), 1).isoformat()
    else:
        assert ils.loans_of("A0001") == [*books[1:], "B00016"]
    assert (await loans(hass, "A0001"))["remaining"] == 0


@BOTH
async def test_a_scan_back_the_same_night_leaves_later_drops(
    hass: HomeAssistant,
    frozen_clock: FrozenDateTimeFactory,
    ils: IlsServer | None,
    init_integration: MockConfigEntry,
) -> None:
    """A second box is not touched by scanning back the first."""
    await checkout(hass, "S0001", "B00001", "B00002")
    await call_service(hass, "return_box_drop", {"box": "main", "items": ["B00001"]})
    await call_service(hass, "return_box_drop", {"box": "linkou", "items": ["B00002"]})
    scanned = await call_service(hass, "scan_back", {"box": "main"})
    assert scanned["checked_in"] == ["B00001"]
    answer = await loans(hass, "S0001")
    assert [(loan["barcode"], loan["awaiting_scan_back"]) for loan in answer["loans"]] == [
        ("B00002", True)
    ]
    if ils is not None:
        assert [c[0] for c in ils.checkins] == ["B00001"]
        assert ils.loans_of("S0001") == ["B00002"]


# --- 3. what does not belong in a box -----------------------------------------------------------


@BOTH
async def test_box_findings(
    hass: HomeAssistant,
    frozen_clock: FrozenDateTimeFactory,
    ils: IlsServer | None,
    init_integration: MockConfigEntry,
) -> None:
    """A CD, a foreign item and a book not on loan are set aside, with an event and a notice."""
    findings = async_capture_events(hass, EVENT_BOX_FINDING)
    result = await checkout(hass, "S0001", "B00001", "CD-B00001")
    assert [line["barcode"] for line in result["receipt"]] == ["B00001", "CD-B00001"]

    drop = await call_service(
        hass,
        "return_box_drop",
        {"box": "main", "items": ["CD-B00001", "XYZ-1", "B00003", "B00001"]},
    )
    assert drop["accepted"] == ["B00001"]
    assert drop["flagged"] == [
        {"barcode": "CD-B00001", "reason": "accompanying_material_in_box"},
        {"barcode": "XYZ-1", "reason": "not_library_item"},
        {"barcode": "B00003", "reason": "not_on_loan"},
    ]
    assert [event.data for event in findings] == [
        {
            "site": "Main Library",
            "box": "main",
            "barcode": "CD-B00001",
            "reason": "accompanying_material_in_box",
        },
        {"site": "Main Library", "box": "main", "barcode": "XYZ-1", "reason": "not_library_item"},
        {"site": "Main Library", "box": "main", "barcode": "B00003", "reason": "not_on_loan"},
    ]
    issue_id = f"{BOX_ISSUE}_{init_integration.entry_id}_main"
    issue = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.translation_key == BOX_ISSUE
    assert issue.translation_placeholders == {"site": "Main Library", "box": "main", "count": "3"}
    assert init_integration.runtime_data.desk.box_status("main")["flagged"] == 3
    # The CD is still the patron's, and not awaiting a scan-back.
    answer = await loans(hass, "S0001")
    cd = next(loan for loan in answer["loans"] if loan["barcode"] == "CD-B00001")
    assert cd["awaiting_scan_back"] is False

    frozen_clock.move_to("2025-03-13 08:30:00+08:00")
    scanned = await call_service(hass, "scan_back", {"box": "main"})
    assert scanned["checked_in"] == ["B00001"]
    assert [(f["barcode"], f["reason"]) for f in scanned["flagged"]] == [
        ("CD-B00001", "accompanying_material_in_box"),
        ("XYZ-1", "not_library_item"),
        ("B00003", "not_on_loan"),
    ]
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None
    assert init_integration.runtime_data.desk.box_status("main")["flagged"] == 0
    answer = await loans(hass, "S0001")
    assert barcodes(answer) == ["CD-B00001"]
    assert answer["loans"][0]["awaiting_scan_back"] is False
    if ils is not None:
        assert ils.loans_of("S0001") == ["CD-B00001"]
        assert [c[0] for c in ils.checkins] == ["B00001"]

    # Staff take the CD back at the counter.
    result = await call_service(hass, "counter_checkin", {"items": ["CD-B00001", "B00004"]})
    assert result == {
        "checked_in": ["CD-B00001"],
        "refused": [{"barcode": "B00004", "reason": "not_on_loan"}],
    }
    assert barcodes(await loans(hass, "S0001")) == []
    if ils is not None:
        assert ils.loans_of("S0001") == []


@BOTH
async def test_unknown_box(
    hass: HomeAssistant,
    frozen_clock: FrozenDateTimeFactory,
    ils: IlsServer | None,
    init_integration: MockConfigEntry,
) -> None:
    """A box the site does not have is refused, for a drop and for a scan-back."""
    drop = {"box": "taipei", "items": ["B00001"]}
    assert await refusal(hass, "return_box_drop", drop) == "unknown_box"
    assert await refusal(hass, "scan_back", {"box": "taipei"}) == "unknown_box"


# --- 4. every refusal of a self-checkout -------------------------------------------------------


@BOTH
async def test_item_refusals(
    hass: HomeAssistant,
    frozen_clock: FrozenDateTimeFactory,
    ils: IlsServer | None,
    init_integration: MockConfigEntry,
) -> None:
    """Items are refused one by one; the others still go through."""
    await checkout(hass, "G0001", "B00002")
    result = await checkout(hass, "S0001", "B99999", "??", "B00002", "B00003", "b00003", kiosk="K1")
    assert [line["barcode"] for line in result["receipt"]] == ["B00003"]
    assert result["refused"] == [
        {"barcode": "B99999", "reason": "unknown_item"},
        {"barcode": "??", "reason": "unreadable_barcode"},
        {"barcode": "B00002", "reason": "item_on_loan"},
        {"barcode": "B00003", "reason": "duplicate_item"},
    ]
    result = await checkout(hass, "S0001", "B00003", kiosk="K1")
    assert (result["receipt"], reasons(result)) == ([], {"B00003": "already_borrowed"})
    assert barcodes(await loans(hass, "S0001")) == ["B00003"]
    assert barcodes(await loans(hass, "G0001")) == ["B00002"]
    if ils is not None:
        assert ils.loans_of("S0001") == ["B00003"]
        assert ils.loans_of("G0001") == ["B00002"]


@BOTH
@pytest.mark.parametrize(
    ("patron_id", "reason"), [("X0001", "frozen"), ("E0001", "membership_expired")]
)
async def test_patron_refusals(
    hass: HomeAssistant,
    frozen_clock: FrozenDateTimeFactory,
    ils: IlsServer | None,
    init_integration: MockConfigEntry,
    patron_id: str,
    reason: str,
) -> None:
    """A frozen patron and an expired membership are refused as a whole; nothing is lent."""
    for kiosk in ("K1", None):
        data: dict[str, Any] = {"patron_id": patron_id, "items": ["B00001"]}
        if kiosk:
            data["kiosk"] = kiosk
        assert await refusal(hass, "self_checkout", data) == reason
    assert circulation_loans(init_integration) == {}
    if ils is not None:
        assert ils.loans == {}


@BOTH
async def test_suspended_patron(
    hass: HomeAssistant,
    frozen_clock: FrozenDateTimeFactory,
    ils: IlsServer | None,
    init_integration: MockConfigEntry,
) -> None:
    """A suspended patron (the directory's flag, or the ILS's charge privileges denied)."""
    if ils is None:
        await call_service(hass, "update_patron", {"patron_id": "S0001", "suspended": True})
    else:
        ils.patrons["S0001"]["status"] = [0]
    data = {"patron_id": "S0001", "items": ["B00001"], "kiosk": "K1"}
    assert await refusal(hass, "self_checkout", data) == "membership_suspended"
    assert (await loans(hass, "S0001"))["suspended"] is True
    assert circulation_loans(init_integration) == {}
    if ils is not None:
        assert ils.loans == {}


@BOTH
async def test_unknown_kiosk(
    hass: HomeAssistant,
    frozen_clock: FrozenDateTimeFactory,
    ils: IlsServer | None,
    init_integration: MockConfigEntry,
) -> None:
    """A kiosk the site does not have refuses, for a checkout and for its faults."""
    data = {"patron_id": "S0001", "items": ["B00001"], "kiosk": "K9"}
    assert await refusal(hass, "self_checkout", data) == "unknown_kiosk"
    fault = {"kiosk": "K9", "fault": "printer"}
    assert await refusal(hass, "kiosk_fault", fault) == "unknown_kiosk"
    assert await refusal(hass, "clear_kiosk_fault", {"kiosk": "K9"}) == "unknown_kiosk"
    assert circulation_loans(init_integration) == {}


@BOTH
async def test_kiosk_fault_sends_everyone_to_the_counter(
    hass: HomeAssistant,
    frozen_clock: FrozenDateTimeFactory,
    ils: IlsServer | None,
    init_integration: MockConfigEntry,
) -> None:
    """A faulty kiosk refuses every patron until staff clear it; the counter still lends."""
    desk = init_integration.runtime_data.desk
    answer = await call_service(hass, "kiosk_fault", {"kiosk": "K1", "fault": "magnetic_strip"})
    assert answer == {"kiosk": "K1", "fault": "magnetic_strip"}
    assert desk.kiosk_status("K1")["fault"] == "magnetic_strip"
    for patron_id in ("S0001", "F0001"):
        data = {"patron_id": patron_id, "items": ["B00001"], "kiosk": "K1"}
        with pytest.raises(ServiceValidationError) as err:
            await call_service(hass, "self_checkout", data)
        assert err.value.translation_key == "kiosk_fault"
        assert err.value.translation_placeholders == {"kiosk": "K1", "fault": "magnetic_strip"}
    assert circulation_loans(init_integration) == {}
    # A fault the kiosk cannot have is no fault.
    with pytest.raises(vol.Invalid):
        await call_service(hass, "kiosk_fault", {"kiosk": "K1", "fault": "coffee"})

    # The counter lends meanwhile.
    result = await checkout(hass, "S0001", "B00001")
    assert [line["barcode"] for line in result["receipt"]] == ["B00001"]

    answer = await call_service(hass, "clear_kiosk_fault", {"kiosk": "K1"})
    assert answer == {"kiosk": "K1", "fault": None}
    assert desk.kiosk_status("K1")["fault"] is None
    result = await checkout(hass, "S0001", "B00002", kiosk="K1")
    assert [line["barcode"] for line in result["receipt"]] == ["B00002"]
    # Clearing a working kiosk changes nothing.
    assert (await call_service(hass, "clear_kiosk_fault", {"kiosk": "K1"}))["fault"] is None


@BOTH
async def test_checkout_by_card(
    hass: HomeAssistant,
    frozen_clock: FrozenDateTimeFactory,
    ils: IlsServer | None,
    init_integration: MockConfigEntry,
) -> None:
    """The kiosk reads the patron's card; a card nobody holds is refused."""
    data: dict[str, Any] = {"card": "C-S0001", "items": ["B00001"], "kiosk": "K1"}
    result = await call_service(hass, "self_checkout", data)
    assert result["patron"] == "S***1"
    assert [line["barcode"] for line in result["receipt"]] == ["B00001"]
    assert barcodes(await loans(hass, "S0001")) == ["B00001"]

    data = {"card": "C-NOBODY", "items": ["B00002"], "kiosk": "K1"}
    assert await refusal(hass, "self_checkout", data) == "unknown_patron"
    # An unknown patron ID too; neither both nor none of ID and card.
    data = {"patron_id": "S9999", "items": ["B00002"], "kiosk": "K1"}
    assert await refusal(hass, "self_checkout", data) == "unknown_patron"
    with pytest.raises(vol.Invalid):
        await call_service(
            hass, "self_checkout", {"patron_id": "S0001", "card": "C-S0001", "items": ["B00002"]}
        )
    with pytest.raises(vol.Invalid):
        await call_service(hass, "self_checkout", {"items": ["B00002"]})
    assert list(circulation_loans(init_integration)) == ["B00001"]


# --- 5. a patron's loans and rights ------------------------------------------------------------


@BOTH
async def test_patron_loans(
    hass: HomeAssistant,
    frozen_clock: FrozenDateTimeFactory,
    ils: IlsServer | None,
    init_integration: MockConfigEntry,
) -> None:
    """Category, limit, period, loans, what remains and the membership, for staff."""
    result = await checkout(hass, "S0001", "B00007", "B00001", kiosk="K1")
    assert len(result["receipt"]) == 2
    answer = await loans(hass, "S0001")
    expires = demo_membership_expires("student_undergraduate", None, TODAY)
    assert expires is not None
    book_due = due(ils, "B00001", add_months(TODAY, 4))
    assert answer == {
        "patron": "S***1",
        "category": "student_undergraduate",
        "item_limit": 60,
        "loan_period": "4 months",
        "loans": [
            {
                "barcode": code,
                "title": title(ils, code),
                "due": book_due,
                "overdue": False,
                "awaiting_scan_back": False,
            }
            for code in ("B00001", "B00007")
        ],
        "remaining": 58,
        "membership_expires": expires.isoformat(),
        "expired": False,
        "suspended": False,
        "frozen": False,
    }

    expired = await loans(hass, "E0001")
    assert (expired["expired"], expired["loans"], expired["remaining"]) == (True, [], 60)
    assert expired["membership_expires"] == (TODAY - timedelta(days=30)).isoformat()
    faculty = await loans(hass, "F0001")
    assert (faculty["category"], faculty["item_limit"], faculty["loan_period"]) == (
        "faculty_full_time",
        100,
        "6 months",
    )
    assert (faculty["membership_expires"], faculty["expired"]) == (None, False)
    frozen = await loans(hass, "X0001")
    assert (frozen["category"], frozen["frozen"], frozen["item_limit"]) == (
        "student_doctoral",
        True,
        100,
    )
    alumni = await loans(hass, "A0001")
    assert (alumni["item_limit"], alumni["loan_period"], alumni["remaining"]) == (15, "1 month", 15)
    assert await refusal(hass, "patron_loans", {"patron_id": "S9999"}) == "unknown_patron"


async def test_overdue_loan(
    hass: HomeAssistant, frozen_clock: FrozenDateTimeFactory, init_integration: MockConfigEntry
) -> None:
    """A loan past its due date is overdue (and still counts)."""
    await checkout(hass, "A0001", "B00001")
    frozen_clock.move_to("2025-04-13 10:00:00+08:00")
    answer = await loans(hass, "A0001")
    assert [(loan["due"], loan["overdue"]) for loan in answer["loans"]] == [("2025-04-12", True)]
    assert answer["remaining"] == 14


@pytest.mark.parametrize("policy_options", [{"partner_loan_days": 14}], indirect=True)
async def test_partner_library_period_by_agreement(
    hass: HomeAssistant, frozen_clock: FrozenDateTimeFactory, init_integration: MockConfigEntry
) -> None:
    """A partner-library user borrows for the agreement's days (the site's option)."""
    result = await checkout(hass, "Z0001", "B00001", kiosk="K1")
    assert result["receipt"][0]["due"] == (TODAY + timedelta(days=14)).isoformat()
    answer = await loans(hass, "Z0001")
    assert (answer["item_limit"], answer["loan_period"]) == (5, "by agreement")


async def test_kiosk_counts_loans_per_day(
    hass: HomeAssistant, frozen_clock: FrozenDateTimeFactory, init_integration: MockConfigEntry
) -> None:
    """A kiosk's loans today start again at 0 the next day."""
    desk = init_integration.runtime_data.desk
    await checkout(hass, "S0001", "B00001", "B00002", kiosk="K1")
    await checkout(hass, "G0001", "B00003", "R00001", kiosk="K1")
    assert desk.kiosk_status("K1")["loans_today"] == 3
    frozen_clock.move_to("2025-03-13 09:00:00+08:00")
    assert desk.kiosk_status("K1")["loans_today"] == 0
    await checkout(hass, "G0001", "B00004", kiosk="K1")
    assert desk.kiosk_status("K1")["loans_today"] == 1


@SIP2_ONLY
async def test_patron_loans_follow_the_ils(
    hass: HomeAssistant,
    frozen_clock: FrozenDateTimeFactory,
    ils: IlsServer,
    init_integration: MockConfigEntry,
) -> None:
    """Loans made elsewhere count here; loans returned elsewhere stop counting."""
    await checkout(hass, "S0001", "B00001", kiosk="K1")
    ils.loans["B00009"] = IlsLoan("S0001", ils.due())  # lent at another terminal
    answer = await loans(hass, "S0001")
    assert barcodes(answer) == ["B00001", "B00009"]
    assert answer["loans"][1]["title"] == "Book 00009"
    assert answer["loans"][1]["due"] == ils.loans["B00009"].due.date().isoformat()
    assert answer["remaining"] == 58

    del ils.loans["B00001"]  # returned at another building's counter
    answer = await loans(hass, "S0001")
    assert barcodes(answer) == ["B00009"]
    # Another patron's loan made elsewhere is not lent again.
    result = await checkout(hass, "G0001", "B00009", kiosk="K1")
    assert result["receipt"] == []
    assert ils.loans_of("S0001") == ["B00009"]


# --- 6. memberships at the counter ----------------------------------------------------------------


async def test_extend_membership(
    hass: HomeAssistant, frozen_clock: FrozenDateTimeFactory, init_integration: MockConfigEntry
) -> None:
    """A year from the expiry (or today, if past), or to a date; none for no expiry."""
    expires = demo_membership_expires("student_undergraduate", None, TODAY)
    assert expires is not None
    answer = await call_service(hass, "extend_membership", {"patron_id": "S0001"})
    assert answer == {"patron": "S***1", "membership_expires": add_months(expires, 12).isoformat()}
    assert (await loans(hass, "S0001"))["membership_expires"] == add_months(expires, 12).isoformat()
    answer = await call_service(
        hass, "extend_membership", {"patron_id": "S0001", "until": "2031-06-30"}
    )
    assert answer["membership_expires"] == "2031-06-30"
    assert (await loans(hass, "S0001"))["membership_expires"] == "2031-06-30"

    # An expired membership runs again from today, and may borrow.
    data = {"patron_id": "E0001", "items": ["B00001"]}
    assert await refusal(hass, "self_checkout", data) == "membership_expired"
    answer = await call_service(hass, "extend_membership", {"patron_id": "E0001"})
    assert answer["membership_expires"] == add_months(TODAY, 12).isoformat()
    assert (await loans(hass, "E0001"))["expired"] is False
    result = await checkout(hass, "E0001", "B00001", kiosk="K1")
    assert [line["barcode"] for line in result["receipt"]] == ["B00001"]

    # No expiry: nothing to extend.
    answer = await call_service(hass, "extend_membership", {"patron_id": "F0001"})
    assert answer["membership_expires"] is None
    # Not in the past, not more than 8 years ahead.
    for until in ("2025-03-11", "2033-03-13"):
        data = {"patron_id": "S0001", "until": until}
        assert await refusal(hass, "extend_membership", data) == "invalid_value"
    assert (await loans(hass, "S0001"))["membership_expires"] == "2031-06-30"
    data = {"patron_id": "S9999"}
    assert await refusal(hass, "extend_membership", data) == "unknown_patron"


async def test_extension_survives_a_restart(
    hass: HomeAssistant, frozen_clock: FrozenDateTimeFactory, init_integration: MockConfigEntry
) -> None:
    """The directory keeps the new expiry."""
    await call_service(hass, "extend_membership", {"patron_id": "S0001", "until": "2030-01-31"})
    await _restart(hass, init_integration)
    assert (await loans(hass, "S0001"))["membership_expires"] == "2030-01-31"


async def test_reactivate_membership(
    hass: HomeAssistant, frozen_clock: FrozenDateTimeFactory, init_integration: MockConfigEntry
) -> None:
    """A suspended student is reactivated at the counter and may borrow again."""
    data: dict[str, Any] = {"patron_id": "S0001"}
    assert await refusal(hass, "reactivate_membership", data) == "not_suspended"
    await call_service(hass, "update_patron", {"patron_id": "S0001", "suspended": True})
    checkout_data = {"patron_id": "S0001", "items": ["B00001"], "kiosk": "K1"}
    assert await refusal(hass, "self_checkout", checkout_data) == "membership_suspended"
    answer = await call_service(hass, "reactivate_membership", data)
    assert answer == {"patron": "S***1", "suspended": False}
    assert (await loans(hass, "S0001"))["suspended"] is False
    result = await call_service(hass, "self_checkout", checkout_data)
    assert [line["barcode"] for line in result["receipt"]] == ["B00001"]
    assert await refusal(hass, "reactivate_membership", data) == "not_suspended"

    # Reactivation does not extend an expired membership.
    await call_service(hass, "update_patron", {"patron_id": "E0001", "suspended": True})
    await call_service(hass, "reactivate_membership", {"patron_id": "E0001"})
    data = {"patron_id": "E0001", "items": ["B00002"]}
    assert await refusal(hass, "self_checkout", data) == "membership_expired"


@SIP2_ONLY
@pytest.mark.parametrize(
    ("service", "data"),
    [
        ("extend_membership", {"patron_id": "S0001"}),
        ("extend_membership", {"patron_id": "S0001", "until": "2030-01-31"}),
        ("reactivate_membership", {"patron_id": "S0001"}),
    ],
)
async def test_memberships_are_the_ils_s(
    hass: HomeAssistant,
    frozen_clock: FrozenDateTimeFactory,
    ils: IlsServer,
    init_integration: MockConfigEntry,
    service: str,
    data: dict[str, Any],
) -> None:
    """With SIP2 memberships are kept in the ILS: the counter services refuse."""
    before = dict(ils.patrons["S0001"])
    assert await refusal(hass, service, data) == "patrons_managed_elsewhere"
    assert ils.patrons["S0001"] == before


# --- 7. staff only --------------------------------------------------------------------------------

STAFF_CALLS: list[tuple[str, dict[str, Any]]] = [
    ("self_checkout", {"patron_id": "S0001", "items": ["B00001"], "kiosk": "K1"}),
    ("self_checkout", {"card": "C-S0001", "items": ["B00001"]}),
    ("counter_checkin", {"items": ["B00001"]}),
    ("return_box_drop", {"box": "main", "items": ["B00001"]}),
    ("scan_back", {"box": "main"}),
    ("patron_loans", {"patron_id": "S0001"}),
    ("extend_membership", {"patron_id": "S0001"}),
    ("reactivate_membership", {"patron_id": "S0001"}),
    ("kiosk_fault", {"kiosk": "K1", "fault": "printer"}),
    ("clear_kiosk_fault", {"kiosk": "K1"}),
]


@pytest.mark.parametrize(("service", "data"), STAFF_CALLS)
async def test_circulation_is_for_staff(
    hass: HomeAssistant,
    frozen_clock: FrozenDateTimeFactory,
    init_integration: MockConfigEntry,
    hass_admin_user: User,
    staff_user: User,
    service: str,
    data: dict[str, Any],
) -> None:
    """A user who is not an administrator is refused; an administrator is not."""
    await checkout(hass, "S0001", "B00001")
    await call_service(hass, "update_patron", {"patron_id": "S0001", "suspended": True})
    state = init_integration.runtime_data.library.circulation
    before = state.snapshot()
    with pytest.raises(Unauthorized):
        await call_service(hass, service, data, context=Context(user_id=staff_user.id))
    assert state.snapshot() == before
    assert (await loans(hass, "S0001"))["suspended"] is True
    if service != "reactivate_membership":
        await call_service(hass, "update_patron", {"patron_id": "S0001", "suspended": False})
    if service == "self_checkout":
        data = {**data, "items": ["B00002"]}
    # The same call as an administrator goes through.
    await call_service(hass, service, data, context=Context(user_id=hass_admin_user.id))


# --- 8. nothing lost on a restart -----------------------------------------------------------------


async def _restart(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Unload the site (its library with it) and set it up again from its Store."""
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()


@BOTH
async def test_nothing_lost_on_a_restart(
    hass: HomeAssistant,
    frozen_clock: FrozenDateTimeFactory,
    ils: IlsServer | None,
    init_integration: MockConfigEntry,
) -> None:
    """Loans, items waiting in a box, findings and a kiosk's fault outlive a restart."""
    await checkout(hass, "S0001", "B00001", "B00002", kiosk="K1")
    await checkout(hass, "S0001", "CD-B00001")
    await call_service(hass, "return_box_drop", {"box": "gongguan", "items": ["B00002", "ZZ-9"]})
    await call_service(hass, "kiosk_fault", {"kiosk": "K1", "fault": "printer"})
    before = await loans(hass, "S0001")
    old_hub = init_integration.runtime_data.library

    await _restart(hass, init_integration)

    assert init_integration.runtime_data.library is not old_hub  # read back from the Store
    assert await loans(hass, "S0001") == before
    desk = init_integration.runtime_data.desk
    assert desk.kiosk_status("K1") == {"fault": "printer", "loans_today": 2}
    assert (desk.box_status("gongguan")["waiting"], desk.box_status("gongguan")["flagged"]) == (
        1,
        1,
    )
    data = {"patron_id": "S0001", "items": ["B00003"], "kiosk": "K1"}
    assert await refusal(hass, "self_checkout", data) == "kiosk_fault"
    # The demo does not seed over what the library has: the catalogue is not reset either.
    result = await checkout(hass, "S0001", "B00001")
    assert reasons(result) == {"B00001": "already_borrowed"}
    scanned = await call_service(hass, "scan_back", {"box": "gongguan"})
    assert scanned["checked_in"] == ["B00002"]
    assert [f["barcode"] for f in scanned["flagged"]] == ["ZZ-9"]
    assert barcodes(await loans(hass, "S0001")) == ["B00001", "CD-B00001"]
    if ils is not None:
        assert ils.loans_of("S0001") == ["B00001", "CD-B00001"]


# --- several sites of one library --------------------------------------------------------------


async def _branch(
    hass: HomeAssistant, main: MockConfigEntry, options: dict[str, Any]
) -> MockConfigEntry:
    """Gongguan: a second site of the main site's library, with its own kiosk and box."""
    branch = MockConfigEntry(
        domain=DOMAIN,
        title="Gongguan",
        unique_id="gongguan",
        data={
            CONF_SITE_NAME: "Gongguan",
            CONF_RADIO: "simulated",
            CONF_PATRON_SYSTEM: PATRONS_LOCAL,
            CONF_DEMO_DATA: True,
            CONF_LIBRARY: main.entry_id,
        },
        options=options,
        subentries_data=[room_subentry(room) for room in DEMO_ROOMS[:2]],
    )
    branch.add_to_hass(hass)
    assert await hass.config_entries.async_setup(branch.entry_id)
    await hass.async_block_till_done()
    return branch


async def test_loans_are_the_library_s(
    hass: HomeAssistant,
    frozen_clock: FrozenDateTimeFactory,
    init_integration: MockConfigEntry,
    policy_options: dict[str, Any],
) -> None:
    """A loan made at one building counts at the other, and is returned in either's box."""
    branch = await _branch(
        hass, init_integration, policy_options | {"kiosks": ["K2"], "return_boxes": ["gg"]}
    )
    at_main = {"config_entry_id": init_integration.entry_id}
    at_branch = {"config_entry_id": branch.entry_id}
    books = [f"B{n:05d}" for n in range(1, 16)]
    result = await call_service(
        hass, "self_checkout", {"patron_id": "A0001", "items": books, "kiosk": "K1"} | at_main
    )
    assert len(result["receipt"]) == 15
    data = {"patron_id": "A0001", "items": ["B00016"], "kiosk": "K2"} | at_branch
    result = await call_service(hass, "self_checkout", data)
    assert reasons(result) == {"B00016": "loan_limit_reached"}
    # The main site's kiosk is not the branch's.
    data = {"patron_id": "A0001", "items": ["B00016"], "kiosk": "K1"} | at_branch
    assert await refusal(hass, "self_checkout", data) == "unknown_kiosk"
    # Returned in the branch's box, scanned back there.
    await call_service(hass, "return_box_drop", {"box": "gg", "items": ["B00001"]} | at_branch)
    assert (await loans(hass, "A0001"))["remaining"] == 0
    scanned = await call_service(hass, "scan_back", {"box": "gg"} | at_branch)
    assert scanned["checked_in"] == ["B00001"]
    assert (await loans(hass, "A0001"))["remaining"] == 1
    await hass.config_entries.async_unload(branch.entry_id)
    await hass.async_block_till_done()


async def test_box_named_at_two_sites(
    hass: HomeAssistant,
    frozen_clock: FrozenDateTimeFactory,
    init_integration: MockConfigEntry,
    policy_options: dict[str, Any],
) -> None:
    branch = await _branch(
        hass, init_integration, policy_options | {"kiosks": [], "return_boxes": ["gongguan"]}
    )
    drop = {"box": "gongguan", "items": ["XYZ-1"], "config_entry_id": init_integration.entry_id}
    await call_service(hass, "return_box_drop", drop)
    main_issue = f"{BOX_ISSUE}_{init_integration.entry_id}_gongguan"
    assert ir.async_get(hass).async_get_issue(DOMAIN, main_issue) is not None
    scan = {"box": "gongguan", "config_entry_id": branch.entry_id}
    scanned = await call_service(hass, "scan_back", scan)
    assert [f["barcode"] for f in scanned["flagged"]] == ["XYZ-1"]
    assert init_integration.runtime_data.desk.box_status("gongguan")["flagged"] == 0
    try:
        assert ir.async_get(hass).async_get_issue(DOMAIN, main_issue) is None
    finally:
        await hass.config_entries.async_unload(branch.entry_id)
        await hass.async_block_till_done()


# --- 9. the ILS down -------------------------------------------------------------------------------


@SIP2_ONLY
async def test_ils_down_refuses_and_records_nothing(
    hass: HomeAssistant,
    frozen_clock: FrozenDateTimeFactory,
    ils: IlsServer,
    init_integration: MockConfigEntry,
) -> None:
    """No ILS: a checkout, a drop and a scan-back are refused and change nothing here."""
    await checkout(hass, "S0001", "B00001")
    await call_service(hass, "return_box_drop", {"box": "main", "items": ["B00001"]})
    state = init_integration.runtime_data.library.circulation
    before = state.snapshot()
    await ils.stop()

    for data in (
        {"patron_id": "S0001", "items": ["B00002"], "kiosk": "K1"},
        {"patron_id": "G0001", "items": ["B00002"]},
        {"card": "C-D0001", "items": ["B00002"], "kiosk": "K1"},
    ):
        assert await refusal(hass, "self_checkout", data) == "patron_system_unavailable"
    drop = {"box": "main", "items": ["B00003"]}
    assert await refusal(hass, "return_box_drop", drop) == "patron_system_unavailable"
    assert await refusal(hass, "scan_back", {"box": "main"}) == "patron_system_unavailable"
    assert state.snapshot() == before
    assert init_integration.runtime_data.desk.kiosk_status("K1")["loans_today"] == 0
    assert ils.loans_of("S0001") == ["B00001"]
    assert ils.loans_of("G0001") == []
    # The box still waits for its scan-back.
    assert init_integration.runtime_data.desk.box_status("main")["waiting"] == 1


@SIP2_ONLY
async def test_ils_refusing_a_loan_undoes_it_here(
    hass: HomeAssistant,
    frozen_clock: FrozenDateTimeFactory,
    ils: IlsServer,
    init_integration: MockConfigEntry,
) -> None:
    """The rules allow, the ILS refuses (lent to another patron there): no loan here either."""
    ils.loans["B00005"] = IlsLoan("G0001", ils.due())  # G0001 has not been seen here yet
    result = await checkout(hass, "S0001", "B00005", "B00006", kiosk="K1")
    assert [line["barcode"] for line in result["receipt"]] == ["B00006"]
    assert "B00005" in reasons(result)
    assert sorted(circulation_loans(init_integration)) == ["B00006"]
    assert ils.loans_of("S0001") == ["B00006"]
    assert ils.loans_of("G0001") == ["B00005"]


# --- what the ILS knows that the desk must follow -----------------------------------------------


@SIP2_ONLY
async def test_ils_refusal_is_no_kiosk_loan(
    hass: HomeAssistant,
    frozen_clock: FrozenDateTimeFactory,
    ils: IlsServer,
    init_integration: MockConfigEntry,
) -> None:
    ils.loans["B00005"] = IlsLoan("G0001", ils.due())
    result = await checkout(hass, "S0001", "B00005", kiosk="K1")
    assert result["receipt"] == []
    assert init_integration.runtime_data.desk.kiosk_status("K1")["loans_today"] == 0


@SIP2_ONLY
async def test_item_charged_in_the_ils_is_on_loan(
    hass: HomeAssistant,
    frozen_clock: FrozenDateTimeFactory,
    ils: IlsServer,
    init_integration: MockConfigEntry,
) -> None:
    ils.loans["B00005"] = IlsLoan("G0001", ils.due())
    result = await checkout(hass, "S0001", "B00005", kiosk="K1")
    assert reasons(result) == {"B00005": "item_on_loan"}


@SIP2_ONLY
async def test_box_takes_a_loan_made_elsewhere(
    hass: HomeAssistant,
    frozen_clock: FrozenDateTimeFactory,
    ils: IlsServer,
    init_integration: MockConfigEntry,
) -> None:
    ils.loans["B00009"] = IlsLoan("S0001", ils.due())  # lent at another installation
    drop = await call_service(hass, "return_box_drop", {"box": "main", "items": ["B00009"]})
    assert (drop["accepted"], drop["flagged"]) == (["B00009"], [])
    frozen_clock.move_to("2025-03-13 08:30:00+08:00")
    await call_service(hass, "scan_back", {"box": "main"})
    assert ils.loans_of("S0001") == []


@SIP2_ONLY
async def test_lost_checkout_answer(
    hass: HomeAssistant,
    frozen_clock: FrozenDateTimeFactory,
    ils: IlsServer,
    init_integration: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lend = ils._checkout

    def lend_then_reset(request: Any) -> Any:
        answer = lend(request)
        ils.fault = "reset"  # the loan is made, the answer is lost (twice: with the retry)
        return answer

    monkeypatch.setattr(ils, "_checkout", lend_then_reset)
    result = await checkout(hass, "S0001", "B00001", kiosk="K1")
    ils.fault = None
    assert ils.loans_of("S0001") == ["B00001"]
    # Either the loan is known here (the desk asked the ILS what happened), or the patron is
    # told the ILS did not answer: never that it refused.
    assert reasons(result).get("B00001") != "ils_refused"
    assert "B00001" in circulation_loans(init_integration)


@SIP2_ONLY
async def test_counter_checkin_of_a_loan_made_elsewhere(
    hass: HomeAssistant,
    frozen_clock: FrozenDateTimeFactory,
    ils: IlsServer,
    init_integration: MockConfigEntry,
) -> None:
    ils.loans["B00009"] = IlsLoan("S0001", ils.due())
    result = await call_service(hass, "counter_checkin", {"items": ["B00009"]})
    assert ils.loans_of("S0001") == []
    assert result == {"checked_in": ["B00009"], "refused": []}


@SIP2_ONLY
async def test_loan_kept_when_the_patron_is_synced_meanwhile(
    hass: HomeAssistant,
    frozen_clock: FrozenDateTimeFactory,
    ils: IlsServer,
    init_integration: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    desk = init_integration.runtime_data.desk
    system = init_integration.runtime_data.patrons.ils
    assert system is not None
    lend = system.async_checkout

    async def synced_meanwhile(patron_id: str, barcode: str, **kwargs: Any) -> Any:
        await desk.async_patron_loans(patron_id)  # another desk looks the patron up
        return await lend(patron_id, barcode, **kwargs)

    monkeypatch.setattr(system, "async_checkout", synced_meanwhile)
    result = await checkout(hass, "S0001", "B00001", kiosk="K1")
    assert [line["barcode"] for line in result["receipt"]] == ["B00001"]
    assert ils.loans_of("S0001") == ["B00001"]
    assert "B00001" in circulation_loans(init_integration)
