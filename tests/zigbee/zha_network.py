"""Home Assistant's own ZHA on a simulated Zigbee stick: only the radio is simulated.

ZHA makes its zigpy application through its radio type's controller class (the gateway with
``radio_type.controller.new(...)``, and its radio manager the same way for a look at the
stick's devices before starting). `SimulatedStick.install` points that controller at
`StickApplication`, the simulated network's `SimulatedApplication` (a real zigpy
`ControllerApplication`) with the stick as its radio: what it sends reaches the simulated
devices of `zigbee.simulated` (they parse the bytes and answer with serialized frames), and
what they send comes back through `packet_received`.

The stick outlives ZHA's applications, as a real one outlives a reload: it keeps its network
settings (unformed until ZHA forms a network) and its devices with their bindings and state.
While no application has it open, what the devices send is lost.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
import functools
from typing import Any

import pytest
import zigpy.exceptions
import zigpy.state
import zigpy.types as t

from custom_components.ntnu_library.zigbee.radio import RoomDevices
from custom_components.ntnu_library.zigbee.simulated import (
    Air,
    SimulatedApplication,
    SimulatedContact,
    SimulatedDevice,
    SimulatedLock,
    SimulatedOccupancy,
)

STICK_IEEE = t.EUI64.convert("4e:54:4e:55:ff:ff:00:01")
STICK_MANUFACTURER = "NTNU Sim"
STICK_MODEL = "Simulated stick"
JOIN_TIMEOUT = 30.0  # seconds zigpy may take to interview the devices that join (a bound only)
# A stick as ZHA's config flow stores it (entry version 4 is HA 2025.4's; newer ZHA migrates).
ZHA_ENTRY_DATA = {
    "radio_type": "ezsp",
    "device": {"path": "/dev/ttyZHA0", "baudrate": 115200, "flow_control": None},
}


class StickApplication(SimulatedApplication):
    """A zigpy application on the simulated stick (`stick` is set by `SimulatedStick`).

    The stick is its radio: its link carries the frames, its devices are the ones in range,
    and it keeps the network settings across applications.
    """

    stick: SimulatedStick
    coordinator_ieee = STICK_IEEE
    coordinator_model = STICK_MODEL
    coordinator_manufacturer = STICK_MANUFACTURER

    async def connect(self) -> None:
        """Open the stick: frames from its devices now reach this application."""
        self.stick.opened(self)

    async def disconnect(self) -> None:
        self.stick.closed(self)

    def node(self, address: Any) -> SimulatedDevice | None:
        return self.stick.node(address)

    def carry(self, deliver: Callable[[], None]) -> None:
        self.stick.link.send(deliver)

    def network(self) -> zigpy.state.NetworkInfo:
        """The network the stick keeps, once one was formed."""
        if self.stick.network_info is None:
            raise zigpy.exceptions.NetworkNotFormed("the simulated stick has no network yet")
        return self.stick.network_info

    async def write_network_info(
        self, *, network_info: zigpy.state.NetworkInfo, node_info: zigpy.state.NodeInfo
    ) -> None:
        """Form the network: the stick keeps the settings, as in its non-volatile memory."""
        self.stick.network_info = network_info

    async def reset_network_info(self) -> None:
        self.stick.network_info = None


class SimulatedStick:
    """A Zigbee stick with the rooms' simulated devices in range (not yet joined)."""

    def __init__(self, rooms: Iterable[RoomDevices]) -> None:
        # Frames between the stick and its devices: in order, one turn of the loop later.
        self.link = Air(latency=0.0)
        self.network_info: zigpy.state.NetworkInfo | None = None
        self.app: StickApplication | None = None  # the application that has the stick open
        self.applications: list[StickApplication] = []  # every one made, oldest first
        self._rooms = {room.room_id: room for room in rooms}
        self._devices: dict[t.EUI64, SimulatedDevice] = {}
        for room in self._rooms.values():
            for address, kind in (
                (room.lock, SimulatedLock),
                (room.contact, SimulatedContact),
                (room.occupancy, SimulatedOccupancy),
            ):
                if address is not None:
                    ieee = t.EUI64.convert(address)
                    nwk = t.NWK(0x2000 + len(self._devices))
                    self._devices[ieee] = kind(ieee, nwk, self._uplink)

    def install(self, monkeypatch: pytest.MonkeyPatch, radio_type: Any) -> None:
        """Make `radio_type`'s controller class (ZHA's RadioType member) this stick's."""
        stick = self
        original = type(radio_type).controller

        class Application(StickApplication):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                stick.applications.append(self)

        Application.stick = self

        def controller(member: Any) -> Any:
            return Application if member is radio_type else original.fget(member)

        monkeypatch.setattr(type(radio_type), "controller", property(controller))

    def install_in_zha(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Make the stick of ZHA's entry (`ZHA_ENTRY_DATA`, an EZSP radio) this one.

        ZHA's modules are imported here, not at the top: where the zha library is missing,
        importing this module must still work.
        """
        from homeassistant.components.zha import radio_manager
        from zha.application.const import RadioType

        self.install(monkeypatch, RadioType.ezsp)
        # ZHA's radio manager waits a second after closing a real stick's port before anyone
        # opens it again; the simulated one needs no pause.
        monkeypatch.setattr(radio_manager, "CONNECT_DELAY_S", 0)

    # -- the radio -----------------------------------------------------------------------

    def opened(self, app: StickApplication) -> None:
        self.app = app

    def closed(self, app: StickApplication) -> None:
        if self.app is app:
            self.app = None

    def node(self, address: Any) -> SimulatedDevice | None:
        """The device at a NWK or IEEE address."""
        if isinstance(address, t.EUI64):
            return self._devices.get(address)
        return next((d for d in self._devices.values() if d.nwk == address), None)

    def _uplink(self, packet: t.ZigbeePacket) -> None:
        if (app := self.app) is not None:
            self.link.send(functools.partial(app.receive_frame, packet))

    async def async_settle(self) -> None:
        """Wait until every frame in flight, and what it set off in zigpy, has been handled."""
        for _ in range(20):
            await self.link.drained()
            await asyncio.sleep(0)  # let zigpy's callbacks answer
            if self.link.idle:
                return

    # -- the devices ---------------------------------------------------------------------

    def device(self, address: str) -> SimulatedDevice:
        """The simulated device with this IEEE address."""
        return self._devices[t.EUI64.convert(address)]

    def lock(self, room_id: str) -> SimulatedLock:
        """The room's simulated lock."""
        lock = self.device(self._rooms[room_id].lock)
        assert isinstance(lock, SimulatedLock)
        return lock

    def contact(self, room_id: str) -> SimulatedContact:
        """The room's simulated door contact."""
        address = self._rooms[room_id].contact
        assert address is not None
        contact = self.device(address)
        assert isinstance(contact, SimulatedContact)
        return contact

    async def async_join(self, addresses: Iterable[str] | None = None) -> None:
        """Devices join (all by default), as once ZHA permits joining; returns once interviewed.

        What the coordinator's owner (ZHA) does with them next, it does in its own tasks.
        """
        app = self.app
        assert app is not None, "no application has the stick open"
        joining = [
            self._devices[t.EUI64.convert(a)] for a in (addresses or map(str, self._devices))
        ]
        async with asyncio.timeout(JOIN_TIMEOUT):
            await app.join_devices(joining)
        await self.async_settle()

    async def async_tap(self, room_id: str, card: str) -> None:
        """A card at the room's reader; returns once the frames have been handled."""
        self.lock(room_id).card_tap(card)
        await self.async_settle()
