"""The SIP2 codec: round trips, checksums, and that any bytes parse or raise Sip2ProtocolError."""

from __future__ import annotations

import contextlib
from datetime import date, datetime

from hypothesis import HealthCheck, given, settings, strategies as st
import pysip2
import pytest

from custom_components.ntnu_library.sip2 import codec
from custom_components.ntnu_library.sip2.codec import (
    FIXED_LENGTHS,
    SIP2_ENCODINGS,
    Message,
    Sip2ChecksumError,
    Sip2ProtocolError,
    Sip2ValueError,
)

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NOW = datetime(2026, 3, 14, 9, 26, 53)

# Values: any text a field can carry (no delimiter, CR, LF or NUL, no lone surrogate).
values = st.text(
    st.characters(exclude_characters="|\r\n\x00", exclude_categories=["Cs"]), max_size=40
)
codes = st.from_regex(r"[A-Z0-9]{2}", fullmatch=True)
fields = st.lists(st.tuples(codes, values), max_size=8).map(tuple)


@st.composite
def messages(draw: st.DrawFn) -> tuple[Message, bool]:
    command = draw(st.sampled_from(sorted(FIXED_LENGTHS)))
    # Fixed fields are flags, digits, dates and blanks.
    fixed = draw(
        st.text(st.sampled_from("0123456789YN "), min_size=FIXED_LENGTHS[command]).map(
            lambda text: text[: FIXED_LENGTHS[command]]
        )
    )
    detect = draw(st.booleans())
    control = command in {codec.REQUEST_SC_RESEND, codec.REQUEST_ACS_RESEND}
    sequence = draw(st.none() | st.integers(0, 9)) if detect and not control else None
    return Message(command, fixed, draw(fields), sequence), detect


@SETTINGS
@given(messages())
def test_every_message_round_trips(case: tuple[Message, bool]) -> None:
    message, detect = case
    line = codec.encode(message, error_detection=detect)
    assert line.endswith(b"\r")
    assert line.count(b"\r") == 1
    assert codec.decode(line) == message


@SETTINGS
@given(
    values.map(lambda s: s[:20]),
    values,
    values,
    st.sampled_from(["", "Room door 3"]),
    values.filter(bool),
    st.booleans(),
    st.integers(0, 9),
)
def test_builders_round_trip(
    user: str,
    password: str,
    patron_id: str,
    location: str,
    patron_password: str,
    ok: bool,
    sequence: int,
) -> None:
    built = [
        codec.login(user, password, location),
        codec.login_response(ok),
        codec.sc_status(),
        codec.acs_status("NTNU", NOW, online=ok),
        codec.patron_information("NTNU", patron_id, NOW),
        codec.patron_information("NTNU", patron_id, NOW, password=patron_password),
        codec.patron_information_response(
            status="Y" * 14 if ok else " " * 14,
            now=NOW,
            institution="NTNU",
            patron_id=patron_id,
            name=user,
            valid_patron="Y",
            valid_password=None if ok else "",
            extra=(("PC", "student_master"), ("PA", "20270131")),
        ),
        codec.block_patron("NTNU", patron_id, user, NOW, terminal_password=password),
        codec.block_patron("NTNU", patron_id, user, NOW, card_retained=True),
        codec.patron_status_response(
            status="Y" + " " * 13,
            now=NOW,
            institution="NTNU",
            patron_id=patron_id,
            name=user,
            valid_patron="Y" if ok else None,
            extra=(("AF", "Card blocked"),),
        ),
    ]
    for message in built:
        for detect in (False, True):
            seq = sequence if detect else None
            wire = Message(message.command, message.fixed, message.fields, seq)
            assert codec.decode(codec.encode(wire, error_detection=detect)) == wire


@SETTINGS
@given(st.binary(max_size=300))
def test_any_bytes_parse_or_raise_a_protocol_error(data: bytes) -> None:
    try:
        message = codec.decode(data)
    except Sip2ProtocolError:
        return
    assert message.command in FIXED_LENGTHS


@SETTINGS
@given(st.sampled_from(sorted(FIXED_LENGTHS)), st.binary(max_size=200), st.booleans())
def test_plausible_lines_parse_or_raise_a_protocol_error(
    command: str, tail: bytes, checksum: bool
) -> None:
    line = command.encode() + tail
    if checksum:
        line += b"AZ" + codec.checksum(line + b"AZ").encode()
    with contextlib.suppress(Sip2ProtocolError):
        codec.decode(line + b"\r")


def test_checksum_examples() -> None:
    # The SC Status example of the SIP2 2.00 spec and the 97 every implementation sends.
    assert codec.checksum(b"9900302.00AY1AZ") == "FCA5"
    assert codec.decode(b"9900302.00AY1AZFCA5\r") == Message("99", "00302.00", (), 1)
    assert codec.encode(Message("99", "00302.00", (), 1), error_detection=True) == (
        b"9900302.00AY1AZFCA5\r"
    )
    assert codec.encode(Message("97"), error_detection=True) == b"97AZFEF5\r"
    assert codec.decode(b"97AZFEF5\r") == Message("97")
    # A CRLF-terminated answer (some ILSs) reads the same.
    assert codec.decode(b"9900302.00AY1AZFCA5\r\n") == Message("99", "00302.00", (), 1)


def test_checksum_mismatch_and_sequence() -> None:
    line = codec.encode(codec.login_response(True), error_detection=False)
    assert codec.decode(line) == Message("94", "1")
    good = codec.encode(Message("94", "1", (), 7), error_detection=True)
    assert codec.decode(good).sequence == 7
    bad = good[:-2] + (b"0" if good[-2:-1] != b"0" else b"1") + b"\r"
    with pytest.raises(Sip2ChecksumError):
        codec.decode(bad)


@pytest.mark.parametrize(
    "line",
    [
        b"",
        b"\r",
        b"6",
        b"64YYYY\r",  # truncated fixed part
        b"XX" + b"0" * 40 + b"\r",  # unknown command
        b"94" + b"1" + b"A|\r",  # one-letter field code
        b"94" + b"1" + b"ab12|\r",  # lower-case field code
        b"\xff\xfe94\r",  # not UTF-8: read as U+FFFD, which is no command
        b"94" + b"1" * (codec.MAX_LINE + 10) + b"\r",  # too long
        b"97AY1AZFE7C\r",  # a sequence on a control message
    ],
)
def test_malformed_lines(line: bytes) -> None:
    with pytest.raises(Sip2ProtocolError):
        codec.decode(line)


def test_injection_refused_and_passwords_hidden() -> None:
    with pytest.raises(Sip2ValueError):
        codec.encode(codec.patron_information("NTNU", "S0001|ADx", NOW))
    with pytest.raises(Sip2ValueError):
        codec.encode(codec.patron_information("NTNU", "S0001", NOW, password="a\rb"))
    for control in ("\n", "\x00"):
        with pytest.raises(Sip2ValueError):
            codec.encode(codec.patron_information("NTNU", f"S0001{control}63", NOW))
    with pytest.raises(Sip2ValueError):
        codec.encode(Message("94", "11"))
    message = codec.patron_information("NTNU", "S0001", NOW, password="hunter2")
    assert "hunter2" not in repr(message)
    assert "hunter2" not in repr(codec.login("door", "hunter2"))


def test_dates() -> None:
    assert codec.sip_date(NOW) == "20260314    092653"
    assert codec.parse_sip_date("20260314    092653") == date(2026, 3, 14)
    assert codec.parse_sip_date("20270131") == date(2027, 1, 31)
    assert codec.parse_sip_date("2027-01-31") is None
    assert codec.parse_sip_date("20271341") is None
    assert codec.parse_sip_date("") is None
    assert codec.parse_sip_date(None) is None
    assert codec.parse_sip_date("٢٠٢٧٠١٣١") is None  # Arabic-Indic digits are digits too


# --- Character sets ----------------------------------------------------------------------------

NAME = "Åse Ødegård"


def _text_in(encoding: str) -> st.SearchStrategy[str]:
    """Field values a character set can carry (no delimiter, no CR)."""
    return st.text(
        st.characters(codec=encoding, exclude_characters="|\r\n\x00", exclude_categories=["Cs"]),
        max_size=30,
    )


@SETTINGS
@given(st.data(), st.sampled_from(SIP2_ENCODINGS), st.booleans(), st.integers(0, 9))
def test_every_character_set_round_trips(
    data: st.DataObject, encoding: str, detect: bool, sequence: int
) -> None:
    name = data.draw(_text_in(encoding))
    message = codec.patron_information_response(
        status=" " * 14,
        now=NOW,
        institution="NTNU",
        patron_id=data.draw(_text_in(encoding)),
        name=name,
        valid_patron="Y",
        valid_password="Y",
    )
    wire = Message(message.command, message.fixed, message.fields, sequence if detect else None)
    line = codec.encode(wire, error_detection=detect, encoding=encoding)
    assert codec.decode(line, encoding=encoding) == wire


def test_the_bytes_differ_per_character_set() -> None:
    message = codec.login("door", "pw", NAME)
    lines = {
        enc: codec.encode(message, error_detection=True, encoding=enc) for enc in SIP2_ENCODINGS
    }
    assert b"\xc3\x85se" in lines["utf-8"]  # Å
    assert b"\x8fse \x9ddeg\x86rd" in lines["cp850"]
    assert b"\xc5se \xd8deg\xe5rd" in lines["latin-1"]
    for encoding, line in lines.items():
        assert codec.decode(line, encoding=encoding).get("CP") == NAME


def test_a_field_that_does_not_decode_is_replaced_not_fatal() -> None:
    # The case: a cp850 ILS, a terminal reading UTF-8. The checksum (over the bytes)
    # still holds; the name reads with U+FFFD where the bytes make no UTF-8.
    line = codec.encode(
        codec.patron_information_response(
            status=" " * 14,
            now=NOW,
            institution="NTNU",
            patron_id="A0001",
            name=NAME,
            valid_patron="Y",
            valid_password="Y",
        ),
        error_detection=True,
        encoding="cp850",
    )
    answer = codec.decode(line, encoding="utf-8")
    assert answer.get("AA") == "A0001"
    assert answer.get("BL") == "Y"
    assert answer.get("AE") == "\ufffdse \ufffddeg\ufffdrd"
    # The other way round: UTF-8 read as cp850 is mojibake, never an error.
    utf8 = codec.encode(codec.login_response(True), encoding="utf-8")
    assert codec.decode(utf8, encoding="cp850") == Message("94", "1")


def test_what_a_character_set_cannot_carry_is_never_sent() -> None:
    request = codec.patron_information("NTNU", "S0001", NOW, password="密碼")
    assert codec.encode(request, encoding="utf-8")
    for encoding in ("cp850", "latin-1"):
        with pytest.raises(Sip2ValueError):
            codec.encode(request, encoding=encoding)
    with pytest.raises(ValueError):
        codec.encode(request, encoding="utf-16")  # would break the framing
    with pytest.raises(ValueError):
        codec.decode(b"941\r", encoding="ascii")


@SETTINGS
@given(st.binary(max_size=60), st.sampled_from(SIP2_ENCODINGS))
def test_any_bytes_in_a_field_decode_in_every_character_set(raw: bytes, encoding: str) -> None:
    value = raw.replace(b"|", b"").replace(b"\r", b"")
    body = b"941AE" + value + b"|AY3AZ"
    line = body + codec.checksum(body).encode() + b"\r"
    answer = codec.decode(line, encoding=encoding)
    assert answer.sequence == 3
    assert answer.get("AE") == value.decode(encoding, errors="replace")


# --- Against pysip2's codec (an independent reading of the spec) ------------------------------


@SETTINGS
@given(st.data(), st.sampled_from(SIP2_ENCODINGS), st.integers(0, 9))
def test_pysip2_reads_what_we_send(data: st.DataObject, encoding: str, sequence: int) -> None:
    patron_id = data.draw(_text_in(encoding).filter(bool))
    password = data.draw(_text_in(encoding).filter(bool))
    request = codec.patron_information("NTNU", patron_id, NOW, password=password)
    line = codec.encode(
        Message(request.command, request.fixed, request.fields, sequence),
        error_detection=True,
        encoding=encoding,
    )
    decoded = pysip2.decode_message(line, encoding=encoding)
    assert decoded.sequence_number == sequence
    assert isinstance(decoded.message, pysip2.PatronInformationRequest)
    assert decoded.message.patron_identifier == patron_id
    assert decoded.message.patron_password == password
    assert decoded.message.transaction_date == codec.sip_date(NOW)


@SETTINGS
@given(st.data(), st.sampled_from(SIP2_ENCODINGS), st.integers(0, 9), st.booleans())
def test_we_read_what_pysip2_sends(
    data: st.DataObject, encoding: str, sequence: int, flagged: bool
) -> None:
    name = data.draw(_text_in(encoding))
    status = "    Y         " if flagged else " " * 14
    line = pysip2.encode_message(
        pysip2.PatronInformationResponse(
            patron_status=status,
            language="000",
            transaction_date=codec.sip_date(NOW),
            hold_items_count="0000",
            overdue_items_count="0000",
            charged_items_count="0000",
            fine_items_count="0000",
            recall_items_count="0000",
            unavailable_holds_count="0000",
            institution_id="NTNU",
            patron_identifier="A0001",
            personal_name=name,
            valid_patron="Y",
            valid_patron_password="N",
        ),
        sequence_number=sequence,
        checksum=True,
        encoding=encoding,
    )
    answer = codec.decode(line, encoding=encoding)
    assert answer.sequence == sequence
    assert answer.fixed[:14] == status
    assert answer.get("AE") == name
    assert answer.get("CQ") == "N"
    assert pysip2.verify_checksum(
        codec.encode(answer, error_detection=True, encoding=encoding)[:-1]
    )


def test_block_patron_is_laid_out_as_the_spec_says() -> None:
    line = codec.encode(codec.block_patron("NTNU", "S0001", "Left the door open", NOW))
    # 01, card retained N (the patron keeps the card), the date, then AO AL AA AC in order.
    assert line == b"01N20260314    092653AONTNU|ALLeft the door open|AAS0001|AC|\r"
    answer = codec.patron_status_response(
        status="Y" + " " * 13,
        now=NOW,
        institution="NTNU",
        patron_id="S0001",
        name="A",
        valid_patron="Y",
    )
    assert codec.encode(answer) == (
        b"24Y             00020260314    092653AONTNU|AAS0001|AEA|BLY|\r"
    )
    with pytest.raises(Sip2ValueError):
        codec.patron_status_response(
            status="Y", now=NOW, institution="", patron_id="", name="", valid_patron=None
        )


@SETTINGS
@given(st.data(), st.sampled_from(SIP2_ENCODINGS), st.integers(0, 9), st.booleans())
def test_pysip2_reads_our_block_patron(
    data: st.DataObject, encoding: str, sequence: int, retained: bool
) -> None:
    patron_id = data.draw(_text_in(encoding).filter(bool))
    text = data.draw(_text_in(encoding).filter(bool))
    request = codec.block_patron(
        "NTNU", patron_id, text, NOW, card_retained=retained, terminal_password="tp"
    )
    line = codec.encode(
        Message(request.command, request.fixed, request.fields, sequence),
        error_detection=True,
        encoding=encoding,
    )
    decoded = pysip2.decode_message(line, encoding=encoding)
    assert decoded.sequence_number == sequence
    assert isinstance(decoded.message, pysip2.BlockPatronRequest)
    assert decoded.message.card_retained == ("Y" if retained else "N")
    assert decoded.message.transaction_date == codec.sip_date(NOW)
    assert decoded.message.institution_id == "NTNU"
    assert decoded.message.blocked_card_message == text
    assert decoded.message.patron_identifier == patron_id
    assert decoded.message.terminal_password == "tp"


@pytest.mark.parametrize("encoding", SIP2_ENCODINGS)
def test_we_read_pysip2s_patron_status_response(encoding: str) -> None:
    line = pysip2.encode_message(
        pysip2.PatronStatusResponse(
            patron_status="YYYY          ",
            language="000",
            transaction_date=codec.sip_date(NOW),
            institution_id="NTNU",
            patron_identifier="A0001",
            personal_name=NAME,
            valid_patron="Y",
            screen_message=("Card blocked",),
        ),
        sequence_number=7,
        checksum=True,
        encoding=encoding,
    )
    answer = codec.decode(line, encoding=encoding)
    assert answer.command == codec.PATRON_STATUS_RESPONSE
    assert answer.sequence == 7
    assert answer.fixed[:14] == "YYYY          "
    assert answer.get("AE") == NAME
    assert answer.get("BL") == "Y"
    assert answer.get("AF") == "Card blocked"
