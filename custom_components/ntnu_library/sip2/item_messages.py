"""Circulation over SIP2 2.00: 17/18 Item Information, 11/12 Checkout, 09/10 Checkin.

The requests a terminal sends, the answers a server sends (for a test or demo ACS), and the
readers of those answers. A reader raises `Sip2ProtocolError` for an answer it cannot read; a
refusal by the ACS is no error: a checkout or checkin with ok=0 is an answer like any other,
with the ACS's screen message (AF).

Library use only and accompanying material. SIP2 2.00 has no field for either: ACSs put such
flags in the item properties (CH, free text "specific to the ACS") or in the media type (CK,
009 "book with CD"...). This package reads CH as tokens separated by `;`, `,` or blanks:

    library_use_only             the item may not leave the library (a reference copy)
    accompanies=<barcode>        the item goes with another, e.g. a CD with its book

Token names are read case-insensitively, anything else in CH is kept but ignored.
`item_properties` writes exactly these tokens (joined by `;`); an ACS that marks such items
differently needs its own reading of CH or CK.

Dates: the ACS decides due dates. AH is kept as the text the ACS sent (`due`) and, when it is a
SIP2 timestamp (YYYYMMDDZZZZHHMMSS: four blanks for local time, "   Z" for UTC; some ACSs send
the date alone), read as a date and a time (`due_date`, `due_at`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Final
import unicodedata

from . import codec
from .codec import Message, Sip2ProtocolError
from .patron_info import CHARGED_ITEMS_COUNT

# Circulation status (SIP2 2.00, the first fixed field of 18).
CIRCULATION_OTHER: Final = 1
CIRCULATION_AVAILABLE: Final = 3
CIRCULATION_CHARGED: Final = 4
CIRCULATION_STATUSES: Final[dict[int, str]] = {
    1: "other",
    2: "on_order",
    3: "available",
    4: "charged",
    5: "charged_not_to_be_recalled",
    6: "in_process",
    7: "recalled",
    8: "waiting_on_hold_shelf",
    9: "waiting_to_be_reshelved",
    10: "in_transit",
    11: "claimed_returned",
    12: "lost",
    13: "missing",
}
# Media type (CK), three digits.
MEDIA_OTHER: Final = "000"
MEDIA_BOOK: Final = "001"
MEDIA_CD: Final = "006"
MEDIA_BOOK_WITH_CD: Final = "009"

# The item properties (CH) tokens this package reads (see the module docstring).
LIBRARY_USE_ONLY: Final = "library_use_only"
ACCOMPANIES: Final = "accompanies"
_SEPARATORS: Final = str.maketrans(";,", "  ")

SIP_DATE_LENGTH: Final = 18
_UTC_ZONE: Final = "   Z"
_LOCAL_ZONE: Final = "    "


def wire_barcode(barcode: str) -> str:
    """Return a barcode as it is sent: NFKC (full-width digits of an IME), stripped.

    Its case is kept: a barcode is the ACS's key, and some ACSs compare it case-sensitively.
    """
    return unicodedata.normalize("NFKC", barcode).strip()


def same_barcode(asked: str, answered: str | None) -> bool:
    """Whether an answer's AB is about the item asked for (absent or empty: nothing said)."""
    if not answered:
        return True
    return wire_barcode(answered).casefold() == wire_barcode(asked).casefold()


def sip_moment(moment: datetime) -> str:
    """Return a SIP2 timestamp: local time with a blank zone, or UTC ("   Z") when aware."""
    if moment.tzinfo is None:
        return codec.sip_date(moment)
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y%m%d") + _UTC_ZONE + utc.strftime("%H%M%S")


def parse_sip_moment(text: str | None) -> datetime | None:
    """Return the moment of a SIP2 timestamp (naive for local time, aware for UTC), or None."""
    if not text or len(text) != SIP_DATE_LENGTH or not text.isascii():
        return None
    day, zone, clock = text[:8], text[8:12], text[12:]
    if not day.isdigit() or not clock.isdigit() or zone not in {_LOCAL_ZONE, _UTC_ZONE}:
        return None
    try:
        moment = datetime.strptime(day + clock, "%Y%m%d%H%M%S")
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if zone == _UTC_ZONE else moment


def parse_properties(text: str | None) -> dict[str, str]:
    """Return the CH tokens: `name` as name → "", `name=value` as name → value (names folded)."""
    tokens: dict[str, str] = {}
    for token in (text or "").translate(_SEPARATORS).split():
        name, _, value = token.partition("=")
        if name:
            tokens.setdefault(name.casefold(), value)
    return tokens


def item_properties(*, library_use_only: bool = False, accompanies: str | None = None) -> str:
    """Return the CH value for these flags ("" for none), as `parse_properties` reads it."""
    tokens = [LIBRARY_USE_ONLY] if library_use_only else []
    if accompanies:
        tokens.append(f"{ACCOMPANIES}={accompanies}")
    return ";".join(tokens)


def _flag(value: str) -> bool | None:
    """Y, N or U (unknown, or anything else)."""
    return {"Y": True, "N": False}.get(value)


def _ok(value: str) -> bool:
    if value not in {"0", "1"}:
        raise Sip2ProtocolError("ok is neither 0 nor 1")
    return value == "1"


def _text(answer: Message, code: str) -> str | None:
    """A field's value, or None when absent or blank."""
    value = answer.get(code)
    return value if value and value.strip() else None


def _check_barcode(barcode: str, answer: Message) -> str:
    answered = answer.get("AB")
    if not same_barcode(barcode, answered):
        raise Sip2ProtocolError("answer about another item")
    return barcode


class _Due:
    """The due date and moment of a `due` text (AH)."""

    __slots__ = ()
    due: str | None

    @property
    def due_date(self) -> date | None:
        """The day AH names, when it starts with YYYYMMDD."""
        return codec.parse_sip_date(self.due)

    @property
    def due_at(self) -> datetime | None:
        """The moment AH names, when it is a whole SIP2 timestamp."""
        return parse_sip_moment(self.due)


# --- Item Information (17/18) -----------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ItemInfo(_Due):
    """An item as the ACS describes it in an 18."""

    barcode: str
    title: str
    circulation_status: int  # CIRCULATION_STATUSES
    media_type: str | None = None  # CK, three digits
    due: str | None = None  # AH as sent, when the item is on loan
    properties: str | None = None  # CH as sent
    permanent_location: str | None = None  # AQ
    screen_message: str | None = None  # AF

    @property
    def available(self) -> bool:
        """Circulation status 03: on the shelf."""
        return self.circulation_status == CIRCULATION_AVAILABLE

    @property
    def on_loan(self) -> bool:
        """Circulation status 04, charged: lent to a patron (the ACS knows whom)."""
        return self.circulation_status == CIRCULATION_CHARGED

    @property
    def library_use_only(self) -> bool:
        """CH carries `library_use_only`."""
        return LIBRARY_USE_ONLY in parse_properties(self.properties)

    @property
    def accompanies(self) -> str | None:
        """The barcode CH's `accompanies=` names, if any."""
        return parse_properties(self.properties).get(ACCOMPANIES) or None


def item_information(
    institution: str, barcode: str, now: datetime, *, terminal_password: str = ""
) -> Message:
    """17 Item Information: AO, AB, AC."""
    fields = (("AO", institution), ("AB", barcode), ("AC", terminal_password))
    return Message(codec.ITEM_INFORMATION, codec.sip_date(now), fields)


def item_information_response(
    *,
    circulation_status: int,
    now: datetime,
    barcode: str,
    title: str,
    security_marker: str = "02",
    fee_type: str = "01",
    extra: tuple[tuple[str, str], ...] = (),
) -> Message:
    """18 Item Information Response: AB and AJ (required), then `extra` (CK, CH, AH ...)."""
    fixed = f"{circulation_status:02d}" + security_marker + fee_type + codec.sip_date(now)
    return Message(codec.ITEM_INFORMATION_RESPONSE, fixed, (("AB", barcode), ("AJ", title), *extra))


def read_item_information(answer: Message, barcode: str) -> ItemInfo | None:
    """Return the item an 18 describes, or None when the ACS does not know it.

    An unknown item is answered (as Koha's and Evergreen's SIP servers do) with circulation
    status 01 "other" and an empty title, often with a screen message: that is None. An item
    with status 01 and a title is known, its status other.
    """
    status_text = answer.fixed[:2]
    if not status_text.isascii() or not status_text.isdigit():
        raise Sip2ProtocolError("circulation status is not a number")
    status = int(status_text)
    _check_barcode(barcode, answer)
    title = (answer.get("AJ") or "").strip()
    if status == CIRCULATION_OTHER and not title:
        return None
    return ItemInfo(
        barcode=barcode,
        title=title,
        circulation_status=status,
        media_type=_text(answer, "CK"),
        due=_text(answer, "AH"),
        properties=_text(answer, "CH"),
        permanent_location=_text(answer, "AQ"),
        screen_message=_text(answer, "AF"),
    )


# --- Checkout (11/12) -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckoutAnswer(_Due):
    """A 12: ok or not, with the ACS's due date and screen message."""

    ok: bool
    renewal_ok: bool
    magnetic_media: bool | None  # U (unknown) is None
    desensitize: bool | None
    barcode: str
    title: str | None = None  # AJ
    due: str | None = None  # AH as sent
    screen_message: str | None = None  # AF: why not, when ok is False


def checkout(
    institution: str,
    patron_id: str,
    barcode: str,
    now: datetime,
    *,
    password: str | None = None,
    no_block: bool = False,
    nb_due_date: datetime | None = None,
    renewal_policy: bool = False,
    terminal_password: str = "",
) -> Message:
    """11 Checkout: AO, AA, AB, AC, and AD when the patron's password is checked.

    The nb due date (SIP2 2.00: a fixed field of 18 characters, YYYYMMDDZZZZHHMMSS) is the due
    date a terminal gave an item it lent while the ACS was offline (store and forward); the spec
    has no blank form of it. An ACS reads it only with `no_block` (a loan already made). Without
    `nb_due_date` the transaction date stands in, as other SIP2 clients do: 18 blanks are no
    date, and an ACS that checks the field (pysip2) hangs up on them.
    """
    fixed = (
        ("Y" if renewal_policy else "N")
        + ("Y" if no_block else "N")
        + codec.sip_date(now)
        + (codec.sip_date(now) if nb_due_date is None else sip_moment(nb_due_date))
    )
    fields = [
        ("AO", institution),
        ("AA", patron_id),
        ("AB", barcode),
        ("AC", terminal_password),
    ]
    if password is not None:
        fields.append(("AD", password))
    return Message(codec.CHECKOUT, fixed, tuple(fields))


def checkout_response(
    *,
    ok: bool,
    now: datetime,
    institution: str,
    patron_id: str,
    barcode: str,
    title: str,
    due: str,
    renewal_ok: bool = False,
    magnetic_media: str = "N",
    desensitize: str = "Y",
    extra: tuple[tuple[str, str], ...] = (),
) -> Message:
    """12 Checkout Response: AO, AA, AB, AJ, AH (required, empty when refused), then `extra`."""
    fixed = (
        ("1" if ok else "0")
        + ("Y" if renewal_ok else "N")
        + magnetic_media
        + desensitize
        + codec.sip_date(now)
    )
    fields = (
        ("AO", institution),
        ("AA", patron_id),
        ("AB", barcode),
        ("AJ", title),
        ("AH", due),
    )
    return Message(codec.CHECKOUT_RESPONSE, fixed, (*fields, *extra))


def read_checkout(answer: Message, barcode: str) -> CheckoutAnswer:
    """Return what a 12 says; Sip2ProtocolError when ok is unreadable or it is another item."""
    fixed = answer.fixed
    return CheckoutAnswer(
        ok=_ok(fixed[0]),
        renewal_ok=fixed[1] == "Y",
        magnetic_media=_flag(fixed[2]),
        desensitize=_flag(fixed[3]),
        barcode=_check_barcode(barcode, answer),
        title=_text(answer, "AJ"),
        due=_text(answer, "AH"),
        screen_message=_text(answer, "AF"),
    )


# --- Checkin (09/10) --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckinAnswer:
    """A 10: ok or not, and where the item belongs."""

    ok: bool
    resensitize: bool | None
    magnetic_media: bool | None
    alert: bool  # the terminal should alert staff (the item belongs elsewhere, a hold ...)
    barcode: str
    title: str | None = None  # AJ
    permanent_location: str | None = None  # AQ
    screen_message: str | None = None  # AF


def checkin(
    institution: str,
    barcode: str,
    now: datetime,
    return_date: datetime,
    *,
    location: str = "",
    no_block: bool = False,
    terminal_password: str = "",
) -> Message:
    """09 Checkin: AP (current location, may be empty), AO, AB, AC."""
    fixed = ("Y" if no_block else "N") + codec.sip_date(now) + sip_moment(return_date)
    fields = (
        ("AP", location),
        ("AO", institution),
        ("AB", barcode),
        ("AC", terminal_password),
    )
    return Message(codec.CHECKIN, fixed, fields)


def checkin_response(
    *,
    ok: bool,
    now: datetime,
    institution: str,
    barcode: str,
    permanent_location: str,
    resensitize: bool = True,
    magnetic_media: str = "N",
    alert: bool = False,
    extra: tuple[tuple[str, str], ...] = (),
) -> Message:
    """10 Checkin Response: AO, AB, AQ (required), then `extra` (AJ, AA, CK, CH, AF ...)."""
    fixed = (
        ("1" if ok else "0")
        + ("Y" if resensitize else "N")
        + magnetic_media
        + ("Y" if alert else "N")
        + codec.sip_date(now)
    )
    fields = (("AO", institution), ("AB", barcode), ("AQ", permanent_location))
    return Message(codec.CHECKIN_RESPONSE, fixed, (*fields, *extra))


def read_checkin(answer: Message, barcode: str) -> CheckinAnswer:
    """Return what a 10 says; Sip2ProtocolError when ok is unreadable or it is another item."""
    fixed = answer.fixed
    return CheckinAnswer(
        ok=_ok(fixed[0]),
        resensitize=_flag(fixed[1]),
        magnetic_media=_flag(fixed[2]),
        alert=fixed[3] == "Y",
        barcode=_check_barcode(barcode, answer),
        title=_text(answer, "AJ"),
        permanent_location=_text(answer, "AQ"),
        screen_message=_text(answer, "AF"),
    )


# --- Charged items (63/64 with the summary) ---------------------------------------------------

SUMMARY_CHARGED_ITEMS: Final = 2  # the summary position that asks for AU


@dataclass(frozen=True, slots=True, kw_only=True)
class ChargedItems:
    """What a 64 says a patron has on loan."""

    count: int | None  # the fixed charged items count; None when the ACS leaves it blank
    items: tuple[str, ...]  # AU, as the ACS sends them (usually barcodes)


def read_charged_items(answer: Message) -> ChargedItems:
    """Return the charged items count and the AU fields of a 64."""
    text = answer.fixed[CHARGED_ITEMS_COUNT]
    count = int(text) if text.isascii() and text.isdigit() else None
    items = tuple(value for code, value in answer.fields if code == "AU" and value.strip())
    return ChargedItems(count=count, items=items)
