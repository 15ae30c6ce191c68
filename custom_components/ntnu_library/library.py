"""The library: what every site (building) of it shares in one Home Assistant.

Patron-level state is the library's, not a building's: the local patron directory, freezes,
daily counter check-ins, refs, the login throttle, the rule of one temporary room per
patron, and circulation (the catalogue, loans and what waits in the return boxes). Each site stays its own config entry (its radio, rooms, counter hours) and joins its
library (entry data `library`) when it starts; the library lives while any of its sites is
loaded. Every decision of every site of a library is made under the library's one lock, so a
patron cannot borrow at two buildings at once.

A site that kept patron state of its own (before sites shared a library) hands it over the
first time it joins: the library's Store is written first, then the site's without it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
import logging
from typing import TYPE_CHECKING, Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.util.hass_dict import HassKey

from .auth.local import LocalDirectory
from .const import CONF_LIBRARY, DOMAIN
from .core.circulation import CirculationState
from .core.room_state import PatronState
from .core.throttle import LoginThrottle
from .storage import SiteStorage

if TYPE_CHECKING:
    from .site import SiteRuntime

_LOGGER = logging.getLogger(__package__)

LIBRARIES: HassKey[dict[str, LibraryHub]] = HassKey(f"{DOMAIN}_libraries")
_JOINING: HassKey[asyncio.Lock] = HassKey(f"{DOMAIN}_joining")


@dataclass(kw_only=True)
class LibraryHub:
    """One library's shared state and its loaded sites."""

    library_id: str
    storage: SiteStorage
    patrons: PatronState
    throttle: LoginThrottle
    directory: LocalDirectory
    circulation: CirculationState = field(default_factory=CirculationState)
    seeded: bool = False
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    sites: dict[str, SiteRuntime] = field(default_factory=dict)

    def as_store_data(self) -> dict[str, Any]:
        """What the library's Store keeps."""
        return {
            "patrons": self.directory.as_dict(),
            "patron_state": self.patrons.as_dict(),
            "throttle": self.throttle.as_dict(),
            "circulation": self.circulation.as_dict(),
            "seeded": self.seeded,
        }

    def other_sites(self, entry_id: str) -> Iterator[SiteRuntime]:
        """The library's loaded sites but this one."""
        return (site for eid, site in self.sites.items() if eid != entry_id)

    def held_elsewhere(self, entry_id: str, patron_id: str) -> str | None:
        """The temporary room a patron holds at another site, as "<site> <room>"."""
        for site in self.other_sites(entry_id):
            if (room := site.library.borrowed_room(patron_id)) is not None:
                return f"{site.site_name} {room}"
        return None

    def holds(self, patron_id: str) -> str | None:
        """Any room the patron holds at any site now (borrowed or reserved)."""
        for site in self.sites.values():
            if room := site.library.borrowed_room(patron_id):
                return room
            for room, _, pid in site.library.reservations():
                if pid == patron_id:
                    return room
        return None


def library_id(entry: ConfigEntry) -> str:
    """The library a site belongs to (a site from before libraries is a library of its own)."""
    return str(entry.data.get(CONF_LIBRARY) or entry.entry_id)


async def async_join_library(
    hass: HomeAssistant, entry: ConfigEntry, site_data: dict[str, Any]
) -> tuple[LibraryHub, bool]:
    """The site's library, loaded if it is the first site; its legacy state handed over.

    Returns the library and whether the site's Store still holds state the library took over
    (the site must then write its Store at once, without it).
    """
    libraries = hass.data.setdefault(LIBRARIES, {})
    async with hass.data.setdefault(_JOINING, asyncio.Lock()):
        key = library_id(entry)
        hub = libraries.get(key)
        if hub is None:
            hub = await _async_load(hass, key)
            libraries[key] = hub
        handed_over = _take_over(hub, site_data, entry.title)
        if handed_over:
            await hub.storage.async_save()
    return hub, handed_over


async def _async_load(hass: HomeAssistant, key: str) -> LibraryHub:
    storage = SiteStorage(hass, f"library.{key}")
    data = await storage.async_load()
    hub = LibraryHub(
        library_id=key,
        storage=storage,
        patrons=PatronState.from_dict(data.get("patron_state", {})),
        throttle=LoginThrottle.from_dict(data.get("throttle", {})),
        directory=LocalDirectory.from_dict(
            data.get("patrons", {}),
            run_blocking=hass.async_add_executor_job,
            on_change=storage.async_schedule_save,
        ),
        circulation=CirculationState.from_dict(data.get("circulation", {})),
        seeded=bool(data.get("seeded")),
    )
    storage.provide(hub.as_store_data)
    return hub


def _take_over(hub: LibraryHub, site_data: dict[str, Any], site_name: str) -> bool:
    """Move what a site kept of patrons before libraries into the library; True if any."""
    legacy = site_data.get("library", {})
    found = False
    if any(legacy.get(key) for key in ("freezes", "check_ins", "refs")):
        hub.patrons.merge(PatronState.from_dict(legacy))
        found = True
    if site_data.get("patrons"):
        own = LocalDirectory.from_dict(
            site_data["patrons"], run_blocking=hub.directory.run_blocking, on_change=lambda: None
        )
        if skipped := hub.directory.merge(own):
            _LOGGER.warning(
                "%s: %d patron(s) not taken into the library: their card belongs to another",
                site_name,
                len(skipped),
            )
        found = True
    if site_data.get("throttle"):
        if not hub.throttle.tracked_patrons:
            hub.throttle = LoginThrottle.from_dict(site_data["throttle"])
        found = True
    if site_data.get("seeded"):
        hub.seeded = True
    return found


async def async_leave_library(hass: HomeAssistant, hub: LibraryHub, entry_id: str) -> None:
    """A site stops; the library is written, and forgotten when no site of it is left."""
    hub.sites.pop(entry_id, None)
    await hub.storage.async_save()
    if not hub.sites and hass.data.get(LIBRARIES, {}).get(hub.library_id) is hub:
        del hass.data[LIBRARIES][hub.library_id]
