"""Loans of record in the library's ILS over SIP2 (the loan backend of a SIP2 site).

Before a decision the ILS is asked for the patron's loans (Patron Information, charged items)
and for each item (Item Information); after it, the loans the rules allowed are made in the
ILS (Checkout), whose due date is the one shown; a check-in or a scan-back checks items in
(Checkin). Every question passes the patron gate's circuit breaker; an ILS that does not
answer refuses the request, nothing having changed here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, Protocol

from homeassistant.util import dt as dt_util

from .core.circulation import CirculationPolicy
from .core.circulation_state import (
    LENT_ELSEWHERE,
    MAX_BARCODES,
    CirculationState,
    Item,
    Loan,
    ReceiptLine,
    normalize_barcode,
)
from .core.errors import Reason, Refused
from .core.loans_elsewhere import LendAnswer
from .core.model import Patron
from .gate import PatronGate
from .loans import LoanView


class IlsCirculation(Protocol):
    """The circulation messages of the ILS, as the SIP2 patron system answers them."""

    async def async_item_information(self, barcode: str) -> Any:
        """The item (title, library use only, accompanying, on loan, due date) or None."""

    async def async_charged_items(self, patron_id: str) -> Any:
        """The patron's loans (`items`: barcodes) or None for an unknown patron."""

    async def async_checkout(self, patron_id: str, barcode: str, *, no_block: bool) -> Any:
        """Lend an item (`ok`, `due_date`)."""

    async def async_checkin(self, barcode: str, *, return_date: datetime) -> Any:
        """Check an item in (`ok`: it was on loan)."""


class IlsLoans:
    """The loan backend of a site whose patrons and loans are the ILS's."""

    ils = True

    def __init__(
        self,
        *,
        ils: IlsCirculation,
        gate: PatronGate,
        state: CirculationState,
        policy: CirculationPolicy,
    ) -> None:
        """`state`: the library's record, read to know which loans are news."""
        self._ils = ils
        self._gate = gate
        self._state = state
        self._policy = policy

    async def async_view(self, patron: Patron | None, barcodes: Sequence[str]) -> LoanView:
        """The patron's loans as the ILS lists them (a patron given), and these items."""
        listed: frozenset[str] | None = None
        lent_elsewhere: dict[str, Loan] = {}
        if patron is not None:
            listed, lent_elsewhere = await self._async_patron_loans(patron)
        if not barcodes:
            return LoanView(listed=listed, lent_elsewhere=lent_elsewhere)
        found: dict[str, Item | None] = {}
        on_loan: set[str] = set()
        due: dict[str, date] = {}
        for code in _codes(barcodes):
            info = await self._gate.async_ask(
                lambda code=code: self._ils.async_item_information(code)  # type: ignore[misc]
            )
            if info is not None and info.on_loan:
                on_loan.add(code)
                if info.due_date is not None:
                    due[code] = info.due_date
            found[code] = None if info is None else _item(code, info)
        return LoanView(
            lookup=found.get,
            on_loan=frozenset(on_loan),
            due=due,
            listed=listed,
            lent_elsewhere=lent_elsewhere,
        )

    async def _async_patron_loans(self, patron: Patron) -> tuple[frozenset[str], dict[str, Loan]]:
        """Loans the ILS lists for the patron, and those of them not known here."""
        pid = patron.patron_id
        listing = await self._gate.async_ask(lambda: self._ils.async_charged_items(pid))
        listed = frozenset(
            code
            for code in (normalize_barcode(raw) for raw in (listing.items if listing else []))
            if code is not None
        )
        loans = self._state.loans
        now = dt_util.now()
        news: dict[str, Loan] = {}
        for code in sorted(listed):
            held = loans.get(code)
            if held is not None:
                if held.patron_id == LENT_ELSEWHERE:  # found in a box: the patron's after all
                    news[code] = held
                continue
            info = await self._gate.async_ask(
                lambda code=code: self._ils.async_item_information(code)  # type: ignore[misc]
            )
            due_date = (info.due_date if info else None) or self._policy.loan_period_due(
                patron.category, now.date()
            )
            news[code] = Loan(
                barcode=code,
                patron_id=pid,
                since=now,
                due=due_date,
                title=(info.title if info else "") or "",
            )
        return listed, news

    async def async_lend(
        self, patron: Patron, lines: Sequence[ReceiptLine]
    ) -> dict[str, LendAnswer] | None:
        """Checkout at the ILS for each line, one after another."""
        return {line.barcode: await self._async_lend(patron, line.barcode) for line in lines}

    async def _async_lend(self, patron: Patron, barcode: str) -> LendAnswer:
        """A checkout whose answer is lost may have been made: the patron's loans tell.

        When even they cannot be read, whether the ILS lent is not known (the patron is told
        the ILS did not answer; the next look-up settles it).
        """
        pid = patron.patron_id
        try:
            answer = await self._gate.async_ask(
                lambda: self._ils.async_checkout(pid, barcode, no_block=False)
            )
        except Refused:
            try:
                charged = await self._gate.async_ask(lambda: self._ils.async_charged_items(pid))
            except Refused:
                return LendAnswer(
                    barcode=barcode, made=False, reason=Reason.PATRON_SYSTEM_UNAVAILABLE
                )
            listed = {normalize_barcode(code) for code in (charged.items if charged else [])}
            if barcode in listed:
                return LendAnswer(barcode=barcode, made=True)
            return LendAnswer(barcode=barcode, made=False, reason=Reason.ILS_REFUSED)
        if answer.ok:
            return LendAnswer(barcode=barcode, made=True, due=answer.due_date)
        return LendAnswer(barcode=barcode, made=False, reason=Reason.ILS_REFUSED)

    async def async_check_in(self, barcodes: Sequence[str], when: datetime) -> list[str]:
        """Checkin at the ILS, one item after another; an ILS that does not answer refuses."""
        taken: list[str] = []
        for code in _codes(barcodes):
            answer = await self._gate.async_ask(
                lambda code=code: self._ils.async_checkin(code, return_date=when)  # type: ignore[misc]
            )
            if answer.ok:
                taken.append(code)
        return taken


def _codes(barcodes: Sequence[str]) -> list[str]:
    """The readable barcodes of a request, each once, as many as one request may carry."""
    codes = (normalize_barcode(raw) for raw in barcodes[:MAX_BARCODES])
    return list(dict.fromkeys(code for code in codes if code is not None))


def _item(code: str, info: Any) -> Item:
    return Item(
        barcode=code,
        title=info.title or code,
        library_use_only=info.library_use_only,
        accompanies=info.accompanies,
    )
