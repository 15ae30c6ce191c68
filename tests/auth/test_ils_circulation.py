"""Circulation over SIP2 (17/18, 11/12, 09/10) through the ILS patron system, on 127.0.0.1.

scripts/lib/ils.py is the ILS: its demo catalogue (books, references for library use only,
CDs that accompany books), its loans, and its faults. pysip2's server (tests/sip2/pysip2_ils.py)
checks the same circulation in every character set with someone else's codec. The readers and
builders of the sip2 package are tested on their own in tests/sip2.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, date, datetime, timedelta, timezone
import logging
import time
from typing import Any

from ils import IlsServer
from ils_records import LOAN_DAYS, LOCATION, demo_items
import pytest

from custom_components.ntnu_library.auth.ils import SIP2_PROTOCOL_ERROR, IlsConfig, IlsPatronSystem
from custom_components.ntnu_library.core.errors import Reason, Refused
from custom_components.ntnu_library.sip2 import SIP2_ENCODINGS, item_messages
from custom_components.ntnu_library.sip2.item_messages import (
    CheckinAnswer,
    CheckoutAnswer,
    ItemInfo,
)

from ..sip2.pysip2_ils import PySip2Ils

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


def make_config(port: int, **overrides: Any) -> IlsConfig:
    options: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "institution": "NTNU",
        "login_user": LOGIN_USER,
        "login_password": LOGIN_PASSWORD,
        "timeout": 0.5,
    }
    options.update(overrides)
    return IlsConfig(**options)


def new_ils(kind: str = "ils.py", **options: Any) -> IlsServer | PySip2Ils:
    server = PySip2Ils if kind == "pysip2" else IlsServer
    return server(
        PATRONS,
        items=ITEMS,
        now=lambda: NOW,
        login_user=LOGIN_USER,
        login_password=LOGIN_PASSWORD,
        **options,
    )


def new_system(ils: IlsServer | PySip2Ils, **overrides: Any) -> IlsPatronSystem:
    config = make_config(ils.port, **{"encoding": ils.encoding, **overrides})
    return IlsPatronSystem(config, now=lambda: NOW)


@pytest.fixture
async def ils() -> AsyncIterator[IlsServer]:
    async with IlsServer(
        PATRONS,
        items=ITEMS,
        now=lambda: NOW,
        login_user=LOGIN_USER,
        login_password=LOGIN_PASSWORD,
    ) as server:
        yield server


@pytest.fixture
async def system(ils: IlsServer) -> AsyncIterator[IlsPatronSystem]:
    client = new_system(ils)
    yield client
    await client.async_close()


async def refused(awaitable: Awaitable[Any]) -> Reason:
    with pytest.raises(Refused) as caught:
        await awaitable
    return caught.value.reason


# --- Item Information (17/18) ------------------------------------------------------------------


async def test_item_information_of_a_book(system: IlsPatronSystem, ils: IlsServer) -> None:
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


async def test_item_information_of_a_reference(system: IlsPatronSystem) -> None:
    item = await system.async_item_information("R00001")
    assert item is not None
    assert item.title == "Reference 00001"
    assert item.properties == "library_use_only"
    assert item.library_use_only
    assert item.accompanies is None


async def test_item_information_of_accompanying_material(system: IlsPatronSystem) -> None:
    item = await system.async_item_information("CD-B00001")
    assert item is not None
    assert item.title == "CD for Book 00001"
    assert item.media_type == item_messages.MEDIA_CD
    assert item.properties == "accompanies=B00001"
    assert item.accompanies == "B00001"
    assert not item.library_use_only


async def test_item_information_of_an_unknown_item(system: IlsPatronSystem, ils: IlsServer) -> None:
    assert await system.async_item_information("X99999") is None
    assert ils.counts["17"] == 1  # the ILS was asked, and said it does not know the item


async def test_item_information_of_an_item_on_loan(system: IlsPatronSystem, ils: IlsServer) -> None:
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
    system: IlsPatronSystem, ils: IlsServer, barcode: Any
) -> None:
    assert await system.async_item_information(barcode) is None
    assert "17" not in ils.counts  # nothing was sent


# --- Checkout (11/12) --------------------------------------------------------------------------


async def test_checkout(system: IlsPatronSystem, ils: IlsServer) -> None:
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
    system: IlsPatronSystem, ils: IlsServer
) -> None:
    answer = await system.async_checkout("C-S0001", "B00003", password=PASSWORD)
    assert answer.ok
    assert ils.loans_of("S0001") == ["B00003"]
    wrong = await system.async_checkout("S0001", "B00004", password="not-it")
    assert not wrong.ok
    assert wrong.screen_message == "Invalid patron password"
    assert ils.loans_of("S0001") == ["B00003"]


async def test_checkout_of_a_library_use_only_item_is_refused(
    system: IlsPatronSystem, ils: IlsServer
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
    system: IlsPatronSystem, ils: IlsServer
) -> None:
    assert (await system.async_checkout("S0002", "B00001")).ok
    answer = await system.async_checkout("S0001", "B00001")
    assert not answer.ok
    assert answer.screen_message == "Item is on loan to another patron"
    assert ils.loans_of("S0001") == []
    assert ils.loans_of("S0002") == ["B00001"]


async def test_checkout_of_an_unknown_item_is_refused(
    system: IlsPatronSystem, ils: IlsServer
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
    system: IlsPatronSystem, ils: IlsServer, patron_id: str, message: str
) -> None:
    answer = await system.async_checkout(patron_id, "B00001")
    assert not answer.ok
    assert answer.screen_message == message
    assert ils.loans == {}


async def test_a_flag_that_does_not_stop_borrowing_does_not(system: IlsPatronSystem) -> None:
    assert (await system.async_checkout("H0001", "B00001")).ok  # hold privileges denied only


async def test_no_block_lends_to_a_blocked_patron_but_to_no_unknown_one(
    system: IlsPatronSystem, ils: IlsServer
) -> None:
    assert (await system.async_checkout("P0001", "B00001", no_block=True)).ok
    assert ils.loans_of("P0001") == ["B00001"]
    assert not (await system.async_checkout("NOBODY", "B00002", no_block=True)).ok


async def test_a_block_written_by_a_site_refuses_a_checkout(
    system: IlsPatronSystem, ils: IlsServer
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
    system: IlsPatronSystem, ils: IlsServer
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
    system: IlsPatronSystem,
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


async def test_checkin(system: IlsPatronSystem, ils: IlsServer) -> None:
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


async def test_checkin_with_a_local_return_date(system: IlsPatronSystem, ils: IlsServer) -> None:
    assert (await system.async_checkout("S0001", "B00001")).ok
    oslo = timezone(timedelta(hours=1))
    await system.async_checkin("B00001", return_date=datetime(2026, 3, 20, 9, 0, tzinfo=oslo))
    await system.async_checkin("B00002", return_date=datetime(2026, 3, 20, 9, 0))
    assert ils.checkins == [
        ("B00001", "20260320   Z080000", ""),
        ("B00002", "20260320    090000", ""),  # naive: local time, a blank zone
    ]


async def test_checkin_of_an_item_not_on_loan_is_refused(
    system: IlsPatronSystem, ils: IlsServer
) -> None:
    answer = await system.async_checkin("B00001", return_date=NOW)
    assert not answer.ok
    assert not answer.alert
    assert answer.title == "Book 00001"
    assert answer.screen_message == "Item was not on loan"
    assert ils.counts["09"] == 1


async def test_checkin_of_an_unknown_item_is_refused(system: IlsPatronSystem) -> None:
    answer = await system.async_checkin("X99999", return_date=NOW)
    assert not answer.ok
    assert answer.alert
    assert answer.title is None
    assert answer.screen_message == "Item not found"


async def test_a_checkin_leaves_the_other_loans(system: IlsPatronSystem, ils: IlsServer) -> None:
    for barcode in ("B00001", "CD-B00001", "B00002"):
        assert (await system.async_checkout("S0001", barcode)).ok
    assert (await system.async_checkin("CD-B00001", return_date=NOW)).ok
    assert ils.loans_of("S0001") == ["B00001", "B00002"]


@pytest.mark.parametrize(
    ("barcode", "location"),
    [("", ""), ("B0|0001", ""), ("B00001", "Box|1"), ("B00001", "L" * 65)],
)
async def test_a_checkin_that_cannot_be_sent_is_refused_without_asking(
    system: IlsPatronSystem, ils: IlsServer, barcode: str, location: str
) -> None:
    reason = await refused(system.async_checkin(barcode, return_date=NOW, location=location))
    assert reason is Reason.INVALID_VALUE
    assert "09" not in ils.counts


# --- Patron information counts the loans -------------------------------------------------------


async def test_patron_information_counts_the_loans(system: IlsPatronSystem, ils: IlsServer) -> None:
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


# --- Character sets ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["ils.py", "pysip2"])
@pytest.mark.parametrize("encoding", SIP2_ENCODINGS)
async def test_a_title_in_the_sites_character_set(kind: str, encoding: str) -> None:
    # pysip2 checks every fixed field of a request: a Checkout whose nb due date was blank made
    # it hang up, and the site took the ILS for down instead of reading its answer.
    async with new_ils(kind, encoding=encoding) as ils:
        system = new_system(ils)
        try:
            item = await system.async_item_information("N00001")
            assert item is not None
            assert item.title == NORDIC_TITLE
            assert not item.on_loan
            answer = await system.async_checkout("S0001", "N00001")
            assert answer.ok
            assert answer.title == NORDIC_TITLE
            assert answer.due_at == DUE
            item = await system.async_item_information("N00001")
            assert item is not None
            assert item.on_loan
            assert item.due_date == DUE.date()
            # A refusal is the ILS's answer, in the same session.
            other = await system.async_checkout("S0002", "N00001")
            assert not other.ok
            assert other.screen_message == "Item is on loan to another patron"
            assert other.title == NORDIC_TITLE
            refused_here = await system.async_checkout("P0001", "B00001", password=PASSWORD)
            assert not refused_here.ok
            assert refused_here.screen_message == "Patron blocked: borrowing is not allowed"
            assert (await system.async_charged_items("S0001")) == item_messages.ChargedItems(
                count=1, items=("N00001",)
            )
            back = await system.async_checkin("N00001", return_date=NOW, location="Box 1")
            assert back.ok
            assert back.title == NORDIC_TITLE
            again = await system.async_checkin("N00001", return_date=NOW)
            assert not again.ok
            assert again.screen_message == "Item was not on loan"
            chinese = await system.async_item_information("Z00001")
            assert chinese is not None
            # UTF-8 carries it; a code page ILS sends what it lacks as "?", as a real one does.
            assert chinese.title == (CHINESE_TITLE if encoding == "utf-8" else "???")
        finally:
            await system.async_close()
        assert ils.loans == {}
        assert ils.checkins == [
            ("N00001", "20260314    092653", "Box 1"),
            ("N00001", "20260314    092653", ""),
        ]
        assert ils.connections == 1  # every answer read, none an outage
        assert ils.counts["11"] == 3


async def test_a_chinese_title_survives_in_utf8(system: IlsPatronSystem, ils: IlsServer) -> None:
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

Operation = Callable[[IlsPatronSystem], Awaitable[Any]]
OPERATIONS: dict[str, Operation] = {
    "17": lambda system: system.async_item_information("B00001"),
    "11": lambda system: system.async_checkout("S0001", "B00001"),
    "09": lambda system: system.async_checkin("B00001", return_date=NOW),
}


@pytest.mark.parametrize("command", sorted(OPERATIONS))
async def test_a_bad_checksum_from_the_ils_is_detected(
    system: IlsPatronSystem, ils: IlsServer, command: str
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
    system: IlsPatronSystem, ils: IlsServer, command: str
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
    system: IlsPatronSystem, ils: IlsServer
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
    system: IlsPatronSystem, ils: IlsServer, fault: str, reason: Reason, command: str
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
    system: IlsPatronSystem, ils: IlsServer, caplog: pytest.LogCaptureFixture
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
