"""Names of the ntnu_library integration and the run time's own limits, each defined once.

The limits on what people and devices send are the domain's (`core/limits.py`).
"""

from __future__ import annotations

import functools
import logging
from typing import Final

DOMAIN: Final = "ntnu_library"
LOGGER = logging.getLogger(__package__)

EVENT_NAME: Final = "ntnu_library_event"

# Config entry data
CONF_SITE_NAME: Final = "site_name"
CONF_SITE_NAME_ZH: Final = "site_name_zh"  # the site's own name in Chinese (optional)
CONF_RADIO: Final = "radio"
CONF_PATRON_SYSTEM: Final = "patron_system"
CONF_DEMO_DATA: Final = "demo_data"
CONF_LIBRARY: Final = "library"  # the library (group of sites) this site belongs to

RADIO_SIMULATED: Final = "simulated"
RADIO_BELLOWS: Final = "bellows"  # an EZSP stick of the integration's own
RADIO_ZHA: Final = "zha"  # the network Home Assistant's ZHA runs
RADIOS: Final = (RADIO_SIMULATED, RADIO_BELLOWS, RADIO_ZHA)

# Own radio (entry data under CONF_BELLOWS)
CONF_BELLOWS: Final = "bellows"
CONF_DEVICE_PATH: Final = "device_path"
CONF_BAUDRATE: Final = "baudrate"
CONF_FLOW_CONTROL: Final = "flow_control"
PATRONS_LOCAL: Final = "local"
PATRONS_SIP2: Final = "sip2"
PATRON_SYSTEMS: Final = (PATRONS_LOCAL, PATRONS_SIP2)

# SIP2 connection (entry data under CONF_SIP2)
CONF_SIP2: Final = "sip2"
CONF_TLS: Final = "tls"
CONF_VERIFY_TLS: Final = "verify_tls"
CONF_INSTITUTION: Final = "institution"
CONF_LOGIN_USER: Final = "login_user"
CONF_LOGIN_PASSWORD: Final = "login_password"
CONF_LOCATION: Final = "location"
CONF_ERROR_DETECTION: Final = "error_detection"
CONF_CATEGORY_FIELD: Final = "category_field"
CONF_CATEGORY_MAP: Final = "category_map"
CONF_DEFAULT_CATEGORY: Final = "default_category"
CONF_CARD_FIELD: Final = "card_field"
CONF_ENCODING: Final = "encoding"
CONF_REFUSING_FLAGS: Final = "refusing_flags"
DEFAULT_SIP2_PORT: Final = 6001

# Room subentries
SUBENTRY_ROOM: Final = "room"
CONF_ROOM_ID: Final = "room_id"
CONF_KIND: Final = "kind"
CONF_FLOOR: Final = "floor"
CONF_LOCK_IEEE: Final = "lock_ieee"
CONF_CONTACT_IEEE: Final = "contact_ieee"
CONF_OCCUPANCY_IEEE: Final = "occupancy_ieee"

# Service fields (outside tests and automations use these names: keep them)
ATTR_CONFIG_ENTRY_ID: Final = "config_entry_id"
ATTR_ROOM: Final = "room"
ATTR_PATRON_ID: Final = "patron_id"
ATTR_PASSWORD: Final = "password"
# Options: the site's self-checkout kiosks and 24-hour return boxes (ids), and the loan period
# of partner-library users (days; "subject to the agreement between the two libraries").
CONF_KIOSKS: Final = "kiosks"
CONF_RETURN_BOXES: Final = "return_boxes"
CONF_PARTNER_LOAN_DAYS: Final = "partner_loan_days"
# Option: the pixel size of the rooms' e-paper labels ("296x128", "400x300", …).
CONF_LABEL_SIZE: Final = "label_size"
# Option: the Home Assistant users (ids) who work the site's counter through the counter panel
# (administrators may anyway); the integration's services stay for administrators.
CONF_COUNTER_STAFF: Final = "counter_staff"
ATTR_RESET_PASSWORD: Final = "reset_password"
# Circulation service fields.
ATTR_ITEMS: Final = "items"
ATTR_KIOSK: Final = "kiosk"
ATTR_BOX: Final = "box"
ATTR_FAULT: Final = "fault"
ATTR_UNTIL: Final = "until"
ATTR_PATRON_NAME: Final = "patron_name"
ATTR_MONTH: Final = "month"
ATTR_DAYS: Final = "days"
ATTR_REASON: Final = "reason"
ATTR_ACTION: Final = "action"
ATTR_CARD: Final = "card"
ATTR_NAME: Final = "name"
ATTR_CATEGORY: Final = "category"
ATTR_MEMBERSHIP_EXPIRES: Final = "membership_expires"
ATTR_SUSPENDED: Final = "suspended"
ATTR_SECONDS: Final = "seconds"
ATTR_STATION: Final = "station"  # a self-checkout station's id (revoke_kiosk_station)

POLICY_TICK_SECONDS: Final = 60


# Dispatcher signal (no arguments): some room of some site may show another status, or a site
# started or stopped. The public status panel listens to it.
SIGNAL_PUBLIC_STATUS: Final = f"{DOMAIN}_public_status"


def room_key(entry_id: str, room_id: str) -> str:
    """A room's device identifier; its entities' unique ids are this, `_`, their key."""
    return f"{entry_id}_{room_id}"


@functools.lru_cache(maxsize=8192)
def signal_room_update(entry_id: str, room_id: str | None) -> str:
    """Dispatcher signal to one room's entities (None: to every room's), carrying the room id.

    A room's update reaches that room's entities only, however many rooms the site has.
    """
    return f"{DOMAIN}_{entry_id}_room_update_{room_id or '*'}"


def signal_site_update(entry_id: str) -> str:
    """Dispatcher signal to the site's own entities: some room (None: every room) changed."""
    return f"{DOMAIN}_{entry_id}_site_update"


def signal_circulation_update(entry_id: str) -> str:
    """Dispatcher signal: a kiosk or return box of the site may show something new."""
    return f"{DOMAIN}_circulation_update_{entry_id}"


def signal_logins(library_id: str) -> str:
    """Dispatcher signal: a library's count of failed logins changed."""
    return f"{DOMAIN}_{library_id}_logins"


def signal_room_event(entry_id: str, room_id: str) -> str:
    """Dispatcher signal carrying a RoomEvent to that room's event entity."""
    return f"{DOMAIN}_{entry_id}_room_event_{room_id}"


# --- limits: core/limits.py; what follows are the run time's own -------------------------

# Password checks (bcrypt or the ILS) in flight at once per site; more would starve the rest of
# Home Assistant of executor threads. (What may wait for one: core/login_queue.py.)
LOGIN_SLOTS: Final = 2
# Card numbers (and other IDs) an ILS takes for a patron, remembered (as keyed hashes) so
# they share the patron's login budget.
MAX_LOGIN_ALIASES: Final = 20_000

# Doors: an unlocked door that closes again is locked this long after (the time it stays
# unlocked when nobody opens it is the option `relock_after_s`, core/limits.py).
RELOCK_ON_CLOSE_S: Final = 1.0

# The patron system is asked again this often while it is down (a repair issue is open).
PATRON_SYSTEM_RETRY_SECONDS: Final = 60
