"""The self-checkout station's own words, in English and Traditional Chinese.

Refusals are the integration's translations (the same words the staff services answer with);
what the patron should do next is added here where a refusal does not say it (`advice_<reason>`).
The out-of-service notice is shown in both languages at once.
"""

from __future__ import annotations

from typing import Final

KIOSK_TEXTS: Final[dict[str, dict[str, str]]] = {
    "en": {
        "kiosk_title": "Self-checkout",
        "kiosk_name": "Kiosk {kiosk}",
        "no_such_kiosk": "There is no such self-checkout kiosk.",
        # Opening the station (staff).
        "not_open_title": "This self-checkout station is not open",
        "not_open_text": (
            "Staff open it once with a Home Assistant administrator login; patrons can then "
            "check out here without an account."
        ),
        "open_station": "Open this station (staff)",
        "opening_title": "Opening the station…",
        "opening_needs_script": "Opening a station needs JavaScript in this browser.",
        "opening_failed": "The login could not be confirmed. Please open the station again.",
        "opening_expired": "This opening has expired or was already used. Please start again.",
        "opening_not_admin": "Only a Home Assistant administrator can open a station.",
        # A patron's session.
        "scan_card": "Scan your library card",
        "card_or_id": "Library card (or your ID)",
        "id_password_hint": "With your ID instead of the card, also enter your My Library password.",
        "password_required_hint": "Then enter your My Library password.",
        "start": "Start",
        "card_not_recognised": (
            "This card was not recognised. Scan it again, or enter your ID and password. If the "
            "card still does not work, please go to the counter."
        ),
        "password_needed": "Please enter your My Library password as well.",
        "session_ended": "Your session has ended. Please scan your card again.",
        "thank_you": "Thank you. Your session has ended.",
        "patron": "Patron",
        "scan_items": "Scan each item's barcode",
        "barcode": "Item barcode",
        "lend": "Check out",
        "lent": "Lent",
        "due": "Due {date}",
        "not_lent": "Not lent",
        "unknown_barcode": "Unknown or damaged barcode",
        "nothing_scanned": "Nothing scanned yet.",
        "print_receipt": "Print receipt",
        "my_items": "My items",
        "done": "Done",
        "idle_hint": "The session ends after {seconds} seconds without input.",
        "my_items_title": "Your loans: {count} of {limit}",
        "no_loans": "You have no items on loan.",
        "overdue": "Overdue",
        "in_return_box": "In a return box, to be scanned back",
        "frozen_notice": "Your borrowing rights are frozen. Please ask at the counter.",
        # The receipt.
        "receipt_title": "Loan receipt",
        "receipt_keep": "Please keep this receipt to ensure your borrowing privilege.",
        "receipt_time": "Time",
        "receipt_kiosk": "Kiosk",
        "receipt_count": "Items lent: {count}",
        "receipt_empty": "Nothing was lent in this session.",
        # What to do, where the refusal does not say it.
        "advice_library_use_only": "Please use it in the library and do not take it out.",
        "advice_accompanying_material_counter_only": (
            "Please take it to the counter with your card."
        ),
        "advice_loan_limit_reached": (
            "You have {count} items on loan; your limit is {limit}. Please return items first, "
            "or ask at the counter."
        ),
        "advice_item_on_loan": "Please take it to the counter.",
        "advice_already_borrowed": "It is already on your loan list.",
        "advice_frozen": "Please ask at the counter.",
    },
    "zh-Hant": {
        "kiosk_title": "自助借書",
        "kiosk_name": "借書機 {kiosk}",
        "no_such_kiosk": "沒有這台自助借書機。",
        "not_open_title": "本自助借書機尚未啟用",
        "not_open_text": "請館員以 Home Assistant 管理員帳號啟用一次；之後讀者不需帳號即可在此借書。",
        "open_station": "啟用本借書機（館員）",
        "opening_title": "正在啟用借書機…",
        "opening_needs_script": "啟用借書機需要此瀏覽器開啟 JavaScript。",
        "opening_failed": "無法確認登入，請重新啟用借書機。",
        "opening_expired": "此啟用程序已逾時或已使用，請重新開始。",
        "opening_not_admin": "只有 Home Assistant 管理員可以啟用借書機。",
        "scan_card": "請掃描借書證",
        "card_or_id": "借書證（或讀者帳號）",
        "id_password_hint": "以讀者帳號代替借書證時，請一併輸入 My Library 密碼。",
        "password_required_hint": "接著請輸入 My Library 密碼。",
        "start": "開始",
        "card_not_recognised": "無法辨識此借書證。請重新掃描，或輸入讀者帳號與密碼；若仍無法使用，請至櫃檯辦理。",
        "password_needed": "請一併輸入 My Library 密碼。",
        "session_ended": "本次借閱已結束，請重新掃描借書證。",
        "thank_you": "謝謝，本次借閱已結束。",
        "patron": "讀者",
        "scan_items": "請逐一掃描資料條碼",
        "barcode": "資料條碼",
        "lend": "借出",
        "lent": "已借出",
        "due": "到期日 {date}",
        "not_lent": "未借出",
        "unknown_barcode": "無法辨識或損壞的條碼",
        "nothing_scanned": "尚未掃描資料。",
        "print_receipt": "列印借閱收據",
        "my_items": "我的借閱",
        "done": "結束",
        "idle_hint": "閒置 {seconds} 秒後自動結束。",
        "my_items_title": "您的借閱：{count}／{limit} 冊",
        "no_loans": "目前沒有借閱中的資料。",
        "overdue": "已逾期",
        "in_return_box": "已投入還書箱，待掃描歸還",
        "frozen_notice": "您的借閱權利已凍結，請洽櫃檯。",
        "receipt_title": "借閱收據",
        "receipt_keep": "請保留此收據以確保您的借閱權益。",
        "receipt_time": "時間",
        "receipt_kiosk": "借書機",
        "receipt_count": "借出 {count} 冊",
        "receipt_empty": "本次未借出資料。",
        "advice_library_use_only": "請在館內使用，勿攜出館外。",
        "advice_accompanying_material_counter_only": "請將此附件帶至櫃檯辦理。",
        "advice_loan_limit_reached": "您已借 {count} 冊，上限為 {limit} 冊。請先歸還資料，或洽櫃檯。",
        "advice_item_on_loan": "請將資料送至櫃檯。",
        "advice_already_borrowed": "此資料已在您的借閱清單中。",
        "advice_frozen": "請洽櫃檯。",
    },
}

# The out-of-service notice, always in both languages (whoever stands at the kiosk reads it).
OUT_OF_SERVICE: Final = (
    ("zh-Hant", "暫停服務", "請至櫃檯辦理借書。"),
    ("en", "Out of service", "Please go to the counter."),
)
