"""A site's own name in Chinese: given in the config flow, shown in Chinese where Chinese is read."""

from __future__ import annotations

from homeassistant.config_entries import SOURCE_USER
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import device_registry as dr, entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ntnu_library.const import (
    CONF_PATRON_SYSTEM,
    CONF_RADIO,
    CONF_SITE_NAME,
    CONF_SITE_NAME_ZH,
    DOMAIN,
)

SITE_INPUT = {CONF_SITE_NAME: "Linkou", CONF_RADIO: "simulated", CONF_PATRON_SYSTEM: "local"}


def _site_device(hass: HomeAssistant, entry: MockConfigEntry) -> dr.DeviceEntry:
    return next(
        device
        for device in dr.async_entries_for_config_entry(dr.async_get(hass), entry.entry_id)
        if (DOMAIN, entry.entry_id) in device.identifiers
    )


async def test_the_chinese_name_is_asked_with_the_site_and_kept(hass: HomeAssistant) -> None:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert CONF_SITE_NAME_ZH in {str(key) for key in result["data_schema"].schema}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**SITE_INPUT, CONF_SITE_NAME_ZH: "  林口  分館 "}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_SITE_NAME_ZH] == "林口 分館"
    entry = result["result"]
    assert entry.runtime_data.name_in("zh-Hant") == "林口 分館"
    assert entry.runtime_data.name_in("en") == "Linkou"


async def test_no_chinese_name_is_no_chinese_name(hass: HomeAssistant) -> None:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**SITE_INPUT, CONF_SITE_NAME_ZH: "   "}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert CONF_SITE_NAME_ZH not in result["data"]
    assert result["result"].runtime_data.name_in("zh-Hant") == "Linkou"


async def test_a_chinese_name_too_long_is_refused_on_its_field(hass: HomeAssistant) -> None:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**SITE_INPUT, CONF_SITE_NAME_ZH: "總" * 65}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_SITE_NAME_ZH: "invalid_site_name"}


async def test_reconfigure_names_the_site_in_chinese_and_a_chinese_home_assistant_shows_it(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """The site device takes the name in Home Assistant's language; entity ids stay."""
    entry = init_integration
    hass.config.language = "zh-Hant"
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_SITE_NAME: "Main Library", CONF_SITE_NAME_ZH: "總館"}
    )
    await hass.async_block_till_done()
    assert result["reason"] == "reconfigure_successful"
    assert entry.data[CONF_SITE_NAME_ZH] == "總館"
    assert _site_device(hass, entry).name == "總館"
    assert er.async_get(hass).async_get("sensor.main_library_idle_rooms") is not None
    # Cleared again: the one name everywhere.
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_SITE_NAME: "Main Library"}
    )
    await hass.async_block_till_done()
    assert CONF_SITE_NAME_ZH not in entry.data
    assert _site_device(hass, entry).name == "Main Library"
