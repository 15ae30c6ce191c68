"""What survives a restart: one private, versioned Store per site and one per library.

Its owner hands in a function that assembles everything to keep (a site: its rooms' state and
the doors waiting for their lock; a library: the patron directory, freezes, check-ins and the
login throttle). A decision is only acted on once it is written: `async_persist` writes now
and, when that fails, puts the old state back and refuses with `storage_failed`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.storage import Store

from .const import DOMAIN

STORAGE_VERSION = 1
STORAGE_MINOR_VERSION = 1
# Patron directory and throttle changes that need not be on disk before an answer.
SAVE_DELAY_SECONDS = 1


class SiteStorage:
    """A private Store: `ntnu_library.<entry id>` (a site), `ntnu_library.library.<id>`."""

    def __init__(self, hass: HomeAssistant, key: str) -> None:
        self.store: Store[dict[str, Any]] = Store(
            hass,
            STORAGE_VERSION,
            f"{DOMAIN}.{key}",
            minor_version=STORAGE_MINOR_VERSION,
            private=True,
            atomic_writes=True,
        )
        self._data: Callable[[], dict[str, Any]] = dict

    @property
    def path(self) -> str:
        """Where the Store lives on disk."""
        return self.store.path

    async def async_load(self) -> dict[str, Any]:
        """What was written last (empty for a new site)."""
        return await self.store.async_load() or {}

    def provide(self, data: Callable[[], dict[str, Any]]) -> None:
        """Set what is written: called at every write, so it is always current."""
        self._data = data

    async def async_save(self) -> None:
        """Write now."""
        await self.store.async_save(self._data())

    @callback
    def async_schedule_save(self) -> None:
        """Write soon."""
        self.store.async_delay_save(self._data, SAVE_DELAY_SECONDS)

    async def async_persist(self, restore: Callable[[], None]) -> None:
        """Write now; when that fails, `restore` the old state and refuse with storage_failed."""
        try:
            await self.async_save()
        except (OSError, HomeAssistantError, ValueError) as err:
            restore()
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="storage_failed",
                translation_placeholders={"error": str(err)[:200]},
            ) from err
