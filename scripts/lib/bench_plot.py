"""Plot set-up time and memory against rooms from a `scripts/bench` run (PNG, with Pillow).

    scripts/bench | tee bench.out
    .venv/bin/python scripts/lib/bench_plot.py bench.out docs/bench-scale.png

Reads the last line of the bench's output (its JSON object, `scale_curve`) and draws two
panels side by side on logarithmic axes: set-up time (first start and restart) and process
memory per room, each against the number of rooms. Pillow comes with Home Assistant, so the
plot needs nothing more than the bench's own environment.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
import sys

from PIL import Image, ImageDraw, ImageFont

WIDTH, HEIGHT = 1200, 520
PANEL_W = WIDTH // 2
MARGIN = {"left": 80, "right": 30, "top": 60, "bottom": 70}
COLOURS = {"first start": (31, 119, 180), "restart": (255, 127, 14), "memory": (44, 160, 44)}


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    for name in ("DejaVuSans.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"):
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default()


def _ticks(low: float, high: float) -> list[float]:
    """Powers of ten (and 2x, 5x when few) covering low..high."""
    ticks = []
    for exponent in range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1):
        for step in (1, 2, 5):
            value = step * 10**exponent
            if low <= value <= high:
                ticks.append(value)
    return ticks


def _panel(
    draw: ImageDraw.ImageDraw,
    x0: int,
    title: str,
    ylabel: str,
    rooms: list[int],
    series: dict[str, list[float | None]],
) -> None:
    font, small = _font(18), _font(14)
    left, top = x0 + MARGIN["left"], MARGIN["top"]
    right, bottom = x0 + PANEL_W - MARGIN["right"], HEIGHT - MARGIN["bottom"]
    values = [v for line in series.values() for v in line if v]
    y_low, y_high = min(values) / 1.5, max(values) * 1.5
    x_low, x_high = min(rooms) / 1.5, max(rooms) * 1.5

    def at(n: float, v: float) -> tuple[float, float]:
        x = left + (math.log10(n) - math.log10(x_low)) / math.log10(x_high / x_low) * (right - left)
        y = bottom - (math.log10(v) - math.log10(y_low)) / math.log10(y_high / y_low) * (
            bottom - top
        )
        return x, y

    draw.text((x0 + PANEL_W // 2, 20), title, fill="black", font=font, anchor="mt")
    draw.rectangle((left, top, right, bottom), outline="black")
    for tick in _ticks(y_low, y_high):
        _, y = at(x_low, tick)
        draw.line((left, y, right, y), fill=(225, 225, 225))
        draw.text((left - 8, y), f"{tick:g}", fill="black", font=small, anchor="rm")
    for n in rooms:
        x, _ = at(n, y_low)
        draw.line((x, top, x, bottom), fill=(225, 225, 225))
        draw.text((x, bottom + 8), f"{n:,}", fill="black", font=small, anchor="mt")
    draw.text(((left + right) / 2, HEIGHT - 25), "rooms", fill="black", font=small, anchor="mm")
    draw.text((x0 + 12, (top + bottom) / 2), ylabel, fill="black", font=small, anchor="lm")
    for row, (name, line) in enumerate(series.items()):
        colour = COLOURS[name]
        points = [at(n, v) for n, v in zip(rooms, line, strict=True) if v]
        if len(points) > 1:
            draw.line(points, fill=colour, width=3)
        for x, y in points:
            draw.ellipse((x - 5, y - 5, x + 5, y + 5), fill=colour)
        draw.text((left + 12, top + 10 + 22 * row), f"— {name}", fill=colour, font=small)


def plot(figures: dict, out: Path) -> None:
    """Draw the two panels into `out`."""
    curve = figures["scale_curve"]
    rooms = curve["rooms"]
    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    _panel(
        draw,
        0,
        "Set-up until every device is configured",
        "s",
        rooms,
        {"first start": curve["setup_s"], "restart": curve["restart_setup_s"]},
    )
    _panel(
        draw,
        PANEL_W,
        "Process memory per room (RSS)",
        "KB",
        rooms,
        {"memory": curve["kb_per_room"]},
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    image.save(out)


if __name__ == "__main__":
    last = Path(sys.argv[1]).read_text(encoding="utf-8").strip().splitlines()[-1]
    plot(json.loads(last), Path(sys.argv[2]))
