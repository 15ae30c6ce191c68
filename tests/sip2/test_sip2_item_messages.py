"""The circulation messages (17/18, 11/12, 09/10): builders, readers, and pysip2's reading.

Hand-made answers cover what a test ILS never sends; pysip2's codec (someone else's reading of
the spec) decodes every request this package builds, in every character set, and encodes the
answers its readers read.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings, strategies as st
import pysip2
import pytest

from custom_components.ntnu_library.sip2 import SIP2_ENCODINGS, codec, item_messages
from custom_components.ntnu_library.sip2.codec import Message, Sip2ProtocolError
from custom_components.ntnu_library.sip2.item_messages import ItemInfo

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NOW = datetime(2026, 3, 14, 9, 26, 53)
NORDIC_TITLE = "Åse Ødegård"


def _text_in(encoding: str) -> st.SearchStrategy[str]:
    """Field values a character set can carry (no delimiter, no CR, LF or NUL)."""
    return st.text(
        st.characters(codec=encoding, exclude_characters="|\r\n\x00", exclude_categories=["Cs"]),
        min_size=1,
        max_size=30,
    )


# --- Reading answers ---------------------------------------------------------------------------


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
    # Missing (13) without a title is still an item the ACS knows.
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
    with pytest.raises(Sip2ProtocolError):
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
    with pytest.raises(Sip2ProtocolError):
        item_messages.read_checkout(Message(codec.CHECKOUT_RESPONSE, ok + "NNY" + date_part), "B1")
    with pytest.raises(Sip2ProtocolError):
        item_messages.read_checkin(Message(codec.CHECKIN_RESPONSE, ok + "YNN" + date_part), "B1")


def test_a_checkout_answer_about_another_item_is_unreadable() -> None:
    answer = Message(codec.CHECKOUT_RESPONSE, "1NNY" + codec.sip_date(NOW), (("AB", "B2"),))
    with pytest.raises(Sip2ProtocolError):
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
def test_due_dates_as_the_acs_sends_them(
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


def test_item_properties_as_they_are_written() -> None:
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
    # The nb due date is a date, never blanks: the transaction date, or the one given.
    assert line.startswith(b"11NY20260314    09265320260314    092653AONTNU|AAS0001|AB")
    assert b"ADpw|" in line
    line = codec.encode(item_messages.checkin("NTNU", "B00001", NOW, NOW, location="Box 1"))
    assert line == b"09N20260314    09265320260314    092653APBox 1|AONTNU|ABB00001|AC|\r"
    line = codec.encode(item_messages.item_information("NTNU", "B00001", NOW))
    assert line == b"1720260314    092653AONTNU|ABB00001|AC|\r"
    request = codec.patron_information("NTNU", "S0001", NOW, summary=2, items=(1, 200))
    assert request.fixed.endswith("  Y       ")
    assert request.fields[-2:] == (("BP", "1"), ("BQ", "200"))


def test_an_item_on_loan_is_charged() -> None:
    item = ItemInfo(barcode="B1", title="T", circulation_status=item_messages.CIRCULATION_CHARGED)
    assert item.on_loan
    assert not item.available
    for status in (1, 2, 3, 5, 12):  # not to be recalled (05) reads as its own status
        other = ItemInfo(barcode="B1", title="T", circulation_status=status)
        assert not other.on_loan
    assert ItemInfo(barcode="B1", title="T", circulation_status=3).available


# --- Against pysip2's codec (an independent reading of the spec) ------------------------------


def _wire(message: Message, sequence: int, encoding: str) -> bytes:
    return codec.encode(
        Message(message.command, message.fixed, message.fields, sequence),
        error_detection=True,
        encoding=encoding,
    )


@SETTINGS
@given(st.data(), st.sampled_from(SIP2_ENCODINGS), st.integers(0, 9), st.booleans())
def test_pysip2_reads_our_checkout(
    data: st.DataObject, encoding: str, sequence: int, no_block: bool
) -> None:
    patron_id = data.draw(_text_in(encoding))
    barcode = data.draw(_text_in(encoding))
    password = data.draw(st.none() | _text_in(encoding))
    request = item_messages.checkout(
        "NTNU", patron_id, barcode, NOW, password=password, no_block=no_block
    )
    decoded = pysip2.decode_message(_wire(request, sequence, encoding), encoding=encoding)
    assert decoded.sequence_number == sequence
    message = decoded.message
    assert isinstance(message, pysip2.CheckoutRequest)
    assert message.no_block == ("Y" if no_block else "N")
    assert message.transaction_date == codec.sip_date(NOW)
    assert message.nb_due_date == codec.sip_date(NOW)
    assert message.patron_identifier == patron_id
    assert message.item_identifier == barcode
    assert message.patron_password == password


@pytest.mark.parametrize(
    ("nb_due_date", "sent"),
    [
        (datetime(2026, 4, 13, 23, 59, 59), "20260413    235959"),
        (
            datetime(2026, 4, 13, 23, 59, 59, tzinfo=timezone(timedelta(hours=8))),
            "20260413   Z155959",
        ),
    ],
)
def test_the_nb_due_date_of_an_offline_loan(nb_due_date: datetime, sent: str) -> None:
    request = item_messages.checkout(
        "NTNU", "S1", "B1", NOW, no_block=True, nb_due_date=nb_due_date
    )
    assert request.fixed[20:] == sent
    decoded = pysip2.decode_message(codec.encode(request))
    assert isinstance(decoded.message, pysip2.CheckoutRequest)
    assert decoded.message.nb_due_date == sent


@SETTINGS
@given(st.data(), st.sampled_from(SIP2_ENCODINGS), st.integers(0, 9))
def test_pysip2_reads_our_item_information_and_checkin(
    data: st.DataObject, encoding: str, sequence: int
) -> None:
    barcode = data.draw(_text_in(encoding))
    location = data.draw(_text_in(encoding))
    request = item_messages.item_information("NTNU", barcode, NOW, terminal_password="tp")
    decoded = pysip2.decode_message(_wire(request, sequence, encoding), encoding=encoding)
    assert isinstance(decoded.message, pysip2.ItemInformationRequest)
    assert decoded.message.item_identifier == barcode
    assert decoded.message.terminal_password == "tp"
    returned = datetime(2026, 3, 20, 8, 0, tzinfo=UTC)
    request = item_messages.checkin("NTNU", barcode, NOW, returned, location=location)
    decoded = pysip2.decode_message(_wire(request, sequence, encoding), encoding=encoding)
    assert isinstance(decoded.message, pysip2.CheckinRequest)
    assert decoded.message.item_identifier == barcode
    assert decoded.message.current_location == location
    assert decoded.message.return_date == "20260320   Z080000"
    assert decoded.message.no_block == "N"


@pytest.mark.parametrize("encoding", SIP2_ENCODINGS)
def test_we_read_pysip2s_circulation_answers(encoding: str) -> None:
    def read(message: pysip2.SIPMessage) -> Message:
        line = pysip2.encode_message(message, sequence_number=4, checksum=True, encoding=encoding)
        return codec.decode(line, encoding=encoding)

    now = codec.sip_date(NOW)
    item = item_messages.read_item_information(
        read(
            pysip2.ItemInformationResponse(
                circulation_status="04",
                security_marker="02",
                fee_type="01",
                transaction_date=now,
                due_date="20260413    235959",
                item_identifier="N00001",
                title_identifier=NORDIC_TITLE,
                media_type="001",
                item_properties="library_use_only",
                permanent_location="NTNU UB",
            )
        ),
        "N00001",
    )
    assert item is not None
    assert item.title == NORDIC_TITLE
    assert item.on_loan
    assert item.library_use_only
    assert item.due_at == datetime(2026, 4, 13, 23, 59, 59)
    checkout = item_messages.read_checkout(
        read(
            pysip2.CheckoutResponse(
                ok="0",
                renewal_ok="N",
                magnetic_media="U",
                desensitize="N",
                transaction_date=now,
                institution_id="NTNU",
                patron_identifier="S0001",
                item_identifier="N00001",
                title_identifier=NORDIC_TITLE,
                due_date="",
                screen_message=("Patron has fines",),
            )
        ),
        "N00001",
    )
    assert not checkout.ok
    assert checkout.magnetic_media is None
    assert checkout.title == NORDIC_TITLE
    assert checkout.due is None
    assert checkout.screen_message == "Patron has fines"
    checkin = item_messages.read_checkin(
        read(
            pysip2.CheckinResponse(
                ok="1",
                resensitize="Y",
                magnetic_media="N",
                alert="N",
                transaction_date=now,
                institution_id="NTNU",
                item_identifier="N00001",
                permanent_location="NTNU UB",
                title_identifier=NORDIC_TITLE,
            )
        ),
        "N00001",
    )
    assert checkin.ok
    assert checkin.title == NORDIC_TITLE
    assert checkin.permanent_location == "NTNU UB"
