"""The records and rules of the loopback ILS, whichever SIP2 codec serves them.

An ILS keeps patrons, a catalogue and loans, and decides: who a patron is (by ID or card),
whether a password is right, whether a checkout goes ahead and until when, what a checkin
ends, what a block does to the record. `IlsRecords` is that part, with no wire in it. The
servers that speak SIP2 subclass it and only turn its decisions into messages: the ILS of the
tests and the demo on the integration's own codec, and the tests' second ILS on someone else's
(pysip2's). This module imports nothing from the integration, so that second codec stays
independent of ours.

Patrons are dicts (id, name, password, card, category, expires, status): `status` is a
14-character string or the positions of the set flags; `expires` a date or None; `blank_cq`
True answers a password check with an empty CQ; `valid` False makes the patron unknown. A
block adds `blocked` (the message), `card_retained` and `status_before_block`.

The catalogue (`items`) holds dicts with barcode, title, library_use_only (bool), accompanies
(the barcode of the item it goes with), optionally media_type (CK) and location (AQ);
`demo_items()` unless told. `loans` maps an item's barcode (upper case) to its Loan, oldest
loan first; `now` is this ILS's clock.

Due dates are this ILS's own simple rule, LOAN_DAYS (30) days to the end of that day: a real ILS
decides due dates by its own loan rules, and the integration shows the ILS's due date whenever
it gives one (its own loan table is what it falls back on). Accompanying material lent to a
patron who has its item is due with that item.

A checkout is refused, with a screen message: an unknown or invalid patron, a wrong patron
password (when sent), a patron whose charge privileges are denied or card is reported lost (a
block: unless the terminal says no block), an unknown item, an item for library use only, an
item on loan to someone else. An item on loan to the same patron is renewed (a new due date),
so a terminal that lost the answer to a checkout and asks again gets the loan. A checkin ends
the loan, or is refused for an item that is not on loan or unknown.

A block is kept on the patron record, as in a real ILS: charge privileges denied (patron status
position 0) from then on, and `blocked` holds the blocked card message. SIP2 has no message that
lifts a block (25 Patron Enable is for system testing only), so a library lifts it in the ILS:
here `unblock(patron_id)`. `keep_blocks` False blocks as Koha's SIP server does: the privileges
denied in the answer only, and nothing kept on the record.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, time as day_time, timedelta
from typing import Any, TypedDict

INSTITUTION = "NTNU"
LOAN_DAYS = 30  # this ILS's loan period: due at the end of the 30th day
LOCATION = "NTNU UB"  # every item's permanent location (AQ), unless the item says otherwise
# The patron status flags that stop a checkout: charge privileges denied, card reported lost.
NO_CHARGE = (0, 4)

# The screen messages (AF) this ILS answers with.
UNKNOWN_PATRON = "Unknown patron"
WRONG_PASSWORD = "Invalid patron password"
PATRON_BLOCKED = "Patron blocked: borrowing is not allowed"
ITEM_NOT_FOUND = "Item not found"
LIBRARY_USE_ONLY = "Library use only: this item cannot be borrowed"
ON_LOAN_TO_ANOTHER = "Item is on loan to another patron"
NOT_ON_LOAN = "Item was not on loan"
CARD_BLOCKED = "Card blocked"


def patron_status(flags: Iterable[int] | str | None) -> str:
    """The 14 characters of a patron status: as given, or "Y" at the positions of the flags."""
    if isinstance(flags, str):
        return flags.ljust(14)[:14]
    status = [" "] * 14
    for index in flags or ():
        status[index] = "Y"
    return "".join(status)


def asked_range(loans: list[str], start: str | None, end: str | None) -> list[str]:
    """The items a patron information request asks for: start (BP) to end (BQ), from 1.

    From the first and to the last when not said (or not a number).
    """

    def number(text: str | None, default: int) -> int:
        value = (text or "").strip()
        return int(value) if value.isascii() and value.isdigit() else default

    first = max(number(start, 1), 1)
    return loans[first - 1 : number(end, len(loans))]


class RecordOptions(TypedDict, total=False):
    """What the records may be told besides the patrons and the character set (`IlsRecords`)."""

    login_user: str | None
    login_password: str | None
    institution: str
    items: list[dict[str, Any]] | None
    now: Callable[[], datetime]
    loan_days: int


@dataclass(slots=True)
class Loan:
    """An item on loan: to whom (the patron's ID) and until when."""

    patron_id: str
    due: datetime


@dataclass(frozen=True, slots=True)
class Checkout:
    """A checkout decided: refused (`refusal`, the screen message) or lent until `due`.

    `patron_id` and `barcode` are the patron's ID and the item's barcode as on the records when
    lent, as asked for when refused; `item` is the item's record (None when unknown).
    `renewal` says the patron already had the item.
    """

    patron_id: str
    barcode: str
    item: dict[str, Any] | None
    due: datetime | None = None
    renewal: bool = False
    refusal: str | None = None


@dataclass(frozen=True, slots=True)
class Checkin:
    """A checkin decided: the loan it ended, or refused (`refusal`, the screen message).

    `barcode` is the item's as catalogued (as asked for when it is unknown), `item` its record
    (None when unknown), `loan` the loan that ended (None when it was not on loan).
    """

    barcode: str
    item: dict[str, Any] | None
    loan: Loan | None
    refusal: str | None


class IlsRecords:
    """An in-memory ILS without a wire: its records, its rules and what a test reads of it.

    Besides the records: `checkins` and `blocks` are every checkin and block as received,
    `counts` the requests seen per command, `checksummed` those with error detection,
    `connections` the connections taken; `login_user` / `login_password` are the terminal's
    login (none asked for when `login_user` is None) and `reject_login` refuses any;
    `fault` is the server's fault switched on (each server lists its own).
    """

    def __init__(
        self,
        patrons: Iterable[Mapping[str, Any]],
        *,
        login_user: str | None = None,
        login_password: str | None = None,
        institution: str = INSTITUTION,
        encoding: str = "utf-8",
        items: list[dict[str, Any]] | None = None,
        now: Callable[[], datetime] = datetime.now,
        loan_days: int = LOAN_DAYS,
    ) -> None:
        self.patrons = {str(p["id"]).upper(): dict(p) for p in patrons}
        catalogue = demo_items() if items is None else items
        self.items = {str(i["barcode"]).strip().upper(): dict(i) for i in catalogue}
        self.loans: dict[str, Loan] = {}
        self.now = now
        self.loan_days = loan_days
        self.institution = institution
        self.encoding = encoding
        self.login_user = login_user
        self.login_password = login_password
        self.reject_login = False
        self.keep_blocks = True
        self.fault: str | None = None
        # Every checkin as received: (item, return date as sent, current location).
        self.checkins: list[tuple[str, str, str]] = []
        # Every block as received: (patron ID asked for, blocked card message, card retained).
        self.blocks: list[tuple[str, str, bool]] = []
        self.counts: dict[str, int] = {}  # requests seen per command
        self.checksummed = 0  # requests that came with error detection (AY/AZ)
        self.connections = 0

    def count(self, command: str) -> None:
        """Count a request of this command."""
        self.counts[command] = self.counts.get(command, 0) + 1

    def login(self, user: str | None, password: str | None) -> bool:
        """Whether a terminal logs in with this user and password."""
        return not self.reject_login and user == self.login_user and password == self.login_password

    # --- Patrons ------------------------------------------------------------------------------

    def find(self, key: str) -> dict[str, Any] | None:
        """Return the patron with this ID or card."""
        key = key.strip().upper()
        if key in self.patrons:
            return self.patrons[key]
        for patron in self.patrons.values():
            if str(patron.get("card") or "").upper() == key:
                return patron
        return None

    def patron(self, key: str) -> dict[str, Any] | None:
        """Return the patron with this ID or card, None for one unknown or not valid."""
        patron = self.find(key)
        return None if patron is None or patron.get("valid") is False else patron

    @staticmethod
    def password_check(patron: Mapping[str, Any], password: str | None) -> str | None:
        """The answer to a password check (CQ): Y, N, "" (blank_cq), None when none was sent."""
        if password is None:
            return None
        if patron.get("blank_cq"):
            return ""
        return "Y" if password == patron.get("password") else "N"

    def loans_of(self, patron_id: str) -> list[str]:
        """Return the barcodes on loan to a patron (by ID or card), oldest loan first."""
        patron = self.find(patron_id)
        key = str(patron["id"]).upper() if patron is not None else patron_id.strip().upper()
        return [
            str(self.items[barcode]["barcode"])
            for barcode, loan in self.loans.items()
            if loan.patron_id.upper() == key
        ]

    def block(self, key: str, message: str, retained: bool) -> tuple[dict[str, Any] | None, str]:
        """Block a patron; return the patron (None: unknown) and the status to answer with."""
        self.blocks.append((key, message, retained))
        patron = self.patron(key)
        if patron is None:
            return None, patron_status(None)
        status = list(patron_status(patron.get("status")))
        if self.keep_blocks:
            if "blocked" not in patron:
                patron["status_before_block"] = patron.get("status")
            status[0] = "Y"
            patron["status"] = "".join(status)
            patron["blocked"] = message
            patron["card_retained"] = retained
        else:  # Koha: privileges denied in this answer only
            status[:4] = "YYYY"
        return patron, "".join(status)

    def unblock(self, patron_id: str) -> bool:
        """Lift a block as staff would in the ILS; False when the patron is not blocked."""
        patron = self.find(patron_id)
        if patron is None or "blocked" not in patron:
            return False
        patron["status"] = patron.pop("status_before_block", None)
        del patron["blocked"]
        patron.pop("card_retained", None)
        return True

    # --- Items --------------------------------------------------------------------------------

    def item(self, barcode: str) -> dict[str, Any] | None:
        """Return the catalogue record of an item (its barcode in any case)."""
        return self.items.get(barcode.strip().upper())

    def loan(self, barcode: str) -> Loan | None:
        """Return the loan of an item (its barcode in any case), None when it is on the shelf."""
        return self.loans.get(barcode.strip().upper())

    @staticmethod
    def location(item: Mapping[str, Any]) -> str:
        """An item's permanent location (AQ)."""
        return str(item.get("location") or LOCATION)

    def text(self, value: object) -> str:
        """A value as this ILS sends it: what the character set lacks comes out as "?"."""
        return str(value).encode(self.encoding, "replace").decode(self.encoding)

    def due(self) -> datetime:
        """The due moment of a loan made now: the end of the loan period's last day."""
        return datetime.combine(
            self.now().date() + timedelta(days=self.loan_days), day_time(23, 59, 59)
        )

    # --- Circulation --------------------------------------------------------------------------

    def checkout(self, key: str, barcode: str, password: str | None, *, no_block: bool) -> Checkout:
        """Lend an item to a patron (by ID or card), or refuse to."""
        patron = self.patron(key)
        item = self.item(barcode)

        def refuse(message: str) -> Checkout:
            return Checkout(key, barcode, item, refusal=message)

        if patron is None:
            return refuse(UNKNOWN_PATRON)
        if password is not None and password != patron.get("password"):
            return refuse(WRONG_PASSWORD)
        status = patron_status(patron.get("status"))
        if not no_block and any(status[i] == "Y" for i in NO_CHARGE):
            return refuse(PATRON_BLOCKED)
        if item is None:
            return refuse(ITEM_NOT_FOUND)
        if item.get("library_use_only"):
            return refuse(LIBRARY_USE_ONLY)
        patron_id = str(patron["id"])
        item_key = str(item["barcode"]).strip().upper()
        loan = self.loans.get(item_key)
        if loan is not None and loan.patron_id.upper() != patron_id.upper():
            return refuse(ON_LOAN_TO_ANOTHER)
        due = self.due()
        # Accompanying material is due with its item when the patron has that on loan.
        accompanied = self.loan(str(item.get("accompanies") or ""))
        if accompanied is not None and accompanied.patron_id.upper() == patron_id.upper():
            due = accompanied.due
        # A new loan goes last (loans_of: oldest first); a renewal keeps its place.
        self.loans[item_key] = Loan(patron_id, due)
        return Checkout(patron_id, str(item["barcode"]), item, due, renewal=loan is not None)

    def checkin(self, barcode: str, returned: str, location: str) -> Checkin:
        """End an item's loan (the return date and current location as the terminal sent them)."""
        self.checkins.append((barcode, returned, location))
        item = self.item(barcode)
        if item is None:
            return Checkin(barcode, None, None, ITEM_NOT_FOUND)
        loan = self.loans.pop(str(item["barcode"]).strip().upper(), None)
        return Checkin(str(item["barcode"]), item, loan, None if loan is not None else NOT_ON_LOAN)


def demo_items() -> list[dict[str, Any]]:
    """Return the demo catalogue: books, references and the CDs of the first twenty books.

    Books B00001-B00500 ("Book 00001" ...), references R00001-R00020 (library use only) and
    CDs CD-B00001-CD-B00020, each accompanying the book of its number.
    """
    books = [
        {"barcode": f"B{n:05d}", "title": f"Book {n:05d}", "library_use_only": False}
        for n in range(1, 501)
    ]
    references = [
        {"barcode": f"R{n:05d}", "title": f"Reference {n:05d}", "library_use_only": True}
        for n in range(1, 21)
    ]
    cds = [
        {
            "barcode": f"CD-B{n:05d}",
            "title": f"CD for Book {n:05d}",
            "library_use_only": False,
            "accompanies": f"B{n:05d}",
        }
        for n in range(1, 21)
    ]
    return books + references + cds
