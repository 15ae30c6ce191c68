"""Circulation over SIP2 (17/18, 11/12, 09/10) against the loopback ILS on 127.0.0.1.

scripts/lib/ils.py is the ILS: its demo catalogue (books, references for library use only,
CDs that accompany books), its loans, and its faults. The readers of item_messages.py are also
tested on hand-made answers, for what that ILS never sends.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, date, datetime, timedelta, timezone
import logging
import time
from typing import Any

from ils import LOAN_DAYS, LOCATION, IlsServer, demo_items
import pytest

from custom_components.ntnu_library.auth.sip2 import (
    SIP2_ENCODINGS,
    SIP2_PROTOCOL_ERROR,
    Sip2Config,
    Sip2Error,
    Sip2PatronSystem,
    codec,
    item_messages,
)
from custom_components.ntnu_library.auth.sip2.codec import Message
from custom_components.ntnu_library.auth.sip2.item_messages import (
    CheckinAnswer,
    CheckoutAnswer,
    ItemInfo,
)
from custom_components.ntnu_library.core.errors import Reason, Refused

# The HA test plugin blocks sockets; connections stay limited to 127.0.0.1.
pytestmark = pytest.mark.usefixtures("socket_enabled")

PASSWORD = "ntnu-demo"
LOGIN_USER = "door-terminal"
LOGIN_PASSWORD = "s3cret-terminal-login"
# The ILS's clock and the terminal's: the due dates are known in advance.
NOW = datetime(2026, 3, 14, 9, 26, 53)
DUE = datetime(2026, 4, 13, 23, 59, 59)  # LOAN_DAYS later, at the end of the day
DUE_TEXT = "20260413    235959"
# Every character set of SIP2_ENCODINGS has these letters; the bytes differ in each.
NORDIC_TITLE = "Åse Ødegård"
CHINESE_TITLE = "圖書館"  # UTF-8 only

PATRONS: list[dict[str, Any]] = [
    {"id": "S0001", "name": "Åse Ødegård", "password": PASSWORD, "card": "C-S0001"},
    {"id": "S0002", "name": "Other", "password": PASSWORD},
    {"id": "P0001", "name": "Denied", "password": PASSWORD, "status": [0]},
    {"id": "L0001", "name": "Lost", "password": PASSWORD, "status": [4]},
    {"id": "H0001", "name": "Holds", "password": PASSWORD, "status": [3]},
    {"id": "V0001", "name": "Invalid", "password": PASSWORD, "valid": False},
]
ITEMS: list[dict[str, Any]] = [
    *demo_items(),
    {"barcode": "N00001", "title": NORDIC_TITLE},
    {"barcode": "Z00001", "title": CHINESE_TITLE},
]


def make_config(port: int, **overrides: Any) -> Sip2Config:
    options: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "institution": "NTNU",
        "login_user": LOGIN_USER,
        "login_password": LOGIN_PASSWORD,
        "timeout": 0.5,
    }
    options.update(overrides)
    return Sip2Config(**options)


def new_ils(**options: Any) -> IlsServer:
    return IlsServer(
        PATRONS,
        items=ITEMS,
        now=lambda: NOW,
        login_user=LOGIN_USER,
        login_password=LOGIN_PASSWORD,
        **options,
    )


def new_system(ils: IlsServer, **overrides: Any) -> Sip2PatronSystem:
    config = make_config(ils.port, **{"encoding": ils.encoding, **overrides})
    return Sip2PatronSystem(config, now=lambda: NOW)


@pytest.fixture
async def ils() -> AsyncIterator[IlsServer]:
    async with new_ils() as server:
        yield server


@pytest.fixture
async def system(ils: IlsServer) -> AsyncIterator[Sip2PatronSystem]:
    client = new_system(ils)
    yield client
    await client.async_close()


async def refused(awaitable: Awaitable[Any]) -> Reason:
    with pytest.raises(Refused) as caught:
        await awaitable
    return caught.value.reason


# --- Item Information (17/18) ------------------------------------------------------------------


async def test_item_information_of_a_book(system: Sip2PatronSystem, ils: IlsServer) -> None:
    item = await system.async_item_information(" B00001 ")
    assert item == ItemInfo(
        barcode="B00001",
        title="Book 00001",
        circulation_status=item_messages.CIRCULATION_AVAILABLE,
        media_type=item_messages.MEDIA_BOOK,
        due=None,
        properties=None,
        permanent_location=LOCATION,
    )
    assert item.available
    assert not item.library_use_only
    assert item.accompanies is None
    assert item.due_date is None
    assert ils.counts["17"] == 1


async def test_item_information_of_a_reference(system: Sip2PatronSystem) -> None:
    item = await system.async_item_information("R00001")
    assert item is not None
    assert item.title == "Reference 00001"
    assert item.properties == "library_use_only"
    assert item.library_use_only
    assert item.accompanies is None


async def test_item_information_of_accompanying_material(system: Sip2PatronSystem) -> None:
    item = await system.async_item_information("CD-B00001")
    assert item is not None
    assert item.title == "CD for Book 00001"
    assert item.media_type == item_messages.MEDIA_CD
    assert item.properties == "accompanies=B00001"
    assert item.accompanies == "B00001"
    assert not item.library_use_only


async def test_item_information_of_an_unknown_item(
    system: Sip2PatronSystem, ils: IlsServer
) -> None:
    assert await system.async_item_information("X99999") is None
    assert ils.counts["17"] == 1  # the ILS was asked, and said it does not know the item


async def test_item_information_of_an_item_on_loan(
    system: Sip2PatronSystem, ils: IlsServer
) -> None:
    assert (await system.async_checkout("S0001", "B00002")).ok
    item = await system.async_item_information("B00002")
    assert item is not None
    assert item.circulation_status == item_messages.CIRCULATION_CHARGED
    assert not item.available
    assert item.due == DUE_TEXT
    assert item.due_date == DUE.date()
    assert item.due_at == DUE


@pytest.mark.parametrize("barcode", ["", "   ", "B0|0001", "B00001\r63", "B" * 65, None])
async def test_a_barcode_that_cannot_be_sent_is_no_item(
    system: Sip2PatronSystem, ils: IlsServer, barcode: Any
) -> None:
    assert await system.async_item_information(barcode) is None
    assert "17" not in ils.counts  # nothing was sent


# --- Checkout (11/12) --------------------------------------------------------------------------


async def test_checkout(system: Sip2PatronSystem, ils: IlsServer) -> None:
    answer = await system.async_checkout(" s0001 ", "B00001")
    assert answer == CheckoutAnswer(
        ok=True,
        renewal_ok=False,
        magnetic_media=False,
        desensitize=True,
        barcode="B00001",
        title="Book 00001",
        due=DUE_TEXT,
        screen_message=None,
    )
    # The ILS's due date, by its own rule: LOAN_DAYS to the end of that day.
    assert answer.due_date == NOW.date() + timedelta(days=LOAN_DAYS) == date(2026, 4, 13)
    assert answer.due_at == DUE
    assert ils.loans_of("S0001") == ["B00001"]
    assert ils.loans_of("C-S0001") == ["B00001"]  # by card too
    assert ils.loans["B00001"].due == DUE
    assert ils.counts["11"] == 1


async def test_checkout_by_card_and_with_the_patrons_password(
    system: Sip2PatronSystem, ils: IlsServer
) -> None:
    answer = await system.async_checkout("C-S0001", "B00003", password=PASSWORD)
    assert answer.ok
    assert ils.loans_of("S0001") == ["B00003"]
    wrong = await system.async_checkout("S0001", "B00004", password="not-it")
    assert not wrong.ok
    assert wrong.screen_message == "Invalid patron password"
    assert ils.loans_of("S0001") == ["B00003"]


async def test_checkout_of_a_library_use_only_item_is_refused(
    system: Sip2PatronSystem, ils: IlsServer
) -> None:
    answer = await system.async_checkout("S0001", "R00001")
    assert not answer.ok
    assert answer.screen_message is not None
    assert "Library use only" in answer.screen_message
    assert answer.due is None
    assert answer.due_date is None
    assert answer.title == "Reference 00001"
    assert ils.loans_of("S0001") == []
    assert ils.loans == {}


async def test_checkout_of_an_item_on_loan_to_someone_else_is_refused(
    system: Sip2PatronSystem, ils: IlsServer
) -> None:
    assert (await system.async_checkout("S0002", "B00001")).ok
    answer = await system.async_checkout("S0001", "B00001")
    assert not answer.ok
    assert answer.screen_message == "Item is on loan to another patron"
    assert ils.loans_of("S0001") == []
    assert ils.loans_of("S0002") == ["B00001"]


async def test_checkout_of_an_unknown_item_is_refused(
    system: Sip2PatronSystem, ils: IlsServer
) -> None:
    answer = await system.async_checkout("S0001", "X99999")
    assert not answer.ok
    assert answer.screen_message == "Item not found"
    assert answer.barcode == "X99999"
    assert answer.title is None
    assert ils.loans == {}


@pytest.mark.parametrize(
    ("patron_id", "message"),
    [
        ("NOBODY", "Unknown patron"),
        ("V0001", "Unknown patron"),
        ("P0001", "Patron blocked: borrowing is not allowed"),
        ("L0001", "Patron blocked: borrowing is not allowed"),
    ],
)
async def test_checkout_by_an_unknown_or_blocked_patron_is_refused(
    system: Sip2PatronSystem, ils: IlsServer, patron_id: str, message: str
) -> None:
    answer = await system.async_checkout(patron_id, "B00001")
    assert not answer.ok
    assert answer.screen_message == message
    assert ils.loans == {}


async def test_a_flag_that_does_not_stop_borrowing_does_not(system: Sip2PatronSystem) -> None:
    assert (await system.async_checkout("H0001", "B00001")).ok  # hold privileges denied only


async def test_no_block_lends_to_a_blocked_patron_but_to_no_unknown_one(
    system: Sip2PatronSystem, ils: IlsServer
) -> None:
    assert (await system.async_checkout("P0001", "B00001", no_block=True)).ok
    assert ils.loans_of("P0001") == ["B00001"]
    assert not (await system.async_checkout("NOBODY", "B00002", no_block=True)).ok


async def test_a_block_written_by_a_site_refuses_a_checkout(
    system: Sip2PatronSystem, ils: IlsServer
) -> None:
    await system.async_block_patron("S0001", "Left room 3 unlocked")
    answer = await system.async_checkout("S0001", "B00001")
    assert not answer.ok
    assert ils.loans == {}
    ils.unblock("S0001")
    assert (await system.async_checkout("S0001", "B00001")).ok


async def test_accompanying_material_is_due_with_its_item(ils: IlsServer) -> None:
    later = NOW + timedelta(days=3)
    clock = [NOW]
    ils.now = lambda: clock[0]
    system = new_system(ils)
    try:
        assert (await system.async_checkout("S0001", "B00001")).ok
        clock[0] = later
        cd = await system.async_checkout("S0001", "CD-B00001")
        assert cd.ok
        assert cd.due_at == DUE  # the book's, not three days later
        # Another patron's CD of a book they do not have: the ILS's own period.
        other = await system.async_checkout("S0002", "CD-B00002")
        assert other.due_at == DUE + timedelta(days=3)
    finally:
        await system.async_close()


async def test_checking_out_an_item_again_renews_it(
    system: Sip2PatronSystem, ils: IlsServer
) -> None:
    # A terminal that lost the answer and asks again gets the loan, not a refusal.
    first = await system.async_checkout("S0001", "B00001")
    second = await system.async_checkout("S0001", "B00001")
    assert first.ok
    assert not first.renewal_ok
    assert second.ok
    assert second.renewal_ok
    assert ils.loans_of("S0001") == ["B00001"]


@pytest.mark.parametrize(
    ("patron_id", "barcode", "password", "reason"),
    [
        ("", "B00001", None, Reason.UNKNOWN_PATRON),
        ("S0|001", "B00001", None, Reason.UNKNOWN_PATRON),
        ("S" * 65, "B00001", None, Reason.UNKNOWN_PATRON),
        ("S0001", "", None, Reason.INVALID_VALUE),
        ("S0001", "B0\x000001", None, Reason.INVALID_VALUE),
        ("S0001", "B00001", "", Reason.INVALID_CREDENTIALS),
        ("S0001", "B00001", "pa|ss", Reason.INVALID_CREDENTIALS),
    ],
)
async def test_a_checkout_that_cannot_be_sent_is_refused_without_asking(
    system: Sip2PatronSystem,
    ils: IlsServer,
    patron_id: str,
    barcode: str,
    password: str | None,
    reason: Reason,
) -> None:
    assert await refused(system.async_checkout(patron_id, barcode, password=password)) is reason
    assert "11" not in ils.counts
    assert ils.loans == {}


# --- Checkin (09/10) ---------------------------------------------------------------------------


async def test_checkin(system: Sip2PatronSystem, ils: IlsServer) -> None:
    assert (await system.async_checkout("S0001", "B00001")).ok
    returned = datetime(2026, 3, 20, 8, 0, 0, tzinfo=UTC)
    answer = await system.async_checkin("B00001", return_date=returned, location="Box 1")
    assert answer == CheckinAnswer(
        ok=True,
        resensitize=True,
        magnetic_media=False,
        alert=False,
        barcode="B00001",
        title="Book 00001",
        permanent_location=LOCATION,
        screen_message=None,
    )
    assert ils.loans_of("S0001") == []
    # An aware return date goes as UTC ("   Z"), with the current location.
    assert ils.checkins == [("B00001", "20260320   Z080000", "Box 1")]
    item = await system.async_item_information("B00001")
    assert item is not None
    assert item.available


async def test_checkin_with_a_local_return_date(system: Sip2PatronSystem, ils: IlsServer) -> None:
    assert (await system.async_checkout("S0001", "B00001")).ok
    oslo = timezone(timedelta(hours=1))
    await system.async_checkin("B00001", return_date=datetime(2026, 3, 20, 9, 0, tzinfo=oslo))
    await system.async_checkin("B00002", return_date=datetime(2026, 3, 20, 9, 0))
    assert ils.checkins == [
        ("B00001", "20260320   Z080000", ""),
        ("B00002", "20260320    090000", ""),  # naive: local time, a blank zone
    ]


async def test_checkin_of_an_item_not_on_loan_is_refused(
    system: Sip2PatronSystem, ils: IlsServer
) -> None:
    answer = await system.async_checkin("B00001", return_date=NOW)
    assert not answer.ok
    assert not answer.alert
    assert answer.title == "Book 00001"
    assert answer.screen_message == "Item was not on loan"
    assert ils.counts["09"] == 1


async def test_checkin_of_an_unknown_item_is_refused(system: Sip2PatronSystem) -> None:
    answer = await system.async_checkin("X99999", return_date=NOW)
    assert not answer.ok
    assert answer.alert
    assert answer.title is None
    assert answer.screen_message == "Item not found"


async def test_a_checkin_leaves_the_other_loans(system: Sip2PatronSystem, ils: IlsServer) -> None:
    for barcode in ("B00001", "CD-B00001", "B00002"):
        assert (await system.async_checkout("S0001", barcode)).ok
    assert (await system.async_checkin("CD-B00001", return_date=NOW)).ok
    assert ils.loans_of("S0001") == ["B00001", "B00002"]


@pytest.mark.parametrize(
    ("barcode", "location"),
    [("", ""), ("B0|0001", ""), ("B00001", "Box|1"), ("B00001", "L" * 65)],
)
async def test_a_checkin_that_cannot_be_sent_is_refused_without_asking(
    system: Sip2PatronSystem, ils: IlsServer, barcode: str, location: str
) -> None:
    reason = await refused(system.async_checkin(barcode, return_date=NOW, location=location))
    assert reason is Reason.INVALID_VALUE
    assert "09" not in ils.counts


# --- Patron information counts the loans -------------------------------------------------------


async def test_patron_information_counts_the_loans(
    system: Sip2PatronSystem, ils: IlsServer
) -> None:
    empty = await system.async_charged_items("S0001")
    assert empty == item_messages.ChargedItems(count=0, items=())
    for barcode in ("B00001", "CD-B00001", "B00002"):
        assert (await system.async_checkout("S0001", barcode)).ok
    assert (await system.async_checkout("S0002", "B00003")).ok
    loans = await system.async_charged_items("s0001")
    assert loans == item_messages.ChargedItems(count=3, items=("B00001", "CD-B00001", "B00002"))
    assert (await system.async_checkin("B00001", return_date=NOW)).ok
    loans = await system.async_charged_items("S0001")
    assert loans == item_messages.ChargedItems(count=2, items=("CD-B00001", "B00002"))
    other = await system.async_charged_items("S0002")
    assert other == item_messages.ChargedItems(count=1, items=("B00003",))
    assert await system.async_charged_items("NOBODY") is None
    # The 64 a login reads still reads as before.
    assert (await system.async_authenticate("S0001", PASSWORD)).name == "Åse Ødegård"


async def test_a_64_lists_the_charged_items_only_when_its_summary_asks(
    system: Sip2PatronSystem, ils: IlsServer
) -> None:
    for barcode in ("B00001", "B00002", "B00003"):
        assert (await system.async_checkout("S0001", barcode)).ok
    connection = system._connection

    async def ask(**options: Any) -> Message:
        request = codec.patron_information("NTNU", "S0001", NOW, **options)
        return await connection.request(request, codec.PATRON_INFORMATION_RESPONSE)

    plain = await ask()
    assert plain.fixed[43:47] == "0003"  # charged items count
    assert plain.get("AU") is None
    ranged = await ask(summary=item_messages.SUMMARY_CHARGED_ITEMS, items=(2, 3))
    assert item_messages.read_charged_items(ranged) == item_messages.ChargedItems(
        count=3, items=("B00002", "B00003")
    )
    holds = await ask(summary=0)  # hold items: none, and no AU
    assert holds.get("AU") is None


# --- Character sets ----------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", SIP2_ENCODINGS)
async def test_a_title_in_the_sites_character_set(encoding: str) -> None:
    async with new_ils(encoding=encoding) as ils:
        system = new_system(ils)
        try:
            item = await system.async_item_information("N00001")
            assert item is not None
            assert item.title == NORDIC_TITLE
            answer = await system.async_checkout("S0001", "N00001")
            assert answer.ok
            assert answer.title == NORDIC_TITLE
            back = await system.async_checkin("N00001", return_date=NOW)
            assert back.title == NORDIC_TITLE
            chinese = await system.async_item_information("Z00001")
            assert chinese is not None
            # UTF-8 carries it; a code page ILS sends what it lacks as "?", as a real one does.
            assert chinese.title == (CHINESE_TITLE if encoding == "utf-8" else "???")
        finally:
            await system.async_close()


async def test_a_chinese_title_survives_in_utf8(system: Sip2PatronSystem, ils: IlsServer) -> None:
    assert ils.encoding == "utf-8"
    answer = await system.async_checkout("S0001", "Z00001")
    assert answer.ok
    assert answer.title == CHINESE_TITLE
    assert (await system.async_charged_items("S0001")) == item_messages.ChargedItems(
        count=1, items=("Z00001",)
    )


async def test_a_barcode_the_character_set_lacks_is_never_sent() -> None:
    async with new_ils(encoding="cp850") as ils:
        system = new_system(ils)
        try:
            assert await system.async_item_information("圖00001") is None
            assert await refused(system.async_checkout("S0001", "圖00001")) is (
                Reason.INVALID_VALUE
            )
        finally:
            await system.async_close()
        assert "17" not in ils.counts
        assert "11" not in ils.counts


# --- Faults: checksums, unreadable answers, no answer ------------------------------------------

Operation = Callable[[Sip2PatronSystem], Awaitable[Any]]
OPERATIONS: dict[str, Operation] = {
    "17": lambda system: system.async_item_information("B00001"),
    "11": lambda system: system.async_checkout("S0001", "B00001"),
    "09": lambda system: system.async_checkin("B00001", return_date=NOW),
}


@pytest.mark.parametrize("command", sorted(OPERATIONS))
async def test_a_bad_checksum_from_the_ils_is_detected(
    system: Sip2PatronSystem, ils: IlsServer, command: str
) -> None:
    await system.async_test()
    ils.fault = "bad_checksum"
    assert await refused(OPERATIONS[command](system)) is SIP2_PROTOCOL_ERROR
    assert ils.counts["97"] == 1  # asked again once, then given up
    assert ils.counts[command] == 1
    ils.fault = None
    await OPERATIONS[command](system)  # a fresh session answers
    assert ils.counts[command] == 2


@pytest.mark.parametrize("command", sorted(OPERATIONS))
async def test_a_bad_checksum_once_is_asked_again(
    system: Sip2PatronSystem, ils: IlsServer, command: str
) -> None:
    await system.async_test()
    ils.fault = "bad_checksum_once"
    answer = await OPERATIONS[command](system)
    assert answer is not None
    assert answer.barcode == "B00001"
    assert ils.counts["97"] == 1
    assert ils.counts[command] == 1  # one request: the 97 brought the answer again
    assert ils.connections == 1


async def test_a_bad_checksum_to_the_ils_is_sent_again(
    system: Sip2PatronSystem, ils: IlsServer
) -> None:
    await system.async_test()
    ils.fault = "request_checksum_once"
    assert (await system.async_checkout("S0001", "B00001")).ok
    assert ils.counts["11"] == 1  # the ILS read one good 11: one loan
    assert ils.loans_of("S0001") == ["B00001"]


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ("truncated", SIP2_PROTOCOL_ERROR),
        ("garbage", SIP2_PROTOCOL_ERROR),
        ("huge", SIP2_PROTOCOL_ERROR),
        ("silent", Reason.PATRON_SYSTEM_UNAVAILABLE),
        ("reset", Reason.PATRON_SYSTEM_UNAVAILABLE),
    ],
)
@pytest.mark.parametrize("command", sorted(OPERATIONS))
async def test_an_answer_that_cannot_be_read_or_never_comes(
    system: Sip2PatronSystem, ils: IlsServer, fault: str, reason: Reason, command: str
) -> None:
    await system.async_test()
    ils.fault = fault
    start = time.monotonic()
    assert await refused(OPERATIONS[command](system)) is reason
    assert time.monotonic() - start < 2.5  # the timeout, never a hang
    ils.fault = None
    await OPERATIONS[command](system)


async def test_circulation_needs_the_terminals_sip_login(ils: IlsServer) -> None:
    # This ILS hangs up on a terminal that has not logged in: no answer, an outage.
    system = new_system(ils, login_user=None, login_password=None)
    try:
        assert await refused(system.async_item_information("B00001")) is (
            Reason.PATRON_SYSTEM_UNAVAILABLE
        )
    finally:
        await system.async_close()
    ils.reject_login = True
    system = new_system(ils)
    try:
        assert await refused(system.async_checkout("S0001", "B00001")) is (
            Reason.PATRON_SYSTEM_UNAVAILABLE
        )
        assert system.login_rejected
    finally:
        await system.async_close()
    assert ils.loans == {}


@pytest.mark.parametrize("error_detection", [True, False])
async def test_circulation_with_and_without_error_detection(
    ils: IlsServer, error_detection: bool
) -> None:
    system = new_system(ils, error_detection=error_detection)
    try:
        assert (await system.async_item_information("B00001")) is not None
        assert (await system.async_checkout("S0001", "B00001")).ok
        assert (await system.async_checkin("B00001", return_date=NOW)).ok
    finally:
        await system.async_close()
    assert ils.checksummed == (4 if error_detection else 0)  # 93, 17, 11, 09


async def test_circulation_logs_no_password_and_no_whole_patron_id(
    system: Sip2PatronSystem, ils: IlsServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "Pa55-word-never-logged"
    await system.async_test()
    for fault in ("garbage", "bad_checksum", "reset"):
        ils.fault = fault
        with pytest.raises(Refused):
            await system.async_checkout("S0001", "B00001", password=secret)
    ils.fault = None
    assert caplog.records
    for forbidden in (secret, LOGIN_PASSWORD, "S0001"):
        assert forbidden not in caplog.text


# --- Reading answers the loopback ILS never sends -----------------------------------------------


def answer_18(fixed_status: str, *fields: tuple[str, str]) -> Message:
    return Message(
        codec.ITEM_INFORMATION_RESPONSE, fixed_status + "0201" + codec.sip_date(NOW), fields
    )


def test_an_unknown_item_is_status_other_without_a_title() -> None:
    read = item_messages.read_item_information
    assert read(answer_18("01", ("AB", "X1"), ("AJ", "")), "X1") is None
    assert read(answer_18("01", ("AB", "X1"), ("AF", "Item not found")), "X1") is None
    # Status other with a title is a known item whose status is other.
    known = read(answer_18("01", ("AB", "X1"), ("AJ", "Odd item")), "X1")
    assert known is not None
    assert known.circulation_status == item_messages.CIRCULATION_OTHER
    # Missing (13) without a title is still an item the ILS knows.
    missing = read(answer_18("13", ("AB", "X1")), "X1")
    assert missing is not None
    assert missing.title == ""


@pytest.mark.parametrize(
    "answer",
    [
        answer_18("  ", ("AB", "B1"), ("AJ", "Book")),  # no circulation status
        answer_18("0x", ("AB", "B1"), ("AJ", "Book")),
        answer_18("03", ("AB", "B2"), ("AJ", "Book")),  # about another item
    ],
)
def test_an_item_information_that_cannot_be_read(answer: Message) -> None:
    with pytest.raises(Sip2Error):
        item_messages.read_item_information(answer, "B1")


def test_an_item_answer_may_echo_the_barcode_in_another_case_or_not_at_all() -> None:
    item = item_messages.read_item_information(answer_18("03", ("AB", "b1"), ("AJ", "B")), "B1")
    assert item is not None
    assert item.barcode == "B1"
    item = item_messages.read_item_information(answer_18("03", ("AJ", "B")), "B1")
    assert item is not None


@pytest.mark.parametrize("ok", ["Y", " ", "2"])
def test_a_checkout_or_checkin_without_a_readable_ok_is_unreadable(ok: str) -> None:
    date_part = codec.sip_date(NOW)
    with pytest.raises(Sip2Error):
        item_messages.read_checkout(Message(codec.CHECKOUT_RESPONSE, ok + "NNY" + date_part), "B1")
    with pytest.raises(Sip2Error):
        item_messages.read_checkin(Message(codec.CHECKIN_RESPONSE, ok + "YNN" + date_part), "B1")


def test_a_checkout_answer_about_another_item_is_unreadable() -> None:
    answer = Message(codec.CHECKOUT_RESPONSE, "1NNY" + codec.sip_date(NOW), (("AB", "B2"),))
    with pytest.raises(Sip2Error):
        item_messages.read_checkout(answer, "B1")


def test_a_refused_checkout_is_an_answer() -> None:
    answer = item_messages.read_checkout(
        Message(
            codec.CHECKOUT_RESPONSE,
            "0NUN" + codec.sip_date(NOW),
            (("AB", "B1"), ("AH", ""), ("AF", "Patron has fines")),
        ),
        "B1",
    )
    assert not answer.ok
    assert answer.magnetic_media is None  # U: unknown
    assert answer.desensitize is False
    assert answer.due is None
    assert answer.screen_message == "Patron has fines"


@pytest.mark.parametrize(
    ("due", "day", "moment"),
    [
        ("20260413    235959", date(2026, 4, 13), datetime(2026, 4, 13, 23, 59, 59)),
        ("20260413   Z215959", date(2026, 4, 13), datetime(2026, 4, 13, 21, 59, 59, tzinfo=UTC)),
        ("20260413", date(2026, 4, 13), None),  # the day alone
        ("13.04.2026", None, None),  # free text: shown as sent
        ("20261341    000000", None, None),
        ("20260413 CET 235959", date(2026, 4, 13), None),  # an odd zone: the day still reads
    ],
)
def test_due_dates_as_the_ils_sends_them(
    due: str, day: date | None, moment: datetime | None
) -> None:
    answer = item_messages.read_checkout(
        Message(codec.CHECKOUT_RESPONSE, "1NNY" + codec.sip_date(NOW), (("AH", due),)), "B1"
    )
    assert answer.due == due
    assert answer.due_date == day
    assert answer.due_at == moment


@pytest.mark.parametrize(
    ("properties", "library_use_only", "accompanies"),
    [
        (None, False, None),
        ("", False, None),
        ("library_use_only", True, None),
        ("LIBRARY_USE_ONLY", True, None),
        ("accompanies=B00001", False, "B00001"),
        ("library_use_only;accompanies=B00001", True, "B00001"),
        ("vendor=x, library_use_only , accompanies=B7", True, "B7"),
        ("accompanies=", False, None),
        ("not_library_use_only", False, None),
    ],
)
def test_item_properties(
    properties: str | None, library_use_only: bool, accompanies: str | None
) -> None:
    item = ItemInfo(barcode="B1", title="T", circulation_status=3, properties=properties)
    assert item.library_use_only is library_use_only
    assert item.accompanies == accompanies


def test_item_properties_as_the_loopback_ils_writes_them() -> None:
    assert item_messages.item_properties() == ""
    written = item_messages.item_properties(library_use_only=True, accompanies="B00001")
    assert written == "library_use_only;accompanies=B00001"
    assert item_messages.parse_properties(written) == {
        "library_use_only": "",
        "accompanies": "B00001",
    }


def test_circulation_requests_on_the_wire() -> None:
    line = codec.encode(
        item_messages.checkout("NTNU", "S0001", "B00001", NOW, password="pw", no_block=True),
        error_detection=True,
    )
    assert line.startswith(b"11NY20260314    092653" + b" " * 18 + b"AONTNU|AAS0001|AB")
    assert b"ADpw|" in line
    line = codec.encode(item_messages.checkin("NTNU", "B00001", NOW, NOW, location="Box 1"))
    assert line == b"09N20260314    09265320260314    092653APBox 1|AONTNU|ABB00001|AC|\r"
    line = codec.encode(item_messages.item_information("NTNU", "B00001", NOW))
    assert line == b"1720260314    092653AONTNU|ABB00001|AC|\r"
    request = codec.patron_information("NTNU", "S0001", NOW, summary=2, items=(1, 200))
    assert request.fixed.endswith("  Y       ")
    assert request.fields[-2:] == (("BP", "1"), ("BQ", "200"))


# --- The loopback ILS ----------------------------------------------------------------------------


def test_demo_items() -> None:
    items = demo_items()
    barcodes = [item["barcode"] for item in items]
    assert len(barcodes) == len(set(barcodes)) == 540
    assert barcodes[0] == "B00001"
    assert items[0]["title"] == "Book 00001"
    assert "B00500" in barcodes
    assert "B00501" not in barcodes
    references = [item for item in items if item.get("library_use_only")]
    assert [item["barcode"] for item in references] == [f"R{n:05d}" for n in range(1, 21)]
    cds = {item["barcode"]: item["accompanies"] for item in items if item.get("accompanies")}
    assert cds == {f"CD-B{n:05d}": f"B{n:05d}" for n in range(1, 21)}
    assert set(cds.values()) <= set(barcodes)


async def test_the_ils_serves_the_demo_catalogue_unless_told() -> None:
    async with IlsServer(PATRONS) as ils:
        assert ils.item("b00500") is not None
        assert ils.item("R00020") is not None
        assert ils.item("CD-B00020") is not None
        assert ils.item("N00001") is None
    async with IlsServer(PATRONS, items=[{"barcode": "Q1", "title": "Only"}]) as ils:
        assert ils.item("B00001") is None
        assert ils.item("q1") == {"barcode": "Q1", "title": "Only"}
        assert ils.loans_of("S0001") == []
