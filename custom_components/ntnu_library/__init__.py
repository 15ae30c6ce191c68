"""NTNU Library self-service: study rooms with Zigbee locks, run from Home Assistant."""

from __future__ import annotations

from datetime import datetime, timedelta

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import EVENT_HOMEASSISTANT_STOP, Platform
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryAuthFailed, ConfigEntryNotReady
from homeassistant.helpers import (
    config_validation as cv,
    device_registry as dr,
    issue_registry as ir,
)
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.helpers.typing import ConfigType
from homeassistant.util import dt as dt_util

from .backends import PatronLoginRejected
from .const import (
    CONF_DEMO_DATA,
    CONF_RADIO,
    DOMAIN,
    LOGGER,
    PATRON_SYSTEM_RETRY_SECONDS,
    POLICY_TICK_SECONDS,
    RADIO_BELLOWS,
    RADIO_ZHA,
    SIGNAL_PUBLIC_STATUS,
)
from .counter_panel import async_register_counter_panel
from .counter_ws import async_setup_counter_ws
from .demo import async_seed_demo
from .entity import site_device_info
from .services import async_setup_services
from .site import Site, async_build_site, async_remove_site_data
from .web import async_setup_web
from .websocket import async_setup_websocket
from .zigbee.radio import RadioError

PLATFORMS: list[Platform] = [
    Platform.BINARY_SENSOR,
    Platform.EVENT,
    Platform.IMAGE,
    Platform.LOCK,
    Platform.SENSOR,
    Platform.CALENDAR,  # last: the platforms before it keep their place in the snapshots
]

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)

type NtnuLibraryConfigEntry = ConfigEntry[Site]


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the services, websocket commands, public pages and counter panel once."""
    async_setup_services(hass)
    async_setup_websocket(hass)
    async_setup_counter_ws(hass)
    await async_setup_web(hass)
    await async_register_counter_panel(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: NtnuLibraryConfigEntry) -> bool:
    """Start one site: its Store, its patron system (down is no reason to stop), its radio."""
    site = await async_build_site(hass, entry)
    try:
        await site.gate.async_check()
    except PatronLoginRejected as err:
        await site.patrons.async_close()
        await site.async_leave_library()
        raise ConfigEntryAuthFailed(
            translation_domain=DOMAIN, translation_key="sip2_login_rejected"
        ) from err
    if entry.data.get(CONF_DEMO_DATA) and not site.seeded:
        await async_seed_demo(site, dt_util.now())
    try:
        await site.radio.async_start()
    except (RadioError, OSError) as err:
        await site.radio.async_stop()
        await site.patrons.async_close()
        await site.async_leave_library()
        _radio_issue(hass, entry, str(err))
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN,
            translation_key="radio_not_ready",
            translation_placeholders={"error": str(err)[:200]},
        ) from err
    ir.async_delete_issue(hass, DOMAIN, f"radio_not_ready_{entry.entry_id}")
    entry.runtime_data = site
    entry.async_on_unload(site.radio.subscribe(site.device_events.handle))
    await site.async_start()

    stop_fired = False

    async def _async_stop(_: Event) -> None:
        nonlocal stop_fired
        stop_fired = True
        await site.async_stop()

    remove_stop_listener = hass.bus.async_listen_once(EVENT_HOMEASSISTANT_STOP, _async_stop)

    @callback
    def _remove_stop_listener() -> None:
        # A listener that fired is gone already: removing it again logs an error.
        if not stop_fired:
            remove_stop_listener()

    entry.async_on_unload(_remove_stop_listener)

    async def _async_tick(now: datetime) -> None:
        await site.commands.async_policy_tick(dt_util.as_local(now))

    async def _async_check_patron_system(_: datetime) -> None:
        if site.gate.down:
            try:
                await site.gate.async_check()
            except PatronLoginRejected:
                entry.async_start_reauth(hass)

    for action, seconds in (
        (_async_tick, POLICY_TICK_SECONDS),
        (_async_check_patron_system, PATRON_SYSTEM_RETRY_SECONDS),
    ):
        entry.async_on_unload(
            async_track_time_interval(
                hass, action, timedelta(seconds=seconds), cancel_on_shutdown=True
            )
        )
    entry.async_on_unload(entry.add_update_listener(_async_reload))
    # The site device exists even before its sensors are added. Rooms name no via_device and
    # no suggested area: HA 2026 deprecates both and would prefix entity ids with the area.
    dr.async_get(hass).async_get_or_create(config_entry_id=entry.entry_id, **site_device_info(site))
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    await site.commands.async_policy_tick()
    async_dispatcher_send(hass, SIGNAL_PUBLIC_STATUS)
    LOGGER.debug("Site %s started with %d rooms", entry.title, len(site.rooms.rooms))
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


async def async_unload_entry(hass: HomeAssistant, entry: NtnuLibraryConfigEntry) -> bool:
    """Stop a site; what was borrowed stays in the Store."""
    unloaded = await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
    if unloaded:
        await entry.runtime_data.async_stop()
        async_dispatcher_send(hass, SIGNAL_PUBLIC_STATUS)
    return unloaded


async def async_remove_entry(hass: HomeAssistant, entry: NtnuLibraryConfigEntry) -> None:
    """A site removed: its Stores go (its library's too when it was the last of it)."""
    await async_remove_site_data(hass, entry)


async def _async_reload(hass: HomeAssistant, entry: NtnuLibraryConfigEntry) -> None:
    """Options, rooms or the site changed: start again with the same Store."""
    await hass.config_entries.async_reload(entry.entry_id)
