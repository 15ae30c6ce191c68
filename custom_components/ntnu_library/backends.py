"""The site's radio and patron system, built from its config entry.

The one place that knows which concrete radio mode or patron system a site runs; everything
else uses their contracts.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
import functools
import hashlib
import os
import re
from typing import Any

from homeassistant.config_entries import ConfigEntry, ConfigEntryState
from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util
from homeassistant.util.ssl import get_default_context, get_default_no_verify_context

from .auth import PatronSystem
from .auth.ils import DEFAULT_REFUSING_FLAGS, IlsConfig, IlsPatronSystem
from .auth.local import LocalDirectory
from .const import (
    CONF_BAUDRATE,
    CONF_BELLOWS,
    CONF_CARD_FIELD,
    CONF_CATEGORY_FIELD,
    CONF_CATEGORY_MAP,
    CONF_DEFAULT_CATEGORY,
    CONF_DEVICE_PATH,
    CONF_ENCODING,
    CONF_ERROR_DETECTION,
    CONF_FLOW_CONTROL,
    CONF_INSTITUTION,
    CONF_LOCATION,
    CONF_LOGIN_PASSWORD,
    CONF_LOGIN_USER,
    CONF_PATRON_SYSTEM,
    CONF_RADIO,
    CONF_REFUSING_FLAGS,
    CONF_SIP2,
    CONF_TLS,
    CONF_VERIFY_TLS,
    DOMAIN,
    PATRONS_SIP2,
    RADIO_BELLOWS,
    RADIO_ZHA,
)
from .core.categories import MOST_RESTRICTED_CATEGORY
from .radio_memory import RadioMemory
from .sip2 import DEFAULT_ENCODING, Sip2LoginRejected, Sip2Unavailable
from .zha_locks import ZHA_DOMAIN, async_guard_zha_locks
from .zigbee.bellows import DEFAULT_BAUDRATE, BellowsRadio, network_address
from .zigbee.radio import RoomRadio, Spawn
from .zigbee.simulated import SimulatedRadio
from .zigbee.zha import ZhaRadio

# The fewest loan rights, for a patron whose record names no type (from the loan table).
DEFAULT_CATEGORY = MOST_RESTRICTED_CATEGORY


# --- the radio ----------------------------------------------------------------------------------


def zigbee_database_path(hass: HomeAssistant, entry_id: str) -> str:
    """Where a site's own coordinator keeps its zigpy database (its own, never ZHA's)."""
    return hass.config.path(f"ntnu_library_{entry_id}_zigbee.db")


def build_radio(
    hass: HomeAssistant,
    entry: ConfigEntry,
    *,
    spawn: Spawn,
    auto_relock_seconds: int,
    memory: RadioMemory,
) -> RoomRadio:
    """A radio for the entry; nothing is opened until it is started.

    `memory` keeps what the devices were configured with (and the simulated devices' own
    memory) across restarts.
    """
    mode = entry.data.get(CONF_RADIO)
    if mode == RADIO_BELLOWS:
        settings: Mapping[str, Any] = entry.data[CONF_BELLOWS]
        return BellowsRadio(
            path=settings[CONF_DEVICE_PATH],
            baudrate=int(settings.get(CONF_BAUDRATE, DEFAULT_BAUDRATE)),
            flow_control=settings.get(CONF_FLOW_CONTROL),
            database_path=zigbee_database_path(hass, entry.entry_id),
            spawn=spawn,
            auto_relock_seconds=auto_relock_seconds,
            configured=memory.configured,
            on_configured=memory.changed,
        )
    if mode == RADIO_ZHA:
        radio = ZhaRadio(lambda: zha_application(hass), spawn=spawn)
        _follow_zha(hass, entry, radio)
        # ZHA's own lock entities would unlock the rooms past the rules: disabled.
        async_guard_zha_locks(hass, entry)
        return radio
    simulated = SimulatedRadio(
        spawn=spawn,
        auto_relock_seconds=auto_relock_seconds,
        configured=memory.configured,
        on_configured=memory.changed,
        device_memory=memory.devices,
    )
    simulated.clock = dt_util.now  # the locks' clocks: Home Assistant's local time
    return simulated


def _follow_zha(hass: HomeAssistant, entry: ConfigEntry, radio: ZhaRadio) -> None:
    """ZHA reloaded: attach to its new application (the old one is gone)."""
    for zha_entry in hass.config_entries.async_entries(ZHA_DOMAIN):

        @callback
        def _zha_changed(zha_entry: ConfigEntry = zha_entry) -> None:
            if zha_entry.state is ConfigEntryState.LOADED:
                entry.async_create_background_task(
                    hass, radio.async_reattach(), f"{DOMAIN} reattach to ZHA"
                )

        entry.async_on_unload(zha_entry.async_on_state_change(_zha_changed))


def zha_application(hass: HomeAssistant) -> Any:
    """ZHA's zigpy application; ValueError while ZHA is not loaded (or not installed)."""
    try:
        from homeassistant.components.zha.helpers import get_zha_gateway
    except ImportError as err:  # the zha library is not installed
        raise ValueError("ZHA is not available") from err
    return get_zha_gateway(hass).application_controller


def zha_ports(hass: HomeAssistant) -> list[str]:
    """The serial ports ZHA's entries own, as configured."""
    return [
        path
        for zha in hass.config_entries.async_entries(ZHA_DOMAIN)
        if isinstance(path := zha.data.get("device", {}).get("path"), str)
    ]


def same_port(path: str, others: list[str]) -> bool:
    """Whether `path` is one of `others` once /dev/serial/by-id links are resolved (blocking).

    A network coordinator (socket://host:port) is no file: it is compared by its address.
    """
    return _port_key(path) in {_port_key(other) for other in others}


def _port_key(path: str) -> str:
    try:
        address = network_address(path)
    except ValueError:  # a malformed network address (ZHA's own, say) is no file either
        return path.strip().lower()
    return os.path.realpath(path) if address is None else f"socket://{address}"


# --- the patron system --------------------------------------------------------------------------


class PatronSystemDown(Exception):
    """The patron system does not answer now (the site starts anyway, refusing logins)."""


class PatronLoginRejected(Exception):
    """The patron system refused the site's own account: staff must enter it again."""


@dataclass(kw_only=True)
class PatronBackend:
    """A patron system with what the site needs around it, whatever its kind."""

    system: PatronSystem
    kind: str
    # The directory staff edit with add_patron & co.; None when the ILS holds the patrons.
    directory: LocalDirectory | None
    async_check: Callable[[], Awaitable[None]]  # raises PatronSystemDown / PatronLoginRejected
    async_close: Callable[[], Awaitable[None]]
    login_rejected: Callable[[], bool]  # the ILS refused our account while running
    # Writes a freeze to the ILS (SIP2 Block Patron), so every building that reads it
    # refuses the patron; None where the patron system has no such thing (the local one).
    async_block: Callable[[str, str], Awaitable[None]] | None = None
    # The ILS's circulation (items, checkouts, checkins); None where loans are kept here.
    ils: IlsPatronSystem | None = None


def build_patron_backend(
    hass: HomeAssistant, entry: ConfigEntry, directory: LocalDirectory
) -> PatronBackend:
    """The entry's patron system: the ILS over SIP2, or the library's own `directory`."""
    if entry.data.get(CONF_PATRON_SYSTEM) == PATRONS_SIP2:
        sip2 = sip2_patron_system(entry.data[CONF_SIP2])
        sip2.on_unmapped_category = functools.partial(_unmapped_patron_type, hass, entry)
        _forget_mapped_patron_types(
            hass, entry, parse_category_map(entry.data[CONF_SIP2].get(CONF_CATEGORY_MAP, ""))
        )

        async def _async_check() -> None:
            try:
                await sip2.async_test()
            except Sip2LoginRejected as err:
                raise PatronLoginRejected(str(err)) from err
            except Sip2Unavailable as err:
                raise PatronSystemDown(str(err)) from err

        return PatronBackend(
            system=sip2,
            kind=PATRONS_SIP2,
            directory=None,
            async_check=_async_check,
            async_close=sip2.async_close,
            login_rejected=lambda: sip2.login_rejected,
            async_block=sip2.async_block_patron,
            ils=sip2,
        )

    async def _async_nothing() -> None:
        return None

    return PatronBackend(
        system=directory,
        kind="local",
        directory=directory,
        async_check=_async_nothing,
        async_close=_async_nothing,
        login_rejected=lambda: False,
    )


@callback
def _unmapped_patron_type(hass: HomeAssistant, entry: ConfigEntry, code: str) -> None:
    """The ILS sent a patron type the category map does not know: staff map it (once a type)."""
    digest = hashlib.blake2b(code.encode(), digest_size=6).hexdigest()
    ir.async_create_issue(
        hass,
        DOMAIN,
        f"unmapped_patron_type_{entry.entry_id}_{digest}",
        is_fixable=False,
        severity=ir.IssueSeverity.WARNING,
        translation_key="unmapped_patron_type",
        translation_placeholders={
            "code": code,
            "site": entry.title,
            "category": MOST_RESTRICTED_CATEGORY,
        },
    )


@callback
def _forget_mapped_patron_types(
    hass: HomeAssistant, entry: ConfigEntry, category_map: Mapping[str, str]
) -> None:
    """Staff mapped a type a notice asked for (the site restarts with the new map): it goes."""
    prefix = f"unmapped_patron_type_{entry.entry_id}_"
    for (domain, issue_id), issue in list(ir.async_get(hass).issues.items()):
        code = (issue.translation_placeholders or {}).get("code")
        if domain == DOMAIN and issue_id.startswith(prefix) and code in category_map:
            ir.async_delete_issue(hass, DOMAIN, issue_id)


def parse_category_map(text: str) -> dict[str, str]:
    """`ILS type=category; …` (commas or new lines also separate); ValueError if malformed."""
    found: dict[str, str] = {}
    for item in re.split(r"[;,\n]", text or ""):
        if not item.strip():
            continue
        ils_type, sep, category = item.partition("=")
        if not sep or not ils_type.strip() or not category.strip():
            raise ValueError(f"not TYPE=category: {item.strip()[:40]!r}")
        found[ils_type.strip()] = category.strip()
    return found


def sip2_config(data: Mapping[str, Any]) -> IlsConfig:
    """The SIP2 settings an entry (or a config flow form) holds; ValueError if inconsistent."""
    return IlsConfig(
        host=data[CONF_HOST],
        port=int(data[CONF_PORT]),
        tls=bool(data.get(CONF_TLS, False)),
        verify_tls=bool(data.get(CONF_VERIFY_TLS, True)),
        institution=data.get(CONF_INSTITUTION, ""),
        login_user=data.get(CONF_LOGIN_USER) or None,
        login_password=data.get(CONF_LOGIN_PASSWORD) or None,
        location=data.get(CONF_LOCATION, ""),
        error_detection=bool(data.get(CONF_ERROR_DETECTION, True)),
        category_field=data.get(CONF_CATEGORY_FIELD) or "PC",
        category_map=parse_category_map(data.get(CONF_CATEGORY_MAP, "")),
        default_category=data.get(CONF_DEFAULT_CATEGORY) or DEFAULT_CATEGORY,
        card_field=data.get(CONF_CARD_FIELD) or None,
        encoding=data.get(CONF_ENCODING) or DEFAULT_ENCODING,
        refusing_flags=data.get(CONF_REFUSING_FLAGS, DEFAULT_REFUSING_FLAGS),
    )


def sip2_patron_system(data: Mapping[str, Any]) -> IlsPatronSystem:
    """A SIP2 client with Home Assistant's shared TLS context (loaded once, off the loop)."""
    config = sip2_config(data)
    context = None
    if config.tls:
        context = get_default_context() if config.verify_tls else get_default_no_verify_context()
    return IlsPatronSystem(config, ssl_context=context)
