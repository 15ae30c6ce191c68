"""How a site reads the ILS's patron records: its settings (IlsConfig) and a record as a Patron.

The ILS answers in SIP2's terms (the sip2 package): a patron type in some field, 14 status
flags. Here they become the integration's: a loan category of the loan table, and the refusals
(`Reason`) of the flags the site lets refuse a patron.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from ..core.categories import CATEGORIES, MOST_RESTRICTED_CATEGORY
from ..core.errors import Reason
from ..core.identity import normalize_card, normalize_patron_id
from ..core.model import Patron
from ..sip2 import (
    PATRON_STATUS_FLAGS,
    PatronInformation,
    Sip2Config,
    Sip2ConfigError,
    status_flag_positions,
)

# The refusal each patron status flag means when the site lets it refuse a room.
_REASON_OF_FLAG: Final[Mapping[str, Reason]] = {
    "charge_privileges_denied": Reason.PRIVILEGES_DENIED,
    "renewal_privileges_denied": Reason.PRIVILEGES_DENIED,
    "recall_privileges_denied": Reason.PRIVILEGES_DENIED,
    "hold_privileges_denied": Reason.PRIVILEGES_DENIED,
    "card_reported_lost": Reason.CARD_REPORTED_LOST,
    "too_many_items_charged": Reason.TOO_MANY_ITEMS,
    "too_many_items_overdue": Reason.TOO_MANY_ITEMS,
    "too_many_renewals": Reason.TOO_MANY_ITEMS,
    "too_many_claims_of_items_returned": Reason.TOO_MANY_ITEMS,
    "too_many_items_lost": Reason.TOO_MANY_ITEMS,
    "excessive_outstanding_fines": Reason.EXCESSIVE_FEES,
    "excessive_outstanding_fees": Reason.EXCESSIVE_FEES,
    "recall_overdue": Reason.TOO_MANY_ITEMS,
    "too_many_items_billed": Reason.TOO_MANY_ITEMS,
}
# Position for position on the wire (a flag without a refusal fails here, at import).
_FLAG_REASONS: Final = tuple(_REASON_OF_FLAG[name] for name in PATRON_STATUS_FLAGS)
# Most flags are about loans, not rooms: only these refuse a room unless the site says otherwise.
# They are also the flags an ILS sets on a patron it blocked (sip2.BLOCK_FLAGS): a block written
# by one site is refused at every site that keeps these.
DEFAULT_REFUSING_FLAGS: Final = frozenset({"charge_privileges_denied", "card_reported_lost"})
CARD_LOST: Final = PATRON_STATUS_FLAGS.index("card_reported_lost")
# When several flags are set, the one a patron can act on first is named.
_REASON_ORDER: Final = (
    Reason.CARD_REPORTED_LOST,
    Reason.PRIVILEGES_DENIED,
    Reason.EXCESSIVE_FEES,
    Reason.TOO_MANY_ITEMS,
)
# The length of an unmapped patron type as shown to staff.
UNMAPPED_TYPE_LENGTH: Final = 40


class IlsConfigError(Sip2ConfigError):
    """A setting of how patron records are read that cannot work; `field` names it."""


@dataclass(frozen=True, kw_only=True)
class IlsConfig(Sip2Config):
    """How to reach the ILS (Sip2Config), and how to read its patron records."""

    category_field: str = "PC"
    # ILS patron type -> our category key; a value that is already a key passes unchanged. A
    # type neither maps gets MOST_RESTRICTED_CATEGORY and is reported (on_unmapped_category).
    category_map: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    # For a patron whose record carries no type at all (many ILSs never send one).
    default_category: str = MOST_RESTRICTED_CATEGORY
    # Patron status flags that refuse a room: names of PATRON_STATUS_FLAGS or their positions,
    # held as a frozenset of positions once checked.
    refusing_flags: Collection[int | str] = DEFAULT_REFUSING_FLAGS
    card_field: str | None = None  # a vendor field carrying the card number, if any

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.default_category not in CATEGORIES:
            raise IlsConfigError("default_category", f"unknown category {self.default_category!r}")
        for key in self.category_map.values():
            if key not in CATEGORIES:
                raise IlsConfigError("category_map", f"unknown category {key!r}")
        try:
            positions = status_flag_positions(self.refusing_flags)
        except ValueError as err:
            raise IlsConfigError("refusing_flags", str(err)) from None
        object.__setattr__(self, "category_map", MappingProxyType(dict(self.category_map)))
        object.__setattr__(self, "refusing_flags", positions)


def flag_reasons(flags: Collection[int], refusing: Collection[int]) -> list[Reason]:
    """Return the refusals the set `flags` that are `refusing` call for, most actionable first."""
    found = {_FLAG_REASONS[i] for i in flags if i in refusing}
    return [reason for reason in _REASON_ORDER if reason in found]


def shown_type(raw: str) -> str:
    r"""A patron type as staff may see it: unprintables escaped (ESC as `\x1b`), length bounded."""
    text = "".join(
        ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in raw
    )
    return text[:UNMAPPED_TYPE_LENGTH]


def read_patron(
    info: PatronInformation,
    key: str,
    config: IlsConfig,
    on_unmapped: Callable[[str], None],
    *,
    suspended: bool = False,
) -> Patron:
    """Return the patron a 64 describes; `key` is the ID or card that was asked for.

    A patron type that neither `config.category_map` nor the categories know gets
    MOST_RESTRICTED_CATEGORY, and is handed to `on_unmapped` as it came.
    """
    raw_id = info.patron_id
    # An ID that did not decode (U+FFFD) is not the patron's: keep the one asked for.
    patron_id = normalize_patron_id(raw_id) if raw_id and "\ufffd" not in raw_id else key
    name = info.name.strip() or patron_id
    raw_type = (info.get(config.category_field) or "").strip()
    category = config.category_map.get(raw_type)
    if category is None:
        if not raw_type:
            category = config.default_category
        elif raw_type in CATEGORIES:
            category = raw_type
        else:  # a type nobody mapped: the least rights until staff map it
            category = MOST_RESTRICTED_CATEGORY
            on_unmapped(raw_type)
    card: str | None = None
    if config.card_field:
        card = normalize_card(info.get(config.card_field) or "") or None
    return Patron(
        patron_id=patron_id or key,
        name=name,
        category=category,
        membership_expires=info.expires,
        suspended=suspended,
        card=card,
    )
