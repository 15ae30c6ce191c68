"""The site's options: the policy numbers and the size of the rooms' e-paper labels.

Policy: auto-return, closing, freezes, counter hours, relocking.
"""

from __future__ import annotations

from typing import Any

from homeassistant.config_entries import ConfigFlowResult, OptionsFlow
from homeassistant.helpers.selector import (
    BooleanSelector,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectSelector,
    SelectSelectorConfig,
    TimeSelector,
)
from homeassistant.util import dt as dt_util
import voluptuous as vol

from .const import CONF_LABEL_SIZE, MAX_RELOCK_AFTER_S
from .core.elabel import DEFAULT_LABEL_SIZE, LABEL_SIZES
from .core.errors import Refused
from .core.policy import Policy

_TIME_FIELDS = ("closing_time", "counter_opens", "counter_closes")
_MINUTE_FIELDS = ("auto_return_minutes", "max_use_minutes")


class NtnuLibraryOptionsFlow(OptionsFlow):
    """Auto-return, closing time, freeze length, counter hours, maximum use."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """One form for the whole policy."""
        errors: dict[str, str] = {}
        current = Policy.from_options(self.config_entry.options).as_dict()
        current[CONF_LABEL_SIZE] = label_size(self.config_entry.options)
        if user_input is not None:
            values = {**current, **user_input}
            for field in (*_MINUTE_FIELDS, "freeze_days", "relock_after_s"):
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
                if size in LABEL_SIZES:
                    return self.async_create_entry(data=policy.as_dict() | {CONF_LABEL_SIZE: size})
                errors[CONF_LABEL_SIZE] = "invalid_value"
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
                vol.Required(CONF_LABEL_SIZE, default=current[CONF_LABEL_SIZE]): SelectSelector(
                    SelectSelectorConfig(options=list(LABEL_SIZES), translation_key="label_size")
                ),
            }
        )
        return self.async_show_form(step_id="init", data_schema=schema, errors=errors)


def label_size(options: Any) -> str:
    """The e-label size a site's options name (the default for an unknown one)."""
    size = options.get(CONF_LABEL_SIZE, DEFAULT_LABEL_SIZE)
    return size if size in LABEL_SIZES else DEFAULT_LABEL_SIZE
