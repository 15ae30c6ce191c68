"""The simulated network: zigpy with a virtual radio, and the simulated devices behind it.

The devices (`sim_door_lock`, `sim_contact`, `sim_occupancy`) live behind the simulated
radio's `send_packet` (`SimulatedApplication`): they parse the ZDO / ZCL bytes zigpy sends,
answer with serialized frames through `packet_received`, join through `handle_join` and go
through zigpy's real interview. So requests, responses and reports all cross the real codec.
`Air` carries the frames both ways, in order, after an optional latency.

Unknown rooms raise `UnknownRoom` (a KeyError); unknown actions or a tap without a card
raise ValueError.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterable, MutableMapping
from datetime import datetime
import functools
import logging
from typing import Any

import zigpy.config as conf
from zigpy.profiles import zha
import zigpy.types as t

from .. import compat
from ..layer import DEFAULT_CHECK_TIMEOUT, DEFAULT_COMMAND_TIMEOUT
from ..owned import OwnedNetwork
from ..radio import SIMULATE_ACTIONS, RadioError, RoomDevices, Spawn
from .sim_application import SimulatedApplication
from .sim_contact import SimulatedContact
from .sim_device import SimulatedDevice, nwk_address, uplink_frame
from .sim_door_lock import SimulatedLock
from .sim_occupancy import SimulatedOccupancy

_LOGGER = logging.getLogger(__name__)

DEFAULT_START_TIMEOUT = 30.0
BATTERY_LOW_PERCENT = 10  # what the battery_low action drains the lock to

# zigpy builds its enums with a factory mypy cannot see through.
_ADDR_MODE: Any = t.AddrMode


class Air:
    """Frames in flight: delivered in order, `latency` seconds later, never re-entrantly."""

    def __init__(self, latency: float) -> None:
        self._latency = latency
        self._queue: deque[tuple[float, Callable[[], None]]] = deque()
        self._timer: asyncio.Handle | None = None
        self._idle = asyncio.Event()
        self._idle.set()
        self._closed = False

    def send(self, deliver: Callable[[], None]) -> None:
        """Carry one frame: `deliver` runs after the latency, in order."""
        if self._closed:
            return
        loop = asyncio.get_running_loop()
        self._queue.append((loop.time() + self._latency, deliver))
        self._idle.clear()
        if self._timer is None:
            self._schedule(loop)

    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._latency > 0:
            self._timer = loop.call_at(self._queue[0][0], self._deliver_due)
        else:
            self._timer = loop.call_soon(self._deliver_due)

    def _deliver_due(self) -> None:
        self._timer = None
        loop = asyncio.get_running_loop()
        now = loop.time()
        # Only what was already in flight: answers sent now wait for the next turn.
        for _ in range(len(self._queue)):
            if self._closed or self._queue[0][0] > now:
                break
            _, deliver = self._queue.popleft()
            try:
                deliver()
            except Exception:  # the air must keep carrying frames
                _LOGGER.exception("Simulated radio: delivering a frame failed")
        if self._queue and not self._closed:
            self._schedule(loop)
        else:
            self._idle.set()

    @property
    def idle(self) -> bool:
        """Whether nothing is in flight."""
        return self._idle.is_set()

    async def drained(self) -> None:
        """Return once nothing is in flight."""
        await self._idle.wait()

    def close(self) -> None:
        """Drop what is in flight; nothing more is delivered."""
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._queue.clear()
        self._idle.set()


class _SimulatedApplication(SimulatedApplication):
    """The simulated network's application: its devices in `nodes`, its frames on the `air`."""

    def __init__(self, config: dict[str, Any], air: Air) -> None:
        super().__init__(config)
        self.air = air
        self.nodes: dict[t.NWK, SimulatedDevice] = {}

    async def connect(self) -> None:
        """Nothing to open."""

    async def disconnect(self) -> None:
        self.air.close()

    def node(self, address: Any) -> SimulatedDevice | None:
        if isinstance(address, t.NWK):
            return self.nodes.get(address)
        return next((n for n in self.nodes.values() if n.ieee == address), None)

    def carry(self, deliver: Callable[[], None]) -> None:
        self.air.send(deliver)

    def uplink(self, packet: t.ZigbeePacket) -> None:
        """A frame from a device, received by the radio."""
        self.air.send(functools.partial(self.receive_frame, packet))


def _config() -> dict[str, Any]:
    # A raw dict: the schema validates it in the constructor (and pre-validating breaks
    # the OTA settings on zigpy 2.x).
    return {
        conf.CONF_DATABASE: None,
        conf.CONF_DEVICE: {conf.CONF_DEVICE_PATH: "/dev/null"},
        conf.CONF_OTA: {conf.CONF_OTA_ENABLED: False},
        **compat.NO_SEND_RETRIES,
        conf.CONF_NWK_BACKUP_ENABLED: False,
        conf.CONF_TOPO_SCAN_ENABLED: False,
        conf.CONF_WATCHDOG_ENABLED: False,
    }


class SimulatedRadio(OwnedNetwork):
    """A `RoomRadio` on a simulated Zigbee network, for the demo and the tests.

    Beyond the contract: `async_inject_frame` delivers raw bytes as if a device had sent
    them, `lock_model` / `device` reach the device models. `latency` delays every hop, in
    seconds.
    """

    can_simulate = True

    def __init__(
        self,
        rooms: Iterable[RoomDevices] = (),
        *,
        latency: float = 0.0,
        command_timeout: float = DEFAULT_COMMAND_TIMEOUT,
        check_timeout: float = DEFAULT_CHECK_TIMEOUT,
        start_timeout: float = DEFAULT_START_TIMEOUT,
        spawn: Spawn | None = None,
        auto_relock_seconds: int = 0,
        configured: MutableMapping[str, str] | None = None,
        on_configured: Callable[[], None] | None = None,
        device_memory: MutableMapping[str, dict[str, Any]] | None = None,
    ) -> None:
        self._latency = latency
        self._start_timeout = start_timeout
        self._sim: _SimulatedApplication | None = None
        self._devices: dict[t.EUI64, SimulatedDevice] = {}
        self._room_devices: list[RoomDevices] = []
        self.clock: Callable[[], datetime] = datetime.now  # the locks' wall clock (local)
        # IEEE -> what the device kept in its own memory when the network last stopped: such
        # a device is known at the next start (no interview, its bindings and state kept).
        self.device_memory: MutableMapping[str, dict[str, Any]] = (
            {} if device_memory is None else device_memory
        )
        super().__init__(
            rooms,
            command_timeout=command_timeout,
            check_timeout=check_timeout,
            spawn=spawn,
            auto_relock_seconds=auto_relock_seconds,
            configured=configured,
            on_configured=on_configured,
        )

    def set_rooms(self, rooms: list[RoomDevices]) -> None:
        """Bind rooms; after start, new rooms' devices join (tracked, cancelled on stop)."""
        super().set_rooms(rooms)
        self._room_devices = list(rooms)
        if self._sim is not None:
            self._spawn(self._async_join(rooms), "join simulated devices")

    def _create_devices(self, room: RoomDevices) -> list[SimulatedDevice]:
        assert self._sim is not None
        created: list[SimulatedDevice] = []
        for address, kind in (
            (room.lock, SimulatedLock),
            (room.contact, SimulatedContact),
            (room.occupancy, SimulatedOccupancy),
        ):
            if address is None or (ieee := t.EUI64.convert(address)) in self._devices:
                continue
            memory = self.device_memory.get(str(ieee))
            nwk = t.NWK(memory["nwk"] if memory else self._free_nwk())
            device = kind(ieee, nwk, self._sim.uplink)
            if isinstance(device, SimulatedLock):
                device.clock = self.clock
            self._devices[ieee] = self._sim.nodes[nwk] = device
            created.append(device)
        return created

    async def async_start(self) -> None:
        """Start the network; return once every bound device is interviewed and configured."""
        if self._sim is not None:
            return
        self._sim = _SimulatedApplication(_config(), Air(self._latency))
        try:
            await self._sim.startup(auto_form=False)
            self.attach(self._sim)
            await self._async_join(self._room_devices)
        except BaseException:
            await self.async_stop()
            raise

    def _free_nwk(self) -> int:
        """A short address no device of this network has."""
        taken = {int(device.nwk) for device in self._devices.values()}
        taken.update(int(memory.get("nwk", 0)) for memory in self.device_memory.values())
        return max(taken, default=0x0FFF) + 1

    async def _async_join(self, rooms: list[RoomDevices]) -> None:
        """Make the rooms' devices that are not there yet: known ones come back, others join.

        A device this network knew comes back with what it kept (zigpy knows it without an
        interview, as from its database) and, if configured with today's settings, only has
        its state read; a new one joins, is interviewed and configured.
        """
        assert self._sim is not None
        created = {room.room_id: self._create_devices(room) for room in rooms}
        joining: list[SimulatedDevice] = []
        for devices in created.values():
            for device in devices:
                if (memory := self.device_memory.get(str(device.ieee))) is not None:
                    device.recall(memory)
                    self._sim.add_known_device(device)
                else:
                    joining.append(device)
        async with asyncio.timeout(self._start_timeout):
            await self._sim.join_devices(joining)
        fresh = {device.ieee for device in joining}
        await asyncio.gather(
            *(
                self.async_configure(room_id, again=any(device.ieee in fresh for device in devices))
                for room_id, devices in created.items()
                if devices
            )
        )

    async def async_stop(self) -> None:
        """Shut the network down, leaving no task or timer behind."""
        await self._async_end_tasks()
        if (app := self._sim) is None:
            return
        self.detach()
        self._sim = None
        await compat.async_shutdown(app, db=False)
        # What each device keeps while the coordinator is down, for the next start.
        self.device_memory.clear()
        self.device_memory.update(
            {str(ieee): device.remember() for ieee, device in self._devices.items()}
        )
        self._devices.clear()

    def device(self, ieee: str) -> SimulatedDevice:
        """The simulated device with this IEEE address (KeyError if there is none)."""
        return self._devices[t.EUI64.convert(ieee)]

    def lock_model(self, room_id: str) -> SimulatedLock:
        """The room's simulated lock."""
        lock = self.device(self._room(room_id).devices.lock)
        assert isinstance(lock, SimulatedLock)
        return lock

    async def _async_settle(self) -> None:
        """Wait until every frame in flight, and what it set off in zigpy, has been handled."""
        assert self._sim is not None
        for _ in range(10):
            await self._sim.air.drained()
            await asyncio.sleep(0)  # let zigpy's callbacks answer
            if self._sim.air.idle:
                return

    async def async_simulate(self, room_id: str, action: str, card: str | None = None) -> None:
        """Make a room's simulated devices act; returns once the frames have been handled.

        Actions (the `simulate` service's): card_tap (needs `card`), push_button, door_open,
        door_close, occupied, vacant, jam, offline, online, battery_low (the lock's batteries
        down to BATTERY_LOW_PERCENT).
        """
        if action not in SIMULATE_ACTIONS:
            raise ValueError(
                f"unknown simulate action {action!r}; expected one of {', '.join(SIMULATE_ACTIONS)}"
            )
        if action == "card_tap" and not (card and card.strip()):
            raise ValueError("card_tap needs a card number")
        devices = self._room(room_id).devices
        if self._sim is None:
            raise RadioError("the simulated radio is not started")
        lock = self.lock_model(room_id)
        contact = self._devices.get(t.EUI64.convert(devices.contact)) if devices.contact else None
        occupancy = (
            self._devices.get(t.EUI64.convert(devices.occupancy)) if devices.occupancy else None
        )

        if action == "card_tap":
            assert card is not None
            lock.card_tap(card.strip())
        elif action == "push_button":
            lock.push_button()
        elif action in ("door_open", "door_close"):
            if isinstance(contact, SimulatedContact):
                contact.set_open(action == "door_open")
            # Contact first: it is what a door sensor notices first.
            lock.door_opened() if action == "door_open" else lock.door_closed()
        elif action in ("occupied", "vacant"):
            if not isinstance(occupancy, SimulatedOccupancy):
                raise ValueError(f"room {room_id} has no occupancy sensor")
            occupancy.set_occupied(action == "occupied")
        elif action == "jam":
            lock.jam()
        elif action == "battery_low":
            lock.set_battery(BATTERY_LOW_PERCENT)
        elif action == "offline":
            lock.online = False
            await self._async_settle()
            await self.async_check_availability(room_id)
        else:  # online
            lock.online = True
            lock.announce()
        await self._async_settle()

    async def async_inject_frame(
        self,
        ieee: str,
        endpoint: int,
        cluster: int,
        payload: bytes,
        *,
        profile: int = zha.PROFILE_ID,
    ) -> None:
        """Deliver raw ZCL bytes as if `ieee` had sent them (a stranger: by IEEE address)."""
        if self._sim is None:
            raise RadioError("the simulated radio is not started")
        eui = t.EUI64.convert(ieee)
        device = self._devices.get(eui)
        if device is not None:
            src = nwk_address(device.nwk)
        else:
            src = t.AddrModeAddress(addr_mode=_ADDR_MODE.IEEE, address=eui)
        self._sim.uplink(uplink_frame(src, endpoint, cluster, payload, profile=profile, tsn=0))
        await self._async_settle()
