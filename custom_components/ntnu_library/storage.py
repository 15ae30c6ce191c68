"""What survives a restart: private, versioned Stores per site and one per library.

A site keeps its rooms' state in `ntnu_library.<entry id>`, its locks' user tables in
`<entry id>.locks` and what its Zigbee devices were configured with in `<entry id>.radio`.

Its owner hands in a function that assembles everything to keep (a site: its rooms' state and
the locks owed; a library: the patron directory, freezes, check-ins, refs, circulation and the
login throttle), called at every write so it is always current. Writes go through the one
transaction (transaction.py), never straight here, so no write catches a decision half made.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers.storage import Store

from .const import DOMAIN

STORAGE_VERSION = 1
STORAGE_MINOR_VERSION = 1
# A site's Stores: its rooms' state, its locks' user tables, its radio's memory.
SITE_STORE_PARTS = ("", "locks", "radio")


def site_store_key(entry_id: str, part: str = "") -> str:
    """The key of one of a site's Stores (`part` from SITE_STORE_PARTS)."""
    return f"{entry_id}.{part}" if part else entry_id


class PrivateStore:
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
        """Write now (the transaction calls this, under its lock)."""
        await self.store.async_save(self._data())

    async def async_remove(self) -> None:
        """Delete the Store from disk (its config entry was removed)."""
        await self.store.async_remove()
