"""The public pages' words: every word in both languages, and the language a browser gets."""

from __future__ import annotations

import re

import pytest

from custom_components.ntnu_library.core.model import RoomKind, RoomStatus
from custom_components.ntnu_library.core.room_words import KIND_WORDS, STATUS_WORDS
from custom_components.ntnu_library.web.texts import LANGUAGES, TEXTS, choose_language

_PLACEHOLDER = re.compile(r"{(\w+)}")


def test_every_word_in_both_languages_with_the_same_placeholders() -> None:
    english, chinese = TEXTS["en"], TEXTS["zh-Hant"]
    assert set(english) == set(chinese)
    for key, text in english.items():
        assert set(_PLACEHOLDER.findall(text)) == set(_PLACEHOLDER.findall(chinese[key])), key
        assert text.strip() and chinese[key].strip(), key
    assert set(TEXTS) == set(LANGUAGES)


def test_room_kinds_and_statuses_are_the_e_labels_words() -> None:
    """Every kind and status has core's words, and the pages show those (閒置, "Idle" …)."""
    assert set(KIND_WORDS) == set(RoomKind)
    assert set(STATUS_WORDS) == set(RoomStatus)
    for kind, words in KIND_WORDS.items():
        assert (TEXTS["zh-Hant"][f"kind_{kind}"], TEXTS["en"][f"kind_{kind}"]) == words
    for status, words in STATUS_WORDS.items():
        assert (TEXTS["zh-Hant"][f"status_{status}"], TEXTS["en"][f"status_{status}"]) == words
    assert (TEXTS["zh-Hant"]["status_idle"], TEXTS["en"]["status_idle"]) == ("閒置", "Idle")


@pytest.mark.parametrize(
    ("requested", "header", "expected"),
    [
        (None, "zh-TW,zh;q=0.9,en;q=0.8", "zh-Hant"),
        (None, "zh-HK", "zh-Hant"),
        (None, "zh-CN", "zh-Hant"),  # the only Chinese the library writes
        (None, "en-US,en;q=0.9", "en"),
        (None, "fr-FR, en;q=0.5, zh;q=0.4", "en"),  # quality order, not listing order
        (None, "de-DE, zh;q=0.8, en;q=0.2", "zh-Hant"),
        (None, "zh;q=0, en", "en"),  # q=0: not acceptable
        (None, "fr", "en"),
        (None, None, "en"),
        (None, "zh;q=abc, en", "en"),  # a broken quality is skipped, not fatal
        ("zh-Hant", "en", "zh-Hant"),  # the switch link wins
        ("en", "zh-TW", "en"),
        ("klingon", "zh-TW", "zh-Hant"),  # an unknown ?lang= is ignored
        (None, "x" * 10_000, "en"),
    ],
)
def test_choose_language(requested: str | None, header: str | None, expected: str) -> None:
    assert choose_language(requested, header) == expected
