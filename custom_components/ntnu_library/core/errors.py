"""Every refusal has a name; the name is the translation key shown to people."""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    """Why an action was refused. Each value is a translation key in strings.json."""

    INVALID_CREDENTIALS = "invalid_credentials"
    TOO_MANY_ATTEMPTS = "too_many_attempts"
    PATRON_SYSTEM_UNAVAILABLE = "patron_system_unavailable"
    PATRON_SYSTEM_ERROR = "patron_system_error"  # it answered, but not readably
    # Patron status flags of the library system (SIP2 patron status).
    PRIVILEGES_DENIED = "privileges_denied"
    CARD_REPORTED_LOST = "card_reported_lost"
    TOO_MANY_ITEMS = "too_many_items"
    EXCESSIVE_FEES = "excessive_fees"
    UNKNOWN_ROOM = "unknown_room"
    UNKNOWN_PATRON = "unknown_patron"
    UNKNOWN_CARD = "unknown_card"
    ROOM_NOT_IDLE = "room_not_idle"
    ROOM_NOT_IN_USE = "room_not_in_use"
    HOLDS_NO_ROOM = "holds_no_room"  # a counter return for a patron who holds no room
    NOT_TEMPORARY_ROOM = "not_temporary_room"
    NOT_LONG_TERM_ROOM = "not_long_term_room"
    NOT_HOLDER = "not_holder"
    ALREADY_HOLDING = "already_holding"
    ALREADY_RESERVED = "already_reserved"
    NO_RESERVATION = "no_reservation"
    FROZEN = "frozen"
    NOT_CHECKED_IN = "not_checked_in"
    NOT_FROZEN = "not_frozen"
    MEMBERSHIP_EXPIRED = "membership_expired"
    OUTSIDE_SERVICE_HOURS = "outside_service_hours"
    LOCK_OFFLINE = "lock_offline"
    INVALID_MONTH = "invalid_month"
    INVALID_VALUE = "invalid_value"
    PATRON_EXISTS = "patron_exists"
    PATRONS_MANAGED_ELSEWHERE = "patrons_managed_elsewhere"
    ROOM_HAS_HOLDER = "room_has_holder"
    # A patron's own long-term reservation (core/reservation_rules.py).
    NOT_ELIGIBLE = "not_eligible"
    RESERVATIONS_NOT_OPEN = "reservations_not_open"
    LONG_TERM_LIMIT_REACHED = "long_term_limit_reached"
    # A password the patron chooses (core/password_rules.py): each rule its own answer.
    PASSWORD_TOO_SHORT = "password_too_short"
    PASSWORD_TOO_LONG = "password_too_long"
    PASSWORD_CONTAINS_ID = "password_contains_id"
    PASSWORD_CONTAINS_NAME = "password_contains_name"
    PASSWORD_CONTAINS_CODE = "password_contains_code"
    PASSWORD_TOO_COMMON = "password_too_common"
    PASSWORD_TOO_GUESSABLE = "password_too_guessable"
    # Circulation (core/circulation.py): the whole request is refused.
    UNKNOWN_KIOSK = "unknown_kiosk"
    KIOSK_FAULT = "kiosk_fault"
    UNKNOWN_STATION = "unknown_station"  # a self-checkout station staff name to revoke
    MEMBERSHIP_SUSPENDED = "membership_suspended"
    NOT_SUSPENDED = "not_suspended"
    UNKNOWN_BOX = "unknown_box"
    # Circulation: one item of a request is refused (the others still go through).
    UNREADABLE_BARCODE = "unreadable_barcode"
    UNKNOWN_ITEM = "unknown_item"
    LIBRARY_USE_ONLY = "library_use_only"
    ACCOMPANYING_MATERIAL_COUNTER_ONLY = "accompanying_material_counter_only"
    ITEM_ON_LOAN = "item_on_loan"
    ALREADY_BORROWED = "already_borrowed"
    LOAN_LIMIT_REACHED = "loan_limit_reached"
    DUPLICATE_ITEM = "duplicate_item"
    NOT_ON_LOAN = "not_on_loan"
    # Circulation: what staff find in a 24-hour return box.
    NOT_LIBRARY_ITEM = "not_library_item"
    ACCOMPANYING_MATERIAL_IN_BOX = "accompanying_material_in_box"
    # Circulation with SIP2: the library system did not make a loan the rules allowed.
    ILS_REFUSED = "ils_refused"


# Reasons that are not the request's: something it needs could not be reached or read.
UNREACHABLE = frozenset(
    {Reason.PATRON_SYSTEM_UNAVAILABLE, Reason.PATRON_SYSTEM_ERROR, Reason.LOCK_OFFLINE}
)


class Refused(Exception):
    """An action the rules do not allow. Nothing changed."""

    def __init__(self, reason: Reason, **placeholders: str) -> None:
        super().__init__(reason.value)
        self.reason = reason
        self.placeholders: dict[str, str] = placeholders

    def __repr__(self) -> str:
        return f"Refused({self.reason.value!r}, {self.placeholders!r})"
