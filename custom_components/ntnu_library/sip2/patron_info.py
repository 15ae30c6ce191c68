"""Reading what the ACS says about a patron: 64 Patron Information and 24 Patron Status.

The requests (63 Patron Information, 01 Block Patron) and the answers a server sends are built
in codec.py. Here the answers are read into `PatronInformation` and `PatronStatus`, with the 14
patron status flags by position (`PATRON_STATUS_FLAGS` names them). What a flag means to the
caller (which of them refuse a patron) is the caller's to decide.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date
from typing import Final

from . import codec
from .codec import Message

# The 14 patron status flags of the 64 and the 24 (SIP2 2.00), in their order on the wire.
PATRON_STATUS_FLAGS: Final = (
    "charge_privileges_denied",
    "renewal_privileges_denied",
    "recall_privileges_denied",
    "hold_privileges_denied",
    "card_reported_lost",
    "too_many_items_charged",
    "too_many_items_overdue",
    "too_many_renewals",
    "too_many_claims_of_items_returned",
    "too_many_items_lost",
    "excessive_outstanding_fines",
    "excessive_outstanding_fees",
    "recall_overdue",
    "too_many_items_billed",
)
CHARGE_PRIVILEGES_DENIED: Final = PATRON_STATUS_FLAGS.index("charge_privileges_denied")
CARD_REPORTED_LOST: Final = PATRON_STATUS_FLAGS.index("card_reported_lost")

# --- Blocks (01 Block Patron) -------------------------------------------------------------------
# SIP2 2.00 says the ACS "should invalidate the patron's card" on 01 and answer 24 Patron Status,
# but not which of the 14 patron status flags a blocked patron then carries. The flag for "may
# not borrow at all" is charge privileges denied (position 0), and that is what ACSs set: the
# SIP server tests of Koha and OpenNCIP expect a 24 starting "24Y" after 01 (Koha sets positions
# 0-3, all the privileges), and an ACS that treats a blocked card as a lost one sets card
# reported lost (position 4) too, or alone. Some invalidate the card outright, and the patron is
# then unknown (BL=N). A block therefore shows as either flag (`blocked`), or as BL=N.
#
# Koha's SIP server answers 01 with the flags set and stores nothing: only the next 63 tells
# whether the ACS kept the block. There is no undoing a block over SIP2. The nearest message,
# 25 Patron Enable, is by the spec "only for system testing and validation", and would lift
# every block the ACS holds on the patron: a block is lifted by staff in the ACS.
BLOCK_FLAGS: Final = frozenset({CHARGE_PRIVILEGES_DENIED, CARD_REPORTED_LOST})
# The blocked card message (AL) as staff read it in the ACS: one line, bounded.
BLOCK_MESSAGE_LENGTH: Final = 60


def status_flag_positions(flags: Collection[int | str] | str) -> frozenset[int]:
    """Return the positions of patron status flags given by name or position.

    One name alone is one flag, not a collection of letters. Raises ValueError naming the first
    flag that is neither a name of PATRON_STATUS_FLAGS nor a position 0-13.
    """
    if isinstance(flags, str):
        flags = (flags,)
    positions: set[int] = set()
    for flag in flags:
        if isinstance(flag, str) and flag in PATRON_STATUS_FLAGS:
            positions.add(PATRON_STATUS_FLAGS.index(flag))
        elif (
            isinstance(flag, int)
            and not isinstance(flag, bool)
            and 0 <= flag < len(PATRON_STATUS_FLAGS)
        ):
            positions.add(flag)
        else:
            raise ValueError(f"unknown patron status flag {flag!r}")
    return frozenset(positions)


def blocked_card_message(text: str, encoding: str = codec.DEFAULT_ENCODING) -> str:
    """Return text as a blocked card message (AL): printable, one line, BLOCK_MESSAGE_LENGTH.

    A `|`, CR, LF, NUL or any other unprintable character becomes a space (one for a run of
    them), a letter the character set lacks becomes "?". Anything but text is "".
    """
    if not isinstance(text, str):
        return ""
    text = "".join(ch if ch.isprintable() and ch != "|" else " " for ch in text)
    text = " ".join(text.split())
    text = text.encode(encoding, "replace").decode(encoding)
    return text[:BLOCK_MESSAGE_LENGTH].rstrip()


def _yes_no(value: str | None) -> bool | None:
    """Y, N, or None for a field that is absent or says anything else."""
    return {"Y": True, "N": False}.get(value or "")


@dataclass(frozen=True, slots=True, kw_only=True)
class PatronStatus:
    """A 24 Patron Status Response, the answer to 01 Block Patron (and to 23)."""

    status: str  # the 14 patron status flags as sent, "Y" for a set one
    patron_id: str  # AA as sent ("" when absent); U+FFFD where a byte did not decode
    name: str  # AE as sent ("" when absent)
    valid_patron: bool | None  # BL: None when absent (or neither Y nor N)
    screen_message: str | None = None  # AF
    fields: tuple[tuple[str, str], ...] = ()  # every variable field, vendor fields included

    def get(self, code: str) -> str | None:
        """Return the first value of a variable field (a vendor one too), or None."""
        for key, value in self.fields:
            if key == code:
                return value
        return None

    @property
    def flags(self) -> frozenset[int]:
        """The positions of the patron status flags that are set."""
        return frozenset(
            i for i, flag in enumerate(self.status[: len(PATRON_STATUS_FLAGS)]) if flag == "Y"
        )

    @property
    def flag_names(self) -> frozenset[str]:
        """The names of the patron status flags that are set."""
        return frozenset(PATRON_STATUS_FLAGS[i] for i in self.flags)

    @property
    def blocked(self) -> bool:
        """A flag an ACS sets on a blocked patron is set (BLOCK_FLAGS)."""
        return bool(self.flags & BLOCK_FLAGS)


@dataclass(frozen=True, slots=True, kw_only=True)
class PatronInformation(PatronStatus):
    """A 64 Patron Information Response: who the patron is, and whether the password is right."""

    valid_password: bool | None = None  # CQ: None when absent (no password asked, or blank)
    charged_items_count: int | None = None  # None when the ACS leaves the count blank

    @property
    def expires(self) -> date | None:
        """The day PA (patron expiration date, sent by many ACSs) names, if it does."""
        return codec.parse_sip_date(self.get("PA"))


# Where the charged items count sits in a 64's fixed part: after the patron status (14), the
# language (3), the transaction date (18), the hold items count (4) and overdue items count (4).
CHARGED_ITEMS_COUNT: Final = slice(43, 47)


def read_patron_status(answer: Message) -> PatronStatus:
    """Return what a 24 says (its fixed part is whole: the codec checked its length)."""
    return PatronStatus(
        status=answer.fixed[: codec.PATRON_STATUS_LENGTH],
        patron_id=answer.get("AA") or "",
        name=answer.get("AE") or "",
        valid_patron=_yes_no(answer.get("BL")),
        screen_message=answer.get("AF") or None,
        fields=answer.fields,
    )


def read_patron_information(answer: Message) -> PatronInformation:
    """Return what a 64 says (its fixed part is whole: the codec checked its length)."""
    count = answer.fixed[CHARGED_ITEMS_COUNT]
    return PatronInformation(
        status=answer.fixed[: codec.PATRON_STATUS_LENGTH],
        patron_id=answer.get("AA") or "",
        name=answer.get("AE") or "",
        valid_patron=_yes_no(answer.get("BL")),
        valid_password=_yes_no(answer.get("CQ")),
        charged_items_count=int(count) if count.isascii() and count.isdigit() else None,
        screen_message=answer.get("AF") or None,
        fields=answer.fields,
    )
