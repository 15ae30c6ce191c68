"""Circulation: self-checkout kiosks, the circulation desk, the 24-hour return boxes.

From the library's own rules (seed 001):

- The kiosk reads the patron and then each item. What it cannot handle (a problem with the
  ID card, a damaged barcode, the magnetic strip, a sensor) goes to the circulation desk.
- Library-use-only titles are never lent. Accompanying materials (the CD of a book) are lent at
  the counter only, count toward the loan total and take the book's loan period: due with the
  book if the patron has it, else after the patron's own period.
- The item limit and the loan period are the patron category's (`categories.LOAN_TABLE`);
  partner-library users get the period of the agreement (`CirculationPolicy.partner_loan_days`).
- An expired or suspended membership cannot borrow, nor can a patron frozen by the study-room
  rules. Memberships are extended, and suspensions lifted, at the counter.
- Items dropped in a 24-hour return box (main, Gongguan and Linkou libraries) are scanned back
  the next day; until then the loan still counts toward the patron's limit. Only the library's
  items belong in a box, and accompanying materials never do: both are set aside for staff.

Every command either raises `Refused` and changes nothing, or changes the state and returns
what it did. A request of several items is refused item by item: the others still go through.
Time is passed in (`now`, local wall-clock time), so the rules are plain functions of state.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

from .categories import Category, category as find_category
from .circulation_state import (
    KIOSK_FAULTS,
    MAX_BARCODES,
    BoxFinding,
    CheckinResult,
    CheckoutResult,
    CirculationState,
    DropResult,
    Item,
    KioskState,
    Loan,
    Lookup,
    ReceiptLine,
    RefusedItem,
    ScanBackResult,
    normalize_barcode,
)
from .errors import Reason, Refused
from .identity import printable
from .membership import require_may_borrow
from .model import Patron

DEFAULT_PARTNER_LOAN_DAYS = 30
MAX_PARTNER_LOAN_DAYS = 365

BY_AGREEMENT = "by agreement"


# --- the options --------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class CirculationPolicy:
    """What the seed leaves to the library: the partner agreement's loan period."""

    partner_loan_days: int = DEFAULT_PARTNER_LOAN_DAYS

    def __post_init__(self) -> None:
        value = self.partner_loan_days
        if (
            not isinstance(value, int)
            or isinstance(value, bool)
            or not 1 <= value <= MAX_PARTNER_LOAN_DAYS
        ):
            raise Refused(Reason.INVALID_VALUE, field="partner_loan_days", value=str(value)[:32])

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> CirculationPolicy:
        """Build from a config entry's options, ignoring unknown keys."""
        known = {k: v for k, v in options.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def loan_period_due(self, category: str | Category, today: date) -> date:
        """When an item lent `today` to a patron of `category` is due."""
        period = _category(category).loan_period
        if period is None:  # subject to the agreement between the two libraries
            return today + timedelta(days=self.partner_loan_days)
        return period.due(today)

    def item_limit(self, category: str | Category) -> int:
        """How many items a patron of `category` may have on loan (accompanying ones too)."""
        return _category(category).item_limit

    def loan_period_label(self, category: str | Category) -> str:
        """The period as the seed prints it ("6 months", "21 days"); partners: "by agreement"."""
        period = _category(category).loan_period
        return BY_AGREEMENT if period is None else period.label_en


def _category(value: str | Category) -> Category:
    return value if isinstance(value, Category) else find_category(value)


# --- the rules ----------------------------------------------------------------------------------


class Circulation:
    """The circulation rules of one site: its kiosks, its return boxes, its loans."""

    def __init__(
        self,
        state: CirculationState | None = None,
        policy: CirculationPolicy | None = None,
        boxes: Iterable[str] = (),
        kiosks: Iterable[str] = (),
    ) -> None:
        self.state = state if state is not None else CirculationState()
        self.policy = policy if policy is not None else CirculationPolicy()
        self.boxes: tuple[str, ...] = tuple(boxes)
        self.kiosks: tuple[str, ...] = tuple(kiosks)
        # The state is the library's, shared by its sites: another site's kiosks are in it too.
        # Loans waiting in a removed box stay on the record: the desk checks them in.

    # --- queries ---------------------------------------------------------------------------

    def item(self, barcode: str, lookup: Lookup | None = None) -> Item | None:
        """The catalogue's item (or the library system's, through `lookup`), if any."""
        code = normalize_barcode(barcode)
        if code is None:
            return None
        return (lookup or self.state.catalogue.get)(code)

    def loans_of(self, patron_id: str) -> list[Loan]:
        """The patron's loans on the record (those awaiting scan-back too), by due date."""
        return sorted(
            (loan for loan in self.state.loans.values() if loan.patron_id == patron_id),
            key=lambda loan: (loan.due, loan.barcode),
        )

    def loans_counted(self, patron_id: str) -> int:
        """What counts toward the item limit: the computer record, scan-back pending or not."""
        return sum(1 for loan in self.state.loans.values() if loan.patron_id == patron_id)

    def patron_loans(self, patron: Patron, today: date, *, frozen: bool = False) -> dict[str, Any]:
        """The patron's loans and rights, JSON-safe (for the patron page and services)."""
        found = find_category(patron.category)
        limit = self.policy.item_limit(found)
        loans = self.loans_of(patron.patron_id)
        expires = patron.membership_expires
        return {
            "category": found.key,
            "item_limit": limit,
            "loan_period": self.policy.loan_period_label(found),
            "loans": [
                {
                    "barcode": loan.barcode,
                    "title": self._title(loan),
                    "due": loan.due.isoformat(),
                    "overdue": loan.due < today,
                    "awaiting_scan_back": loan.awaiting_scan_back,
                }
                for loan in loans
            ],
            "remaining": max(0, limit - len(loans)),
            "membership_expires": expires.isoformat() if expires else None,
            "expired": expires is not None and today > expires,
            "suspended": patron.suspended,
            "frozen": frozen,
        }

    def box_status(self, box: str) -> dict[str, Any]:
        """What a return box's entity shows: items awaiting scan-back, the oldest drop."""
        box = self._box(box)
        waiting = [
            loan.dropped_at
            for loan in self.state.loans.values()
            if loan.box == box and loan.dropped_at is not None
        ]
        return {
            "waiting": len(waiting),
            "oldest": min(waiting) if waiting else None,
            "flagged": sum(1 for f in self.state.findings if f.box == box),
        }

    def kiosk_status(self, kiosk: str, today: date) -> dict[str, Any]:
        """What a kiosk's entities show: its fault (None: working) and today's loans."""
        state = self._kiosk(kiosk)
        return {
            "fault": state.fault,
            "loans_today": state.loans_today if state.day == today else 0,
        }

    # --- lending ---------------------------------------------------------------------------

    def checkout(
        self,
        patron: Patron,
        barcodes: Sequence[str],
        now: datetime,
        *,
        frozen: bool,
        kiosk: str | None,
        frozen_until: str | None = None,
        lookup: Lookup | None = None,
    ) -> CheckoutResult:
        """Lend items to a patron at a kiosk, or at the circulation desk (`kiosk` None).

        The patron is refused as a whole (unknown kiosk, kiosk fault, suspended or expired
        membership, frozen rights); items one by one, in order, the others still go through.
        `frozen` and `frozen_until` come from the study-room rules. `lookup` replaces the local
        catalogue (a SIP2 site asks the library system).
        """
        today = now.date()
        if kiosk is not None:
            station = self._kiosk(kiosk)
            if station.fault is not None:
                raise Refused(Reason.KIOSK_FAULT, kiosk=kiosk, fault=station.fault)
        found = find_category(patron.category)
        require_may_borrow(patron, today, frozen=frozen, frozen_until=frozen_until)
        codes = _barcodes(barcodes)
        find = lookup or self.state.catalogue.get
        limit = self.policy.item_limit(found)
        counted = self.loans_counted(patron.patron_id)

        accepted: list[Item] = []
        result = CheckoutResult()
        seen: set[str] = set()
        for raw in codes:
            code = normalize_barcode(raw)
            if code is None:
                result.refused.append(RefusedItem(barcode=_shown(raw), reason=_UNREADABLE))
                continue
            if code in seen:
                result.refused.append(RefusedItem(barcode=code, reason=Reason.DUPLICATE_ITEM))
                continue
            seen.add(code)
            item = find(code)
            loan = self.state.loans.get(code)
            reason: Reason | None = None
            if item is None:
                reason = Reason.UNKNOWN_ITEM
            elif item.library_use_only:
                reason = Reason.LIBRARY_USE_ONLY
            elif item.accompanies is not None and kiosk is not None:
                reason = Reason.ACCOMPANYING_MATERIAL_COUNTER_ONLY
            elif loan is not None and loan.patron_id == patron.patron_id:
                reason = Reason.ALREADY_BORROWED
            elif loan is not None:
                reason = Reason.ITEM_ON_LOAN
            elif counted + len(accepted) >= limit:
                reason = Reason.LOAN_LIMIT_REACHED
            if reason is not None:
                result.refused.append(RefusedItem(barcode=code, reason=reason))
            elif item is not None:
                accepted.append(replace(item, barcode=code))

        # Due dates once everything is known: a CD may come before its book in the request.
        period_due = self.policy.loan_period_due(found, today)
        books = {item.barcode for item in accepted if item.accompanies is None}
        for item in accepted:
            due = period_due
            book = normalize_barcode(item.accompanies)
            if book is not None and book not in books:
                held = self.state.loans.get(book)
                if held is not None and held.patron_id == patron.patron_id:
                    due = held.due
            result.receipt.append(ReceiptLine(barcode=item.barcode, title=item.title, due=due))

        for line in result.receipt:
            self.state.loans[line.barcode] = Loan(
                barcode=line.barcode,
                patron_id=patron.patron_id,
                since=now,
                due=line.due,
                title=line.title,
            )
        if kiosk is not None and result.receipt:
            self._count_loans(kiosk, today, len(result.receipt))
        return result

    def checkin(self, barcodes: Sequence[str], now: datetime) -> CheckinResult:
        """Items returned at the circulation desk (those waiting in a box too) leave the record."""
        codes = _barcodes(barcodes)
        result = CheckinResult()
        seen: set[str] = set()
        for raw in codes:
            code = normalize_barcode(raw)
            if code is None:
                result.refused.append(RefusedItem(barcode=_shown(raw), reason=_UNREADABLE))
            elif code in seen:
                result.refused.append(RefusedItem(barcode=code, reason=Reason.DUPLICATE_ITEM))
            elif code not in self.state.loans:
                seen.add(code)
                result.refused.append(RefusedItem(barcode=code, reason=Reason.NOT_ON_LOAN))
            else:
                seen.add(code)
                result.checked_in.append(code)
        for code in result.checked_in:
            del self.state.loans[code]
        return result

    # --- the kiosks ------------------------------------------------------------------------

    def kiosk_fault(self, kiosk: str, fault: str) -> None:
        """A kiosk reports a fault: patrons are sent to the circulation desk until it clears."""
        state = self._kiosk(kiosk)
        if not isinstance(fault, str) or fault not in KIOSK_FAULTS:
            raise Refused(Reason.INVALID_VALUE, field="fault", value=str(fault)[:32])
        self.state.kiosks[kiosk] = replace(state, fault=fault)

    def clear_kiosk_fault(self, kiosk: str) -> None:
        """The kiosk works again (clearing a working kiosk changes nothing)."""
        state = self._kiosk(kiosk)
        if state.fault is not None:
            self.state.kiosks[kiosk] = replace(state, fault=None)

    # --- the 24-hour return boxes ----------------------------------------------------------

    def drop_in_box(
        self, box: str, barcodes: Sequence[str], now: datetime, *, lookup: Lookup | None = None
    ) -> DropResult:
        """Items dropped in a return box: loans await scan-back, the rest is set aside.

        A loan awaiting scan-back still counts toward the patron's limit. What is not the
        library's, not on loan, or an accompanying material (which must not go in the box: it
        stays on the patron's record) is flagged for staff.
        """
        box = self._box(box)
        codes = _barcodes(barcodes)
        find = lookup or self.state.catalogue.get
        result = DropResult()
        marked: dict[str, Loan] = {}
        seen: set[str] = set()
        for raw in codes:
            code = normalize_barcode(raw)
            if code is not None and code in seen:
                continue  # read twice: one item
            reason: Reason | None = Reason.NOT_LIBRARY_ITEM
            if code is not None:
                seen.add(code)
                item = find(code)
                loan = self.state.loans.get(code)
                if item is not None and item.accompanies is not None:
                    reason = Reason.ACCOMPANYING_MATERIAL_IN_BOX
                elif loan is not None:
                    reason = None
                    if loan.dropped_at is None:  # else it already waits (the first drop counts)
                        marked[code] = replace(loan, box=box, dropped_at=now)
                    result.accepted.append(code)
                elif item is not None:
                    reason = Reason.NOT_ON_LOAN
            if reason is not None:
                shown = code if code is not None else _shown(raw)
                result.flagged.append(BoxFinding(box=box, barcode=shown, reason=reason, at=now))
        self.state.loans.update(marked)
        # An item read again in the box is still one item set aside.
        known = {(f.box, f.barcode, f.reason) for f in self.state.findings}
        self.state.findings.extend(
            f for f in result.flagged if (f.box, f.barcode, f.reason) not in known
        )
        return result

    def scan_back(self, box: str, now: datetime) -> ScanBackResult:
        """Staff (or an automation at opening) scan back a box: its items are checked in.

        The box's findings (dropped up to `now`) are handed to staff and leave the state.
        """
        box = self._box(box)
        waiting = sorted(
            (
                loan
                for loan in self.state.loans.values()
                if loan.box == box and loan.dropped_at is not None and loan.dropped_at <= now
            ),
            key=lambda loan: (loan.dropped_at or now, loan.barcode),
        )
        handed = [f for f in self.state.findings if f.box == box and f.at <= now]
        for loan in waiting:
            del self.state.loans[loan.barcode]
        if handed:
            self.state.findings = [f for f in self.state.findings if f not in handed]
        return ScanBackResult(checked_in=[loan.barcode for loan in waiting], flagged=handed)

    # --- helpers ---------------------------------------------------------------------------

    def _box(self, box: str) -> str:
        if not isinstance(box, str) or box not in self.boxes:
            raise Refused(Reason.UNKNOWN_BOX, box=printable(str(box), 32))
        return box

    def _kiosk(self, kiosk: str) -> KioskState:
        if not isinstance(kiosk, str) or kiosk not in self.kiosks:
            raise Refused(Reason.UNKNOWN_KIOSK, kiosk=printable(str(kiosk), 32))
        return self.state.kiosks.get(kiosk) or KioskState()

    def _count_loans(self, kiosk: str, today: date, count: int) -> None:
        state = self._kiosk(kiosk)
        before = state.loans_today if state.day == today else 0  # a new day starts at 0
        self.state.kiosks[kiosk] = replace(state, loans_today=before + count, day=today)

    def _title(self, loan: Loan) -> str:
        if loan.title:
            return loan.title
        item = self.state.catalogue.get(loan.barcode)
        return item.title if item is not None else ""


_UNREADABLE = Reason.UNREADABLE_BARCODE


def _barcodes(barcodes: Sequence[str]) -> Sequence[str]:
    # A lone string would be read character by character.
    if not isinstance(barcodes, (list, tuple)) or len(barcodes) > MAX_BARCODES:
        raise Refused(Reason.INVALID_VALUE, field="barcodes", value=str(barcodes)[:32])
    return barcodes


def _shown(raw: object) -> str:
    """An unreadable barcode as staff may see it: printable and short."""
    return printable(str(raw).strip(), 32)
