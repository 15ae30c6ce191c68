"""The room page speaks to the patron holding the phone: what they hold, what the door does."""

from __future__ import annotations

from typing import Any

from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ntnu_library.core.policy import Policy

from ..conftest import state_of
from .test_room_page import act, room_path, text_of


@pytest.fixture
def site_rooms() -> tuple[str, ...]:
    """Two temporary rooms."""
    return ("T01", "T02")


@pytest.mark.parametrize(
    ("lang", "held"),
    [("en", "You already hold room T01."), ("zh-Hant", "您已登記使用研究室 T01。")],
)
async def test_the_holder_pressing_borrow_again_is_told_they_hold_it(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    hass_client_no_auth: Any,
    lang: str,
    held: str,
) -> None:
    """登記使用 again at T01: "you already hold room T01", not "not idle"; at T02 the same."""
    client = await hass_client_no_auth()
    response, _ = await act(client, room_path(hass, "T01"), action="borrow", lang=lang)
    assert response.status == 200
    response, body = await act(client, room_path(hass, "T01"), action="borrow", lang=lang)
    assert response.status == 403
    text = text_of(body)
    assert held in text
    assert "idle" not in text and "閒置狀態" not in text
    assert "patron" not in text.lower() and "該讀者" not in text
    response, body = await act(client, room_path(hass, "T02"), action="borrow", lang=lang)
    assert response.status == 403
    assert held in text_of(body)
    assert state_of(hass, "sensor.t02_status") == "idle"


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("en", "If you do not open the door within 10 seconds, it locks again by itself."),
        ("zh-Hant", "若 10 秒內未開門，門鎖會自動重新上鎖。"),
    ],
)
async def test_the_answer_says_the_door_relocks_by_itself(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    hass_client_no_auth: Any,
    lang: str,
    words: str,
) -> None:
    """Borrowed or opened: the door is unlocked, and locks again if nobody opens it."""
    client = await hass_client_no_auth()
    path = room_path(hass, "T01")
    for action in ("borrow", "open"):
        response, body = await act(client, path, action=action, lang=lang)
        assert response.status == 200
        assert words in text_of(body)
    response, body = await act(client, path, action="return", lang=lang)
    assert response.status == 200
    assert words not in text_of(body)  # locked: nothing to say


async def test_no_relock_promise_when_relocking_is_off(
    hass: HomeAssistant, init_integration: MockConfigEntry, hass_client_no_auth: Any
) -> None:
    """A site that does not relock by itself promises nothing."""
    entry = init_integration
    options = {**entry.options, **Policy.from_options(entry.options).as_dict(), "relock_after_s": 0}
    hass.config_entries.async_update_entry(entry, options=options)
    await hass.async_block_till_done()  # the site starts again without relocking
    assert entry.runtime_data.doors.relock_after_s == 0
    client = await hass_client_no_auth()
    response, body = await act(client, room_path(hass, "T01"), action="borrow")
    assert response.status == 200
    assert "locks again by itself" not in text_of(body)


async def test_a_link_to_set_a_password(
    hass: HomeAssistant, init_integration: MockConfigEntry, hass_client_no_auth: Any
) -> None:
    """Every room page leads a patron without a password to the activation page."""
    client = await hass_client_no_auth()
    for lang, words in (
        ("en", "Set your password with an activation code"),
        ("zh-Hant", "以啟用碼設定密碼"),
    ):
        body = await (await client.get(f"{room_path(hass, 'T01')}&lang={lang}")).text()
        assert f'href="/ntnu_library/activate?lang={lang}"' in body
        assert words in text_of(body)
        activate = await client.get(f"/ntnu_library/activate?lang={lang}")
        assert activate.status == 200
