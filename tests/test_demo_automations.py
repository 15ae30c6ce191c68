"""The demo makes one automation from each blueprint, and each is one Home Assistant accepts."""

from __future__ import annotations

import pathlib
from typing import Any

import demo_bootstrap  # scripts/lib, on the path through tests/conftest.py
from homeassistant.components.automation.config import ValidationStatus, async_validate_config_item
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
import pytest

from . import test_blueprints_dashboards as blueprints_at_work
from .test_blueprints_dashboards import BLUEPRINTS, referenced_entities

# The demo site with the repository's blueprints installed, as the blueprint tests set it up.
config_dir = blueprints_at_work.config_dir
site = blueprints_at_work.site
start_time = blueprints_at_work.start_time


def test_one_automation_from_each_blueprint() -> None:
    paths = [a["use_blueprint"]["path"] for a in demo_bootstrap.DEMO_AUTOMATIONS.values()]
    assert sorted(paths) == sorted(f"ntnu_library/{path.name}" for path in BLUEPRINTS)
    for automation in demo_bootstrap.DEMO_AUTOMATIONS.values():
        assert "/" in automation["alias"], "bilingual"


@pytest.mark.parametrize("automation_id", sorted(demo_bootstrap.DEMO_AUTOMATIONS))
async def test_each_demo_automation_is_valid_and_names_the_demos_entities(
    hass: HomeAssistant, config_dir: pathlib.Path, site: ConfigEntry, automation_id: str
) -> None:
    config = demo_bootstrap.DEMO_AUTOMATIONS[automation_id]
    validated = await async_validate_config_item(
        hass, automation_id, {"id": automation_id, **config}
    )
    assert validated is not None
    assert validated.validation_status is ValidationStatus.OK
    named = referenced_entities(config["use_blueprint"]["input"])
    ours = {entity for entity in named if not entity.startswith("open_epaper_link.")}
    for entity_id in ours:
        assert hass.states.get(entity_id) is not None, entity_id


class FakeApi:
    """The demo's Home Assistant as the bootstrap sees it: automations by id."""

    def __init__(self, existing: set[str]) -> None:
        self.automations: dict[str, Any] = {key: {} for key in existing}
        self.posted: list[str] = []

    def call(self, method: str, path: str, body: Any = None, **_: Any) -> tuple[int, Any]:
        automation_id = path.rsplit("/", 1)[-1]
        if method == "GET":
            found = automation_id in self.automations
            return (200, self.automations[automation_id]) if found else (404, {})
        self.automations[automation_id] = body
        self.posted.append(automation_id)
        return 200, {"result": "ok"}

    def expect(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Any:
        status, result = self.call(method, path, body, **kwargs)
        assert status == 200
        return result


def test_the_bootstrap_makes_only_the_automations_that_are_missing() -> None:
    """A second run (or staff who kept some) leaves what is there as it is."""
    api = FakeApi({"ntnu_library_door_alert"})
    said = demo_bootstrap.add_automations(api)  # type: ignore[arg-type]
    assert set(api.posted) == set(demo_bootstrap.DEMO_AUTOMATIONS) - {"ntnu_library_door_alert"}
    assert "release_unopened_room" in said and "door_alert" not in said
    assert api.automations["ntnu_library_push_e_label"]["initial_state"] is False  # no tag here
    api.posted.clear()
    assert demo_bootstrap.add_automations(api) == (  # type: ignore[arg-type]
        "automations from the blueprints already made"
    )
    assert api.posted == []
