"""What the self-checkout station shows of a scan and of the patron's loans.

`async_scan` lends one scanned barcode through the circulation desk (the rules and the one
transaction the staff services take) and turns its answer into a line of the session: lent
with its due date, or refused with the reason in the library's words, and for a loan limit the
patron's count and limit. `scan_rows` and `loan_rows` are what the page prints of them. An
unknown or unreadable barcode is not shown back (it may be a card read into the wrong field).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import TYPE_CHECKING, Any, Final

from ..core.circulation_state import normalize_barcode
from ..core.errors import Reason, Refused
from ..core.identity import mask_patron_id
from ..core.kiosk_sessions import ScanLine
from .forms import fill, refusal_message

if TYPE_CHECKING:
    from ..desk import CirculationDesk

# Refusals whose barcode is not shown back: nothing the library knows, maybe not an item.
_NOT_SHOWN: Final = frozenset({Reason.UNKNOWN_ITEM.value, Reason.UNREADABLE_BARCODE.value})
MAX_BARCODE_TYPED: Final = 64


async def async_scan(desk: CirculationDesk, kiosk: str, patron_id: str, barcode: str) -> ScanLine:
    """Lend one item at the kiosk; the session's line for it.

    A kiosk fault is raised (the station goes out of service); a refusal of the patron as a
    whole (membership expired, frozen) is the line's reason.
    """
    typed = barcode.strip()[:MAX_BARCODE_TYPED]
    code = normalize_barcode(typed) or ""
    try:
        answer = await desk.async_checkout(items=[typed], patron_id=patron_id, kiosk=kiosk)
    except Refused as refusal:
        if refusal.reason is Reason.KIOSK_FAULT:
            raise
        detail = dict(refusal.placeholders)
        if "patron" in detail:
            detail["patron"] = mask_patron_id(detail["patron"]) or "-"
        return ScanLine(
            barcode=code, title=_title(desk, code), reason=refusal.reason, detail=detail
        )
    for lent in answer["receipt"]:
        return ScanLine(
            barcode=lent["barcode"], title=lent["title"], due=date.fromisoformat(lent["due"])
        )
    refused = answer["refused"][0]
    reason = refused["reason"]
    detail = {}
    if reason == Reason.LOAN_LIMIT_REACHED:
        loans = await desk.async_patron_loans(patron_id)
        detail = {"count": str(len(loans["loans"])), "limit": str(loans["item_limit"])}
    return ScanLine(
        barcode=refused["barcode"], title=_title(desk, code), reason=reason, detail=detail
    )


def _title(desk: CirculationDesk, code: str) -> str:
    item = desk.rules.item(code) if code else None
    return item.title if item is not None else ""


def scan_rows(words: Mapping[str, str], lines: Iterable[ScanLine]) -> list[dict[str, Any]]:
    """The lines as the page and the receipt print them, in the order scanned."""
    rows = []
    for line in lines:
        if line.reason is None:
            rows.append(
                {
                    "lent": True,
                    "barcode": line.barcode,
                    "title": line.title,
                    "due": fill(words["due"], {"date": _day(line.due)}),
                    "due_date": _day(line.due),
                }
            )
            continue
        shown = line.reason not in _NOT_SHOWN
        refusal = Refused(Reason(line.reason))
        refusal.placeholders.update(line.detail)
        advice = words.get(f"advice_{line.reason}")
        rows.append(
            {
                "lent": False,
                "barcode": line.barcode if shown else words["unknown_barcode"],
                "title": line.title if shown else "",
                "message": refusal_message(words, refusal),
                "advice": fill(advice, dict(line.detail)) if advice else "",
            }
        )
    return rows


def loan_rows(
    words: Mapping[str, str], loans: Mapping[str, Any], *, listed: bool
) -> dict[str, Any]:
    """The patron's standing (may they borrow?) and, if `listed`, their loans ("My items")."""
    count = len(loans["loans"])
    values: dict[str, Any] = {
        "my_items_title": fill(
            words["my_items_title"], {"count": str(count), "limit": str(loans["item_limit"])}
        ),
        "blocked": None,
    }
    if loans.get("suspended"):
        values["blocked"] = words["error_membership_suspended"]
    elif loans.get("expired"):
        values["blocked"] = words["error_membership_expired"]
    elif loans.get("frozen"):
        values["blocked"] = words["frozen_notice"]
    if listed:
        values["loans"] = [
            {
                "barcode": loan["barcode"],
                "title": loan["title"],
                "due": fill(words["due"], {"date": loan["due"]}),
                "overdue": loan["overdue"],
                "in_box": loan["awaiting_scan_back"],
            }
            for loan in loans["loans"]
        ]
    return values


def _day(value: date | None) -> str:
    return value.isoformat() if value is not None else "-"
