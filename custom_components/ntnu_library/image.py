"""The e-label of each room as an image entity: what the e-paper tag by the door shows.

個人臨時研究室 / 個人長期研究室, the room's name, its status word and the QR code of the room's
signed page, as a black-and-white PNG of the site's label size. The picture changes when the
room's status does; a blueprint pushes it (or its parts) to the tag.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from homeassistant.components.image import ImageEntity
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.util import dt as dt_util

from . import NtnuLibraryConfigEntry
from .const import DOMAIN
from .core.elabel import LabelContent, render_label
from .core.label_fonts import default_fonts
from .core.model import Room
from .entity import RoomEntity, room_subentry_pairs
from .options_flow import label_size
from .site import Site
from .web.context import WEB

URL_MAX_AGE_S = 60.0  # a new external address shows on the labels within this

_LOGGER = logging.getLogger(__name__)

PARALLEL_UPDATES = 0

# The repair notice when the label font cannot draw a room's name.
FONT_ISSUE = "label_font_missing"


async def async_setup_entry(
    hass: HomeAssistant,
    entry: NtnuLibraryConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """One e-label per room; the label font is found once (it reads the disk)."""
    runtime = entry.runtime_data
    fonts = await hass.async_add_executor_job(default_fonts)
    _LOGGER.debug("E-labels of %s are drawn with the font %s", entry.title, fonts.source)
    size = label_size(entry.options)
    missing: dict[str, str] = {}
    for room, subentry_id in room_subentry_pairs(runtime, entry):
        async_add_entities([ELabel(hass, runtime, room, size)], config_subentry_id=subentry_id)
        if gaps := fonts.missing(room.name):
            missing[room.room_id] = "".join(sorted(gaps))[:20]
    issue_id = f"label_font_{entry.entry_id}"
    if missing:
        _LOGGER.warning(
            "The e-label font (%s) cannot draw some characters of rooms %s; install a CJK font "
            "such as Noto Sans CJK",
            fonts.source,
            ", ".join(sorted(missing)),
        )
        ir.async_create_issue(
            hass,
            DOMAIN,
            issue_id,
            is_fixable=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key=FONT_ISSUE,
            translation_placeholders={
                "site": entry.title,
                "rooms": ", ".join(sorted(missing)),
                "font": fonts.source,
            },
        )
    else:
        ir.async_delete_issue(hass, DOMAIN, issue_id)


class ELabel(RoomEntity, ImageEntity):
    """The room's e-paper label as a PNG."""

    _attr_translation_key = "e_label"
    _attr_content_type = "image/png"
    _url_cache: tuple[float, str] | None = None  # (when, the room page's address)

    def __init__(self, hass: HomeAssistant, runtime: Site, room: Room, size: str) -> None:
        RoomEntity.__init__(self, runtime, "e_label", room)
        ImageEntity.__init__(self, hass)
        self._size = size
        self._web = hass.data[WEB]
        self._content = self._read()
        self._attr_image_last_updated = dt_util.utcnow()
        self._png: bytes | None = None
        self._was_available: bool | None = None  # as last written

    @property
    def available(self) -> bool:
        """The label shows 暫停使用 when the lock is away; it is never blank."""
        return True

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """What a blueprint needs to draw the tag itself (all of it printed on the door)."""
        return {
            "room_page": self._content.url,
            "status": self._content.status,
            "kind": self._content.kind,
            "room_name": self._content.room_name,
            "label_size": self._size,
        }

    def _read(self) -> LabelContent:
        room_id = self.room.room_id
        return LabelContent(
            kind=self.room.kind.value,
            room_name=self.room.name,
            status=self.runtime.status(room_id).value,
            url=self._url(),
        )

    def _url(self) -> str:
        """The room page's signed address: worked out again at most once a minute.

        It changes only when Home Assistant's own address does; working it out (the address,
        the signature) at every change of the room cost more than the rest of the label.
        """
        now = time.monotonic()
        cached = self._url_cache
        if cached is None or now - cached[0] >= URL_MAX_AGE_S:
            cached = (now, self._web.room_url(self.runtime, self.room.room_id))
            self._url_cache = cached
        return cached[1]

    @callback
    def _handle_room_update(self, room_id: str | None) -> None:
        content = self._read()
        if content == self._content and self.available == self._was_available:
            return  # the label shows the same: nothing to draw or write
        self._was_available = self.available
        if content != self._content:
            self._content = content
            self._png = None
            self._attr_image_last_updated = dt_util.utcnow()
        self.async_write_ha_state()

    async def async_image(self) -> bytes | None:
        """The label as it is now (drawn once per change, off the event loop)."""
        if self._png is None:
            content = self._content
            png = await self.hass.async_add_executor_job(render_label, content, self._size)
            if content == self._content:
                self._png = png
            return png
        return self._png
