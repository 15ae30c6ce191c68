"""Open forms across a restart: honoured after a clean stop, all refused after a crash."""

from __future__ import annotations

from typing import Any

from homeassistant.const import EVENT_HOMEASSISTANT_FINAL_WRITE
from homeassistant.core import HomeAssistant

from custom_components.ntnu_library.web.context import async_form_tokens

KEY = b"k" * 32
SCOPE = "room:entry:T01"


async def test_a_clean_restart_keeps_open_forms_and_spent_ones_spent(
    hass: HomeAssistant, hass_storage: dict[str, Any]
) -> None:
    forms = await async_form_tokens(hass, KEY)
    open_form, spent = forms.issue(SCOPE), forms.issue(SCOPE)
    assert forms.consume(spent, SCOPE)
    hass.bus.async_fire(EVENT_HOMEASSISTANT_FINAL_WRITE)
    await hass.async_block_till_done()

    restarted = await async_form_tokens(hass, KEY)
    assert not restarted.consume(spent, SCOPE)  # single use across the restart
    assert restarted.consume(open_form, SCOPE)  # the patron who was typing goes on


async def test_after_a_crash_every_earlier_form_is_refused(
    hass: HomeAssistant, hass_storage: dict[str, Any]
) -> None:
    await async_form_tokens(hass, KEY)
    hass.bus.async_fire(EVENT_HOMEASSISTANT_FINAL_WRITE)  # a clean stop before
    await hass.async_block_till_done()
    forms = await async_form_tokens(hass, KEY)  # this start marks the record unclean
    open_form = forms.issue(SCOPE)
    # A crash: no final write, so what was spent since the start is unknown.
    restarted = await async_form_tokens(hass, KEY)
    assert not restarted.consume(open_form, SCOPE)
    assert restarted.consume(restarted.issue(SCOPE), SCOPE)  # new forms work
