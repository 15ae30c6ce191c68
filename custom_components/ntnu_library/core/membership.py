"""Memberships at the counter: who may borrow, extending a membership, lifting a suspension.

From the seed: membership lasts 4 years for undergraduate and master students, 7 for doctoral
students (`categories.default_membership_expiry`); it is extended at the counter, and a
student back from suspension is reactivated there. An expired or suspended membership cannot
borrow rooms or items. Each function returns a new `Patron` for the patron directory to store.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

from .categories import add_months
from .errors import Reason, Refused
from .model import Patron

# How far ahead staff may extend a membership (a doctoral membership runs 7 years).
MAX_MEMBERSHIP_YEARS_AHEAD = 8
# Extending a membership without a date adds this much.
EXTENSION_MONTHS = 12


def require_may_borrow(
    patron: Patron, today: date, *, frozen: bool, frozen_until: str | None = None
) -> None:
    """Refuse a patron who may not borrow: suspended, expired, or frozen by the room rules."""
    if patron.suspended:
        raise Refused(Reason.MEMBERSHIP_SUSPENDED)
    if not patron.membership_valid(today):
        raise Refused(Reason.MEMBERSHIP_EXPIRED)
    if frozen:
        raise Refused(Reason.FROZEN, until=frozen_until or "-")


def extend_membership(patron: Patron, today: date, *, until: date | None = None) -> Patron:
    """Extend a membership at the counter; a new Patron for the directory to store.

    Without `until`: one year from the later of today and the current expiry. A membership
    without an expiry needs no extension and comes back unchanged. `until` must lie between
    today and 8 years ahead. A suspension stays (see `reactivate_membership`).
    """
    if until is None:
        if patron.membership_expires is None:
            return patron
        return replace(
            patron,
            membership_expires=add_months(max(today, patron.membership_expires), EXTENSION_MONTHS),
        )
    if (
        isinstance(until, datetime)
        or not isinstance(until, date)
        or not today <= until <= add_months(today, 12 * MAX_MEMBERSHIP_YEARS_AHEAD)
    ):
        raise Refused(Reason.INVALID_VALUE, field="until", value=str(until)[:32])
    return replace(patron, membership_expires=until)


def reactivate_membership(patron: Patron, today: date) -> Patron:
    """Lift a suspension at the counter; a new Patron for the directory to store.

    Reactivation only lifts the suspension: an expired membership stays expired (extend it
    with `extend_membership`). `today` is for the caller's log; the rule does not need it.
    """
    if not patron.suspended:
        raise Refused(Reason.NOT_SUSPENDED, patron=patron.patron_id)
    return replace(patron, suspended=False)
