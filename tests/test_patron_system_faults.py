"""A failing or slow patron system refuses with patron_system_unavailable: no door opens."""

from __future__ import annotations

from datetime import timedelta
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import Event, HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ntnu_library.const import DOMAIN
from custom_components.ntnu_library.core.breaker import DEFAULT_OPEN_SECONDS, CircuitBreaker

from .conftest import PASSWORD, call_service, patron_action, refusal, state_of

BORROW = ("borrow", "T01", "S0001")


async def _refused(
    hass: HomeAssistant, action: str, room: str, patron_id: str, password: str = PASSWORD
) -> str:
    with pytest.raises(HomeAssistantError) as refused:
        await patron_action(hass, action, room, patron_id, password)
    return refusal(refused.value)


async def test_a_broken_patron_system_fails_secure_and_recovers(
    hass: HomeAssistant, frozen_clock: FrozenDateTimeFactory, init_integration: MockConfigEntry
) -> None:
    """Three failures open the breaker; after its pause one trial goes through."""
    runtime = init_integration.runtime_data
    runtime.gate.breaker = CircuitBreaker(failures_to_open=3)
    directory = runtime.patrons.system
    before = runtime.as_store_data()["library"]
    with patch.object(
        directory, "async_authenticate", side_effect=OSError("ILS down")
    ) as authenticate:
        for _ in range(3):
            assert await _refused(hass, *BORROW) == "patron_system_unavailable"
        assert authenticate.call_count == 3
        # Open: refused at once, the system is not even asked; staff see a repair notice.
        assert await _refused(hass, *BORROW) == "patron_system_unavailable"
        assert authenticate.call_count == 3
        issue_id = f"patron_system_down_{init_integration.entry_id}"
        issue = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
        assert issue is not None and issue.translation_placeholders["error"] == "OSError"
    assert runtime.as_store_data()["library"] == before
    assert state_of(hass, "lock.t01") == "locked"
    assert state_of(hass, "sensor.t01_status") == "idle"

    frozen_clock.tick(timedelta(seconds=DEFAULT_OPEN_SECONDS - 1))  # open, the system is back
    assert await _refused(hass, *BORROW) == "patron_system_unavailable"
    frozen_clock.tick(timedelta(seconds=1))  # the pause is over: the next request is the trial
    result = await patron_action(hass, *BORROW)
    assert result["status"] == "in_use"
    assert state_of(hass, "lock.t01") == "unlocked"
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None  # it answers again


async def test_wrong_passwords_do_not_open_the_breaker(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    runtime = init_integration.runtime_data
    runtime.gate.breaker = CircuitBreaker(failures_to_open=2)
    for patron in ("G0001", "D0001", "F0001"):
        assert await _refused(hass, "borrow", "T02", patron, "wrong") == "invalid_credentials"
    assert (await patron_action(hass, *BORROW))["status"] == "in_use"


async def test_a_card_tap_while_the_system_is_down_is_refused_and_logged(
    hass: HomeAssistant, init_integration: MockConfigEntry, events: list[Event]
) -> None:
    runtime = init_integration.runtime_data
    await patron_action(hass, *BORROW)
    await hass.services.async_call("lock", "lock", {"entity_id": "lock.t01"}, blocking=True)
    events.clear()
    with patch.object(runtime.patrons.system, "async_find_by_card", side_effect=TimeoutError):
        await call_service(
            hass, "simulate", {"room": "T01", "action": "card_tap", "card": "C-S0001"}
        )
    assert state_of(hass, "lock.t01") == "locked"
    assert [(e.data["type"], e.data["source"], e.data.get("reason")) for e in events] == [
        ("refused", "card", "patron_system_unavailable")
    ]
    # Back up: the holder's card opens again.
    await call_service(hass, "simulate", {"room": "T01", "action": "card_tap", "card": "C-S0001"})
    assert state_of(hass, "lock.t01") == "unlocked"
