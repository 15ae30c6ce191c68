"""The site's Zigbee radio, chosen by the entry: simulated, an own EZSP stick, or ZHA's."""

from __future__ import annotations

from collections.abc import Mapping
import os
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant

from .const import (
    CONF_BAUDRATE,
    CONF_BELLOWS,
    CONF_DEVICE_PATH,
    CONF_FLOW_CONTROL,
    CONF_RADIO,
    DEFAULT_BAUDRATE,
    RADIO_BELLOWS,
    RADIO_ZHA,
)
from .zigbee.bellows import BellowsRadio
from .zigbee.simulated import SimulatedRadio
from .zigbee.zha import ZhaRadio

ZHA_DOMAIN = "zha"

type SiteRadio = SimulatedRadio | BellowsRadio | ZhaRadio


def flow_control(value: str | None) -> str | None:
    """The form's "none" is bellows' None."""
    return None if value in (None, "none") else value


def create_radio(hass: HomeAssistant, entry: ConfigEntry) -> SiteRadio:
    """A radio for the entry; nothing is opened until it is started."""
    mode = entry.data.get(CONF_RADIO)
    if mode == RADIO_BELLOWS:
        settings: Mapping[str, Any] = entry.data[CONF_BELLOWS]
        return BellowsRadio(
            path=settings[CONF_DEVICE_PATH],
            baudrate=int(settings.get(CONF_BAUDRATE, DEFAULT_BAUDRATE)),
            flow_control=flow_control(settings.get(CONF_FLOW_CONTROL)),
            # Its own database, never ZHA's zigbee.db.
            database_path=hass.config.path(f"ntnu_library_{entry.entry_id}_zigbee.db"),
        )
    if mode == RADIO_ZHA:
        return ZhaRadio(lambda: zha_application(hass))
    return SimulatedRadio()


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
    """Whether `path` is one of `others` once /dev/serial/by-id links are resolved (blocking)."""
    return os.path.realpath(path) in {os.path.realpath(other) for other in others}
