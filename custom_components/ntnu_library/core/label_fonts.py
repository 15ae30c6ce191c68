"""The font the e-labels are drawn with: a CJK font of the machine's, or the bundled subset.

The Chinese needs a CJK font. `LabelFonts` takes the first usable one of the machine's (a list
of the usual Debian paths, then any file under /usr/share/fonts whose name has "CJK" in it)
and otherwise the subset of Noto Sans CJK TC that ships in the integration's fonts/ folder:
625 characters, printable ASCII, the label's and the patron page's words and the 500 most
common Traditional Chinese characters. Characters the chosen font cannot draw come out as
"?"; `LabelFonts.missing` tells which those are, so the integration can warn about a room
name the bundled subset cannot show.
"""

from __future__ import annotations

from collections.abc import Sequence
import contextlib
from pathlib import Path
import threading
from typing import Final
import unicodedata

from PIL import Image, ImageDraw, ImageFont

from .room_words import KIND_WORDS, STATUS_WORDS

# The machine's CJK fonts, best first: Noto Sans CJK (the font the bundled subset is cut
# from), WenQuanYi and AR PL (Debian's fonts-wqy-*, fonts-arphic-*), then Noto Serif CJK.
SYSTEM_FONT_PATHS: Final[tuple[str, ...]] = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
)
# Looked through after SYSTEM_FONT_PATHS, in sorted order (other distributions' layouts).
SYSTEM_FONT_GLOB: Final = ("/usr/share/fonts", "**/*CJK*")

FONTS_DIR: Final = Path(__file__).resolve().parent.parent / "fonts"
BUNDLED_FONT: Final = FONTS_DIR / "NotoSansTC-subset.otf"
# The characters the bundled font was cut for (see fonts/README.md).
BUNDLED_FONT_CHARACTERS: Final = FONTS_DIR / "NotoSansTC-subset.txt"

# A font is only taken if it draws all of these.
_REQUIRED_TEXT: Final = "".join(
    zh + en for zh, en in (*KIND_WORDS.values(), *STATUS_WORDS.values())
) + "".join(chr(code) for code in range(0x21, 0x7F))
# Drawn in place of a character the font lacks.
_REPLACEMENT: Final = "?"
# Collection faces to look through for the Traditional Chinese one.
_MAX_FACES: Final = 16
# Pixel size of the probe that compares a character's glyph with the missing-glyph box.
_PROBE_SIZE: Final = 24
# Variation selectors: invisible, they only pick a glyph's form (emoji or text style).
_VARIATION_SELECTORS: Final = (range(0xFE00, 0xFE10), range(0xE0100, 0xE01F0))


def clean_text(text: str) -> str:
    """Return text as the label draws it: NFC, one space for any run of white space, trimmed.

    Control and format characters (zero-width joiners, direction marks), unassigned and private
    code points and variation selectors are dropped: they have nothing to draw.
    """
    kept: list[str] = []
    for character in unicodedata.normalize("NFC", text):
        if character.isspace():
            if kept and kept[-1] != " ":
                kept.append(" ")
            continue
        code = ord(character)
        if unicodedata.category(character)[0] == "C" or any(
            code in selectors for selectors in _VARIATION_SELECTORS
        ):
            continue
        kept.append(character)
    return "".join(kept).strip()


class LabelFonts:
    """The font the labels are drawn with, found on first use.

    `paths` are the candidate font files, best first; by default SYSTEM_FONT_PATHS and then the
    files SYSTEM_FONT_GLOB finds, and `LabelFonts(paths=[])` takes the bundled font at once.
    A candidate counts only if it opens and draws every word of the label; in a collection
    (.ttc) the Traditional Chinese face is taken (family name with "TC", else "TW", else
    "HK", else the first face). When no candidate counts, the bundled subset is used.

    One instance may be shared between threads: its methods hold a lock, and `render_label`
    holds it while it draws.
    """

    def __init__(self, paths: Sequence[str | Path] | None = None) -> None:
        self._paths = None if paths is None else tuple(Path(path) for path in paths)
        self.lock = threading.RLock()
        self._chosen: tuple[Path, int, str] | None = None
        self._sizes: dict[int, ImageFont.FreeTypeFont] = {}
        self._drawable: dict[str, bool] = {}
        self._notdef: tuple[float, bytes] | None = None

    @property
    def source(self) -> str:
        """Which font is used: "system:<path>" or "bundled"."""
        return self._choose()[2]

    def load(self) -> LabelFonts:
        """Find and open the font now (it reads the disk: call it in an executor); return self."""
        with self.lock:
            self.font(_PROBE_SIZE)
            self._draws(" ")
        return self

    def missing(self, text: str) -> set[str]:
        """The characters of text that the font cannot draw (white space and controls aside).

        The label draws "?" for each of them.
        """
        with self.lock:
            return {
                character
                for character in clean_text(text)
                if character != " " and not self._draws(character)
            }

    def font(self, size: int) -> ImageFont.FreeTypeFont:
        """The font at a pixel size (em size), cached."""
        with self.lock:
            font = self._sizes.get(size)
            if font is None:
                path, index, _ = self._choose()
                font = _open(path, size, index)
                self._sizes[size] = font
            return font

    def drawable(self, text: str) -> str:
        """Text cleaned for drawing, with "?" for each character the font lacks."""
        with self.lock:
            return "".join(
                character if character == " " or self._draws(character) else _REPLACEMENT
                for character in clean_text(text)
            )

    def _choose(self) -> tuple[Path, int, str]:
        with self.lock:
            if self._chosen is None:
                self._chosen = self._find()
            return self._chosen

    def _find(self) -> tuple[Path, int, str]:
        for path in self._candidates():
            index = _pick_face(path)
            if index is None:
                continue
            self._chosen = (path, index, f"system:{path}")
            self._reset()
            if not self.missing(_REQUIRED_TEXT):
                return self._chosen
        self._chosen = None
        self._reset()
        # A broken install (the bundled font removed) fails here, loudly, as it should.
        _open(BUNDLED_FONT, _PROBE_SIZE, 0)
        return (BUNDLED_FONT, 0, "bundled")

    def _candidates(self) -> list[Path]:
        if self._paths is not None:
            candidates = list(self._paths)
        else:
            root, pattern = SYSTEM_FONT_GLOB
            candidates = [Path(path) for path in SYSTEM_FONT_PATHS]
            with contextlib.suppress(OSError):  # an unreadable folder: no candidates there
                candidates += sorted(Path(root).glob(pattern))
        seen: set[Path] = set()
        found: list[Path] = []
        for path in candidates:
            if path not in seen and path.is_file():
                seen.add(path)
                found.append(path)
        return found

    def _reset(self) -> None:
        self._sizes.clear()
        self._drawable.clear()
        self._notdef = None

    def _draws(self, character: str) -> bool:
        """Whether the font has a glyph for one character: it differs from the missing-glyph box.

        A character the font lacks is drawn with glyph 0 (.notdef), the same as a noncharacter
        such as U+FFFF that no font maps; Pillow has no other public way to ask the character
        map, and fontTools is not available at run time.
        """
        known = self._drawable.get(character)
        if known is None:
            if self._notdef is None:
                self._notdef = self._glyph_print("\uffff")
            known = self._glyph_print(character) != self._notdef
            if len(self._drawable) >= 4096:
                self._drawable.clear()
            self._drawable[character] = known
        return known

    def _glyph_print(self, character: str) -> tuple[float, bytes]:
        font = self.font(_PROBE_SIZE)
        probe = Image.new("L", (_PROBE_SIZE * 3, _PROBE_SIZE * 3), 0)
        ImageDraw.Draw(probe).text(
            (_PROBE_SIZE, _PROBE_SIZE * 2), character, fill=255, font=font, anchor="ls"
        )
        return font.getlength(character), probe.tobytes()


def _open(path: Path, size: int, index: int) -> ImageFont.FreeTypeFont:
    # Not ImageFont.truetype: when a file does not open, that looks for another file of the
    # same name in the system's font folders. Basic layout (no HarfBuzz): the same glyphs
    # whether or not Pillow was built with raqm.
    return ImageFont.FreeTypeFont(
        str(path), size, index=index, layout_engine=ImageFont.Layout.BASIC
    )


def _pick_face(path: Path) -> int | None:
    """The index of the Traditional Chinese face of a font file, None if it does not open."""
    families: list[str] = []
    for index in range(_MAX_FACES):
        try:
            family = _open(path, _PROBE_SIZE, index).getname()[0] or ""
        except OSError:
            break
        families.append(family)
    if not families:
        return None
    for mark in ("TC", "TW", "HK"):
        for index, family in enumerate(families):
            if mark in family.split() and "Mono" not in family:
                return index
    return 0


_DEFAULT_FONTS: LabelFonts | None = None
_DEFAULT_FONTS_LOCK = threading.Lock()


def default_fonts() -> LabelFonts:
    """The process-wide LabelFonts with the default search, its font found and opened.

    The first call reads the disk (the font search): make it in an executor. Later calls only
    return the same instance.
    """
    global _DEFAULT_FONTS  # noqa: PLW0603 - one lazily made instance per process
    with _DEFAULT_FONTS_LOCK:
        if _DEFAULT_FONTS is None:
            _DEFAULT_FONTS = LabelFonts().load()
        return _DEFAULT_FONTS
