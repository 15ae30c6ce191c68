"""One site (a library building) at run time: a small typed record of its collaborators.

- `rooms`: the study-room rules and the site's part of their state (`core`);
- `library`: the library this site is a building of (patron-level state, circulation, and
  the one transaction every change takes);
- `radio`: the Zigbee network of its rooms (the radio contract);
- `patrons` and `gate`: the patron system, and logins and every question to it;
- `announcer`: what the site tells (entities, the bus, the log);
- `doors`: the one command path (decide, persist, move the bolt, tell) and the doors kept shut;
- `commands`: every room command; `device_events`: what the devices tell, routed;
- `directory`: staff's management of the local patron directory;
- `desk`: circulation: the site's self-checkout kiosks, return boxes and counter loans.

`async_build_site` wires them from the config entry, each getting what it uses when it is
made; `__init__.py` starts and stops them.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
import os
from typing import Any

from homeassistant.config_entries import ConfigEntry, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryError, ServiceValidationError
from homeassistant.util import dt as dt_util

from .announce import Announcer
from .backends import PatronBackend, build_patron_backend, build_radio, zigbee_database_path
from .commands import SiteCommands
from .const import CONF_SITE_NAME_ZH, DOMAIN
from .core.circulation import CirculationPolicy
from .core.identity import mask_patron_id
from .core.model import RoomStatus
from .core.policy import Policy
from .core.room_state import StudyRoomsState
from .core.room_words import Words, in_language
from .core.study_rooms import StudyRooms
from .desk import CirculationDesk
from .device_events import DeviceEvents
from .directory import DirectoryAdmin
from .doors import DoorKeeper
from .gate import PatronGate
from .ils_loans import IlsLoans
from .library import (
    Building,
    Library,
    async_join_library,
    async_leave_library,
    async_remove_library_data,
)
from .loans import LocalLoans
from .radio_memory import RadioMemory
from .slot_keeper import SlotKeeper, build_slot_keeper
from .storage import SITE_STORE_PARTS, PrivateStore, site_store_key
from .subentries import room_devices, rooms_of_entry
from .transaction import Kept
from .zigbee.radio import RoomRadio


@dataclass(kw_only=True)
class Site:
    """Everything one config entry (one library building) runs."""

    hass: HomeAssistant
    entry_id: str
    site_name: str
    rooms: StudyRooms
    library: Library
    kept_rooms: Kept
    radio: RoomRadio
    patrons: PatronBackend
    gate: PatronGate
    storage: PrivateStore
    announcer: Announcer
    doors: DoorKeeper
    commands: SiteCommands
    device_events: DeviceEvents
    directory: DirectoryAdmin
    desk: CirculationDesk
    radio_memory: RadioMemory
    slots: SlotKeeper  # the holder's card in each room's lock
    seeded: bool = False
    site_name_zh: str = ""  # the site's own name in Chinese, if staff gave one

    # --- what entities, services and diagnostics read ---------------------------------------

    def name_in(self, language: str) -> str:
        """The site's name in a language: its Chinese name for any Chinese, when it has one."""
        return in_language(Words(self.site_name_zh or self.site_name, self.site_name), language)

    def status(self, room_id: str) -> RoomStatus:
        """The e-label status of a room now."""
        return self.rooms.status(room_id, dt_util.now(), lock_online=self.radio.is_online(room_id))

    def masked_holder(self, room_id: str) -> str | None:
        """The holder's ID, masked."""
        return mask_patron_id(self.rooms.holder(room_id, dt_util.now()))

    def as_store_data(self) -> dict[str, Any]:
        """What the site's Store keeps (the patrons' part is the library's)."""
        return {
            "library": self.rooms.state.as_dict(),
            "doors": {"owed": sorted(self.rooms.state.owed_locks)},
            "seeded": self.seeded,
        }

    # --- life cycle --------------------------------------------------------------------------

    async def async_start(self) -> None:
        """The radio is up: take over the rooms' sensors and doors as they are."""
        await self.commands.async_take_occupancy()
        self.doors.async_start(self.rooms.rooms)
        self.slots.async_start()

    async def async_write(self) -> None:
        """Write the site's Stores now, under the library's transaction."""
        await self.library.transaction.async_write(self.storage, self.slots.kept.storage)

    async def async_stop(self) -> None:
        """Stop timers and taps, write what is pending, close the radio and the patron system."""
        self.doors.async_stop()
        await self.commands.async_stop()
        await self.async_write()
        await self.radio.async_stop()
        await self.radio_memory.async_save()  # what the devices were configured with
        await self.patrons.async_close()
        await self.async_leave_library()

    async def async_leave_library(self) -> None:
        """The site's rooms are no longer the library's (stopped, or failed to start)."""
        self.library.transaction.forget(self.kept_rooms, self.slots.kept)
        await async_leave_library(self.hass, self.library, self.entry_id)


async def async_build_site(hass: HomeAssistant, entry: ConfigEntry) -> Site:
    """Load the Store, join the library and wire the site's collaborators (nothing started).

    Until `async_start`, a site that fails to start must call `async_leave_library`.
    """
    storage = PrivateStore(hass, site_store_key(entry.entry_id))
    data = await storage.async_load()
    library, handed_over = await async_join_library(hass, entry, data)
    policy = Policy.from_options(entry.options)
    rooms = StudyRooms(
        rooms_of_entry(entry),
        policy,
        StudyRoomsState.from_dict(
            data.get("library", {}), owed_locks=(data.get("doors") or {}).get("owed", ())
        ),
        patrons=library.patrons,
        held_elsewhere=lambda patron_id: library.held_elsewhere(entry.entry_id, patron_id),
    )
    kept_rooms = Kept(rooms.state, storage)
    kept = (kept_rooms, library.kept_patrons)

    def spawn(coro: Any, name: str) -> Any:
        return entry.async_create_background_task(
            hass, coro, f"{DOMAIN} {entry.title}: {name}", eager_start=False
        )

    radio_memory = RadioMemory(hass, entry, library.transaction)
    await radio_memory.async_load()
    radio = build_radio(
        hass, entry, spawn=spawn, auto_relock_seconds=policy.relock_after_s, memory=radio_memory
    )
    try:
        radio.set_rooms(room_devices(entry))
    except ValueError as err:  # a device bound to two rooms (kept from before the form checked)
        await async_leave_library(hass, library, entry.entry_id)
        raise ConfigEntryError(
            translation_domain=DOMAIN,
            translation_key="rooms_misbound",
            translation_placeholders={"error": str(err)[:200]},
        ) from err
    patrons = build_patron_backend(hass, entry, library.directory)
    gate = PatronGate(hass, entry, backend=patrons, library=library)
    announcer = Announcer(hass, entry)
    transaction = library.transaction
    doors = DoorKeeper(
        hass,
        entry,
        rooms=rooms,
        radio=radio,
        transaction=transaction,
        kept=kept,
        announcer=announcer,
        relock_after_s=policy.relock_after_s,
    )
    # The locks' user tables in a Store of their own (before, a part of the site's Store).
    lock_storage = PrivateStore(hass, site_store_key(entry.entry_id, "locks"))
    lock_data = await lock_storage.async_load() or data.get("lock_slots")
    slots = build_slot_keeper(
        hass,
        entry,
        lock_data,
        rooms=rooms,
        radio=radio,
        library=library,
        storage=lock_storage,
        announcer=announcer,
        gate=gate,
        relock=doors.request_relock,
    )
    doors.decided = slots.changed
    commands = SiteCommands(
        hass,
        entry,
        rooms=rooms,
        radio=radio,
        gate=gate,
        doors=doors,
        announcer=announcer,
        transaction=transaction,
        kept=kept,
    )
    circulation_policy = CirculationPolicy.from_options(entry.options)
    loans = (
        IlsLoans(ils=patrons.ils, gate=gate, state=library.circulation, policy=circulation_policy)
        if patrons.ils is not None
        else LocalLoans()
    )
    site = Site(
        hass=hass,
        entry_id=entry.entry_id,
        site_name=entry.title,
        rooms=rooms,
        library=library,
        kept_rooms=kept_rooms,
        radio=radio,
        patrons=patrons,
        gate=gate,
        storage=storage,
        announcer=announcer,
        doors=doors,
        commands=commands,
        device_events=DeviceEvents(
            hass,
            entry,
            rooms=rooms,
            radio=radio,
            commands=commands,
            doors=doors,
            announcer=announcer,
        ),
        directory=DirectoryAdmin(directory=patrons.directory, library=library, gate=gate),
        desk=CirculationDesk(
            hass,
            entry,
            library=library,
            rooms=rooms,
            gate=gate,
            loans=loans,
            policy=circulation_policy,
        ),
        radio_memory=radio_memory,
        slots=slots,
        seeded=bool(data.get("seeded")),
        site_name_zh=str(entry.data.get(CONF_SITE_NAME_ZH) or ""),
    )
    storage.provide(site.as_store_data)
    lock_storage.provide(slots.state.as_dict)
    library.buildings[entry.entry_id] = Building(name=entry.title, rooms=rooms)
    transaction.watch(kept_rooms, slots.kept)
    if handed_over or "lock_slots" in data:  # moved out of the site's Store: write both
        await site.async_write()
    return site


def find_site(
    hass: HomeAssistant,
    entry_id: str | None,
    *,
    library_wide: bool = False,
    room_id: str | None = None,
) -> Site:
    """The site a request acts on: the one named, or the only one loaded.

    A request about a patron (`library_wide`) needs no site when every loaded site is of the
    same library; one about a room (`room_id`) needs none when only one site has that room.
    """
    entries = hass.config_entries.async_loaded_entries(DOMAIN)
    if entry_id is not None:
        entry = hass.config_entries.async_get_entry(entry_id)
        if entry is None or entry.domain != DOMAIN:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="site_not_found",
                translation_placeholders={"entry_id": str(entry_id)[:40]},
            )
        if entry.state is not ConfigEntryState.LOADED:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="site_not_loaded",
                translation_placeholders={"site": entry.title},
            )
        site: Site = entry.runtime_data
        return site
    sites: list[Site] = [entry.runtime_data for entry in entries]
    if len(sites) == 1:
        return sites[0]
    if sites and library_wide and len({site.library.library_id for site in sites}) == 1:
        return sites[0]
    if room_id is not None:
        having = [site for site in sites if room_id in site.rooms.rooms]
        if len(having) == 1:
            return having[0]
    raise ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key="site_required" if sites else "no_site",
    )


async def async_remove_site_data(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """A site removed: its Stores (its library's when no site shares it), its network's database."""
    for part in SITE_STORE_PARTS:
        await PrivateStore(hass, site_store_key(entry.entry_id, part)).async_remove()
    await async_remove_library_data(hass, entry)
    database = zigbee_database_path(hass, entry.entry_id)  # an own coordinator's network
    await hass.async_add_executor_job(
        _remove_files, [database, f"{database}-wal", f"{database}-shm"]
    )


def _remove_files(paths: list[str]) -> None:
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)
