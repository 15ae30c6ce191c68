"""Violations of the room rules, recorded by ref and counted for the library's freeze policy."""

from __future__ import annotations

from datetime import timedelta

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import Context, Event, HomeAssistant
from homeassistant.exceptions import ServiceValidationError, Unauthorized
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, MockUser

from .conftest import call_service, patron_action, refusal


async def _ref_of_a_borrow(hass: HomeAssistant, events: list[Event], room: str, patron: str) -> str:
    await patron_action(hass, "borrow", room, patron)
    ref = events[-1].data["ref"]
    assert ref.startswith("REF-")
    return str(ref)


async def test_a_violation_is_recorded_by_ref_and_counted_once(
    hass: HomeAssistant, init_integration: MockConfigEntry, events: list[Event]
) -> None:
    ref = await _ref_of_a_borrow(hass, events, "T01", "S0001")
    data = {"patron_id": ref, "reason": "closing", "days": 30}
    first = await call_service(hass, "record_violation", data)
    assert first == {"patron": "S***1", "recorded": True, "violations": 1, "days": 30}
    # The same event told again (a second automation, a retry): still one violation.
    again = await call_service(hass, "record_violation", data | {"patron_id": ref.lower()})
    assert (again["recorded"], again["violations"]) == (False, 1)
    # Staff may record one by the patron ID; each such counts.
    staff = await call_service(hass, "record_violation", {"patron_id": "S0001", "reason": "noise"})
    assert staff == {"patron": "S***1", "recorded": True, "violations": 2, "days": 30}
    # Nothing in the answer, nor in the events, names the patron in full.
    assert "S0001" not in str([first, again, staff, [e.data for e in events]])


async def test_violations_count_within_the_window_and_survive_a_restart(
    hass: HomeAssistant,
    frozen_clock: FrozenDateTimeFactory,
    init_integration: MockConfigEntry,
    events: list[Event],
) -> None:
    for _ in range(2):
        ref = await _ref_of_a_borrow(hass, events, "T01", "G0001")
        await call_service(hass, "record_violation", {"patron_id": ref, "reason": "closing"})
        await patron_action(hass, "return", "T01", "G0001")
        frozen_clock.tick(timedelta(days=5))
    assert await hass.config_entries.async_reload(init_integration.entry_id)
    await hass.async_block_till_done()
    ref = await _ref_of_a_borrow(hass, events, "T02", "G0001")
    data = {"patron_id": ref, "reason": "closing"}
    answer = await call_service(hass, "record_violation", data | {"days": 7})
    assert answer["violations"] == 2  # days 5 and 10; day 0 is 10 days old
    answer = await call_service(hass, "record_violation", data | {"days": 30})
    assert (answer["recorded"], answer["violations"]) == (False, 3)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ({"patron_id": "REF-0000DEADBEEF"}, "unknown_patron"),  # no such ref (or expired)
        ({"patron_id": "Z9999"}, "unknown_patron"),
    ],
)
async def test_a_violation_of_nobody_is_refused(
    hass: HomeAssistant, init_integration: MockConfigEntry, data: dict[str, str], reason: str
) -> None:
    with pytest.raises(ServiceValidationError) as err:
        await call_service(hass, "record_violation", data)
    assert refusal(err.value) == reason
    assert init_integration.runtime_data.rooms.patrons.violations == {}


@pytest.mark.parametrize("days", [0, 366, "many"])
async def test_the_window_is_a_number_of_days_up_to_a_year(
    hass: HomeAssistant, init_integration: MockConfigEntry, days: object
) -> None:
    with pytest.raises(Exception, match="days"):
        await call_service(hass, "record_violation", {"patron_id": "S0001", "days": days})


async def test_only_administrators_and_automations_record_violations(
    hass: HomeAssistant, init_integration: MockConfigEntry, hass_owner_user: MockUser
) -> None:
    # The owner first: the first user Home Assistant creates would become the owner.
    clerk = await hass.auth.async_create_user("clerk", group_ids=["system-users"])
    with pytest.raises(Unauthorized):
        await call_service(
            hass, "record_violation", {"patron_id": "S0001"}, context=Context(user_id=clerk.id)
        )
    assert init_integration.runtime_data.rooms.patrons.violations == {}
    answer = await call_service(hass, "record_violation", {"patron_id": "S0001"})  # automation
    assert answer["violations"] == 1
