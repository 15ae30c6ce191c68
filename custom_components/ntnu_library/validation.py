"""How a field people or automations send is checked: each kind of field defined once.

The services, the websocket command and whatever else takes fields from outside validate
them with these (voluptuous), against the limits of core/limits.py. Text with control
characters is refused everywhere: nothing a caller types may forge a log line.
"""

from __future__ import annotations

from typing import Any

from homeassistant.helpers import config_validation as cv
import voluptuous as vol

from .const import ATTR_CONFIG_ENTRY_ID
from .core.circulation_state import MAX_BARCODES
from .core.limits import (
    MAX_CARD_LENGTH,
    MAX_ID_LENGTH,
    MAX_PASSWORD_LENGTH,
    MAX_TEXT_LENGTH,
    ROOM_ID_PATTERN,
)


def printable_text(value: str) -> str:
    """Refuse control characters: nothing a caller types may forge a log line."""
    if not value.isprintable():
        raise vol.Invalid("control characters are not allowed")
    return value


def whole_number(value: Any) -> int:
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


PATRON_ID = vol.All(cv.string, vol.Strip, vol.Length(min=1, max=MAX_ID_LENGTH), printable_text)
ROOM = vol.All(cv.string, vol.Strip, vol.Upper, vol.Match(ROOM_ID_PATTERN))
TEXT = vol.All(cv.string, vol.Length(max=MAX_TEXT_LENGTH), printable_text)
CARD = vol.All(cv.string, vol.Length(min=1, max=MAX_CARD_LENGTH), printable_text)
ENTRY_FIELDS: dict[vol.Marker, Any] = {vol.Optional(ATTR_CONFIG_ENTRY_ID): cv.string}

BARCODE = vol.All(cv.string, vol.Length(min=1, max=64), printable_text)
ITEMS = vol.All(cv.ensure_list, vol.Length(min=1, max=MAX_BARCODES), [BARCODE])
STATION = vol.All(cv.string, vol.Strip, vol.Length(min=1, max=32), printable_text)
# A patron's password as typed (the websocket command; never a service field).
PASSWORD = vol.All(str, vol.Length(min=1, max=MAX_PASSWORD_LENGTH))
