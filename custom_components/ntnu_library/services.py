"""The integration's services: for staff and automations only, none with a secret.

Home Assistant records every service call with its data, so no password or activation code
is ever a field here: patrons act on the room page or through the websocket command
(`websocket.py`); activation codes go back to staff only as response data.

Registered once for every site as administrator services (a non-administrator is refused;
automations, with no user, may call them); each call picks its site (`config_entry_id`, or
the only one loaded), validates its fields (`validation.py`) and runs one command of the
site. Refusals become translated errors in one place (`exceptions.py`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from homeassistant.core import HomeAssistant, ServiceCall, ServiceResponse
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.typing import VolSchemaType
import voluptuous as vol

from .const import (
    ATTR_ACTION,
    ATTR_BOX,
    ATTR_CARD,
    ATTR_CATEGORY,
    ATTR_CONFIG_ENTRY_ID,
    ATTR_DAYS,
    ATTR_FAULT,
    ATTR_ITEMS,
    ATTR_KIOSK,
    ATTR_MEMBERSHIP_EXPIRES,
    ATTR_MONTH,
    ATTR_NAME,
    ATTR_PATRON_ID,
    ATTR_PATRON_NAME,
    ATTR_REASON,
    ATTR_RESET_PASSWORD,
    ATTR_ROOM,
    ATTR_SECONDS,
    ATTR_STATION,
    ATTR_SUSPENDED,
    ATTR_UNTIL,
    DOMAIN,
)
from .core.circulation_state import KIOSK_FAULTS
from .core.policy import MAX_FREEZE_DAYS
from .core.room_state import VIOLATION_DAYS
from .exceptions import translated_errors
from .ha_compat import async_register_admin_service
from .kiosk_stations import async_list_stations, async_revoke_station
from .site import find_site
from .validation import CARD, ENTRY_FIELDS, ITEMS, PATRON_ID, ROOM, STATION, TEXT, whole_number
from .zigbee.radio import SIMULATE_ACTIONS

if TYPE_CHECKING:
    from .site import Site


COUNTER_ACTION_SCHEMA = vol.Schema(
    {
        **ENTRY_FIELDS,
        vol.Required(ATTR_ROOM): ROOM,
        vol.Required(ATTR_PATRON_ID): PATRON_ID,
    }
)
COUNTER_RETURN_SCHEMA = vol.All(
    vol.Schema(
        {
            **ENTRY_FIELDS,
            vol.Optional(ATTR_ROOM): ROOM,
            vol.Optional(ATTR_PATRON_ID): PATRON_ID,
            vol.Optional(ATTR_PATRON_NAME): vol.All(TEXT, vol.Length(min=1)),
        }
    ),
    cv.has_at_least_one_key(ATTR_ROOM, ATTR_PATRON_ID, ATTR_PATRON_NAME),
    cv.has_at_most_one_key(ATTR_ROOM, ATTR_PATRON_ID, ATTR_PATRON_NAME),
)
PATRON_ID_SCHEMA = vol.Schema({**ENTRY_FIELDS, vol.Required(ATTR_PATRON_ID): PATRON_ID})
RESERVE_SCHEMA = vol.Schema(
    {
        **ENTRY_FIELDS,
        vol.Required(ATTR_ROOM): ROOM,
        vol.Required(ATTR_PATRON_ID): PATRON_ID,
        vol.Required(ATTR_MONTH): vol.All(cv.string, vol.Length(max=16)),
    }
)
CANCEL_SCHEMA = vol.Schema(
    {
        **ENTRY_FIELDS,
        vol.Required(ATTR_ROOM): ROOM,
        vol.Required(ATTR_MONTH): vol.All(cv.string, vol.Length(max=16)),
    }
)
FREEZE_SCHEMA = vol.Schema(
    {
        **ENTRY_FIELDS,
        vol.Required(ATTR_PATRON_ID): PATRON_ID,
        vol.Optional(ATTR_DAYS): vol.All(whole_number, vol.Range(min=1, max=MAX_FREEZE_DAYS)),
        vol.Optional(ATTR_REASON, default=""): TEXT,
    }
)
# A violation, counted over the last `days` (the policy's window: K violations within M days).
VIOLATION_SCHEMA = vol.Schema(
    {
        **ENTRY_FIELDS,
        vol.Required(ATTR_PATRON_ID): PATRON_ID,
        vol.Optional(ATTR_REASON, default=""): TEXT,
        vol.Optional(ATTR_DAYS, default=30): vol.All(
            whole_number, vol.Range(min=1, max=VIOLATION_DAYS)
        ),
    }
)
AUTO_RETURN_SCHEMA = vol.Schema(
    {
        **ENTRY_FIELDS,
        vol.Required(ATTR_ROOM): ROOM,
        vol.Optional(ATTR_REASON, default="automation"): TEXT,
    }
)
SIMULATE_SCHEMA = vol.Schema(
    {
        **ENTRY_FIELDS,
        vol.Required(ATTR_ROOM): ROOM,
        vol.Required(ATTR_ACTION): vol.In(SIMULATE_ACTIONS),
        vol.Optional(ATTR_CARD): CARD,
    }
)
PERMIT_JOIN_SCHEMA = vol.Schema(
    {
        **ENTRY_FIELDS,
        vol.Optional(ATTR_SECONDS, default=60): vol.All(whole_number, vol.Range(1, 254)),
    }
)
# One of the loan table's categories (the selector lists them); anything else is refused by the
# directory with a translated `invalid_value`, never a raw list of every key.
_CATEGORY = vol.All(TEXT, vol.Length(min=1))
_PATRON_FIELDS: dict[vol.Marker, Any] = {
    vol.Optional(ATTR_CARD): vol.Any(None, CARD),
    vol.Optional(ATTR_MEMBERSHIP_EXPIRES): vol.Any(None, cv.date),
    vol.Optional(ATTR_SUSPENDED): cv.boolean,
}
ADD_PATRON_SCHEMA = vol.Schema(
    {
        **ENTRY_FIELDS,
        vol.Required(ATTR_PATRON_ID): PATRON_ID,
        vol.Required(ATTR_NAME): vol.All(TEXT, vol.Length(min=1)),
        vol.Required(ATTR_CATEGORY): _CATEGORY,
        **_PATRON_FIELDS,
    }
)
UPDATE_PATRON_SCHEMA = vol.Schema(
    {
        **ENTRY_FIELDS,
        vol.Required(ATTR_PATRON_ID): PATRON_ID,
        vol.Optional(ATTR_NAME): vol.All(TEXT, vol.Length(min=1)),
        vol.Optional(ATTR_RESET_PASSWORD, default=False): cv.boolean,
        vol.Optional(ATTR_CATEGORY): _CATEGORY,
        **_PATRON_FIELDS,
    }
)

SELF_CHECKOUT_SCHEMA = vol.All(
    vol.Schema(
        {
            **ENTRY_FIELDS,
            vol.Optional(ATTR_PATRON_ID): PATRON_ID,
            vol.Optional(ATTR_CARD): CARD,
            vol.Required(ATTR_ITEMS): ITEMS,
            vol.Optional(ATTR_KIOSK): STATION,
        }
    ),
    cv.has_at_least_one_key(ATTR_PATRON_ID, ATTR_CARD),
    cv.has_at_most_one_key(ATTR_PATRON_ID, ATTR_CARD),
)
ITEMS_SCHEMA = vol.Schema({**ENTRY_FIELDS, vol.Required(ATTR_ITEMS): ITEMS})
BOX_DROP_SCHEMA = vol.Schema(
    {**ENTRY_FIELDS, vol.Required(ATTR_BOX): STATION, vol.Required(ATTR_ITEMS): ITEMS}
)
BOX_SCHEMA = vol.Schema({**ENTRY_FIELDS, vol.Required(ATTR_BOX): STATION})
KIOSK_SCHEMA = vol.Schema({**ENTRY_FIELDS, vol.Required(ATTR_KIOSK): STATION})
ENTRY_SCHEMA = vol.Schema(ENTRY_FIELDS)
STATION_SCHEMA = vol.Schema({**ENTRY_FIELDS, vol.Required(ATTR_STATION): STATION})
KIOSK_FAULT_SCHEMA = vol.Schema(
    {
        **ENTRY_FIELDS,
        vol.Required(ATTR_KIOSK): STATION,
        vol.Required(ATTR_FAULT): vol.In(sorted(KIOSK_FAULTS)),
    }
)
EXTEND_SCHEMA = vol.Schema(
    {**ENTRY_FIELDS, vol.Required(ATTR_PATRON_ID): PATRON_ID, vol.Optional(ATTR_UNTIL): cv.date}
)

type Handler = Callable[[Site, ServiceCall], Awaitable[dict[str, Any]]]


# Services about a patron, not a building: any site of the patron's library will do.
PATRON_LEVEL = frozenset(
    {
        "check_in",
        "clear_login_lock",
        "freeze_patron",
        "unfreeze_patron",
        "record_violation",
        "add_patron",
        "update_patron",
        "remove_patron",
        "patron_loans",
        "extend_membership",
        "reactivate_membership",
        "counter_checkin",
        # The self-checkout stations are the library's (one list for all its kiosks).
        "kiosk_stations",
        "revoke_kiosk_station",
    }
)


def _site(hass: HomeAssistant, call: ServiceCall) -> Site:
    """The site a call acts on: the one named, or the only one loaded (see `find_site`)."""
    return find_site(
        hass,
        call.data.get(ATTR_CONFIG_ENTRY_ID),
        library_wide=call.service in PATRON_LEVEL,
    )


async def _run(hass: HomeAssistant, handler: Handler, call: ServiceCall) -> ServiceResponse:
    site = _site(hass, call)
    with translated_errors():
        return await handler(site, call)


def _counter_action(action: str) -> Handler:
    """Staff borrow, open or return for a patron at the counter with their card."""

    async def handler(runtime: Site, call: ServiceCall) -> dict[str, Any]:
        return await runtime.commands.async_counter_action(
            action, call.data[ATTR_ROOM], call.data[ATTR_PATRON_ID]
        )

    return handler


async def _counter_return(runtime: Site, call: ServiceCall) -> dict[str, Any]:
    return await runtime.commands.async_counter_return(
        room_id=call.data.get(ATTR_ROOM),
        patron_id=call.data.get(ATTR_PATRON_ID),
        patron_name=call.data.get(ATTR_PATRON_NAME),
    )


async def _check_in(runtime: Site, call: ServiceCall) -> dict[str, Any]:
    return await runtime.commands.async_check_in(call.data[ATTR_PATRON_ID])


async def _clear_login_lock(runtime: Site, call: ServiceCall) -> dict[str, Any]:
    return await runtime.commands.async_clear_login_lock(call.data[ATTR_PATRON_ID])


async def _reserve(runtime: Site, call: ServiceCall) -> dict[str, Any]:
    return await runtime.commands.async_reserve_long_term(
        call.data[ATTR_ROOM], call.data[ATTR_PATRON_ID], call.data[ATTR_MONTH]
    )


async def _cancel(runtime: Site, call: ServiceCall) -> dict[str, Any]:
    return await runtime.commands.async_cancel_reservation(
        call.data[ATTR_ROOM], call.data[ATTR_MONTH]
    )


async def _freeze(runtime: Site, call: ServiceCall) -> dict[str, Any]:
    return await runtime.commands.async_freeze(
        call.data[ATTR_PATRON_ID], call.data.get(ATTR_DAYS), call.data[ATTR_REASON]
    )


async def _record_violation(runtime: Site, call: ServiceCall) -> dict[str, Any]:
    return await runtime.commands.async_record_violation(
        call.data[ATTR_PATRON_ID], call.data[ATTR_REASON], call.data[ATTR_DAYS]
    )


async def _unfreeze(runtime: Site, call: ServiceCall) -> dict[str, Any]:
    return await runtime.commands.async_unfreeze(call.data[ATTR_PATRON_ID])


async def _auto_return(runtime: Site, call: ServiceCall) -> dict[str, Any]:
    return await runtime.commands.async_auto_return(call.data[ATTR_ROOM], call.data[ATTR_REASON])


async def _simulate(runtime: Site, call: ServiceCall) -> dict[str, Any]:
    room = call.data[ATTR_ROOM]
    runtime.rooms.room(room)
    if not runtime.radio.can_simulate:
        raise ServiceValidationError(translation_domain=DOMAIN, translation_key="not_simulated")
    action = call.data[ATTR_ACTION]
    if action == "card_tap" and not call.data.get(ATTR_CARD, "").strip():
        raise ServiceValidationError(translation_domain=DOMAIN, translation_key="card_required")
    await runtime.radio.async_simulate(room, action, call.data.get(ATTR_CARD))
    await runtime.commands.async_settle(room)  # a tap is answered when its door has moved
    return runtime.commands.summary(room)


async def _permit_join(runtime: Site, call: ServiceCall) -> dict[str, Any]:
    if not runtime.radio.can_permit_join:
        raise ServiceValidationError(translation_domain=DOMAIN, translation_key="not_own_radio")
    seconds = call.data[ATTR_SECONDS]
    await runtime.radio.async_permit_join(seconds)
    return {"permit_join_seconds": seconds}


async def _add_patron(runtime: Site, call: ServiceCall) -> dict[str, Any]:
    fields = {k: v for k, v in call.data.items() if k != ATTR_CONFIG_ENTRY_ID}
    return await runtime.directory.async_add_patron(**fields)


async def _update_patron(runtime: Site, call: ServiceCall) -> dict[str, Any]:
    fields = {k: v for k, v in call.data.items() if k != ATTR_CONFIG_ENTRY_ID}
    return await runtime.directory.async_update_patron(**fields)


async def _remove_patron(runtime: Site, call: ServiceCall) -> dict[str, Any]:
    return await runtime.directory.async_remove_patron(call.data[ATTR_PATRON_ID])


async def _self_checkout(runtime: Site, call: ServiceCall) -> dict[str, Any]:
    return await runtime.desk.async_checkout(
        items=call.data[ATTR_ITEMS],
        patron_id=call.data.get(ATTR_PATRON_ID),
        card=call.data.get(ATTR_CARD),
        kiosk=call.data.get(ATTR_KIOSK),
    )


async def _counter_checkin(runtime: Site, call: ServiceCall) -> dict[str, Any]:
    return await runtime.desk.async_checkin(call.data[ATTR_ITEMS])


async def _box_drop(runtime: Site, call: ServiceCall) -> dict[str, Any]:
    return await runtime.desk.async_drop(call.data[ATTR_BOX], call.data[ATTR_ITEMS])


async def _scan_back(runtime: Site, call: ServiceCall) -> dict[str, Any]:
    return await runtime.desk.async_scan_back(call.data[ATTR_BOX])


async def _patron_loans(runtime: Site, call: ServiceCall) -> dict[str, Any]:
    return await runtime.desk.async_patron_loans(call.data[ATTR_PATRON_ID])


async def _extend_membership(runtime: Site, call: ServiceCall) -> dict[str, Any]:
    return await runtime.desk.async_extend_membership(
        call.data[ATTR_PATRON_ID], call.data.get(ATTR_UNTIL)
    )


async def _reactivate_membership(runtime: Site, call: ServiceCall) -> dict[str, Any]:
    return await runtime.desk.async_reactivate_membership(call.data[ATTR_PATRON_ID])


async def _kiosk_fault(runtime: Site, call: ServiceCall) -> dict[str, Any]:
    return await runtime.desk.async_kiosk_fault(call.data[ATTR_KIOSK], call.data[ATTR_FAULT])


async def _clear_kiosk_fault(runtime: Site, call: ServiceCall) -> dict[str, Any]:
    return await runtime.desk.async_clear_kiosk_fault(call.data[ATTR_KIOSK])


async def _kiosk_stations(runtime: Site, call: ServiceCall) -> dict[str, Any]:
    return await async_list_stations(runtime.hass, runtime.library)


async def _revoke_kiosk_station(runtime: Site, call: ServiceCall) -> dict[str, Any]:
    return await async_revoke_station(runtime.library, call.data[ATTR_STATION])


# name: (handler, schema)
SERVICES: dict[str, tuple[Handler, VolSchemaType]] = {
    "borrow": (_counter_action("borrow"), COUNTER_ACTION_SCHEMA),
    "open_door": (_counter_action("open"), COUNTER_ACTION_SCHEMA),
    "return_room": (_counter_action("return"), COUNTER_ACTION_SCHEMA),
    "counter_return": (_counter_return, COUNTER_RETURN_SCHEMA),
    "check_in": (_check_in, PATRON_ID_SCHEMA),
    "clear_login_lock": (_clear_login_lock, PATRON_ID_SCHEMA),
    "reserve_long_term": (_reserve, RESERVE_SCHEMA),
    "cancel_reservation": (_cancel, CANCEL_SCHEMA),
    "freeze_patron": (_freeze, FREEZE_SCHEMA),
    "unfreeze_patron": (_unfreeze, PATRON_ID_SCHEMA),
    "record_violation": (_record_violation, VIOLATION_SCHEMA),
    "auto_return": (_auto_return, AUTO_RETURN_SCHEMA),
    "simulate": (_simulate, SIMULATE_SCHEMA),
    "permit_join": (_permit_join, PERMIT_JOIN_SCHEMA),
    "add_patron": (_add_patron, ADD_PATRON_SCHEMA),
    "update_patron": (_update_patron, UPDATE_PATRON_SCHEMA),
    "remove_patron": (_remove_patron, PATRON_ID_SCHEMA),
    # Circulation: kiosks, return boxes, the counter.
    "self_checkout": (_self_checkout, SELF_CHECKOUT_SCHEMA),
    "counter_checkin": (_counter_checkin, ITEMS_SCHEMA),
    "return_box_drop": (_box_drop, BOX_DROP_SCHEMA),
    "scan_back": (_scan_back, BOX_SCHEMA),
    "patron_loans": (_patron_loans, PATRON_ID_SCHEMA),
    "extend_membership": (_extend_membership, EXTEND_SCHEMA),
    "reactivate_membership": (_reactivate_membership, PATRON_ID_SCHEMA),
    "kiosk_fault": (_kiosk_fault, KIOSK_FAULT_SCHEMA),
    "clear_kiosk_fault": (_clear_kiosk_fault, KIOSK_SCHEMA),
    "kiosk_stations": (_kiosk_stations, ENTRY_SCHEMA),
    "revoke_kiosk_station": (_revoke_kiosk_station, STATION_SCHEMA),
}


def async_setup_services(hass: HomeAssistant) -> None:
    """Register every service once, for administrators; each looks up the site it acts on."""
    for name, (handler, schema) in SERVICES.items():
        async_register_admin_service(hass, DOMAIN, name, partial(_run, hass, handler), schema)
