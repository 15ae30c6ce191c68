"""The brand images in custom_components/ntnu_library/brand/ (drawn by scripts/lib/draw_brand.py).

What reads them, and what each test mirrors:

* HACS's "brands" check (hacs/integration, custom_components/hacs/validate/brands.py, since
  PR #5128 of 2026-02-28): passes when the repository's tree holds ``brand/icon.png`` in the
  integration's folder (``<content path>/brand/icon.png``, or ``brand/icon.png`` with
  ``content_in_root``); otherwise the domain must be listed on brands.home-assistant.io.
* Home Assistant 2026.3 and newer (the ``brands`` integration) serves a custom integration's
  ``brand/<image>`` at ``/api/brands/integration/<domain>/<image>`` for eight file names,
  before the brands CDN.
* The rules of the brands repository (home-assistant/brands,
  .github/workflows/validate/validate.sh and its README), which those images follow: PNG,
  icon 256x256 and 512x512 for @2x, logo's shortest side 128-256 px (256-512 for @2x), an
  @2x image only next to its normal one, no image byte-identical to the one it stands in
  for; and from the README: transparent background, trimmed, landscape logo.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

from PIL import Image, ImageChops, ImageStat
import pytest

REPO = Path(__file__).resolve().parents[1]
MANIFEST = json.loads(
    (REPO / "custom_components" / "ntnu_library" / "manifest.json").read_text(encoding="utf-8")
)
DOMAIN = MANIFEST["domain"]
BRAND = REPO / "custom_components" / DOMAIN / "brand"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# The file names Home Assistant serves from brand/ (homeassistant/components/brands/const.py,
# ALLOWED_IMAGES) and the brands repository accepts.
ICONS = ("icon.png", "icon@2x.png", "dark_icon.png", "dark_icon@2x.png")
LOGOS = ("logo.png", "logo@2x.png", "dark_logo.png", "dark_logo@2x.png")
IMAGES = ICONS + LOGOS
# Pairs validate.sh refuses to find byte-identical: the second would only repeat the first.
MUST_DIFFER = (
    ("icon.png", "logo.png"),
    ("icon@2x.png", "logo@2x.png"),
    ("dark_icon.png", "dark_logo.png"),
    ("dark_icon@2x.png", "dark_logo@2x.png"),
    ("icon.png", "dark_icon.png"),
    ("icon@2x.png", "dark_icon@2x.png"),
    ("logo.png", "dark_logo.png"),
    ("logo@2x.png", "dark_logo@2x.png"),
    ("icon.png", "icon@2x.png"),
    ("logo.png", "logo@2x.png"),
    ("dark_icon.png", "dark_icon@2x.png"),
    ("dark_logo.png", "dark_logo@2x.png"),
)


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations() -> None:
    """Replaces the conftest's: these tests read files and start no Home Assistant."""


def _hidpi(name: str) -> bool:
    return name.endswith("@2x.png")


def test_hacs_finds_the_icon() -> None:
    """HACS's brands check: <content path>/brand/icon.png is in the repository."""
    hacs = json.loads((REPO / "hacs.json").read_text(encoding="utf-8"))
    if hacs.get("content_in_root"):
        asset = REPO / "brand" / "icon.png"
    else:
        # HACS's content path of an integration: custom_components/<its folder>.
        asset = REPO / "custom_components" / DOMAIN / "brand" / "icon.png"
    assert asset.is_file(), f"HACS's brands check looks for {asset.relative_to(REPO)}"


def test_brand_folder_holds_only_served_images() -> None:
    """Every image Home Assistant serves is there, and nothing it would not serve."""
    assert sorted(path.name for path in BRAND.iterdir()) == sorted(IMAGES)


@pytest.mark.parametrize("name", IMAGES)
def test_image_follows_the_brands_rules(name: str) -> None:
    path = BRAND / name
    assert path.read_bytes().startswith(PNG_SIGNATURE), f"{name} is not a PNG file"
    with Image.open(path) as image:
        assert image.format == "PNG"
        image.load()
        width, height = image.size
        # Transparency: an alpha channel, and transparent pixels around the drawing.
        assert image.mode == "RGBA", f"{name}: {image.mode}, not RGBA (no transparency)"
        alpha = image.getchannel("A")
        assert alpha.getextrema()[0] == 0, f"{name} has no transparent pixel"
        # Trimmed: the drawing reaches all four edges.
        assert alpha.getbbox() == (0, 0, width, height), f"{name} is not trimmed"

    if name in ICONS:
        side = 512 if _hidpi(name) else 256
        assert (width, height) == (side, side), f"{name} is {width}x{height}"
    else:
        shortest = min(width, height)
        low, high = (256, 512) if _hidpi(name) else (128, 256)
        assert low <= shortest <= high, f"{name}: shortest side {shortest} px"
        assert width > height, f"{name} is not landscape"


@pytest.mark.parametrize("name", [name for name in IMAGES if _hidpi(name)])
def test_hidpi_image_is_the_normal_one_twice_as_large(name: str) -> None:
    normal = BRAND / name.replace("@2x", "")
    assert normal.is_file(), f"{name} without {normal.name}"
    with Image.open(BRAND / name) as large, Image.open(normal) as small:
        assert large.size == (small.width * 2, small.height * 2)


@pytest.mark.parametrize(("first", "second"), MUST_DIFFER)
def test_no_image_repeats_another(first: str, second: str) -> None:
    assert (BRAND / first).read_bytes() != (BRAND / second).read_bytes()


def test_images_are_what_the_script_draws() -> None:
    """The PNGs come from scripts/lib/draw_brand.py: edit the script, then run it again."""
    spec = importlib.util.spec_from_file_location(
        "draw_brand", REPO / "scripts" / "lib" / "draw_brand.py"
    )
    assert spec is not None and spec.loader is not None
    draw_brand = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(draw_brand)

    drawn = draw_brand.draw_all()
    assert sorted(drawn) == sorted(IMAGES)
    for name, image in drawn.items():
        with Image.open(BRAND / name) as stored:
            assert stored.size == image.size, name
            # Another Pillow or FreeType may round an edge pixel differently; the picture
            # must be the same.
            difference = ImageChops.difference(stored.convert("RGBA"), image)
            mean = sum(ImageStat.Stat(difference).mean) / 4
            assert mean < 2.0, (
                f"{name} differs from what scripts/lib/draw_brand.py draws; run it again"
            )


@pytest.mark.skipif(
    importlib.util.find_spec("homeassistant.components.brands") is None,
    reason="Home Assistant before 2026.3 takes brand images from brands.home-assistant.io only",
)
@pytest.mark.parametrize("name", ["icon.png", "dark_logo@2x.png"])
async def test_home_assistant_serves_the_brand_images(
    hass: Any, hass_client: Any, enable_custom_integrations: None, name: str
) -> None:
    """What the integrations page shows: Home Assistant's brand endpoint serves our files."""
    from homeassistant.setup import async_setup_component

    assert await async_setup_component(hass, "brands", {})
    client = await hass_client()
    response = await client.get(f"/api/brands/integration/{DOMAIN}/{name}?placeholder=no")
    assert response.status == 200
    assert await response.read() == (BRAND / name).read_bytes()
