"""ZHA's own lock entities of the rooms' locks (radio mode `zha`): disabled, or a repair issue.

ZHA makes a `lock` entity for every Door Lock on its network. Unlocking that entity opens the
door with none of the library's rules and without the administrator check of the room's own
lock entity, so for every room bound to a lock on ZHA's network the site disables it in the
entity registry: `disabled_by` is `integration` (Home Assistant shows "disabled by an
integration"; the registry has no way to name which), and the entity's options under this
integration's domain record the room it was disabled for. Where that cannot be done, a repair
issue tells staff what to do, and goes away once the entity is disabled:

- ZHA has no lock entity for the room's lock (yet): `zha_lock_entity_not_found`; the entity is
  disabled as soon as ZHA registers it.
- Someone enabled it again after the site had disabled it: `zha_lock_entity_enabled`. That is
  a person's decision, so the site does not disable the entity a second time; the issue says
  which entity it is and how to disable it.

Checked when the site starts (adding a room or binding it to another lock reloads the site)
and whenever a lock entity changes in the entity registry.
"""

from __future__ import annotations

from collections.abc import Mapping
import logging

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import Platform
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers import device_registry as dr, entity_registry as er, issue_registry as ir

from .const import DOMAIN
from .subentries import room_devices

_LOGGER = logging.getLogger(__package__)

ZHA_DOMAIN = "zha"
# In the options of a ZHA lock entity the site disabled (under this integration's domain).
DISABLED_FOR_ROOM = "disabled_for_room"


@callback
def async_guard_zha_locks(hass: HomeAssistant, entry: ConfigEntry) -> ZhaLockEntities:
    """Disable ZHA's lock entity of each of the entry's rooms, now and while the site runs."""
    guard = ZhaLockEntities(hass, entry, {room.room_id: room.lock for room in room_devices(entry)})
    guard.async_start()
    return guard


def zha_lock_entities(hass: HomeAssistant, ieee: str) -> list[er.RegistryEntry]:
    """ZHA's lock entities of the device with this IEEE address (ZHA's device identifier)."""
    # Among ZHA's devices: async_get_device(identifiers=…) is deprecated from HA 2026 on, and
    # its successor does not exist in 2025.4; this helper is in both.
    registry = dr.async_get(hass)
    device = next(
        (
            device
            for zha_entry in hass.config_entries.async_entries(ZHA_DOMAIN)
            for device in dr.async_entries_for_config_entry(registry, zha_entry.entry_id)
            if (ZHA_DOMAIN, ieee) in device.identifiers
        ),
        None,
    )
    if device is None:
        return []
    return [
        entity
        for entity in er.async_entries_for_device(
            er.async_get(hass), device.id, include_disabled_entities=True
        )
        if entity.domain == Platform.LOCK and entity.platform == ZHA_DOMAIN
    ]


class ZhaLockEntities:
    """ZHA's lock entities of one site's rooms."""

    def __init__(self, hass: HomeAssistant, entry: ConfigEntry, locks: Mapping[str, str]) -> None:
        self._hass = hass
        self._entry = entry
        self._locks = dict(locks)  # room id -> the lock's IEEE address
        self._check_due = False
        self._stopped = False

    @callback
    def async_start(self) -> None:
        """Check every room now, then again whenever a lock entity changes in the registry."""
        self._entry.async_on_unload(self._async_stop)
        self._entry.async_on_unload(
            self._hass.bus.async_listen(
                er.EVENT_ENTITY_REGISTRY_UPDATED,
                self._registry_updated,
                event_filter=_is_lock_entity,
            )
        )
        self.async_check()

    @callback
    def _async_stop(self) -> None:
        """The site stops: it no longer guards, so its issues go."""
        self._stopped = True
        for room_id in self._locks:
            ir.async_delete_issue(self._hass, DOMAIN, self._issue_id(room_id))

    @callback
    def _registry_updated(self, event: Event[er.EventEntityRegistryUpdatedData]) -> None:
        # Checked on the next turn of the loop, once for a burst of changes: an entity being
        # created listens to its own registry entry only once its platform has added it, so
        # disabling it from inside the `create` event would leave it in the state machine.
        if not self._check_due:
            self._check_due = True
            self._hass.loop.call_soon(self._check_later)

    @callback
    def _check_later(self) -> None:
        self._check_due = False
        if not self._stopped:
            self.async_check()

    @callback
    def async_check(self) -> None:
        """Disable what may be disabled; raise (or clear) each room's issue."""
        for room_id, ieee in self._locks.items():
            self._check_room(room_id, ieee)

    def _check_room(self, room_id: str, ieee: str) -> None:
        entities = zha_lock_entities(self._hass, ieee)
        if not entities:
            self._issue(room_id, "zha_lock_entity_not_found", ieee=ieee)
            return
        registry = er.async_get(self._hass)
        enabled_again = []
        for entity in entities:
            if entity.disabled_by is not None:
                continue
            if DISABLED_FOR_ROOM in entity.options.get(DOMAIN, ()):
                enabled_again.append(entity.entity_id)  # a person's choice: told, not undone
                continue
            registry.async_update_entity(
                entity.entity_id, disabled_by=er.RegistryEntryDisabler.INTEGRATION
            )
            registry.async_update_entity_options(
                entity.entity_id, DOMAIN, {DISABLED_FOR_ROOM: room_id}
            )
            _LOGGER.info(
                "Disabled ZHA's lock entity %s: room %s is unlocked through %s only",
                entity.entity_id,
                room_id,
                self._entry.title,
            )
        if enabled_again:
            self._issue(room_id, "zha_lock_entity_enabled", entity=", ".join(enabled_again))
        else:
            ir.async_delete_issue(self._hass, DOMAIN, self._issue_id(room_id))

    def _issue(self, room_id: str, translation_key: str, **placeholders: str) -> None:
        enabled = translation_key == "zha_lock_entity_enabled"
        ir.async_create_issue(
            self._hass,
            DOMAIN,
            self._issue_id(room_id),
            is_fixable=False,
            severity=ir.IssueSeverity.ERROR if enabled else ir.IssueSeverity.WARNING,
            translation_key=translation_key,
            translation_placeholders={"room": room_id, "site": self._entry.title, **placeholders},
        )

    def _issue_id(self, room_id: str) -> str:
        return f"zha_lock_entity_{self._entry.entry_id}_{room_id}"


@callback
def _is_lock_entity(event_data: er.EventEntityRegistryUpdatedData) -> bool:
    return event_data["entity_id"].startswith(f"{Platform.LOCK}.")
