"""The one place that knows how zigpy versions differ (0.78 in HA 2025.4, 2.x later).

- Attribute reports: zigpy 0.78 calls a cluster listener's ``attribute_updated``; zigpy
  >= 0.91 suppresses that call for reports and emits ``attribute_report`` through
  ``cluster.on_event`` instead (``attribute_updated`` remains for local cache updates), and
  an attribute someone else read (ZHA configuring a device) only as ``attribute_read``.
- Request priority: ``priority=`` on cluster commands is honoured by both; zigpy 2.x adds
  a ``request_priority`` context manager we do not need.
- Shutdown: zigpy 0.78 leaves the application's tasks running, 2.x cancels them without
  waiting; neither waits for a device's interview task.
- Link loss: a task of the application's that fails with the link goes unretrieved in 0.78
  (asyncio logs it) and is logged as an error by 2.x: both are cancelled (`abandon_tasks`).
  bellows' frames in flight (its ASH send tasks) fail alone in both: their errors are taken.
- Network coordinators (``socket://host:port``): zigpy 0.78 opens them with asyncio and
  takes a missing port as 6638; zigpy 2 opens them through serialx and refuses a missing
  port. bellows' UART thread option (``use_thread``) and its wait for a reset the
  coordinator sends by itself (1 s, then 2 s in bellows 1.x) exist in both.
- Door Lock user tables (RFID codes, year-day schedules, the log; `lock_users.py`): the
  command ids, field names and types are the same in 0.78 and 2.4 (2.x only leaves out each
  command's explicit direction), so nothing bridges them; tests/zigbee/test_lock_users.py
  checks them on both.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
import importlib.metadata
import inspect
from typing import Any

from zigpy.application import ControllerApplication
import zigpy.config
import zigpy.types as t
from zigpy.zcl import Cluster

_ASH_SEND = "AshProtocol._send_data_frame"  # bellows.ash

type CommandCallback = Callable[[int, Any], None]
type AttributeCallback = Callable[[int, Any], None]


class _ClusterListener:
    """Legacy listener protocol: zigpy looks these methods up by name."""

    def __init__(self, on_command: CommandCallback, on_attribute: AttributeCallback) -> None:
        self._on_command = on_command
        self._on_attribute = on_attribute

    def cluster_command(self, tsn: int, command_id: int, args: Any) -> None:
        self._on_command(command_id, args)

    def attribute_updated(self, attrid: int, value: Any, *_: Any) -> None:
        self._on_attribute(attrid, value)


def watch_cluster(
    cluster: Cluster, on_command: CommandCallback, on_attribute: AttributeCallback
) -> Callable[[], None]:
    """Call back for every cluster command and attribute value; returns an unsubscribe."""
    listener = _ClusterListener(on_command, on_attribute)
    cluster.add_listener(listener)
    unsubs: list[Callable[[], Any]] = [lambda: cluster.remove_listener(listener)]

    if hasattr(cluster, "on_event"):  # zigpy >= 0.91
        # Reports, and values someone else read (ZHA's configuration of a lock that joined).
        unsubs.extend(
            cluster.on_event(
                event_type, lambda event: on_attribute(event.attribute_id, event.value)
            )
            for event_type in ("attribute_report", "attribute_read")
        )

    def unsubscribe() -> None:
        for unsub in unsubs:
            unsub()

    return unsubscribe


# Keyword arguments that put a lock command ahead of routine traffic (both versions
# take `priority=`; checked rather than assumed, as older zigpy did not).
HIGH_PRIORITY: dict[str, Any] = (
    {"priority": t.PacketPriority.HIGH}
    if "priority" in inspect.signature(Cluster.request).parameters
    else {}
)

# zigpy 0.78 also resends a packet whose send failed (`max_retries`, 2 by default): a lost
# ACK of an unlock_door that the lock did receive would unlock it again. zigpy 2 dropped the
# key (its retries are the per-request ones below).
NO_SEND_RETRIES: dict[str, Any] = (
    {zigpy.config.CONF_NWK_MAX_RETRIES: 0} if hasattr(zigpy.config, "CONF_NWK_MAX_RETRIES") else {}
)

# zigpy >= 2 retries a failed request twice after a pause. Our callers own their timeouts and
# must never turn one lock command into two, so: one attempt (0.78 had no retries at all).
NO_RETRIES: dict[str, Any] = (
    {"retries": 0} if "retries" in inspect.signature(Cluster.request).parameters else {}
)


async def async_shutdown(app: ControllerApplication, *, db: bool = True) -> None:
    """Shut down an application this integration owns and wait for everything it started.

    Home Assistant's tests fail on a task left behind; zigpy keeps no public handle on a
    device's interview or group-scan task, hence the private names.
    """
    # Devices' own tasks first: zigpy >= 2 cancels them in shutdown() and clears their set,
    # after which each task's done callback fails to remove itself (KeyError in the loop).
    await _cancel_all(
        task
        for device in app.devices.values()
        for task in (
            *getattr(device, "_tasks", ()),
            getattr(device, "_initialize_task", None),
            getattr(device, "_group_scan_task", None),
        )
        if task is not None
    )
    _quiet_frames_in_flight()  # zigpy 0.78 closes the link before its first await
    await app.shutdown(db=db)
    await _cancel_all(getattr(app, "_tasks", ()))


def abandon_tasks(app: ControllerApplication) -> None:
    """Cancel the application's own tasks in flight when its link went (they cannot finish).

    Left alone, each fails with the link (bellows' ASH: "Connection has been closed") once
    zigpy has dropped it from its task set: zigpy 0.78 leaves the error to asyncio, which logs
    "Task exception was never retrieved"; zigpy 2 logs it as an error of its own. An error a
    task still raises on its way out is taken here, as are those of the frames in flight.
    """
    for task in list(getattr(app, "_tasks", ())):
        if not task.done():
            task.add_done_callback(_retrieve)
            task.cancel()
    _quiet_frames_in_flight()


def _quiet_frames_in_flight() -> None:
    """Take the errors of bellows' frames in flight, which nobody may be left to await.

    bellows' ASH layer (0.44 and 1.x alike) sends each frame in a task of its own behind
    ``asyncio.shield``: when the caller was cancelled (a timeout, a shutdown, a lost link),
    that task fails alone once the link closes ("Connection has been closed") and asyncio
    logs "Task exception was never retrieved". A caller still waiting gets the error as
    before. Called right before the link closes, with nothing awaited in between. (A stick in
    bellows' UART thread sends from that thread's loop, out of reach here.)
    """
    for task in asyncio.all_tasks():
        if not task.done() and getattr(task.get_coro(), "__qualname__", "") == _ASH_SEND:
            task.add_done_callback(_retrieve)


def _retrieve(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()


async def _cancel_all(tasks: Iterable[asyncio.Future[Any]]) -> None:
    pending = [task for task in tasks if not task.done()]
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)


def _bellows_version() -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in importlib.metadata.version("bellows").split(".")[:2])
    except (importlib.metadata.PackageNotFoundError, ValueError):
        return (0, 0)


def bellows_flow_control(flow_control: str | None) -> str | None:
    """The `flow_control` value that gives the wanted serial flow control on this bellows.

    bellows < 0.45 (HA 2025.4) turns on XON/XOFF only for None and RTS/CTS for anything
    else, so "software" meant hardware flow control there; later versions read all three.
    """
    if flow_control == "software" and _bellows_version() < (0, 45):
        return None
    return flow_control
