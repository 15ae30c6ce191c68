"""The library's policy blueprints at work on the demo site, driven through time.

Loaded through Home Assistant's blueprint machinery (the `config_dir` fixture installs the
repository's blueprints as a user would), started as automations and driven with the frozen
clock: a room borrowed and never opened is released after N minutes and not before; a patron
is frozen at the K-th violation within M days, not at the (K-1)-th nor when the earlier ones
are older than M days.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import Event, HomeAssistant, ServiceCall
from homeassistant.exceptions import ServiceValidationError
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    async_capture_events,
    async_fire_time_changed,
    async_mock_service,
)

from custom_components.ntnu_library.const import EVENT_NAME
from custom_components.ntnu_library.core.event_words import room_event_sentence

from . import test_blueprints_dashboards as blueprints_at_work
from .conftest import patron_action, refusal
from .test_blueprints_dashboards import SAMPLE_INPUTS, _advance, _call, _instance

# The demo site with the repository's blueprints installed, as the blueprint tests set it up.
config_dir = blueprints_at_work.config_dir
setup_automations = blueprints_at_work.setup_automations
site = blueprints_at_work.site
start_time = blueprints_at_work.start_time

RELEASE = "release_unopened_room.yaml"
FREEZE = "freeze_after_violation.yaml"


def _status(hass: HomeAssistant, room: str) -> str:
    state = hass.states.get(f"sensor.{room.lower()}_status")
    assert state is not None
    return state.state


async def test_a_borrowed_room_nobody_opens_is_released_after_n_minutes(
    hass: HomeAssistant,
    site: ConfigEntry,
    freezer: FrozenDateTimeFactory,
    setup_automations: Callable[..., Awaitable[None]],
) -> None:
    events: list[Event] = async_capture_events(hass, EVENT_NAME)
    await setup_automations(_instance(RELEASE, SAMPLE_INPUTS[RELEASE] | {"minutes": 15}))
    for room in ("T01", "T02", "T03"):
        await _call(hass, "simulate", room=room, action="vacant")
    await _advance(hass, freezer, 2)
    # T01: borrowed, nobody comes. T02: the patron opens the door and leaves it closed behind
    # them. T03: nobody opened the door yet, but someone is inside.
    for room, patron in (("T01", "S0001"), ("T02", "G0001"), ("T03", "F0001")):
        await patron_action(hass, "borrow", room, patron)
    await _advance(hass, freezer, 1)
    await _call(hass, "simulate", room="T02", action="door_open")
    await _call(hass, "simulate", room="T02", action="door_close")
    await _call(hass, "simulate", room="T03", action="occupied")

    await _advance(hass, freezer, 13)  # 14 minutes after the borrows
    assert [_status(hass, room) for room in ("T01", "T02", "T03")] == ["in_use"] * 3

    # The check at 15 minutes returns T01; the lock's answer comes in the minute after (the
    # automation checks at each minute's start, as the clock reaches it).
    await _advance(hass, freezer, 2)
    assert [_status(hass, room) for room in ("T01", "T02", "T03")] == [
        "idle",
        "in_use",
        "in_use",
    ]
    (released,) = [e.data for e in events if e.data["type"] == "auto_returned"]
    assert (released["room"], released["reason"], released["minutes"]) == ("T01", "not_opened", 15)
    assert released["patron"] == "S***1"
    assert room_event_sentence(released, "en") == "auto-returned: door not opened in 15 min (S***1)"
    assert room_event_sentence(released, "zh-Hant") == "自動歸還：15 分鐘內未開門（S***1）"

    await _advance(hass, freezer, 10)  # the others stay theirs
    assert [_status(hass, room) for room in ("T02", "T03")] == ["in_use", "in_use"]


async def test_a_room_someone_entered_without_opening_is_kept(
    hass: HomeAssistant,
    site: ConfigEntry,
    freezer: FrozenDateTimeFactory,
    setup_automations: Callable[..., Awaitable[None]],
) -> None:
    """Someone inside (its occupancy sensor saw them) keeps the room, door opened or not."""
    await setup_automations(_instance(RELEASE, SAMPLE_INPUTS[RELEASE] | {"minutes": 5}))
    await patron_action(hass, "borrow", "T04", "S0001")
    await _call(hass, "simulate", room="T04", action="occupied")  # someone came after all
    await _advance(hass, freezer, 8)
    assert _status(hass, "T04") == "in_use"


async def _violation(hass: HomeAssistant, room: str, patron: str, reason: str) -> None:
    """The patron borrows the room and leaves it to an automatic return for `reason`."""
    await patron_action(hass, "borrow", room, patron)
    await _call(hass, "auto_return", room=room, reason=reason)


async def _days_later(hass: HomeAssistant, freezer: FrozenDateTimeFactory, days: int) -> None:
    freezer.tick(timedelta(days=days))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()


async def test_a_patron_is_frozen_at_the_kth_violation_within_m_days(
    hass: HomeAssistant,
    site: ConfigEntry,
    freezer: FrozenDateTimeFactory,
    setup_automations: Callable[..., Awaitable[None]],
) -> None:
    notifications: list[ServiceCall] = async_mock_service(hass, "persistent_notification", "create")
    inputs = {"reasons": ["closing"], "violations": 3, "window_days": 7, "freeze_days": 5}
    await setup_automations(_instance(FREEZE, inputs))
    rooms = site.runtime_data.rooms

    def frozen() -> bool:
        return rooms.frozen("S0001", dt_util.now()) is not None

    await _violation(hass, "T01", "S0001", "closing")  # day 0: the first
    await _violation(hass, "T02", "S0001", "empty")  # not a violation this policy counts
    await _days_later(hass, freezer, 3)
    await _violation(hass, "T01", "S0001", "closing")  # day 3: the second
    assert not frozen()
    await _days_later(hass, freezer, 5)
    await _violation(hass, "T01", "S0001", "closing")  # day 8: day 0's is 8 days old
    assert not frozen()
    assert [c.data["title"] for c in notifications] == [
        "Room rules violated / 違反研究室規則: T01 (S***1)"
    ] * 3
    assert ["violation 2 within 7" in c.data["message"] for c in notifications] == [
        False,
        True,
        True,
    ]

    await _days_later(hass, freezer, 1)
    await _violation(hass, "T01", "S0001", "closing")  # day 9: days 3, 8 and 9
    freeze = rooms.frozen("S0001", dt_util.now())
    assert freeze is not None
    assert timedelta(days=4, hours=23) < freeze.until - dt_util.now() <= timedelta(days=5)
    assert freeze.reason.startswith("3 violation(s) in 7 days")
    last = notifications[-1].data["message"]
    assert "violation 3 within 7" in last and "frozen for 5 days" in last
    assert "凍結 5 天" in last
    for call in notifications:  # the automation only ever had the masked ID
        assert "S0001" not in call.data["message"] and "S0001" not in call.data["title"]

    # Frozen: the patron cannot borrow a temporary room.
    with pytest.raises(ServiceValidationError) as err:
        await patron_action(hass, "borrow", "T03", "S0001")
    assert refusal(err.value) == "frozen"


async def test_the_kth_violation_freezes_only_once_counted(
    hass: HomeAssistant,
    site: ConfigEntry,
    setup_automations: Callable[..., Awaitable[None]],
) -> None:
    """Two automations told of one return count it once: one ref, one violation."""
    async_mock_service(hass, "persistent_notification", "create")
    inputs = {"reasons": ["closing"], "violations": 2, "window_days": 7, "freeze_days": 3}
    await setup_automations(
        _instance(FREEZE, inputs, "freeze_a"), _instance(FREEZE, inputs, "freeze_b")
    )
    await _violation(hass, "T01", "G0001", "closing")
    assert site.runtime_data.rooms.frozen("G0001", dt_util.now()) is None
    await _violation(hass, "T01", "G0001", "closing")
    assert site.runtime_data.rooms.frozen("G0001", dt_util.now()) is not None
