"""The ILS patron system (patron system `sip2`): patrons, blocks and loans in the library's ILS.

The one place where the SIP2 client (the sip2 package) meets the integration: its answers
become patrons (ils_patrons.py reads them) and its exceptions refusals. Two kinds of failure:
the ILS cannot be reached or does not answer in time (an outage, PATRON_SYSTEM_UNAVAILABLE,
which the integration's breaker counts), or it answered with something that cannot be read
(SIP2_PROTOCOL_ERROR: that request fails, the next is asked as usual). Text is read in the
site's character set with U+FFFD for what does not decode, so an odd byte in a name never fails
a login. Passwords (the patron's, the terminal's) are never logged and never put in an error.

Circulation: 17 Item Information, 11 Checkout and 09 Checkin, on the same connection and with
the same two kinds of failure. A refusal by the ILS (ok=0) is an answer, not an error: the
caller reads its screen message. The ILS decides due dates: the integration shows the ILS's due
date when it gives one.

Sites that share one ILS share its blocks: `async_block_patron` writes a freeze to the ILS with
01 Block Patron, and every site whose client reads that ILS refuses the patron from its next
question on, as long as its refusing flags keep charge privileges denied and card reported
lost (DEFAULT_REFUSING_FLAGS, the flags an ILS sets on a blocked patron: sip2.BLOCK_FLAGS); an
ILS that forgets the card instead answers BL=N, which refuses a login as invalid credentials
and a card as unknown. An ILS block is lifted in the ILS, never from here.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import datetime
import logging
import ssl
import time
from typing import Final

from ..core.categories import MOST_RESTRICTED_CATEGORY
from ..core.errors import Reason, Refused
from ..core.identity import mask_patron_id, normalize_card, normalize_patron_id, printable
from ..core.model import Patron
from ..sip2 import (
    DEFAULT_ENCODING,
    MAX_CHARGED_ITEMS,
    ChargedItems,
    CheckinAnswer,
    CheckoutAnswer,
    ItemInfo,
    PatronInformation,
    Sip2Client,
    Sip2Error,
    Sip2LoginRejected,
    Sip2Unavailable,
    Sip2ValueError,
    blocked_card_message,
    status_flag_positions,
    wire_barcode,
)
from . import PatronSystem
from .ils_patrons import (
    CARD_LOST,
    DEFAULT_REFUSING_FLAGS,
    IlsConfig,
    IlsConfigError,
    flag_reasons,
    read_patron,
    shown_type,
)

__all__ = [
    "DEFAULT_REFUSING_FLAGS",
    "SIP2_PROTOCOL_ERROR",
    "IlsConfig",
    "IlsConfigError",
    "IlsPatronSystem",
    "block_message",
]

_LOGGER = logging.getLogger(__name__)

CARD_CACHE_SECONDS: Final = 60.0
CARD_CACHE_SIZE: Final = 256
# Unmapped patron types remembered (each reported once).
UNMAPPED_TYPES_MAX: Final = 32

# An answer that cannot be read fails its request without looking like an outage.
SIP2_PROTOCOL_ERROR: Final[Reason] = Reason.PATRON_SYSTEM_ERROR

# The blocked card message when the freeze gives no reason.
DEFAULT_BLOCK_MESSAGE: Final = "Room rights frozen"


def block_message(reason: str, encoding: str = DEFAULT_ENCODING) -> str:
    """The reason as the ILS's blocked card message (sip2.blocked_card_message), never empty.

    A `|`, CR, LF, NUL or any other unprintable character becomes a space (one for a run of
    them), a letter the ILS's character set lacks becomes "?", an empty reason the default.
    """
    return blocked_card_message(reason, encoding) or DEFAULT_BLOCK_MESSAGE


class IlsPatronSystem(PatronSystem):
    """Patrons as the ILS knows them (63 Patron Information), blocks (01), loans (17, 11, 09)."""

    def __init__(
        self,
        config: IlsConfig,
        *,
        ssl_context: ssl.SSLContext | None = None,
        now: Callable[[], datetime] = datetime.now,
        monotonic: Callable[[], float] = time.monotonic,
        on_unmapped_category: Callable[[str], None] | None = None,
    ) -> None:
        """Take the configuration; an SSL context may be handed in (HA's shared one).

        `on_unmapped_category` is called once per patron type the category mapping does not
        know (escaped by `shown_type`, at most UNMAPPED_TYPES_MAX of them), for a repair issue.
        """
        self.config = config
        self.on_unmapped_category = on_unmapped_category
        self._refusing = status_flag_positions(config.refusing_flags)
        self._unmapped: set[str] = set()
        self._client = Sip2Client(config, ssl_context=ssl_context, now=now)
        self._monotonic = monotonic
        self._cards: OrderedDict[str, tuple[float, Patron | None]] = OrderedDict()
        # The ILS refused the terminal's SIP login on the last try: staff must enter it again.
        self.login_rejected = False

    @property
    def requests(self) -> int:
        """Answers read from the ILS (diagnostics, tests)."""
        return self._client.requests

    # --- PatronSystem ---------------------------------------------------------------------

    async def async_authenticate(self, patron_id: str, password: str) -> Patron:
        """Check ID and password with the ILS: BL=Y and CQ=Y, then the status flags."""
        key = normalize_patron_id(patron_id) if isinstance(patron_id, str) else ""
        # An empty AD makes some ILSs skip the password check: never send one. An ID or a
        # password the client cannot send (a `|`, CR, LF or NUL: an attempt to inject fields;
        # a letter the ILS's character set lacks: not the one on file) is refused alike.
        if not key or not isinstance(password, str) or not password:
            raise Refused(Reason.INVALID_CREDENTIALS)
        try:
            info = await self._ask(
                lambda: self._client.patron_information(key, password=password), key
            )
        except Sip2ValueError:
            raise Refused(Reason.INVALID_CREDENTIALS) from None
        if info.valid_patron is not True or info.valid_password is not True:
            _LOGGER.debug("SIP2 login refused for %s", mask_patron_id(key))
            raise Refused(Reason.INVALID_CREDENTIALS)
        reasons = flag_reasons(info.flags, self._refusing)
        if reasons:
            _LOGGER.debug("SIP2 patron %s flagged: %s", mask_patron_id(key), reasons[0])
            raise Refused(reasons[0])
        patron = self._patron(info, key)
        # The cache answers card taps: a card reported lost must not be let in through it.
        if patron.card and CARD_LOST not in info.flags:
            self._remember(patron.card, patron)
        return patron

    async def async_get_patron(self, patron_id: str) -> Patron | None:
        """Return the patron (suspended when a refusing flag is set), or None when BL is not Y."""
        key = normalize_patron_id(patron_id) if isinstance(patron_id, str) else ""
        info = await self._lookup(key)
        if info is None:
            return None
        suspended = bool(flag_reasons(info.flags, self._refusing))
        return self._patron(info, key, suspended=suspended)

    async def async_find_by_card(self, card: str) -> Patron | None:
        """Resolve a tapped card through the ILS (the card as AA), cached for a minute.

        A card tap is an access attempt: a refusing status flag raises its refusal, and a card
        reported lost is refused whatever the site chose: the flag may let its owner log in with
        a password, never let a finder open a door with the card.
        """
        key = normalize_card(card) if isinstance(card, str) else ""
        cached = self._cards.get(key)
        if cached is not None and cached[0] > self._monotonic():
            self._cards.move_to_end(key)
            return cached[1]
        info = await self._lookup(key)
        if info is None:
            self._remember(key, None)
            return None
        reasons = flag_reasons(info.flags, self._refusing | {CARD_LOST})
        if reasons:
            raise Refused(reasons[0])
        patron = self._patron(info, key)
        if patron.card is None:
            patron = Patron(
                patron_id=patron.patron_id,
                name=patron.name,
                category=patron.category,
                membership_expires=patron.membership_expires,
                suspended=patron.suspended,
                card=key,
            )
        self._remember(key, patron)
        return patron

    async def async_find_by_name(self, name: str) -> list[Patron]:
        """SIP2 cannot search by name."""
        return []

    # --- Shared patron rules ----------------------------------------------------------------

    async def async_block_patron(self, patron_id: str, reason: str) -> None:
        """Block the patron in the ILS (01 Block Patron), so that every site refuses them.

        The reason goes to the ILS as the blocked card message (see `block_message`); card
        retained is N: the patron keeps the card, no door reader swallows one. The 24 answer is
        then checked by asking what every other site will ask next, a 63 for the patron: it must
        show the block (sip2.BLOCK_FLAGS, or BL=N), or the ILS took the message without keeping
        it (Koha's SIP server answers 01 with the flags set and stores nothing). The patron's
        cards leave the card cache, whatever the outcome.

        Raises Refused(UNKNOWN_PATRON) when the ILS answers BL=N to the block (it does not know
        the patron; an ILS without 01, as pysip2 with no handler, answers so too) or the ID
        cannot be sent; Refused(PATRON_SYSTEM_UNAVAILABLE) when the ILS does not answer (or
        refuses the SIP login); Refused(SIP2_PROTOCOL_ERROR) when its answer cannot be read, is
        not a 24, or the block does not show. Returns only once the ILS's answer about the
        patron refuses them. A failure after the 01 was sent may still leave the block in the
        ILS: asking again is harmless (a second block of a blocked patron changes nothing).
        """
        key = normalize_patron_id(patron_id) if isinstance(patron_id, str) else ""
        self._forget_patron(key)
        try:
            await self._block(key, reason)
        finally:
            # A card lookup answered before the block may have cached the patron meanwhile.
            self._forget_patron(key)

    async def _block(self, key: str, reason: str) -> None:
        masked = mask_patron_id(key) or "-"
        message = block_message(reason, self.config.encoding)
        try:
            answer = await self._ask(
                lambda: self._client.block_patron(key, message, card_retained=False),
                key,
                "block patron",
            )
            if answer.valid_patron is False:
                _LOGGER.warning("SIP2 block refused: the ILS does not know patron %s", masked)
                raise Refused(Reason.UNKNOWN_PATRON, patron=masked)
            # What another site's client will read: the block must be there.
            status = await self._ask(lambda: self._client.patron_information(key), key)
        except Sip2ValueError:  # an ID that cannot be sent: nobody to block, nothing asked
            raise Refused(Reason.UNKNOWN_PATRON, patron=masked) from None
        if status.valid_patron is not True:
            _LOGGER.info("SIP2 patron %s blocked: the ILS no longer knows the card", masked)
            return
        if not status.blocked:
            _LOGGER.warning(
                "SIP2 block of %s acknowledged, but the ILS does not keep it: its patron status "
                "shows neither charge privileges denied nor card reported lost",
                masked,
            )
            raise Refused(SIP2_PROTOCOL_ERROR)
        if not flag_reasons(status.flags, self._refusing):
            _LOGGER.warning(
                "SIP2 patron %s blocked, but this site's refusing flags do not refuse the flags "
                "the ILS set: the patron is refused only where they do",
                masked,
            )
        _LOGGER.info("SIP2 patron %s blocked in the ILS", masked)

    def _forget_patron(self, key: str) -> None:
        """Drop every cached card that resolves to this patron (or is this ID)."""
        if not key:
            return
        for card in [
            card
            for card, (_, patron) in self._cards.items()
            if card == key or (patron is not None and patron.patron_id == key)
        ]:
            del self._cards[card]

    # --- Circulation (17, 11, 09) -----------------------------------------------------------

    async def async_item_information(self, barcode: str) -> ItemInfo | None:
        """Ask the ILS about an item (17); None when it does not know the barcode.

        A barcode that cannot be sent (empty, too long, a `|`, CR, LF or NUL, a letter the
        character set lacks) is no item's: None without asking. Raises
        Refused(SIP2_PROTOCOL_ERROR) for an answer that cannot be read (or is about another
        item) and Refused(PATRON_SYSTEM_UNAVAILABLE) when there is none.
        """
        try:
            return await self._ask(
                lambda: self._client.item_information(barcode),
                _item(barcode),
                "item information",
                item=True,
            )
        except Sip2ValueError:
            return None

    async def async_checkout(
        self,
        patron_id: str,
        barcode: str,
        *,
        password: str | None = None,
        no_block: bool = False,
    ) -> CheckoutAnswer:
        """Lend an item to a patron (11); the ILS's answer, ok or not, is returned.

        `password` checks the patron's PIN in the same request (AD; None sends none).
        `no_block` asks the ILS not to refuse for a block on the patron (SIP2's offline
        transaction flag: staff override at the counter). A refusal (ok False) carries the
        ILS's reason in `screen_message`; a loan its due date (`due`, `due_date`, `due_at`).

        Raises Refused(UNKNOWN_PATRON) for a patron ID, Refused(INVALID_CREDENTIALS) for a
        password and Refused(INVALID_VALUE) for a barcode that cannot be sent (nothing is
        asked), Refused(SIP2_PROTOCOL_ERROR) for an answer that cannot be read and
        Refused(PATRON_SYSTEM_UNAVAILABLE) when there is none. A checkout whose answer was
        lost may have been made: asking the item's information (or checking out again) tells.
        """
        key = normalize_patron_id(patron_id) if isinstance(patron_id, str) else ""
        try:
            return await self._ask(
                lambda: self._client.checkout(key, barcode, password=password, no_block=no_block),
                key,
                "checkout",
            )
        except Sip2ValueError as err:
            if err.field == "password":
                raise Refused(Reason.INVALID_CREDENTIALS) from None
            if err.field == "barcode":
                raise Refused(Reason.INVALID_VALUE, field="barcode") from None
            raise Refused(Reason.UNKNOWN_PATRON, patron=mask_patron_id(key) or "-") from None

    async def async_checkin(
        self, barcode: str, *, return_date: datetime, location: str = ""
    ) -> CheckinAnswer:
        """Return an item (09): the ILS's answer, ok or not (ok False: not on loan, unknown).

        `return_date` goes as local time when naive, as UTC when aware; `location` is the
        current location (AP), where the item was returned.

        Raises Refused(INVALID_VALUE) for a barcode or location that cannot be sent,
        Refused(SIP2_PROTOCOL_ERROR) for an answer that cannot be read and
        Refused(PATRON_SYSTEM_UNAVAILABLE) when there is none. Checking in again is harmless.
        """
        try:
            return await self._ask(
                lambda: self._client.checkin(barcode, return_date=return_date, location=location),
                _item(barcode),
                "checkin",
                item=True,
            )
        except Sip2ValueError as err:
            field = "barcode" if err.field == "barcode" else "location"
            raise Refused(Reason.INVALID_VALUE, field=field) from None

    async def async_charged_items(self, patron_id: str) -> ChargedItems | None:
        """Ask what the patron has on loan (63 with the charged items summary).

        Returns the ILS's charged items count and its AU fields (at most MAX_CHARGED_ITEMS),
        or None when the ILS does not know the patron (BL not Y) or the ID cannot be sent.
        Raises as a lookup does.
        """
        key = normalize_patron_id(patron_id) if isinstance(patron_id, str) else ""
        try:
            return await self._ask(
                lambda: self._client.charged_items(key, limit=MAX_CHARGED_ITEMS),
                key,
                "charged items",
            )
        except Sip2ValueError:
            return None

    # --- Config flow and shutdown ----------------------------------------------------------

    async def async_test(self) -> None:
        """Connect, log in when configured, ask 99 SC Status and expect an online 98.

        Raises Sip2LoginRejected or Sip2Unavailable.
        """
        await self._client.check()

    async def async_close(self) -> None:
        """Close the connection."""
        await self._client.close()

    # --- Asking -----------------------------------------------------------------------------

    async def _lookup(self, key: str) -> PatronInformation | None:
        """63 without a password; None when the ILS does not know the ID (BL not Y)."""
        try:
            info = await self._ask(lambda: self._client.patron_information(key), key)
        except Sip2ValueError:  # empty, too long, or not sendable: nobody's
            return None
        return info if info.valid_patron is True else None

    async def _ask[T](
        self,
        call: Callable[[], Awaitable[T]],
        key: str,
        what: str = "patron information",
        *,
        item: bool = False,
    ) -> T:
        """Ask the ILS (63, 01, 17, 11, 09) and return the client's reading of the answer.

        `key` is the patron ID (masked in a log) or, with `item`, the barcode (shown).
        Refused(SIP2_PROTOCOL_ERROR) when the answer cannot be read, and
        Refused(PATRON_SYSTEM_UNAVAILABLE) when there is none (or the SIP login was refused).
        Sip2ValueError (nothing was sent) is the caller's to turn into its refusal.
        """
        try:
            result = await call()
        except Sip2ValueError:
            raise
        except (Sip2Unavailable, Sip2LoginRejected) as err:
            self.login_rejected = isinstance(err, Sip2LoginRejected)
            _LOGGER.warning(
                "SIP2 %s for %s failed: %s: %s", what, _shown(key, item), type(err).__name__, err
            )
            raise Refused(Reason.PATRON_SYSTEM_UNAVAILABLE) from None
        except Sip2Error as err:
            # The ILS is there and answered: this request failed, the system is not down.
            self.login_rejected = False
            _LOGGER.warning(
                "SIP2 %s for %s failed: unreadable answer: %s", what, _shown(key, item), err
            )
            raise Refused(SIP2_PROTOCOL_ERROR) from None
        self.login_rejected = False
        return result

    def _patron(self, info: PatronInformation, key: str, *, suspended: bool = False) -> Patron:
        return read_patron(info, key, self.config, self._report_unmapped, suspended=suspended)

    def _report_unmapped(self, raw_type: str) -> None:
        shown = shown_type(raw_type)
        if shown in self._unmapped or len(self._unmapped) >= UNMAPPED_TYPES_MAX:
            return  # reported already, or an ILS sending ever new types: memory stays bounded
        self._unmapped.add(shown)
        _LOGGER.warning(
            "SIP2 patron type %s has no category; such patrons get %s until it is mapped",
            shown,
            MOST_RESTRICTED_CATEGORY,
        )
        if self.on_unmapped_category is None:
            return
        try:
            self.on_unmapped_category(shown)
        except Exception:  # a failing report must not cost the patron the login
            _LOGGER.exception("Reporting the unmapped SIP2 patron type failed")

    def _remember(self, card: str, patron: Patron | None) -> None:
        self._cards[card] = (self._monotonic() + CARD_CACHE_SECONDS, patron)
        self._cards.move_to_end(card)
        while len(self._cards) > CARD_CACHE_SIZE:
            self._cards.popitem(last=False)


def _item(barcode: object) -> str:
    """A barcode as the client sends it, for a log line."""
    return wire_barcode(barcode) if isinstance(barcode, str) else ""


def _shown(key: str, item: bool) -> str | None:
    """What a log line shows of the key: an item's barcode, a patron's masked ID."""
    return f"item {printable(key)}" if item else mask_patron_id(key)
