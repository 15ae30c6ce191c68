"""Where a site's loans are of record: one contract, the library's own record or the ILS.

The circulation rules (core) decide every checkout, check-in and box drop the same way; what
differs is who else must be asked:

- `LocalLoans`: the library keeps the loans itself (its own catalogue and patron directory):
  nobody else is asked;
- `IlsLoans` (ils_loans.py): the library's ILS holds the loans over SIP2: before a decision
  it is asked for the patron's loans and for each item, after one it makes the loans the
  rules allowed, and it checks items in.

The desk (desk.py) asks the backend outside the library's transaction (the ILS may be slow;
rooms do not wait for it) and hands what it said to the rules inside it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol

from .core.circulation_state import Loan, Lookup, ReceiptLine
from .core.loans_elsewhere import LendAnswer
from .core.model import Patron


@dataclass(frozen=True, kw_only=True, slots=True)
class LoanView:
    """What the keeper of the loans said before a decision (nothing, for the library's own).

    `lookup`: the items as the ILS knows them (None: the library's catalogue);
    `on_loan`/`due`: the items it has lent to anyone, and their due dates;
    `listed`: the patron's loans as it lists them (None: not asked);
    `lent_elsewhere`: the patron's loans it made that are not known here.
    """

    lookup: Lookup | None = None
    on_loan: frozenset[str] = frozenset()
    due: Mapping[str, date] = field(default_factory=dict)
    listed: frozenset[str] | None = None
    lent_elsewhere: Mapping[str, Loan] = field(default_factory=dict)


class LoanBackend(Protocol):
    """The keeper of a site's loans, asked around each circulation decision."""

    ils: bool  # the library's ILS keeps them (answers say so)

    async def async_view(self, patron: Patron | None, barcodes: Sequence[str]) -> LoanView:
        """What it knows of the patron's loans (a patron given) and of these items."""
        ...

    async def async_lend(
        self, patron: Patron, lines: Sequence[ReceiptLine]
    ) -> dict[str, LendAnswer] | None:
        """Make the loans the rules allowed; its answer per item (None: the record here is it)."""
        ...

    async def async_check_in(self, barcodes: Sequence[str], when: datetime) -> list[str]:
        """Check items in; those it had on loan (to anyone), in order."""
        ...


class LocalLoans:
    """The library keeps its loans itself: nobody else is asked."""

    ils = False

    async def async_view(self, patron: Patron | None, barcodes: Sequence[str]) -> LoanView:
        """The library's own catalogue and record answer."""
        return LoanView()

    async def async_lend(
        self, patron: Patron, lines: Sequence[ReceiptLine]
    ) -> dict[str, LendAnswer] | None:
        """The loans on the record here are the loans."""
        return None

    async def async_check_in(self, barcodes: Sequence[str], when: datetime) -> list[str]:
        """Nothing is on loan anywhere else."""
        return []
