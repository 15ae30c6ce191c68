"""The site's long-term reservations as a calendar: one month-long event per room and month.

Read from the site's rooms as the rules keep them (however a reservation was made: a staff
service, the counter panel or a patron's own reservation page), this month's and the months
ahead alike. An event names the room and its holder, masked; it is on while the month runs.
"""

from __future__ import annotations

from datetime import date, datetime

from homeassistant.components.calendar import CalendarEntity, CalendarEvent
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.util import dt as dt_util

from . import NtnuLibraryConfigEntry
from .core.identity import mask_patron_id
from .entity import NtnuLibraryEntity
from .site import Site

PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant,
    entry: NtnuLibraryConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """One calendar per site."""
    async_add_entities([LongTermReservations(entry.runtime_data)])


def reservation_event(runtime: Site, room_id: str, month: str, patron_id: str) -> CalendarEvent:
    """A long-term reservation as an all-day event from the month's first day to the next's."""
    year, number = (int(part) for part in month.split("-"))
    start = date(year, number, 1)
    end = date(year + number // 12, number % 12 + 1, 1)
    room = runtime.rooms.rooms.get(room_id)
    return CalendarEvent(
        start=start,
        end=end,
        summary=f"{room_id} {mask_patron_id(patron_id) or ''}".strip(),
        description=room.name if room is not None else None,
        location=runtime.site_name,
        uid=f"{runtime.entry_id}_{room_id}_{month}",
    )


class LongTermReservations(NtnuLibraryEntity, CalendarEntity):
    """Long-term rooms held per month, this month's and those ahead."""

    _attr_translation_key = "long_term_reservations"

    def __init__(self, runtime: Site) -> None:
        super().__init__(runtime, "long_term_reservations")
        self._reservations: tuple[tuple[str, str, str], ...] | None = None  # as last written

    @callback
    def _handle_room_update(self, room_id: str | None) -> None:
        """Write again only when the reservations changed (not at every tap of every room).

        Writing also sets Home Assistant's timers for the running event's end and the next
        one's start, so the state moves on by itself while the reservations stay the same.
        """
        reservations = tuple(self.runtime.rooms.reservations())
        if reservations == self._reservations:
            return
        self._reservations = reservations
        self.async_write_ha_state()

    def _events(self) -> list[CalendarEvent]:
        return [
            reservation_event(self.runtime, room_id, month, patron_id)
            for room_id, month, patron_id in self.runtime.rooms.reservations()
        ]

    @property
    def event(self) -> CalendarEvent | None:
        """The reservation running now (the first room's), or else the next to start."""
        now = dt_util.now()
        upcoming = [event for event in self._events() if event.end_datetime_local > now]
        return min(
            upcoming, key=lambda event: (event.start_datetime_local, event.summary), default=None
        )

    async def async_get_events(
        self, hass: HomeAssistant, start_date: datetime, end_date: datetime
    ) -> list[CalendarEvent]:
        """The reservations that overlap the range."""
        return [
            event
            for event in self._events()
            if event.start_datetime_local < end_date and event.end_datetime_local > start_date
        ]
