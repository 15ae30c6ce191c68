"""A SIP2 terminal: each question to the ACS as one call, each answer as a dataclass.

`Sip2Client` asks over one connection (connection.py), opened and logged in when first needed:
99 SC Status (`sc_status`, `check`), 63 Patron Information (`patron_information`,
`charged_items`), 01 Block Patron (`block_patron`), 17 Item Information (`item_information`),
11 Checkout (`checkout`) and 09 Checkin (`checkin`). `request` sends any other message the
codec can build.

What a call can raise, all of them `Sip2Error`s:

- Sip2ValueError: an argument cannot be sent (empty where a value is needed, longer than the
  bounds below, a `|`, CR, LF or NUL, a letter the character set lacks); `field` names it.
  Nothing was sent.
- Sip2Unavailable: the ACS cannot be reached, closed the connection or did not answer in time.
- Sip2LoginRejected: the ACS refused the terminal's SIP login.
- Sip2ProtocolError: the ACS answered something that cannot be read (a bad checksum twice, an
  answer to another question or about another item). That exchange failed; the next is asked
  as usual.

A refusal by the ACS is an answer, not an error: an unknown patron is `valid_patron` False, a
checkout the ACS will not make is `ok` False with its screen message. Patron IDs are sent as
given; barcodes as `wire_barcode` makes them. Passwords (the patron's AD, the terminal's
CO) are never logged and never put in an error.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
import ssl
from typing import Final

from . import codec, item_messages, patron_info
from .codec import AcsStatus, Message, Sip2ProtocolError, Sip2ValueError
from .config import Sip2Config
from .connection import Sip2Connection, Sip2Unavailable
from .item_messages import ChargedItems, CheckinAnswer, CheckoutAnswer, ItemInfo
from .patron_info import PatronInformation, PatronStatus

# What this client sends at most. Patron and item identifiers (AA, AB) are barcodes, card and
# student numbers: short. A patron password (AD) is what a patron types.
MAX_IDENTIFIER_LENGTH: Final = 64
MAX_PATRON_PASSWORD_LENGTH: Final = 128
MAX_LOCATION_LENGTH: Final = 64  # AP, the current location of a checkin
MAX_CHARGED_ITEMS: Final = 200  # AU asked for at most (BP 1 to BQ this)


class Sip2Client:
    """A self-check terminal's SIP session with one ACS."""

    def __init__(
        self,
        config: Sip2Config,
        *,
        ssl_context: ssl.SSLContext | None = None,
        now: Callable[[], datetime] = datetime.now,
    ) -> None:
        """Take the settings; `ssl_context` replaces the default TLS context when given.

        `now` is the terminal's clock (the transaction dates), local time.
        """
        self.config = config
        self._connection = Sip2Connection(config, ssl_context)
        self._now = now

    @property
    def requests(self) -> int:
        """Answers read from the ACS."""
        return self._connection.requests

    async def request(self, message: Message, expect: str) -> Message:
        """Send any message and return the answer, which must be an `expect` command."""
        return await self._connection.request(message, expect)

    async def close(self) -> None:
        """Close the connection (after the request in flight, if any)."""
        await self._connection.close()

    # --- Status -------------------------------------------------------------------------------

    async def sc_status(self) -> AcsStatus:
        """99 SC Status: what the ACS says of itself (online, checkout ok ...)."""
        answer = await self.request(codec.sc_status(), codec.ACS_STATUS)
        return codec.read_acs_status(answer)

    async def check(self) -> AcsStatus:
        """Connect, log in when configured, ask 99 SC Status and expect an online ACS.

        A health check: an answer that cannot be read fails it as no answer does. Raises
        Sip2LoginRejected or Sip2Unavailable.
        """
        try:
            status = await self.sc_status()
        except Sip2ProtocolError as err:
            raise Sip2Unavailable(str(err)) from None
        if not status.online:
            raise Sip2Unavailable("ACS is offline")
        return status

    # --- Patrons ------------------------------------------------------------------------------

    async def patron_information(
        self, patron_id: str, *, password: str | None = None
    ) -> PatronInformation:
        """63 Patron Information: the patron, and with `password` whether it is right (CQ).

        An empty password is never sent: some ACSs skip the check for an empty AD.
        """
        self._value(patron_id, "patron_id", MAX_IDENTIFIER_LENGTH)
        if password is not None:
            self._value(password, "password", MAX_PATRON_PASSWORD_LENGTH)
        answer = await self.request(
            self._patron_information(patron_id, password), codec.PATRON_INFORMATION_RESPONSE
        )
        return patron_info.read_patron_information(answer)

    async def charged_items(
        self, patron_id: str, *, limit: int = MAX_CHARGED_ITEMS
    ) -> ChargedItems | None:
        """What the patron has on loan: 63 with the charged items summary, AU 1 to `limit`.

        None when the ACS does not know the patron (BL not Y).
        """
        self._value(patron_id, "patron_id", MAX_IDENTIFIER_LENGTH)
        request = codec.patron_information(
            self.config.institution,
            patron_id,
            self._now(),
            terminal_password=self.config.terminal_password,
            summary=item_messages.SUMMARY_CHARGED_ITEMS,
            items=(1, max(1, min(limit, MAX_CHARGED_ITEMS))),
        )
        answer = await self.request(request, codec.PATRON_INFORMATION_RESPONSE)
        if answer.get("BL") != "Y":
            return None
        return item_messages.read_charged_items(answer)

    async def block_patron(
        self, patron_id: str, message: str, *, card_retained: bool = False
    ) -> PatronStatus:
        """01 Block Patron: ask the ACS to block the patron's card; its 24 answer.

        `message` goes as the blocked card message (AL), made sendable by
        `blocked_card_message`. `card_retained` says the terminal kept the card. Whether the
        ACS kept the block, only the next 63 tells (see BLOCK_FLAGS).
        """
        self._value(patron_id, "patron_id", MAX_IDENTIFIER_LENGTH)
        request = codec.block_patron(
            self.config.institution,
            patron_id,
            patron_info.blocked_card_message(message, self.config.encoding),
            self._now(),
            card_retained=card_retained,
            terminal_password=self.config.terminal_password,
        )
        answer = await self.request(request, codec.PATRON_STATUS_RESPONSE)
        return patron_info.read_patron_status(answer)

    # --- Circulation --------------------------------------------------------------------------

    async def item_information(self, barcode: str) -> ItemInfo | None:
        """17 Item Information: the item, or None when the ACS does not know the barcode."""
        item = self._barcode(barcode)
        request = item_messages.item_information(
            self.config.institution,
            item,
            self._now(),
            terminal_password=self.config.terminal_password,
        )
        answer = await self.request(request, codec.ITEM_INFORMATION_RESPONSE)
        return item_messages.read_item_information(answer, item)

    async def checkout(
        self,
        patron_id: str,
        barcode: str,
        *,
        password: str | None = None,
        no_block: bool = False,
        nb_due_date: datetime | None = None,
    ) -> CheckoutAnswer:
        """11 Checkout: lend an item; the ACS's answer, ok or not.

        `password` checks the patron's password in the same request (AD; None sends none).
        `no_block` tells the ACS the loan was already made (offline), so it must not refuse it
        for a block; `nb_due_date` is the due date it was given then. A checkout whose answer
        was lost may have been made: the item's information (or a second checkout) tells.
        """
        self._value(patron_id, "patron_id", MAX_IDENTIFIER_LENGTH)
        if password is not None:
            self._value(password, "password", MAX_PATRON_PASSWORD_LENGTH)
        item = self._barcode(barcode)
        request = item_messages.checkout(
            self.config.institution,
            patron_id,
            item,
            self._now(),
            password=password,
            no_block=no_block,
            nb_due_date=nb_due_date,
            terminal_password=self.config.terminal_password,
        )
        answer = await self.request(request, codec.CHECKOUT_RESPONSE)
        return item_messages.read_checkout(answer, item)

    async def checkin(
        self, barcode: str, *, return_date: datetime, location: str = ""
    ) -> CheckinAnswer:
        """09 Checkin: return an item; the ACS's answer, ok or not (not on loan, unknown).

        `return_date` goes as local time when naive, as UTC when aware; `location` is the
        current location (AP), where the item was returned. Checking in again is harmless.
        """
        item = self._barcode(barcode)
        self._value(location, "location", MAX_LOCATION_LENGTH, empty=True)
        if not isinstance(return_date, datetime):
            raise Sip2ValueError("return date is no date and time", field="return_date")
        request = item_messages.checkin(
            self.config.institution,
            item,
            self._now(),
            return_date,
            location=location,
            terminal_password=self.config.terminal_password,
        )
        answer = await self.request(request, codec.CHECKIN_RESPONSE)
        return item_messages.read_checkin(answer, item)

    # --- Values -------------------------------------------------------------------------------

    def sendable(self, value: str) -> bool:
        """Whether a value can go in a field: no `|`, CR, LF or NUL, nothing the charset lacks."""
        try:
            codec.check_text(value, "value", self.config.encoding)
        except Sip2ValueError:
            return False
        return True

    def _value(self, value: object, field: str, limit: int, *, empty: bool = False) -> None:
        """Raise Sip2ValueError(field) for a value this client does not send."""
        if not isinstance(value, str) or (not value and not empty) or len(value) > limit:
            raise Sip2ValueError(f"{field} is not text of 1 to {limit} characters", field=field)
        if not self.sendable(value):
            raise Sip2ValueError(
                f"{field} has a delimiter, CR, LF or NUL, or a letter the character set lacks",
                field=field,
            )

    def _barcode(self, barcode: object) -> str:
        """The barcode as sent; Sip2ValueError("barcode") when there is none that can be."""
        item = item_messages.wire_barcode(barcode) if isinstance(barcode, str) else ""
        self._value(item, "barcode", MAX_IDENTIFIER_LENGTH)
        return item

    def _patron_information(self, patron_id: str, password: str | None) -> Message:
        return codec.patron_information(
            self.config.institution,
            patron_id,
            self._now(),
            password=password,
            terminal_password=self.config.terminal_password,
        )
