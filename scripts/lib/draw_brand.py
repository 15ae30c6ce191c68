"""Draw the integration's brand images into custom_components/ntnu_library/brand/.

    .venv/bin/python scripts/lib/draw_brand.py [--out DIR]

A study-room door with an open book in front of it, on a library-blue tile; the logo adds
the words "NTNU Library". Eight PNGs, as Home Assistant
(2026.3 and newer) serves them from a custom integration's brand/ folder and as the brands
repository's rules want them (transparent background, trimmed, icon square):

    icon.png 256x256, icon@2x.png 512x512, logo.png 128 px high, logo@2x.png 256 px high,
    and dark_* variants of each for dark themes.

Only Pillow (which Home Assistant installs) and its built-in font are used, and nothing
depends on the time or the machine, so the same Pillow draws the same files again.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

REPO = Path(__file__).resolve().parents[2]
BRAND_DIR = REPO / "custom_components" / "ntnu_library" / "brand"

ICON_SIZE = 256  # icon.png; icon@2x.png is twice that
LOGO_HEIGHT = 128  # logo.png; logo@2x.png is twice that
SUPERSAMPLE = 4  # drawn this many times larger, then scaled down (smooth edges)

# Light theme: a deep library blue; dark theme: a lighter blue that stands out on dark grey.
THEMES: dict[bool, dict[str, tuple[int, int, int]]] = {
    False: {
        "tile_top": (0x2A, 0x55, 0x96),
        "tile_bottom": (0x17, 0x33, 0x63),
        "frame": (0xFF, 0xFF, 0xFF),
        "leaf": (0xE3, 0xEC, 0xF8),
        "panel": (0xB9, 0xCB, 0xE6),
        "book": (0xF2, 0xB1, 0x34),
        "book_shade": (0xD4, 0x8E, 0x12),
        "pages": (0xFF, 0xF6, 0xE0),
        "ink": (0x17, 0x33, 0x63),
        "title": (0x17, 0x33, 0x63),
    },
    True: {
        "tile_top": (0x5C, 0x8F, 0xD8),
        "tile_bottom": (0x34, 0x64, 0xAE),
        "frame": (0xFF, 0xFF, 0xFF),
        "leaf": (0xE8, 0xF0, 0xFB),
        "panel": (0xBF, 0xD2, 0xEE),
        "book": (0xF6, 0xBE, 0x4A),
        "book_shade": (0xDB, 0x9A, 0x22),
        "pages": (0xFF, 0xF8, 0xE6),
        "ink": (0x23, 0x4A, 0x86),
        "title": (0xF4, 0xF7, 0xFB),
    },
}


def _rgba(color: tuple[int, int, int], alpha: int = 255) -> tuple[int, int, int, int]:
    return (*color, alpha)


def _vertical_gradient(
    size: int, top: tuple[int, int, int], bottom: tuple[int, int, int]
) -> Image.Image:
    """A square image fading from top to bottom."""
    column = Image.new("RGBA", (1, size))
    for y in range(size):
        t = y / (size - 1)
        column.putpixel(
            (0, y), _rgba(tuple(round(a + (b - a) * t) for a, b in zip(top, bottom, strict=True)))
        )
    return column.resize((size, size), Image.Resampling.NEAREST)


def _book(draw: ImageDraw.ImageDraw, s: float, colors: dict[str, tuple[int, int, int]]) -> None:
    """An open book lying across the foot of the door (coordinates in units of the tile)."""
    cx = 0.5 * s
    spine_top, spine_bottom = 0.685 * s, 0.855 * s
    half = 0.34 * s  # half the book's width
    lift = 0.055 * s  # the outer corners sit higher than the spine: the pages curve

    def page(sign: int, inset: float, drop: float) -> list[tuple[float, float]]:
        outer = cx + sign * (half - inset)
        points = [(cx, spine_top + drop)]
        # The top edge bows up from the spine to the outer corner.
        for i in range(1, 9):
            t = i / 8
            x = cx + sign * (half - inset) * t
            y = spine_top + drop - lift * (2 * t - t * t) - 0.012 * s * t
            points.append((x, y))
        points += [(outer, spine_bottom - lift - 0.01 * s), (cx, spine_bottom)]
        return points

    # The cover, a little larger than the pages, then the two page blocks.
    for sign in (-1, 1):
        cover = page(sign, -0.022 * s, 0.03 * s)
        cover[-2] = (cover[-2][0], cover[-2][1] + 0.035 * s)
        cover[-1] = (cx, spine_bottom + 0.03 * s)
        draw.polygon(cover, fill=_rgba(colors["book"] if sign < 0 else colors["book_shade"]))
    for sign in (-1, 1):
        draw.polygon(page(sign, 0.0, 0.0), fill=_rgba(colors["pages"]))
    # Lines of text on each page.
    width = max(1, round(0.012 * s))
    for sign in (-1, 1):
        for row in range(3):
            y0 = spine_top + 0.035 * s + row * 0.033 * s
            x_near, x_far = cx + sign * 0.05 * s, cx + sign * (half - 0.06 * s)
            draw.line(
                [(x_near, y0 + 0.004 * s), (x_far, y0 - 0.03 * s)],
                fill=_rgba(colors["panel"]),
                width=width,
            )
    draw.line([(cx, spine_top), (cx, spine_bottom)], fill=_rgba(colors["ink"]), width=width)


def _tile(size: int, dark: bool) -> Image.Image:
    """The square icon, drawn at `size` pixels (call with a supersampled size)."""
    colors = THEMES[dark]
    s = float(size)
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    mask = Image.new("L", (size, size), 0)
    ImageDraw.Draw(mask).rounded_rectangle(
        (0, 0, size - 1, size - 1), radius=round(0.2 * s), fill=255
    )
    image.paste(_vertical_gradient(size, colors["tile_top"], colors["tile_bottom"]), mask=mask)

    draw = ImageDraw.Draw(image)
    # The door: its frame, the leaf inside it, two sunk panels, a lock.
    left, right, top, bottom = 0.28 * s, 0.72 * s, 0.12 * s, 0.80 * s
    draw.rounded_rectangle(
        (left, top, right, bottom), radius=0.035 * s, fill=_rgba(colors["frame"])
    )
    inset = 0.036 * s
    leaf = (left + inset, top + inset, right - inset, bottom)
    draw.rectangle(leaf, fill=_rgba(colors["leaf"]))
    panel_width = round(0.016 * s)
    # Narrower on the lock side, where the stile carries the lock.
    panel_left, panel_right = leaf[0] + 0.05 * s, leaf[2] - 0.1 * s
    for panel_top, panel_bottom in ((leaf[1] + 0.05 * s, 0.40 * s), (0.45 * s, 0.66 * s)):
        draw.rounded_rectangle(
            (panel_left, panel_top, panel_right, panel_bottom),
            radius=0.015 * s,
            outline=_rgba(colors["panel"]),
            width=panel_width,
        )
    # The lock: a gold round plate with a keyhole, where a hand reaches for it.
    lock_x, lock_y, lock_r = leaf[2] - 0.052 * s, 0.425 * s, 0.034 * s
    draw.ellipse(
        (lock_x - lock_r, lock_y - lock_r, lock_x + lock_r, lock_y + lock_r),
        fill=_rgba(colors["book"]),
    )
    hole = 0.012 * s
    draw.ellipse(
        (lock_x - hole, lock_y - hole - 0.006 * s, lock_x + hole, lock_y + hole - 0.006 * s),
        fill=_rgba(colors["ink"]),
    )
    draw.polygon(
        [
            (lock_x - 0.6 * hole, lock_y),
            (lock_x + 0.6 * hole, lock_y),
            (lock_x + 0.9 * hole, lock_y + 0.022 * s),
            (lock_x - 0.9 * hole, lock_y + 0.022 * s),
        ],
        fill=_rgba(colors["ink"]),
    )
    _book(draw, s, colors)
    return image


def _downscale(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Scale down with premultiplied alpha, so transparent edges get no dark fringe."""
    premultiplied = image.convert("RGBa").resize(size, Image.Resampling.LANCZOS)
    return premultiplied.convert("RGBA")


def draw_icon(size: int, dark: bool) -> Image.Image:
    """The icon, `size` x `size` pixels."""
    return _downscale(_tile(size * SUPERSAMPLE, dark), (size, size))


def _text(words: str, font_size: int, stroke: int, color: tuple[int, int, int]) -> Image.Image:
    """Words in Pillow's built-in font, made bolder by a stroke, cropped to their ink."""
    font = ImageFont.load_default(size=font_size)
    left, top, right, bottom = font.getbbox(words, stroke_width=stroke)
    image = Image.new("RGBA", (right - left + 4, bottom - top + 4), (0, 0, 0, 0))
    ImageDraw.Draw(image).text(
        (2 - left, 2 - top),
        words,
        font=font,
        fill=_rgba(color),
        stroke_width=stroke,
        stroke_fill=_rgba(color),
    )
    return image.crop(image.getbbox())


def draw_logo(factor: int, dark: bool) -> Image.Image:
    """The icon and the words beside it, LOGO_HEIGHT * factor pixels high, trimmed.

    Drawn once at the largest size, so logo@2x.png is exactly twice logo.png.
    """
    colors = THEMES[dark]
    big = LOGO_HEIGHT * 2 * SUPERSAMPLE
    icon = _tile(big, dark)
    title = _text("NTNU Library", round(0.56 * big), round(0.02 * big), colors["title"])
    gap = round(0.14 * big)
    canvas = Image.new("RGBA", (big + gap + title.width, big), (0, 0, 0, 0))
    canvas.paste(icon, (0, 0))
    canvas.alpha_composite(title, (big + gap, (big - title.height) // 2))
    canvas = canvas.crop(canvas.getbbox())
    width = round(canvas.width * LOGO_HEIGHT / canvas.height)
    return _downscale(canvas, (width * factor, LOGO_HEIGHT * factor))


def draw_all() -> dict[str, Image.Image]:
    """Every brand image by file name."""
    images: dict[str, Image.Image] = {}
    for dark in (False, True):
        prefix = "dark_" if dark else ""
        for factor, suffix in ((1, ""), (2, "@2x")):
            images[f"{prefix}icon{suffix}.png"] = draw_icon(ICON_SIZE * factor, dark)
            images[f"{prefix}logo{suffix}.png"] = draw_logo(factor, dark)
    return images


def main() -> None:
    """Write the PNGs."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=BRAND_DIR, help=f"default: {BRAND_DIR}")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name, image in draw_all().items():
        path = args.out / name
        image.save(path, format="PNG", optimize=True)
        print(f"{path}: {image.width}x{image.height}")


if __name__ == "__main__":
    main()
