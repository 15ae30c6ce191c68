"""NTNU Library self-service: study rooms with Zigbee locks, run from Home Assistant."""

from __future__ import annotations

from datetime import datetime, timedelta

from homeassistant.config_entries import ConfigEntry, ConfigEntryState
from homeassistant.const import EVENT_HOMEASSISTANT_STOP, Platform
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryAuthFailed, ConfigEntryNotReady
from homeassistant.helpers import (
    config_validation as cv,
    device_registry as dr,
    issue_registry as ir,
)
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.helpers.typing import ConfigType
from homeassistant.util import dt as dt_util

from .auth.sip2 import Sip2LoginRejected, Sip2PatronSystem, Sip2Unavailable
from .const import (
    CONF_DEMO_DATA,
    CONF_PATRON_SYSTEM,
    CONF_RADIO,
    CONF_SIP2,
    DOMAIN,
    LOGGER,
    PATRONS_SIP2,
    POLICY_TICK_SECONDS,
    RADIO_BELLOWS,
    RADIO_ZHA,
)
from .core.policy import Policy
from .core.rooms import Library
from .demo import async_seed_demo
from .entity import site_device_info
from .patrons import sip2_patron_system
from .radios import ZHA_DOMAIN, create_radio
from .rooms import room_devices, rooms_of_entry
from .runtime import SiteRuntime
from .services import async_setup_services
from .zigbee.radio import RadioError
from .zigbee.zha import ZhaRadio

PLATFORMS: list[Platform] = [
    Platform.BINARY_SENSOR,
    Platform.EVENT,
    Platform.LOCK,
    Platform.SENSOR,
]

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)

type NtnuLibraryConfigEntry = ConfigEntry[SiteRuntime]


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the services once for every site."""
    async_setup_services(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: NtnuLibraryConfigEntry) -> bool:
    """Start one site: load its Store, start its radio, add its rooms."""
    rooms = rooms_of_entry(entry)
    patron_system = await _async_patron_system(entry)
    radio = create_radio(hass, entry)
    radio.set_rooms(room_devices(entry))
    policy = Policy.from_options(entry.options)
    runtime = await SiteRuntime.async_create(
        hass,
        entry,
        rooms=rooms,
        radio=radio,
        library_factory=lambda rooms, state: Library(rooms, policy, state),
        patron_system=patron_system,
    )
    if entry.data.get(CONF_DEMO_DATA) and not runtime.seeded:
        await async_seed_demo(runtime, dt_util.now())
        await runtime.async_save()
    try:
        await radio.async_start()
    except (RadioError, OSError) as err:
        await radio.async_stop()
        if patron_system is not None:
            await patron_system.async_close()
        _radio_issue(hass, entry, str(err))
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN,
            translation_key="radio_not_ready",
            translation_placeholders={"error": str(err)[:200]},
        ) from err
    ir.async_delete_issue(hass, DOMAIN, f"radio_not_ready_{entry.entry_id}")
    if isinstance(radio, ZhaRadio):
        _follow_zha(hass, entry, radio)
    runtime.async_start()
    entry.runtime_data = runtime

    async def _async_stop_radio(_: Event | None = None) -> None:
        await runtime.async_stop()
        await radio.async_stop()

    entry.async_on_unload(hass.bus.async_listen_once(EVENT_HOMEASSISTANT_STOP, _async_stop_radio))

    async def _async_tick(now: datetime) -> None:
        await runtime.async_policy_tick(dt_util.as_local(now))

    entry.async_on_unload(
        async_track_time_interval(
            hass, _async_tick, timedelta(seconds=POLICY_TICK_SECONDS), cancel_on_shutdown=True
        )
    )
    entry.async_on_unload(entry.add_update_listener(_async_reload))
    # The site device exists even before its sensors are added. Rooms name no via_device and
    # no suggested area: HA 2026 deprecates both and would prefix entity ids with the area.
    dr.async_get(hass).async_get_or_create(
        config_entry_id=entry.entry_id, **site_device_info(runtime)
    )
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    await runtime.async_policy_tick()
    LOGGER.debug("Site %s started with %d rooms", entry.title, len(rooms))
    return True


def _radio_issue(hass: HomeAssistant, entry: NtnuLibraryConfigEntry, error: str) -> None:
    """An own stick that vanished or a ZHA that is gone is something staff must fix."""
    if entry.data.get(CONF_RADIO) not in (RADIO_BELLOWS, RADIO_ZHA):
        return
    ir.async_create_issue(
        hass,
        DOMAIN,
        f"radio_not_ready_{entry.entry_id}",
        is_fixable=False,
        severity=ir.IssueSeverity.ERROR,
        translation_key=f"radio_not_ready_{entry.data[CONF_RADIO]}",
        translation_placeholders={"site": entry.title, "error": error[:200]},
    )


def _follow_zha(hass: HomeAssistant, entry: NtnuLibraryConfigEntry, radio: ZhaRadio) -> None:
    """ZHA reloaded: attach to its new application (the old one is gone)."""
    for zha_entry in hass.config_entries.async_entries(ZHA_DOMAIN):

        @callback
        def _zha_changed(zha_entry: ConfigEntry = zha_entry) -> None:
            if zha_entry.state is ConfigEntryState.LOADED:
                entry.async_create_background_task(
                    hass, radio.async_reattach(), f"{DOMAIN} reattach to ZHA"
                )

        entry.async_on_unload(zha_entry.async_on_state_change(_zha_changed))


async def _async_patron_system(entry: NtnuLibraryConfigEntry) -> Sip2PatronSystem | None:
    """The ILS for a SIP2 site, checked before anything starts; None for a local directory."""
    if entry.data.get(CONF_PATRON_SYSTEM) != PATRONS_SIP2:
        return None
    sip2 = sip2_patron_system(entry.data[CONF_SIP2])
    try:
        await sip2.async_test()
    except Sip2LoginRejected as err:
        await sip2.async_close()
        raise ConfigEntryAuthFailed(
            translation_domain=DOMAIN, translation_key="sip2_login_rejected"
        ) from err
    except Sip2Unavailable as err:
        await sip2.async_close()
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN,
            translation_key="patron_system_not_ready",
            translation_placeholders={"error": str(err)[:200]},
        ) from err
    return sip2


async def async_unload_entry(hass: HomeAssistant, entry: NtnuLibraryConfigEntry) -> bool:
    """Stop a site; what was borrowed stays in the Store."""
    unloaded = await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
    if unloaded:
        await entry.runtime_data.async_stop()
        await entry.runtime_data.radio.async_stop()
    return unloaded


async def _async_reload(hass: HomeAssistant, entry: NtnuLibraryConfigEntry) -> None:
    """Options, rooms or the site changed: start again with the same Store."""
    await hass.config_entries.async_reload(entry.entry_id)
