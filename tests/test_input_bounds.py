"""Input from outside stays inside its bounds: no forged log lines, no silent truncation."""

from __future__ import annotations

from datetime import timedelta
import logging
from typing import Any

from homeassistant.config_entries import SOURCE_USER
from homeassistant.const import CONF_NAME
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import ServiceValidationError
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
import voluptuous as vol

from custom_components.ntnu_library.const import (
    CONF_FLOOR,
    CONF_KIND,
    CONF_ROOM_ID,
    DOMAIN,
    SUBENTRY_ROOM,
)

from .conftest import call_service

FORGED = "ERROR fake admin login"  # short enough for an id field


def _forged_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Log output lines that begin with the forged text (as a log reader would see them)."""
    lines = []
    for record in caplog.records:
        text = record.getMessage()
        if record.exc_text:
            text += "\n" + record.exc_text
        lines += [line for line in text.splitlines()[1:] if line.upper().startswith(FORGED.upper())]
    return lines


@pytest.mark.parametrize(
    "data",
    [
        {"room": f"T01\n{FORGED}", "patron_id": "S0001"},
        {"room": "T01", "patron_id": f"S0001\n{FORGED}"},
        {"room": f"T99\r\n{FORGED}", "patron_id": "S0001"},
    ],
    ids=["room", "patron_id", "unknown_room"],
)
async def test_a_newline_in_an_id_never_reaches_a_log_line(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    caplog: pytest.LogCaptureFixture,
    data: dict[str, str],
) -> None:
    """Over the REST API, as an outsider would send it: refused, and no forged line logged."""
    caplog.set_level(logging.DEBUG)
    assert await async_setup_component(hass, "api", {})
    client = await hass_client()
    response = await client.post(f"/api/services/{DOMAIN}/borrow", json=data)
    assert _forged_lines(caplog) == []
    assert response.status == 400


async def test_an_unknown_room_is_named_only_as_a_room_id(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    with pytest.raises(ServiceValidationError) as err:
        await call_service(hass, "auto_return", {"room": "t99"})
    assert err.value.translation_key == "unknown_room"
    assert err.value.translation_placeholders == {"room": "T99"}


@pytest.mark.parametrize("days", [1.9, "1.9", 0.5, True, "seven"])
async def test_freeze_days_are_whole_numbers_never_cut(
    hass: HomeAssistant, init_integration: MockConfigEntry, days: Any
) -> None:
    with pytest.raises(vol.Invalid):
        await call_service(hass, "freeze_patron", {"patron_id": "G0001", "days": days})
    assert init_integration.runtime_data.rooms.patrons.freezes.keys() == {"X0001"}


@pytest.mark.usefixtures("frozen_clock")
@pytest.mark.parametrize("days", [7, "7", 7.0])
async def test_freeze_days_written_as_a_whole_number(
    hass: HomeAssistant, init_integration: MockConfigEntry, days: Any
) -> None:
    await call_service(hass, "freeze_patron", {"patron_id": "G0001", "days": days})
    freeze = init_integration.runtime_data.rooms.patrons.freezes["G0001"]
    assert freeze.until == dt_util.now() + timedelta(days=7)


async def test_a_reason_with_control_characters_is_refused(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    with pytest.raises(vol.Invalid):
        await call_service(
            hass, "freeze_patron", {"patron_id": "G0001", "reason": f"late\n{FORGED}"}
        )


@pytest.mark.usefixtures("frozen_clock")
@pytest.mark.parametrize(
    ("month", "accepted"),
    [("2025-03", True), ("2026-03", True), ("2026-04", False), ("9999-12", False)],
)
async def test_a_reservation_is_at_most_twelve_months_ahead(
    hass: HomeAssistant, init_integration: MockConfigEntry, month: str, accepted: bool
) -> None:
    data = {"room": "L03", "patron_id": "G0001", "month": month}
    if accepted:
        assert (await call_service(hass, "reserve_long_term", data))["month"] == month
        return
    with pytest.raises(ServiceValidationError) as err:
        await call_service(hass, "reserve_long_term", data)
    assert err.value.translation_key == "invalid_month"


async def _add_room(
    hass: HomeAssistant, entry: MockConfigEntry, user_input: dict[str, Any]
) -> dict[str, Any]:
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, SUBENTRY_ROOM), context={"source": SOURCE_USER}
    )
    return dict(await hass.config_entries.subentries.async_configure(result["flow_id"], user_input))


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        (CONF_NAME, "x" * 65, "invalid_room_name"),
        (CONF_NAME, "Room\nseven", "invalid_room_name"),
        (CONF_FLOOR, "1" * 17, "invalid_floor"),
        (CONF_FLOOR, "3\tF", "invalid_floor"),
    ],
)
async def test_room_name_and_floor_have_bounds(
    hass: HomeAssistant, init_integration: MockConfigEntry, field: str, value: str, error: str
) -> None:
    user_input = {CONF_ROOM_ID: "T20", CONF_NAME: "Room", CONF_KIND: "temporary", CONF_FLOOR: "3F"}
    result = await _add_room(hass, init_integration, user_input | {field: value})
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {field: error}
    # At the limit it is fine.
    at_limit = {CONF_NAME: "x" * 64, CONF_FLOOR: "1" * 16}[field]
    result = await _add_room(hass, init_integration, user_input | {field: at_limit})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()  # the site takes the new room (its devices join)
