"""What a site remembers of its Zigbee network across restarts, in a Store of its own.

- `configured`: per device (IEEE), the settings it was last configured with, so a device
  configured before is not configured again on every start (zigbee/owned.py);
- `devices`: on the simulated network only, what each simulated device keeps in its own
  flash (bindings, reporting, attribute values), as a real device keeps it while Home
  Assistant restarts.

Neither is the library's state (nothing a decision reads), and both grow with the number of
devices, so they live apart from the site's Store, which is written at every decision. Writes
still go through the library's transaction (`Transaction.async_write`), never half-way
through a decision; a burst of configurations is written once, a second after the first of them.
"""

from __future__ import annotations

from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback

from .storage import PrivateStore, site_store_key
from .transaction import Transaction, WriteSoon

WRITE_DELAY_S = 1.0  # configurations finishing within this are written together


class RadioMemory:
    """The Store `ntnu_library.<entry id>.radio` and what it holds."""

    def __init__(self, hass: HomeAssistant, entry: ConfigEntry, transaction: Transaction) -> None:
        self.storage = PrivateStore(hass, site_store_key(entry.entry_id, "radio"))
        self.storage.provide(self.as_store_data)
        self._writer = WriteSoon(hass, entry, transaction, self.storage, delay_s=WRITE_DELAY_S)
        self.configured: dict[str, str] = {}
        self.devices: dict[str, dict[str, Any]] = {}

    async def async_load(self) -> None:
        """Read what was written last (nothing for a new site)."""
        data = await self.storage.async_load()
        self.configured = {str(k): str(v) for k, v in (data.get("configured") or {}).items()}
        self.devices = dict(data.get("devices") or {})

    def as_store_data(self) -> dict[str, Any]:
        """What the Store keeps."""
        return {"configured": dict(self.configured), "devices": self.devices}

    @callback
    def changed(self) -> None:
        """A device was configured: write soon (one write for a burst), in the entry's task."""
        self._writer.changed()

    async def async_save(self) -> None:
        """Write now, under the library's transaction."""
        await self._writer.async_save()
