"""Circulation beside a library system (an ILS over SIP2) that lends and takes back elsewhere.

The library system holds the loans of record: it lends at the counter and at other kiosks,
and takes items back at other desks. What is kept here follows it whenever it is asked:

- the patron's loans as the system lists them (`follow_patron_loans`): a loan it no longer
  lists was returned elsewhere, one it lists that is not known here was lent elsewhere. Items
  waiting in a return box stay: the system hears of them at the scan-back;
- items a return box takes that the system has on loan to someone not known here
  (`take_lent_elsewhere`): kept until the scan-back checks them in, whoever they are;
- a checkout: the rules decide first (the loans are on the record), then the system is
  asked to make each loan; `lent_receipt` says what the patron got from its answers, and
  `settle_lent` puts the record in step with them.

Pure functions of `CirculationState`; the caller asks the system and runs them in the one
transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime

from .circulation_state import (
    LENT_ELSEWHERE,
    CheckoutResult,
    CirculationState,
    Item,
    Loan,
    ReceiptLine,
    RefusedItem,
)
from .errors import Reason


@dataclass(frozen=True, kw_only=True, slots=True)
class LendAnswer:
    """The library system's answer to one loan the rules allowed.

    `made`: the system has the loan (its `due` date, when it gave one, is the one that
    counts); otherwise `reason` says why not. PATRON_SYSTEM_UNAVAILABLE: it could not be
    asked, and whether it lent is not known (the loan stays on the record until it is).
    """

    barcode: str
    made: bool
    due: date | None = None
    reason: Reason | None = None


def follow_patron_loans(
    state: CirculationState,
    patron_id: str,
    listed: Collection[str],
    lent_elsewhere: Mapping[str, Loan],
) -> None:
    """The system's list of the patron's loans (`listed`), and the loans it made elsewhere."""
    loans = state.loans
    for code, loan in list(loans.items()):
        if loan.patron_id == patron_id and code not in listed and not loan.box:
            del loans[code]
    for code, loan in lent_elsewhere.items():
        held = loans.get(code)
        if held is None:
            loans[code] = loan
        elif held.patron_id == LENT_ELSEWHERE:  # found in a box: the patron's after all
            loans[code] = replace(held, patron_id=patron_id)


def take_lent_elsewhere(
    state: CirculationState,
    on_loan: Collection[str],
    lookup: Callable[[str], Item | None],
    due: Mapping[str, date],
    now: datetime,
) -> None:
    """Items the system has on loan, not known here: kept (whose, the system knows)."""
    for code in sorted(on_loan):
        if code not in state.loans:
            item = lookup(code)
            state.loans[code] = Loan(
                barcode=code,
                patron_id=LENT_ELSEWHERE,
                since=now,
                due=due.get(code, now.date()),
                title=item.title if item else "",
            )


def lent_receipt(
    lines: Sequence[ReceiptLine],
    answers: Mapping[str, LendAnswer],
    refused: Sequence[RefusedItem],
    on_loan: Collection[str],
) -> CheckoutResult:
    """What the patron got: the loans the system made (with its due dates), and the rest.

    An item the system refused because it has it on loan to someone is `item_on_loan`.
    """
    result = CheckoutResult(refused=list(refused))
    for line in lines:
        answer = answers[line.barcode]
        if answer.made:
            result.receipt.append(replace(line, due=answer.due or line.due))
        if answer.reason is not None:
            reason = answer.reason
            if reason is Reason.ILS_REFUSED and line.barcode in on_loan:
                reason = Reason.ITEM_ON_LOAN
            result.refused.append(RefusedItem(barcode=line.barcode, reason=reason))
    return result


def settle_lent(
    state: CirculationState,
    patron_id: str,
    lines: Sequence[ReceiptLine],
    answers: Mapping[str, LendAnswer],
    now: datetime,
    *,
    kiosk: str | None,
) -> None:
    """The record after the system's answers: its loans kept (its due dates), the rest undone.

    A loan the system could not be asked about stays on the record (the patron may be
    charged; the next look-up settles it). A kiosk's count of today's loans loses the loans
    that were not made.
    """
    undone = 0
    for line in lines:
        answer = answers[line.barcode]
        if not answer.made:
            undone += 1
            if answer.reason is not Reason.PATRON_SYSTEM_UNAVAILABLE:
                state.loans.pop(line.barcode, None)
            continue
        # A look-up of the patron meanwhile may have dropped it: the system has it now.
        state.loans[line.barcode] = Loan(
            barcode=line.barcode,
            patron_id=patron_id,
            since=now,
            due=answer.due or line.due,
            title=line.title,
        )
    if undone and kiosk is not None and (station := state.kiosks.get(kiosk)) is not None:
        state.kiosks[kiosk] = replace(station, loans_today=max(0, station.loans_today - undone))
