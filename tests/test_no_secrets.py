"""No secret in a service call, a state or anything a non-admin can read.

Home Assistant fires `call_service` with the whole service data and the recorder keeps it
(7 days, copied into backups): patron passwords, activation codes and the SIP2 terminal's
credentials must never be service data. (tests/test_patron_browser.py greps the demo's real
recorder database after a whole session.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from homeassistant.const import EVENT_CALL_SERVICE
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
import voluptuous as vol
import yaml

from custom_components.ntnu_library.const import DOMAIN
from custom_components.ntnu_library.services import SERVICES
from custom_components.ntnu_library.websocket import async_patron_action

from .conftest import ILS_LOGIN_PASSWORD, ILS_LOGIN_USER, PASSWORD, call_service

SERVICES_YAML = Path(__file__).resolve().parents[1] / "custom_components" / DOMAIN / "services.yaml"
SECRET_FIELDS = {"password", "new_password", "activation_code", "code", "login_password"}


def test_services_yaml_has_no_secret_field() -> None:
    """No service asks for a password or a code, nor shows a password box."""
    services = yaml.safe_load(SERVICES_YAML.read_text(encoding="utf-8"))
    for name, service in services.items():
        fields = set((service or {}).get("fields", {}))
        assert not fields & SECRET_FIELDS, name
        assert "type: password" not in yaml.safe_dump(service), name


@pytest.mark.parametrize("service", ["borrow", "open_door", "return_room", "add_patron"])
def test_schemas_refuse_a_password(service: str) -> None:
    """A password sent anyway is refused before anything runs (and nothing runs)."""
    _, schema = SERVICES[service]
    data: dict[str, Any] = {"room": "T01", "patron_id": "S0001", "password": PASSWORD}
    if service == "add_patron":
        data = {"patron_id": "Q0042", "name": "New", "category": "student_undergraduate"} | {
            "password": PASSWORD
        }
    with pytest.raises(vol.Invalid):
        schema(data)


async def test_a_whole_session_puts_no_secret_in_service_data(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """Staff add a patron and reset a password; patrons act with their passwords.

    Every `call_service` event (what the recorder writes) is free of passwords and codes.
    """
    calls = async_capture_events(hass, EVENT_CALL_SERVICE)
    runtime = init_integration.runtime_data
    added = await call_service(
        hass,
        "add_patron",
        {"patron_id": "Q0042", "name": "New Patron", "category": "student_master"},
    )
    code = added["activation_code"]
    chosen = "my-own-secret-9"
    await runtime.directory.async_activate("Q0042", code, chosen, address=None)
    for action in ("borrow", "open", "return"):
        await async_patron_action(
            hass, room="T01", action=action, patron_id="Q0042", password=chosen
        )
    reset = await call_service(
        hass, "update_patron", {"patron_id": "Q0042", "reset_password": True}
    )
    second_code = reset["activation_code"]
    await call_service(hass, "borrow", {"room": "T02", "patron_id": "S0001"})
    await call_service(hass, "return_room", {"room": "T02", "patron_id": "S0001"})

    recorded = repr([event.data for event in calls])
    assert "add_patron" in recorded and "update_patron" in recorded  # the calls are there
    for secret in (PASSWORD, chosen, code, second_code, code.replace("-", "")):
        assert secret not in recorded


@pytest.mark.parametrize("patron_system", ["sip2"])
async def test_sip2_terminal_credentials_stay_private(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    hass_client: ClientSessionGenerator,
) -> None:
    """The SIP2 login (user and password) is in no state and not in diagnostics."""
    states = repr([(s.entity_id, s.state, dict(s.attributes)) for s in hass.states.async_all()])
    diagnostics = repr(await get_diagnostics_for_config_entry(hass, hass_client, init_integration))
    for secret in (ILS_LOGIN_PASSWORD, ILS_LOGIN_USER):
        assert secret not in states
        assert secret not in diagnostics
