"""The words for a room's kind and status, in Traditional Chinese and English, written once.

The e-label prints them and the public pages show them. The status sensor's state
translations say the same words: "Idle (閒置)" in English, "閒置" in Chinese.
"""

from __future__ import annotations

from typing import Final, NamedTuple

from .model import RoomKind, RoomStatus


class Words(NamedTuple):
    """One word in both languages: (Chinese, English)."""

    zh: str
    en: str


KIND_WORDS: Final[dict[RoomKind, Words]] = {
    RoomKind.TEMPORARY: Words("個人臨時研究室", "Temporary Study Room"),
    RoomKind.LONG_TERM: Words("個人長期研究室", "Long-Term Study Room"),
}
STATUS_WORDS: Final[dict[RoomStatus, Words]] = {
    RoomStatus.IDLE: Words("閒置", "Idle"),
    RoomStatus.IN_USE: Words("使用中", "In use"),
    RoomStatus.RESERVED: Words("長期登記中", "Reserved"),
    RoomStatus.UNAVAILABLE: Words("暫停使用", "Unavailable"),
}


def in_language(words: Words, language: str) -> str:
    """The half of `words` for a language tag: any Chinese reads the Traditional Chinese one.

    Traditional Chinese is the only Chinese the library writes (zh, zh-TW, zh-Hant, zh-HK …).
    """
    return words.zh if language.strip().lower().startswith("zh") else words.en
