"""One site (a library building) at run time: a small typed record of its collaborators.

- `library`: the room rules and their state (`core`);
- `radio`: the Zigbee network of its rooms (the radio contract);
- `gate`: logins and every question to the patron system;
- `storage`: what survives a restart;
- `doors`: the bolt step and the doors kept shut;
- `commands`: the one command path every command takes;
- `directory`: staff's management of the local patron directory;
- `desk`: circulation: the site's self-checkout kiosks, return boxes and counter loans;
- `device_events`: what the devices tell, routed;
- `hub`: the library this site is a building of (patron-level state, shared by its sites).

`async_build_site` wires them from the config entry; `__init__.py` starts and stops them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from homeassistant.config_entries import ConfigEntry, ConfigEntryState
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import ServiceValidationError
from homeassistant.util import dt as dt_util

from .backends import PatronBackend, build_patron_backend, build_radio
from .commands import SiteCommands
from .const import DOMAIN
from .core.identity import mask_patron_id
from .core.model import RoomStatus
from .core.policy import Policy
from .core.room_state import LibraryState
from .core.study_rooms import Library
from .desk import CirculationDesk
from .device_events import DeviceEvents
from .directory import DirectoryAdmin
from .doors import DoorKeeper
from .gate import PatronGate
from .library import LibraryHub, async_join_library, async_leave_library
from .storage import SiteStorage
from .subentries import room_devices, rooms_of_entry
from .zigbee.radio import RoomRadio


def room_summary(library: Library, radio: RoomRadio, room_id: str) -> dict[str, Any]:
    """A room as a command answers it: status, masked holder, the lock's bolt."""
    now = dt_util.now()
    return {
        "room": room_id,
        "status": library.status(room_id, now, lock_online=radio.is_online(room_id)).value,
        "holder": mask_patron_id(library.holder(room_id, now)),
        "lock": radio.lock_state(room_id).value,
    }


@dataclass(kw_only=True)
class SiteRuntime:
    """Everything one config entry (one library building) runs."""

    entry_id: str
    site_name: str
    library: Library
    radio: RoomRadio
    patrons: PatronBackend
    gate: PatronGate
    storage: SiteStorage
    doors: DoorKeeper
    commands: SiteCommands
    directory: DirectoryAdmin
    desk: CirculationDesk
    device_events: DeviceEvents
    hub: LibraryHub
    leave_library: Callable[[], Awaitable[None]]
    seeded: bool = False

    # --- what entities, services and diagnostics read ---------------------------------------

    def status(self, room_id: str) -> RoomStatus:
        """The e-label status of a room now."""
        return self.library.status(
            room_id, dt_util.now(), lock_online=self.radio.is_online(room_id)
        )

    def masked_holder(self, room_id: str) -> str | None:
        """The holder's ID, masked."""
        return mask_patron_id(self.library.holder(room_id, dt_util.now()))

    def room_summary(self, room_id: str) -> dict[str, Any]:
        """The answer a patron or staff command returns for a room."""
        return room_summary(self.library, self.radio, room_id)

    def as_store_data(self) -> dict[str, Any]:
        """What the site's Store keeps (the patrons' part is the library's)."""
        return {
            "library": self.library.state.as_dict(),
            "doors": self.doors.as_dict(),
            "seeded": self.seeded,
        }

    # --- life cycle --------------------------------------------------------------------------

    @callback
    def async_start(self) -> None:
        """The radio is up: listen to it, and take over the doors as they are."""
        self.device_events.take_initial_occupancy()
        self.doors.async_start(self.library.rooms)

    async def async_stop(self) -> None:
        """Stop timers and taps, write what is pending, close the radio and the patron system."""
        self.doors.async_stop()
        await self.commands.async_stop()
        await self.storage.async_save()
        await self.radio.async_stop()
        await self.patrons.async_close()
        await self.leave_library()


async def async_build_site(hass: HomeAssistant, entry: ConfigEntry) -> SiteRuntime:
    """Load the Store, join the library and wire the site's collaborators (nothing started).

    Until `async_start`, a site that fails to start must call `leave_library`.
    """
    storage = SiteStorage(hass, entry.entry_id)
    data = await storage.async_load()
    hub, handed_over = await async_join_library(hass, entry, data)
    policy = Policy.from_options(entry.options)
    relock_after_s = policy.relock_after_s
    library = Library(
        rooms_of_entry(entry),
        policy,
        LibraryState.from_dict(data.get("library", {})),
        patrons=hub.patrons,
        held_elsewhere=lambda patron_id: hub.held_elsewhere(entry.entry_id, patron_id),
    )

    def spawn(coro: Any, name: str) -> Any:
        return entry.async_create_background_task(
            hass, coro, f"{DOMAIN} {entry.title}: {name}", eager_start=False
        )

    radio = build_radio(hass, entry, spawn=spawn, auto_relock_seconds=relock_after_s)
    radio.set_rooms(room_devices(entry))
    patrons = build_patron_backend(hass, entry, hub.directory)
    gate = PatronGate(hass, entry, backend=patrons, hub=hub)
    doors = DoorKeeper(
        hass,
        entry,
        radio=radio,
        storage=storage,
        relock_after_s=relock_after_s,
    )
    doors.load(data.get("doors"))
    commands = SiteCommands(
        hass,
        entry,
        library=library,
        radio=radio,
        gate=gate,
        storage=storage,
        hub=hub,
        doors=doors,
        summary=lambda room_id: room_summary(library, radio, room_id),
    )

    async def _leave() -> None:
        await async_leave_library(hass, hub, entry.entry_id)

    runtime = SiteRuntime(
        entry_id=entry.entry_id,
        site_name=entry.title,
        library=library,
        radio=radio,
        patrons=patrons,
        gate=gate,
        storage=storage,
        doors=doors,
        commands=commands,
        directory=DirectoryAdmin(directory=patrons.directory, hub=hub, gate=gate),
        desk=CirculationDesk(hass, entry, hub=hub, gate=gate, patrons=patrons, library=library),
        device_events=DeviceEvents(
            hass,
            entry,
            library=library,
            radio=radio,
            commands=commands,
            doors=doors,
            storage=storage,
        ),
        hub=hub,
        leave_library=_leave,
        seeded=bool(data.get("seeded")),
    )
    hub.sites[entry.entry_id] = runtime
    storage.provide(runtime.as_store_data)
    if handed_over:  # the library has it now: the site's Store no longer holds it
        await storage.async_save()
    return runtime


def find_site(
    hass: HomeAssistant,
    entry_id: str | None,
    *,
    library_wide: bool = False,
    room_id: str | None = None,
) -> SiteRuntime:
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
        runtime: SiteRuntime = entry.runtime_data
        return runtime
    sites: list[SiteRuntime] = [entry.runtime_data for entry in entries]
    if len(sites) == 1:
        return sites[0]
    if sites and library_wide and len({site.hub.library_id for site in sites}) == 1:
        return sites[0]
    if room_id is not None:
        having = [site for site in sites if room_id in site.library.rooms]
        if len(having) == 1:
            return having[0]
    raise ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key="site_required" if sites else "no_site",
    )
