"""The SIP2 patron system (patron system `sip2`): patrons and blocks in the library's ILS.

Patrons are looked up with 63 Patron Information (patron_info.py reads the answer) and blocked
with 01 Block Patron, over one connection (connection.py). Two kinds of failure: the ILS cannot
be reached or does not answer in time (an outage, PATRON_SYSTEM_UNAVAILABLE, which the
integration's breaker counts), or it answered with something that cannot be read
(SIP2_PROTOCOL_ERROR: that request fails, the next is asked as usual). Text is read in the
site's character set with U+FFFD for what does not decode, so an odd byte in a name never fails
a login.

Passwords (the patron's AD, the terminal's CO) are never logged and never put in an error.

Circulation (item_messages.py): 17 Item Information, 11 Checkout and 09 Checkin, on the same
connection and with the same two kinds of failure. A refusal by the ILS (ok=0) is an answer,
not an error: the caller reads its screen message. The ILS decides due dates: the integration
shows the ILS's due date when it gives one.

Sites that share one ILS share its blocks: `async_block_patron` writes a freeze to the ILS with
01 Block Patron, and every site whose client reads that ILS refuses the patron from its next
question on (see BLOCK_FLAGS). An ILS block is lifted in the ILS, never from here.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
import logging
import ssl
import time
from typing import Final

from ...core.errors import Reason, Refused
from ...core.identity import mask_patron_id, normalize_card, normalize_patron_id, printable
from ...core.model import Patron
from .. import PatronSystem
from . import codec, item_messages
from .codec import DEFAULT_ENCODING, Message, Sip2Error
from .config import Sip2Config, flag_positions
from .connection import Sip2Connection, Sip2LoginRejected, Sip2Unavailable
from .item_messages import ChargedItems, CheckinAnswer, CheckoutAnswer, ItemInfo
from .patron_info import (
    CARD_LOST,
    MOST_RESTRICTED_CATEGORY,
    PATRON_STATUS_FLAGS,
    flag_reasons,
    read_patron,
)

_LOGGER = logging.getLogger(__name__)

CARD_CACHE_SECONDS: Final = 60.0
CARD_CACHE_SIZE: Final = 256
MAX_ID_LENGTH: Final = 64
MAX_PASSWORD_LENGTH: Final = 128
MAX_BARCODE_LENGTH: Final = 64
MAX_LOCATION_LENGTH: Final = 64
# AU asked for at most (BP 1 to BQ this): above every category's item limit.
MAX_CHARGED_ITEMS: Final = 200
# Unmapped patron types remembered (each reported once) and the length of one as shown to staff.
UNMAPPED_TYPES_MAX: Final = 32
UNMAPPED_TYPE_LENGTH: Final = 40

# An answer that cannot be read fails its request without looking like an outage.
SIP2_PROTOCOL_ERROR: Final[Reason] = Reason.PATRON_SYSTEM_ERROR

# --- Blocks (01 Block Patron) -------------------------------------------------------------------
# SIP2 2.00 says the ACS "should invalidate the patron's card" on 01 and answer 24 Patron Status,
# but not which of the 14 patron status flags a blocked patron then carries. The flag for "may
# not borrow at all" is charge privileges denied (position 0), and that is what ILSs set: the
# SIP server tests of Koha and OpenNCIP expect a 24 starting "24Y" after 01 (Koha sets positions
# 0-3, all the privileges), and an ILS that treats a blocked card as a lost one sets card
# reported lost (position 4) too, or alone. Some invalidate the card outright, and the patron is
# then unknown (BL=N). A block is therefore read as any of these, and each is refused: both
# flags are in DEFAULT_REFUSING_FLAGS (PRIVILEGES_DENIED, CARD_REPORTED_LOST), and BL=N refuses
# a login as invalid credentials and a card as unknown. A site that takes charge privileges
# denied out of its refusing flags no longer refuses a patron another site blocked.
#
# There is no undoing a block from here. The nearest message, 25 Patron Enable, is by the spec
# "only for system testing and validation", and would lift every block the ILS holds on the
# patron, the library's own included: an ILS block is lifted by staff in the ILS.
BLOCK_FLAGS: Final = frozenset({PATRON_STATUS_FLAGS.index("charge_privileges_denied"), CARD_LOST})
# The blocked card message (AL) as staff read it in the ILS: one line, bounded, always sendable.
BLOCK_MESSAGE_LENGTH: Final = 60
DEFAULT_BLOCK_MESSAGE: Final = "Room rights frozen"


def shown_type(raw: str) -> str:
    r"""A patron type as staff may see it: unprintables escaped (ESC as `\x1b`), length bounded."""
    text = "".join(
        ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in raw
    )
    return text[:UNMAPPED_TYPE_LENGTH]


def block_message(reason: str, encoding: str = DEFAULT_ENCODING) -> str:
    """The reason as a blocked card message: printable, one line, BLOCK_MESSAGE_LENGTH at most.

    A `|`, CR, LF, NUL or any other unprintable character becomes a space (one for a run of
    them), a letter the ILS's character set lacks becomes "?", an empty reason the default.
    """
    text = reason if isinstance(reason, str) else ""
    text = "".join(ch if ch.isprintable() and ch != "|" else " " for ch in text)
    text = " ".join(text.split())
    text = text.encode(encoding, "replace").decode(encoding)
    return text[:BLOCK_MESSAGE_LENGTH].rstrip() or DEFAULT_BLOCK_MESSAGE


class Sip2PatronSystem(PatronSystem):
    """Patrons as the ILS knows them, through SIP2 Patron Information; blocks by Block Patron."""

    def __init__(
        self,
        config: Sip2Config,
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
        self._refusing = flag_positions(config.refusing_flags)
        self._unmapped: set[str] = set()
        self._connection = Sip2Connection(config, ssl_context)
        self._now = now
        self._monotonic = monotonic
        self._cards: OrderedDict[str, tuple[float, Patron | None]] = OrderedDict()
        # The ILS refused the terminal's SIP login on the last try: staff must enter it again.
        self.login_rejected = False

    @property
    def requests(self) -> int:
        """Answers read from the ILS (diagnostics, tests)."""
        return self._connection.requests

    # --- PatronSystem ---------------------------------------------------------------------

    async def async_authenticate(self, patron_id: str, password: str) -> Patron:
        """Check ID and password with the ILS: BL=Y and CQ=Y, then the status flags."""
        key = normalize_patron_id(patron_id) if isinstance(patron_id, str) else ""
        if (
            not key
            or len(key) > MAX_ID_LENGTH
            or not isinstance(password, str)
            or not password
            or len(password) > MAX_PASSWORD_LENGTH
        ):
            # An empty AD makes some ILSs skip the password check: never send one.
            raise Refused(Reason.INVALID_CREDENTIALS)
        request = self._patron_request(key, password)
        # A `|`, CR, LF or NUL (an attempt to inject fields), or a letter the ILS's character
        # set lacks (that password cannot be the one on file).
        if request is None:
            raise Refused(Reason.INVALID_CREDENTIALS)
        answer = await self._ask(request, key)
        if answer.get("BL") != "Y" or answer.get("CQ") != "Y":
            _LOGGER.debug("SIP2 login refused for %s", mask_patron_id(key))
            raise Refused(Reason.INVALID_CREDENTIALS)
        reasons = flag_reasons(answer.fixed, self._refusing)
        if reasons:
            _LOGGER.debug("SIP2 patron %s flagged: %s", mask_patron_id(key), reasons[0])
            raise Refused(reasons[0])
        patron = self._patron(answer, key)
        # The cache answers card taps: a card reported lost must not be let in through it.
        if patron.card and not flag_reasons(answer.fixed, {CARD_LOST}):
            self._remember(patron.card, patron)
        return patron

    async def async_get_patron(self, patron_id: str) -> Patron | None:
        """Return the patron (suspended when a refusing flag is set), or None when BL is not Y."""
        key = normalize_patron_id(patron_id) if isinstance(patron_id, str) else ""
        answer = await self._lookup(key)
        if answer is None:
            return None
        suspended = bool(flag_reasons(answer.fixed, self._refusing))
        return self._patron(answer, key, suspended=suspended)

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
        answer = await self._lookup(key)
        if answer is None:
            self._remember(key, None)
            return None
        reasons = flag_reasons(answer.fixed, self._refusing | {CARD_LOST})
        if reasons:
            raise Refused(reasons[0])
        patron = self._patron(answer, key)
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
        show the block (BLOCK_FLAGS, or BL=N), or the ILS took the message without keeping it
        (Koha's SIP server answers 01 with the flags set and stores nothing). The patron's cards
        leave the card cache, whatever the outcome.

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
        request = codec.block_patron(
            self.config.institution,
            key,
            block_message(reason, self.config.encoding),
            self._now(),
            card_retained=False,
            terminal_password=self.config.terminal_password,
        )
        if not key or len(key) > MAX_ID_LENGTH or not self._sendable(request):
            raise Refused(Reason.UNKNOWN_PATRON, patron=masked)
        answer = await self._ask(request, key, codec.PATRON_STATUS_RESPONSE, "block patron")
        if answer.get("BL") == "N":
            _LOGGER.warning("SIP2 block refused: the ILS does not know patron %s", masked)
            raise Refused(Reason.UNKNOWN_PATRON, patron=masked)
        # What another site's client will read: the block must be there.
        check = self._patron_request(key, None)
        if check is None:  # pragma: no cover - the same ID was sendable in the 01
            raise Refused(Reason.UNKNOWN_PATRON, patron=masked)
        status = await self._ask(check, key)
        if status.get("BL") != "Y":
            _LOGGER.info("SIP2 patron %s blocked: the ILS no longer knows the card", masked)
            return
        if not flag_reasons(status.fixed, BLOCK_FLAGS):
            _LOGGER.warning(
                "SIP2 block of %s acknowledged, but the ILS does not keep it: its patron status "
                "shows neither charge privileges denied nor card reported lost",
                masked,
            )
            raise Refused(SIP2_PROTOCOL_ERROR)
        if not flag_reasons(status.fixed, self._refusing):
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
        key = self._barcode(barcode)
        if key is None:
            return None
        request = item_messages.item_information(
            self.config.institution,
            key,
            self._now(),
            terminal_password=self.config.terminal_password,
        )
        answer = await self._ask(
            request, key, codec.ITEM_INFORMATION_RESPONSE, "item information", item=True
        )
        return self._read(item_messages.read_item_information, answer, key, "item information")

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
        if not key or len(key) > MAX_ID_LENGTH or not self._sendable_text(key):
            raise Refused(Reason.UNKNOWN_PATRON, patron=mask_patron_id(key) or "-")
        if password is not None and (
            not isinstance(password, str)
            or not password  # an empty AD makes some ILSs skip the check
            or len(password) > MAX_PASSWORD_LENGTH
            or not self._sendable_text(password)
        ):
            raise Refused(Reason.INVALID_CREDENTIALS)
        item = self._barcode(barcode)
        if item is None:
            raise Refused(Reason.INVALID_VALUE, field="barcode")
        request = item_messages.checkout(
            self.config.institution,
            key,
            item,
            self._now(),
            password=password,
            no_block=no_block,
            terminal_password=self.config.terminal_password,
        )
        answer = await self._ask(request, key, codec.CHECKOUT_RESPONSE, "checkout")
        return self._read(item_messages.read_checkout, answer, item, "checkout")

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
        item = self._barcode(barcode)
        if (
            item is None
            or not isinstance(location, str)
            or len(location) > MAX_LOCATION_LENGTH
            or not self._sendable_text(location)
            or not isinstance(return_date, datetime)
        ):
            raise Refused(Reason.INVALID_VALUE, field="barcode" if item is None else "location")
        request = item_messages.checkin(
            self.config.institution,
            item,
            self._now(),
            return_date,
            location=location,
            terminal_password=self.config.terminal_password,
        )
        answer = await self._ask(request, item, codec.CHECKIN_RESPONSE, "checkin", item=True)
        return self._read(item_messages.read_checkin, answer, item, "checkin")

    async def async_charged_items(self, patron_id: str) -> ChargedItems | None:
        """Ask what the patron has on loan (63 with the charged items summary).

        Returns the ILS's charged items count and its AU fields (at most MAX_CHARGED_ITEMS),
        or None when the ILS does not know the patron (BL not Y). Raises as a lookup does.
        """
        key = normalize_patron_id(patron_id) if isinstance(patron_id, str) else ""
        if not key or len(key) > MAX_ID_LENGTH:
            return None
        request = codec.patron_information(
            self.config.institution,
            key,
            self._now(),
            terminal_password=self.config.terminal_password,
            summary=item_messages.SUMMARY_CHARGED_ITEMS,
            items=(1, MAX_CHARGED_ITEMS),
        )
        if not self._sendable(request):
            return None
        answer = await self._ask(request, key, what="charged items")
        if answer.get("BL") != "Y":
            return None
        return item_messages.read_charged_items(answer)

    def _barcode(self, barcode: object) -> str | None:
        """The barcode as sent, or None when there is none that can be sent."""
        key = item_messages.normalize_barcode(barcode) if isinstance(barcode, str) else ""
        if not key or len(key) > MAX_BARCODE_LENGTH or not self._sendable_text(key):
            return None
        return key

    def _sendable_text(self, value: str) -> bool:
        """Whether a value can go in a field: no `|`, CR, LF or NUL, nothing the charset lacks."""
        try:
            codec.check_text(value, "value", self.config.encoding)
        except Sip2Error:
            return False
        return True

    def _read[T](
        self, read: Callable[[Message, str], T], answer: Message, item: str, what: str
    ) -> T:
        """Read a circulation answer; one that cannot be read fails this request only."""
        try:
            return read(answer, item)
        except Sip2Error as err:
            _LOGGER.warning(
                "SIP2 %s of item %s failed: unreadable answer: %s", what, printable(item), err
            )
            raise Refused(SIP2_PROTOCOL_ERROR) from None

    # --- Config flow and shutdown ----------------------------------------------------------

    async def async_test(self) -> None:
        """Connect, log in when configured, ask 99 SC Status and expect an online 98.

        Raises Sip2LoginRejected or Sip2Unavailable.
        """
        try:
            answer = await self._connection.request(codec.sc_status(), codec.ACS_STATUS)
        except Sip2Error as err:  # for a health check, an unreadable answer is a failed one
            raise Sip2Unavailable(str(err)) from None
        if answer.fixed[:1] != "Y":
            raise Sip2Unavailable("ACS is offline")

    async def async_close(self) -> None:
        """Close the connection."""
        await self._connection.close()

    # --- Reading answers --------------------------------------------------------------------

    async def _lookup(self, key: str) -> Message | None:
        """63 without a password; None when the ILS does not know the ID (BL not Y)."""
        if not key or len(key) > MAX_ID_LENGTH:
            return None
        request = self._patron_request(key, None)
        if request is None:
            return None
        answer = await self._ask(request, key)
        return answer if answer.get("BL") == "Y" else None

    def _patron_request(self, key: str, password: str | None) -> Message | None:
        """Return a 63, or None when a value would break the framing (checked before sending)."""
        request = codec.patron_information(
            self.config.institution,
            key,
            self._now(),
            password=password,
            terminal_password=self.config.terminal_password,
        )
        return request if self._sendable(request) else None

    def _sendable(self, request: Message) -> bool:
        """Whether the request encodes: no `|`, CR, LF or NUL, nothing the charset lacks."""
        try:
            codec.encode(request, encoding=self.config.encoding)
        except Sip2Error:
            return False
        return True

    async def _ask(
        self,
        request: Message,
        key: str,
        expect: str = codec.PATRON_INFORMATION_RESPONSE,
        what: str = "patron information",
        *,
        item: bool = False,
    ) -> Message:
        """Send a request (63, 01, 17, 11, 09) and return its answer (64, 24, 18, 12, 10).

        `key` is the patron ID (masked in a log) or, with `item`, the barcode (shown).
        Refused(SIP2_PROTOCOL_ERROR) when the answer cannot be read, and
        Refused(PATRON_SYSTEM_UNAVAILABLE) when there is none (or the SIP login was refused).
        """
        shown = f"item {printable(key)}" if item else mask_patron_id(key)
        try:
            answer = await self._connection.request(request, expect)
        except Sip2Error as err:
            # The ILS is there and answered: this request failed, the system is not down.
            self.login_rejected = False
            _LOGGER.warning("SIP2 %s for %s failed: unreadable answer: %s", what, shown, err)
            raise Refused(SIP2_PROTOCOL_ERROR) from None
        except (Sip2Unavailable, Sip2LoginRejected) as err:
            self.login_rejected = isinstance(err, Sip2LoginRejected)
            _LOGGER.warning("SIP2 %s for %s failed: %s: %s", what, shown, type(err).__name__, err)
            raise Refused(Reason.PATRON_SYSTEM_UNAVAILABLE) from None
        self.login_rejected = False
        return answer

    def _patron(self, answer: Message, key: str, *, suspended: bool = False) -> Patron:
        return read_patron(answer, key, self.config, self._report_unmapped, suspended=suspended)

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
