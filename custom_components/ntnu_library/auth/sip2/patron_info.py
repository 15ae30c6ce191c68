"""Reading a 64 Patron Information answer: status flags as refusals, the type as a category."""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import date
import sys
from typing import TYPE_CHECKING, Final

from ...core.categories import CATEGORIES, Category
from ...core.errors import Reason
from ...core.identity import normalize_card, normalize_patron_id
from ...core.model import Patron
from . import codec
from .codec import Message

if TYPE_CHECKING:  # config.py validates against the tables here
    from .config import Sip2Config

# The 14 patron status flags of the 64 response (SIP2 2.00), in their order on the wire.
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
# The refusal a flag means when the site lets it refuse a room, position for position.
_FLAG_REASONS: Final[tuple[Reason, ...]] = (
    Reason.PRIVILEGES_DENIED,
    Reason.PRIVILEGES_DENIED,
    Reason.PRIVILEGES_DENIED,
    Reason.PRIVILEGES_DENIED,
    Reason.CARD_REPORTED_LOST,
    Reason.TOO_MANY_ITEMS,
    Reason.TOO_MANY_ITEMS,
    Reason.TOO_MANY_ITEMS,
    Reason.TOO_MANY_ITEMS,
    Reason.TOO_MANY_ITEMS,
    Reason.EXCESSIVE_FEES,
    Reason.EXCESSIVE_FEES,
    Reason.TOO_MANY_ITEMS,
    Reason.TOO_MANY_ITEMS,
)
# Most flags are about loans, not rooms: only these refuse a room unless the site says otherwise.
DEFAULT_REFUSING_FLAGS: Final = frozenset({"charge_privileges_denied", "card_reported_lost"})
CARD_LOST: Final = PATRON_STATUS_FLAGS.index("card_reported_lost")
_DEFAULT_POSITIONS: Final = frozenset(PATRON_STATUS_FLAGS.index(f) for f in DEFAULT_REFUSING_FLAGS)
# When several flags are set, the one a patron can act on first is named.
_REASON_ORDER: Final = (
    Reason.CARD_REPORTED_LOST,
    Reason.PRIVILEGES_DENIED,
    Reason.EXCESSIVE_FEES,
    Reason.TOO_MANY_ITEMS,
)


def _most_restricted() -> str:
    """The category with the fewest items, then the shortest loan; the table's first on a tie.

    A loan "by agreement" (partner libraries) is not counted as short: its length is unknown.
    """
    start = date(2001, 1, 1)

    def strictness(entry: Category) -> tuple[int, int]:
        period = entry.loan_period
        days = (period.due(start) - start).days if period is not None else sys.maxsize
        return entry.item_limit, days

    return min(CATEGORIES.values(), key=strictness).key


# Where a patron type the site has not mapped lands: the least a patron can borrow.
MOST_RESTRICTED_CATEGORY: Final = _most_restricted()


def flag_reasons(status: str, refusing: Collection[int] = _DEFAULT_POSITIONS) -> list[Reason]:
    """Return the refusals the set `refusing` flags call for, most actionable first."""
    found = {
        _FLAG_REASONS[i]
        for i, flag in enumerate(status[: len(PATRON_STATUS_FLAGS)])
        if flag == "Y" and i in refusing
    }
    return [reason for reason in _REASON_ORDER if reason in found]


def read_patron(
    answer: Message,
    key: str,
    config: Sip2Config,
    on_unmapped: Callable[[str], None],
    *,
    suspended: bool = False,
) -> Patron:
    """Return the patron a 64 describes; `key` is the ID or card that was asked for.

    A patron type that neither `config.category_map` nor the categories know gets
    MOST_RESTRICTED_CATEGORY, and is handed to `on_unmapped` as it came.
    """
    raw_id = answer.get("AA")
    # An ID that did not decode (U+FFFD) is not the patron's: keep the one asked for.
    patron_id = normalize_patron_id(raw_id) if raw_id and "\ufffd" not in raw_id else key
    name = (answer.get("AE") or "").strip() or patron_id
    raw_type = (answer.get(config.category_field) or "").strip()
    category = config.category_map.get(raw_type)
    if category is None:
        if not raw_type:
            category = config.default_category
        elif raw_type in CATEGORIES:
            category = raw_type
        else:  # a type nobody mapped: the least rights until staff map it
            category = MOST_RESTRICTED_CATEGORY
            on_unmapped(raw_type)
    expires = codec.parse_sip_date(answer.get("PA"))
    card: str | None = None
    if config.card_field:
        card = normalize_card(answer.get(config.card_field) or "") or None
    return Patron(
        patron_id=patron_id or key,
        name=name,
        category=category,
        membership_expires=expires,
        suspended=suspended,
        card=card,
    )
