"""Set up a site (user, reconfigure), its policy (options) and its rooms (subentries)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
import uuid

from homeassistant.config_entries import (
    SOURCE_RECONFIGURE,
    ConfigEntry,
    ConfigEntryState,
    ConfigFlow,
    ConfigFlowResult,
    ConfigSubentryFlow,
    OptionsFlow,
)
from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.core import callback
from homeassistant.helpers.selector import (
    BooleanSelector,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
from homeassistant.util import slugify
import voluptuous as vol

from .auth.ils import DEFAULT_REFUSING_FLAGS
from .backends import DEFAULT_CATEGORY, ZHA_DOMAIN, same_port, sip2_patron_system, zha_ports
from .const import (
    CONF_BAUDRATE,
    CONF_BELLOWS,
    CONF_CARD_FIELD,
    CONF_CATEGORY_FIELD,
    CONF_CATEGORY_MAP,
    CONF_DEFAULT_CATEGORY,
    CONF_DEMO_DATA,
    CONF_DEVICE_PATH,
    CONF_ENCODING,
    CONF_ERROR_DETECTION,
    CONF_FLOW_CONTROL,
    CONF_INSTITUTION,
    CONF_LIBRARY,
    CONF_LOCATION,
    CONF_LOGIN_PASSWORD,
    CONF_LOGIN_USER,
    CONF_PATRON_SYSTEM,
    CONF_RADIO,
    CONF_REFUSING_FLAGS,
    CONF_SIP2,
    CONF_SITE_NAME,
    CONF_SITE_NAME_ZH,
    CONF_TLS,
    CONF_VERIFY_TLS,
    DEFAULT_SIP2_PORT,
    DOMAIN,
    PATRON_SYSTEMS,
    PATRONS_LOCAL,
    PATRONS_SIP2,
    RADIO_BELLOWS,
    RADIO_SIMULATED,
    RADIO_ZHA,
    RADIOS,
    SUBENTRY_ROOM,
)
from .core.categories import CATEGORIES
from .core.limits import MAX_SITE_NAME_ZH
from .core.policy import Policy
from .demo import DEMO_BRANCH_ROOMS, DEMO_CIRCULATION, DEMO_POLICY, DEMO_RESERVING, DEMO_ROOMS
from .library import library_id
from .options_flow import NtnuLibraryOptionsFlow
from .sip2 import (
    DEFAULT_ENCODING,
    PATRON_STATUS_FLAGS,
    SIP2_ENCODINGS,
    Sip2ConfigError,
    Sip2LoginRejected,
    Sip2Unavailable,
)
from .subentries import RoomSubentryFlow, room_subentry
from .zigbee.bellows import DEFAULT_BAUDRATE, FLOW_CONTROLS, form_path, network_address, probe

NEW_LIBRARY = "new"


def _select(options: tuple[str, ...] | list[str], key: str) -> SelectSelector:
    return SelectSelector(
        SelectSelectorConfig(
            options=list(options), translation_key=key, mode=SelectSelectorMode.DROPDOWN
        )
    )


def _site_schema(defaults: dict[str, Any]) -> vol.Schema:
    return vol.Schema(
        {
            vol.Required(CONF_SITE_NAME, default=defaults.get(CONF_SITE_NAME, "")): TextSelector(),
            vol.Optional(
                CONF_SITE_NAME_ZH, description={"suggested_value": defaults.get(CONF_SITE_NAME_ZH)}
            ): TextSelector(),
            vol.Required(CONF_RADIO, default=defaults.get(CONF_RADIO, RADIO_SIMULATED)): _select(
                RADIOS, CONF_RADIO
            ),
            vol.Required(
                CONF_PATRON_SYSTEM, default=defaults.get(CONF_PATRON_SYSTEM, PATRONS_LOCAL)
            ): _select(PATRON_SYSTEMS, CONF_PATRON_SYSTEM),
        }
    )


def _named_in_chinese(site: dict[str, Any], user_input: dict[str, Any]) -> dict[str, Any] | None:
    """`site` with the Chinese name typed (none: without one); None if it is too long."""
    zh = " ".join(str(user_input.get(CONF_SITE_NAME_ZH) or "").split())
    if len(zh) > MAX_SITE_NAME_ZH:
        return None
    site = {key: value for key, value in site.items() if key != CONF_SITE_NAME_ZH}
    return site | {CONF_SITE_NAME_ZH: zh} if zh else site


def _site_id(name: str) -> str | None:
    """The site's unique id, or None when the name has no letter or digit.

    slugify() turns a name without any into "unknown", which is no name.
    """
    if not any(ch.isalnum() for ch in name):
        return None
    return slugify(name) or None


_BELLOWS_SCHEMA = vol.Schema(
    {
        vol.Required(CONF_DEVICE_PATH): TextSelector(),
        vol.Required(CONF_BAUDRATE, default=DEFAULT_BAUDRATE): vol.All(
            NumberSelector(
                NumberSelectorConfig(min=9600, max=1000000, mode=NumberSelectorMode.BOX)
            ),
            vol.Coerce(int),
        ),
        vol.Required(CONF_FLOW_CONTROL, default="none"): _select(FLOW_CONTROLS, CONF_FLOW_CONTROL),
    }
)

_SIP2_SCHEMA = vol.Schema(
    {
        vol.Required(CONF_HOST): TextSelector(),
        vol.Required(CONF_PORT, default=DEFAULT_SIP2_PORT): vol.All(
            NumberSelector(NumberSelectorConfig(min=1, max=65535, mode=NumberSelectorMode.BOX)),
            vol.Coerce(int),
        ),
        vol.Required(CONF_TLS, default=True): BooleanSelector(),
        vol.Required(CONF_VERIFY_TLS, default=True): BooleanSelector(),
        vol.Optional(CONF_INSTITUTION, default=""): TextSelector(),
        vol.Optional(CONF_LOGIN_USER): TextSelector(),
        vol.Optional(CONF_LOGIN_PASSWORD): TextSelector(
            TextSelectorConfig(type=TextSelectorType.PASSWORD)
        ),
        vol.Optional(CONF_LOCATION, default=""): TextSelector(),
        vol.Required(CONF_ERROR_DETECTION, default=True): BooleanSelector(),
        vol.Optional(CONF_CATEGORY_FIELD, default="PC"): TextSelector(),
        vol.Optional(CONF_CATEGORY_MAP, default=""): TextSelector(
            TextSelectorConfig(multiline=True)
        ),
        vol.Optional(CONF_DEFAULT_CATEGORY, default=DEFAULT_CATEGORY): _select(
            sorted(CATEGORIES), "category"
        ),
        vol.Optional(CONF_CARD_FIELD, default=""): TextSelector(),
        vol.Required(CONF_ENCODING, default=DEFAULT_ENCODING): _select(
            SIP2_ENCODINGS, CONF_ENCODING
        ),
        vol.Required(CONF_REFUSING_FLAGS, default=sorted(DEFAULT_REFUSING_FLAGS)): SelectSelector(
            SelectSelectorConfig(
                options=list(PATRON_STATUS_FLAGS),
                translation_key=CONF_REFUSING_FLAGS,
                multiple=True,
                mode=SelectSelectorMode.LIST,
            )
        ),
    }
)

# Settings the SIP2 client refuses, by the form field they are entered in.
_SIP2_FIELD_ERRORS = {
    "category_map": (CONF_CATEGORY_MAP, "invalid_category_map"),
    "default_category": (CONF_CATEGORY_MAP, "invalid_category_map"),
    "encoding": (CONF_ENCODING, "invalid_encoding"),
    "refusing_flags": (CONF_REFUSING_FLAGS, "invalid_value"),
    "institution": (CONF_INSTITUTION, "not_in_encoding"),
    "login_user": (CONF_LOGIN_USER, "not_in_encoding"),
    "login_password": (CONF_LOGIN_PASSWORD, "not_in_encoding"),
    "location": (CONF_LOCATION, "not_in_encoding"),
}


async def _async_try_sip2(data: dict[str, Any]) -> dict[str, str]:
    """Connect, log in and ask the ILS's status; the form errors if that fails."""
    try:
        sip2 = sip2_patron_system(data)
    except Sip2ConfigError as err:
        field, error = _SIP2_FIELD_ERRORS.get(err.field, ("base", "invalid_value"))
        return {field: error}
    except ValueError:  # a category map that is not TYPE=category lines
        return {CONF_CATEGORY_MAP: "invalid_category_map"}
    try:
        await sip2.async_test()
    except Sip2LoginRejected:
        return {"base": "invalid_auth"}
    except Sip2Unavailable:
        return {"base": "cannot_connect"}
    finally:
        await sip2.async_close()
    return {}


class NtnuLibraryConfigFlow(ConfigFlow, domain=DOMAIN):
    """One entry per library building."""

    VERSION = 1
    MINOR_VERSION = 1

    def __init__(self) -> None:
        """Start with nothing chosen."""
        self._site: dict[str, Any] = {}
        self._joins = False  # the new site joins an existing library

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Name the site and choose its radio and patron system."""
        errors: dict[str, str] = {}
        if user_input is not None:
            name = user_input[CONF_SITE_NAME].strip()
            if not (site_id := _site_id(name)):
                errors[CONF_SITE_NAME] = "invalid_site_name"
            elif (named := _named_in_chinese(user_input, user_input)) is None:
                errors[CONF_SITE_NAME_ZH] = "invalid_site_name"
            elif self._name_taken(site_id, None):
                return self.async_abort(reason="already_configured")
            elif user_input.get(CONF_DEMO_DATA) and user_input[CONF_RADIO] != RADIO_SIMULATED:
                # The demo rooms are bound to simulated devices.
                errors[CONF_DEMO_DATA] = "demo_needs_simulated"
            elif user_input[CONF_RADIO] == RADIO_ZHA and not self.hass.config_entries.async_entries(
                ZHA_DOMAIN
            ):
                errors[CONF_RADIO] = "zha_not_set_up"
            else:
                await self.async_set_unique_id(site_id)
                self._abort_if_unique_id_configured()
                demo = bool(user_input.get(CONF_DEMO_DATA))
                library = user_input.get(CONF_LIBRARY)
                if library not in self._libraries():
                    library = uuid.uuid4().hex  # a library of its own
                self._site = {
                    **named,
                    CONF_SITE_NAME: name,
                    CONF_DEMO_DATA: demo,
                    CONF_LIBRARY: library,
                }
                self._joins = library in self._libraries()
                if user_input[CONF_RADIO] == RADIO_BELLOWS:
                    return await self.async_step_bellows()
                return await self._async_next_after_radio()
        schema = _site_schema(user_input or {}).extend(
            {vol.Required(CONF_DEMO_DATA, default=False): BooleanSelector()}
        )
        if libraries := self._libraries():
            # A second building offers to join the library of the first (one patron rule set).
            default = next(iter(libraries)) if len(libraries) == 1 else NEW_LIBRARY
            options = [
                SelectOptionDict(value=key, label=" + ".join(titles))
                for key, titles in libraries.items()
            ]
            schema = schema.extend(
                {
                    vol.Required(CONF_LIBRARY, default=default): SelectSelector(
                        SelectSelectorConfig(
                            options=[*options, SelectOptionDict(value=NEW_LIBRARY, label="new")],
                            translation_key=CONF_LIBRARY,
                            mode=SelectSelectorMode.LIST,
                        )
                    )
                }
            )
        return self.async_show_form(step_id="user", data_schema=schema, errors=errors)

    def _libraries(self) -> dict[str, list[str]]:
        """The libraries the sites set up so far belong to, with their sites' names."""
        found: dict[str, list[str]] = {}
        for entry in self._async_current_entries(include_ignore=False):
            found.setdefault(library_id(entry), []).append(entry.title)
        return found

    def _name_taken(self, site_id: str, this: ConfigEntry | None) -> bool:
        """Another site has this name (or was created under it)."""
        return any(
            other.entry_id != (this.entry_id if this else None)
            and site_id in (other.unique_id, _site_id(other.title))
            for other in self._async_current_entries(include_ignore=False)
        )

    async def async_step_bellows(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """The site's own EZSP coordinator (a stick, or socket://host:port): probed first."""
        errors: dict[str, str] = {}
        if user_input is not None:
            path = form_path(user_input[CONF_DEVICE_PATH])
            if path is None:
                errors[CONF_DEVICE_PATH] = "invalid_network_address"
            elif await self.hass.async_add_executor_job(same_port, path, zha_ports(self.hass)):
                errors[CONF_DEVICE_PATH] = "port_used_by_zha"
            elif path != self._site.get(CONF_BELLOWS, {}).get(CONF_DEVICE_PATH) and not await probe(
                path,
                int(user_input[CONF_BAUDRATE]),
                user_input[CONF_FLOW_CONTROL],
            ):  # the site's own running radio holds its current port: not probed again
                errors["base"] = (
                    "cannot_connect_network" if network_address(path) else "cannot_connect_radio"
                )
            else:
                self._site[CONF_BELLOWS] = {
                    **user_input,
                    CONF_DEVICE_PATH: path,
                    CONF_BAUDRATE: int(user_input[CONF_BAUDRATE]),
                }
                return await self._async_next_after_radio()
        return self.async_show_form(
            step_id="bellows",
            data_schema=self.add_suggested_values_to_schema(
                _BELLOWS_SCHEMA, user_input or self._site.get(CONF_BELLOWS)
            ),
            errors=errors,
        )

    async def _async_next_after_radio(self) -> ConfigFlowResult:
        if self._site[CONF_PATRON_SYSTEM] == PATRONS_SIP2:
            return await self.async_step_sip2()
        return self._async_create_site()

    async def async_step_sip2(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Where the library system answers SIP2, tried before the site is created."""
        errors: dict[str, str] = {}
        current: dict[str, Any] = dict(self._site.get(CONF_SIP2, {}))
        if user_input is not None:
            if not user_input.get(CONF_LOGIN_PASSWORD) and current.get(CONF_LOGIN_PASSWORD):
                user_input = {**user_input, CONF_LOGIN_PASSWORD: current[CONF_LOGIN_PASSWORD]}
            errors = await _async_try_sip2(user_input)
            if not errors:
                self._site[CONF_SIP2] = user_input
                return self._async_create_site()
        # The stored password is never sent back to the browser; left empty, it is kept.
        current.pop(CONF_LOGIN_PASSWORD, None)
        shown = {k: v for k, v in (user_input or current).items() if k != CONF_LOGIN_PASSWORD}
        return self.async_show_form(
            step_id="sip2",
            data_schema=self.add_suggested_values_to_schema(_SIP2_SCHEMA, shown),
            errors=errors,
        )

    @callback
    def _async_create_site(self) -> ConfigFlowResult:
        if self.source == SOURCE_RECONFIGURE:
            # The entry's update listener reloads it (HA 2026 reports a flow that reloads an
            # entry which has one).
            self.hass.config_entries.async_update_entry(
                self._get_reconfigure_entry(),
                unique_id=self.unique_id,
                title=self._site[CONF_SITE_NAME],
                data=self._site,
            )
            return self.async_abort(reason="reconfigure_successful")
        demo = self._site[CONF_DEMO_DATA]
        # A demo building joining a library gets a smaller set of rooms (Gongguan's).
        rooms = (DEMO_BRANCH_ROOMS if self._joins else DEMO_ROOMS) if demo else ()
        return self.async_create_entry(
            title=self._site[CONF_SITE_NAME],
            data=self._site,
            options=(DEMO_POLICY if demo else Policy()).as_dict()
            # The demo's main library has the kiosk and the library's three return boxes.
            | (DEMO_CIRCULATION if demo and not self._joins else {})
            | (DEMO_RESERVING if demo else {}),
            subentries=[room_subentry(room) for room in rooms],
        )

    async def async_step_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        """The library system refused the site's SIP account."""
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Enter the SIP account again."""
        entry = self._get_reauth_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            sip2 = {**entry.data[CONF_SIP2], **user_input}
            errors = await _async_try_sip2(sip2)
            if not errors:
                if entry.state is ConfigEntryState.LOADED:
                    # Refused while running: the entry's update listener reloads it.
                    self.hass.config_entries.async_update_entry(
                        entry, data={**entry.data, CONF_SIP2: sip2}
                    )
                    return self.async_abort(reason="reauth_successful")
                # Set-up stopped at the refused login, before any update listener existed.
                return self.async_update_reload_and_abort(
                    entry, data={**entry.data, CONF_SIP2: sip2}
                )
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=vol.Schema(
                {
                    vol.Optional(CONF_LOGIN_USER): TextSelector(),
                    vol.Optional(CONF_LOGIN_PASSWORD): TextSelector(
                        TextSelectorConfig(type=TextSelectorType.PASSWORD)
                    ),
                }
            ),
            description_placeholders={"host": entry.data[CONF_SIP2][CONF_HOST]},
            errors=errors,
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Rename the site, then change its stick or ILS settings (the kinds stay)."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            name = user_input[CONF_SITE_NAME].strip()
            if not (site_id := _site_id(name)):
                errors[CONF_SITE_NAME] = "invalid_site_name"
            elif self._name_taken(site_id, entry):
                errors[CONF_SITE_NAME] = "name_in_use"
            elif (named := _named_in_chinese(dict(entry.data), user_input)) is None:
                errors[CONF_SITE_NAME_ZH] = "invalid_site_name"
            else:
                # The unique id stays the one the site was created with: a rename is not a
                # new site (its entities, automations and Store follow the entry, not the name).
                await self.async_set_unique_id(entry.unique_id)
                self._site = {**named, CONF_SITE_NAME: name}
                if entry.data.get(CONF_RADIO) == RADIO_BELLOWS:
                    return await self.async_step_bellows()
                return await self._async_next_after_radio()
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(
                vol.Schema(
                    {
                        vol.Required(CONF_SITE_NAME): TextSelector(),
                        vol.Optional(CONF_SITE_NAME_ZH): TextSelector(),
                    }
                ),
                user_input or dict(entry.data),
            ),
            errors=errors,
        )

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: ConfigEntry) -> OptionsFlow:
        """The site's policy numbers."""
        return NtnuLibraryOptionsFlow()

    @classmethod
    @callback
    def async_get_supported_subentry_types(
        cls, config_entry: ConfigEntry
    ) -> dict[str, type[ConfigSubentryFlow]]:
        """Rooms are added as subentries."""
        return {SUBENTRY_ROOM: RoomSubentryFlow}
