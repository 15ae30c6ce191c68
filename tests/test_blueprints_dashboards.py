"""Blueprints and dashboards, checked by Home Assistant's own loaders and run for real.

The blueprints go through the automation integration's blueprint loader and validator, then
each is instantiated with sample inputs and validated as an automation (triggers, conditions,
templates, actions). The dashboards go through the YAML loader and the lovelace integration
(YAML mode, registered exactly as their header comment says), and every entity they name must
be one the demo site creates. Last, the blueprints run as automations against the demo site on
the simulated Zigbee network: a room left empty goes back, a forced door and a jam reach staff,
a room still borrowed at closing is reported for a freeze.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import datetime, timedelta
import pathlib
import re
import shutil
import textwrap
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.automation.config import (
    AUTOMATION_BLUEPRINT_SCHEMA,
    ValidationStatus,
    async_validate_config_item,
)
from homeassistant.components.binary_sensor import BinarySensorDeviceClass
from homeassistant.components.blueprint import Blueprint
from homeassistant.components.lovelace.const import LOVELACE_DATA
from homeassistant.components.sensor import SensorDeviceClass
from homeassistant.config_entries import ConfigEntry, ConfigEntryState
from homeassistant.core import Event, HomeAssistant, ServiceCall
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from homeassistant.util.yaml import load_yaml
import pytest
from pytest_homeassistant_custom_component.common import (
    async_capture_events,
    async_fire_time_changed,
    async_mock_service,
)
import voluptuous as vol
import yaml

# Imported before the hass fixture runs so that Home Assistant's loader finds this repository's
# custom_components namespace package rather than the test plugin's own testing_config.
from custom_components.ntnu_library.const import DOMAIN, EVENT_NAME
from custom_components.ntnu_library.services import SERVICES
from custom_components.ntnu_library.zigbee.simulated import simulated_devices

from .conftest import patron_action

ROOT = pathlib.Path(__file__).resolve().parent.parent
BLUEPRINT_DIR = ROOT / "blueprints" / "automation" / "ntnu_library"
DASHBOARD_DIR = ROOT / "dashboards"
BLUEPRINTS = sorted(BLUEPRINT_DIR.glob("*.yaml"))
SOURCE_URL = (
    "https://github.com/ntnu-library/ntnu_library/blob/main/blueprints/automation/ntnu_library/"
)

TEMPORARY_ROOMS = [f"T{n:02d}" for n in range(1, 13)]
LONG_TERM_ROOMS = [f"L{n:02d}" for n in range(1, 7)]
ROOMS = TEMPORARY_ROOMS + LONG_TERM_ROOMS
ROOM_ENTITY_PATTERNS = (
    "lock.{r}",
    "sensor.{r}_status",
    "sensor.{r}_holder",
    "sensor.{r}_in_use_since",
    "sensor.{r}_lock_battery",
    "sensor.{r}_door_contact_battery",
    "sensor.{r}_occupancy_sensor_battery",
    "sensor.{r}_card_decisions",
    "sensor.{r}_cards_in_the_lock",
    "binary_sensor.{r}_door",
    "binary_sensor.{r}_occupancy",
    "binary_sensor.{r}_lock_pending",
    "event.{r}_door_activity",
    "image.{r}_e_label",
)
SITE_ENTITIES = {"sensor.main_library_idle_rooms", "sensor.main_library_rooms_in_use"}
# The demo main library's kiosk K1 and the library's three return boxes.
CIRCULATION_ENTITIES = {"sensor.kiosk_k1_status", "sensor.kiosk_k1_loans_today"} | {
    f"sensor.return_box_{box}_{sensor}"
    for box in ("main", "gongguan", "linkou")
    for sensor in ("awaiting_scan_back", "waiting_since", "set_aside_for_staff")
}
# What staff watch of the logins: a diagnostic of the site, on no dashboard badge.
LOGIN_ENTITIES = {"sensor.main_library_failed_logins_last_hour"}
# The site's long-term reservations, month by month.
CALENDAR_ENTITIES = {"calendar.main_library_long_term_reservations"}
EXPECTED_ENTITIES = (
    SITE_ENTITIES
    | LOGIN_ENTITIES
    | CALENDAR_ENTITIES
    | CIRCULATION_ENTITIES
    | {pattern.format(r=room.lower()) for room in ROOMS for pattern in ROOM_ENTITY_PATTERNS}
)

# Entity ids inside any string (templates, markdown); service names such as
# ntnu_library.counter_return do not match because their domain is not an entity domain.
_ENTITY_IN_TEXT = re.compile(
    r"\b(?:lock|sensor|binary_sensor|event|image|calendar|button|switch|select|number|text)"
    r"\.[a-z0-9_]+\b"
)
_ENTITY_ID = re.compile(r"^[a-z0-9_]+\.[a-z0-9_]+$")
_CJK = re.compile(r"[\u4e00-\u9fff]")
DEVICE_CLASSES = {
    "binary_sensor": {c.value for c in BinarySensorDeviceClass},
    "sensor": {c.value for c in SensorDeviceClass},
}

DEMO_SITE = {
    "site_name": "Main Library",
    "radio": "simulated",
    "patron_system": "local",
    "demo_data": True,
}

# Inputs a librarian would give each blueprint (leaving out what has a good default).
SAMPLE_INPUTS: dict[str, dict[str, Any]] = {
    "auto_return_empty_room.yaml": {
        "occupancy_sensors": [f"binary_sensor.{r.lower()}_occupancy" for r in TEMPORARY_ROOMS],
        "minutes": 5,
    },
    "door_alert.yaml": {
        "locks": [f"lock.{r.lower()}" for r in ROOMS],
        "offline_minutes": 3,
        "batteries": [
            f"sensor.{r.lower()}_{device}_battery"
            for r in ROOMS
            for device in ("lock", "door_contact", "occupancy_sensor")
        ],
    },
    "freeze_after_violation.yaml": {
        "reasons": ["closing", "max_use"],
    },
    "release_unopened_room.yaml": {
        "locks": [f"lock.{r.lower()}" for r in TEMPORARY_ROOMS],
    },
    "push_e_label.yaml": {
        "label": "image.t01_e_label",
        "tag": "open_epaper_link.0000028df056743b",
    },
}
# Inputs that pick another integration's entities (the tag of an e-label).
FOREIGN_INPUTS = {"push_e_label.yaml": {"tag": "open_epaper_link"}}


# --- helpers ---------------------------------------------------------------------------------


def _walk(node: Any) -> Iterator[Any]:
    """Every mapping, list and scalar in a loaded YAML tree."""
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def referenced_entities(node: Any) -> set[str]:
    """Entity ids a dashboard names: `entity` / `entity_id` values, list items, templates."""
    found: set[str] = set()
    for item in _walk(node):
        if isinstance(item, dict):
            for key in ("entity", "entity_id"):
                value = item.get(key)
                if isinstance(value, str):
                    found.add(value)
                elif isinstance(value, list):
                    found.update(v for v in value if isinstance(v, str))
            entities = item.get("entities")
            if isinstance(entities, list):
                found.update(e for e in entities if isinstance(e, str))
        elif isinstance(item, str):
            found.update(_ENTITY_IN_TEXT.findall(item))
    return found


def _load_dashboard(name: str) -> dict[str, Any]:
    data = load_yaml(DASHBOARD_DIR / name)
    assert isinstance(data, dict), f"{name} is not a mapping"
    return data


def _registration(name: str) -> dict[str, Any]:
    """The `lovelace:` block of the dashboard's header comment, as configuration."""
    lines = []
    for line in (DASHBOARD_DIR / name).read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        lines.append(line[1:])
    start = next(i for i, line in enumerate(lines) if line.strip() == "lovelace:")
    block = []
    for line in lines[start:]:
        if not line.strip():
            break
        block.append(line)
    return yaml.safe_load(textwrap.dedent("\n".join(block)))


def _actions(node: Any) -> Iterator[dict[str, Any]]:
    """Every service call step in a (validated) script or automation tree."""
    for item in _walk(node):
        if isinstance(item, dict) and isinstance(item.get("action"), str) and "." in item["action"]:
            yield item


def _schema_keys(schema: vol.Schema | Any) -> set[str]:
    """The field names a service schema accepts (through vol.All wrappers)."""
    if isinstance(schema, vol.All):
        return set().union(*(_schema_keys(v) for v in schema.validators))
    if isinstance(schema, vol.Schema) and isinstance(schema.schema, dict):
        return {str(key) for key in schema.schema}
    return set()


def _assert_known_service_call(step: dict[str, Any]) -> None:
    domain, service = step["action"].split(".", 1)
    if domain != DOMAIN:
        return
    assert service in SERVICES, f"{step['action']} is not a service of {DOMAIN}"
    fields = set(step.get("data", {}))
    allowed = _schema_keys(SERVICES[service][1])
    assert fields <= allowed, f"{step['action']} has no field {sorted(fields - allowed)}"


@pytest.fixture
def config_dir(hass: HomeAssistant, tmp_path: pathlib.Path) -> pathlib.Path:
    """A configuration folder holding the blueprints and dashboards, as a user installs them."""
    shutil.copytree(BLUEPRINT_DIR, tmp_path / "blueprints" / "automation" / "ntnu_library")
    shutil.copytree(DASHBOARD_DIR, tmp_path / "dashboards" / "ntnu_library")
    hass.config.config_dir = str(tmp_path)
    return tmp_path


def _instance(name: str, inputs: dict[str, Any], automation_id: str | None = None) -> dict:
    return {
        "id": automation_id or name.removesuffix(".yaml"),
        "alias": name.removesuffix(".yaml"),
        "use_blueprint": {"path": f"ntnu_library/{name}", "input": inputs},
    }


# --- (a) the blueprints load -------------------------------------------------------------------


def test_every_blueprint_has_sample_inputs() -> None:
    assert {path.name for path in BLUEPRINTS} == set(SAMPLE_INPUTS)


@pytest.mark.parametrize("path", BLUEPRINTS, ids=lambda p: p.name)
def test_blueprint_is_valid(path: pathlib.Path) -> None:
    blueprint = Blueprint(
        load_yaml(path),
        path=str(path),
        expected_domain="automation",
        schema=AUTOMATION_BLUEPRINT_SCHEMA,
    )
    assert blueprint.validate() is None  # no newer Home Assistant needed
    metadata = blueprint.metadata
    assert metadata["domain"] == "automation"
    assert metadata["source_url"] == SOURCE_URL + path.name
    assert metadata["author"] == "ntnu_library contributors"
    assert _CJK.search(metadata["name"]) and _CJK.search(metadata["description"])
    assert blueprint.inputs
    for key, spec in blueprint.inputs.items():
        assert spec.get("name") and "selector" in spec, f"input {key} lacks a name or selector"
        entity = spec["selector"].get("entity")
        if entity is not None:
            filters = entity["filter"]
            integration = FOREIGN_INPUTS.get(path.name, {}).get(key, DOMAIN)
            assert filters and all(f["integration"] == integration for f in filters), key
            for entity_filter in filters:  # the selector schema makes lists of these
                for domain in entity_filter.get("domain", []):
                    known = DEVICE_CLASSES.get(domain, set())
                    assert set(entity_filter.get("device_class", [])) <= known, key


def test_blueprint_loader_rejects_a_wrong_domain() -> None:
    data = load_yaml(BLUEPRINTS[0])
    data["blueprint"]["domain"] = "script"
    with pytest.raises(HomeAssistantError):
        Blueprint(data, expected_domain="automation", schema=AUTOMATION_BLUEPRINT_SCHEMA)


# --- (b) instantiated, they are valid automations ------------------------------------------


@pytest.mark.parametrize("name", sorted(SAMPLE_INPUTS))
async def test_blueprint_instance_validates(
    hass: HomeAssistant, config_dir: pathlib.Path, name: str
) -> None:
    validated = await async_validate_config_item(hass, name, _instance(name, SAMPLE_INPUTS[name]))
    assert validated is not None
    assert validated.validation_status is ValidationStatus.OK
    assert validated["triggers"] and validated["actions"]
    steps = list(_actions(validated["actions"]))
    assert steps
    for step in steps:
        _assert_known_service_call(step)


async def test_default_actions_of_the_alerts_validate(
    hass: HomeAssistant, config_dir: pathlib.Path
) -> None:
    """The notification default of an action input is substituted and checked too."""
    expected = {
        "door_alert.yaml": ["persistent_notification.create"],
        # The violation recorded, the freeze (at the K-th within M days), then the report.
        "freeze_after_violation.yaml": [
            "ntnu_library.record_violation",
            "ntnu_library.freeze_patron",
            "persistent_notification.create",
        ],
    }
    for name, actions in expected.items():
        validated = await async_validate_config_item(
            hass, name, _instance(name, SAMPLE_INPUTS[name])
        )
        assert [s["action"] for s in _actions(validated["actions"])] == actions


async def test_door_alert_of_before_battery_alerts_still_validates(
    hass: HomeAssistant, config_dir: pathlib.Path
) -> None:
    """An automation made before the battery inputs existed watches no battery, and loads."""
    inputs = {k: v for k, v in SAMPLE_INPUTS["door_alert.yaml"].items() if k != "batteries"}
    validated = await async_validate_config_item(hass, "old", _instance("door_alert.yaml", inputs))
    assert validated is not None
    assert validated.validation_status is ValidationStatus.OK
    battery = next(t for t in validated["triggers"] if t["id"] == "battery_low")
    assert battery["entity_id"] == [] and battery["below"] == 20


async def test_auto_return_needs_its_sensors(hass: HomeAssistant, config_dir: pathlib.Path) -> None:
    with pytest.raises(HomeAssistantError, match="occupancy_sensors"):
        await async_validate_config_item(
            hass, "x", _instance("auto_return_empty_room.yaml", {"minutes": 5})
        )


async def test_validation_catches_a_broken_template(
    hass: HomeAssistant, config_dir: pathlib.Path
) -> None:
    """The check has teeth: one unclosed template makes the instance invalid."""
    folder = config_dir / "blueprints" / "automation" / "ntnu_library"
    text = (folder / "auto_return_empty_room.yaml").read_text(encoding="utf-8")
    assert '"{{ repeat.item.room }}"' in text
    (folder / "broken.yaml").write_text(
        text.replace('"{{ repeat.item.room }}"', '"{{ repeat.item.room "'), encoding="utf-8"
    )
    with pytest.raises((vol.Invalid, HomeAssistantError)):
        await async_validate_config_item(
            hass, "x", _instance("broken.yaml", SAMPLE_INPUTS["auto_return_empty_room.yaml"])
        )


# --- (c) the dashboards ------------------------------------------------------------------------


def test_expected_entity_list() -> None:
    assert len(EXPECTED_ENTITIES) == 18 * 14 + 2 + 1 + 1 + 11
    assert "lock.t01" in EXPECTED_ENTITIES and "event.l06_door_activity" in EXPECTED_ENTITIES


def test_entity_extraction_sees_every_kind_of_reference() -> None:
    card = {
        "type": "vertical-stack",
        "cards": [
            {"type": "tile", "entity": "sensor.a"},
            {"type": "logbook", "entities": ["event.b", {"entity": "lock.c"}]},
            {"type": "button", "tap_action": {"target": {"entity_id": ["lock.d"]}}},
            {"type": "markdown", "content": "{{ states('sensor.e_holder') }} ntnu_library.x"},
        ],
    }
    assert referenced_entities(card) == {
        "sensor.a",
        "event.b",
        "lock.c",
        "lock.d",
        "sensor.e_holder",
    }


@pytest.mark.parametrize("name", ["staff.yaml", "status.yaml"])
def test_dashboard_loads_and_names_only_real_entities(name: str) -> None:
    dashboard = _load_dashboard(name)
    assert _CJK.search(dashboard["title"]), "title should be bilingual"
    views = dashboard["views"]
    assert isinstance(views, list) and views
    for view in views:
        assert isinstance(view, dict) and _CJK.search(view["title"])
    entities = referenced_entities(dashboard)
    assert entities
    assert all(_ENTITY_ID.match(e) for e in entities), sorted(entities)
    assert entities <= EXPECTED_ENTITIES, sorted(entities - EXPECTED_ENTITIES)
    for item in _walk(dashboard):
        if isinstance(item, dict) and "action" in item:
            # call-service is the pre-2024.8 spelling.
            assert item["action"] != "call-service"


def test_staff_dashboard_covers_every_room() -> None:
    dashboard = _load_dashboard("staff.yaml")
    rooms_view, counter_view, circulation_view = dashboard["views"]
    # The site's counts at the top.
    badges = {badge["entity"] for badge in rooms_view["badges"]}
    assert badges == SITE_ENTITIES
    seen = referenced_entities(rooms_view)
    for room in ROOMS:
        r = room.lower()
        for entity_id in (
            f"lock.{r}",
            f"sensor.{r}_status",
            f"sensor.{r}_holder",
            f"binary_sensor.{r}_door",
            f"binary_sensor.{r}_occupancy",
            f"event.{r}_door_activity",
        ):
            assert entity_id in seen, entity_id
    logbooks = [c for c in _walk(rooms_view) if isinstance(c, dict) and c.get("type") == "logbook"]
    assert len(logbooks) == 1
    assert set(logbooks[0]["entities"]) == {f"event.{r.lower()}_door_activity" for r in ROOMS}
    # Counter buttons call real staff services with data their schema accepts.
    calls = [
        item
        for item in _walk(counter_view)
        if isinstance(item, dict) and item.get("action") == "perform-action"
    ]
    assert {c["data"]["room"] for c in calls} == set(TEMPORARY_ROOMS)
    for call in calls:
        domain, service = call["perform_action"].split(".", 1)
        assert domain == DOMAIN and service in SERVICES
        SERVICES[service][1](call["data"])
        assert call["confirmation"]["text"]
    markdown = " ".join(
        c["content"]
        for c in _walk(counter_view)
        if isinstance(c, dict) and c.get("type") == "markdown"
    )
    # Counter work is in the counter panel (no Developer tools, no overflowing help table).
    assert "](/ntnu-library-counter)" in markdown
    assert "/developer-tools/action" not in markdown and "|---|" not in markdown
    # No door opens in one click from a room card: the lock row shows its state only.
    lock_rows = [
        item
        for item in _walk(rooms_view)
        if isinstance(item, dict) and str(item.get("entity", "")).startswith("lock.")
    ]
    assert len(lock_rows) == len(ROOMS)
    assert all(row.get("type") == "simple-entity" for row in lock_rows)
    # Circulation: every kiosk and box sensor, a scan-back button, the counter's services.
    assert referenced_entities(circulation_view) >= CIRCULATION_ENTITIES
    buttons = [
        item
        for item in _walk(circulation_view)
        if isinstance(item, dict) and item.get("action") == "perform-action"
    ]
    for call in buttons:
        domain, service = call["perform_action"].split(".", 1)
        assert domain == DOMAIN and service in SERVICES
        SERVICES[service][1](call["data"])
    circulation_text = " ".join(
        c["content"]
        for c in _walk(circulation_view)
        if isinstance(c, dict) and c.get("type") == "markdown"
    )
    # Loans, returns, memberships and each return box with its scan-back: the counter panel.
    assert "](/ntnu-library-counter)" in circulation_text


def test_status_dashboard_shows_statuses_only() -> None:
    dashboard = _load_dashboard("status.yaml")
    entities = referenced_entities(dashboard)
    assert not any(e.endswith("_holder") for e in entities)
    assert entities == SITE_ENTITIES | {f"sensor.{r.lower()}_status" for r in ROOMS}
    # A tap would open the more-info dialog, which leads to the room's other entities.
    for item in _walk(dashboard):
        if isinstance(item, dict) and "entity" in item:
            assert item.get("tap_action") == {"action": "none"}, item["entity"]


@pytest.mark.parametrize("name", ["staff.yaml", "status.yaml"])
async def test_dashboard_registers_in_yaml_mode(
    hass: HomeAssistant, config_dir: pathlib.Path, name: str
) -> None:
    """The header's `lovelace:` block works as written, and lovelace loads the file."""
    registration = _registration(name)
    assert await async_setup_component(hass, "lovelace", registration)
    (url_path,) = registration["lovelace"]["dashboards"]
    config = await hass.data[LOVELACE_DATA].dashboards[url_path].async_load(False)
    assert config == _load_dashboard(name)


# --- the blueprints at work on the demo site ---------------------------------------------------

T0 = datetime(2025, 3, 3, 10, 0, 0)  # a Monday morning: the counter serves, the library is open


@pytest.fixture
def start_time() -> datetime:
    """Local wall-clock time when the site starts (a test may parametrize it)."""
    return T0


@pytest.fixture
async def site(
    hass: HomeAssistant,
    enable_custom_integrations: None,
    config_dir: pathlib.Path,
    freezer: FrozenDateTimeFactory,
    start_time: datetime,
) -> ConfigEntry:
    """The demo site "Main Library" on the simulated network, from start_time on."""
    freezer.move_to(start_time.replace(tzinfo=dt_util.get_default_time_zone()))
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": "user"}, data=DEMO_SITE
    )
    await hass.async_block_till_done()
    entry = result["result"]
    assert entry.state is ConfigEntryState.LOADED
    return entry


@pytest.fixture
async def setup_automations(
    hass: HomeAssistant,
) -> AsyncIterator[Callable[..., Awaitable[None]]]:
    """Start blueprint automations; turn them off afterwards (their time triggers with them)."""

    async def _setup(*instances: dict[str, Any]) -> None:
        assert await async_setup_component(hass, "automation", {"automation": list(instances)})
        await hass.async_block_till_done()
        registry = er.async_get(hass)
        for instance in instances:
            entity_id = registry.async_get_entity_id("automation", "automation", instance["id"])
            assert entity_id is not None
            assert hass.states.get(entity_id).state == "on", f"{instance['id']} did not start"

    yield _setup
    if hass.services.has_service("automation", "turn_off"):
        await hass.services.async_call(
            "automation", "turn_off", {"entity_id": "all"}, blocking=True
        )
        await hass.async_block_till_done()


async def _call(hass: HomeAssistant, service: str, **data: Any) -> None:
    await hass.services.async_call(DOMAIN, service, data, blocking=True)
    await hass.async_block_till_done()


async def _advance(hass: HomeAssistant, freezer: FrozenDateTimeFactory, minutes: float) -> None:
    """Let time pass a minute at a time, as Home Assistant's timers see it.

    Each minute ends in short steps, so that a Zigbee exchange the minute started (a lock
    command of an automatic return) gets its answer before its own timeout is due.
    """
    settle = [timedelta(seconds=0.1)] * 20
    remaining = timedelta(minutes=minutes)
    while remaining > timedelta(0):
        minute = min(timedelta(minutes=1), remaining)
        for tick in (minute - sum(settle, timedelta()), *settle):
            freezer.tick(tick)
            async_fire_time_changed(hass)
            await hass.async_block_till_done()
        remaining -= minute


async def test_demo_site_has_the_entities_the_dashboards_name(
    hass: HomeAssistant, site: ConfigEntry
) -> None:
    created = {
        e.entity_id for e in er.async_entries_for_config_entry(er.async_get(hass), site.entry_id)
    }
    assert created == EXPECTED_ENTITIES
    for name in ("staff.yaml", "status.yaml"):
        for entity_id in referenced_entities(_load_dashboard(name)):
            assert hass.states.get(entity_id) is not None, entity_id


async def test_auto_return_blueprint_returns_an_empty_room(
    hass: HomeAssistant,
    site: ConfigEntry,
    freezer: FrozenDateTimeFactory,
    setup_automations: Callable[..., Awaitable[None]],
) -> None:
    events = async_capture_events(hass, EVENT_NAME)
    await setup_automations(
        _instance("auto_return_empty_room.yaml", SAMPLE_INPUTS["auto_return_empty_room.yaml"])
    )
    for room in ("T01", "T02", "T03"):
        await _call(hass, "simulate", room=room, action="vacant")
    await _advance(hass, freezer, 10)  # the rooms stand empty, nobody holds them
    # T01: used, then left. T02: borrowed, never entered (its sensor has been off for 10
    # minutes already). T03: someone stays inside.
    for room, patron in (("T01", "S0001"), ("T02", "G0001"), ("T03", "F0001")):
        await patron_action(hass, "borrow", room, patron)
    await _call(hass, "simulate", room="T01", action="occupied")
    await _call(hass, "simulate", room="T03", action="occupied")
    # The automation checks once a minute: each assertion below leaves a minute either side.
    await _advance(hass, freezer, 3)
    await _call(hass, "simulate", room="T01", action="vacant")
    assert hass.states.get("binary_sensor.t01_occupancy").state == "off"
    assert hass.states.get("binary_sensor.t02_occupancy").state == "off"
    for room in ("t01", "t02", "t03"):
        assert hass.states.get(f"sensor.{room}_status").state == "in_use"

    await _advance(hass, freezer, 4)  # T02 borrowed 7 minutes ago, T01 empty for 4
    assert hass.states.get("sensor.t02_status").state == "idle"
    assert hass.states.get("sensor.t01_status").state == "in_use"

    await _advance(hass, freezer, 3)  # T01 empty for 7 minutes
    assert hass.states.get("sensor.t01_status").state == "idle"
    assert hass.states.get("sensor.t03_status").state == "in_use"
    assert hass.states.get("sensor.l01_status").state == "reserved"  # long-term: untouched

    returns = [e.data for e in events if e.data["type"] == "auto_returned"]
    assert [(e["room"], e["reason"], e["source"]) for e in returns] == [
        ("T02", "empty", "automation"),
        ("T01", "empty", "automation"),
    ]
    assert all(e["patron"] and e["patron"] not in ("S0001", "G0001") for e in returns)


async def test_door_alert_reaches_staff(
    hass: HomeAssistant,
    site: ConfigEntry,
    freezer: FrozenDateTimeFactory,
    setup_automations: Callable[..., Awaitable[None]],
) -> None:
    alerts = async_capture_events(hass, "ntnu_library_test_alert")
    inputs = SAMPLE_INPUTS["door_alert.yaml"] | {
        "alert_actions": [
            {
                "event": "ntnu_library_test_alert",
                "event_data": {
                    key: f"{{{{ {key} }}}}" for key in ("alert", "room", "site", "title", "message")
                },
            }
        ]
    }
    await setup_automations(_instance("door_alert.yaml", inputs))

    await _call(hass, "simulate", room="T04", action="door_open")  # locked: forced
    await _call(hass, "simulate", room="L03", action="jam")
    assert hass.states.get("lock.l03").state == "jammed"
    await _call(hass, "simulate", room="T05", action="offline")
    await _advance(hass, freezer, 2)
    assert [a.data["alert"] for a in alerts] == ["forced_open", "jammed"]
    await _advance(hass, freezer, 2)  # offline for 4 minutes > 3

    by_kind = {a.data["alert"]: a.data for a in alerts}
    assert set(by_kind) == {"forced_open", "jammed", "offline"}
    assert by_kind["forced_open"]["room"] == "T04"
    assert by_kind["jammed"]["room"] == "L03"
    assert by_kind["offline"]["room"] == "T05"
    for alert in by_kind.values():
        assert alert["site"] == "Main Library"
        assert alert["room"] in alert["title"] and "Main Library" in alert["message"]
        assert _CJK.search(alert["title"]) and _CJK.search(alert["message"])


async def test_door_alert_default_is_a_persistent_notification(
    hass: HomeAssistant,
    site: ConfigEntry,
    setup_automations: Callable[..., Awaitable[None]],
) -> None:
    notifications = async_mock_service(hass, "persistent_notification", "create")
    await setup_automations(
        _instance(
            "door_alert.yaml", SAMPLE_INPUTS["door_alert.yaml"] | {"site": "Gongguan"}, "other"
        ),
        _instance("door_alert.yaml", SAMPLE_INPUTS["door_alert.yaml"] | {"site": "Main Library"}),
    )
    await _call(hass, "simulate", room="T06", action="door_open")
    await _call(hass, "simulate", room="L04", action="jam")
    # The automation for another site stays quiet.
    assert [c.data["notification_id"] for c in notifications] == [
        "ntnu_library_door_T06",
        "ntnu_library_door_L04",
    ]
    assert notifications[0].data["title"] == "Door forced open / 門被強行開啟: T06"
    assert notifications[1].data["title"] == "Lock jammed / 門鎖卡住: L04"


async def test_door_alert_reports_a_low_battery(
    hass: HomeAssistant,
    site: ConfigEntry,
    setup_automations: Callable[..., Awaitable[None]],
) -> None:
    alerts = async_capture_events(hass, "ntnu_library_test_alert")
    inputs = SAMPLE_INPUTS["door_alert.yaml"] | {
        "battery_threshold": 15,
        "alert_actions": [
            {
                "event": "ntnu_library_test_alert",
                "event_data": {
                    key: f"{{{{ {key} }}}}" for key in ("alert", "room", "site", "title", "message")
                },
            }
        ],
    }
    await setup_automations(_instance("door_alert.yaml", inputs))
    radio = site.runtime_data.radio

    async def drain(address: str | None, percent: float) -> None:
        assert address is not None
        radio.device(address).set_battery(percent)
        await radio._async_settle()
        await hass.async_block_till_done()

    contact = simulated_devices("T10").contact
    await drain(contact, 40)
    await drain(contact, 16)  # not below 15 %
    assert hass.states.get("sensor.t10_door_contact_battery").state == "16"
    assert alerts == []

    await _call(hass, "simulate", room="T09", action="battery_low")  # the lock: 10 %
    await drain(contact, 12)
    await drain(contact, 11)  # still low: told once
    assert hass.states.get("sensor.t09_lock_battery").state == "10"
    assert [(a.data["alert"], a.data["room"]) for a in alerts] == [
        ("battery_low", "T09"),
        ("battery_low", "T10"),
    ]
    lock, door_contact = (a.data for a in alerts)
    assert lock["title"] == "Battery low / 電量不足: T09"
    assert "lock of study room T09 (Main Library) is down to 10 %" in lock["message"]
    assert "below 15 %" in lock["message"] and "cannot be opened by card" in lock["message"]
    assert "研究室 T09 (Main Library) 的門鎖電量剩 10%" in lock["message"]
    assert (
        "door contact of study room T10 (Main Library) is down to 12 %" in door_contact["message"]
    )
    assert "門磁電量剩 12%" in door_contact["message"]
    assert "cannot be opened" not in door_contact["message"]


async def test_battery_alert_notification_does_not_replace_a_door_alert(
    hass: HomeAssistant,
    site: ConfigEntry,
    setup_automations: Callable[..., Awaitable[None]],
) -> None:
    notifications = async_mock_service(hass, "persistent_notification", "create")
    await setup_automations(_instance("door_alert.yaml", SAMPLE_INPUTS["door_alert.yaml"]))
    await _call(hass, "simulate", room="T11", action="jam")
    await _call(hass, "simulate", room="T11", action="battery_low")
    assert [c.data["notification_id"] for c in notifications] == [
        "ntnu_library_door_T11",
        "ntnu_library_door_T11_battery",
    ]
    assert notifications[1].data["title"] == "Battery low / 電量不足: T11"


@pytest.mark.parametrize("start_time", [T0.replace(hour=21, minute=50)])
async def test_freeze_blueprint_reports_a_room_left_at_closing(
    hass: HomeAssistant,
    site: ConfigEntry,
    freezer: FrozenDateTimeFactory,
    setup_automations: Callable[..., Awaitable[None]],
) -> None:
    notifications: list[ServiceCall] = async_mock_service(hass, "persistent_notification", "create")
    events: list[Event] = async_capture_events(hass, EVENT_NAME)
    await setup_automations(
        _instance(
            "freeze_after_violation.yaml",
            SAMPLE_INPUTS["freeze_after_violation.yaml"] | {"freeze_days": 0},  # only report
        )
    )
    # Returned for a reason staff did not choose: no report.
    await patron_action(hass, "borrow", "T07", "S0001")
    await _call(hass, "auto_return", room="T07", reason="empty")
    assert not notifications

    await patron_action(hass, "borrow", "T08", "D0001")
    await _call(hass, "simulate", room="T08", action="occupied")  # never empty: only closing
    await _advance(hass, freezer, 8)
    assert not [e for e in events if e.data["room"] == "T08" and e.data["type"] != "borrowed"]
    await _advance(hass, freezer, 4)  # 22:00 closing passes; the site's policy tick runs

    returned = [
        e.data for e in events if e.data["type"] == "auto_returned" and e.data["room"] == "T08"
    ]
    assert [e["reason"] for e in returned] == ["closing"]
    (call,) = notifications
    masked = returned[0]["patron"]
    assert masked and masked != "D0001"
    assert "T08" in call.data["title"] and masked in call.data["title"]
    assert "ntnu_library.freeze_patron" in call.data["message"]
    assert returned[0]["ref"] in call.data["message"]  # what staff freeze the patron by
    assert "Main Library" in call.data["message"] and _CJK.search(call.data["message"])
    # No freeze length was set: nobody is frozen by the automation.
    assert "D0001" not in site.runtime_data.rooms.patrons.freezes


@pytest.mark.parametrize("start_time", [T0.replace(hour=21, minute=50)])
async def test_freeze_blueprint_freezes_by_ref_when_told_how_long(
    hass: HomeAssistant,
    site: ConfigEntry,
    freezer: FrozenDateTimeFactory,
    setup_automations: Callable[..., Awaitable[None]],
) -> None:
    notifications: list[ServiceCall] = async_mock_service(hass, "persistent_notification", "create")
    await setup_automations(
        _instance(
            "freeze_after_violation.yaml",
            SAMPLE_INPUTS["freeze_after_violation.yaml"] | {"freeze_days": 7, "violations": 1},
        )
    )
    await patron_action(hass, "borrow", "T08", "D0001")
    await _call(hass, "simulate", room="T08", action="occupied")
    await _advance(hass, freezer, 12)  # past 22:00: returned at closing
    freeze = site.runtime_data.rooms.patrons.freezes["D0001"]
    assert freeze.until - dt_util.now() > timedelta(days=6, hours=23)
    assert freeze.reason == (
        "1 violation(s) in 30 days; the last: room T08 returned automatically (closing)"
    )
    (call,) = notifications
    assert "frozen for 7 days" in call.data["message"]
    assert "D0001" not in call.data["message"]


async def test_e_label_blueprint_pushes_the_label_when_the_status_changes(
    hass: HomeAssistant,
    site: ConfigEntry,
    freezer: FrozenDateTimeFactory,
    setup_automations: Callable[..., Awaitable[None]],
) -> None:
    """A borrow changes T01's label; the tag gets exactly that picture, at the tag's size."""
    pushes = async_mock_service(hass, "open_epaper_link", "drawcustom")
    await setup_automations(_instance("push_e_label.yaml", SAMPLE_INPUTS["push_e_label.yaml"]))
    await hass.async_block_till_done()
    pushes.clear()  # whatever the start pushed
    freezer.tick(timedelta(seconds=1))  # the label's state is when its picture last changed
    await _call(hass, "borrow", room="T01", patron_id="S0001")
    await hass.async_block_till_done()
    assert len(pushes) == 1
    push = pushes[0]
    assert push.data["entity_id"] == ["open_epaper_link.0000028df056743b"]
    (element,) = push.data["payload"]
    picture = hass.states.get("image.t01_e_label").attributes["entity_picture"]
    assert element["type"] == "dlimg"
    assert element["url"] == f"http://127.0.0.1:8123{picture}"
    assert (element["xsize"], element["ysize"]) == (296, 128)
    # Another room's change is not this tag's.
    await _call(hass, "borrow", room="T02", patron_id="G0001")
    await hass.async_block_till_done()
    assert len(pushes) == 1
    # Home Assistant renews the picture's access token every 5 minutes: the label is the same.
    label = hass.data["image"].get_entity("image.t01_e_label")
    label.async_update_token()
    label.async_write_ha_state()
    await hass.async_block_till_done()
    assert hass.states.get("image.t01_e_label").attributes["entity_picture"] != picture
    assert len(pushes) == 1
