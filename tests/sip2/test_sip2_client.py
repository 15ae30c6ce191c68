"""The sip2 package's client against real SIP2 servers on 127.0.0.1: answers as dataclasses.

Two servers: scripts/lib/ils.py (this package's codec, every fault) and pysip2's server (someone
else's codec and its checks of every fixed field; see pysip2_ils.py). The client knows nothing
of what the caller makes of an answer: which flags refuse a patron, what a patron type means.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
import time
from typing import Any

from ils import IlsServer
from ils_records import LOAN_DAYS, LOCATION, demo_items
import pytest

from custom_components.ntnu_library.sip2 import (
    BLOCK_FLAGS,
    MAX_IDENTIFIER_LENGTH,
    PATRON_STATUS_FLAGS,
    SIP2_ENCODINGS,
    ChargedItems,
    CheckinAnswer,
    CheckoutAnswer,
    ItemInfo,
    Message,
    PatronInformation,
    Sip2ChecksumError,
    Sip2Client,
    Sip2Config,
    Sip2ConfigError,
    Sip2Error,
    Sip2LoginRejected,
    Sip2ProtocolError,
    Sip2Unavailable,
    Sip2ValueError,
    blocked_card_message,
    codec,
    item_messages,
    status_flag_positions,
)

from .pysip2_ils import PySip2Ils

# The HA test plugin blocks sockets; connections stay limited to 127.0.0.1.
pytestmark = pytest.mark.usefixtures("socket_enabled")

PASSWORD = "ntnu-demo"
LOGIN_USER = "door-terminal"
LOGIN_PASSWORD = "s3cret-terminal-login"
NOW = datetime(2026, 3, 14, 9, 26, 53)
DUE = datetime(2026, 4, 13, 23, 59, 59)  # LOAN_DAYS later, at the end of the day
NAME = "Åse Ødegård"  # in every character set of SIP2_ENCODINGS
CHINESE_TITLE = "圖書館"  # UTF-8 only

PATRONS: list[dict[str, Any]] = [
    {
        "id": "S0001",
        "name": NAME,
        "password": PASSWORD,
        "card": "C-S0001",
        "patron_type": "UG",
        "expires": date(2027, 1, 31),
    },
    {"id": "S0002", "name": "Other", "password": PASSWORD},
    {"id": "M0001", "name": "Many", "password": PASSWORD, "status": [0, 4, 11]},
    {"id": "V0001", "name": "Invalid", "password": PASSWORD, "valid": False},
]
ITEMS: list[dict[str, Any]] = [
    *demo_items(),
    {"barcode": "N00001", "title": NAME},
    {"barcode": "Z00001", "title": CHINESE_TITLE},
]
Server = IlsServer | PySip2Ils


def new_server(kind: str, **options: Any) -> Server:
    server = PySip2Ils if kind == "pysip2" else IlsServer
    return server(
        PATRONS,
        items=ITEMS,
        now=lambda: NOW,
        login_user=LOGIN_USER,
        login_password=LOGIN_PASSWORD,
        **options,
    )


def new_client(server: Server, **overrides: Any) -> Sip2Client:
    options: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": server.port,
        "institution": "NTNU",
        "login_user": LOGIN_USER,
        "login_password": LOGIN_PASSWORD,
        "timeout": 0.5,
        "encoding": server.encoding,
    }
    return Sip2Client(Sip2Config(**(options | overrides)), now=lambda: NOW)


@pytest.fixture(params=["ils.py", "pysip2"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=SIP2_ENCODINGS)
def encoding(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def server(kind: str, encoding: str) -> AsyncIterator[Server]:
    async with new_server(kind, encoding=encoding) as running:
        yield running


@pytest.fixture
async def client(server: Server) -> AsyncIterator[Sip2Client]:
    terminal = new_client(server)
    yield terminal
    await terminal.close()


def test_every_error_is_a_sip2_error() -> None:
    for error in (Sip2ValueError, Sip2ProtocolError, Sip2Unavailable, Sip2LoginRejected):
        assert issubclass(error, Sip2Error)
    assert issubclass(Sip2ChecksumError, Sip2ProtocolError)
    assert issubclass(Sip2ValueError, ValueError)
    assert issubclass(Sip2ConfigError, ValueError)
    assert issubclass(Sip2ConfigError, Sip2Error)


def test_config_names_the_setting_that_cannot_work() -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"port": 0}, "port"),
        ({"timeout": 0}, "timeout"),
        ({"encoding": "utf-16"}, "encoding"),
        ({"encoding": "cp850", "login_password": "密碼"}, "login_password"),
        ({"terminal_password": "a|b"}, "terminal_password"),
    ]
    for overrides, field in cases:
        with pytest.raises(Sip2ConfigError) as caught:
            Sip2Config(**({"host": "ils", "port": 1} | overrides))
        assert caught.value.field == field
    assert "s3cret" not in repr(Sip2Config(host="ils", port=1, login_password="s3cret"))


def test_patron_status_flags() -> None:
    assert len(PATRON_STATUS_FLAGS) == 14
    assert status_flag_positions(["card_reported_lost", 12]) == {4, 12}
    assert status_flag_positions("charge_privileges_denied") == {0}
    assert status_flag_positions(()) == frozenset()
    for wrong in ({"no_such_flag"}, {14}, {-1}, {True}):
        with pytest.raises(ValueError):
            status_flag_positions(wrong)
    assert {0, 4} == BLOCK_FLAGS


def test_blocked_card_message() -> None:
    assert blocked_card_message("a | b\r\nc\x00") == "a b c"
    assert blocked_card_message("x" * 59 + " y") == "x" * 59
    assert blocked_card_message("密碼", "latin-1") == "??"
    assert blocked_card_message("  ") == ""
    assert blocked_card_message(None) == ""  # type: ignore[arg-type]


# --- Status and patrons ------------------------------------------------------------------------


async def test_check(client: Sip2Client, server: Server) -> None:
    status = await client.check()
    assert status.online
    assert status.checkout_ok
    assert status.checkin_ok
    assert status.protocol_version == "2.00"
    assert server.counts == {"93": 1, "99": 1}


async def test_patron_information(client: Sip2Client, server: Server) -> None:
    patron = await client.patron_information("S0001", password=PASSWORD)
    assert isinstance(patron, PatronInformation)
    assert patron.valid_patron is True
    assert patron.valid_password is True
    assert patron.patron_id == "S0001"
    assert patron.name == NAME
    assert patron.flags == frozenset()
    assert patron.charged_items_count == 0
    if isinstance(server, IlsServer):  # vendor fields: pysip2 sends SIP2 2.00 fields only
        assert patron.get("PC") == "UG"
        assert patron.get("ZC") == "C-S0001"
        assert patron.expires == date(2027, 1, 31)
    else:
        assert patron.expires is None
    wrong = await client.patron_information("S0001", password="not-it")
    assert wrong.valid_password is False
    lookup = await client.patron_information("S0001")
    assert lookup.valid_password is None  # no password asked, none answered
    flagged = await client.patron_information("M0001")
    assert flagged.flags == {0, 4, 11}
    assert "excessive_outstanding_fees" in flagged.flag_names
    assert flagged.blocked
    unknown = await client.patron_information("NOBODY")
    assert unknown.valid_patron is False
    assert server.connections == 1


async def test_block_patron(client: Sip2Client, server: Server) -> None:
    status = await client.block_patron("S0001", "Left | the door open")
    assert status.valid_patron is True
    assert status.blocked
    assert server.blocks == [("S0001", "Left the door open", False)]
    after = await client.patron_information("S0001")
    assert after.blocked
    unknown = await client.block_patron("NOBODY", "x", card_retained=True)
    assert unknown.valid_patron is False
    assert server.blocks[-1] == ("NOBODY", "x", True)


# --- Circulation -------------------------------------------------------------------------------


async def test_circulation_in_every_character_set(client: Sip2Client, server: Server) -> None:
    """Item information, a loan, a refused loan and a return, each read as sent."""
    assert await client.item_information("X99999") is None
    item = await client.item_information(" N00001 ")
    assert item == ItemInfo(
        barcode="N00001",
        title=NAME,
        circulation_status=item_messages.CIRCULATION_AVAILABLE,
        media_type=item_messages.MEDIA_BOOK,
        permanent_location=LOCATION,
    )
    lent = await client.checkout("S0001", "N00001", password=PASSWORD)
    assert lent == CheckoutAnswer(
        ok=True,
        renewal_ok=False,
        magnetic_media=False,
        desensitize=True,
        barcode="N00001",
        title=NAME,
        due="20260413    235959",
    )
    assert (
        lent.due_at == DUE == NOW.replace(hour=23, minute=59, second=59) + timedelta(days=LOAN_DAYS)
    )
    on_loan = await client.item_information("N00001")
    assert on_loan is not None
    assert on_loan.on_loan
    assert on_loan.due_at == DUE
    refused = await client.checkout("S0002", "N00001")
    assert not refused.ok
    assert refused.screen_message == "Item is on loan to another patron"
    assert refused.due is None
    blocked = await client.checkout("M0001", "B00001")
    assert blocked.screen_message == "Patron blocked: borrowing is not allowed"
    assert await client.charged_items("S0001") == ChargedItems(count=1, items=("N00001",))
    assert await client.charged_items("NOBODY") is None
    back = await client.checkin("N00001", return_date=datetime(2026, 3, 20, 8, tzinfo=UTC))
    assert back == CheckinAnswer(
        ok=True,
        resensitize=True,
        magnetic_media=False,
        alert=False,
        barcode="N00001",
        title=NAME,
        permanent_location=LOCATION,
    )
    not_lent = await client.checkin("N00001", return_date=NOW)
    assert not not_lent.ok
    assert not_lent.screen_message == "Item was not on loan"
    chinese = await client.item_information("Z00001")
    assert chinese is not None
    assert chinese.title == (CHINESE_TITLE if server.encoding == "utf-8" else "???")
    assert server.checkins[0] == ("N00001", "20260320   Z080000", "")
    assert server.loans == {}
    assert server.connections == 1  # every request answered on one session


@pytest.mark.parametrize("encoding", ["cp850"])
async def test_a_checkout_is_answered_not_hung_up_on(client: Sip2Client, server: Server) -> None:
    # The nb due date was 18 blanks; pysip2 reads it as a date, found none, and hung up: the
    # terminal saw the ACS as unavailable instead of reading its answer.
    answer = await client.checkout("S0001", "B00001", no_block=False)
    assert answer.ok
    assert (await client.checkout("S0001", "R00001")).screen_message == (
        "Library use only: this item cannot be borrowed"
    )
    assert server.counts["11"] == 2
    assert server.connections == 1


@pytest.mark.parametrize("kind", ["ils.py"])
@pytest.mark.parametrize("encoding", ["utf-8"])
async def test_a_64_lists_the_charged_items_only_when_its_summary_asks(
    client: Sip2Client,
) -> None:
    for barcode in ("B00001", "B00002", "B00003"):
        assert (await client.checkout("S0001", barcode)).ok

    async def ask(**options: Any) -> Message:
        request = codec.patron_information("NTNU", "S0001", NOW, **options)
        return await client.request(request, codec.PATRON_INFORMATION_RESPONSE)

    plain = await ask()
    assert plain.fixed[43:47] == "0003"  # charged items count
    assert plain.get("AU") is None
    ranged = await ask(summary=item_messages.SUMMARY_CHARGED_ITEMS, items=(2, 3))
    assert item_messages.read_charged_items(ranged) == ChargedItems(
        count=3, items=("B00002", "B00003")
    )
    holds = await ask(summary=0)  # hold items: none, and no AU
    assert holds.get("AU") is None
    assert await client.charged_items("S0001", limit=2) == ChargedItems(
        count=3, items=("B00001", "B00002")
    )


# --- What cannot be sent, and what cannot be read ----------------------------------------------


@pytest.mark.parametrize("kind", ["ils.py"])
@pytest.mark.parametrize("encoding", ["cp850"])
async def test_a_value_that_cannot_be_sent_is_named_and_never_sent(
    client: Sip2Client, server: Server
) -> None:
    cases: list[tuple[Any, str]] = [
        (client.patron_information(""), "patron_id"),
        (client.patron_information("S" * (MAX_IDENTIFIER_LENGTH + 1)), "patron_id"),
        (client.patron_information("S0001|ADx"), "patron_id"),
        (client.patron_information("S0001", password=""), "password"),
        (client.patron_information("S0001", password="密碼"), "password"),
        (client.charged_items("S0001\r63"), "patron_id"),
        (client.block_patron("", "x"), "patron_id"),
        (client.item_information("  "), "barcode"),
        (client.item_information(None), "barcode"),  # type: ignore[arg-type]
        (client.checkout("S0001", "B00001", password="a\x00"), "password"),
        (client.checkout("S0|001", "B00001"), "patron_id"),
        (client.checkout("S0001", "圖00001"), "barcode"),
        (client.checkin("B00001", return_date=NOW, location="Box|1"), "location"),
        (client.checkin("B00001", return_date="today"), "return_date"),  # type: ignore[arg-type]
    ]
    for call, field in cases:
        with pytest.raises(Sip2ValueError) as caught:
            await call
        assert caught.value.field == field
        assert "密碼" not in str(caught.value)
    assert server.connections == 0  # nothing was sent: not even a connection was opened


@pytest.mark.parametrize("kind", ["ils.py"])
@pytest.mark.parametrize("encoding", ["utf-8"])
@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ("garbage", Sip2ProtocolError),
        ("truncated", Sip2ProtocolError),
        ("bad_checksum", Sip2ChecksumError),
        ("request_checksum", Sip2ProtocolError),
        ("silent", Sip2Unavailable),
        ("reset", Sip2Unavailable),
    ],
)
async def test_what_a_fault_raises(
    client: Sip2Client, server: IlsServer, fault: str, error: type[Sip2Error]
) -> None:
    await client.check()
    server.fault = fault
    start = time.monotonic()
    with pytest.raises(error):
        await client.checkout("S0001", "B00001")
    assert time.monotonic() - start < 2.5
    server.fault = None
    assert (await client.item_information("B00001")) is not None


@pytest.mark.parametrize("encoding", ["utf-8"])
async def test_a_refused_login_and_an_absent_acs(server: Server) -> None:
    server.reject_login = True
    client = new_client(server)
    try:
        with pytest.raises(Sip2LoginRejected):
            await client.patron_information("S0001")
        with pytest.raises(Sip2LoginRejected):
            await client.check()
    finally:
        await client.close()
    port = server.port
    await server.stop()
    client = new_client(server, port=port)
    try:
        with pytest.raises(Sip2Unavailable):
            await client.item_information("B00001")
        with pytest.raises(Sip2Unavailable):
            await client.check()
    finally:
        await client.close()
