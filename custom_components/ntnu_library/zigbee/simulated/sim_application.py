"""zigpy's application on a simulated radio: what every simulated coordinator shares.

`SimulatedApplication` is a real zigpy `ControllerApplication` whose radio reaches
`SimulatedDevice`s: what zigpy sends to a device is handed to it (it parses the bytes and
answers with serialized frames), and what a device sends comes back through `receive_frame`. A
subclass says how frames travel (`carry`), where a device is (`node`), how the radio is opened
and closed, and, when it keeps one, where the network settings live (`network`,
`write_network_info`, `reset_network_info`). `InterviewWaiter` resolves once zigpy has
interviewed the devices that join; `join_devices` lets them join and waits for it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
import functools
import logging
from typing import Any

from zigpy.application import ControllerApplication
import zigpy.endpoint
import zigpy.exceptions
from zigpy.profiles import zha
import zigpy.state
import zigpy.types as t
import zigpy.zdo.types as zdo_t

from ..radio import RadioError
from .sim_addresses import COORDINATOR_IEEE
from .sim_device import MANUFACTURER, SimulatedDevice, node_descriptor

_LOGGER = logging.getLogger(__name__)

# zigpy builds its enums with a factory mypy cannot see through.
_LOGICAL: Any = zdo_t.LogicalType
_ADDR_MODE: Any = t.AddrMode


class InterviewWaiter:
    """A zigpy listener that resolves once zigpy has interviewed every listed device.

    A device that fails its interview fails the wait with RadioError.
    """

    def __init__(self, ieees: Iterable[t.EUI64]) -> None:
        loop = asyncio.get_running_loop()
        self.pending = {ieee: loop.create_future() for ieee in ieees}

    def device_initialized(self, device: Any) -> None:
        """Zigpy's event: the device is interviewed."""
        if (future := self.pending.get(device.ieee)) is not None and not future.done():
            future.set_result(None)

    device_reinterviewed = device_initialized

    def device_init_failure(self, device: Any) -> None:
        """Zigpy's event: the device's interview failed."""
        if (future := self.pending.get(device.ieee)) is not None and not future.done():
            future.set_exception(RadioError(f"simulated device {device.ieee} failed its interview"))

    async def wait(self) -> None:
        """Return once every listed device is interviewed."""
        try:
            await asyncio.gather(*self.pending.values())
        finally:
            for future in self.pending.values():
                future.cancel()


class SimulatedApplication(ControllerApplication):
    """zigpy's application with a simulated radio: frames go to `SimulatedDevice`s.

    The coordinator is `coordinator_ieee` at nwk 0x0000, named by `coordinator_model` and
    `coordinator_manufacturer`. The radio has formed `network()`, and keeps nothing that
    zigpy writes to it, unless a subclass says otherwise.
    """

    coordinator_ieee: t.EUI64 = COORDINATOR_IEEE
    coordinator_model = "Simulated coordinator"
    coordinator_manufacturer = MANUFACTURER

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self._nwk_index: dict[int, t.EUI64] = {}  # NWK -> IEEE, where a lookup last found it

    # -- zigpy's device lookup, indexed -----------------------------------------------------

    def get_device(self, ieee: Any = None, nwk: Any = None) -> Any:
        """Zigpy's lookup, with the NWK address indexed.

        zigpy finds the sender of every frame by its NWK address with a scan of all devices
        (a NWK address can change, so it keeps no index): at thousands of devices that scan
        is most of what a frame costs. The index remembers where the scan found a device and
        is checked against the device's current address, so a change only costs a new scan.
        """
        if ieee is None and nwk is not None:
            ieee_there = self._nwk_index.get(int(nwk))
            known = self.devices.get(ieee_there) if ieee_there is not None else None
            if known is not None and known.nwk == nwk:
                return known
            device = super().get_device(nwk=nwk)
            self._nwk_index[int(nwk)] = device.ieee
            return device
        return super().get_device(ieee=ieee, nwk=nwk)

    # -- what a radio says -----------------------------------------------------------------

    def node(self, address: Any) -> SimulatedDevice | None:
        """The device in range at a NWK or IEEE address."""
        raise NotImplementedError

    def carry(self, deliver: Callable[[], None]) -> None:
        """Carry one frame, either way: `deliver` hands it over at the other end."""
        raise NotImplementedError

    def network(self) -> zigpy.state.NetworkInfo:
        """The network the radio has formed."""
        return zigpy.state.NetworkInfo(
            pan_id=t.PanId(0x4E54), channel=t.uint8_t(15), security_level=t.uint8_t(5)
        )

    # -- zigpy's radio API -----------------------------------------------------------------

    async def load_network_info(self, *, load_devices: bool = False) -> None:
        """The coordinator's own node, and the radio's network."""
        self.state.node_info = zigpy.state.NodeInfo(
            nwk=t.NWK(0x0000),
            ieee=self.coordinator_ieee,
            logical_type=_LOGICAL.Coordinator,
            model=self.coordinator_model,
            manufacturer=self.coordinator_manufacturer,
            version="1.0",
        )
        self.state.network_info = self.network()

    async def write_network_info(self, *, network_info: Any, node_info: Any) -> None:
        """Nothing to do."""

    async def reset_network_info(self) -> None:
        """Nothing to do."""

    async def start_network(self) -> None:
        """Create the coordinator device (nwk 0x0000), already interviewed."""
        coordinator = self.add_device(ieee=self.coordinator_ieee, nwk=t.NWK(0x0000))
        coordinator.node_desc = node_descriptor(_LOGICAL.Coordinator)
        endpoint = coordinator.add_endpoint(1)
        endpoint.status = zigpy.endpoint.Status.ZDO_INIT
        endpoint.profile_id = zha.PROFILE_ID
        coordinator.model = self.coordinator_model
        coordinator.manufacturer = self.coordinator_manufacturer

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
            return  # the simulated devices ignore broadcasts (permit join and the like)
        device = self.node(packet.dst.address)
        if device is None or not device.online:
            raise zigpy.exceptions.DeliveryError(
                f"no MAC ACK from {packet.dst.address}", status=t.MACStatus.MAC_NO_ACK
            )
        self.carry(functools.partial(device.receive, packet))

    def receive_frame(self, packet: t.ZigbeePacket) -> None:
        """A frame from a device, as the radio hands it over."""
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

    # -- joining ---------------------------------------------------------------------------

    def add_known_device(self, device: SimulatedDevice) -> None:
        """A device of this network from before a restart: known, no interview.

        What zigpy does with the devices in its database when it starts: the device, its
        node descriptor, endpoint and clusters as they were interviewed, then the same
        `device_initialized` a finished interview ends with.
        """
        known = self.add_device(ieee=device.ieee, nwk=device.nwk)
        known.node_desc = node_descriptor(
            device.logical_type, rx_on_when_idle=device.rx_on_when_idle
        )
        endpoint = known.add_endpoint(device.ENDPOINT)
        endpoint.profile_id = zha.PROFILE_ID
        endpoint.device_type = zha.DeviceType(device.device_type)
        for cluster in device.clusters:
            endpoint.add_input_cluster(cluster.cluster_id)
        endpoint.status = zigpy.endpoint.Status.ZDO_INIT
        known.model = device.model
        known.manufacturer = MANUFACTURER
        self.device_initialized(known)

    async def join_devices(self, devices: Iterable[SimulatedDevice]) -> None:
        """Devices join the coordinator; return once zigpy has interviewed every one.

        RadioError when one fails its interview. It waits as long as that takes: bound it with
        a timeout.
        """
        joining = list(devices)
        waiter = InterviewWaiter(device.ieee for device in joining)
        self.add_listener(waiter)
        try:
            for device in joining:
                self.handle_join(device.nwk, device.ieee, t.NWK(0x0000))
            await waiter.wait()
        finally:
            self.remove_listener(waiter)
