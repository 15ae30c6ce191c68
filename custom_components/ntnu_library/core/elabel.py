"""A study room's e-paper door label, drawn as a black-and-white PNG.

The label shows the kind of room (Chinese, with the English below it), the room's name, its
status in both languages and, on the right, a QR code of the room's page. The PNG is 1-bit
(Pillow mode "1"), exactly the tag's resolution, so an e-paper tag shows it without scaling or
dithering; the QR code has whole pixels per module and a quiet zone, so a phone reads it.

`render_label` is plain CPU work (a few milliseconds to tens of them): Home Assistant calls it
in an executor. The same content, size and font give the same bytes. The words are core's
(`room_words`), the font is `label_fonts`' (a CJK font of the machine's or the bundled subset).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from io import BytesIO
from typing import Final

from PIL import Image, ImageDraw, ImageFont
import segno

from .label_fonts import LabelFonts, default_fonts
from .model import RoomKind, RoomStatus
from .room_words import KIND_WORDS, STATUS_WORDS

LABEL_SIZES: Final[dict[str, tuple[int, int]]] = {
    "250x122": (250, 122),  # 2.13"
    "296x128": (296, 128),  # 2.9"
    "400x300": (400, 300),  # 4.2"
    "640x384": (640, 384),  # 7.5"
}
DEFAULT_LABEL_SIZE: Final = "296x128"

# Room names are at most 64 characters; longer text is cut before it is measured.
_MAX_NAME_CHARACTERS: Final = 256
# Drawn at the end of a shortened name.
_ELLIPSIS: Final = "…"
# Text is drawn anti-aliased and thresholded: a pixel is black from this much ink (0-255).
# Below half, so that thin strokes of small Chinese text do not break up.
_INK_THRESHOLD: Final = 96
_THRESHOLD_TABLE: Final = [255 if value >= _INK_THRESHOLD else 0 for value in range(256)]
# Shares of the text column's height: kind in Chinese, kind in English, name; then status.
_TEXT_SHARES: Final = (0.15, 0.11, 0.38)
_STATUS_SHARE: Final = 0.30


@dataclass(frozen=True, slots=True)
class LabelContent:
    """What a room's label shows.

    kind: "temporary" or "long_term"; status: "idle", "in_use", "reserved" or "unavailable";
    room_name: the name as the librarian typed it (any text); url: the room page's address,
    encoded in the QR code as it is.
    """

    kind: str
    room_name: str
    status: str
    url: str

    def __post_init__(self) -> None:
        if self.kind not in KIND_WORDS:
            raise ValueError(f"unknown room kind {self.kind!r}")
        if self.status not in STATUS_WORDS:
            raise ValueError(f"unknown room status {self.status!r}")


def label_size(size: str) -> tuple[int, int]:
    """The (width, height) in pixels of a size name of LABEL_SIZES; ValueError if unknown."""
    try:
        return LABEL_SIZES[size]
    except KeyError:
        raise ValueError(
            f"unknown label size {size!r}; known: {', '.join(sorted(LABEL_SIZES))}"
        ) from None


def render_label(
    content: LabelContent, size: str = DEFAULT_LABEL_SIZE, *, fonts: LabelFonts | None = None
) -> bytes:
    """Draw a room's label and return it as a 1-bit PNG of exactly the size's pixels.

    Wide tags (twice as wide as high or more) have the QR code on the right at full height and
    the texts to its left: the kind in Chinese and English, the name, the status. Taller tags
    give the status a band across the whole width at the bottom, above which the QR code is on
    the right and the kind and name to its left.

    Any room name draws: it is shrunk to fit and, at the smallest size, shortened with "…";
    characters the font lacks show as "?".

    The QR code's modules are 2 pixels or more on every size for a URL of up to 213 bytes
    (version 10 at error correction M), which covers the room pages' addresses; a longer URL
    gets 1-pixel modules on the small tags, which a phone may not read off the glass.
    ValueError for an unknown size, or a URL too long for a QR code on this label.
    """
    width, height = label_size(size)
    if fonts is None:
        fonts = default_fonts()
    image = Image.new("1", (width, height), 1)
    margin = max(3, round(height * 0.03))
    gap = max(2, round(height * 0.03))
    everything = _Box(margin, margin, width - margin, height - margin)
    if width >= 2 * height:
        qr_left = _draw_qr(image, content.url, _Box(0, 0, width, height))
        column = _Box(margin, margin, qr_left, height - margin)
        *rows, band = _split(column, (*_TEXT_SHARES, _STATUS_SHARE), gap)
    else:
        upper, band = _split(everything, (sum(_TEXT_SHARES), _STATUS_SHARE), gap)
        qr_left = _draw_qr(image, content.url, _Box(0, 0, width, upper.bottom))
        rows = _split(_Box(margin, margin, qr_left, upper.bottom), _TEXT_SHARES, gap)
    # The label's own words only shrink; a room name stops shrinking here and is shortened.
    smallest_name = max(8, round(height * 0.07))
    kind_zh, kind_en = KIND_WORDS[RoomKind(content.kind)]
    with fonts.lock:
        _draw_fitted(image, fonts, kind_zh, rows[0], 1, fill=0)
        _draw_fitted(image, fonts, kind_en, rows[1], 1, fill=0)
        name = fonts.drawable(content.room_name[:_MAX_NAME_CHARACTERS])
        _draw_fitted(image, fonts, name, rows[2], smallest_name, fill=0)
        _draw_status(image, fonts, content.status, band)
    buffer = BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@dataclass(frozen=True, slots=True)
class _Box:
    left: int
    top: int
    right: int
    bottom: int

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top


def _draw_qr(image: Image.Image, url: str, area: _Box) -> int:
    """Draw the QR code at the right of area, as large as fits; return where text may end.

    Error correction M, whole pixels per module, no smoothing. The quiet zone is 4 modules
    when that keeps the module size, else down to 2 (readers manage with 2); it may touch the
    label's edge, being white itself. The symbol and its quiet zone take the area's height
    and at most half its width, vertically centred.
    """
    width, height = image.size
    try:
        qr = segno.make(url, error="m", boost_error=False, micro=False)
    except segno.DataOverflowError:
        raise ValueError(f"URL of {len(url)} characters too long for a QR code") from None
    modules = len(qr.matrix)
    room = min(area.height, area.width // 2)
    scale, border = max((room // (modules + 2 * border), border) for border in (4, 3, 2))
    if scale < 1:
        raise ValueError(
            f"URL of {len(url)} characters too long for a QR code on a {width}x{height} label"
        )
    side = (modules + 2 * border) * scale
    left = area.right - side
    top = area.top + (area.height - side) // 2
    draw = ImageDraw.Draw(image)
    for row_index, row in enumerate(qr.matrix):
        y = top + (border + row_index) * scale
        for column_index, dark in enumerate(row):
            if dark & 1:
                x = left + (border + column_index) * scale
                draw.rectangle((x, y, x + scale - 1, y + scale - 1), fill=0)
    # The quiet zone stays clear of text; it is the gap between the two.
    return left


def _split(box: _Box, shares: Sequence[float], gap: int) -> list[_Box]:
    """Boxes stacked top to bottom, heights in proportion to shares, gap between them."""
    usable = box.height - gap * (len(shares) - 1)
    total = sum(shares)
    boxes: list[_Box] = []
    top = box.top
    for number, share in enumerate(shares):
        last = number == len(shares) - 1
        bottom = box.bottom if last else top + round(usable * share / total)
        boxes.append(_Box(box.left, top, box.right, bottom))
        top = bottom + gap
    return boxes


def _draw_status(image: Image.Image, fonts: LabelFonts, status: str, band: _Box) -> None:
    """The status band: white on black while in use, framed when reserved or unavailable.

    The Chinese word is large with the English beside it, smaller, on the same ink bottom; or
    the English under it when that gives the Chinese a larger font (narrow columns).
    """
    status = RoomStatus(status)
    zh, en = STATUS_WORDS[status]
    draw = ImageDraw.Draw(image)
    corners = (band.left, band.top, band.right - 1, band.bottom - 1)
    ink = 0
    if status is RoomStatus.IN_USE:
        draw.rectangle(corners, fill=0)
        ink = 1
    elif status is not RoomStatus.IDLE:
        draw.rectangle(corners, outline=0, width=max(1, round(band.height / 20)))
    pad = max(2, round(band.height * 0.16))
    side_pad = 0 if status is RoomStatus.IDLE else pad  # unframed: aligned with the texts above
    inner = _Box(band.left + side_pad, band.top + pad, band.right - side_pad, band.bottom - pad)

    # Beside: the English at most half the height and 40 % of the width, the Chinese the rest.
    english_size = _fit_size(fonts, en, inner.width * 2 // 5, inner.height // 2)
    english_width = _ink_width(fonts, en, english_size)
    beside = _Box(inner.left, inner.top, inner.right - english_width - pad, inner.bottom)
    # Under: the Chinese in the upper 62 %, the English below.
    upper, lower = _split(inner, (0.62, 0.38), max(1, pad // 2))
    if _fit_size(fonts, zh, beside.width, beside.height) >= _fit_size(
        fonts, zh, upper.width, upper.height
    ):
        drawn = _draw_fitted(image, fonts, zh, beside, 1, fill=ink)
        _draw_text(image, fonts.font(english_size), en, drawn.right + pad, drawn.bottom, ink)
    else:
        _draw_fitted(image, fonts, zh, upper, 1, fill=ink)
        _draw_fitted(image, fonts, en, lower, 1, fill=ink)


def _ink(font: ImageFont.FreeTypeFont, text: str) -> _Box:
    """Text's ink box relative to its baseline origin."""
    left, top, right, bottom = font.getbbox(text, anchor="ls")
    return _Box(int(left), int(top), int(right), int(bottom))


def _ink_width(fonts: LabelFonts, text: str, size: int) -> int:
    return _ink(fonts.font(size), text).width


def _fit_size(fonts: LabelFonts, text: str, width: int, height: int) -> int:
    """The largest pixel size (at least 1) at which text's ink fits width x height."""
    if not text.strip() or width <= 0 or height <= 0:
        return 1
    low, high = 1, max(1, height * 2)
    while low < high:  # ink grows with the size: binary search for the last size that fits
        middle = (low + high + 1) // 2
        ink = _ink(fonts.font(middle), text)
        if ink.width <= width and ink.height <= height:
            low = middle
        else:
            high = middle - 1
    return low


def _draw_fitted(
    image: Image.Image, fonts: LabelFonts, text: str, box: _Box, smallest: int, *, fill: int
) -> _Box:
    """Draw text left-aligned in box, as large as fits, vertically centred; return its ink box.

    Text that would need a font below `smallest` pixels is drawn at that size (or the box's
    height, if less) and cut to fit, ending in "…".
    """
    if not text or box.width <= 0 or box.height <= 0:
        return _Box(box.left, box.top, box.left, box.bottom)
    size = _fit_size(fonts, text, box.width, box.height)
    if size < smallest:
        size = min(smallest, box.height)
        text = _shorten(fonts.font(size), text, box.width)
    ink = _ink(fonts.font(size), text)
    bottom = box.top + (box.height - ink.height) // 2 + ink.height
    return _draw_text(image, fonts.font(size), text, box.left, bottom, fill)


def _draw_text(
    image: Image.Image, font: ImageFont.FreeTypeFont, text: str, left: int, bottom: int, fill: int
) -> _Box:
    """Draw text with its ink's left edge at left and its ink's bottom at bottom.

    FreeType's anti-aliased rendering is thresholded at _INK_THRESHOLD rather than drawn 1-bit,
    which keeps the strokes of small Chinese characters whole. Returns the ink box.
    """
    ink = _ink(font, text)
    x, y = left - ink.left, bottom - ink.bottom
    mask = Image.new("L", image.size, 0)
    ImageDraw.Draw(mask).text((x, y), text, fill=255, font=font, anchor="ls")
    image.paste(fill, mask=mask.point(_THRESHOLD_TABLE, "1"))
    return _Box(left, y + ink.top, x + ink.right, bottom)


def _shorten(font: ImageFont.FreeTypeFont, text: str, width: int) -> str:
    """The longest start of text, plus "…", whose ink fits width (just "…" at worst)."""
    fitting, longest = 0, len(text) - 1
    while fitting < longest:  # binary search: a longer start never gets narrower
        middle = (fitting + longest + 1) // 2
        if _ink(font, text[:middle].rstrip() + _ELLIPSIS).width <= width:
            fitting = middle
        else:
            longest = middle - 1
    return text[:fitting].rstrip() + _ELLIPSIS
