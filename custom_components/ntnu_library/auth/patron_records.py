"""A patron's record in the local directory: each field checked, the activation's stored form.

Every field a patron record holds is checked here, whether staff typed it or it was read back
from the Store: a damaged record is refused, never taken half-read.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
import re
from typing import Final
import unicodedata

from ..core.categories import CATEGORIES
from ..core.errors import Reason, Refused
from ..core.identity import normalize_card, normalize_patron_id
from ..core.limits import MAX_CARD_LENGTH, MAX_ID_LENGTH, MAX_TEXT_LENGTH
from .credentials import Activation

MAX_NAME_LENGTH: Final = MAX_TEXT_LENGTH

_ID = re.compile(rf"[A-Z0-9_-]{{1,{MAX_ID_LENGTH}}}")
_CARD = re.compile(rf"[A-Z0-9_:.-]{{1,{MAX_CARD_LENGTH}}}")


def valid_id(patron_id: object) -> str:
    """A patron ID as the directory keys it, or Refused(INVALID_VALUE, field="patron_id")."""
    key = normalize_patron_id(patron_id) if isinstance(patron_id, str) else ""
    if not _ID.fullmatch(key):
        raise Refused(Reason.INVALID_VALUE, field="patron_id")
    return key


def valid_name(name: object) -> str:
    """A name without control characters, stripped, or Refused(INVALID_VALUE, field="name")."""
    text = name.strip() if isinstance(name, str) else ""
    # Control characters (newlines, escapes) have no place in a name and would forge log lines.
    if (
        not text
        or len(text) > MAX_NAME_LENGTH
        or any(unicodedata.category(c) == "Cc" for c in text)
    ):
        raise Refused(Reason.INVALID_VALUE, field="name")
    return text


def valid_category(category: object) -> str:
    """One of the loan table's categories, or Refused(INVALID_VALUE, field="category")."""
    if not isinstance(category, str) or category not in CATEGORIES:
        raise Refused(Reason.INVALID_VALUE, field="category", value=str(category)[:40])
    return category


def valid_expiry(expires: object) -> date | None:
    """A day (not a moment) or None for no expiry; else Refused(INVALID_VALUE)."""
    # A datetime is a date too, but a membership ends on a day, not at a moment.
    if expires is not None and (not isinstance(expires, date) or isinstance(expires, datetime)):
        raise Refused(Reason.INVALID_VALUE, field="membership_expires")
    return expires


def valid_suspended(suspended: object) -> bool:
    """A true boolean, or Refused(INVALID_VALUE, field="suspended")."""
    if not isinstance(suspended, bool):
        raise Refused(Reason.INVALID_VALUE, field="suspended")
    return suspended


def valid_card(card: object) -> str | None:
    """Return a normalised card number; None or blank means no card."""
    if card is None:
        return None
    if not isinstance(card, str):
        raise Refused(Reason.INVALID_VALUE, field="card")
    text = normalize_card(card)
    if not text:
        return None
    if not _CARD.fullmatch(text):
        raise Refused(Reason.INVALID_VALUE, field="card")
    return text


def activation_record(activation: Activation | None) -> dict[str, str] | None:
    """An activation as the Store keeps it (its digest, never the code)."""
    if activation is None:
        return None
    return {"digest": activation.digest, "expires": activation.expires.isoformat()}


def load_activation(record: object) -> Activation | None:
    """A stored activation; a damaged one is dropped (staff can issue a new code)."""
    if not isinstance(record, Mapping):
        return None
    digest, expires = record.get("digest"), record.get("expires")
    if not (isinstance(digest, str) and re.fullmatch(r"[0-9a-f]{64}", digest)):
        return None
    try:
        when = datetime.fromisoformat(expires) if isinstance(expires, str) else None
    except ValueError:
        return None
    if when is None or when.tzinfo is None:
        return None
    return Activation(digest=digest, expires=when)
