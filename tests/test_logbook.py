"""What staff read of the rooms: the logbook in words, and what a refusal at the counter says.

The room's logbook is read the way the frontend reads it (the websocket command
`logbook/get_events` for the room's device), from what the recorder wrote, in the language
Home Assistant is set to.
"""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace
from typing import Any

from homeassistant.components import recorder
from homeassistant.components.lock import DOMAIN as LOCK_DOMAIN, SERVICE_UNLOCK
from homeassistant.const import ATTR_ENTITY_ID
from homeassistant.core import Context, HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import entity_registry as er
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, MockUser
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)
from pytest_homeassistant_custom_component.typing import (
    RecorderInstanceContextManager,
    WebSocketGenerator,
)

from custom_components.ntnu_library.const import DOMAIN, EVENT_NAME
from custom_components.ntnu_library.core.event_words import room_event_sentence
from custom_components.ntnu_library.logbook import _room_name

from .conftest import call_service, patron_action

# A borrow, a refused tap, a PUSH exit, a counter return and a staff unlock at T02.
SENTENCES = {
    "en": [
        "borrowed by S***1",
        "card of G***1 refused: not the holder",
        "PUSH exit",
        "returned by staff (S***1)",
        "unlocked by staff",
    ],
    "zh-Hant": [
        "S***1 登記使用",
        "G***1 的卡片遭拒：非登記使用者",
        "按 PUSH 鈕外出",
        "櫃檯代 S***1 歸還",
        "館員開門",
    ],
}


@pytest.fixture
def mock_recorder_before_hass(async_test_recorder: RecorderInstanceContextManager) -> None:
    """Prepare the recorder's database before `hass` (as Home Assistant's own tests do)."""


async def _simulate(hass: HomeAssistant, room: str, action: str, **extra: str) -> None:
    await hass.services.async_call(
        DOMAIN, "simulate", {"room": room, "action": action, **extra}, blocking=True
    )
    await hass.async_block_till_done()


async def _room_logbook(
    hass: HomeAssistant, hass_ws_client: WebSocketGenerator, room: str
) -> list[dict[str, Any]]:
    """The integration's entries in the room's logbook (its device), oldest first."""
    await async_wait_recording_done(hass)
    activity = er.async_get(hass).async_get(f"event.{room.lower()}_door_activity")
    assert activity is not None and activity.device_id is not None
    client = await hass_ws_client(hass)
    await client.send_json(
        {
            "id": 1,
            "type": "logbook/get_events",
            "start_time": datetime(2000, 1, 1, tzinfo=dt_util.UTC).isoformat(),
            "device_ids": [activity.device_id],
        }
    )
    answer = await client.receive_json()
    assert answer["success"], answer
    return [entry for entry in answer["result"] if entry.get("domain") == DOMAIN]


async def test_a_rooms_logbook_reads_as_what_happened_in_both_languages(
    recorder_mock: recorder.Recorder,
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    hass_ws_client: WebSocketGenerator,
    hass_admin_user: MockUser,
) -> None:
    # The logbook needs the frontend for its sidebar entry only; its websocket API does not
    # (and the newest Home Assistant's test environment has no frontend package).
    hass.config.components.add("frontend")
    assert await async_setup_component(hass, "logbook", {})
    await patron_action(hass, "borrow", "T02", "S0001")
    await _simulate(hass, "T02", "card_tap", card="C-G0001")  # G0001 does not hold T02
    await _simulate(hass, "T02", "push_button")
    await call_service(hass, "counter_return", {"room": "T02"})
    await hass.services.async_call(
        LOCK_DOMAIN,
        SERVICE_UNLOCK,
        {ATTR_ENTITY_ID: "lock.t02"},
        blocking=True,
        context=Context(user_id=hass_admin_user.id),
    )
    await hass.async_block_till_done()
    await patron_action(hass, "borrow", "T01", "G0001")  # another room's: not in T02's logbook

    entries = await _room_logbook(hass, hass_ws_client, "T02")
    assert [entry["message"] for entry in entries] == SENTENCES["en"]
    assert {entry["name"] for entry in entries} == {"T02"}
    assert {entry["entity_id"] for entry in entries} == {"event.t02_door_activity"}

    # The sentences are made when the logbook is read, in the language Home Assistant is set to.
    hass.config.language = "zh-Hant"
    entries = await _room_logbook(hass, hass_ws_client, "T02")
    assert [entry["message"] for entry in entries] == SENTENCES["zh-Hant"]


async def test_a_staff_unlock_of_an_idle_room_is_door_activity(
    hass: HomeAssistant, init_integration: MockConfigEntry, hass_admin_user: MockUser
) -> None:
    """Unlocking an idle room from Home Assistant is told like any other door activity."""
    events = []
    hass.bus.async_listen(EVENT_NAME, events.append)
    await hass.services.async_call(
        LOCK_DOMAIN,
        SERVICE_UNLOCK,
        {ATTR_ENTITY_ID: "lock.t01"},
        blocking=True,
        context=Context(user_id=hass_admin_user.id),
    )
    await hass.async_block_till_done()
    state = hass.states.get("event.t01_door_activity")
    assert state is not None
    assert state.attributes["event_type"] == "staff_unlock"
    assert state.attributes["source"] == "counter"
    (event,) = events
    assert {key: event.data[key] for key in ("room", "type", "source", "patron")} == {
        "room": "T01",
        "type": "staff_unlock",
        "source": "counter",
        "patron": None,
    }
    assert room_event_sentence(event.data, "en") == "unlocked by staff"

    # An automation (no user) unlocking is told as the automation's.
    await hass.services.async_call(
        LOCK_DOMAIN, SERVICE_UNLOCK, {ATTR_ENTITY_ID: "lock.t01"}, blocking=True
    )
    await hass.async_block_till_done()
    assert events[-1].data["source"] == "automation"
    assert room_event_sentence(events[-1].data, "zh-Hant") == "自動化開門"


async def test_a_counter_return_for_someone_who_holds_nothing_says_so(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """Not "Room - is not in use.": the patron (masked) holds no temporary room."""
    with pytest.raises(ServiceValidationError) as err:
        await call_service(hass, "counter_return", {"patron_id": "S0001"})
    assert err.value.translation_key == "holds_no_room"
    assert err.value.translation_placeholders == {"patron": "S***1"}
    assert str(err.value).rstrip(".") == "Patron S***1 holds no temporary room"


def test_with_several_sites_the_logbook_names_the_site_in_its_language() -> None:
    """One site: the room is name enough; several: the site's name (its Chinese one in Chinese)."""
    main = SimpleNamespace(
        title="Main Library",
        runtime_data=SimpleNamespace(
            name_in=lambda language: "總館" if language == "zh-Hant" else "Main Library"
        ),
    )
    branch = SimpleNamespace(
        title="Gongguan", runtime_data=SimpleNamespace(name_in=lambda _: "Gongguan")
    )
    loaded: list[SimpleNamespace] = [main]
    hass = SimpleNamespace(
        config=SimpleNamespace(language="zh-Hant"),
        config_entries=SimpleNamespace(async_loaded_entries=lambda _domain: loaded),
    )
    data = {"site": "Main Library", "room": "T02"}
    assert _room_name(hass, data) == "T02"  # type: ignore[arg-type]
    loaded.append(branch)
    assert _room_name(hass, data) == "總館 T02"  # type: ignore[arg-type]
    hass.config.language = "en"
    assert _room_name(hass, data) == "Main Library T02"  # type: ignore[arg-type]
    assert _room_name(hass, {"site": "Linkou", "room": "T01"}) == "Linkou T01"  # type: ignore[arg-type]
