"""Rooms as config subentries: their flow, and what they mean to the rules and the radio.

A subentry becomes a `Room` for the room rules and a `RoomDevices` (IEEE addresses) for the
radio.
"""

from __future__ import annotations

import re
from typing import Any

from homeassistant.config_entries import (
    ConfigEntry,
    ConfigEntryState,
    ConfigSubentry,
    ConfigSubentryData,
    ConfigSubentryFlow,
    SubentryFlowResult,
)
from homeassistant.const import CONF_NAME
from homeassistant.helpers.selector import (
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
)
import voluptuous as vol

from .const import (
    CONF_CONTACT_IEEE,
    CONF_FLOOR,
    CONF_KIND,
    CONF_LOCK_IEEE,
    CONF_OCCUPANCY_IEEE,
    CONF_RADIO,
    CONF_ROOM_ID,
    RADIO_SIMULATED,
    SUBENTRY_ROOM,
)
from .core.limits import MAX_FLOOR_LENGTH, MAX_ROOM_NAME_LENGTH, ROOM_ID_PATTERN
from .core.model import Room, RoomKind
from .zigbee.radio import KnownDevice, RoomDevices
from .zigbee.simulated import simulated_devices

_ROOM_ID = re.compile(ROOM_ID_PATTERN)


def room_subentries(entry: ConfigEntry) -> list[ConfigSubentry]:
    """The entry's room subentries, in room-id order."""
    subentries = [s for s in entry.subentries.values() if s.subentry_type == SUBENTRY_ROOM]
    return sorted(subentries, key=lambda s: str(s.data[CONF_ROOM_ID]))


def room_of(subentry: ConfigSubentry) -> Room:
    """The domain room a subentry describes."""
    data = subentry.data
    return Room(
        room_id=data[CONF_ROOM_ID],
        name=data.get(CONF_NAME) or data[CONF_ROOM_ID],
        kind=RoomKind(data[CONF_KIND]),
        floor=data.get(CONF_FLOOR, ""),
    )


def rooms_of_entry(entry: ConfigEntry) -> list[Room]:
    """Every room of a site."""
    return [room_of(s) for s in room_subentries(entry)]


def room_devices(entry: ConfigEntry) -> list[RoomDevices]:
    """The Zigbee devices bound to each room."""
    return [
        RoomDevices(
            room_id=s.data[CONF_ROOM_ID],
            lock=s.data[CONF_LOCK_IEEE],
            contact=s.data.get(CONF_CONTACT_IEEE),
            occupancy=s.data.get(CONF_OCCUPANCY_IEEE),
        )
        for s in room_subentries(entry)
    ]


def room_subentry_data(room: Room, devices: RoomDevices) -> dict[str, str]:
    """What a room subentry stores."""
    data = {
        CONF_ROOM_ID: room.room_id,
        CONF_NAME: room.name,
        CONF_KIND: room.kind.value,
        CONF_FLOOR: room.floor,
        CONF_LOCK_IEEE: devices.lock,
    }
    if devices.contact:
        data[CONF_CONTACT_IEEE] = devices.contact
    if devices.occupancy:
        data[CONF_OCCUPANCY_IEEE] = devices.occupancy
    return data


def room_subentry(room: Room) -> ConfigSubentryData:
    """A room's subentry, bound to its simulated devices."""
    return ConfigSubentryData(
        data=room_subentry_data(room, simulated_devices(room.room_id)),
        subentry_type=SUBENTRY_ROOM,
        title=room.room_id,
        unique_id=room.room_id,
    )


def _select(options: list[str], key: str) -> SelectSelector:
    return SelectSelector(
        SelectSelectorConfig(options=options, translation_key=key, mode=SelectSelectorMode.DROPDOWN)
    )


def _room_of_form(room_id: str, user_input: dict[str, Any], errors: dict[str, str]) -> Room | None:
    """The room the form describes; name and floor within their limits, or an error."""
    name = str(user_input.get(CONF_NAME, "")).strip()
    floor = str(user_input.get(CONF_FLOOR, "")).strip()
    if len(name) > MAX_ROOM_NAME_LENGTH or not name.isprintable():
        errors[CONF_NAME] = "invalid_room_name"
    if len(floor) > MAX_FLOOR_LENGTH or not floor.isprintable():
        errors[CONF_FLOOR] = "invalid_floor"
    if errors:
        return None
    return Room(
        room_id=room_id,
        name=name or room_id,
        kind=RoomKind(user_input[CONF_KIND]),
        floor=floor,
    )


_IEEE = re.compile(r"^([0-9a-f]{2}:){7}[0-9a-f]{2}$")
_DEVICE_FIELDS = (CONF_LOCK_IEEE, CONF_CONTACT_IEEE, CONF_OCCUPANCY_IEEE)


def _devices_schema(entry: ConfigEntry) -> dict[vol.Marker, Any]:
    """Device fields for a real radio: chosen from what the network knows, or typed in."""
    known: list[KnownDevice] = []
    if entry.state is ConfigEntryState.LOADED:
        known = entry.runtime_data.radio.known_devices()

    def pick(wanted: str) -> SelectSelector:
        options = [
            SelectOptionDict(
                value=d.ieee, label=f"{d.ieee} {d.manufacturer or ''} {d.model or ''}".strip()
            )
            for d in known
            if getattr(d, wanted)
        ]
        return SelectSelector(
            SelectSelectorConfig(
                options=options, custom_value=True, mode=SelectSelectorMode.DROPDOWN
            )
        )

    return {
        vol.Required(CONF_LOCK_IEEE): pick("door_lock"),
        vol.Optional(CONF_CONTACT_IEEE): pick("contact"),
        vol.Optional(CONF_OCCUPANCY_IEEE): pick("occupancy"),
    }


def _devices_of(
    entry: ConfigEntry, room_id: str, user_input: dict[str, Any], errors: dict[str, str]
) -> RoomDevices | None:
    """The room's devices: simulated ones follow from the id; real ones are validated."""
    if entry.data.get(CONF_RADIO, RADIO_SIMULATED) == RADIO_SIMULATED:
        return simulated_devices(room_id)
    bound = {  # every device of the site's other rooms: one device, one room
        str(sub.data[field]).lower(): sub.data[CONF_ROOM_ID]
        for sub in room_subentries(entry)
        if sub.data[CONF_ROOM_ID] != room_id
        for field in _DEVICE_FIELDS
        if sub.data.get(field)
    }
    chosen: dict[str, str | None] = {}
    for field in _DEVICE_FIELDS:
        value = str(user_input.get(field) or "").strip().lower().replace("-", ":")
        if value and not _IEEE.match(value):
            errors[field] = "invalid_ieee"
        elif value in bound:
            errors[field] = "device_bound"
        elif value and value in chosen.values():
            errors[field] = "device_twice"
        chosen[field] = value or None
    if errors:
        return None
    return RoomDevices(
        room_id=room_id,
        lock=chosen[CONF_LOCK_IEEE] or "",
        contact=chosen[CONF_CONTACT_IEEE],
        occupancy=chosen[CONF_OCCUPANCY_IEEE],
    )


class RoomSubentryFlow(ConfigSubentryFlow):
    """Add or change a study room."""

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Add study room."""
        entry = self._get_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            room_id = str(user_input[CONF_ROOM_ID]).strip().upper()
            taken = {s.data[CONF_ROOM_ID] for s in room_subentries(entry)}
            if not _ROOM_ID.match(room_id):
                errors[CONF_ROOM_ID] = "invalid_room_id"
            elif room_id in taken:
                errors[CONF_ROOM_ID] = "room_exists"
            elif (room := _room_of_form(room_id, user_input, errors)) is not None and (
                devices := _devices_of(entry, room_id, user_input, errors)
            ) is not None:
                return self.async_create_entry(
                    title=room_id,
                    data=room_subentry_data(room, devices),
                    unique_id=room_id,
                )
        fields: dict[vol.Marker, Any] = {
            vol.Required(CONF_ROOM_ID): TextSelector(),
            vol.Optional(CONF_NAME): TextSelector(),
            vol.Required(CONF_KIND, default=RoomKind.TEMPORARY.value): _select(
                [k.value for k in RoomKind], CONF_KIND
            ),
            vol.Optional(CONF_FLOOR): TextSelector(),
        }
        if entry.data.get(CONF_RADIO, RADIO_SIMULATED) != RADIO_SIMULATED:
            fields |= _devices_schema(entry)
        return self.async_show_form(
            step_id="user",
            data_schema=self.add_suggested_values_to_schema(vol.Schema(fields), user_input),
            errors=errors,
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Rename a room, change its kind or floor, or (real radios) bind other devices."""
        entry = self._get_entry()
        subentry = self._get_reconfigure_subentry()
        room_id = subentry.data[CONF_ROOM_ID]
        errors: dict[str, str] = {}
        if user_input is not None:
            room = _room_of_form(room_id, user_input, errors)
            devices = _devices_of(entry, room_id, user_input, errors) if room else None
            if room is not None and devices is not None:
                return self.async_update_and_abort(
                    entry, subentry, data=room_subentry_data(room, devices)
                )
        fields: dict[vol.Marker, Any] = {
            vol.Optional(CONF_NAME): TextSelector(),
            vol.Required(CONF_KIND): _select([k.value for k in RoomKind], CONF_KIND),
            vol.Optional(CONF_FLOOR): TextSelector(),
        }
        if entry.data.get(CONF_RADIO, RADIO_SIMULATED) != RADIO_SIMULATED:
            fields |= _devices_schema(entry)
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(
                vol.Schema(fields), user_input or dict(subentry.data)
            ),
            errors=errors,
        )
