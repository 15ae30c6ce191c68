"""What happened at a room, as one short sentence in English or Traditional Chinese.

The logbook says each room event in these words ("card of S***1 refused: not the holder",
"PUSH exit", "auto-returned: empty 30 min", "unlocked by staff"). A sentence is made from
what the bus event carries (`type`, `source`, the masked `patron`, `reason`, `minutes`) and
nothing else, so events recorded long ago read the same. A source the sentence does not
already say (a lock that decided a card by itself, staff acting at the counter for a
patron) is added in brackets; a type, source or reason these words do not know yet is shown
as it is rather than dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from .room_words import Words, in_language

# (event type, the source the sentence says) -> (with the patron, without one).
# None as source: any other source, which the sentence then names in brackets (as it does
# with the type's first sentence when there is no such entry).
_SENTENCES: Final[dict[tuple[str, str | None], tuple[Words, Words]]] = {
    ("borrowed", "qr"): (
        Words("{patron} 登記使用", "borrowed by {patron}"),
        Words("登記使用", "borrowed"),
    ),
    ("borrowed", "counter"): (
        Words("櫃檯代 {patron} 登記使用", "borrowed at the counter for {patron}"),
        Words("櫃檯代為登記使用", "borrowed at the counter"),
    ),
    ("qr_open", "qr"): (
        Words("{patron} 以 QR code 開門", "opened by QR ({patron})"),
        Words("以 QR code 開門", "opened by QR"),
    ),
    ("qr_open", "counter"): (
        Words("櫃檯代 {patron} 開門", "opened at the counter for {patron}"),
        Words("櫃檯代為開門", "opened at the counter"),
    ),
    ("card_tap", "card"): (
        Words("{patron} 刷卡開門", "opened by card of {patron}"),
        Words("刷卡開門", "opened by card"),
    ),
    ("push_exit", "push_button"): (
        Words("按 PUSH 鈕外出", "PUSH exit"),
        Words("按 PUSH 鈕外出", "PUSH exit"),
    ),
    ("forced_open", "door"): (
        Words("門被強行開啟", "door forced open"),
        Words("門被強行開啟", "door forced open"),
    ),
    ("returned", "qr"): (
        Words("{patron} 結束使用", "returned by {patron}"),
        Words("結束使用", "returned"),
    ),
    ("returned", "counter"): (
        Words("櫃檯代 {patron} 歸還", "returned by staff ({patron})"),
        Words("櫃檯代為歸還", "returned by staff"),
    ),
    ("auto_returned", "automation"): (
        Words("自動歸還：{reason}（{patron}）", "auto-returned: {reason} ({patron})"),
        Words("自動歸還：{reason}", "auto-returned: {reason}"),
    ),
    ("refused", "card"): (
        Words("{patron} 的卡片遭拒：{reason}", "card of {patron} refused: {reason}"),
        Words("卡片遭拒：{reason}", "card refused: {reason}"),
    ),
    ("refused", "qr"): (
        Words("{patron} 遭拒：{reason}", "{patron} refused: {reason}"),
        Words("遭拒：{reason}", "refused: {reason}"),
    ),
    ("refused", None): (
        Words("{patron} 遭拒：{reason}", "{patron} refused: {reason}"),
        Words("遭拒：{reason}", "refused: {reason}"),
    ),
    ("lock_pending", "door"): (
        Words("門鎖未回應：恢復連線後立即上鎖", "lock did not answer: locked as soon as it does"),
        Words("門鎖未回應：恢復連線後立即上鎖", "lock did not answer: locked as soon as it does"),
    ),
    ("relocked", "door"): (
        Words("已重新上鎖", "locked again"),
        Words("已重新上鎖", "locked again"),
    ),
    ("staff_unlock", "counter"): (
        Words("館員開門", "unlocked by staff"),
        Words("館員開門", "unlocked by staff"),
    ),
    ("staff_unlock", "automation"): (
        Words("自動化開門", "unlocked by an automation"),
        Words("自動化開門", "unlocked by an automation"),
    ),
}

# Where an action came from, added in brackets when the sentence does not say it.
SOURCE_WORDS: Final[dict[str, Words]] = {
    "qr": Words("QR code", "QR"),
    "card": Words("刷卡", "card"),
    "push_button": Words("PUSH 鈕", "PUSH button"),
    "door": Words("門的感測器", "door sensor"),
    "counter": Words("櫃檯", "counter"),
    "automation": Words("自動化", "automation"),
    "lock": Words("由門鎖判定", "decided by the lock"),
}

# Why a room action was refused, in a few words (the full messages are the translations').
REASON_WORDS: Final[dict[str, Words]] = {
    "not_holder": Words("非登記使用者", "not the holder"),
    "unknown_card": Words("未登記的卡片", "unknown card"),
    "card_reported_lost": Words("卡片已掛失", "card reported lost"),
    "unknown_patron": Words("查無此讀者", "unknown patron"),
    "frozen": Words("權利凍結中", "rights frozen"),
    "not_checked_in": Words("今日未至櫃檯報到", "not checked in at the counter today"),
    "membership_expired": Words("讀者資格已過期", "membership expired"),
    "membership_suspended": Words("讀者資格暫停", "membership suspended"),
    "privileges_denied": Words("圖書館系統停止其權利", "privileges denied by the library system"),
    "lock_offline": Words("門鎖離線", "lock offline"),
    "room_not_idle": Words("研究室非閒置", "room not idle"),
    "room_not_in_use": Words("研究室未在使用中", "room not in use"),
    "already_holding": Words("已登記其他研究室", "already holds a room"),
    "not_temporary_room": Words("非臨時研究室", "not a temporary room"),
    "outside_service_hours": Words("非櫃檯服務時間", "outside counter service hours"),
    "patron_system_unavailable": Words("讀者系統無法連線", "patron system unreachable"),
    "patron_system_error": Words("讀者系統回應錯誤", "patron system error"),
}

# Why a room went back by itself: (with the minutes, without them).
AUTO_RETURN_WORDS: Final[dict[str, tuple[Words, Words]]] = {
    "empty": (Words("無人 {minutes} 分鐘", "empty {minutes} min"), Words("無人使用", "left empty")),
    "not_opened": (
        Words("{minutes} 分鐘內未開門", "door not opened in {minutes} min"),
        Words("未曾開門", "door never opened"),
    ),
    "closing": (Words("閉館", "closing time"), Words("閉館", "closing time")),
    "max_use": (
        Words("超過連續使用上限", "maximum use time reached"),
        Words("超過連續使用上限", "maximum use time reached"),
    ),
}

_BRACKETS: Final = Words("{text}（{note}）", "{text} ({note})")


def _text(value: Any) -> str:
    """A value of the event as one short line (events are recorded; never trust their shape)."""
    return " ".join(str(value).split())[:64] if value not in (None, "") else ""


def room_event_sentence(data: Mapping[str, Any], language: str) -> str:
    """The sentence for one `ntnu_library_event` (its data), in `language`."""
    kind, source = _text(data.get("type")), _text(data.get("source"))
    patron, minutes = _text(data.get("patron")), data.get("minutes")
    sentences = _SENTENCES.get((kind, source))
    note = None
    if sentences is None:  # another source: a sentence of the type, the source in brackets
        sentences = _SENTENCES.get((kind, None)) or next(
            (s for (k, _), s in _SENTENCES.items() if k == kind), None
        )
        note = SOURCE_WORDS.get(source, Words(source, source)) if source else None
    if sentences is None:
        return kind or "?"
    reason = _text(data.get("reason"))
    if kind == "auto_returned":
        with_minutes, without = AUTO_RETURN_WORDS.get(reason, (Words(reason, reason),) * 2)
        has_minutes = isinstance(minutes, int) and not isinstance(minutes, bool)
        reason_words = with_minutes if has_minutes else without
    else:
        reason_words = REASON_WORDS.get(reason, Words(reason, reason.replace("_", " ")))
    template = sentences[0] if patron else sentences[1]
    text = in_language(template, language).format(
        patron=patron, reason=in_language(reason_words, language).format(minutes=minutes)
    )
    if note is not None:
        text = in_language(_BRACKETS, language).format(text=text, note=in_language(note, language))
    return text
