"""Who a patron is, as every part of the integration writes and shows it.

One place for the forms of an identity: a patron ID, a card number and a name as they are
compared (normalized), an ID as it may be shown (masked) or kept where it must not be read
(keyed), and any text as it may reach a log line or a message (printable).
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata

# What starts an ID kept as a keyed hash (`keyed_id`), never as typed.
KEYED_PREFIX = "K:"


def normalize_patron_id(patron_id: str) -> str:
    """Return a patron ID as the directory and the throttle key it: NFKC, stripped, upper-case.

    NFKC turns the full-width letters and digits a Chinese input method types into ASCII.
    """
    return unicodedata.normalize("NFKC", patron_id).strip().upper()


def normalize_card(card: str) -> str:
    """Return a card number as every patron system keys it: NFKC, stripped, upper-case."""
    return unicodedata.normalize("NFKC", card).strip().upper()


def normalize_name(name: str) -> str:
    """Return a name as a name search compares it: NFKC, case-folded, without whitespace.

    Staff type 王小明 or 王 小明, Anna Schmidt or anna  schmidt: all the same patron.
    """
    return "".join(unicodedata.normalize("NFKC", name).casefold().split())


def keyed_id(secret: bytes, typed: str) -> str:
    """A typed ID (or card number) kept as a keyed hash: counted, never readable.

    The same ID typed in any of its forms (full-width, lower case) gives the same key; who
    holds `secret` can tell whether a given ID is the one, nobody can read it back.
    """
    digest = hmac.new(secret, normalize_patron_id(typed).encode(), hashlib.sha256).hexdigest()
    return KEYED_PREFIX + digest[:32].upper()


def printable(text: str, limit: int = 64) -> str:
    """Text safe for a log line or a message: control characters become "?", length bounded."""
    return "".join(ch if ch.isprintable() else "?" for ch in text[:limit])


def mask_patron_id(patron_id: str | None) -> str | None:
    """Show enough of an ID for staff to recognise it, never the whole of it (nor a newline)."""
    if not patron_id:
        return None
    patron_id = printable(patron_id, len(patron_id))
    if len(patron_id) <= 2:
        return "*" * len(patron_id)
    keep_head = 2 if len(patron_id) >= 7 else 1
    return patron_id[:keep_head] + "*" * (len(patron_id) - keep_head - 1) + patron_id[-1]
