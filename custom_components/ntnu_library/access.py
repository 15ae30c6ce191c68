"""Who may act as staff: administrators, and automations (no user)."""

from __future__ import annotations

from homeassistant.core import Context, HomeAssistant
from homeassistant.exceptions import Unauthorized


async def async_require_admin(hass: HomeAssistant, context: Context | None) -> None:
    """Raise Unauthorized unless an administrator or an automation (no user) acts."""
    user_id = context.user_id if context is not None else None
    if user_id is None:
        return
    user = await hass.auth.async_get_user(user_id)
    if user is None or not user.is_admin:
        raise Unauthorized(context=context)
