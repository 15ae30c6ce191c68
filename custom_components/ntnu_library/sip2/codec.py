"""A small SIP2 2.00 codec: the messages a self-check terminal and a door controller need.

93/94 login, 99/98 status, 63/64 patron information, 01/24 block patron, 96/97 resends, and
the framing of 17/18 item information, 11/12 checkout and 09/10 checkin (their builders and
readers are in item_messages.py; the readers of 64 and 24 in patron_info.py).

A message is one line ending in CR: a two-digit command, fixed-length fields, then variable
fields `XXvalue|`. With error detection the line ends in `AY<seq>AZ<checksum>`, the checksum
being the two's complement of the 16-bit sum of every byte up to and including "AZ", as four
upper-case hex digits. The character set is the caller's (`SIP2_ENCODINGS`): the 3M spec and
many ILSs use code page 850, newer ones UTF-8. The checksum covers the encoded bytes.

A value that does not decode is read with U+FFFD in its place: one odd byte in a name must not
cost a patron the login. Everything else that cannot be parsed raises `Sip2ProtocolError`,
nothing else: the parser reads what a server on the network sends, and a malformed answer must
end in an error the caller expects, never in a crash. What cannot be sent (a `|` in a value, a
letter the character set lacks) raises `Sip2ValueError` before a byte is written.

Every exception of this package is a `Sip2Error`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
import re
from typing import Final

MAX_LINE: Final = 64 * 1024
CR: Final = b"\r"

# The character sets a site can choose; all keep ASCII (and so `|`, CR and the trailer) as is.
SIP2_ENCODINGS: Final = ("utf-8", "cp850", "latin-1")
DEFAULT_ENCODING: Final = "utf-8"

LOGIN: Final = "93"
LOGIN_RESPONSE: Final = "94"
SC_STATUS: Final = "99"
ACS_STATUS: Final = "98"
PATRON_INFORMATION: Final = "63"
PATRON_INFORMATION_RESPONSE: Final = "64"
BLOCK_PATRON: Final = "01"
PATRON_STATUS_RESPONSE: Final = "24"
CHECKIN: Final = "09"
CHECKIN_RESPONSE: Final = "10"
CHECKOUT: Final = "11"
CHECKOUT_RESPONSE: Final = "12"
ITEM_INFORMATION: Final = "17"
ITEM_INFORMATION_RESPONSE: Final = "18"
REQUEST_SC_RESEND: Final = "96"
REQUEST_ACS_RESEND: Final = "97"

# Length of the fixed part of each message this codec knows.
FIXED_LENGTHS: Final[dict[str, int]] = {
    LOGIN: 2,  # UID algorithm, PWD algorithm
    LOGIN_RESPONSE: 1,  # ok
    SC_STATUS: 8,  # status code 1, max print width 3, protocol version 4
    ACS_STATUS: 34,  # 6 flags, timeout 3, retries 3, date 18, protocol version 4
    PATRON_INFORMATION: 31,  # language 3, transaction date 18, summary 10
    PATRON_INFORMATION_RESPONSE: 59,  # status 14, language 3, date 18, 6 counts of 4
    BLOCK_PATRON: 19,  # card retained 1, transaction date 18
    PATRON_STATUS_RESPONSE: 35,  # status 14, language 3, transaction date 18
    CHECKIN: 37,  # no block 1, transaction date 18, return date 18
    CHECKIN_RESPONSE: 22,  # ok, resensitize, magnetic media, alert, transaction date 18
    CHECKOUT: 38,  # SC renewal policy 1, no block 1, transaction date 18, nb due date 18
    CHECKOUT_RESPONSE: 22,  # ok, renewal ok, magnetic media, desensitize, transaction date 18
    ITEM_INFORMATION: 18,  # transaction date
    ITEM_INFORMATION_RESPONSE: 24,  # circulation status 2, security marker 2, fee type 2, date
    REQUEST_SC_RESEND: 0,
    REQUEST_ACS_RESEND: 0,
}
# 96 and 97 carry a checksum but never a sequence number.
_CONTROL: Final = frozenset({REQUEST_SC_RESEND, REQUEST_ACS_RESEND})

_CODE = re.compile(r"[A-Z0-9]{2}")
# What breaks the framing somewhere: the delimiter, CR, LF (a line end for some ILSs) and NUL
# (the end of a C string; pysip2 hangs up on one). None of them is ever sent inside a value.
_UNSENDABLE = re.compile(r"[|\r\n\x00]")
_TRAILER = re.compile(rb"(?:AY([0-9]))?AZ([0-9A-Fa-f]{4})\Z")


class Sip2Error(Exception):
    """Anything this package raises.

    The message never quotes a line or a value: a request carries a password.
    """


class Sip2ValueError(Sip2Error, ValueError):
    """A value that cannot be sent: it would break the framing, or the character set lacks it.

    `field` names the argument of the call it came in (patron_id, password, barcode ...) when
    a client call refused it; None from the codec itself. Nothing was sent.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class Sip2ProtocolError(Sip2Error):
    """The other side's line cannot be read, or is not the answer to the question asked.

    The server answered: this exchange failed, the server is not down.
    """


class Sip2ChecksumError(Sip2ProtocolError):
    """An answer whose AZ checksum does not match its bytes (the spec says: ask again)."""


@dataclass(frozen=True, slots=True)
class Message:
    """One SIP2 message: command, its fixed part, its variable fields in order."""

    command: str
    fixed: str = ""
    fields: tuple[tuple[str, str], ...] = ()
    sequence: int | None = None  # AY, present only with error detection

    def get(self, code: str) -> str | None:
        """Return the first value of a variable field, or None when absent."""
        for key, value in self.fields:
            if key == code:
                return value
        return None

    def __repr__(self) -> str:
        # AD (patron password) and CO (login password) never reach a log through repr.
        shown = tuple((k, "***" if k in {"AD", "CO", "AC"} else v) for k, v in self.fields)
        return f"Message({self.command!r}, {self.fixed!r}, {shown!r}, seq={self.sequence!r})"


def checksum(data: bytes) -> str:
    """Return the SIP2 checksum of the bytes up to and including "AZ"."""
    return f"{(-sum(data)) & 0xFFFF:04X}"


def check_encoding(encoding: str) -> str:
    """Return the encoding if it is one of SIP2_ENCODINGS; Sip2ValueError otherwise."""
    if encoding not in SIP2_ENCODINGS:
        raise Sip2ValueError(f"encoding must be one of {', '.join(SIP2_ENCODINGS)}")
    return encoding


def check_text(value: str, what: str, encoding: str = DEFAULT_ENCODING) -> None:
    """Raise Sip2ValueError for a value that would break the framing or the encoding lacks."""
    if _UNSENDABLE.search(value):
        raise Sip2ValueError(f"{what} contains a field delimiter, CR, LF or NUL")
    try:
        value.encode(encoding)
    except UnicodeEncodeError:
        # Never replaced: a password with a `?` in place of a letter might be someone else's.
        raise Sip2ValueError(f"{what} is not encodable in {encoding}") from None


def encode(
    message: Message, *, error_detection: bool = False, encoding: str = DEFAULT_ENCODING
) -> bytes:
    """Return the wire form of a message, CR included.

    Raises Sip2ValueError for a value that would break the framing (a `|`, CR or LF in a patron
    ID is an attempt to inject fields), for a character the encoding lacks and for a fixed part
    of the wrong length.
    """
    check_encoding(encoding)
    command = message.command
    expected = FIXED_LENGTHS.get(command)
    if expected is None:
        raise Sip2ValueError("unknown command")
    if len(message.fixed) != expected:
        raise Sip2ValueError("fixed part has the wrong length")
    check_text(message.fixed, "fixed part", encoding)
    parts = [command, message.fixed]
    for code, value in message.fields:
        if not _CODE.fullmatch(code):
            raise Sip2ValueError("bad field code")
        check_text(value, "field value", encoding)
        parts.append(f"{code}{value}|")
    body = "".join(parts).encode(encoding)
    if not error_detection:
        if message.sequence is not None:
            raise Sip2ValueError("a sequence number needs error detection")
        return body + CR
    if message.sequence is not None:
        if command in _CONTROL or not 0 <= message.sequence <= 9:
            raise Sip2ValueError("bad sequence number")
        body += f"AY{message.sequence}".encode()
    body += b"AZ"
    return body + checksum(body).encode() + CR


def decode(line: bytes, *, encoding: str = DEFAULT_ENCODING) -> Message:
    """Parse one line (trailing CR, and a CRLF's LF, optional) into a Message.

    Verifies the checksum when the line carries one (Sip2ChecksumError on a mismatch). Bytes
    the encoding cannot read become U+FFFD: the answer still counts. Anything else that cannot
    be parsed raises Sip2ProtocolError.
    """
    check_encoding(encoding)
    if len(line) > MAX_LINE:
        raise Sip2ProtocolError("line too long")
    line = line.lstrip(b"\n").removesuffix(b"\n").removesuffix(CR)
    sequence: int | None = None
    trailer = _TRAILER.search(line)
    if trailer is not None:
        end = trailer.start(2)  # just after "AZ"
        if (sum(line[:end]) + int(trailer.group(2), 16)) & 0xFFFF:
            raise Sip2ChecksumError("checksum mismatch")
        if trailer.group(1) is not None:
            sequence = int(trailer.group(1))
        line = line[: trailer.start()]
    text = line.decode(encoding, errors="replace")
    if "\r" in text:
        raise Sip2ProtocolError("CR inside a line")
    command = text[:2]
    fixed_length = FIXED_LENGTHS.get(command)
    if fixed_length is None:
        raise Sip2ProtocolError("unknown command")
    if command in _CONTROL and sequence is not None:
        raise Sip2ProtocolError("sequence number on a control message")
    fixed = text[2 : 2 + fixed_length]
    if len(fixed) != fixed_length or "|" in fixed:
        raise Sip2ProtocolError("truncated fixed part")
    rest = text[2 + fixed_length :]
    segments = rest.split("|")
    if segments[-1] == "":  # the usual final delimiter
        segments.pop()
    fields: list[tuple[str, str]] = []
    for segment in segments:
        if not _CODE.fullmatch(segment[:2]):
            raise Sip2ProtocolError("bad field code")
        fields.append((segment[:2], segment[2:]))
    return Message(command, fixed, tuple(fields), sequence)


# --- Builders -------------------------------------------------------------------------------


def sip_date(moment: datetime) -> str:
    """Return a SIP2 transaction date: YYYYMMDD, four blanks (local time), HHMMSS."""
    return moment.strftime("%Y%m%d") + "    " + moment.strftime("%H%M%S")


def parse_sip_date(text: str | None) -> date | None:
    """Return the day of an 18-character SIP2 date (or the YYYYMMDD head of any text)."""
    if not text or len(text) < 8 or not text[:8].isdigit() or not text[:8].isascii():
        return None
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        return None


def login(user: str, password: str, location: str = "") -> Message:
    """93 Login: the terminal's own SIP account (plain algorithms)."""
    fields = [("CN", user), ("CO", password)]
    if location:
        fields.append(("CP", location))
    return Message(LOGIN, "00", tuple(fields))


def login_response(ok: bool) -> Message:
    """94 Login Response."""
    return Message(LOGIN_RESPONSE, "1" if ok else "0")


def sc_status() -> Message:
    """99 SC Status: status ok, print width 80, protocol 2.00 (a health check)."""
    return Message(SC_STATUS, "0" + "080" + "2.00")


def acs_status(institution: str, now: datetime, *, online: bool = True) -> Message:
    """98 ACS Status: online, checkin/checkout ok, timeout 010, 3 retries, protocol 2.00."""
    flags = ("Y" if online else "N") + "YYYNN"
    fixed = flags + "010" + "003" + sip_date(now) + "2.00"
    return Message(ACS_STATUS, fixed, (("AO", institution), ("BX", "YYYYYYYYYYYYYYYY")))


@dataclass(frozen=True, slots=True, kw_only=True)
class AcsStatus:
    """What a 98 ACS Status says: whether the ACS is online and what it allows now."""

    online: bool
    checkin_ok: bool
    checkout_ok: bool
    renewal_policy: bool  # the ACS lets the terminal renew
    status_update_ok: bool  # patron status may be changed (01 Block Patron)
    offline_ok: bool
    protocol_version: str
    institution: str  # AO
    screen_message: str | None = None  # AF


def read_acs_status(answer: Message) -> AcsStatus:
    """Return what a 98 says; a flag other than Y reads as no."""
    flags = [flag == "Y" for flag in answer.fixed[:6]]
    return AcsStatus(
        online=flags[0],
        checkin_ok=flags[1],
        checkout_ok=flags[2],
        renewal_policy=flags[3],
        status_update_ok=flags[4],
        offline_ok=flags[5],
        protocol_version=answer.fixed[30:34],
        institution=answer.get("AO") or "",
        screen_message=answer.get("AF") or None,
    )


def patron_information(
    institution: str,
    patron_id: str,
    now: datetime,
    *,
    password: str | None = None,
    terminal_password: str = "",
    summary: int | None = None,
    items: tuple[int, int] | None = None,
) -> Message:
    """63 Patron Information: AD only when a patron password is checked.

    `summary` asks for the items of one summary position (2: the charged items, AU), `items`
    the range of them (BP start item, BQ end item, from 1).
    """
    flags = [" "] * SUMMARY_LENGTH
    if summary is not None:
        flags[summary] = "Y"
    fixed = "000" + sip_date(now) + "".join(flags)
    fields = [("AO", institution), ("AA", patron_id), ("AC", terminal_password)]
    if password is not None:
        fields.append(("AD", password))
    if items is not None:
        fields += [("BP", str(items[0])), ("BQ", str(items[1]))]
    return Message(PATRON_INFORMATION, fixed, tuple(fields))


def block_patron(
    institution: str,
    patron_id: str,
    message: str,
    now: datetime,
    *,
    card_retained: bool = False,
    terminal_password: str = "",
) -> Message:
    """01 Block Patron: AO, AL (the blocked card message), AA, AC, all required, in that order.

    `card_retained` Y says the terminal swallowed the card; a door reader never does.
    """
    fixed = ("Y" if card_retained else "N") + sip_date(now)
    fields = (
        ("AO", institution),
        ("AL", message),
        ("AA", patron_id),
        ("AC", terminal_password),
    )
    return Message(BLOCK_PATRON, fixed, fields)


PATRON_STATUS_LENGTH: Final = 14
SUMMARY_LENGTH: Final = 10
MAX_COUNT: Final = 9999  # the counts of a 64 are four digits


def patron_information_response(
    *,
    status: str,
    now: datetime,
    institution: str,
    patron_id: str,
    name: str,
    valid_patron: str | None,
    valid_password: str | None,
    charged_items: int = 0,
    extra: tuple[tuple[str, str], ...] = (),
) -> Message:
    """64 Patron Information Response; BL or CQ None leaves the field out.

    The counts are hold, overdue, charged, fine, recall and unavailable hold items; only the
    charged items count is ever more than 0 here.
    """
    if len(status) != PATRON_STATUS_LENGTH:
        raise Sip2ValueError("patron status must have 14 flags")
    charged = f"{min(max(charged_items, 0), MAX_COUNT):04d}"
    fixed = status + "000" + sip_date(now) + "0000" * 2 + charged + "0000" * 3
    fields = [("AO", institution), ("AA", patron_id), ("AE", name)]
    if valid_patron is not None:
        fields.append(("BL", valid_patron))
    if valid_password is not None:
        fields.append(("CQ", valid_password))
    return Message(PATRON_INFORMATION_RESPONSE, fixed, (*fields, *extra))


def patron_status_response(
    *,
    status: str,
    now: datetime,
    institution: str,
    patron_id: str,
    name: str,
    valid_patron: str | None,
    extra: tuple[tuple[str, str], ...] = (),
) -> Message:
    """24 Patron Status Response (the answer to 01 Block Patron, and to 23); BL None omits it."""
    if len(status) != PATRON_STATUS_LENGTH:
        raise Sip2ValueError("patron status must have 14 flags")
    fixed = status + "000" + sip_date(now)
    fields = [("AO", institution), ("AA", patron_id), ("AE", name)]
    if valid_patron is not None:
        fields.append(("BL", valid_patron))
    return Message(PATRON_STATUS_RESPONSE, fixed, (*fields, *extra))
