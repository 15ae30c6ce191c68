"""The site's options: the policy numbers, the e-label size, circulation and counter staff.

Policy: auto-return, closing, freezes, counter hours, relocking. Circulation: the site's
self-checkout kiosks and 24-hour return boxes (ids), and the loan period of partner-library
users (days, by the agreement between the libraries). Counter staff: the Home Assistant users
who work this building's counter panel without being administrators.
"""

from __future__ import annotations

import re
from typing import Any

from homeassistant.config_entries import ConfigFlowResult, OptionsFlow
from homeassistant.helpers.selector import (
    BooleanSelector,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TimeSelector,
)
from homeassistant.util import dt as dt_util
import voluptuous as vol

from .const import (
    CONF_COUNTER_STAFF,
    CONF_KIOSKS,
    CONF_LABEL_SIZE,
    CONF_PARTNER_LOAN_DAYS,
    CONF_RETURN_BOXES,
)
from .core.categories import CATEGORIES
from .core.circulation import DEFAULT_PARTNER_LOAN_DAYS, MAX_PARTNER_LOAN_DAYS
from .core.elabel import DEFAULT_LABEL_SIZE, LABEL_SIZES
from .core.errors import Refused
from .core.kiosk_sessions import (
    CONF_KIOSK_IDLE_SECONDS,
    CONF_KIOSK_PASSWORD,
    MAX_IDLE_SECONDS,
    MIN_IDLE_SECONDS,
    KioskSettings,
)
from .core.limits import MAX_RELOCK_AFTER_S
from .core.policy import Policy
from .core.reservation_rules import LAST_OPEN_DAY, MAX_LONG_TERM_PER_MONTH, LongTermRules
from .staff import async_user_choices, counter_staff_of

_TIME_FIELDS = ("closing_time", "counter_opens", "counter_closes")
_MINUTE_FIELDS = ("auto_return_minutes", "max_use_minutes")


class NtnuLibraryOptionsFlow(OptionsFlow):
    """Auto-return, closing time, freeze length, counter hours, maximum use."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """One form for the whole policy."""
        errors: dict[str, str] = {}
        current = Policy.from_options(self.config_entry.options).as_dict()
        options = self.config_entry.options
        current[CONF_LABEL_SIZE] = label_size(options)
        current[CONF_KIOSKS] = list(options.get(CONF_KIOSKS) or [])
        current[CONF_RETURN_BOXES] = list(options.get(CONF_RETURN_BOXES) or [])
        current[CONF_PARTNER_LOAN_DAYS] = options.get(
            CONF_PARTNER_LOAN_DAYS, DEFAULT_PARTNER_LOAN_DAYS
        )
        # The counter panel's staff: users who log in (a removed user drops out).
        users = await async_user_choices(self.hass)
        known = {user["value"] for user in users}
        current[CONF_COUNTER_STAFF] = [u for u in counter_staff_of(options) if u in known]
        current |= _long_term_rules(options).as_dict()
        current |= KioskSettings.from_options(options).as_dict()
        if user_input is not None:
            values = {**current, **user_input}
            for field in (*_MINUTE_FIELDS, "freeze_days", "relock_after_s", CONF_PARTNER_LOAN_DAYS):
                number = float(values[field])
                # A number box sends 1.5 as it is: refused, never cut to 1.
                values[field] = int(number) if number.is_integer() else values[field]
            for field in _TIME_FIELDS:
                # The selector allows "8:05" and "8:05:00": store HH:MM.
                if parsed := dt_util.parse_time(str(values[field])):
                    values[field] = f"{parsed.hour:02d}:{parsed.minute:02d}"
            try:
                policy = Policy.from_options(values)
            except Refused as refusal:
                errors[refusal.placeholders.get("field", "base")] = "invalid_value"
            else:
                size = values[CONF_LABEL_SIZE]
                stations = {
                    key: _station_ids(values[key]) for key in (CONF_KIOSKS, CONF_RETURN_BOXES)
                }
                days = values[CONF_PARTNER_LOAN_DAYS]
                if size not in LABEL_SIZES:
                    errors[CONF_LABEL_SIZE] = "invalid_value"
                for key, ids in stations.items():
                    if ids is None:
                        errors[key] = "invalid_station"
                if not (isinstance(days, int) and 1 <= days <= MAX_PARTNER_LOAN_DAYS):
                    errors[CONF_PARTNER_LOAN_DAYS] = "invalid_value"
                staff = values[CONF_COUNTER_STAFF]
                if not isinstance(staff, list) or not set(staff) <= known:
                    errors[CONF_COUNTER_STAFF] = "invalid_value"
                long_term = _read_long_term(values, errors)
                kiosk = _read_kiosk(values, errors)
                if not errors:
                    return self.async_create_entry(
                        data=policy.as_dict()
                        | {CONF_LABEL_SIZE: size, CONF_PARTNER_LOAN_DAYS: days}
                        | stations
                        | {CONF_COUNTER_STAFF: list(staff)}
                        | long_term
                        | kiosk
                    )
            current = {**current, **user_input}
        minutes = NumberSelector(
            NumberSelectorConfig(min=0, max=1440, step=1, mode=NumberSelectorMode.BOX)
        )
        schema = vol.Schema(
            {
                vol.Required(
                    "auto_return_minutes", default=current["auto_return_minutes"]
                ): minutes,
                vol.Required("return_at_closing", default=current["return_at_closing"]): (
                    BooleanSelector()
                ),
                vol.Required("closing_time", default=current["closing_time"]): TimeSelector(),
                vol.Required("freeze_days", default=current["freeze_days"]): NumberSelector(
                    NumberSelectorConfig(min=1, max=365, step=1, mode=NumberSelectorMode.BOX)
                ),
                vol.Required("counter_opens", default=current["counter_opens"]): TimeSelector(),
                vol.Required("counter_closes", default=current["counter_closes"]): TimeSelector(),
                vol.Required("max_use_minutes", default=current["max_use_minutes"]): minutes,
                vol.Required("relock_after_s", default=current["relock_after_s"]): NumberSelector(
                    NumberSelectorConfig(
                        min=0, max=MAX_RELOCK_AFTER_S, step=1, mode=NumberSelectorMode.BOX
                    )
                ),
                vol.Required(CONF_KIOSKS, default=current[CONF_KIOSKS]): TextSelector(
                    TextSelectorConfig(multiple=True)
                ),
                vol.Required(CONF_RETURN_BOXES, default=current[CONF_RETURN_BOXES]): TextSelector(
                    TextSelectorConfig(multiple=True)
                ),
                vol.Required(
                    CONF_PARTNER_LOAN_DAYS, default=current[CONF_PARTNER_LOAN_DAYS]
                ): NumberSelector(
                    NumberSelectorConfig(
                        min=1, max=MAX_PARTNER_LOAN_DAYS, step=1, mode=NumberSelectorMode.BOX
                    )
                ),
                vol.Required(CONF_LABEL_SIZE, default=current[CONF_LABEL_SIZE]): SelectSelector(
                    SelectSelectorConfig(options=list(LABEL_SIZES), translation_key="label_size")
                ),
                vol.Required(CONF_COUNTER_STAFF, default=current[CONF_COUNTER_STAFF]): (
                    SelectSelector(
                        SelectSelectorConfig(
                            options=users,  # type: ignore[typeddict-item]
                            multiple=True,
                            mode=SelectSelectorMode.LIST,
                        )
                    )
                ),
                **_long_term_fields(current),
                **_kiosk_fields(current),
            }
        )
        return self.async_show_form(step_id="init", data_schema=schema, errors=errors)


def label_size(options: Any) -> str:
    """The e-label size a site's options name (the default for an unknown one)."""
    size = options.get(CONF_LABEL_SIZE, DEFAULT_LABEL_SIZE)
    return size if size in LABEL_SIZES else DEFAULT_LABEL_SIZE


_STATION_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")


def _station_ids(value: Any) -> list[str] | None:
    """Kiosk or box ids as typed (one per line): each a short id, none twice; else None."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return None
    ids = [str(item).strip() for item in value if str(item).strip()]
    if len(ids) > 20 or len(set(ids)) != len(ids):
        return None
    if not all(_STATION_ID.fullmatch(item) for item in ids):
        return None
    return ids


# --- patrons' own long-term reservations (the reservation page) ------------------------------


def _long_term_rules(options: Any) -> LongTermRules:
    """The site's rules for patrons' own reservations (the defaults for bad options)."""
    try:
        return LongTermRules.from_options(options)
    except Refused:
        return LongTermRules()


def _read_long_term(values: dict[str, Any], errors: dict[str, str]) -> dict[str, Any]:
    """The reservation options as entered, checked; a field that is not valid is an error."""
    for field in ("long_term_per_month", "reservations_open_day"):
        number = float(values[field])
        values[field] = int(number) if number.is_integer() else values[field]
    if parsed := dt_util.parse_time(str(values["reservations_open_time"])):
        values["reservations_open_time"] = f"{parsed.hour:02d}:{parsed.minute:02d}"
    try:
        return LongTermRules.from_options(values).as_dict()
    except Refused as refusal:
        errors[refusal.placeholders.get("field", "base")] = "invalid_value"
        return {}


def _long_term_fields(current: dict[str, Any]) -> dict[Any, Any]:
    """Who may hold a long-term room, how many a month, when next month opens."""
    return {
        vol.Required("long_term_categories", default=current["long_term_categories"]): (
            SelectSelector(
                SelectSelectorConfig(
                    options=list(CATEGORIES), multiple=True, translation_key="category"
                )
            )
        ),
        vol.Required("long_term_per_month", default=current["long_term_per_month"]): (
            NumberSelector(
                NumberSelectorConfig(
                    min=1, max=MAX_LONG_TERM_PER_MONTH, step=1, mode=NumberSelectorMode.BOX
                )
            )
        ),
        vol.Required("reservations_open_day", default=current["reservations_open_day"]): (
            NumberSelector(
                NumberSelectorConfig(min=1, max=LAST_OPEN_DAY, step=1, mode=NumberSelectorMode.BOX)
            )
        ),
        vol.Required("reservations_open_time", default=current["reservations_open_time"]): (
            TimeSelector()
        ),
    }


# --- the self-checkout stations -----------------------------------------------------------------


def _read_kiosk(values: dict[str, Any], errors: dict[str, str]) -> dict[str, Any]:
    """Whether a card needs the password too, and a session's idle time, checked."""
    seconds = float(values[CONF_KIOSK_IDLE_SECONDS])
    if not seconds.is_integer() or not MIN_IDLE_SECONDS <= seconds <= MAX_IDLE_SECONDS:
        errors[CONF_KIOSK_IDLE_SECONDS] = "invalid_value"
        return {}
    return KioskSettings(
        password_required=values[CONF_KIOSK_PASSWORD] is True, idle_seconds=int(seconds)
    ).as_dict()


def _kiosk_fields(current: dict[str, Any]) -> dict[Any, Any]:
    """The self-checkout stations' options."""
    return {
        vol.Required(CONF_KIOSK_PASSWORD, default=current[CONF_KIOSK_PASSWORD]): BooleanSelector(),
        vol.Required(CONF_KIOSK_IDLE_SECONDS, default=current[CONF_KIOSK_IDLE_SECONDS]): (
            NumberSelector(
                NumberSelectorConfig(
                    min=MIN_IDLE_SECONDS,
                    max=MAX_IDLE_SECONDS,
                    step=1,
                    mode=NumberSelectorMode.BOX,
                    unit_of_measurement="s",
                )
            )
        ),
    }
