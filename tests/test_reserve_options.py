"""The site's options for patrons' own long-term reservations, in the options flow."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any
from unittest.mock import AsyncMock, patch

from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ntnu_library.core.reservation_rules import LongTermRules


@pytest.fixture
def mock_setup_entry() -> Generator[AsyncMock]:
    """Keep these tests to the flow: the entry is not started."""
    with (
        patch("custom_components.ntnu_library.async_setup_entry", return_value=True) as setup,
        patch("custom_components.ntnu_library.async_unload_entry", return_value=True),
    ):
        yield setup


async def _form(hass: HomeAssistant, entry: MockConfigEntry) -> tuple[str, dict[str, Any]]:
    """Open the options form: its flow id and what it shows by default."""
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.FORM
    defaults = {str(key): key.default() for key in result["data_schema"].schema if key.default}
    return result["flow_id"], defaults


async def test_the_form_shows_the_defaults_and_keeps_what_is_chosen(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, mock_setup_entry: AsyncMock
) -> None:
    """Doctoral, master, faculty, researchers; 1 a month; the 20th at 09:00; then as chosen."""
    mock_config_entry.add_to_hass(hass)
    flow_id, defaults = await _form(hass, mock_config_entry)
    assert {key: defaults[key] for key in LongTermRules().as_dict()} == LongTermRules().as_dict()
    result = await hass.config_entries.options.async_configure(
        flow_id,
        {
            "long_term_categories": ["student_doctoral", "researcher"],
            "long_term_per_month": 2.0,  # a number box sends floats
            "reservations_open_day": 25.0,
            "reservations_open_time": "8:30:00",
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY, result.get("errors")
    chosen = {
        "long_term_categories": ["student_doctoral", "researcher"],
        "long_term_per_month": 2,
        "reservations_open_day": 25,
        "reservations_open_time": "08:30",
    }
    assert {key: result["data"][key] for key in chosen} == chosen
    assert isinstance(result["data"]["long_term_per_month"], int)
    assert LongTermRules.from_options(mock_config_entry.options).long_term_per_month == 2
    # The next form opens on what was chosen.
    _, defaults = await _form(hass, mock_config_entry)
    assert {key: defaults[key] for key in chosen} == chosen


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("long_term_categories", ["student_master", "dragon_rider"]),
        ("long_term_per_month", 1.5),
        ("long_term_per_month", 40),
        ("reservations_open_day", 31),
        ("reservations_open_time", "24:61"),
    ],
)
async def test_values_that_are_not_valid_are_refused_by_field(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    mock_setup_entry: AsyncMock,
    field: str,
    value: Any,
) -> None:
    """Past the selectors (the step called directly), each field is still checked."""
    mock_config_entry.add_to_hass(hass)
    before = dict(mock_config_entry.options)
    flow_id, defaults = await _form(hass, mock_config_entry)
    flow = hass.config_entries.options._progress[flow_id]
    result = await flow.async_step_init({**defaults, field: value})
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {field: "invalid_value"}
    assert dict(mock_config_entry.options) == before
