"""A patron's own long-term reservations: what is offered, reserving and cancelling.

What the reservation page shows a logged-in patron (the long-term rooms still free this month
and next, and their own reservations in every building of the library) and what it does for
them. Reserving and cancelling take the site's one command path (doors.py): the rules decide
in the library's one transaction, the reservation is written to the site's Store before the
patron is answered, and the room's entities follow. Many patrons asking at once are decided
one after another, each against what the others already got, so a room goes to one patron
only and every other is told why not.

The rules are the site's options (core/reservation_rules.py), read when asked, so a change in
the options flow counts from the next request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
import logging
from typing import TYPE_CHECKING, Any

from homeassistant.core import HomeAssistant

from .core.errors import Refused
from .core.model import Patron, Room, month_key
from .core.reservation_rules import (
    LongTermRules,
    cancel,
    check_reserve,
    free_rooms,
    held_by,
    long_term_rooms,
    reserve,
)
from .core.study_rooms import StudyRooms

if TYPE_CHECKING:
    from .site import Site

_LOGGER = logging.getLogger(__package__)


def rules_of(hass: HomeAssistant, site: Site) -> LongTermRules:
    """The site's rules for patrons' own reservations (the defaults if its options are bad)."""
    entry = hass.config_entries.async_get_entry(site.entry_id)
    try:
        return LongTermRules.from_options(entry.options if entry is not None else {})
    except Refused as refusal:
        _LOGGER.warning(
            "Site %s: long-term reservation options not valid (%s); the defaults apply",
            site.site_name,
            refusal.placeholders.get("field", "-"),
        )
        return LongTermRules()


def reserving_sites(sites: list[Site]) -> list[Site]:
    """The sites that have long-term rooms, the first one's library only."""
    having = [site for site in sites if long_term_rooms(site.rooms)]
    if not having:
        return []
    library = having[0].library.library_id
    return [site for site in having if site.library.library_id == library]


def _buildings(site: Site) -> list[StudyRooms]:
    """Every building of the site's library (read in the transaction: all of them decided)."""
    return [building.rooms for building in site.library.buildings.values()]


@dataclass(frozen=True, slots=True)
class SiteOffer:
    """One building's long-term rooms free in a month."""

    site: Site
    free: list[Room]


@dataclass(frozen=True, slots=True)
class MonthOffer:
    """A month a patron may see: open or not (and when it opens), what is free, what is theirs.

    `held`: the long-term rooms the patron holds that month in any building of the library.
    """

    month: str
    is_open: bool
    opens: datetime
    sites: list[SiteOffer]
    held: list[str]


@dataclass(frozen=True, slots=True)
class Holding:
    """A long-term room a patron holds for a month."""

    site: Site
    room: Room
    month: str


@dataclass(frozen=True, slots=True)
class Overview:
    """What the reservation page shows a logged-in patron."""

    rules: LongTermRules
    refusal: Refused | None  # why the patron may not reserve at all (None: they may)
    months: list[MonthOffer]
    holdings: list[Holding] = field(default_factory=list)


def overview(hass: HomeAssistant, sites: list[Site], patron: Patron, now: datetime) -> Overview:
    """What the patron sees: this month and next (open? what is free?) and their reservations."""
    first = sites[0]
    rules = rules_of(hass, first)
    patron = first.gate.current(patron)
    refusal: Refused | None = None
    try:
        rules.check_patron(first.rooms, patron, now)
    except Refused as err:
        refusal = err
    months = [
        MonthOffer(
            month=month,
            is_open=rules.is_open(month, now),
            opens=rules.opens(month, now),
            sites=[SiteOffer(site=site, free=free_rooms(site.rooms, month)) for site in sites],
            held=held_by(_buildings(first), patron.patron_id, month),
        )
        for month in (month_key(now), month_key(now, ahead=1))
    ]
    holdings = [
        Holding(site=site, room=site.rooms.rooms[room_id], month=month)
        for site in sites
        for room_id, month, pid in site.rooms.reservations()
        if pid == patron.patron_id and month >= month_key(now) and room_id in site.rooms.rooms
    ]
    holdings.sort(key=lambda held: (held.month, held.site.site_name, held.room.room_id))
    return Overview(rules=rules, refusal=refusal, months=months, holdings=holdings)


def check(
    hass: HomeAssistant, site: Site, patron: Patron, room_id: str, month: str, now: datetime
) -> None:
    """Whether the patron may reserve the room now (to confirm it); Refused if not."""
    check_reserve(
        rules_of(hass, site),
        site.rooms,
        _buildings(site),
        room_id,
        site.gate.current(patron),
        month,
        now,
    )


async def async_reserve(
    hass: HomeAssistant, site: Site, patron: Patron, room_id: str, month: str
) -> dict[str, Any]:
    """Reserve the room for the patron, decided and written in the one transaction."""
    rules = rules_of(hass, site)
    outcome, _ = await site.doors.async_run(
        lambda now: reserve(
            rules,
            site.rooms,
            _buildings(site),
            room_id,
            site.gate.current(patron),
            month,
            now,
        )
    )
    return {"room": outcome.room_id, "month": month}


async def async_cancel(site: Site, patron: Patron, room_id: str, month: str) -> dict[str, Any]:
    """Cancel the patron's own reservation; a room held this month is locked."""
    outcome, door = await site.doors.async_run(
        lambda now: cancel(site.rooms, room_id, patron, month, now)
    )
    return {"room": outcome.room_id, "month": month, "door": door}
