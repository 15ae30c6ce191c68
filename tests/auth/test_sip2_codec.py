"""The SIP2 codec: round trips, checksums, and that any bytes parse or raise Sip2Error."""

from __future__ import annotations

import contextlib
from datetime import date, datetime

from hypothesis import HealthCheck, given, settings, strategies as st
import pytest

from custom_components.ntnu_library.auth.sip2 import codec
from custom_components.ntnu_library.auth.sip2.codec import (
    FIXED_LENGTHS,
    Message,
    Sip2ChecksumError,
    Sip2Error,
)

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NOW = datetime(2026, 3, 14, 9, 26, 53)

# Values: any text a field can carry (no delimiter, no CR, no lone surrogate).
values = st.text(st.characters(exclude_characters="|\r", exclude_categories=["Cs"]), max_size=40)
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
    st.text(max_size=20).filter(lambda s: "|" not in s and "\r" not in s),
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
    try:
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
        ]
    except Sip2Error:  # a surrogate in `user` (st.text allows them): refused, never sent
        return
    for message in built:
        for detect in (False, True):
            seq = sequence if detect else None
            wire = Message(message.command, message.fixed, message.fields, seq)
            assert codec.decode(codec.encode(wire, error_detection=detect)) == wire


@SETTINGS
@given(st.binary(max_size=300))
def test_any_bytes_parse_or_raise_sip2_error(data: bytes) -> None:
    try:
        message = codec.decode(data)
    except Sip2Error:
        return
    assert message.command in FIXED_LENGTHS


@SETTINGS
@given(st.sampled_from(sorted(FIXED_LENGTHS)), st.binary(max_size=200), st.booleans())
def test_plausible_lines_parse_or_raise_sip2_error(
    command: str, tail: bytes, checksum: bool
) -> None:
    line = command.encode() + tail
    if checksum:
        line += b"AZ" + codec.checksum(line + b"AZ").encode()
    with contextlib.suppress(Sip2Error):
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
        b"\xff\xfe94\r",  # not UTF-8
        b"94" + b"1" * (codec.MAX_LINE + 10) + b"\r",  # too long
        b"97AY1AZFE7C\r",  # a sequence on a control message
    ],
)
def test_malformed_lines(line: bytes) -> None:
    with pytest.raises(Sip2Error):
        codec.decode(line)


def test_injection_refused_and_passwords_hidden() -> None:
    with pytest.raises(Sip2Error):
        codec.encode(codec.patron_information("NTNU", "S0001|ADx", NOW))
    with pytest.raises(Sip2Error):
        codec.encode(codec.patron_information("NTNU", "S0001", NOW, password="a\rb"))
    with pytest.raises(Sip2Error):
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
