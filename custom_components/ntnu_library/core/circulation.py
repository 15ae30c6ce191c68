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

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
import re
from typing import Any

from .categories import Category, add_months, category as find_category
from .errors import Reason, Refused
from .identity import printable
from .model import Patron

# A barcode after upper-casing and stripping; anything else is unreadable.
BARCODE = re.compile(r"^[A-Z0-9][A-Z0-9-]{0,31}\Z")
# More barcodes than this in one request is not a patron at a kiosk or a desk.
MAX_BARCODES = 200

# What can go wrong with a kiosk; the patron is then sent to the circulation desk.
KIOSK_FAULTS: frozenset[str] = frozenset(
    {"card_reader", "barcode_reader", "magnetic_strip", "sensor", "printer", "offline"}
)

DEFAULT_PARTNER_LOAN_DAYS = 30
MAX_PARTNER_LOAN_DAYS = 365
# How far ahead staff may extend a membership (a doctoral membership runs 7 years).
MAX_MEMBERSHIP_YEARS_AHEAD = 8
# Extending a membership without a date adds this much.
EXTENSION_MONTHS = 12

BY_AGREEMENT = "by agreement"


def normalize_barcode(value: object) -> str | None:
    """The barcode as the rules know it (upper-case, stripped), or None if unreadable."""
    if not isinstance(value, str):
        return None
    text = value.strip().upper()
    return text if BARCODE.match(text) else None


# --- what circulation knows --------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class Item:
    """A copy in the library's catalogue.

    `accompanies`: the barcode of the book an accompanying material (a CD) belongs to.
    """

    barcode: str
    title: str
    library_use_only: bool = False
    accompanies: str | None = None


# Finds an item by its (normalized) barcode: the local catalogue, or the library system's.
type Lookup = Callable[[str], Item | None]


@dataclass(frozen=True, kw_only=True, slots=True)
class Loan:
    """An item on loan. `box`/`dropped_at`: dropped in a return box, awaiting scan-back."""

    barcode: str
    patron_id: str
    since: datetime
    due: date
    box: str | None = None
    dropped_at: datetime | None = None
    title: str = ""  # as the receipt printed it: a SIP2 site has no catalogue to ask later

    @property
    def awaiting_scan_back(self) -> bool:
        """In a return box: still on the patron's record until staff scan it back."""
        return self.dropped_at is not None


@dataclass(frozen=True, kw_only=True, slots=True)
class BoxFinding:
    """Something in a return box that staff must deal with (not checked in)."""

    box: str
    barcode: str
    reason: Reason  # NOT_LIBRARY_ITEM, NOT_ON_LOAN or ACCOMPANYING_MATERIAL_IN_BOX
    at: datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class KioskState:
    """A kiosk's fault (None: working) and the loans it made on `day`."""

    fault: str | None = None
    loans_today: int = 0
    day: date | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class ReceiptLine:
    """One loan on the receipt."""

    barcode: str
    title: str
    due: date


@dataclass(frozen=True, kw_only=True, slots=True)
class RefusedItem:
    """An item of a request that was not lent (or not checked in), and why."""

    barcode: str
    reason: Reason


@dataclass(kw_only=True, slots=True)
class CheckoutResult:
    """What a checkout lent (the receipt) and what it did not."""

    receipt: list[ReceiptLine] = field(default_factory=list)
    refused: list[RefusedItem] = field(default_factory=list)


@dataclass(kw_only=True, slots=True)
class CheckinResult:
    """What the circulation desk checked in, and what it could not."""

    checked_in: list[str] = field(default_factory=list)
    refused: list[RefusedItem] = field(default_factory=list)


@dataclass(kw_only=True, slots=True)
class DropResult:
    """Items a return box took (awaiting scan-back) and what it set aside for staff."""

    accepted: list[str] = field(default_factory=list)
    flagged: list[BoxFinding] = field(default_factory=list)


@dataclass(kw_only=True, slots=True)
class ScanBackResult:
    """Items a scan-back checked in, and the box's findings handed to staff."""

    checked_in: list[str] = field(default_factory=list)
    flagged: list[BoxFinding] = field(default_factory=list)


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


# --- the state ----------------------------------------------------------------------------------


class DamagedState(ValueError):
    """Stored circulation data that cannot be read; the message names the record."""


type CirculationSnapshot = tuple[
    dict[str, Item], dict[str, Loan], list[BoxFinding], dict[str, KioskState]
]


@dataclass(kw_only=True, slots=True)
class CirculationState:
    """What circulation keeps across restarts.

    `catalogue` is a local site's (a SIP2 site asks the library system and passes items in);
    `loans` by barcode; `findings` are what the return boxes set aside for staff.
    """

    catalogue: dict[str, Item] = field(default_factory=dict)
    loans: dict[str, Loan] = field(default_factory=dict)
    findings: list[BoxFinding] = field(default_factory=list)
    kiosks: dict[str, KioskState] = field(default_factory=dict)

    def snapshot(self) -> CirculationSnapshot:
        """Shallow copies (the values are immutable): cheap to take, compare and restore."""
        return dict(self.catalogue), dict(self.loans), list(self.findings), dict(self.kiosks)

    def restore(self, snapshot: CirculationSnapshot) -> None:
        """Go back to a snapshot, in place."""
        catalogue, loans, findings, kiosks = snapshot
        self.catalogue, self.loans = dict(catalogue), dict(loans)
        self.findings, self.kiosks = list(findings), dict(kiosks)

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe form for the site's Store (ISO dates and times)."""
        return {
            "catalogue": {
                code: {
                    "title": item.title,
                    "library_use_only": item.library_use_only,
                    "accompanies": item.accompanies,
                }
                for code, item in sorted(self.catalogue.items())
            },
            "loans": {
                code: {
                    "patron_id": loan.patron_id,
                    "title": loan.title,
                    "since": loan.since.isoformat(),
                    "due": loan.due.isoformat(),
                    "box": loan.box,
                    "dropped_at": _iso(loan.dropped_at),
                }
                for code, loan in sorted(self.loans.items())
            },
            "findings": [
                {"box": f.box, "barcode": f.barcode, "reason": f.reason.value, "at": _iso(f.at)}
                for f in self.findings
            ],
            "kiosks": {
                kiosk: {"fault": k.fault, "loans_today": k.loans_today, "day": _iso(k.day)}
                for kiosk, k in sorted(self.kiosks.items())
            },
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CirculationState:
        """Read what `as_dict` wrote; damaged data raises ValueError naming the record."""
        if not isinstance(data, Mapping):
            raise DamagedState("circulation state: not a mapping")
        catalogue = {
            code: _record("catalogue", code, _read_item, record)
            for code, record in _section(data, "catalogue", dict).items()
        }
        loans = {
            code: _record("loans", code, _read_loan, record)
            for code, record in _section(data, "loans", dict).items()
        }
        findings = [
            _record("findings", index, lambda _index, r: _read_finding(r), record)
            for index, record in enumerate(_section(data, "findings", list))
        ]
        kiosks = {
            kiosk: _record("kiosks", kiosk, lambda _kiosk, r: _read_kiosk(r), record)
            for kiosk, record in _section(data, "kiosks", dict).items()
        }
        return cls(catalogue=catalogue, loans=loans, findings=findings, kiosks=kiosks)


def _iso(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _section(data: Mapping[str, Any], name: str, kind: type[Any]) -> Any:
    value = data.get(name)
    if value is None:  # a Store from before this section
        return kind()
    if not isinstance(value, kind):
        raise DamagedState(f"circulation state: damaged section {name}")
    return value


def _record[K, T](section: str, key: K, read: Callable[[K, Any], T], record: Any) -> T:
    try:  # a record that is not a mapping fails on its first field
        return read(key, record)
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        name = printable(str(key), 40)
        raise DamagedState(f"circulation state: damaged record {section}/{name}: {err}") from err


def _text(record: Mapping[str, Any], name: str) -> str:
    value = record[name]
    if not isinstance(value, str) or not value:
        raise TypeError(f"{name} is not a text")
    return value


def _optional_text(record: Mapping[str, Any], name: str) -> str | None:
    value = record.get(name)
    return None if value is None else _text(record, name)


def _barcode_key(code: object) -> str:
    if not isinstance(code, str) or normalize_barcode(code) != code:
        raise ValueError("not a barcode")
    return code


def _moment(record: Mapping[str, Any], name: str) -> datetime:
    return datetime.fromisoformat(_text(record, name))


def _day(record: Mapping[str, Any], name: str) -> date:
    return date.fromisoformat(_text(record, name))


def _read_item(code: object, record: Mapping[str, Any]) -> Item:
    barcode = _barcode_key(code)
    library_use_only = record.get("library_use_only", False)
    if not isinstance(library_use_only, bool):
        raise TypeError("library_use_only is not a boolean")
    accompanies = _optional_text(record, "accompanies")
    if accompanies is not None and normalize_barcode(accompanies) != accompanies:
        raise ValueError("accompanies is not a barcode")
    return Item(
        barcode=barcode,
        title=_text(record, "title"),
        library_use_only=library_use_only,
        accompanies=accompanies,
    )


def _read_loan(code: object, record: Mapping[str, Any]) -> Loan:
    barcode = _barcode_key(code)
    title = record.get("title", "")
    if not isinstance(title, str):
        raise TypeError("title is not a text")
    box = _optional_text(record, "box")
    dropped_at = None if record.get("dropped_at") is None else _moment(record, "dropped_at")
    if (box is None) != (dropped_at is None):
        raise ValueError("box and dropped_at go together")
    return Loan(
        barcode=barcode,
        patron_id=_text(record, "patron_id"),
        since=_moment(record, "since"),
        due=_day(record, "due"),
        box=box,
        dropped_at=dropped_at,
        title=title,
    )


def _read_finding(record: Mapping[str, Any]) -> BoxFinding:
    reason = Reason(_text(record, "reason"))
    if reason not in _FINDINGS:
        raise ValueError(f"{reason.value} is not a box finding")
    return BoxFinding(
        box=_text(record, "box"),
        barcode=_text(record, "barcode"),
        reason=reason,
        at=_moment(record, "at"),
    )


def _read_kiosk(record: Mapping[str, Any]) -> KioskState:
    fault = _optional_text(record, "fault")
    if fault is not None and fault not in KIOSK_FAULTS:
        raise ValueError(f"unknown fault {printable(fault, 32)}")
    loans_today = record.get("loans_today", 0)
    if isinstance(loans_today, bool) or not isinstance(loans_today, int) or loans_today < 0:
        raise TypeError("loans_today is not a count")
    day = None if record.get("day") is None else _day(record, "day")
    return KioskState(fault=fault, loans_today=loans_today, day=day)


_FINDINGS = frozenset(
    {Reason.NOT_LIBRARY_ITEM, Reason.NOT_ON_LOAN, Reason.ACCOMPANYING_MATERIAL_IN_BOX}
)


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
            "membership_expires": _iso(expires),
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

    def self_checkout(
        self,
        patron: Patron,
        barcodes: Sequence[str],
        now: datetime,
        *,
        kiosk: str,
        frozen: bool,
        frozen_until: str | None = None,
        lookup: Lookup | None = None,
    ) -> CheckoutResult:
        """`checkout` at a kiosk: the kiosk is required (None would mean the desk)."""
        if kiosk is None:
            raise Refused(Reason.UNKNOWN_KIOSK, kiosk="-")
        return self.checkout(
            patron,
            barcodes,
            now,
            frozen=frozen,
            kiosk=kiosk,
            frozen_until=frozen_until,
            lookup=lookup,
        )

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


# --- membership (counter services; the patron directory stores the new Patron) ---------------


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


# --- the demo catalogue -------------------------------------------------------------------------

DEMO_BOOKS = 500
DEMO_REFERENCES = 20
DEMO_CDS = 20


def demo_catalogue() -> dict[str, Item]:
    """Books B00001–B00500, library-use-only R00001–R00020, CDs CD-B00001–CD-B00020."""
    items: dict[str, Item] = {}
    for n in range(1, DEMO_BOOKS + 1):
        code = f"B{n:05d}"
        items[code] = Item(barcode=code, title=f"Book {n:05d} 圖書")
    for n in range(1, DEMO_REFERENCES + 1):
        code = f"R{n:05d}"
        items[code] = Item(barcode=code, title=f"Reference {n:05d} 參考書", library_use_only=True)
    for n in range(1, DEMO_CDS + 1):
        code = f"CD-B{n:05d}"
        items[code] = Item(
            barcode=code, title=f"CD of Book {n:05d} 附件光碟", accompanies=f"B{n:05d}"
        )
    return items
