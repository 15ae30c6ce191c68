"""The counter panel in Home Assistant's sidebar: a web component the integration serves itself.

The panel is one JavaScript file built from frontend/ (Lit) by scripts/build-panel and shipped
inside the integration, so nobody installing it needs npm. Every logged-in user sees the entry
in the sidebar; the panel's commands (counter_ws.py) serve counter staff and administrators
only, and the panel tells anyone else so.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Final

from homeassistant.components import panel_custom
from homeassistant.components.http import StaticPathConfig
from homeassistant.core import HomeAssistant

from .const import DOMAIN

PANEL_FILE: Final = Path(__file__).parent / "panel" / "counter-panel.js"
PANEL_URL: Final = f"/{DOMAIN}_panel/counter-panel.js"
PANEL_PATH: Final = "ntnu-library-counter"  # the panel's address: /ntnu-library-counter
PANEL_ELEMENT: Final = "ntnu-library-counter"  # the web component's tag
PANEL_TITLE: Final = "Counter · 櫃檯"
PANEL_ICON: Final = "mdi:card-account-details-outline"


def _version() -> str:
    """A short hash of the built file: a new build is fetched anew, an old one is cached."""
    return hashlib.sha256(PANEL_FILE.read_bytes()).hexdigest()[:12]


async def async_register_counter_panel(hass: HomeAssistant) -> None:
    """Serve the panel's file and put the panel in the sidebar (once for every site)."""
    version = await hass.async_add_executor_job(_version)
    await hass.http.async_register_static_paths(
        [StaticPathConfig(PANEL_URL, str(PANEL_FILE), cache_headers=True)]
    )
    await panel_custom.async_register_panel(
        hass,
        frontend_url_path=PANEL_PATH,
        webcomponent_name=PANEL_ELEMENT,
        sidebar_title=PANEL_TITLE,
        sidebar_icon=PANEL_ICON,
        module_url=f"{PANEL_URL}?v={version}",
        require_admin=False,
        config={"domain": DOMAIN},
    )
