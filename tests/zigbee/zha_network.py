"""Home Assistant's own ZHA on a simulated Zigbee stick: only the radio is simulated.

ZHA makes its zigpy application through its radio type's controller class (the gateway with
``radio_type.controller.new(...)``, and its radio manager the same way for a look at the
stick's devices before starting). `SimulatedStick.install` points that controller at
`StickApplication`, a real zigpy `ControllerApplication` whose radio is the stick: what it
sends reaches the simulated devices of `zigbee.simulated` (they parse the bytes and answer
with serialized frames), and what they send comes back through `packet_received`.

The stick outlives ZHA's applications, as a real one outlives a reload: it keeps its network
settings (unformed until ZHA forms a network) and its devices with their bindings and state.
While no application has it open, what the devices send is lost.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
import functools
import logging
from typing import Any

import pytest
from zigpy.application import ControllerApplication
import zigpy.endpoint
import zigpy.exceptions
from zigpy.profiles import zha
import zigpy.state
import zigpy.types as t
import zigpy.zdo.types as zdo_t

from custom_components.ntnu_library.zigbee.radio import RoomDevices
from custom_components.ntnu_library.zigbee.simulated import (
    SimulatedContact,
    SimulatedDevice,
    SimulatedLock,
    SimulatedOccupancy,
)

_LOGGER = logging.getLogger(__name__)

STICK_IEEE = t.EUI64.convert("4e:54:4e:55:ff:ff:00:01")
STICK_MANUFACTURER = "NTNU Sim"
STICK_MODEL = "Simulated stick"
JOIN_TIMEOUT = 30.0  # seconds zigpy may take to interview the devices that join (a bound only)

# zigpy builds its enums with a factory mypy cannot see through.
_LOGICAL: Any = zdo_t.LogicalType
_ADDR_MODE: Any = t.AddrMode


class _Link:
    """Frames between the stick and its devices: delivered in order, one turn of the loop later."""

    def __init__(self) -> None:
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def send(self, deliver: Callable[[], None]) -> None:
        self._in_flight += 1
        self._idle.clear()
        asyncio.get_running_loop().call_soon(self._deliver, deliver)

    def _deliver(self, deliver: Callable[[], None]) -> None:
        try:
            deliver()
        except Exception:  # the link must keep carrying frames
            _LOGGER.exception("Simulated stick: delivering a frame failed")
        finally:
            self._in_flight -= 1
            if not self._in_flight:
                self._idle.set()

    @property
    def idle(self) -> bool:
        return self._idle.is_set()

    async def drained(self) -> None:
        await self._idle.wait()


class StickApplication(ControllerApplication):
    """A zigpy application on the simulated stick (`stick` is set by `SimulatedStick`)."""

    stick: SimulatedStick

    async def connect(self) -> None:
        """Open the stick: frames from its devices now reach this application."""
        self.stick.opened(self)

    async def disconnect(self) -> None:
        self.stick.closed(self)

    async def load_network_info(self, *, load_devices: bool = False) -> None:
        """The stick's own node always; its network once one was formed."""
        self.state.node_info = zigpy.state.NodeInfo(
            nwk=t.NWK(0x0000),
            ieee=STICK_IEEE,
            logical_type=_LOGICAL.Coordinator,
            model=STICK_MODEL,
            manufacturer=STICK_MANUFACTURER,
            version="1.0",
        )
        if self.stick.network_info is None:
            raise zigpy.exceptions.NetworkNotFormed("the simulated stick has no network yet")
        self.state.network_info = self.stick.network_info

    async def write_network_info(
        self, *, network_info: zigpy.state.NetworkInfo, node_info: zigpy.state.NodeInfo
    ) -> None:
        """Form the network: the stick keeps the settings, as in its non-volatile memory."""
        self.stick.network_info = network_info

    async def reset_network_info(self) -> None:
        self.stick.network_info = None

    async def start_network(self) -> None:
        """Create the coordinator device (nwk 0x0000), already interviewed."""
        coordinator = self.add_device(ieee=STICK_IEEE, nwk=t.NWK(0x0000))
        coordinator.node_desc = zdo_t.NodeDescriptor(
            logical_type=_LOGICAL.Coordinator,
            complex_descriptor_available=0,
            user_descriptor_available=0,
            reserved=0,
            aps_flags=0,
            frequency_band=zdo_t.NodeDescriptor.FrequencyBand.Freq2400MHz,
            mac_capability_flags=(
                zdo_t.NodeDescriptor.MACCapabilityFlags.FullFunctionDevice
                | zdo_t.NodeDescriptor.MACCapabilityFlags.MainsPowered
                | zdo_t.NodeDescriptor.MACCapabilityFlags.RxOnWhenIdle
                | zdo_t.NodeDescriptor.MACCapabilityFlags.AllocateAddress
            ),
            manufacturer_code=0x1234,
            maximum_buffer_size=82,
            maximum_incoming_transfer_size=82,
            server_mask=0,
            maximum_outgoing_transfer_size=82,
            descriptor_capability_field=zdo_t.NodeDescriptor.DescriptorCapability.NONE,
        )
        endpoint = coordinator.add_endpoint(1)
        endpoint.status = zigpy.endpoint.Status.ZDO_INIT
        endpoint.profile_id = zha.PROFILE_ID
        coordinator.model = STICK_MODEL
        coordinator.manufacturer = STICK_MANUFACTURER

    async def energy_scan(
        self, channels: t.Channels, duration_exp: int, count: int
    ) -> dict[int, float]:
        """Quiet air on every channel (zigpy scans before it picks one to form a network on)."""
        return dict.fromkeys(channels, 0.0)

    async def send_packet(self, packet: t.ZigbeePacket) -> None:
        """Hand a unicast to its device; broadcasts and groups reach nobody here."""
        if packet.dst is None:
            raise zigpy.exceptions.DeliveryError("no destination")
        if packet.dst.addr_mode in (_ADDR_MODE.Broadcast, _ADDR_MODE.Group):
            return
        device = self.stick.node(packet.dst.address)
        if device is None or not device.online:
            raise zigpy.exceptions.DeliveryError(
                f"no MAC ACK from {packet.dst.address}", status=t.MACStatus.MAC_NO_ACK
            )
        self.stick.link.send(functools.partial(device.receive, packet))

    def receive_frame(self, packet: t.ZigbeePacket) -> None:
        """A frame from a device, as the stick hands it over."""
        try:
            self.packet_received(packet)
        except Exception as err:  # noqa: BLE001 - zigpy raises on headers it cannot read
            _LOGGER.debug("zigpy could not take a frame from %s: %r", packet.src, err)

    async def force_remove(self, dev: Any) -> None:
        """Nothing to do."""

    async def add_endpoint(self, descriptor: zdo_t.SimpleDescriptor) -> None:
        """Nothing to do."""

    async def permit_ncp(self, time_s: int = 60) -> None:
        """Nothing to do."""

    async def permit_with_link_key(
        self, node: t.EUI64, link_key: t.KeyData, time_s: int = 60
    ) -> None:
        """Nothing to do."""


class _Interviewed:
    """Resolves once zigpy has interviewed every listed device."""

    def __init__(self, ieees: Iterable[t.EUI64]) -> None:
        loop = asyncio.get_running_loop()
        self.pending = {ieee: loop.create_future() for ieee in ieees}

    def device_initialized(self, device: Any) -> None:
        if (future := self.pending.get(device.ieee)) is not None and not future.done():
            future.set_result(None)

    device_reinterviewed = device_initialized

    def device_init_failure(self, device: Any) -> None:
        if (future := self.pending.get(device.ieee)) is not None and not future.done():
            future.set_exception(AssertionError(f"{device.ieee} failed its interview"))


class SimulatedStick:
    """A Zigbee stick with the rooms' simulated devices in range (not yet joined)."""

    def __init__(self, rooms: Iterable[RoomDevices]) -> None:
        self.link = _Link()
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
        waiter = _Interviewed(device.ieee for device in joining)
        app.add_listener(waiter)
        try:
            for device in joining:
                app.handle_join(device.nwk, device.ieee, t.NWK(0x0000))
            async with asyncio.timeout(JOIN_TIMEOUT):
                await asyncio.gather(*waiter.pending.values())
        finally:
            app.remove_listener(waiter)
        await self.async_settle()

    async def async_tap(self, room_id: str, card: str) -> None:
        """A card at the room's reader; returns once the frames have been handled."""
        self.lock(room_id).card_tap(card)
        await self.async_settle()
