"""The logbook in words: each room event (`ntnu_library_event`) as one sentence.

Home Assistant's logbook shows what a platform's describer returns as it is; neither the
2025.4 nor the 2026 frontend translates it per user. The sentence is therefore in the
language Home Assistant itself is set to (Settings → System → General → Language): Chinese
for any Chinese, English otherwise. The event names the room's device and door-activity
entity (announce.py), so the sentences also show in the room's own logbook.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from homeassistant.components.logbook import (
    LOGBOOK_ENTRY_ENTITY_ID,
    LOGBOOK_ENTRY_MESSAGE,
    LOGBOOK_ENTRY_NAME,
)
from homeassistant.const import ATTR_ENTITY_ID
from homeassistant.core import Event, HomeAssistant, callback

from .const import DOMAIN, EVENT_NAME
from .core.event_words import room_event_sentence


@callback
def async_describe_events(
    hass: HomeAssistant,
    async_describe_event: Callable[[str, str, Callable[[Event], dict[str, str]]], None],
) -> None:
    """Describe the room events."""

    @callback
    def async_describe_room_event(event: Event) -> dict[str, str]:
        data: Mapping[str, Any] = event.data
        described = {
            LOGBOOK_ENTRY_NAME: _room_name(hass, data),
            LOGBOOK_ENTRY_MESSAGE: room_event_sentence(data, hass.config.language),
        }
        if isinstance(entity_id := data.get(ATTR_ENTITY_ID), str):
            described[LOGBOOK_ENTRY_ENTITY_ID] = entity_id
        return described

    async_describe_event(DOMAIN, EVENT_NAME, async_describe_room_event)


def _room_name(hass: HomeAssistant, data: Mapping[str, Any]) -> str:
    """The room, and its site's name in the logbook's language when there are several."""
    room, site = str(data.get("room") or "?"), str(data.get("site") or "")
    entries = hass.config_entries.async_loaded_entries(DOMAIN)
    if len(entries) <= 1 or not site:
        return room
    for entry in entries:
        if entry.title == site:
            return f"{entry.runtime_data.name_in(hass.config.language)} {room}"
    return f"{site} {room}"
