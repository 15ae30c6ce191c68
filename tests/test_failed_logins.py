"""The staff's sensor of failed logins: a count of guesses in the last hour, never the IDs."""

from __future__ import annotations

from datetime import timedelta
import time
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.ntnu_library.sensor import SIGNAL_COOLDOWN_SECONDS

from .conftest import PASSWORD, patron_action

SENSOR = "sensor.main_library_failed_logins_last_hour"
WRONG = "not-the-password"
MADE_UP = "ZQ123456"
CALLER = "user:someone-at-the-kiosk"


async def _wrong_login(hass: HomeAssistant, patron_id: str, password: str = WRONG) -> None:
    with pytest.raises(ServiceValidationError) as err:
        await patron_action(hass, "borrow", "T01", patron_id, password, caller=CALLER)
    assert err.value.translation_key == "invalid_credentials"


def _reading(hass: HomeAssistant) -> tuple[str, dict[str, Any]]:
    state = hass.states.get(SENSOR)
    assert state is not None
    return state.state, dict(state.attributes)


async def _later(hass: HomeAssistant, freezer: FrozenDateTimeFactory, seconds: float) -> None:
    freezer.tick(timedelta(seconds=seconds))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()


async def test_the_sensor_is_a_diagnostic_of_the_site(
    hass: HomeAssistant, init_integration: MockConfigEntry, entity_registry: er.EntityRegistry
) -> None:
    entry = entity_registry.async_get(SENSOR)
    assert entry is not None
    assert entry.unique_id == f"{init_integration.entry_id}_failed_logins"
    assert entry.translation_key == "failed_logins"
    assert entry.entity_category is EntityCategory.DIAGNOSTIC
    site = entity_registry.async_get("sensor.main_library_idle_rooms")
    assert site is not None
    assert entry.device_id == site.device_id
    state = hass.states.get(SENSOR)
    assert state is not None
    assert state.state == "0"
    assert state.attributes["patron_ids"] == 0
    assert state.attributes["state_class"] == "measurement"
    assert state.attributes["unit_of_measurement"] == "logins"
    assert state.attributes["friendly_name"] == "Main Library Failed logins (last hour)"


async def test_freezegun_moves_the_throttles_clock(freezer: FrozenDateTimeFactory) -> None:
    """The throttle reads time.monotonic(); the freezer moves it, so an hour can pass."""
    before = time.monotonic()
    freezer.tick(timedelta(hours=1))
    assert time.monotonic() - before == pytest.approx(3600)


async def test_failed_logins_counted_for_staff(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, init_integration: MockConfigEntry
) -> None:
    """Three wrong logins for two IDs (one real, one made up): 3, for 2 IDs; gone in an hour."""
    state, attributes = _reading(hass)
    assert (state, attributes["patron_ids"]) == ("0", 0)

    await _wrong_login(hass, "S0001")
    # The first change is shown at once.
    state, attributes = _reading(hass)
    assert (state, attributes["patron_ids"]) == ("1", 1)

    await _wrong_login(hass, MADE_UP)
    await _wrong_login(hass, "S0001")
    # A burst is shown once its cooldown has passed: a flood of guesses is not a flood of
    # state changes for the recorder.
    assert _reading(hass)[0] == "1"
    await _later(hass, freezer, SIGNAL_COOLDOWN_SECONDS)
    state, attributes = _reading(hass)
    assert (state, attributes["patron_ids"]) == ("3", 2)
    # Staff see whom the guesses were for, masked, and only patrons: what else was typed is
    # counted, never shown.
    assert attributes["guessed_patrons"] == {"S***1": 2}
    assert set(attributes) == {
        "patron_ids",
        "guessed_patrons",
        "state_class",
        "unit_of_measurement",
        "friendly_name",
    }
    everything = str(hass.states.get(SENSOR))
    for typed in ("S0001", MADE_UP, MADE_UP[:4], WRONG, PASSWORD, CALLER):
        assert typed not in everything

    # A correct login is not a failure, and the failures stay counted. (Returning a room the
    # patron does not hold: the login succeeds and no room changes, so nothing else writes the
    # sensor's state from here on.)
    with pytest.raises(ServiceValidationError) as err:
        await patron_action(hass, "return", "T01", "S0001", PASSWORD, caller=CALLER)
    assert err.value.translation_key == "room_not_in_use"  # past the login
    await _later(hass, freezer, SIGNAL_COOLDOWN_SECONDS)
    state, attributes = _reading(hass)
    assert (state, attributes["patron_ids"]) == ("3", 2)

    # The count falls as the failures age out of the hour: read again every minute.
    await _later(hass, freezer, 3000)
    assert _reading(hass)[0] == "3"
    await _later(hass, freezer, 600)
    state, attributes = _reading(hass)
    assert (state, attributes["patron_ids"]) == ("0", 0)
    assert attributes["guessed_patrons"] == {}


async def test_the_readings_end_with_the_entity(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, init_integration: MockConfigEntry
) -> None:
    """The minute's reading and the cooldown stop with the entity (no lingering timer)."""
    await _wrong_login(hass, MADE_UP)
    await _wrong_login(hass, MADE_UP)  # shown when the cooldown ends: a timer is waiting
    assert _reading(hass)[0] == "1"
    assert await hass.config_entries.async_unload(init_integration.entry_id)
    await hass.async_block_till_done()
    state = hass.states.get(SENSOR)
    assert state is not None
    assert state.state == "unavailable"
    # No timer of the sensor is left behind to write its state again.
    await _later(hass, freezer, 120)
    state = hass.states.get(SENSOR)
    assert state is not None
    assert state.state == "unavailable"
