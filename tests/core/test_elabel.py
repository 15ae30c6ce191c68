"""The room's e-paper label: exact size, black and white, a QR code a reader decodes, any name.

The QR code is read back with zxing-cpp, as a phone's camera app would. Most tests force the
bundled subset font (`LabelFonts(paths=[])`), so they draw the same on every machine; the pick
of a collection's Traditional Chinese face is tested on a collection made of the bundled font,
so nothing here depends on the machine's fonts but the one test of Debian's Noto Sans CJK,
which CI installs (there it fails rather than skips).

The longest URL these tests decode: 213 bytes on every size with modules of 2 pixels or more
(QR version 10 at error correction M). Longer URLs still decode from the PNG, at 1 pixel a
module on the 2.13" and 2.9" tags, which a phone may not manage off the glass.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from io import BytesIO
from pathlib import Path
import struct

from PIL import Image, ImageFilter
import pytest
import segno
import zxingcpp

from custom_components.ntnu_library.core.elabel import (
    DEFAULT_LABEL_SIZE,
    LABEL_SIZES,
    LabelContent,
    label_size,
    render_label,
)
from custom_components.ntnu_library.core.label_fonts import (
    BUNDLED_FONT,
    BUNDLED_FONT_CHARACTERS,
    LabelFonts,
    clean_text,
    default_fonts,
)
from custom_components.ntnu_library.core.room_words import KIND_WORDS, STATUS_WORDS

from ..demo_harness import in_ci

URL = "http://192.168.1.20:8123/ntnu_library/room/T01?sig=AbCdEfGhIjKlMnOp"
BASE = "http://192.168.1.20:8123/ntnu_library/room/T01?sig="
SYSTEM_NOTO = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")


def _url(length: int) -> str:
    return (BASE + "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_" * (length // 38 + 1))[:length]


@pytest.fixture(scope="module")
def bundled() -> LabelFonts:
    return LabelFonts(paths=[])


def _render(
    fonts: LabelFonts,
    *,
    kind: str = "temporary",
    name: str = "T01",
    status: str = "idle",
    url: str = URL,
    size: str = DEFAULT_LABEL_SIZE,
) -> bytes:
    return render_label(LabelContent(kind, name, status, url), size, fonts=fonts)


def _image(png: bytes) -> Image.Image:
    image = Image.open(BytesIO(png))
    image.load()
    return image


def _read_qr(image: Image.Image) -> zxingcpp.Barcode:
    """The one barcode in the image, which must be a QR code."""
    found = zxingcpp.read_barcodes(image)
    assert len(found) == 1, found
    assert found[0].format == zxingcpp.BarcodeFormat.QRCode
    return found[0]


def _module_pixels(barcode: zxingcpp.Barcode, url: str) -> float:
    modules = len(segno.make(url, error="m", boost_error=False, micro=False).matrix)
    position = barcode.position
    return (position.top_right.x - position.top_left.x) / modules


def _black(image: Image.Image, box: tuple[int, int, int, int]) -> int:
    return image.crop(box).convert("L").histogram()[0]


def _name_table(family: str) -> bytes:
    """An OpenType name table with only a family (ID 1) and a style (ID 2), Windows Unicode."""
    names = [(1, family.encode("utf-16-be")), (2, "Regular".encode("utf-16-be"))]
    records, offset = b"", 0
    for name_id, text in names:
        records += struct.pack(">6H", 3, 1, 0x409, name_id, len(text), offset)
        offset += len(text)
    return (
        struct.pack(">3H", 0, len(names), 6 + len(records))
        + records
        + b"".join(text for _, text in names)
    )


def _collection(path: Path, families: Sequence[str]) -> Path:
    """A font collection (.ttc) of the bundled font, one face per family name, at path.

    Every face shares the bundled font's tables but has a name table of its own (written here:
    fontTools is not installed), so the faces draw alike and differ only in their names.
    """
    font = BUNDLED_FONT.read_bytes()
    version, count = struct.unpack_from(">4sH", font)
    shared: dict[bytes, bytes] = {}
    for index in range(count):
        tag, _, offset, length = struct.unpack_from(">4sIII", font, 12 + 16 * index)
        if tag != b"name":
            shared[tag] = font[offset : offset + length]
    directory_size = 12 + 16 * (len(shared) + 1)
    header_size = 12 + 4 * len(families)
    data = bytearray()

    def place(table: bytes) -> int:
        """Append a table, 4-byte aligned; its offset in the file."""
        offset = header_size + directory_size * len(families) + len(data)
        data.extend(table + b"\0" * (-len(table) % 4))
        return offset

    shared_at = {tag: (place(table), len(table)) for tag, table in shared.items()}
    head = bytearray(b"ttcf" + struct.pack(">2I", 0x00010000, len(families)))
    for number in range(len(families)):
        head += struct.pack(">I", header_size + directory_size * number)
    for family in families:
        name = _name_table(family)
        tables = shared_at | {b"name": (place(name), len(name))}
        head += version + struct.pack(">4H", len(tables), 0, 0, 0)
        for tag in sorted(tables):
            head += tag + struct.pack(">3I", 0, *tables[tag])
    path.write_bytes(bytes(head + data))
    return path


def test_the_sizes_include_the_common_tags() -> None:
    assert {"296x128", "400x300", "250x122", "640x384"} <= LABEL_SIZES.keys()
    assert DEFAULT_LABEL_SIZE == "296x128"
    for name, (width, height) in LABEL_SIZES.items():
        assert name == f"{width}x{height}"
        assert label_size(name) == (width, height)


@pytest.mark.parametrize("size", sorted(LABEL_SIZES))
@pytest.mark.parametrize("kind", sorted(KIND_WORDS))
@pytest.mark.parametrize("status", sorted(STATUS_WORDS))
def test_every_label_is_exactly_its_size_black_and_white_with_a_readable_qr_code(
    bundled: LabelFonts, size: str, kind: str, status: str
) -> None:
    image = _image(_render(bundled, kind=kind, status=status, size=size))
    assert image.format == "PNG"
    assert image.size == LABEL_SIZES[size]
    assert image.mode == "1"
    assert set(image.convert("L").tobytes()) == {0, 255}
    barcode = _read_qr(image)
    assert barcode.text == URL
    assert _module_pixels(barcode, URL) >= 2
    # The QR code is on the right: the texts have the left third to themselves.
    assert barcode.position.top_left.x > LABEL_SIZES[size][0] // 3


@pytest.mark.parametrize("size", ["296x128", "250x122"])
def test_a_150_character_url_reads_on_the_small_tags(bundled: LabelFonts, size: str) -> None:
    url = _url(150)
    barcode = _read_qr(_image(_render(bundled, url=url, size=size)))
    assert barcode.text == url
    assert _module_pixels(barcode, url) >= 2


@pytest.mark.parametrize("size", sorted(LABEL_SIZES))
def test_a_213_byte_url_still_has_modules_of_two_pixels(bundled: LabelFonts, size: str) -> None:
    url = _url(213)
    barcode = _read_qr(_image(_render(bundled, url=url, size=size)))
    assert barcode.text == url
    assert _module_pixels(barcode, url) >= 2


def test_a_longer_url_gets_one_pixel_modules_on_the_small_tags(bundled: LabelFonts) -> None:
    url = _url(400)
    for size in ("250x122", "296x128"):
        barcode = _read_qr(_image(_render(bundled, url=url, size=size)))
        assert barcode.text == url
        assert _module_pixels(barcode, url) == pytest.approx(1)


def test_a_url_beyond_any_qr_code_is_refused(bundled: LabelFonts) -> None:
    with pytest.raises(ValueError, match="too long"):
        _render(bundled, url="x" * 3000)
    # Version 40 holds it, but 181 modules cannot fit 122 pixels.
    with pytest.raises(ValueError, match="too long"):
        _render(bundled, url=_url(2000), size="250x122")


def test_the_qr_code_survives_blur_scaling_and_a_slight_tilt(bundled: LabelFonts) -> None:
    image = _image(_render(bundled)).convert("L")
    photo = image.resize((image.width * 3, image.height * 3), Image.Resampling.BILINEAR)
    photo = photo.rotate(4, resample=Image.Resampling.BILINEAR, expand=True, fillcolor=255)
    photo = photo.filter(ImageFilter.GaussianBlur(1.5))
    assert _read_qr(photo).text == URL


def test_the_same_input_gives_the_same_bytes_and_statuses_differ(bundled: LabelFonts) -> None:
    idle = _render(bundled, status="idle")
    assert _render(bundled, status="idle") == idle
    assert _render(LabelFonts(paths=[]), status="idle") == idle
    labels = {status: _render(bundled, status=status) for status in STATUS_WORDS}
    assert len(set(labels.values())) == len(STATUS_WORDS)
    assert _render(bundled, kind="long_term") != idle
    assert _render(bundled, name="T02") != idle
    assert _render(bundled, url=URL + "x") != idle


def test_rendering_from_several_threads_at_once_gives_the_same_bytes() -> None:
    fonts = LabelFonts(paths=[])
    expected = {status: _render(LabelFonts(paths=[]), status=status) for status in STATUS_WORDS}
    jobs = list(STATUS_WORDS) * 4
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda status: _render(fonts, status=status), jobs))
    assert results == [expected[status] for status in jobs]


def test_the_text_column_has_ink_and_in_use_is_white_on_black(bundled: LabelFonts) -> None:
    width, height = LABEL_SIZES[DEFAULT_LABEL_SIZE]
    idle = _image(_render(bundled, status="idle"))
    in_use = _image(_render(bundled, status="in_use"))
    left_half = (0, 0, width // 2, height)
    assert _black(idle, left_half) > 0.05 * (width // 2) * height
    # The status row is the bottom 30 %: it has ink when idle, and is mostly black in use.
    status_row = (0, height * 7 // 10, width // 2, height - 6)
    area = (width // 2) * (height - 6 - height * 7 // 10)
    assert 0.05 * area < _black(idle, status_row) < 0.5 * area
    assert _black(in_use, status_row) > 0.6 * area
    # Kind and name rows: the same ink whatever the status.
    top = (0, 0, width // 2, height // 2)
    assert _black(idle, top) == _black(in_use, top) > 0


@pytest.mark.parametrize(
    "name",
    [
        "<b>T01</b>",
        "研究室 T01",
        "A" * 64,
        "研" * 64,
        "T01 🎉",
        "👩‍👩‍👧‍👦 ❤️ 🇹🇼",
        "",
        "   ",
        "\u200b\u200e\ufeff",
        "T\u0000\u0007\t01\n\r",
        "Café e\u0301 Ångström",
        "غرفة ١",
        "鬱鬱蔥蔥",
        "\ud800 lone surrogate",
        "\U0010fffd private use",
        "x" * 100_000,
        "&amp; {0} %s \\ ' \"",
    ],
)
def test_any_room_name_renders_and_the_qr_code_still_reads(bundled: LabelFonts, name: str) -> None:
    for size in ("250x122", "400x300"):
        image = _image(_render(bundled, name=name, size=size))
        assert image.size == LABEL_SIZES[size]
        assert _read_qr(image).text == URL


def test_a_name_too_long_for_the_label_is_shortened_with_an_ellipsis(bundled: LabelFonts) -> None:
    # Both names are cut at the same point, so the rest of the name makes no difference.
    long_name = "研究室" + "A" * 61
    assert _render(bundled, name=long_name) == _render(bundled, name=long_name + "BCD")
    assert _render(bundled, name=long_name) != _render(bundled, name="研究室")


def test_characters_the_font_lacks_are_drawn_as_question_marks(bundled: LabelFonts) -> None:
    assert _render(bundled, name="T01 鬱") == _render(bundled, name="T01 ?")
    assert _render(bundled, name="T01 🎉\ufe0f") == _render(bundled, name="T01 ?")


def test_the_bundled_font_draws_the_label_words_and_not_rare_characters(
    bundled: LabelFonts,
) -> None:
    assert bundled.source == "bundled"
    assert bundled.missing("閒置使用中個人臨時研究室") == set()
    for zh, en in (*KIND_WORDS.values(), *STATUS_WORDS.values()):
        assert bundled.missing(zh + en) == set()
    assert (
        bundled.missing("開門結束使用登錄借用歸還研究室樓層可用間總館公館林口分館圖書館") == set()
    )
    assert bundled.missing("鬱") == {"鬱"}
    assert bundled.missing("T01 鬱🎉") == {"鬱", "🎉"}
    # White space and invisible characters are never missing: they have nothing to draw.
    assert bundled.missing(" \t\n\u3000\u200b\ufe0f") == set()


def test_the_bundled_font_draws_every_character_it_was_cut_for(bundled: LabelFonts) -> None:
    characters = BUNDLED_FONT_CHARACTERS.read_text(encoding="utf-8").rstrip("\n")
    assert len(characters) == len(set(characters)) >= 600
    assert "…" in characters
    assert bundled.missing(characters) == set()
    assert BUNDLED_FONT.stat().st_size < 400_000


def test_unusable_font_paths_fall_back_to_the_bundled_font(tmp_path: Path) -> None:
    not_a_font = tmp_path / "NotoSansCJK-Regular.ttc"
    not_a_font.write_bytes(b"not a font")
    candidates = [tmp_path / "absent.ttc", tmp_path, not_a_font]
    dejavu = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
    if dejavu.is_file():
        candidates.append(dejavu)  # opens, but has no Chinese
    fonts = LabelFonts(paths=candidates)
    assert fonts.source == "bundled"
    assert _render(fonts) == _render(LabelFonts(paths=[]))


def test_a_usable_system_font_is_taken_first() -> None:
    fonts = LabelFonts(paths=[BUNDLED_FONT, SYSTEM_NOTO])
    assert fonts.source == f"system:{BUNDLED_FONT}"
    assert fonts.missing("閒置") == set()
    assert _read_qr(_image(_render(fonts))).text == URL


@pytest.mark.parametrize(
    ("families", "taken"),
    [
        (("Noto Sans CJK JP", "Noto Sans Mono CJK TC", "Noto Sans CJK HK", "Noto Sans CJK TC"), 3),
        (("Noto Sans CJK HK", "AR PL UMing TW"), 1),
        (("Noto Sans CJK KR", "Noto Sans CJK HK"), 1),
        (("Some CJK", "Other CJK"), 0),
    ],
)
def test_the_traditional_chinese_face_of_a_collection_is_taken(
    bundled: LabelFonts, tmp_path: Path, families: tuple[str, ...], taken: int
) -> None:
    """TC before TW before HK, never a Mono face, else the first; it draws as the font should.

    The collection is made of the bundled font, so this runs on every machine.
    """
    path = _collection(tmp_path / "NotoSansCJK-Test.ttc", families)
    fonts = LabelFonts(paths=[path])
    assert fonts.source == f"system:{path}"
    assert fonts.font(20).getname()[0] == families[taken]
    assert fonts.missing("閒置使用中") == set()
    # The same glyphs as the bundled font's: the same label, byte for byte.
    assert _render(fonts, name="研究室 T01") == _render(bundled, name="研究室 T01")
    assert _read_qr(_image(_render(fonts))).text == URL


def test_the_traditional_chinese_face_of_noto_sans_cjk_is_taken() -> None:
    """Debian's Noto Sans CJK (fonts-noto-cjk, which CI installs): its TC face, with 鬱.

    Skipped only outside CI on a machine without the font; in CI a missing font fails.
    """
    if not SYSTEM_NOTO.is_file():
        problem = f"no {SYSTEM_NOTO}: install Debian's fonts-noto-cjk (scripts/test does)"
        if in_ci():
            pytest.fail(problem)
        pytest.skip(problem)
    fonts = LabelFonts(paths=[SYSTEM_NOTO])
    assert fonts.source == f"system:{SYSTEM_NOTO}"
    assert fonts.font(20).getname()[0] == "Noto Sans CJK TC"
    assert fonts.missing("鬱") == set()
    assert _read_qr(_image(_render(fonts, name="鬱"))).text == URL


def test_the_default_fonts_are_one_shared_instance_found_at_once() -> None:
    fonts = default_fonts()
    assert fonts is default_fonts()
    assert fonts.load() is fonts
    assert fonts.source == "bundled" or fonts.source.startswith("system:")
    png = render_label(LabelContent("long_term", "研究室 T01", "in_use", URL))
    image = _image(png)
    assert image.size == LABEL_SIZES[DEFAULT_LABEL_SIZE]
    assert _read_qr(image).text == URL


def test_bad_sizes_kinds_and_statuses_are_refused(bundled: LabelFonts) -> None:
    with pytest.raises(ValueError, match="unknown label size"):
        _render(bundled, size="100x100")
    with pytest.raises(ValueError, match="unknown room kind"):
        LabelContent("group", "T01", "idle", URL)
    with pytest.raises(ValueError, match="unknown room status"):
        LabelContent("temporary", "T01", "broken", URL)


@pytest.mark.parametrize(
    ("text", "cleaned"),
    [
        ("  T01  ", "T01"),
        ("T\t\n 01", "T 01"),
        ("T\u200b0\u200d1\ufe0f", "T01"),
        ("e\u0301", "é"),
        ("研究室\u3000T01", "研究室 T01"),
        ("\x00\x1b[31m", "[31m"),
        ("\ud800", ""),
    ],
)
def test_clean_text(text: str, cleaned: str) -> None:
    assert clean_text(text) == cleaned
