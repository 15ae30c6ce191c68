"""strings.json and its translations against what the code actually uses."""

from __future__ import annotations

import ast
from collections.abc import Iterator
import json
from pathlib import Path
import re
from string import Formatter
from typing import Any
from unittest.mock import patch

from homeassistant.config_entries import SOURCE_RECONFIGURE, SOURCE_USER
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResult
from homeassistant.helpers.selector import SelectSelector
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
import voluptuous as vol
import yaml

from custom_components.ntnu_library import binary_sensor, sensor
from custom_components.ntnu_library.const import DOMAIN, SUBENTRY_ROOM
from custom_components.ntnu_library.core.errors import Reason
from custom_components.ntnu_library.core.model import EventType
from custom_components.ntnu_library.core.room_words import STATUS_WORDS
from custom_components.ntnu_library.services import SERVICES

PACKAGE = Path(__file__).parent.parent / "custom_components" / DOMAIN
LANGUAGES = {
    "strings.json": PACKAGE / "strings.json",
    "en": PACKAGE / "translations" / "en.json",
    "zh-Hant": PACKAGE / "translations" / "zh-Hant.json",
}
CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


TRANSLATIONS = {name: _load(path) for name, path in LANGUAGES.items()}
STRINGS = TRANSLATIONS["strings.json"]
SERVICES_YAML = yaml.safe_load((PACKAGE / "services.yaml").read_text(encoding="utf-8"))
ICONS = _load(PACKAGE / "icons.json")

all_languages = pytest.mark.parametrize("language", list(LANGUAGES))


def _leaves(tree: dict[str, Any], path: tuple[str, ...] = ()) -> Iterator[tuple[str, str]]:
    for key, value in tree.items():
        if isinstance(value, dict):
            yield from _leaves(value, (*path, key))
        else:
            assert isinstance(value, str), (*path, key)
            yield ".".join((*path, key)), value


def _placeholders(message: str) -> set[str]:
    return {name for _, name, _, _ in Formatter().parse(message) if name is not None}


def _get(tree: dict[str, Any], dotted: str) -> Any:
    for key in dotted.split("."):
        tree = tree[key]
    return tree


# --- the code, read as text ------------------------------------------------------------------


def _python_files() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _trees() -> Iterator[tuple[Path, ast.Module]]:
    for path in _python_files():
        yield path, ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _strings_in(node: ast.expr) -> set[str]:
    """String constants an expression can evaluate to ("a" if x else "b" gives both)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.IfExp):
        return _strings_in(node.body) | _strings_in(node.orelse)
    return set()


def _raised_translation_keys() -> dict[str, list[tuple[str, set[str] | None]]]:
    """translation_key -> [(where, placeholder names passed or None if not a literal)].

    Every call that names `translation_domain` is an error built for people to read.
    """
    found: dict[str, list[tuple[str, set[str] | None]]] = {}
    for path, tree in _trees():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            keywords = {k.arg: k.value for k in node.keywords if k.arg}
            if "translation_domain" not in keywords or "translation_key" not in keywords:
                continue
            passed: set[str] | None = set()
            if (given := keywords.get("translation_placeholders")) is not None:
                if isinstance(given, ast.Dict) and all(
                    isinstance(k, ast.Constant) for k in given.keys
                ):
                    passed = {k.value for k in given.keys if isinstance(k, ast.Constant)}
                else:
                    passed = None  # passed through (a refusal's placeholders): checked below
            where = f"{path.relative_to(PACKAGE)}:{node.lineno}"
            for key in _strings_in(keywords["translation_key"]):
                found.setdefault(key, []).append((where, passed))
    return found


def _refusals() -> dict[str, list[tuple[str, set[str]]]]:
    """Reason value -> [(where, placeholder names)] for every `Refused(Reason.X, ...)`."""
    found: dict[str, list[tuple[str, set[str]]]] = {}
    for path, tree in _trees():
        for node in ast.walk(tree):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "Refused"
            ):
                continue
            where = f"{path.relative_to(PACKAGE)}:{node.lineno}"
            reason = node.args[0] if node.args else None
            if not isinstance(reason, ast.Attribute) and not node.keywords:
                continue  # a reason chosen at run time, with no placeholders to check
            assert (
                isinstance(reason, ast.Attribute)
                and isinstance(reason.value, ast.Name)
                and reason.value.id == "Reason"
            ), f"{where}: Refused needs a literal Reason.X"
            assert all(k.arg for k in node.keywords), f"{where}: no **placeholders"
            value = Reason[reason.attr].value
            found.setdefault(value, []).append((where, {k.arg for k in node.keywords if k.arg}))
    return found


RAISED = _raised_translation_keys()
REFUSALS = _refusals()


def test_scans_found_the_code() -> None:
    """The scans themselves work (a broken scan would make the checks below vacuous)."""
    assert {"lock_offline", "lock_command_failed", "storage_failed", "radio_not_ready"} <= set(
        RAISED
    )
    assert {"site_required", "no_site", "site_not_found"} <= set(RAISED)
    assert {"unknown_room", "room_not_idle", "invalid_value", "frozen"} <= set(REFUSALS)
    assert len(list(_python_files())) > 20


# --- the files agree -------------------------------------------------------------------------


def test_en_is_strings() -> None:
    assert TRANSLATIONS["en"] == STRINGS


@pytest.mark.parametrize("language", ["en", "zh-Hant"])
def test_same_keys(language: str) -> None:
    assert dict(_leaves(TRANSLATIONS[language])).keys() == dict(_leaves(STRINGS)).keys()


def test_zh_hant_is_chinese() -> None:
    """Every Chinese string has Chinese in it and is not the English one copied."""
    english = dict(_leaves(STRINGS))
    for key, text in _leaves(TRANSLATIONS["zh-Hant"]):
        assert CJK.search(text), f"{key}: {text!r}"
        assert text != english[key], key


@pytest.mark.parametrize("language", ["en", "zh-Hant"])
def test_placeholders_match_strings(language: str) -> None:
    """A translation uses exactly the placeholders of the source string."""
    english = dict(_leaves(STRINGS))
    for key, text in _leaves(TRANSLATIONS[language]):
        assert _placeholders(text) == _placeholders(english[key]), key


# --- errors people read ----------------------------------------------------------------------


@all_languages
def test_every_reason_has_a_message(language: str) -> None:
    exceptions = TRANSLATIONS[language]["exceptions"]
    missing = [reason.value for reason in Reason if reason.value not in exceptions]
    assert not missing
    for reason in Reason:
        assert exceptions[reason.value]["message"].strip(), reason


@all_languages
def test_every_raised_key_has_a_message(language: str) -> None:
    exceptions = TRANSLATIONS[language]["exceptions"]
    missing = {key: sites for key, sites in RAISED.items() if key not in exceptions}
    assert not missing


def test_raised_placeholders_are_passed() -> None:
    """Each raise site passes every placeholder its message uses."""
    exceptions = STRINGS["exceptions"]
    for key, sites in RAISED.items():
        wanted = _placeholders(exceptions[key]["message"])
        for where, passed in sites:
            if passed is not None:
                assert wanted <= passed, f"{where}: {key} needs {wanted - passed}"


def test_refusal_placeholders_are_passed() -> None:
    """Each `Refused(Reason.X, ...)` passes every placeholder the X message uses.

    Refusals reach people through services.refusal_error with their own placeholders.
    """
    exceptions = STRINGS["exceptions"]
    for reason, sites in REFUSALS.items():
        wanted = _placeholders(exceptions[reason]["message"])
        for where, passed in sites:
            assert wanted <= passed, f"{where}: {reason} needs {wanted - passed}"


def test_messages_use_known_placeholders() -> None:
    """Messages only use placeholders some code can give them."""
    known = {"room", "patron", "month", "until", "opens", "closes", "retry_after", "field"}
    known |= {"error", "entry_id", "site", "kiosk", "fault", "box"}
    known |= {"rooms", "limit"}  # a patron's long-term rooms of a month, and how many may be
    known |= {"station"}  # a self-checkout station's id
    for key, entry in STRINGS["exceptions"].items():
        assert _placeholders(entry["message"]) <= known, key
    for key, entry in STRINGS.get("issues", {}).items():
        for text in entry.values():
            issue_placeholders = {"room", "site", "error", "code", "category", "entity", "ieee"}
            issue_placeholders |= {"rooms", "font", "box", "count"}
            assert _placeholders(text) <= issue_placeholders, key
    assert _placeholders(STRINGS["config"]["step"]["reauth_confirm"]["description"]) == {"host"}
    for key, entry in STRINGS["device"].items():  # "Kiosk {kiosk}": a device named by its id
        assert _placeholders(entry["name"]) <= {"kiosk", "box"}, key
    for key, text in _leaves(STRINGS):
        if not key.startswith(("exceptions.", "issues.", "config.step.reauth_confirm.", "device.")):
            assert not _placeholders(text), key


def test_no_unused_exception_messages() -> None:
    used = set(RAISED) | {reason.value for reason in Reason}
    assert set(STRINGS["exceptions"]) == used


# --- actions ---------------------------------------------------------------------------------


def test_services_are_one_set() -> None:
    assert set(SERVICES_YAML) == set(SERVICES)
    assert set(STRINGS["services"]) == set(SERVICES)
    assert set(ICONS["services"]) == set(SERVICES)


@all_languages
def test_services_are_described(language: str) -> None:
    services = TRANSLATIONS[language]["services"]
    for service, spec in SERVICES_YAML.items():
        text = services[service]
        assert text["name"].strip(), service
        assert text["description"].strip(), service
        fields = spec.get("fields") or {}
        assert set(text.get("fields", {})) == set(fields), service
        for field in fields:
            assert text["fields"][field]["name"].strip(), (service, field)
            assert text["fields"][field]["description"].strip(), (service, field)


def _yaml_select_selectors(tree: Any) -> Iterator[dict[str, Any]]:
    if isinstance(tree, dict):
        if isinstance(tree.get("select"), dict):
            yield tree["select"]
        for value in tree.values():
            yield from _yaml_select_selectors(value)


@all_languages
def test_service_selectors_are_translated(language: str) -> None:
    selectors = list(_yaml_select_selectors(SERVICES_YAML))
    assert selectors
    for select in selectors:
        key = select.get("translation_key")
        assert key, select
        options = [o["value"] if isinstance(o, dict) else o for o in select["options"]]
        translated = TRANSLATIONS[language]["selector"][key]["options"]
        assert set(options) <= set(translated), key


# --- entities --------------------------------------------------------------------------------


def _entity_translation_keys() -> dict[str, set[str]]:
    """Platform -> translation keys, read from the platform modules."""
    return {
        "sensor": {
            d.translation_key
            for d in (
                *sensor.ROOM_SENSORS,
                *sensor.SITE_SENSORS,
                *sensor.KIOSK_SENSORS,
                *sensor.BOX_SENSORS,
            )
            if d.translation_key
        },
        "binary_sensor": {
            d.translation_key for d in binary_sensor.DESCRIPTIONS if d.translation_key
        },
        # Entity class attributes become properties: read the key from the source.
        "event": _translation_keys_in_platform_sources()["event"],
        "image": _translation_keys_in_platform_sources()["image"],
        "calendar": _translation_keys_in_platform_sources()["calendar"],
    }


def _translation_keys_in_platform_sources() -> dict[str, set[str]]:
    """The same, read as text: translation_key="x" and _attr_translation_key = "x".

    Calls naming a translation_domain are errors, not entities; a DeviceInfo names a device.
    """
    keys: dict[str, set[str]] = {}
    for platform in ("sensor", "binary_sensor", "event", "image", "lock", "calendar"):
        tree = ast.parse((PACKAGE / f"{platform}.py").read_text(encoding="utf-8"))
        found = keys.setdefault(platform, set())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                names = {k.arg for k in node.keywords}
                if _is_device_info(node):
                    continue
                if "translation_key" in names and "translation_domain" not in names:
                    found |= next(
                        _strings_in(k.value) for k in node.keywords if k.arg == "translation_key"
                    )
            elif isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "_attr_translation_key" for t in node.targets
            ):
                found |= _strings_in(node.value)
    return {platform: found for platform, found in keys.items() if found}


def _is_device_info(node: ast.Call) -> bool:
    return isinstance(node.func, ast.Name) and node.func.id == "DeviceInfo"


def _device_translation_keys() -> set[str]:
    """The translation keys of the devices the platforms name (a kiosk, a return box)."""
    found: set[str] = set()
    for path in _python_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and _is_device_info(node):
                for keyword in node.keywords:
                    if keyword.arg == "translation_key":
                        found |= _strings_in(keyword.value)
    return found


@all_languages
def test_device_names(language: str) -> None:
    """Devices named in Home Assistant's language ("Kiosk K1", "自助借書機 K1")."""
    devices = TRANSLATIONS[language]["device"]
    assert set(devices) == _device_translation_keys() == {"kiosk", "return_box"}
    for key, entry in devices.items():
        assert _placeholders(entry["name"]) == _placeholders(STRINGS["device"][key]["name"])


def test_entity_keys_read_both_ways() -> None:
    from_source = _translation_keys_in_platform_sources()
    assert from_source == _entity_translation_keys()
    assert from_source["event"] == {"door_activity"}


@all_languages
def test_entity_names(language: str) -> None:
    entities = TRANSLATIONS[language]["entity"]
    used = _entity_translation_keys()
    assert {platform: set(keys) for platform, keys in entities.items()} == used
    for platform, keys in used.items():
        for key in keys:
            assert entities[platform][key]["name"].strip(), (platform, key)


@all_languages
def test_entity_states(language: str) -> None:
    entities = TRANSLATIONS[language]["entity"]
    assert set(entities["sensor"]["status"]["state"]) == set(sensor.STATUS_OPTIONS)
    event_types = entities["event"]["door_activity"]["state_attributes"]["event_type"]["state"]
    assert set(event_types) == {t.value for t in EventType}


@pytest.mark.parametrize(
    ("language", "form"),
    [("strings.json", "{en} ({zh})"), ("en", "{en} ({zh})"), ("zh-Hant", "{zh}")],
)
def test_status_states_are_the_room_words(language: str, form: str) -> None:
    """The status sensor's states say core's words, the e-label's and the pages' own.

    In English the English word with the Chinese in brackets ("Idle (閒置)"), in Chinese the
    Chinese word. The sensor has no "unavailable" state: it is unavailable then.
    """
    states = TRANSLATIONS[language]["entity"]["sensor"]["status"]["state"]
    expected = {
        status.value: form.format(en=words.en, zh=words.zh)
        for status, words in STATUS_WORDS.items()
        if status.value in sensor.STATUS_OPTIONS
    }
    assert states == expected


def test_icons_match_entities() -> None:
    used = _entity_translation_keys()
    for platform, keys in ICONS["entity"].items():
        assert set(keys) <= used[platform], platform
    status_icons = ICONS["entity"]["sensor"]["status"]["state"]
    assert set(status_icons) == set(sensor.STATUS_OPTIONS)
    event_icons = ICONS["entity"]["event"]["door_activity"]["state_attributes"]["event_type"]
    assert set(event_icons["state"]) == {t.value for t in EventType}


# --- the flows' forms ------------------------------------------------------------------------


REAL_RADIO_FIELDS = {"lock_ieee", "contact_ieee", "occupancy_ieee"}


def _check_form(result: FlowResult, section: str) -> None:
    """Every field of the form has a label and a description; selectors are translated."""
    assert result["type"] == "form", result
    schema: vol.Schema = result["data_schema"]
    step = f"{section}.step.{result['step_id']}"
    for language, strings in TRANSLATIONS.items():
        data = _get(strings, f"{step}.data")
        descriptions = _get(strings, f"{step}.data_description")
        for marker, validator in schema.schema.items():
            field = str(marker)
            assert data[field].strip(), (language, step, field)
            assert descriptions[field].strip(), (language, step, field)
            if field == "counter_staff":  # people, listed by their Home Assistant names
                continue
            if isinstance(validator, SelectSelector) and not validator.config.get("custom_value"):
                key = validator.config.get("translation_key")
                assert key, (step, field)
                options = [
                    o["value"] if isinstance(o, dict) else o for o in validator.config["options"]
                ]
                if key == "library":  # the existing libraries are named by their sites
                    options = ["new"]
                translated = strings["selector"][key]["options"]
                assert set(options) <= set(translated), (language, key)
        shown = {str(m) for m in schema.schema}
        # Device fields are shown only on sites with a real radio.
        assert shown <= set(data), (language, step)
        assert set(data) - shown <= REAL_RADIO_FIELDS, (language, step)


def _flow_texts(section: str, kind: str) -> dict[str, set[str]]:
    return {
        language: set(_get(strings, section).get(kind, {}))
        for language, strings in TRANSLATIONS.items()
    }


def _flow_codes() -> dict[str, dict[str, set[str]]]:
    """Error and abort codes each flow class can return (config_flow.py, options_flow.py, …).

    The room flow's module is read whole: its form helpers set errors outside the class.
    """
    sections = {
        "NtnuLibraryConfigFlow": "config",
        "NtnuLibraryOptionsFlow": "options",
        "RoomSubentryFlow": f"config_subentries.{SUBENTRY_ROOM}",
    }
    trees = {
        name: ast.parse((PACKAGE / name).read_text(encoding="utf-8"))
        for name in ("config_flow.py", "options_flow.py", "subentries.py")
    }
    nodes: list[tuple[str, ast.AST]] = [
        (node.name, node)
        for name in ("config_flow.py", "options_flow.py")
        for node in trees[name].body
        if isinstance(node, ast.ClassDef) and node.name in sections
    ]
    nodes.append(("RoomSubentryFlow", trees["subentries.py"]))
    codes: dict[str, dict[str, set[str]]] = {}
    for name, node in nodes:
        found = codes.setdefault(sections[name], {"error": set(), "abort": set()})
        for inner in ast.walk(node):
            if isinstance(inner, ast.Assign) and any(
                isinstance(t, ast.Subscript)
                and isinstance(t.value, ast.Name)
                and t.value.id == "errors"
                for t in inner.targets
            ):
                found["error"] |= _strings_in(inner.value)
            elif isinstance(inner, ast.keyword) and inner.arg == "reason":
                found["abort"] |= _strings_in(inner.value)
            elif isinstance(inner, ast.Attribute):
                if inner.attr == "_abort_if_unique_id_configured":
                    found["abort"].add("already_configured")
                elif inner.attr in ("async_update_reload_and_abort", "async_update_and_abort"):
                    found["abort"].add("reconfigure_successful")
    return codes


def test_flow_errors_and_aborts_are_translated() -> None:
    codes = _flow_codes()
    assert set(codes) == {"config", "options", f"config_subentries.{SUBENTRY_ROOM}"}
    assert "invalid_site_name" in codes["config"]["error"]
    for section, kinds in codes.items():
        for kind, used in kinds.items():
            for language, texts in _flow_texts(section, kind).items():
                assert used <= texts, (language, section, kind, used - texts)
                for code in used:
                    assert _get(TRANSLATIONS[language], f"{section}.{kind}.{code}").strip()


async def test_flow_forms_are_translated(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> None:
    """Open every form of the config flow and check its fields against the strings."""
    mock_config_entry.add_to_hass(hass)
    with (
        patch("custom_components.ntnu_library.async_setup_entry", return_value=True),
        patch("custom_components.ntnu_library.async_unload_entry", return_value=True),
    ):
        result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
        _check_form(result, "config")
        result = await mock_config_entry.start_reconfigure_flow(hass)
        _check_form(result, "config")
        result = await hass.config_entries.options.async_init(mock_config_entry.entry_id)
        _check_form(result, "options")
        result = await hass.config_entries.subentries.async_init(
            (mock_config_entry.entry_id, SUBENTRY_ROOM), context={"source": SOURCE_USER}
        )
        _check_form(result, f"config_subentries.{SUBENTRY_ROOM}")
        subentry_id = next(iter(mock_config_entry.subentries))
        result = await hass.config_entries.subentries.async_init(
            (mock_config_entry.entry_id, SUBENTRY_ROOM),
            context={"source": SOURCE_RECONFIGURE, "subentry_id": subentry_id},
        )
        _check_form(result, f"config_subentries.{SUBENTRY_ROOM}")
    for language, strings in TRANSLATIONS.items():
        subentry = strings["config_subentries"][SUBENTRY_ROOM]
        assert subentry["entry_type"].strip(), language
        assert set(subentry["initiate_flow"]) == {"user", "reconfigure"}, language
