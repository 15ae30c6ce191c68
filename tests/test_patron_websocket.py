"""The websocket command `ntnu_library/patron_action`: a patron's own action from a kiosk.

A real websocket connection to the test Home Assistant (its HTTP server on loopback), as a
kiosk or the counter panel would hold one; no service call, so nothing secret is recorded.
"""

from __future__ import annotations

from typing import Any

from homeassistant.const import EVENT_CALL_SERVICE
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from custom_components.ntnu_library.const import DOMAIN, EVENT_NAME

from .conftest import PASSWORD, state_of

COMMAND = f"{DOMAIN}/patron_action"


async def _send(ws: Any, **fields: Any) -> dict[str, Any]:
    await ws.send_json_auto_id({"type": COMMAND, **fields})
    return dict(await ws.receive_json())


@pytest.fixture
async def ws(
    hass: HomeAssistant, init_integration: MockConfigEntry, hass_ws_client: WebSocketGenerator
) -> Any:
    """A websocket of a logged-in (admin) user, e.g. the kiosk's account."""
    assert await async_setup_component(hass, "websocket_api", {})
    return await hass_ws_client(hass)


async def test_patron_borrows_opens_and_returns(hass: HomeAssistant, ws: Any) -> None:
    """The seed's three actions with the patron's own ID and password; the answer is masked."""
    events = async_capture_events(hass, EVENT_NAME)
    calls = async_capture_events(hass, EVENT_CALL_SERVICE)
    answer = await _send(ws, room="T01", action="borrow", patron_id="S0001", password=PASSWORD)
    assert answer["success"], answer
    result = answer["result"]
    assert result["room"] == "T01"
    assert result["status"] == "in_use"
    assert result["holder"] == "S***1"  # masked
    assert result["lock"] == "unlocked"
    await hass.async_block_till_done()
    assert state_of(hass, "sensor.t01_status") == "in_use"
    assert events[-1].data["type"] == "borrowed" and events[-1].data["source"] == "qr"

    answer = await _send(ws, room="T01", action="open", patron_id="S0001", password=PASSWORD)
    assert answer["success"], answer
    answer = await _send(ws, room="T01", action="return", patron_id="s0001", password=PASSWORD)
    assert answer["success"], answer
    assert answer["result"]["status"] == "idle"
    assert not calls  # nothing went through a (recorded) service call


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"patron_id": "S0001", "password": "wrong-password"}, "invalid_credentials"),
        ({"patron_id": "Z9999", "password": PASSWORD}, "invalid_credentials"),
        ({"patron_id": "X0001", "password": PASSWORD}, "frozen"),
        ({"patron_id": "E0001", "password": PASSWORD}, "membership_expired"),
    ],
    ids=["wrong_password", "unknown_id", "frozen", "expired"],
)
async def test_refusal_code_is_the_reason(
    hass: HomeAssistant, ws: Any, fields: dict[str, str], code: str
) -> None:
    """A refusal is an error whose code is the reason, with the translated message."""
    answer = await _send(ws, room="T02", action="borrow", **fields)
    assert not answer["success"]
    assert answer["error"]["code"] == code
    assert answer["error"]["translation_key"] == code
    assert answer["error"]["translation_domain"] == DOMAIN
    assert answer["error"]["message"]  # the English words, not the key
    assert answer["error"]["message"] != code
    assert fields["password"] not in str(answer)
    assert state_of(hass, "sensor.t02_status") == "idle"


async def test_second_patron_is_refused(hass: HomeAssistant, ws: Any) -> None:
    """A borrowed room is not idle for anyone else."""
    assert (await _send(ws, room="T01", action="borrow", patron_id="S0001", password=PASSWORD))[
        "success"
    ]
    answer = await _send(ws, room="T01", action="borrow", patron_id="G0001", password=PASSWORD)
    assert answer["error"]["code"] == "room_not_idle"
    answer = await _send(ws, room="T01", action="open", patron_id="G0001", password=PASSWORD)
    assert answer["error"]["code"] == "not_holder"


@pytest.mark.parametrize(
    "fields",
    [
        {"room": "T01", "action": "borrow", "patron_id": "S0001"},  # no password
        {"room": "T01", "action": "steal", "patron_id": "S0001", "password": PASSWORD},
        {"room": "T01;DROP", "action": "borrow", "patron_id": "S0001", "password": PASSWORD},
        {"room": "T01", "action": "borrow", "patron_id": "S0001\n", "password": "x" * 300},
    ],
    ids=["no_password", "unknown_action", "bad_room", "too_long"],
)
async def test_bad_messages_are_refused(ws: Any, fields: dict[str, str]) -> None:
    """Malformed messages never reach the rules."""
    answer = await _send(ws, **fields)
    assert not answer["success"]
    assert answer["error"]["code"] == "invalid_format"


async def test_unknown_room(ws: Any) -> None:
    answer = await _send(ws, room="T99", action="borrow", patron_id="S0001", password=PASSWORD)
    assert answer["error"]["code"] == "unknown_room"
