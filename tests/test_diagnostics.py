"""Diagnostics: pinned by a snapshot, and free of passwords and full patron IDs."""

from __future__ import annotations

from datetime import datetime
import json

from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from syrupy.assertion import SnapshotAssertion
from syrupy.matchers import path_type

from custom_components.ntnu_library.const import DOMAIN
from custom_components.ntnu_library.core.model import month_key
from custom_components.ntnu_library.demo import DEMO_PASSWORD, DEMO_PATRONS

from .conftest import SMALL_SITE, WHOLE_SITE, call_service, patron_action

# Values that move with the calendar: this month's reservations, freezes counted from today.
MOVING = path_type(
    {
        r"reservations\.\d+\.month": (str,),
        r"freezes\..*\.until": (str,),
    },
    regex=True,
)


@pytest.fixture
def site_rooms() -> tuple[str, ...]:
    """The snapshot pins the diagnostics of the demo's whole site, all eighteen rooms."""
    return WHOLE_SITE


async def _busy_site(hass: HomeAssistant, offline: str, jammed: str) -> None:
    """Borrow T01, freeze a patron, take one room's lock offline and jam another's."""
    await patron_action(hass, "borrow", "T01", "S0001")
    await hass.services.async_call(
        DOMAIN,
        "freeze_patron",
        {"patron_id": "G0001", "days": 7, "reason": "shouted at the counter"},
        blocking=True,
    )
    await hass.services.async_call(
        DOMAIN, "simulate", {"room": offline, "action": "offline"}, blocking=True
    )
    await hass.services.async_call(
        DOMAIN, "simulate", {"room": jammed, "action": "jam"}, blocking=True
    )
    await hass.async_block_till_done()


async def test_diagnostics(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    init_integration: MockConfigEntry,
    snapshot: SnapshotAssertion,
) -> None:
    await _busy_site(hass, offline="T12", jammed="T11")
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, init_integration)
    assert diagnostics == snapshot(matcher=MOVING)

    # What the matcher hides is still right.
    now = dt_util.now()
    assert {r["month"] for r in diagnostics["reservations"]} == {month_key(now)}
    for freeze in diagnostics["freezes"].values():
        assert datetime.fromisoformat(freeze["until"]) > now
    assert diagnostics["rooms"]["T01"]["status"] == "in_use"
    assert diagnostics["rooms"]["T01"]["holder"] == "S***1"
    assert diagnostics["rooms"]["T12"]["lock_online"] is False
    assert diagnostics["rooms"]["T11"]["jammed"] is True


@pytest.mark.parametrize("site_rooms", [SMALL_SITE])
async def test_diagnostics_hide_secrets_and_patrons(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    init_integration: MockConfigEntry,
) -> None:
    """No password, hash, activation code, full patron ID, card number, name or staff's text."""
    await _busy_site(hass, offline="T02", jammed="L03")
    reset = await call_service(
        hass, "update_patron", {"patron_id": "D0001", "reset_password": True}
    )
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, init_integration)
    dump = json.dumps(diagnostics, ensure_ascii=False)

    assert DEMO_PASSWORD not in dump
    assert "$2b$" not in dump  # a bcrypt hash
    assert "$2a$" not in dump
    assert reset["activation_code"] not in dump
    assert reset["activation_code"].replace("-", "") not in dump
    for word in ("password", "hash", "card"):
        assert word not in dump.lower(), word
    # Any logged-in user can download diagnostics: staff's reasons for a freeze stay out.
    assert "shouted" not in dump
    assert "demo: returned a room late" not in dump
    for patron_id, name, _category, _membership in DEMO_PATRONS:
        assert patron_id not in dump, patron_id
        assert name not in dump, name
    # The patrons the dump is about are there, masked.
    assert "S***1" in dump  # holds T01
    assert "D***1" in dump  # holds L01 this month
    assert "X***1" in dump  # frozen, holds L02
    assert "G***1" in dump  # frozen by the test
