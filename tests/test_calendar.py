"""The site's calendar of long-term reservations: a month-long event per room and month."""

from __future__ import annotations

from datetime import date
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import STATE_OFF, STATE_ON
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.translation import async_get_translations
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.ntnu_library.calendar import reservation_event
from custom_components.ntnu_library.const import DOMAIN

from .conftest import call_service

CALENDAR = "calendar.main_library_long_term_reservations"
NEXT_MONTH = "2025-04"


async def _events(hass: HomeAssistant, start: str, end: str) -> list[dict[str, Any]]:
    response = await hass.services.async_call(
        "calendar",
        "get_events",
        {"entity_id": CALENDAR, "start_date_time": start, "end_date_time": end},
        blocking=True,
        return_response=True,
    )
    assert response is not None
    events: list[dict[str, Any]] = response[CALENDAR]["events"]  # type: ignore[index]
    return sorted(events, key=lambda event: (event["start"], event["summary"]))


async def test_this_months_reservations_are_on(
    hass: HomeAssistant, frozen_clock: FrozenDateTimeFactory, init_integration: MockConfigEntry
) -> None:
    """The demo: D0001 holds L01 and X0001 holds L02 this month (March 2025)."""
    state = hass.states.get(CALENDAR)
    assert state is not None
    assert state.state == STATE_ON
    assert state.attributes["message"] == "L01 D***1"
    assert state.attributes["all_day"] is True
    assert (state.attributes["start_time"], state.attributes["end_time"]) == (
        "2025-03-01 00:00:00",
        "2025-04-01 00:00:00",
    )
    entity = er.async_get(hass).async_get(CALENDAR)
    assert entity is not None and entity.translation_key == "long_term_reservations"
    en = await async_get_translations(hass, "en", "entity", [DOMAIN])
    zh = await async_get_translations(hass, "zh-Hant", "entity", [DOMAIN])
    key = f"component.{DOMAIN}.entity.calendar.long_term_reservations.name"
    assert (en[key], zh[key]) == ("Long-term reservations", "長期研究室登記")


async def test_future_reservations_are_listed_and_cancelled_ones_go(
    hass: HomeAssistant, frozen_clock: FrozenDateTimeFactory, init_integration: MockConfigEntry
) -> None:
    await call_service(
        hass, "reserve_long_term", {"room": "L03", "patron_id": "G0001", "month": NEXT_MONTH}
    )
    events = await _events(hass, "2025-03-01T00:00:00+08:00", "2025-06-01T00:00:00+08:00")
    assert [(e["summary"], e["start"], e["end"]) for e in events] == [
        ("L01 D***1", "2025-03-01", "2025-04-01"),
        ("L02 X***1", "2025-03-01", "2025-04-01"),
        ("L03 G***1", "2025-04-01", "2025-05-01"),
    ]
    assert {e["description"] for e in events} == {
        "個人長期研究室 L01",
        "個人長期研究室 L02",
        "個人長期研究室 L03",
    }
    assert all(e["location"] == "Main Library" for e in events)
    # Only what overlaps the range asked for.
    april = await _events(hass, "2025-04-01T00:00:00+08:00", "2025-04-30T00:00:00+08:00")
    assert [e["summary"] for e in april] == ["L03 G***1"]
    # No full patron ID anywhere.
    assert not any(pid in str(events) for pid in ("D0001", "X0001", "G0001"))

    await call_service(hass, "cancel_reservation", {"room": "L03", "month": NEXT_MONTH})
    assert await _events(hass, "2025-04-01T00:00:00+08:00", "2025-04-30T00:00:00+08:00") == []


async def test_the_running_event_follows_a_cancellation(
    hass: HomeAssistant, frozen_clock: FrozenDateTimeFactory, init_integration: MockConfigEntry
) -> None:
    """L01's month cancelled: the calendar shows L02's, still on; both gone, it is off."""
    await call_service(hass, "cancel_reservation", {"room": "L01", "month": "2025-03"})
    state = hass.states.get(CALENDAR)
    assert state is not None
    assert (state.state, state.attributes["message"]) == (STATE_ON, "L02 X***1")
    await call_service(hass, "cancel_reservation", {"room": "L02", "month": "2025-03"})
    state = hass.states.get(CALENDAR)
    assert state is not None
    assert state.state == STATE_OFF


async def test_the_calendar_turns_off_when_the_month_ends(
    hass: HomeAssistant, frozen_clock: FrozenDateTimeFactory, init_integration: MockConfigEntry
) -> None:
    """Past the month's end (and once the month's holds are dropped) nothing runs."""
    state = hass.states.get(CALENDAR)
    assert state is not None and state.state == STATE_ON
    frozen_clock.move_to("2025-04-01 00:00:30+08:00")
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    state = hass.states.get(CALENDAR)
    assert state is not None
    assert state.state == STATE_OFF


def test_a_december_reservation_ends_on_the_first_of_january(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    event = reservation_event(init_integration.runtime_data, "L01", "2025-12", "D0001")
    assert (event.start, event.end, event.summary) == (
        date(2025, 12, 1),
        date(2026, 1, 1),
        "L01 D***1",
    )
