"""A site's own name in both languages: the Chinese pages say 總館, the English ones Main Library."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.ntnu_library.const import CONF_SITE_NAME_ZH, DOMAIN
from custom_components.ntnu_library.demo import DEMO_ROOMS
from custom_components.ntnu_library.subentries import room_subentry
from custom_components.ntnu_library.web.context import STATUS_API_PATH, STATUS_PATH

SITE_HEADING = '<h2 class="site-name">{}</h2>'


@pytest.fixture
def mock_config_entry(
    mock_config_entry: MockConfigEntry, site_rooms: tuple[str, ...]
) -> MockConfigEntry:
    """The demo site, with its Chinese name given when it was set up."""
    return MockConfigEntry(
        domain=DOMAIN,
        title=mock_config_entry.title,
        unique_id=mock_config_entry.unique_id,
        data={**mock_config_entry.data, CONF_SITE_NAME_ZH: "總館"},
        options=mock_config_entry.options,
        subentries_data=[room_subentry(r) for r in DEMO_ROOMS if r.room_id in site_rooms],
    )


@pytest.fixture
async def client(
    init_integration: MockConfigEntry, hass_client_no_auth: ClientSessionGenerator
) -> TestClient:
    return await hass_client_no_auth()


async def _page(client: TestClient, language: str) -> str:
    response = await client.get(STATUS_PATH, params={"lang": language})
    assert response.status == 200
    return await response.text()


async def test_the_status_panel_names_the_site_in_the_pages_language(client: TestClient) -> None:
    assert SITE_HEADING.format("總館") in await _page(client, "zh-Hant")
    english = await _page(client, "en")
    assert SITE_HEADING.format("Main Library") in english
    assert "總館" not in english
    response = await client.get(STATUS_API_PATH)
    data: dict[str, Any] = await response.json()
    (site,) = data["sites"]
    assert site["site"] == "Main Library"
    assert site["site_names"] == {"en": "Main Library", "zh-Hant": "總館"}


async def test_a_site_without_a_chinese_name_keeps_its_one_name(
    init_integration: MockConfigEntry, hass_client_no_auth: ClientSessionGenerator
) -> None:
    site = init_integration.runtime_data
    site.site_name_zh = ""
    client = await hass_client_no_auth()
    assert SITE_HEADING.format("Main Library") in await _page(client, "zh-Hant")
    assert site.name_in("zh-Hant") == site.name_in("en") == "Main Library"
