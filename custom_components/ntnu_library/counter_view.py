"""What the counter panel shows staff: a site's rooms and return boxes, and one patron in full.

Only counter staff and administrators read these (counter_ws.py checks who asks): the patron
in front of them by full ID and name, with their rooms, freeze, check-in, login lock, loans
and membership. Nothing here changes state; the loans of an ILS site are followed the way the
`patron_loans` service follows them.
"""

from __future__ import annotations

from datetime import datetime
import math
from typing import TYPE_CHECKING, Any

from homeassistant.util import dt as dt_util

from .core.categories import BY_AGREEMENT_ZH, CATEGORIES, category
from .core.errors import Reason, Refused
from .core.model import Patron, RoomKind, month_key

if TYPE_CHECKING:
    from .site import Site

# Months the panel offers for a long-term reservation: this one and the next few.
RESERVABLE_MONTHS = 4
# At most this many patrons are listed for a name that several patrons share.
MAX_MATCHES = 20


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="minutes") if moment else None


def patron_name(site: Site, patron_id: str | None) -> str | None:
    """A patron's name where the library's own directory knows it (not asked of an ILS)."""
    directory = site.patrons.directory
    if patron_id is None or directory is None:
        return None
    patron = directory.patron(patron_id)
    return patron.name if patron else None


def categories() -> list[dict[str, Any]]:
    """The patron categories staff choose from, with their names in both languages."""
    return [
        {"key": key, "en": entry.label("en"), "zh-Hant": entry.label("zh-Hant")}
        for key, entry in sorted(CATEGORIES.items(), key=lambda item: item[1].label("en"))
    ]


def site_overview(site: Site) -> dict[str, Any]:
    """A site as the counter sees it: every room it has now, its return boxes."""
    now = dt_util.now()
    return {
        "config_entry_id": site.entry_id,
        "name": site.site_name,
        "rooms": [_room(site, room_id, now) for room_id in sorted(site.rooms.rooms)],
        "boxes": [box_view(site, box) for box in site.desk.boxes],
        "months": [month_key(now, ahead=n) for n in range(RESERVABLE_MONTHS)],
        "local_directory": site.patrons.directory is not None,
    }


def _room(site: Site, room_id: str, now: datetime) -> dict[str, Any]:
    room = site.rooms.room(room_id)
    holder = site.rooms.holder(room_id, now)
    return {
        "room": room_id,
        "name": room.name,
        "kind": room.kind.value,
        "floor": room.floor,
        "status": site.status(room_id).value,
        "holder": holder,
        "holder_name": patron_name(site, holder),
        "since": _iso(site.rooms.in_use_since(room_id)),
        "lock": site.radio.lock_state(room_id).value,
        "jammed": room_id in site.doors.jammed,
    }


def box_view(site: Site, box: str) -> dict[str, Any]:
    """A return box: the items waiting for their scan-back and those set aside, by barcode."""
    circulation = site.library.circulation
    waiting = sorted(
        (loan for loan in circulation.loans.values() if loan.box == box and loan.dropped_at),
        key=lambda loan: (loan.dropped_at or dt_util.now(), loan.barcode),
    )
    return {
        "box": box,
        "waiting": [
            {
                "barcode": loan.barcode,
                "title": loan.title or _title(site, loan.barcode),
                "patron_id": loan.patron_id,
                "dropped_at": _iso(loan.dropped_at),
            }
            for loan in waiting
        ],
        "findings": [
            {"barcode": f.barcode, "reason": f.reason.value, "at": _iso(f.at)}
            for f in circulation.findings
            if f.box == box
        ],
    }


def _title(site: Site, barcode: str) -> str:
    item = site.library.circulation.catalogue.get(barcode)
    return item.title if item else ""


async def async_find(site: Site, query: str) -> list[Patron]:
    """The patrons a search finds: by ID (or an event's ref), else by card, else by name."""
    text = query.strip()
    pid = site.rooms.patron_of_ref(text, dt_util.now()) or text
    try:
        return [await site.gate.async_known_patron(pid)]
    except Refused as refusal:
        if refusal.reason is not Reason.UNKNOWN_PATRON:
            raise
    if (patron := await site.gate.async_find_by_card(text)) is not None:
        return [patron]
    named = await site.gate.async_ask(lambda: site.patrons.system.async_find_by_name(text))
    return sorted(named, key=lambda p: p.patron_id)[:MAX_MATCHES]


def match(patron: Patron) -> dict[str, Any]:
    """One patron in a list of matches."""
    return {"patron_id": patron.patron_id, "name": patron.name, "category": patron.category}


async def async_patron_view(site: Site, patron_id: str) -> dict[str, Any]:
    """Everything the counter needs about one patron, by full ID and name."""
    patron = await site.gate.async_known_patron(patron_id)
    pid = patron.patron_id
    loans = await site.desk.async_patron_loans(pid)
    now = dt_util.now()
    freeze = site.rooms.frozen(pid, now)
    failures, wait = site.gate.login_lock(pid)
    this_month = month_key(now)
    held: list[dict[str, Any]] = []
    reservations: list[dict[str, Any]] = []
    for entry_id, building in site.library.buildings.items():
        if room := building.rooms.borrowed_room(pid):
            held.append(
                {
                    "config_entry_id": entry_id,
                    "site": building.name,
                    "room": room,
                    "kind": RoomKind.TEMPORARY.value,
                    "since": _iso(building.rooms.in_use_since(room)),
                }
            )
        for room, month, holder in building.rooms.reservations():
            if holder == pid and month >= this_month:
                entry = {"config_entry_id": entry_id, "site": building.name, "room": room}
                reservations.append(entry | {"month": month})
                if month == this_month:  # a long-term room is held for its month
                    held.append(entry | {"kind": RoomKind.LONG_TERM.value, "month": month})
    boxes = sorted(
        ({"barcode": loan.barcode, "box": loan.box} for loan in _dropped(site, pid)),
        key=lambda item: item["barcode"],
    )
    return {
        "patron_id": pid,
        "name": patron.name,
        "category": loans["category"],
        "card": patron.card is not None,
        "membership_expires": loans["membership_expires"],
        "expired": loans["expired"],
        "suspended": loans["suspended"],
        "frozen": (
            {"until": _iso(freeze.until), "reason": freeze.reason} if freeze is not None else None
        ),
        "checked_in_today": site.rooms.checked_in_today(pid, now),
        "login": {"failures": failures, "wait_seconds": math.ceil(wait)},
        "rooms": held,
        "reservations": reservations,
        "item_limit": loans["item_limit"],
        "loan_period": _loan_period(loans["category"], loans["loan_period"]),
        "remaining": loans["remaining"],
        "loans": loans["loans"],
        "in_boxes": boxes,
    }


def _loan_period(key: str, english: str) -> dict[str, str]:
    """A category's loan period in both languages (partner libraries: by agreement)."""
    period = category(key).loan_period
    return {"en": english, "zh-Hant": period.label_zh if period else BY_AGREEMENT_ZH}


def _dropped(site: Site, patron_id: str) -> list[Any]:
    return [
        loan
        for loan in site.library.circulation.loans.values()
        if loan.patron_id == patron_id and loan.dropped_at is not None
    ]
