"""Opaque refs: events name the patron behind a borrow without the ID; staff services take them."""

from __future__ import annotations

from datetime import timedelta

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import Event, HomeAssistant
from homeassistant.exceptions import ServiceValidationError
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from .conftest import call_service, patron_action


def _of(events: list[Event], kind: str) -> list[Event]:
    return [event for event in events if event.data["type"] == kind]


async def test_a_borrow_has_one_ref_from_borrow_to_return(
    hass: HomeAssistant, init_integration: MockConfigEntry, events: list[Event]
) -> None:
    await patron_action(hass, "borrow", "T01", "S0001")
    await patron_action(hass, "open", "T01", "S0001")
    await call_service(hass, "auto_return", {"room": "T01", "reason": "closing"})
    refs = {e.data["type"]: e.data.get("ref") for e in events if e.data["room"] == "T01"}
    assert set(refs) == {"borrowed", "qr_open", "auto_returned"}
    ref = refs["borrowed"]
    assert ref is not None and ref.startswith("REF-")
    assert set(refs.values()) == {ref}
    assert "S0001" not in ref
    # The next borrow of the same patron is another ref.
    await patron_action(hass, "borrow", "T02", "S0001")
    assert _of(events, "borrowed")[-1].data["ref"] != ref


async def test_an_automation_freezes_the_patron_behind_a_violation_by_its_ref(
    hass: HomeAssistant, init_integration: MockConfigEntry, events: list[Event]
) -> None:
    await patron_action(hass, "borrow", "T02", "G0001")
    await call_service(hass, "auto_return", {"room": "T02", "reason": "closing"})
    ref = _of(events, "auto_returned")[-1].data["ref"]

    frozen = await call_service(
        hass, "freeze_patron", {"patron_id": ref, "days": 7, "reason": "closing"}
    )
    assert frozen["patron"] == "G***1"
    assert "G0001" in init_integration.runtime_data.rooms.patrons.freezes
    # Lower case works too; the patron is the same.
    assert (await call_service(hass, "check_in", {"patron_id": ref.lower()}))["patron"] == "G***1"


async def test_a_long_term_holders_opens_share_the_months_ref(
    hass: HomeAssistant, init_integration: MockConfigEntry, events: list[Event]
) -> None:
    for _ in range(2):
        await patron_action(hass, "open", "L01", "D0001")
    opens = _of(events, "qr_open")
    assert len(opens) == 2
    assert opens[0].data["ref"] == opens[1].data["ref"]
    frozen = await call_service(hass, "freeze_patron", {"patron_id": opens[0].data["ref"]})
    assert frozen["patron"] == "D***1"


async def test_a_ref_that_is_not_one_or_has_expired_names_nobody(
    hass: HomeAssistant,
    frozen_clock: FrozenDateTimeFactory,
    init_integration: MockConfigEntry,
    events: list[Event],
) -> None:
    for made_up in ("REF-000000000000", "REF-"):
        with pytest.raises(ServiceValidationError) as err:
            await call_service(hass, "freeze_patron", {"patron_id": made_up})
        assert err.value.translation_key == "unknown_patron"

    await patron_action(hass, "borrow", "T01", "S0001")
    ref = _of(events, "borrowed")[-1].data["ref"]
    await call_service(hass, "auto_return", {"room": "T01", "reason": "empty"})
    frozen_clock.tick(timedelta(days=31))
    await init_integration.runtime_data.commands.async_policy_tick()
    assert ref not in init_integration.runtime_data.rooms.patrons.refs
    with pytest.raises(ServiceValidationError) as err:
        await call_service(hass, "unfreeze_patron", {"patron_id": ref})
    assert err.value.translation_key == "unknown_patron"


async def test_refs_survive_a_restart(
    hass: HomeAssistant, init_integration: MockConfigEntry, events: list[Event]
) -> None:
    await patron_action(hass, "borrow", "T01", "S0001")
    ref = _of(events, "borrowed")[-1].data["ref"]
    await hass.config_entries.async_reload(init_integration.entry_id)
    await hass.async_block_till_done()
    await call_service(hass, "counter_return", {"patron_id": ref})
    assert _of(events, "returned")[-1].data["ref"] == ref
