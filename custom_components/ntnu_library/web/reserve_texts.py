"""The reservation page's own words, in English and Traditional Chinese.

The seed's: 事先線上登記 (reserve before use) and 當月長期研究室使用者無需再進行借用動作 (this
month's holder of a long-term room need not borrow it). What the pages share (the account and
password fields, 登錄, the room kinds, the refusals) comes from web/texts.py and the
integration's translations.
"""

from __future__ import annotations

from typing import Final

RESERVE_TEXTS: Final[dict[str, dict[str, str]]] = {
    "en": {
        "reserve_title": "Reserve before use",
        "reserve_heading": "Long-term study rooms",
        "reserve_intro": (
            "Log in with your My Library account to reserve a long-term study room for a "
            "calendar month. This month's holder need not borrow the room: the ID card or the "
            "room's QR code (開門) opens it."
        ),
        "reserve_login": "Log in (登錄)",
        "logged_in_as": "Logged in as {patron}",
        "logout": "Log out",
        "your_reservations": "Your reservations",
        "no_reservations": "You hold no long-term study room.",
        "cancel_button": "Cancel",
        "month_this": "Rest of {month}",
        "month_next": "Next month: {month}",
        "opens_at": "Reservations open at {time}.",
        "choose_room": "Free rooms: choose one",
        "none_free_month": "No long-term study room is free.",
        "next_button": "Next",
        "confirm_title": "Please confirm",
        "confirm_reserve": "Reserve room {room} for {month}?",
        "confirm_reserve_button": "Reserve (確認登記)",
        "confirm_cancel": "Cancel your reservation of room {room} for {month}?",
        "confirm_cancel_button": "Yes, cancel it",
        "back": "Back",
        "reserved": "Room {room} is yours for {month}.",
        "reserved_how": (
            "No borrowing needed: tap your ID card on the reader by the door, or scan the "
            "room's QR code and choose 開門."
        ),
        "cancelled": "Your reservation of room {room} for {month} is cancelled.",
        "still_free": "Still free for {month}: {rooms}.",
        "none_free": "No long-term study room is free for {month} any more.",
        "limit_note": "Each patron may hold {limit} long-term study room(s) a month.",
        "eligible_list": "Long-term study rooms are for: {categories}.",
        "nobody_eligible": "Long-term study rooms are reserved at the counter only.",
        "session_ended": "You are logged out (after a while without use). Please log in again.",
        "no_long_term_rooms": "No long-term study rooms are set up.",
    },
    "zh-Hant": {
        "reserve_title": "事先線上登記",
        "reserve_heading": "個人長期研究室",
        "reserve_intro": (
            "請登入 My Library 讀者帳號，登記一個月份的個人長期研究室。"
            "當月長期研究室使用者無需再進行借用動作，刷證件或掃門邊 QR code（開門）即可開鎖。"
        ),
        "reserve_login": "登錄",
        "logged_in_as": "已登入：{patron}",
        "logout": "登出",
        "your_reservations": "您的登記",
        "no_reservations": "您目前沒有登記個人長期研究室。",
        "cancel_button": "取消登記",
        "month_this": "{month}（本月剩餘日數）",
        "month_next": "下個月：{month}",
        "opens_at": "將於 {time} 開放登記。",
        "choose_room": "可登記的研究室：請選擇一間",
        "none_free_month": "已無可登記的個人長期研究室。",
        "next_button": "下一步",
        "confirm_title": "請確認",
        "confirm_reserve": "確定登記研究室 {room}（{month}）？",
        "confirm_reserve_button": "確認登記",
        "confirm_cancel": "確定取消研究室 {room}（{month}）的登記？",
        "confirm_cancel_button": "確定取消",
        "back": "返回",
        "reserved": "登記完成：{month} 研究室 {room} 由您使用。",
        "reserved_how": "無需再進行借用動作：以職員證或學生證向門邊卡機靠卡，或掃門邊 QR code 勾選「開門」即可開鎖。",
        "cancelled": "已取消研究室 {room}（{month}）的登記。",
        "still_free": "{month} 仍可登記：{rooms}。",
        "none_free": "{month} 已無可登記的個人長期研究室。",
        "limit_note": "每位讀者每月可登記 {limit} 間個人長期研究室。",
        "eligible_list": "個人長期研究室開放對象：{categories}。",
        "nobody_eligible": "個人長期研究室僅受理櫃檯登記。",
        "session_ended": "您已登出（閒置過久），請重新登入。",
        "no_long_term_rooms": "尚未設定個人長期研究室。",
    },
}

_MONTH_NAMES: Final = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def month_label(month: str, language: str) -> str:
    """A YYYY-MM month as a patron reads it: "January 2027", "2027 年 1 月"."""
    try:
        year, number = (int(part) for part in month.split("-"))
    except ValueError:
        return month
    if not 1 <= number <= len(_MONTH_NAMES):
        return month
    name = _MONTH_NAMES[number - 1]
    if language == "en":
        return f"{name} {year}"
    return f"{year} 年 {number} 月"
