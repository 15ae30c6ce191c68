"""The e-label image entity: what the e-paper tag by a room's door shows, as a PNG.

Read back the way a patron's phone reads it: the QR code decoded from the served picture must
be the room's signed page address, and the picture must change with the room's status.
"""

from __future__ import annotations

from http import HTTPStatus
import io
from unittest.mock import patch
from urllib.parse import parse_qs, urlparse

from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from PIL import Image
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
import zxingcpp

from custom_components.ntnu_library.const import CONF_LABEL_SIZE, DOMAIN
from custom_components.ntnu_library.core.label_fonts import LabelFonts
from custom_components.ntnu_library.core.model import Room, RoomKind
from custom_components.ntnu_library.image import FONT_ISSUE
from custom_components.ntnu_library.subentries import room_subentry
from custom_components.ntnu_library.web.context import WEB

from .conftest import WHOLE_SITE, state_of
from .test_translations import STRINGS


async def _label(
    hass: HomeAssistant, client: ClientSessionGenerator, room: str
) -> tuple[Image.Image, str]:
    """The room's label as served to Home Assistant's frontend, and the QR code's text."""
    state = hass.states.get(f"image.{room.lower()}_e_label")
    assert state is not None
    http = await client()
    response = await http.get(state.attributes["entity_picture"])
    assert response.status == HTTPStatus.OK
    assert response.content_type == "image/png"
    image = Image.open(io.BytesIO(await response.read()))
    image.load()
    codes = zxingcpp.read_barcodes(image)
    assert len(codes) == 1, codes
    return image, codes[0].text


async def test_label_carries_the_signed_room_page(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    hass_client: ClientSessionGenerator,
) -> None:
    """The QR code opens the room's own page; its signature is this site's and room's."""
    image, text = await _label(hass, hass_client, "T01")
    assert image.size == (296, 128)  # the default: a 2.9" tag
    attributes = hass.states.get("image.t01_e_label").attributes
    assert text == attributes["room_page"]
    assert attributes["status"] == "idle"
    assert attributes["kind"] == "temporary"
    url = urlparse(text)
    assert url.path == "/ntnu_library/room/T01"
    signature = parse_qs(url.query)["sig"][0]
    web = hass.data[WEB]
    site = init_integration.runtime_data
    assert web.signer.verify(site.entry_id, "T01", signature)
    assert not web.signer.verify(site.entry_id, "T02", signature)
    _, other = await _label(hass, hass_client, "L01")
    assert other != text and urlparse(other).path == "/ntnu_library/room/L01"


async def test_label_changes_with_the_status(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    hass_client: ClientSessionGenerator,
) -> None:
    """Borrowed: the label shows 使用中 (another picture, a new state); returned: as before."""
    runtime = init_integration.runtime_data
    before_state = state_of(hass, "image.t01_e_label")
    idle, text = await _label(hass, hass_client, "T01")

    await runtime.commands.async_counter_action("borrow", "T01", "S0001")
    await hass.async_block_till_done()
    assert hass.states.get("image.t01_e_label").attributes["status"] == "in_use"
    assert state_of(hass, "image.t01_e_label") != before_state  # the picture's time moved
    in_use, text_in_use = await _label(hass, hass_client, "T01")
    assert text_in_use == text  # the same room page
    assert in_use.tobytes() != idle.tobytes()

    await runtime.commands.async_counter_action("return", "T01", "S0001")
    await hass.async_block_till_done()
    back, _ = await _label(hass, hass_client, "T01")
    assert back.tobytes() == idle.tobytes()
    # Other rooms' labels did not change.
    assert hass.states.get("image.t02_e_label").attributes["status"] == "idle"


async def test_offline_lock_shows_unavailable_on_the_label(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    hass_client: ClientSessionGenerator,
) -> None:
    """The label stays readable (暫停使用) when the lock is away; it is never blank."""
    await hass.services.async_call(
        DOMAIN, "simulate", {"room": "T02", "action": "offline"}, blocking=True
    )
    await hass.async_block_till_done()
    state = hass.states.get("image.t02_e_label")
    assert state.state != "unavailable"
    assert state.attributes["status"] == "unavailable"
    _, text = await _label(hass, hass_client, "T02")
    assert urlparse(text).path == "/ntnu_library/room/T02"


@pytest.mark.parametrize("policy_options", [{CONF_LABEL_SIZE: "400x300"}])
async def test_label_size_is_the_sites_option(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    hass_client: ClientSessionGenerator,
) -> None:
    """A 4.2" tag gets a 400×300 picture, still decodable."""
    image, text = await _label(hass, hass_client, "T01")
    assert image.size == (400, 300)
    assert hass.states.get("image.t01_e_label").attributes["label_size"] == "400x300"
    assert urlparse(text).path == "/ntnu_library/room/T01"


@pytest.mark.parametrize("site_rooms", [WHOLE_SITE])
async def test_no_font_issue_with_the_demo_rooms(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """The names of all eighteen demo rooms draw with the label font: no repair notice."""
    registry = ir.async_get(hass)
    assert registry.async_get_issue(DOMAIN, f"label_font_{init_integration.entry_id}") is None


async def test_font_that_cannot_draw_a_room_name_raises_a_notice(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> None:
    """With only the bundled subset, a rare character in a room's name is a repair notice."""
    room = Room(room_id="T01", name="鬱金香室", kind=RoomKind.TEMPORARY, floor="3F")
    entry = MockConfigEntry(
        domain=DOMAIN,
        title=mock_config_entry.title,
        data=dict(mock_config_entry.data),
        options=dict(mock_config_entry.options),
        subentries_data=[room_subentry(room)],
    )
    entry.add_to_hass(hass)
    with patch(
        "custom_components.ntnu_library.image.default_fonts", return_value=LabelFonts(paths=[])
    ):
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
    issue = ir.async_get(hass).async_get_issue(DOMAIN, f"label_font_{entry.entry_id}")
    assert issue is not None
    assert issue.translation_key == FONT_ISSUE
    assert issue.translation_placeholders["rooms"] == "T01"
    assert issue.translation_placeholders["font"] == "bundled"
    assert FONT_ISSUE in STRINGS["issues"]
    assert await hass.config_entries.async_unload(entry.entry_id)
