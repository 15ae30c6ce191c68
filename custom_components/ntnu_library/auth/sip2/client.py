"""The SIP2 patron system (patron system `sip2`): the library's ILS over TCP, TLS optional.

One connection, used serially behind a lock (most ILSs allow one SIP session per terminal and
answer strictly in order). A dropped connection is reopened, and the terminal logged in again,
once per request. A timeout closes the connection: a late answer would otherwise be read as the
answer to the next question. With error detection a bad checksum is answered by one 97 (Request
ACS Resend), as the spec asks; a second bad answer fails that request.

Two kinds of failure: the ILS cannot be reached or does not answer in time (an outage,
PATRON_SYSTEM_UNAVAILABLE, which the integration's breaker counts), or it answered with
something that cannot be read (SIP2_PROTOCOL_ERROR: that request fails, the next is asked as
usual). Text is read in the site's character set with U+FFFD for what does not decode, so an
odd byte in a name never fails a login.

Passwords (the patron's AD, the terminal's CO) are never logged and never put in an error.

Sites that share one ILS share its blocks: `async_block_patron` writes a freeze to the ILS with
01 Block Patron, and every site whose client reads that ILS refuses the patron from its next
question on (see BLOCK_FLAGS). An ILS block is lifted in the ILS, never from here.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
import logging
import ssl
import sys
import time
from types import MappingProxyType
from typing import Final

from ...core.categories import CATEGORIES, Category
from ...core.errors import Reason, Refused
from ...core.model import Patron, mask_patron_id
from .. import PatronSystem, normalize_card, normalize_patron_id
from . import codec
from .codec import DEFAULT_ENCODING, Message, Sip2ChecksumError, Sip2Error

_LOGGER = logging.getLogger(__name__)

CARD_CACHE_SECONDS: Final = 60.0
CARD_CACHE_SIZE: Final = 256
MAX_ID_LENGTH: Final = 64
MAX_PASSWORD_LENGTH: Final = 128
# Unmapped patron types remembered (each reported once) and the length of one as shown to staff.
UNMAPPED_TYPES_MAX: Final = 32
UNMAPPED_TYPE_LENGTH: Final = 40

# The 14 patron status flags of the 64 response (SIP2 2.00), in their order on the wire.
PATRON_STATUS_FLAGS: Final = (
    "charge_privileges_denied",
    "renewal_privileges_denied",
    "recall_privileges_denied",
    "hold_privileges_denied",
    "card_reported_lost",
    "too_many_items_charged",
    "too_many_items_overdue",
    "too_many_renewals",
    "too_many_claims_of_items_returned",
    "too_many_items_lost",
    "excessive_outstanding_fines",
    "excessive_outstanding_fees",
    "recall_overdue",
    "too_many_items_billed",
)
# The refusal a flag means when the site lets it refuse a room, position for position.
_FLAG_REASONS: Final[tuple[Reason, ...]] = (
    Reason.PRIVILEGES_DENIED,
    Reason.PRIVILEGES_DENIED,
    Reason.PRIVILEGES_DENIED,
    Reason.PRIVILEGES_DENIED,
    Reason.CARD_REPORTED_LOST,
    Reason.TOO_MANY_ITEMS,
    Reason.TOO_MANY_ITEMS,
    Reason.TOO_MANY_ITEMS,
    Reason.TOO_MANY_ITEMS,
    Reason.TOO_MANY_ITEMS,
    Reason.EXCESSIVE_FEES,
    Reason.EXCESSIVE_FEES,
    Reason.TOO_MANY_ITEMS,
    Reason.TOO_MANY_ITEMS,
)
# Most flags are about loans, not rooms: only these refuse a room unless the site says otherwise.
DEFAULT_REFUSING_FLAGS: Final = frozenset({"charge_privileges_denied", "card_reported_lost"})
_CARD_LOST: Final = PATRON_STATUS_FLAGS.index("card_reported_lost")
# When several flags are set, the one a patron can act on first is named.
_REASON_ORDER: Final = (
    Reason.CARD_REPORTED_LOST,
    Reason.PRIVILEGES_DENIED,
    Reason.EXCESSIVE_FEES,
    Reason.TOO_MANY_ITEMS,
)

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
BLOCK_FLAGS: Final = frozenset({PATRON_STATUS_FLAGS.index("charge_privileges_denied"), _CARD_LOST})
# The blocked card message (AL) as staff read it in the ILS: one line, bounded, always sendable.
BLOCK_MESSAGE_LENGTH: Final = 60
DEFAULT_BLOCK_MESSAGE: Final = "Room rights frozen"


def _most_restricted() -> str:
    """The category with the fewest items, then the shortest loan; the table's first on a tie.

    A loan "by agreement" (partner libraries) is not counted as short: its length is unknown.
    """
    start = date(2001, 1, 1)

    def strictness(entry: Category) -> tuple[int, int]:
        period = entry.loan_period
        days = (period.due(start) - start).days if period is not None else sys.maxsize
        return entry.item_limit, days

    return min(CATEGORIES.values(), key=strictness).key


# Where a patron type the site has not mapped lands: the least a patron can borrow.
MOST_RESTRICTED_CATEGORY: Final = _most_restricted()


class Sip2Unavailable(Exception):
    """The ILS cannot be reached, timed out or answered nonsense."""


class Sip2LoginRejected(Exception):
    """The ILS refused the terminal's SIP login (93 answered with ok=0)."""


class Sip2ConfigError(ValueError):
    """A setting that cannot work; `field` names it (the Sip2Config attribute)."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name


class _Dropped(Exception):
    """The connection closed under us (EOF, reset, broken pipe)."""


@dataclass(frozen=True, kw_only=True)
class Sip2Config:
    """How to reach the ILS and how to read its answers."""

    host: str
    port: int
    tls: bool = False
    verify_tls: bool = True
    institution: str = ""
    login_user: str | None = None
    login_password: str | None = field(default=None, repr=False)
    location: str = ""
    terminal_password: str = field(default="", repr=False)  # AC, rarely used
    error_detection: bool = True
    timeout: float = 5.0
    encoding: str = DEFAULT_ENCODING  # one of SIP2_ENCODINGS, both ways
    category_field: str = "PC"
    # ILS patron type -> our category key; a value that is already a key passes unchanged. A
    # type neither maps gets MOST_RESTRICTED_CATEGORY and is reported (on_unmapped_category).
    category_map: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    # For a patron whose record carries no type at all (many ILSs never send one).
    default_category: str = MOST_RESTRICTED_CATEGORY
    # Patron status flags that refuse a room: names of PATRON_STATUS_FLAGS or their positions,
    # held as a frozenset of positions once checked.
    refusing_flags: Collection[int | str] = DEFAULT_REFUSING_FLAGS
    card_field: str | None = None  # a vendor field carrying the card number, if any

    def __post_init__(self) -> None:
        if self.default_category not in CATEGORIES:
            raise Sip2ConfigError("default_category", f"unknown category {self.default_category!r}")
        for key in self.category_map.values():
            if key not in CATEGORIES:
                raise Sip2ConfigError("category_map", f"unknown category {key!r}")
        if self.timeout <= 0:
            raise Sip2ConfigError("timeout", "must be positive")
        if not 0 < self.port < 65536:
            raise Sip2ConfigError("port", "out of range")
        try:
            codec.check_encoding(self.encoding)
        except ValueError as err:
            raise Sip2ConfigError("encoding", str(err)) from None
        # What the terminal sends on every connection must be sendable, or no request could be.
        for name in (
            "institution",
            "login_user",
            "login_password",
            "location",
            "terminal_password",
        ):
            value = getattr(self, name)
            if value is None:
                continue
            try:
                codec.check_text(value, name, self.encoding)
            except Sip2Error as err:
                raise Sip2ConfigError(name, str(err)) from None
        object.__setattr__(self, "refusing_flags", _flag_positions(self.refusing_flags))


def _flag_positions(flags: Collection[int | str]) -> frozenset[int]:
    if isinstance(flags, str):  # one name is not a collection of letters
        flags = (flags,)
    positions: set[int] = set()
    for flag in flags:
        if isinstance(flag, str) and flag in PATRON_STATUS_FLAGS:
            positions.add(PATRON_STATUS_FLAGS.index(flag))
        elif (
            isinstance(flag, int)
            and not isinstance(flag, bool)
            and 0 <= flag < len(PATRON_STATUS_FLAGS)
        ):
            positions.add(flag)
        else:
            raise Sip2ConfigError("refusing_flags", f"unknown patron status flag {flag!r}")
    return frozenset(positions)


_DEFAULT_POSITIONS: Final = _flag_positions(DEFAULT_REFUSING_FLAGS)


def flag_reasons(status: str, refusing: Collection[int] = _DEFAULT_POSITIONS) -> list[Reason]:
    """Return the refusals the set `refusing` flags call for, most actionable first."""
    found = {
        _FLAG_REASONS[i]
        for i, flag in enumerate(status[: len(PATRON_STATUS_FLAGS)])
        if flag == "Y" and i in refusing
    }
    return [reason for reason in _REASON_ORDER if reason in found]


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
        self._refusing = _flag_positions(config.refusing_flags)
        self._unmapped: set[str] = set()
        self._ssl_context = ssl_context
        self._now = now
        self._monotonic = monotonic
        self._lock = asyncio.Lock()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._sequence = 0
        self._cards: OrderedDict[str, tuple[float, Patron | None]] = OrderedDict()
        self.requests = 0  # answers read from the ILS (diagnostics, tests)
        # The ILS refused the terminal's SIP login on the last try: staff must enter it again.
        self.login_rejected = False

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
        if patron.card and not flag_reasons(answer.fixed, {_CARD_LOST}):
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
        reasons = flag_reasons(answer.fixed, self._refusing | {_CARD_LOST})
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

    # --- Config flow and shutdown ----------------------------------------------------------

    async def async_test(self) -> None:
        """Connect, log in when configured, ask 99 SC Status and expect an online 98.

        Raises Sip2LoginRejected or Sip2Unavailable.
        """
        try:
            answer = await self._request(codec.sc_status(), codec.ACS_STATUS)
        except Sip2Error as err:  # for a health check, an unreadable answer is a failed one
            raise Sip2Unavailable(str(err)) from None
        if answer.fixed[:1] != "Y":
            raise Sip2Unavailable("ACS is offline")

    async def async_close(self) -> None:
        """Close the connection."""
        async with self._lock:
            await self._disconnect()

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
    ) -> Message:
        """Send a request about a patron (63, or 01) and return its answer (64, or 24).

        Refused(SIP2_PROTOCOL_ERROR) when the answer cannot be read, and
        Refused(PATRON_SYSTEM_UNAVAILABLE) when there is none (or the SIP login was refused).
        """
        try:
            answer = await self._request(request, expect)
        except Sip2Error as err:
            # The ILS is there and answered: this request failed, the system is not down.
            self.login_rejected = False
            _LOGGER.warning(
                "SIP2 %s for %s failed: unreadable answer: %s",
                what,
                mask_patron_id(key),
                err,
            )
            raise Refused(SIP2_PROTOCOL_ERROR) from None
        except (Sip2Unavailable, Sip2LoginRejected) as err:
            self.login_rejected = isinstance(err, Sip2LoginRejected)
            _LOGGER.warning(
                "SIP2 %s for %s failed: %s: %s",
                what,
                mask_patron_id(key),
                type(err).__name__,
                err,
            )
            raise Refused(Reason.PATRON_SYSTEM_UNAVAILABLE) from None
        self.login_rejected = False
        return answer

    def _patron(self, answer: Message, key: str, *, suspended: bool = False) -> Patron:
        config = self.config
        raw_id = answer.get("AA")
        # An ID that did not decode (U+FFFD) is not the patron's: keep the one asked for.
        patron_id = normalize_patron_id(raw_id) if raw_id and "\ufffd" not in raw_id else key
        name = (answer.get("AE") or "").strip() or patron_id
        raw_type = (answer.get(config.category_field) or "").strip()
        category = config.category_map.get(raw_type)
        if category is None:
            if not raw_type:
                category = config.default_category
            elif raw_type in CATEGORIES:
                category = raw_type
            else:  # a type nobody mapped: the least rights until staff map it
                category = MOST_RESTRICTED_CATEGORY
                self._report_unmapped(raw_type)
        expires = codec.parse_sip_date(answer.get("PA"))
        card: str | None = None
        if config.card_field:
            card = normalize_card(answer.get(config.card_field) or "") or None
        return Patron(
            patron_id=patron_id or key,
            name=name,
            category=category,
            membership_expires=expires,
            suspended=suspended,
            card=card,
        )

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

    # --- The connection ---------------------------------------------------------------------

    async def _request(self, request: Message, expect: str) -> Message:
        """Send one request and return its answer; reconnect once on a dropped connection."""
        async with self._lock:
            for attempt in range(2):
                fresh = self._writer is None
                try:
                    async with asyncio.timeout(self.config.timeout):
                        if fresh:
                            await self._connect()
                        return await self._exchange(request, expect)
                except _Dropped:
                    await self._disconnect()
                    if fresh or attempt:
                        raise Sip2Unavailable("connection closed by the ILS") from None
                    _LOGGER.debug("SIP2 connection dropped, reconnecting")
                except TimeoutError:
                    await self._disconnect()
                    raise Sip2Unavailable("timed out") from None
                except ssl.SSLError as err:
                    await self._disconnect()
                    raise Sip2Unavailable(f"TLS: {err.reason}") from None
                except OSError as err:
                    await self._disconnect()
                    raise Sip2Unavailable(f"network: {type(err).__name__}") from None
                except BaseException:  # Sip2Error, Sip2LoginRejected, cancellation
                    await self._disconnect()
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def _connect(self) -> None:
        config = self.config
        context: ssl.SSLContext | None = None
        if config.tls:
            context = self._ssl_context or _client_context(verify=config.verify_tls)
        self._reader, self._writer = await asyncio.open_connection(
            config.host,
            config.port,
            ssl=context,
            server_hostname=config.host if context else None,
            limit=codec.MAX_LINE,
        )
        self._sequence = 0
        if config.login_user:
            request = codec.login(config.login_user, config.login_password or "", config.location)
            answer = await self._exchange(request, codec.LOGIN_RESPONSE)
            if answer.fixed != "1":
                raise Sip2LoginRejected("the ILS refused the SIP login")

    async def _disconnect(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is None:
            return
        writer.close()
        try:
            async with asyncio.timeout(1):
                await writer.wait_closed()
        except (OSError, TimeoutError):
            pass

    async def _exchange(self, request: Message, expect: str) -> Message:
        detect = self.config.error_detection
        encoding = self.config.encoding
        sequence: int | None = None
        if detect:
            sequence = self._sequence
            self._sequence = (self._sequence + 1) % 10
        line = codec.encode(
            Message(request.command, request.fixed, request.fields, sequence),
            error_detection=detect,
            encoding=encoding,
        )
        await self._send(line)
        for again in (False, True):
            raw = await self._read_line()
            try:
                answer = codec.decode(raw, encoding=encoding)
            except Sip2ChecksumError:
                if again:
                    raise
                await self._send(
                    codec.encode(
                        Message(codec.REQUEST_ACS_RESEND), error_detection=True, encoding=encoding
                    )
                )
                continue
            if answer.command == codec.REQUEST_SC_RESEND and not again:
                await self._send(line)
                continue
            if answer.command != expect:
                raise Sip2Error(f"expected {expect}, got {answer.command}")
            if detect and answer.sequence is not None and answer.sequence != sequence:
                raise Sip2Error("answer to another sequence number")
            self.requests += 1
            return answer
        raise Sip2Error("no valid answer after a resend")

    async def _send(self, line: bytes) -> None:
        writer = self._writer
        if writer is None or writer.is_closing():
            raise _Dropped
        try:
            writer.write(line)
            await writer.drain()
        except (ConnectionError, RuntimeError):
            raise _Dropped from None

    async def _read_line(self) -> bytes:
        reader = self._reader
        if reader is None:
            raise _Dropped
        try:
            return await reader.readuntil(codec.CR)
        except asyncio.IncompleteReadError:
            raise _Dropped from None
        except asyncio.LimitOverrunError:
            raise Sip2Error("answer longer than the line limit") from None
        except ConnectionError:
            raise _Dropped from None


def _client_context(*, verify: bool) -> ssl.SSLContext:
    """Return a TLS client context; verification is off only when asked for."""
    context = ssl.create_default_context()
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context
