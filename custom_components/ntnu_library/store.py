"""Persistence of one site: rooms state, patron directory and login throttle, versioned."""

from __future__ import annotations

from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers.storage import Store

from .const import DOMAIN

STORAGE_VERSION = 1
STORAGE_MINOR_VERSION = 1


class SiteStore(Store[dict[str, Any]]):
    """The site's Store: `library`, `patrons`, `throttle`, `seeded`."""

    def __init__(self, hass: HomeAssistant, entry_id: str) -> None:
        super().__init__(
            hass,
            STORAGE_VERSION,
            f"{DOMAIN}.{entry_id}",
            minor_version=STORAGE_MINOR_VERSION,
            private=True,
            atomic_writes=True,
        )
