"""The library: what every site (building) of it shares in one Home Assistant.

Patron-level state is the library's, not a building's: the local patron directory, freezes,
daily counter check-ins, refs, the login throttle, the rule of one temporary room per patron,
and circulation (the catalogue, loans and what waits in the return boxes). Each site stays its
own config entry (its radio, rooms, counter hours) and joins its library (entry data `library`)
when it starts, bringing its study rooms; the library lives while any of its sites is loaded.
Every change of any site of a library, or of the library itself, runs the library's one
transaction (transaction.py), so a patron cannot borrow at two buildings at once.

A site that kept patron state of its own (before sites shared a library) hands it over the
first time it joins: the library's Store is written first, then the site's without it.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
import logging
import secrets
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.util.hass_dict import HassKey

from .auth.local import LocalDirectory
from .const import CONF_LIBRARY, DOMAIN
from .core.circulation_state import CirculationState
from .core.identity import KEYED_PREFIX, keyed_id
from .core.room_state import PatronState
from .core.station_credentials import StationCredentials
from .core.study_rooms import StudyRooms
from .core.throttle import LoginThrottle
from .storage import PrivateStore
from .transaction import Kept, Transaction

_LOGGER = logging.getLogger(__package__)

LIBRARIES: HassKey[dict[str, Library]] = HassKey(f"{DOMAIN}_libraries")
_JOINING: HassKey[asyncio.Lock] = HassKey(f"{DOMAIN}_joining")


@dataclass(frozen=True, slots=True)
class Building:
    """A loaded site as its library sees it: its name and its study rooms."""

    name: str
    rooms: StudyRooms


@dataclass(kw_only=True)
class Library:
    """One library's shared state, its transaction, and its loaded buildings' rooms."""

    library_id: str
    storage: PrivateStore
    transaction: Transaction
    patrons: PatronState
    throttle: LoginThrottle
    directory: LocalDirectory
    circulation: CirculationState = field(default_factory=CirculationState)
    # The self-checkout stations staff opened (hashed credentials), at any site of the library.
    stations: StationCredentials = field(default_factory=StationCredentials)
    seeded: bool = False
    buildings: dict[str, Building] = field(default_factory=dict)
    # Keys the throttle's patron keys, so nothing typed as an ID is kept as typed.
    login_secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    # Keyed card numbers (and other IDs an ILS takes) -> the keyed ID of their patron.
    aliases: OrderedDict[str, str] = field(default_factory=OrderedDict)
    # The keyed IDs of patrons -> their masked IDs: whom staff see being guessed at.
    names: OrderedDict[str, str] = field(default_factory=OrderedDict)

    def __post_init__(self) -> None:
        # The library's parts of the state, each kept in the library's Store.
        self.kept_patrons = Kept(self.patrons, self.storage)
        self.kept_circulation = Kept(self.circulation, self.storage)
        self.kept_directory = Kept(self.directory, self.storage)
        self.kept_stations = Kept(self.stations, self.storage)
        self.transaction.watch(
            self.kept_patrons, self.kept_circulation, self.kept_directory, self.kept_stations
        )

    def as_store_data(self) -> dict[str, Any]:
        """What the library's Store keeps."""
        return {
            "patrons": self.directory.as_dict(),
            "patron_state": self.patrons.as_dict(),
            "throttle": self.throttle.as_dict(),
            "login_secret": self.login_secret.hex(),
            "login_aliases": dict(self.aliases),
            "login_names": dict(self.names),
            "circulation": self.circulation.as_dict(),
            "kiosk_stations": self.stations.as_dict(),
            "seeded": self.seeded,
        }

    def login_key(self, typed: str) -> str:
        """A typed ID (or card number) as the login throttle keys it: a keyed hash."""
        return keyed_id(self.login_secret, typed)

    def guessed_patrons(self, now: float, limit: int = 10) -> dict[str, int]:
        """The patrons most failed logins were for in the last hour (masked ID -> count).

        Only patrons: what else was typed is counted, never shown (it may be anything).
        """
        counts = self.throttle.failures_per_key(now)
        named = sorted(
            ((count, self.names[key]) for key, count in counts.items() if key in self.names),
            key=lambda item: (-item[0], item[1]),
        )
        return {name: count for count, name in named[:limit]}

    def held_elsewhere(self, entry_id: str, patron_id: str) -> str | None:
        """The temporary room a patron holds at another site, as "<site> <room>"."""
        for other, building in self.buildings.items():
            if other != entry_id and (room := building.rooms.borrowed_room(patron_id)):
                return f"{building.name} {room}"
        return None

    def holds(self, patron_id: str) -> str | None:
        """Any room the patron holds at any site (borrowed, or reserved for some month)."""
        for building in self.buildings.values():
            if room := building.rooms.borrowed_room(patron_id):
                return room
            for room, _, pid in building.rooms.reservations():
                if pid == patron_id:
                    return room
        return None

    async def async_write(self) -> None:
        """Write the library's Store now, under the transaction (the login throttle's record)."""
        await self.transaction.async_write(self.storage)


def library_id(entry: ConfigEntry) -> str:
    """The library a site belongs to (a site from before libraries is a library of its own)."""
    return str(entry.data.get(CONF_LIBRARY) or entry.entry_id)


async def async_join_library(
    hass: HomeAssistant, entry: ConfigEntry, site_data: dict[str, Any]
) -> tuple[Library, bool]:
    """The site's library, loaded if it is the first site; its legacy state handed over.

    Returns the library and whether the site's Store still holds state the library took over
    (the site must then write its Store at once, without it).
    """
    libraries = hass.data.setdefault(LIBRARIES, {})
    async with hass.data.setdefault(_JOINING, asyncio.Lock()):
        key = library_id(entry)
        library = libraries.get(key)
        if library is None:
            library = await _async_load(hass, key)
            libraries[key] = library
        handed_over = await _async_take_over(library, site_data, entry.title)
    return library, handed_over


def _store(hass: HomeAssistant, key: str) -> PrivateStore:
    return PrivateStore(hass, f"library.{key}")


async def async_remove_library_data(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """A site removed: delete its library's Store (patrons included) when no site is left."""
    key = library_id(entry)
    others = hass.config_entries.async_entries(DOMAIN)
    if not any(library_id(other) == key for other in others if other.entry_id != entry.entry_id):
        await _store(hass, key).async_remove()


async def _async_load(hass: HomeAssistant, key: str) -> Library:
    storage = _store(hass, key)
    data = await storage.async_load()
    transaction = Transaction()
    secret = _secret(data.get("login_secret"))

    def rekey(saved: str) -> str:  # an ID an older release kept as typed
        return saved if saved.startswith(KEYED_PREFIX) else keyed_id(secret, saved)

    library = Library(
        library_id=key,
        storage=storage,
        transaction=transaction,
        login_secret=secret,
        aliases=_keyed_map(data.get("login_aliases")),
        names=_keyed_map(data.get("login_names")),
        patrons=PatronState.from_dict(data.get("patron_state", {})),
        throttle=LoginThrottle.from_dict(data.get("throttle", {}), rekey=rekey),
        directory=LocalDirectory.from_dict(
            data.get("patrons", {}),
            run_blocking=hass.async_add_executor_job,
            commit=transaction.commit(storage),
        ),
        circulation=CirculationState.from_dict(data.get("circulation", {})),
        stations=StationCredentials.from_dict(data.get("kiosk_stations")),
        seeded=bool(data.get("seeded")),
    )
    storage.provide(library.as_store_data)
    return library


def _secret(saved: Any) -> bytes:
    """The library's keying secret as kept, or a new one (a library from before it had one)."""
    try:
        secret = bytes.fromhex(saved) if isinstance(saved, str) else b""
    except ValueError:
        secret = b""
    return secret if len(secret) >= 16 else secrets.token_bytes(32)


def _keyed_map(saved: Any) -> OrderedDict[str, str]:
    """Keyed aliases or names as kept (anything else is dropped: they are learnt again)."""
    if not isinstance(saved, dict):
        return OrderedDict()
    return OrderedDict(
        (alias, key)
        for alias, key in saved.items()
        if isinstance(alias, str) and isinstance(key, str)
    )


async def _async_take_over(library: Library, site_data: dict[str, Any], site_name: str) -> bool:
    """Move what a site kept of patrons before libraries into the library; True if any."""
    legacy = site_data.get("library", {})
    own_patrons = site_data.get("patrons")
    own = (
        LocalDirectory.from_dict(own_patrons, run_blocking=library.directory.run_blocking)
        if own_patrons
        else None
    )

    def take(_now: datetime) -> list[str]:
        if any(legacy.get(key) for key in ("freezes", "check_ins", "refs")):
            library.patrons.merge(PatronState.from_dict(legacy))
        return library.directory.merge(own) if own is not None else []

    found = own is not None or any(legacy.get(k) for k in ("freezes", "check_ins", "refs"))
    if site_data.get("throttle"):
        if not library.throttle.tracked_patrons:
            library.throttle = LoginThrottle.from_dict(site_data["throttle"])
        found = True
    if site_data.get("seeded"):
        library.seeded = True
    if not found:
        return False
    skipped = await library.transaction.async_run(
        take, library.kept_patrons, library.kept_directory
    )
    if skipped:
        _LOGGER.warning(
            "%s: %d patron(s) not taken into the library: their card belongs to another",
            site_name,
            len(skipped),
        )
    await library.async_write()  # the throttle and the seeded mark too
    return True


async def async_leave_library(hass: HomeAssistant, library: Library, entry_id: str) -> None:
    """A site stops; the library is written, and forgotten when no site of it is left."""
    library.buildings.pop(entry_id, None)
    await library.async_write()
    if not library.buildings and hass.data.get(LIBRARIES, {}).get(library.library_id) is library:
        del hass.data[LIBRARIES][library.library_id]
