"""The integration's services: for staff and automations only, none with a secret.

Home Assistant records every service call with its data, so no password or activation code
is ever a field here: patrons act on the room page or through the websocket command
(`websocket.py`); activation codes go back to staff only as response data.

Registered once for every site; each call picks its site (`config_entry_id`, or the only one
loaded), checks staff rights in one place (`access.py`), validates its fields against the
integration's limits (`const.py`) and runs one command of the site. Refusals become
translated errors in one place (`exceptions.py`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from homeassistant.core import HomeAssistant, ServiceCall, ServiceResponse, SupportsResponse
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.typing import VolSchemaType
import voluptuous as vol

from .access import async_require_admin
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
    ATTR_SUSPENDED,
    ATTR_UNTIL,
    DOMAIN,
)
from .core.categories import CATEGORIES
from .core.circulation import KIOSK_FAULTS, MAX_BARCODES
from .core.limits import MAX_CARD_LENGTH, MAX_ID_LENGTH, MAX_TEXT_LENGTH, ROOM_ID_PATTERN
from .core.policy import MAX_FREEZE_DAYS
from .exceptions import translated_errors
from .site import find_site
from .zigbee.radio import SIMULATE_ACTIONS

if TYPE_CHECKING:
    from .site import SiteRuntime


def _printable(value: str) -> str:
    """Refuse control characters: nothing a caller types may forge a log line."""
    if not value.isprintable():
        raise vol.Invalid("control characters are not allowed")
    return value


def _whole_number(value: Any) -> int:
    """An integer, or a number or text that is one ("7", 7.0); 1.9 is refused, not cut to 1."""
    if isinstance(value, bool):
        raise vol.Invalid("expected a whole number")
    if isinstance(value, int):
        return value
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise vol.Invalid("expected a whole number") from None
    if not number.is_integer():
        raise vol.Invalid("expected a whole number")
    return int(number)


_ID = vol.All(cv.string, vol.Strip, vol.Length(min=1, max=MAX_ID_LENGTH), _printable)
_ROOM = vol.All(cv.string, vol.Strip, vol.Upper, vol.Match(ROOM_ID_PATTERN))
_TEXT = vol.All(cv.string, vol.Length(max=MAX_TEXT_LENGTH), _printable)
_CARD = vol.All(cv.string, vol.Length(min=1, max=MAX_CARD_LENGTH), _printable)
_ENTRY: dict[vol.Marker, Any] = {vol.Optional(ATTR_CONFIG_ENTRY_ID): cv.string}
# What the websocket command and the public pages validate the same way.
PATRON_ID_FIELD = _ID
ROOM_FIELD = _ROOM

COUNTER_ACTION_SCHEMA = vol.Schema(
    {
        **_ENTRY,
        vol.Required(ATTR_ROOM): _ROOM,
        vol.Required(ATTR_PATRON_ID): _ID,
    }
)
COUNTER_RETURN_SCHEMA = vol.All(
    vol.Schema(
        {
            **_ENTRY,
            vol.Optional(ATTR_ROOM): _ROOM,
            vol.Optional(ATTR_PATRON_ID): _ID,
            vol.Optional(ATTR_PATRON_NAME): vol.All(_TEXT, vol.Length(min=1)),
        }
    ),
    cv.has_at_least_one_key(ATTR_ROOM, ATTR_PATRON_ID, ATTR_PATRON_NAME),
    cv.has_at_most_one_key(ATTR_ROOM, ATTR_PATRON_ID, ATTR_PATRON_NAME),
)
PATRON_ID_SCHEMA = vol.Schema({**_ENTRY, vol.Required(ATTR_PATRON_ID): _ID})
RESERVE_SCHEMA = vol.Schema(
    {
        **_ENTRY,
        vol.Required(ATTR_ROOM): _ROOM,
        vol.Required(ATTR_PATRON_ID): _ID,
        vol.Required(ATTR_MONTH): vol.All(cv.string, vol.Length(max=16)),
    }
)
CANCEL_SCHEMA = vol.Schema(
    {
        **_ENTRY,
        vol.Required(ATTR_ROOM): _ROOM,
        vol.Required(ATTR_MONTH): vol.All(cv.string, vol.Length(max=16)),
    }
)
FREEZE_SCHEMA = vol.Schema(
    {
        **_ENTRY,
        vol.Required(ATTR_PATRON_ID): _ID,
        vol.Optional(ATTR_DAYS): vol.All(_whole_number, vol.Range(min=1, max=MAX_FREEZE_DAYS)),
        vol.Optional(ATTR_REASON, default=""): _TEXT,
    }
)
AUTO_RETURN_SCHEMA = vol.Schema(
    {
        **_ENTRY,
        vol.Required(ATTR_ROOM): _ROOM,
        vol.Optional(ATTR_REASON, default="automation"): _TEXT,
    }
)
SIMULATE_SCHEMA = vol.Schema(
    {
        **_ENTRY,
        vol.Required(ATTR_ROOM): _ROOM,
        vol.Required(ATTR_ACTION): vol.In(SIMULATE_ACTIONS),
        vol.Optional(ATTR_CARD): _CARD,
    }
)
PERMIT_JOIN_SCHEMA = vol.Schema(
    {**_ENTRY, vol.Optional(ATTR_SECONDS, default=60): vol.All(_whole_number, vol.Range(1, 254))}
)
_CATEGORY = vol.In(sorted(CATEGORIES))
_PATRON_FIELDS: dict[vol.Marker, Any] = {
    vol.Optional(ATTR_CARD): vol.Any(None, _CARD),
    vol.Optional(ATTR_MEMBERSHIP_EXPIRES): vol.Any(None, cv.date),
    vol.Optional(ATTR_SUSPENDED): cv.boolean,
}
ADD_PATRON_SCHEMA = vol.Schema(
    {
        **_ENTRY,
        vol.Required(ATTR_PATRON_ID): _ID,
        vol.Required(ATTR_NAME): vol.All(_TEXT, vol.Length(min=1)),
        vol.Required(ATTR_CATEGORY): _CATEGORY,
        **_PATRON_FIELDS,
    }
)
UPDATE_PATRON_SCHEMA = vol.Schema(
    {
        **_ENTRY,
        vol.Required(ATTR_PATRON_ID): _ID,
        vol.Optional(ATTR_NAME): vol.All(_TEXT, vol.Length(min=1)),
        vol.Optional(ATTR_RESET_PASSWORD, default=False): cv.boolean,
        vol.Optional(ATTR_CATEGORY): _CATEGORY,
        **_PATRON_FIELDS,
    }
)

_BARCODE = vol.All(cv.string, vol.Length(min=1, max=64), _printable)
_ITEMS = vol.All(cv.ensure_list, vol.Length(min=1, max=MAX_BARCODES), [_BARCODE])
_STATION = vol.All(cv.string, vol.Strip, vol.Length(min=1, max=32), _printable)
SELF_CHECKOUT_SCHEMA = vol.All(
    vol.Schema(
        {
            **_ENTRY,
            vol.Optional(ATTR_PATRON_ID): _ID,
            vol.Optional(ATTR_CARD): _CARD,
            vol.Required(ATTR_ITEMS): _ITEMS,
            vol.Optional(ATTR_KIOSK): _STATION,
        }
    ),
    cv.has_at_least_one_key(ATTR_PATRON_ID, ATTR_CARD),
    cv.has_at_most_one_key(ATTR_PATRON_ID, ATTR_CARD),
)
ITEMS_SCHEMA = vol.Schema({**_ENTRY, vol.Required(ATTR_ITEMS): _ITEMS})
BOX_DROP_SCHEMA = vol.Schema(
    {**_ENTRY, vol.Required(ATTR_BOX): _STATION, vol.Required(ATTR_ITEMS): _ITEMS}
)
BOX_SCHEMA = vol.Schema({**_ENTRY, vol.Required(ATTR_BOX): _STATION})
KIOSK_SCHEMA = vol.Schema({**_ENTRY, vol.Required(ATTR_KIOSK): _STATION})
KIOSK_FAULT_SCHEMA = vol.Schema(
    {
        **_ENTRY,
        vol.Required(ATTR_KIOSK): _STATION,
        vol.Required(ATTR_FAULT): vol.In(sorted(KIOSK_FAULTS)),
    }
)
EXTEND_SCHEMA = vol.Schema(
    {**_ENTRY, vol.Required(ATTR_PATRON_ID): _ID, vol.Optional(ATTR_UNTIL): cv.date}
)

type Handler = Callable[[SiteRuntime, ServiceCall], Awaitable[dict[str, Any]]]


# Services about a patron, not a building: any site of the patron's library will do.
PATRON_LEVEL = frozenset(
    {
        "check_in",
        "clear_login_lock",
        "freeze_patron",
        "unfreeze_patron",
        "add_patron",
        "update_patron",
        "remove_patron",
        "patron_loans",
        "extend_membership",
        "reactivate_membership",
        "counter_checkin",
    }
)


def _site(hass: HomeAssistant, call: ServiceCall) -> SiteRuntime:
    """The site a call acts on: the one named, or the only one loaded (see `find_site`)."""
    return find_site(
        hass,
        call.data.get(ATTR_CONFIG_ENTRY_ID),
        library_wide=call.service in PATRON_LEVEL,
    )


async def _run(
    hass: HomeAssistant, handler: Handler, staff: bool, call: ServiceCall
) -> ServiceResponse:
    if staff:
        await async_require_admin(hass, call.context)
    runtime = _site(hass, call)
    with translated_errors():
        return await handler(runtime, call)


def _counter_action(action: str) -> Handler:
    """Staff borrow, open or return for a patron at the counter with their card."""

    async def handler(runtime: SiteRuntime, call: ServiceCall) -> dict[str, Any]:
        return await runtime.commands.async_counter_action(
            action, call.data[ATTR_ROOM], call.data[ATTR_PATRON_ID]
        )

    return handler


async def _counter_return(runtime: SiteRuntime, call: ServiceCall) -> dict[str, Any]:
    return await runtime.commands.async_counter_return(
        room_id=call.data.get(ATTR_ROOM),
        patron_id=call.data.get(ATTR_PATRON_ID),
        patron_name=call.data.get(ATTR_PATRON_NAME),
    )


async def _check_in(runtime: SiteRuntime, call: ServiceCall) -> dict[str, Any]:
    return await runtime.commands.async_check_in(call.data[ATTR_PATRON_ID])


async def _clear_login_lock(runtime: SiteRuntime, call: ServiceCall) -> dict[str, Any]:
    return await runtime.commands.async_clear_login_lock(call.data[ATTR_PATRON_ID])


async def _reserve(runtime: SiteRuntime, call: ServiceCall) -> dict[str, Any]:
    return await runtime.commands.async_reserve_long_term(
        call.data[ATTR_ROOM], call.data[ATTR_PATRON_ID], call.data[ATTR_MONTH]
    )


async def _cancel(runtime: SiteRuntime, call: ServiceCall) -> dict[str, Any]:
    return await runtime.commands.async_cancel_reservation(
        call.data[ATTR_ROOM], call.data[ATTR_MONTH]
    )


async def _freeze(runtime: SiteRuntime, call: ServiceCall) -> dict[str, Any]:
    return await runtime.commands.async_freeze(
        call.data[ATTR_PATRON_ID], call.data.get(ATTR_DAYS), call.data[ATTR_REASON]
    )


async def _unfreeze(runtime: SiteRuntime, call: ServiceCall) -> dict[str, Any]:
    return await runtime.commands.async_unfreeze(call.data[ATTR_PATRON_ID])


async def _auto_return(runtime: SiteRuntime, call: ServiceCall) -> dict[str, Any]:
    return await runtime.commands.async_auto_return(call.data[ATTR_ROOM], call.data[ATTR_REASON])


async def _simulate(runtime: SiteRuntime, call: ServiceCall) -> dict[str, Any]:
    room = call.data[ATTR_ROOM]
    runtime.library.room(room)
    if not runtime.radio.can_simulate:
        raise ServiceValidationError(translation_domain=DOMAIN, translation_key="not_simulated")
    action = call.data[ATTR_ACTION]
    if action == "card_tap" and not call.data.get(ATTR_CARD, "").strip():
        raise ServiceValidationError(translation_domain=DOMAIN, translation_key="card_required")
    await runtime.radio.async_simulate(room, action, call.data.get(ATTR_CARD))
    await runtime.commands.async_settle(room)  # a tap is answered when its door has moved
    return runtime.room_summary(room)


async def _permit_join(runtime: SiteRuntime, call: ServiceCall) -> dict[str, Any]:
    if not runtime.radio.can_permit_join:
        raise ServiceValidationError(translation_domain=DOMAIN, translation_key="not_own_radio")
    seconds = call.data[ATTR_SECONDS]
    await runtime.radio.async_permit_join(seconds)
    return {"permit_join_seconds": seconds}


async def _add_patron(runtime: SiteRuntime, call: ServiceCall) -> dict[str, Any]:
    fields = {k: v for k, v in call.data.items() if k != ATTR_CONFIG_ENTRY_ID}
    return await runtime.directory.async_add_patron(**fields)


async def _update_patron(runtime: SiteRuntime, call: ServiceCall) -> dict[str, Any]:
    fields = {k: v for k, v in call.data.items() if k != ATTR_CONFIG_ENTRY_ID}
    return await runtime.directory.async_update_patron(**fields)


async def _remove_patron(runtime: SiteRuntime, call: ServiceCall) -> dict[str, Any]:
    return await runtime.directory.async_remove_patron(call.data[ATTR_PATRON_ID])


async def _self_checkout(runtime: SiteRuntime, call: ServiceCall) -> dict[str, Any]:
    return await runtime.desk.async_checkout(
        items=call.data[ATTR_ITEMS],
        patron_id=call.data.get(ATTR_PATRON_ID),
        card=call.data.get(ATTR_CARD),
        kiosk=call.data.get(ATTR_KIOSK),
    )


async def _counter_checkin(runtime: SiteRuntime, call: ServiceCall) -> dict[str, Any]:
    return await runtime.desk.async_checkin(call.data[ATTR_ITEMS])


async def _box_drop(runtime: SiteRuntime, call: ServiceCall) -> dict[str, Any]:
    return await runtime.desk.async_drop(call.data[ATTR_BOX], call.data[ATTR_ITEMS])


async def _scan_back(runtime: SiteRuntime, call: ServiceCall) -> dict[str, Any]:
    return await runtime.desk.async_scan_back(call.data[ATTR_BOX])


async def _patron_loans(runtime: SiteRuntime, call: ServiceCall) -> dict[str, Any]:
    return await runtime.desk.async_patron_loans(call.data[ATTR_PATRON_ID])


async def _extend_membership(runtime: SiteRuntime, call: ServiceCall) -> dict[str, Any]:
    return await runtime.desk.async_extend_membership(
        call.data[ATTR_PATRON_ID], call.data.get(ATTR_UNTIL)
    )


async def _reactivate_membership(runtime: SiteRuntime, call: ServiceCall) -> dict[str, Any]:
    return await runtime.desk.async_reactivate_membership(call.data[ATTR_PATRON_ID])


async def _kiosk_fault(runtime: SiteRuntime, call: ServiceCall) -> dict[str, Any]:
    return await runtime.desk.async_kiosk_fault(call.data[ATTR_KIOSK], call.data[ATTR_FAULT])


async def _clear_kiosk_fault(runtime: SiteRuntime, call: ServiceCall) -> dict[str, Any]:
    return await runtime.desk.async_clear_kiosk_fault(call.data[ATTR_KIOSK])


# name: (handler, schema, staff only)
SERVICES: dict[str, tuple[Handler, VolSchemaType, bool]] = {
    "borrow": (_counter_action("borrow"), COUNTER_ACTION_SCHEMA, True),
    "open_door": (_counter_action("open"), COUNTER_ACTION_SCHEMA, True),
    "return_room": (_counter_action("return"), COUNTER_ACTION_SCHEMA, True),
    "counter_return": (_counter_return, COUNTER_RETURN_SCHEMA, True),
    "check_in": (_check_in, PATRON_ID_SCHEMA, True),
    "clear_login_lock": (_clear_login_lock, PATRON_ID_SCHEMA, True),
    "reserve_long_term": (_reserve, RESERVE_SCHEMA, True),
    "cancel_reservation": (_cancel, CANCEL_SCHEMA, True),
    "freeze_patron": (_freeze, FREEZE_SCHEMA, True),
    "unfreeze_patron": (_unfreeze, PATRON_ID_SCHEMA, True),
    "auto_return": (_auto_return, AUTO_RETURN_SCHEMA, True),
    "simulate": (_simulate, SIMULATE_SCHEMA, True),
    "permit_join": (_permit_join, PERMIT_JOIN_SCHEMA, True),
    "add_patron": (_add_patron, ADD_PATRON_SCHEMA, True),
    "update_patron": (_update_patron, UPDATE_PATRON_SCHEMA, True),
    "remove_patron": (_remove_patron, PATRON_ID_SCHEMA, True),
    # Circulation: kiosks, return boxes, the counter.
    "self_checkout": (_self_checkout, SELF_CHECKOUT_SCHEMA, True),
    "counter_checkin": (_counter_checkin, ITEMS_SCHEMA, True),
    "return_box_drop": (_box_drop, BOX_DROP_SCHEMA, True),
    "scan_back": (_scan_back, BOX_SCHEMA, True),
    "patron_loans": (_patron_loans, PATRON_ID_SCHEMA, True),
    "extend_membership": (_extend_membership, EXTEND_SCHEMA, True),
    "reactivate_membership": (_reactivate_membership, PATRON_ID_SCHEMA, True),
    "kiosk_fault": (_kiosk_fault, KIOSK_FAULT_SCHEMA, True),
    "clear_kiosk_fault": (_clear_kiosk_fault, KIOSK_SCHEMA, True),
}


def async_setup_services(hass: HomeAssistant) -> None:
    """Register every service once; each looks up the site it acts on."""
    for name, (handler, schema, staff) in SERVICES.items():
        hass.services.async_register(
            DOMAIN,
            name,
            partial(_run, hass, handler, staff),
            schema=schema,
            supports_response=SupportsResponse.OPTIONAL,
        )
