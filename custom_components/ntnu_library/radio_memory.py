"""What a site remembers of its Zigbee network across restarts, in a Store of its own.

- `configured`: per device (IEEE), the settings it was last configured with, so a device
  configured before is not configured again on every start (zigbee/owned.py);
- `devices`: on the simulated network only, what each simulated device keeps in its own
  flash (bindings, reporting, attribute values), as a real device keeps it while Home
  Assistant restarts.

Neither is the library's state (nothing a decision reads), and both grow with the number of
devices, so they live apart from the site's Store, which is written at every decision. Writes
still go through the library's transaction (`Transaction.async_write`), never half-way
through a decision; a burst of configurations is written once, a second after the last one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.event import async_call_later

from .const import DOMAIN
from .storage import PrivateStore
from .transaction import Transaction

WRITE_DELAY_S = 1.0  # configurations finishing within this are written together


class RadioMemory:
    """The Store `ntnu_library.<entry id>.radio` and what it holds."""

    def __init__(self, hass: HomeAssistant, entry: ConfigEntry, transaction: Transaction) -> None:
        self._hass = hass
        self._entry = entry
        self._transaction = transaction
        self.storage = PrivateStore(hass, f"{entry.entry_id}.radio")
        self.storage.provide(self.as_store_data)
        self.configured: dict[str, str] = {}
        self.devices: dict[str, dict[str, Any]] = {}
        self._pending: CALLBACK_TYPE | None = None  # the timer of the next write
        entry.async_on_unload(self._cancel)

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
        if self._pending is None:
            self._pending = async_call_later(self._hass, WRITE_DELAY_S, self._write)

    @callback
    def _write(self, _now: datetime) -> None:
        self._pending = None
        self._entry.async_create_background_task(
            self._hass, self.async_save(), f"{DOMAIN} write the radio's memory"
        )

    @callback
    def _cancel(self) -> None:
        """The site stops: no write is left pending (the stop writes everything itself)."""
        if self._pending is not None:
            self._pending()
            self._pending = None

    async def async_save(self) -> None:
        """Write now, under the library's transaction."""
        await self._transaction.async_write(self.storage)
