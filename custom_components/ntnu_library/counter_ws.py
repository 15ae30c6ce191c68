"""The counter panel's websocket commands: `ntnu_library/counter/<command>`.

Counter staff and administrators only (a site's option names its counter staff; staff.py):
anyone else is refused with `unauthorized`. Nothing typed here — a patron's ID, name or card,
an activation code handed back — is a service call, so nothing of it is recorded. Every
action takes the same path as the staff service of the same name (the site's commands,
circulation desk and directory, all through the one transaction); a refusal is an error whose
code is the refusal reason, as for `ntnu_library/patron_action`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from homeassistant.components import websocket_api
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError, Unauthorized
from homeassistant.helpers import config_validation as cv
import voluptuous as vol

from .const import (
    ATTR_BOX,
    ATTR_CARD,
    ATTR_CATEGORY,
    ATTR_CONFIG_ENTRY_ID,
    ATTR_DAYS,
    ATTR_ITEMS,
    ATTR_MEMBERSHIP_EXPIRES,
    ATTR_MONTH,
    ATTR_NAME,
    ATTR_PATRON_ID,
    ATTR_REASON,
    ATTR_ROOM,
    ATTR_UNTIL,
    DOMAIN,
)
from .core.errors import Reason, Refused
from .core.identity import mask_patron_id, normalize_patron_id
from .core.policy import MAX_FREEZE_DAYS
from .counter_view import async_find, async_patron_view, categories, match, site_overview
from .exceptions import door_error, translated_errors
from .site import find_site
from .staff import require_counter_staff, staffed_sites, works_any_counter
from .validation import CARD, ITEMS, PATRON_ID, ROOM, STATION, TEXT, whole_number
from .websocket import send_refusal

if TYPE_CHECKING:
    from homeassistant.auth.models import User

    from .site import Site

PREFIX = f"{DOMAIN}/counter/"

# Commands about a patron, not a building: any site of the patron's library will do.
PATRON_LEVEL = frozenset(
    {
        "find",
        "patron",
        "check_in",
        "freeze",
        "unfreeze",
        "clear_login_lock",
        "extend_membership",
        "reactivate_membership",
        "add_patron",
        "check_in_items",
    }
)
_MONTH = vol.All(cv.string, vol.Length(max=16))
_NAME = vol.All(TEXT, vol.Strip, vol.Length(min=1))


@dataclass(frozen=True, slots=True)
class Command:
    """One counter command: its fields and what it runs at the site it names."""

    fields: dict[Any, Any]
    run: Callable[[Site, dict[str, Any]], Awaitable[Any]]


async def _find(site: Site, msg: dict[str, Any]) -> dict[str, Any]:
    found = await async_find(site, msg["query"])
    view = await async_patron_view(site, found[0].patron_id) if len(found) == 1 else None
    return {"matches": [match(p) for p in found], "patron": view}


async def _patron(site: Site, msg: dict[str, Any]) -> dict[str, Any]:
    return await async_patron_view(site, msg[ATTR_PATRON_ID])


async def _return_room(site: Site, msg: dict[str, Any]) -> dict[str, Any]:
    if ATTR_ROOM not in msg and ATTR_PATRON_ID not in msg:
        raise Refused(Reason.INVALID_VALUE, field=ATTR_ROOM)
    return await site.commands.async_counter_return(
        room_id=msg.get(ATTR_ROOM), patron_id=msg.get(ATTR_PATRON_ID)
    )


async def _freeze(site: Site, msg: dict[str, Any]) -> dict[str, Any]:
    return await site.commands.async_freeze(
        msg[ATTR_PATRON_ID], msg.get(ATTR_DAYS), msg[ATTR_REASON]
    )


async def _reserve(site: Site, msg: dict[str, Any]) -> dict[str, Any]:
    return await site.commands.async_reserve_long_term(
        msg[ATTR_ROOM], msg[ATTR_PATRON_ID], msg[ATTR_MONTH]
    )


async def _lend(site: Site, msg: dict[str, Any]) -> dict[str, Any]:
    return await site.desk.async_checkout(items=msg[ATTR_ITEMS], patron_id=msg[ATTR_PATRON_ID])


async def _extend(site: Site, msg: dict[str, Any]) -> dict[str, Any]:
    until: date | None = msg.get(ATTR_UNTIL)
    return await site.desk.async_extend_membership(msg[ATTR_PATRON_ID], until)


async def _add_patron(site: Site, msg: dict[str, Any]) -> dict[str, Any]:
    """The activation code comes back once, to the staff member who added the patron."""
    return await site.directory.async_add_patron(
        patron_id=msg[ATTR_PATRON_ID],
        name=msg[ATTR_NAME],
        category=msg[ATTR_CATEGORY],
        card=msg.get(ATTR_CARD) or None,
        membership_expires=msg.get(ATTR_MEMBERSHIP_EXPIRES),
    )


async def _unlock(site: Site, msg: dict[str, Any]) -> dict[str, Any]:
    """Open a door past the rules, as the room's lock entity does for administrators."""
    room = msg[ATTR_ROOM]
    result = await site.commands.async_staff_unlock(room)
    if (
        error := door_error(room, result["door"], lock_online=site.radio.is_online(room))
    ) is not None:
        raise error
    return result


def _patron_command(
    act: Callable[[Site], Callable[[str], Awaitable[dict[str, Any]]]],
) -> Command:
    """A command about one patron, by ID."""

    async def run(site: Site, msg: dict[str, Any]) -> dict[str, Any]:
        return await act(site)(msg[ATTR_PATRON_ID])

    return Command({vol.Required(ATTR_PATRON_ID): PATRON_ID}, run)


COMMANDS: dict[str, Command] = {
    "find": Command({vol.Required("query"): _NAME}, _find),
    "patron": Command({vol.Required(ATTR_PATRON_ID): PATRON_ID}, _patron),
    "return_room": Command(
        {
            vol.Exclusive(ATTR_ROOM, "whose"): ROOM,
            vol.Exclusive(ATTR_PATRON_ID, "whose"): PATRON_ID,
        },
        _return_room,
    ),
    "check_in": _patron_command(lambda site: site.commands.async_check_in),
    "freeze": Command(
        {
            vol.Required(ATTR_PATRON_ID): PATRON_ID,
            vol.Optional(ATTR_DAYS): vol.All(whole_number, vol.Range(min=1, max=MAX_FREEZE_DAYS)),
            vol.Optional(ATTR_REASON, default=""): TEXT,
        },
        _freeze,
    ),
    "unfreeze": _patron_command(lambda site: site.commands.async_unfreeze),
    "clear_login_lock": _patron_command(lambda site: site.commands.async_clear_login_lock),
    "reserve": Command(
        {
            vol.Required(ATTR_ROOM): ROOM,
            vol.Required(ATTR_PATRON_ID): PATRON_ID,
            vol.Required(ATTR_MONTH): _MONTH,
        },
        _reserve,
    ),
    "cancel_reservation": Command(
        {vol.Required(ATTR_ROOM): ROOM, vol.Required(ATTR_MONTH): _MONTH},
        lambda site, msg: site.commands.async_cancel_reservation(msg[ATTR_ROOM], msg[ATTR_MONTH]),
    ),
    "lend": Command(
        {vol.Required(ATTR_PATRON_ID): PATRON_ID, vol.Required(ATTR_ITEMS): ITEMS}, _lend
    ),
    "check_in_items": Command(
        {vol.Required(ATTR_ITEMS): ITEMS},
        lambda site, msg: site.desk.async_checkin(msg[ATTR_ITEMS]),
    ),
    "extend_membership": Command(
        {vol.Required(ATTR_PATRON_ID): PATRON_ID, vol.Optional(ATTR_UNTIL): cv.date}, _extend
    ),
    "reactivate_membership": _patron_command(lambda site: site.desk.async_reactivate_membership),
    "add_patron": Command(
        {
            vol.Required(ATTR_PATRON_ID): PATRON_ID,
            vol.Required(ATTR_NAME): _NAME,
            vol.Required(ATTR_CATEGORY): vol.All(TEXT, vol.Length(min=1)),
            vol.Optional(ATTR_CARD): vol.Any(None, "", CARD),
            vol.Optional(ATTR_MEMBERSHIP_EXPIRES): vol.Any(None, cv.date),
        },
        _add_patron,
    ),
    # The panel asks for a confirmation first, and says so.
    "unlock": Command({vol.Required(ATTR_ROOM): ROOM, vol.Required("confirmed"): True}, _unlock),
    "scan_back": Command(
        {vol.Required(ATTR_BOX): STATION},
        lambda site, msg: site.desk.async_scan_back(msg[ATTR_BOX]),
    ),
}


@callback
def async_setup_counter_ws(hass: HomeAssistant) -> None:
    """Register the counter panel's commands once for every site."""
    websocket_api.async_register_command(hass, ws_overview)
    for name, command in COMMANDS.items():
        websocket_api.async_register_command(hass, _handler(name, command))


def _refuse_stranger(connection: websocket_api.ActiveConnection, msg_id: int) -> None:
    send_refusal(
        connection,
        msg_id,
        HomeAssistantError(translation_domain=DOMAIN, translation_key="not_counter_staff"),
        code=websocket_api.ERR_UNAUTHORIZED,
    )


@websocket_api.websocket_command({vol.Required("type"): f"{PREFIX}overview"})
@websocket_api.async_response
async def ws_overview(
    hass: HomeAssistant, connection: websocket_api.ActiveConnection, msg: dict[str, Any]
) -> None:
    """The sites whose counter the user works: their rooms and return boxes; the categories.

    Counter staff of a site that is restarting get the sites loaded now (perhaps none).
    """
    if not works_any_counter(hass, connection.user):
        _refuse_stranger(connection, msg["id"])
        return
    sites = staffed_sites(hass, connection.user)
    connection.send_result(
        msg["id"],
        {"sites": [site_overview(site) for site in sites], "categories": categories()},
    )


def _staff_site(hass: HomeAssistant, user: User, msg: dict[str, Any], name: str) -> Site:
    """The site a command acts on, once the user is known to work a counter at all.

    Without `config_entry_id`: the one site the user works, or as the services pick one.
    """
    if not works_any_counter(hass, user):
        raise Unauthorized(user_id=user.id)
    staffed = staffed_sites(hass, user)
    entry_id = msg.get(ATTR_CONFIG_ENTRY_ID)
    if entry_id is None and len(staffed) == 1:
        return staffed[0]
    site = find_site(hass, entry_id, library_wide=name in PATRON_LEVEL, room_id=msg.get(ATTR_ROOM))
    require_counter_staff(user, site)
    return site


def _in_full(err: HomeAssistantError, msg: dict[str, Any]) -> HomeAssistantError:
    """A refusal naming the patron the staff member typed, in full as it was typed.

    Refusals mask patron IDs because their messages may reach logs; this one goes back only
    to counter staff, about the patron in front of them ("Patron S0001 is not frozen.").
    """
    placeholders = dict(err.translation_placeholders or {})
    typed = normalize_patron_id(str(msg.get(ATTR_PATRON_ID, "")))
    if not typed or placeholders.get("patron") != mask_patron_id(typed):
        return err
    placeholders["patron"] = typed
    return type(err)(
        translation_domain=err.translation_domain,
        translation_key=err.translation_key,
        translation_placeholders=placeholders,
    )


def _handler(name: str, command: Command) -> Any:
    """The websocket handler of one command: who asks, which site, then the command."""
    schema: dict[str | vol.Marker, Any] = {
        vol.Required("type"): f"{PREFIX}{name}",
        vol.Optional(ATTR_CONFIG_ENTRY_ID): str,
    }
    schema.update(command.fields)

    @websocket_api.websocket_command(schema)
    @websocket_api.async_response
    async def handle(
        hass: HomeAssistant, connection: websocket_api.ActiveConnection, msg: dict[str, Any]
    ) -> None:
        try:
            site = _staff_site(hass, connection.user, msg, name)
            with translated_errors():
                result = await command.run(site, msg)
        except Unauthorized:
            _refuse_stranger(connection, msg["id"])
            return
        except HomeAssistantError as err:
            send_refusal(connection, msg["id"], _in_full(err, msg))
            return
        connection.send_result(msg["id"], result)

    return handle
