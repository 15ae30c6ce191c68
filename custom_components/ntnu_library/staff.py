"""Who may work a site's counter: its counter staff (a site option) and administrators.

Counter clerks need not be administrators of the building's Home Assistant: the site's options
name the Home Assistant users who are its counter staff, and the counter panel's commands
accept them (and administrators) for that site only. The integration's services stay for
administrators and automations.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from homeassistant.auth.models import User
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import Unauthorized

from .const import CONF_COUNTER_STAFF, DOMAIN

if TYPE_CHECKING:
    from .site import Site


def counter_staff_of(options: Any) -> tuple[str, ...]:
    """The user ids a site's options name as its counter staff."""
    staff = options.get(CONF_COUNTER_STAFF) or ()
    return tuple(str(user_id) for user_id in staff if isinstance(user_id, str))


def may_work_counter(user: User, site: Site) -> bool:
    """An active administrator, or an active user the site names as counter staff."""
    if not user.is_active or user.system_generated:
        return False
    if user.is_admin:
        return True
    entry = site.hass.config_entries.async_get_entry(site.entry_id)
    return entry is not None and user.id in counter_staff_of(entry.options)


def staffed_sites(hass: HomeAssistant, user: User) -> list[Site]:
    """The loaded sites whose counter this user may work, by name."""
    sites: list[Site] = [
        entry.runtime_data for entry in hass.config_entries.async_loaded_entries(DOMAIN)
    ]
    return sorted(
        (site for site in sites if may_work_counter(user, site)), key=lambda s: s.site_name
    )


def works_any_counter(hass: HomeAssistant, user: User) -> bool:
    """An administrator, or counter staff of some site (loaded now or not: it may be restarting)."""
    if not user.is_active or user.system_generated:
        return False
    return user.is_admin or any(
        user.id in counter_staff_of(entry.options)
        for entry in hass.config_entries.async_entries(DOMAIN)
    )


def require_counter_staff(user: User, site: Site) -> None:
    """Raise Unauthorized unless the user may work this site's counter."""
    if not may_work_counter(user, site):
        raise Unauthorized(user_id=user.id)


async def async_user_choices(hass: HomeAssistant) -> list[dict[str, str]]:
    """The people who could be counter staff: active users who log in (not system users)."""
    users = await hass.auth.async_get_users()
    return sorted(
        (
            {"value": user.id, "label": user.name or user.id}
            for user in users
            if user.is_active and not user.system_generated
        ),
        key=lambda choice: choice["label"].casefold(),
    )
