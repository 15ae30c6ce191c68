"""The programmatic patron entry: `ntnu_library/patron_action` over Home Assistant's websocket.

Kiosks and the counter panel send a patron's own ID and password here, never as a service
call (Home Assistant records service calls with their data). Any logged-in user may send it
(a kiosk has its own account); the patron's credentials decide, with the same throttle, fair
password-check slots and refusals as the room page.
"""

from __future__ import annotations

from typing import Any

from homeassistant.components import websocket_api
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
import voluptuous as vol

from .commands import PATRON_ACTIONS
from .const import (
    ATTR_ACTION,
    ATTR_CONFIG_ENTRY_ID,
    ATTR_PASSWORD,
    ATTR_PATRON_ID,
    ATTR_ROOM,
    DOMAIN,
)
from .exceptions import translated_errors
from .site import find_site
from .validation import PASSWORD, PATRON_ID, ROOM

COMMAND = f"{DOMAIN}/patron_action"


@callback
def async_setup_websocket(hass: HomeAssistant) -> None:
    """Register the command once for every site."""
    websocket_api.async_register_command(hass, ws_patron_action)


@websocket_api.websocket_command(
    {
        vol.Required("type"): COMMAND,
        vol.Required(ATTR_ROOM): ROOM,
        vol.Required(ATTR_ACTION): vol.In(PATRON_ACTIONS),
        vol.Required(ATTR_PATRON_ID): PATRON_ID,
        vol.Required(ATTR_PASSWORD): PASSWORD,
        vol.Optional(ATTR_CONFIG_ENTRY_ID): str,
    }
)
@websocket_api.async_response
async def ws_patron_action(
    hass: HomeAssistant, connection: websocket_api.ActiveConnection, msg: dict[str, Any]
) -> None:
    """Borrow, open or return as the patron; a refusal's code is its reason."""
    try:
        result = await async_patron_action(
            hass,
            room=msg[ATTR_ROOM],
            action=msg[ATTR_ACTION],
            patron_id=msg[ATTR_PATRON_ID],
            password=msg[ATTR_PASSWORD],
            config_entry_id=msg.get(ATTR_CONFIG_ENTRY_ID),
            caller=f"user:{connection.user.id}",
        )
    except HomeAssistantError as err:
        send_refusal(connection, msg["id"], err)
        return
    connection.send_result(msg["id"], result)


def send_refusal(
    connection: websocket_api.ActiveConnection,
    msg_id: int,
    err: HomeAssistantError,
    *,
    code: str | None = None,
) -> None:
    """A refusal as a websocket error: its code is the reason (unless given), translated."""
    connection.send_error(
        msg_id,
        code or err.translation_key or "failed",
        str(err),
        translation_key=err.translation_key,
        translation_domain=err.translation_domain,
        translation_placeholders=err.translation_placeholders,
    )


async def async_patron_action(
    hass: HomeAssistant,
    *,
    room: str,
    action: str,
    patron_id: str,
    password: str,
    config_entry_id: str | None = None,
    caller: str | None = None,
) -> dict[str, Any]:
    """What the command does once its message is valid: the site's patron action.

    Refusals are raised as Home Assistant's translated errors (translation key = reason).
    """
    with translated_errors():
        site = find_site(hass, config_entry_id, room_id=room)
        return await site.commands.async_patron_action(
            action, room, patron_id, password, caller=caller
        )
