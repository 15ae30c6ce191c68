"""The text of a PDF that Chromium printed, read back with the standard library only.

Chromium (Skia) writes each font as a Type 0 font with a ToUnicode map and draws text as
hexadecimal glyph strings (`<0012003A> Tj`, `[<..> -3 <..>] TJ`) in Flate-compressed content
streams. This reads just that: enough to check what a printed receipt says, not a general PDF
reader.
"""

from __future__ import annotations

import re
import zlib

_OBJECT = re.compile(rb"(\d+) 0 obj(.*?)endobj", re.S)
_STREAM = re.compile(rb"stream\r?\n(.*?)\r?\nendstream", re.S)
_FONT_REFS = re.compile(rb"/(\w+) (\d+) 0 R")
_TO_UNICODE = re.compile(rb"/ToUnicode (\d+) 0 R")
_HEX = re.compile(rb"<([0-9A-Fa-f]*)>")
# A font; a glyph array or string; a move on the line (x y Td) or to a new one (T*, TD, Tm, ET).
_TEXT_OPS = re.compile(
    rb"/(\w+) [\d.]+ Tf|\[(.*?)\]\s*TJ|<([0-9A-Fa-f]*)>\s*Tj|[-\d.]+ ([-\d.]+) Td|(T\*|TD|Tm|ET)",
    re.S,
)


def _objects(pdf: bytes) -> dict[int, bytes]:
    return {int(number): body for number, body in _OBJECT.findall(pdf)}


def _stream(body: bytes) -> bytes:
    match = _STREAM.search(body)
    if match is None:
        return b""
    data = match.group(1)
    if b"/FlateDecode" in body[: match.start()]:
        try:
            return zlib.decompress(data)
        except zlib.error:
            return b""
    return data


def _cmap(data: bytes) -> tuple[dict[int, str], int]:
    """A ToUnicode map: glyph code -> text, and the code width in bytes."""
    mapping: dict[int, str] = {}
    width = 2
    for block in re.findall(rb"beginbfchar(.*?)endbfchar", data, re.S):
        pairs = re.findall(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]*)>", block)
        for code, text in pairs:
            width = len(code) // 2
            mapping[int(code, 16)] = bytes.fromhex(text.decode()).decode("utf-16-be", "replace")
    for block in re.findall(rb"beginbfrange(.*?)endbfrange", data, re.S):
        for low, high, start in re.findall(
            rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block
        ):
            width = len(low) // 2
            first = int.from_bytes(bytes.fromhex(start.decode()), "big")
            for offset, code in enumerate(range(int(low, 16), int(high, 16) + 1)):
                mapping[code] = chr(first + offset)
    return mapping, width


def pdf_text(pdf: bytes) -> str:
    """The text drawn on every page, in drawing order; a new line at each text move."""
    objects = _objects(pdf)
    maps: dict[int, tuple[dict[int, str], int]] = {}
    fonts: dict[bytes, tuple[dict[int, str], int]] = {}
    for body in objects.values():
        if b"/Font" in body and b"<<" in body:
            for name, number in _FONT_REFS.findall(body):
                font = objects.get(int(number), b"")
                if (ref := _TO_UNICODE.search(font)) is None:
                    continue
                key = int(ref.group(1))
                if key not in maps:
                    maps[key] = _cmap(_stream(objects.get(key, b"")))
                fonts[name] = maps[key]
    out: list[str] = []
    for body in objects.values():
        if b"/Length" not in body or b"/Type /Font" in body or b"/Subtype" in body:
            continue
        content = _stream(body)
        if b"BT" not in content or b" Tf" not in content:
            continue
        mapping, width = {}, 2
        for font, array, single, rise, move in _TEXT_OPS.findall(content):
            if font:
                mapping, width = fonts.get(font, ({}, 2))
                continue
            if move or (rise and float(rise) != 0):
                out.append("\n")
                continue
            if rise:
                continue  # kerning along the line
            for hexa in _HEX.findall(array) if array else [single]:
                raw = bytes.fromhex(hexa.decode()) if len(hexa) % 2 == 0 else b""
                out.extend(
                    mapping.get(int.from_bytes(raw[i : i + width], "big"), "")
                    for i in range(0, len(raw) - width + 1, width)
                )
            if array:
                out.append(" ")
    return re.sub(r"[ \t]*\n\s*", "\n", "".join(out)).strip()
