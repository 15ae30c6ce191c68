"""What circulation knows and keeps: items, loans, return-box findings, kiosks.

The records are immutable; `CirculationState` holds them for the whole library and is what
the library's Store keeps (its `as_dict` / `from_dict` forms, which refuse damaged data rather
than drop a loan silently). The rules that change it are `circulation.py`'s.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
import re
from typing import Any

from .errors import Reason
from .identity import printable

# A barcode after upper-casing and stripping; anything else is unreadable.
BARCODE = re.compile(r"^[A-Z0-9][A-Z0-9-]{0,31}\Z")
# More barcodes than this in one request is not a patron at a kiosk or a desk.
MAX_BARCODES = 200

# What can go wrong with a kiosk; the patron is then sent to the circulation desk.
KIOSK_FAULTS: frozenset[str] = frozenset(
    {"card_reader", "barcode_reader", "magnetic_strip", "sensor", "printer", "offline"}
)

# Whose loan the library system made elsewhere (another terminal), until the patron's own
# look-up claims it.
LENT_ELSEWHERE = "-"


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


# --- the state ------------------------------------------------------------------------------------


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
