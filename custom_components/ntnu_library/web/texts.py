"""The words of the public pages, in English and Traditional Chinese.

Room kinds and statuses are core's words (`core.room_words`, what the e-label prints);
refusals come from the integration's translations (what Home Assistant shows). Each is
written once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from ..core.room_words import KIND_WORDS, STATUS_WORDS, Words

LANGUAGES: Final = ("zh-Hant", "en")
DEFAULT_LANGUAGE: Final = "en"


def _room_words(pick: Callable[[Words], str]) -> dict[str, str]:
    """Every room kind's and status's word in one language (kind_temporary, status_idle …).

    `pick` chooses the language's half of core's (Chinese, English) pair.
    """
    return {f"kind_{kind}": pick(words) for kind, words in KIND_WORDS.items()} | {
        f"status_{status}": pick(words) for status, words in STATUS_WORDS.items()
    }


TEXTS: Final[dict[str, dict[str, str]]] = {
    "en": {
        "language_name": "English",
        "library": "NTNU Library",
        **_room_words(lambda words: words.en),
        "status_label": "Status",
        "floor": "Floor",
        "patron_id": "My Library account (staff ID / student ID)",
        "password": "My Library password",
        "choose_action": "What do you want to do?",
        "action_borrow": "Register use (登記使用)",
        "action_open": "Open the door (開門)",
        "action_return": "End use (結束使用)",
        "submit": "Log in and submit (登錄)",
        "result_borrow": "Room borrowed. The door is unlocked.",
        "result_open": "The door is unlocked.",
        "result_return": "Room returned. Thank you.",
        "door_unlocked": "Door unlocked",
        "door_locked": "Door locked",
        "door_pending": "The lock will close as soon as it answers.",
        "door_failed": "The lock did not answer; ask staff at the counter.",
        "return_reminder": "After use, please return the room so others can use it.",
        "relock_notice": (
            "If you do not open the door within {seconds} seconds, it locks again by itself."
        ),
        # The pages speak to the patron (the integration's own message is for staff).
        "error_already_holding": "You already hold room {room}.",
        "activate_link": "Set your password with an activation code",
        "reserve_link": "Reserve before use (click here)",
        "refused": "Not done",
        "bad_link": "This address is not valid. Scan the QR code on the room's e-label again.",
        "form_expired": "This form has expired or was already sent. Please try again.",
        "missing_fields": "Please enter your account, your password and choose an action.",
        "unknown_room": "There is no such room.",
        "status_panel": "Study rooms",
        "free_count": "{free} of {total} free",
        "updated": "Updated",
        "no_rooms": "No study rooms are set up yet.",
        "panel_stale": "Not updating: the connection was lost.",
        "activate_title": "Choose your password",
        "activation_code": "Activation code",
        "new_password": "New password",
        "repeat_password": "Repeat the new password",
        "activate_submit": "Set password",
        "activated": "Your password is set. You can now log in at any study room.",
        "activation_refused": "The account or activation code is not valid, or the code has expired.",
        "password_mismatch": "The two passwords are not the same.",
        "password_hint": (
            "At least {min} characters; not your account, your name or a common password. "
            "A few unrelated words make a good one, in any language."
        ),
        "since": "since {time}",
        "until": "until {time}",
        "switch_language": "中文",
        "invalid_request": (
            "Please check your entries: the account or password is too long, or the choice is "
            "not valid."
        ),
        "request_too_large": "This request is too large.",
        "service_unavailable": (
            "The service is not available right now. Please try again or ask at the counter."
        ),
        "activate_unavailable": (
            "Passwords are set in the library system here; please ask at the counter."
        ),
        "activate_missing_fields": (
            "Please enter your account, the activation code and the new password twice."
        ),
    },
    "zh-Hant": {
        "language_name": "中文",
        "library": "臺師大圖書館",
        **_room_words(lambda words: words.zh),
        "status_label": "狀態",
        "floor": "樓層",
        "patron_id": "My Library 讀者帳號（職員號碼或學號）",
        "password": "My Library 讀者密碼",
        "choose_action": "請勾選",
        "action_borrow": "登記使用",
        "action_open": "開門",
        "action_return": "結束使用",
        "submit": "登錄",
        "result_borrow": "借用完成，門鎖已打開。",
        "result_open": "門鎖已打開。",
        "result_return": "歸還完成，謝謝。",
        "door_unlocked": "門鎖已開",
        "door_locked": "門鎖已鎖上",
        "door_pending": "門鎖回應後會立即上鎖。",
        "door_failed": "門鎖沒有回應，請洽櫃檯。",
        "return_reminder": "使用完務必進行歸還，以利他人利用。",
        "relock_notice": "若 {seconds} 秒內未開門，門鎖會自動重新上鎖。",
        "error_already_holding": "您已登記使用研究室 {room}。",
        "activate_link": "以啟用碼設定密碼",
        "reserve_link": "事先線上登記（點此預約）",
        "refused": "未完成",
        "bad_link": "此網址無效，請重新掃描門邊電子標示上的 QR code。",
        "form_expired": "此表單已逾時或已送出，請再試一次。",
        "missing_fields": "請輸入帳號、密碼並勾選一項。",
        "unknown_room": "沒有這間研究室。",
        "status_panel": "研究室使用狀態",
        "free_count": "共 {total} 間，{free} 間閒置",
        "updated": "更新時間",
        "no_rooms": "尚未設定研究室。",
        "panel_stale": "連線中斷，狀態暫未更新。",
        "activate_title": "設定密碼",
        "activation_code": "啟用碼",
        "new_password": "新密碼",
        "repeat_password": "再次輸入新密碼",
        "activate_submit": "設定密碼",
        "activated": "密碼已設定，現在可以在任何研究室登入。",
        "activation_refused": "帳號或啟用碼無效，或啟用碼已過期。",
        "password_mismatch": "兩次輸入的密碼不同。",
        "password_hint": "至少 {min} 個字元；不可包含帳號或姓名，也不可是常見密碼。幾個不相關的詞組合起來就是好密碼，中英文皆可。",
        "since": "自 {time} 起",
        "until": "至 {time}",
        "switch_language": "English",
        "invalid_request": "請檢查輸入：帳號或密碼過長，或勾選無效。",
        "request_too_large": "此請求過大。",
        "service_unavailable": "服務暫時無法使用，請稍後再試或洽櫃檯。",
        "activate_unavailable": "本館密碼由圖書館系統管理，請洽櫃檯。",
        "activate_missing_fields": "請輸入帳號、啟用碼並輸入新密碼兩次。",
    },
}


def other_language(language: str) -> str:
    """The language the switch link offers."""
    return next(other for other in LANGUAGES if other != language)


def choose_language(requested: str | None, accept_language: str | None) -> str:
    """The page's language: `?lang=` if it names one, else the browser's first we have.

    Any Chinese (zh, zh-TW, zh-Hant, zh-HK, zh-CN …) reads the Traditional Chinese page: it is
    the only Chinese the library writes.
    """
    if requested in LANGUAGES:
        return requested
    choices: list[tuple[float, int, str]] = []
    for index, part in enumerate((accept_language or "")[:512].split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        if quality <= 0:
            continue
        choices.append((-quality, index, tag.strip().lower()))
    for _, _, tag in sorted(choices):
        if tag.startswith("zh"):
            return "zh-Hant"
        if tag.startswith("en"):
            return "en"
    return DEFAULT_LANGUAGE
