"""The embedded patron directory (patron system `local`): kept in the library's Store.

A patron is an ID, a name, a loan category (core/categories.py), a membership expiry, a
suspended flag, an ID card number and a bcrypt hash of the password. The clear password is
only ever held for the moment it is hashed or checked; it is never stored, logged or put in an
error.

Staff never choose a patron's password: adding a patron (or resetting a password) gives a
one-time activation code, which the patron uses to choose their own password on the
activation page. Only a SHA-256 of the code is kept (it has 80 random bits), with its expiry.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from enum import Enum
import hashlib
import hmac
import re
import secrets
from typing import Any, Final
import unicodedata

import bcrypt

from ..core.categories import CATEGORIES
from ..core.errors import Reason, Refused
from ..core.identity import mask_patron_id, normalize_card, normalize_name, normalize_patron_id
from ..core.limits import MAX_CARD_LENGTH, MAX_ID_LENGTH, MAX_TEXT_LENGTH
from ..core.model import Patron
from . import PatronSystem

STORAGE_FORMAT: Final = 1
MAX_NAME_LENGTH: Final = MAX_TEXT_LENGTH
# bcrypt reads 72 bytes and silently ignores the rest: a longer password would be a lie.
MAX_PASSWORD_BYTES: Final = 72
DEFAULT_ROUNDS: Final = 12
# A password the patron chooses: at least this many characters (NIST SP 800-63B §5.1.1.2).
MIN_PASSWORD_LENGTH: Final = 8
# An activation code: 16 characters of an alphabet without look-alikes (80 bits), shown in
# groups of four; good for this long.
ACTIVATION_ALPHABET: Final = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
ACTIVATION_LENGTH: Final = 16
ACTIVATION_VALID: Final = timedelta(days=14)

_ID = re.compile(rf"[A-Z0-9_-]{{1,{MAX_ID_LENGTH}}}")
_CARD = re.compile(rf"[A-Z0-9_:.-]{{1,{MAX_CARD_LENGTH}}}")
# A well-formed bcrypt hash. bcrypt's Rust core panics (BaseException) on some malformed ones,
# so nothing else may ever reach checkpw. The salt's last character carries 2 bits: . O e u.
_BCRYPT_HASH = re.compile(
    r"\$2[aby]\$(?:0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{21}[.Oeu][./A-Za-z0-9]{31}"
)
# The salt of Home Assistant's own dummy hash; the cost is set to match real hashes.
_DUMMY_TAIL = "CiuFGszHx9eNHxPuQcwBWez4CwDTOcLTX5CbOpV6gef2nYuXkY7BO"


class _Unset(Enum):
    UNSET = "unset"


UNSET: Final = _Unset.UNSET


def _password_bytes(password: object) -> bytes | None:
    """Return the bytes bcrypt sees, or None for a password that cannot be one of ours.

    NFKC (NIST SP 800-63B §5.1.1.2) so a password typed with full-width characters matches.
    """
    if not isinstance(password, str):
        return None
    try:
        secret = unicodedata.normalize("NFKC", password).encode()
    except UnicodeEncodeError:  # lone surrogates
        return None
    if not secret or len(secret) > MAX_PASSWORD_BYTES:
        return None
    return secret


def hash_password(password: str, rounds: int = DEFAULT_ROUNDS) -> str:
    """Return the bcrypt hash of a password (blocking: run it in an executor).

    Raises Refused(INVALID_VALUE, field="password") for an empty password or one longer than
    72 UTF-8 bytes.
    """
    secret = _password_bytes(password)
    if secret is None:
        raise Refused(Reason.INVALID_VALUE, field="password")
    return bcrypt.hashpw(secret, bcrypt.gensalt(rounds=rounds)).decode()


def _check_password(secret: bytes, password_hash: str) -> bool:
    """Return whether a password matches a hash (blocking, constant time in bcrypt)."""
    try:
        return bool(bcrypt.checkpw(secret, password_hash.encode()))
    except ValueError:  # a hash that passed the pattern but not bcrypt: never a match
        return False


def _cost(password_hash: str) -> str:
    """Return the two-digit cost of a validated hash ($2b$12$… -> "12")."""
    return password_hash[4:6]


def _valid_hash(password_hash: object) -> str:
    if isinstance(password_hash, bytes):
        try:
            password_hash = password_hash.decode("ascii")
        except UnicodeDecodeError:
            password_hash = None
    if not isinstance(password_hash, str) or not _BCRYPT_HASH.fullmatch(password_hash):
        raise Refused(Reason.INVALID_VALUE, field="password_hash")
    return password_hash


def _valid_id(patron_id: object) -> str:
    key = normalize_patron_id(patron_id) if isinstance(patron_id, str) else ""
    if not _ID.fullmatch(key):
        raise Refused(Reason.INVALID_VALUE, field="patron_id")
    return key


def _valid_name(name: object) -> str:
    text = name.strip() if isinstance(name, str) else ""
    # Control characters (newlines, escapes) have no place in a name and would forge log lines.
    if (
        not text
        or len(text) > MAX_NAME_LENGTH
        or any(unicodedata.category(c) == "Cc" for c in text)
    ):
        raise Refused(Reason.INVALID_VALUE, field="name")
    return text


def _valid_category(category: object) -> str:
    if not isinstance(category, str) or category not in CATEGORIES:
        raise Refused(Reason.INVALID_VALUE, field="category", value=str(category)[:40])
    return category


def _valid_expiry(expires: object) -> date | None:
    # A datetime is a date too, but a membership ends on a day, not at a moment.
    if expires is not None and (not isinstance(expires, date) or isinstance(expires, datetime)):
        raise Refused(Reason.INVALID_VALUE, field="membership_expires")
    return expires


def _valid_suspended(suspended: object) -> bool:
    if not isinstance(suspended, bool):
        raise Refused(Reason.INVALID_VALUE, field="suspended")
    return suspended


def _valid_card(card: object) -> str | None:
    """Return a normalised card number; None or blank means no card."""
    if card is None:
        return None
    if not isinstance(card, str):
        raise Refused(Reason.INVALID_VALUE, field="card")
    text = normalize_card(card)
    if not text:
        return None
    if not _CARD.fullmatch(text):
        raise Refused(Reason.INVALID_VALUE, field="card")
    return text


def new_activation_code() -> str:
    """A fresh code, as staff hand it over: XXXX-XXXX-XXXX-XXXX."""
    raw = "".join(secrets.choice(ACTIVATION_ALPHABET) for _ in range(ACTIVATION_LENGTH))
    return "-".join(raw[i : i + 4] for i in range(0, ACTIVATION_LENGTH, 4))


def _code_digest(code: object) -> str | None:
    """What is kept of a code: SHA-256 of it without dashes, spaces or case."""
    if not isinstance(code, str) or len(code) > 64:
        return None
    normal = "".join(ch for ch in code.upper() if ch.isalnum())
    if len(normal) != ACTIVATION_LENGTH:
        return None
    return hashlib.sha256(normal.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class _Activation:
    digest: str = field(repr=False)
    expires: datetime


@dataclass(slots=True)
class _Entry:
    patron: Patron
    password_hash: str | None = field(default=None, repr=False)  # None: cannot log in
    activation: _Activation | None = field(default=None, repr=False)


class LocalDirectory(PatronSystem):
    """The embedded patron directory: staff manage it, the runtime persists it on change."""

    def __init__(
        self,
        *,
        run_blocking: Callable[..., Awaitable[Any]],
        on_change: Callable[[], None],
        rounds: int = DEFAULT_ROUNDS,
    ) -> None:
        """Take the executor for bcrypt (hass.async_add_executor_job) and the save callback."""
        if not 4 <= rounds <= 31:
            raise ValueError("bcrypt rounds must be between 4 and 31")
        self.run_blocking = run_blocking
        self.on_change = on_change
        self.rounds = rounds
        self._entries: dict[str, _Entry] = {}
        self._cards: dict[str, str] = {}  # card number -> patron ID
        self._costs: Counter[str] = Counter()  # bcrypt cost of the stored hashes

    def __len__(self) -> int:
        """Return how many patrons the directory holds."""
        return len(self._entries)

    def count(self) -> int:
        """Return how many patrons the directory holds (for diagnostics)."""
        return len(self._entries)

    @property
    def dummy_hash(self) -> str:
        """Return the hash an unknown ID is checked against, as HA's own auth provider does.

        Its cost is the one most stored hashes have (else `rounds`), so checking it takes as
        long as checking a real patron's password.
        """
        common = self._costs.most_common(1)
        cost = common[0][0] if common else f"{self.rounds:02d}"
        return f"$2b${cost}${_DUMMY_TAIL}"

    # --- PatronSystem ---------------------------------------------------------------------------

    async def async_authenticate(self, patron_id: str, password: str) -> Patron:
        """Return the patron if ID and password match; one refusal for every other case.

        Exactly one bcrypt check runs whatever the case (unknown ID, no password set, a
        password bcrypt cannot take), so the answer and the time taken tell nothing.
        """
        key = normalize_patron_id(patron_id) if isinstance(patron_id, str) else ""
        entry = self._entries.get(key)
        stored = entry.password_hash if entry is not None else None
        secret = _password_bytes(password)
        usable = stored is not None and secret is not None
        matched = await self.run_blocking(
            _check_password,
            secret if secret is not None else b"-",
            stored if usable and stored is not None else self.dummy_hash,
        )
        # Read again: the patron may have been removed or given a new password meanwhile.
        current = self._entries.get(key)
        if not (usable and matched is True and current is not None):
            raise Refused(Reason.INVALID_CREDENTIALS)
        if current.password_hash != stored:
            raise Refused(Reason.INVALID_CREDENTIALS)
        return current.patron

    async def async_get_patron(self, patron_id: str) -> Patron | None:
        """Return the patron with this ID, or None."""
        if not isinstance(patron_id, str):
            return None
        entry = self._entries.get(normalize_patron_id(patron_id))
        return entry.patron if entry is not None else None

    async def async_find_by_card(self, card: str) -> Patron | None:
        """Return the patron holding this card, or None."""
        if not isinstance(card, str):
            return None
        patron_id = self._cards.get(normalize_card(card))
        return self._entries[patron_id].patron if patron_id is not None else None

    async def async_find_by_name(self, name: str) -> list[Patron]:
        """Return every patron with this name (ignoring case and spaces), by ID."""
        wanted = normalize_name(name) if isinstance(name, str) else ""
        if not wanted:
            return []
        return [p for p in self.patrons() if normalize_name(p.name) == wanted]

    # --- staff operations -----------------------------------------------------------------------

    async def async_add_patron(
        self,
        patron_id: str,
        *,
        name: str,
        category: str,
        password: str | None = None,
        membership_expires: date | None = None,
        suspended: bool = False,
        card: str | None = None,
    ) -> Patron:
        """Add a patron; without a password the patron cannot log in until one is set.

        Refused(INVALID_VALUE, field=…) for a bad field or a card another patron holds,
        Refused(PATRON_EXISTS) for an ID already in the directory.
        """
        patron = Patron(
            patron_id=_valid_id(patron_id),
            name=_valid_name(name),
            category=_valid_category(category),
            membership_expires=_valid_expiry(membership_expires),
            suspended=_valid_suspended(suspended),
            card=_valid_card(card),
        )
        if password is not None and _password_bytes(password) is None:
            raise Refused(Reason.INVALID_VALUE, field="password")
        self._check_new(patron)
        hashed = await self._hash(password) if password is not None else None
        self._check_new(patron)  # another add may have finished while bcrypt ran
        self._put(_Entry(patron=patron, password_hash=hashed))
        self.on_change()
        return patron

    async def async_update_patron(
        self,
        patron_id: str,
        *,
        name: str | _Unset = UNSET,
        category: str | _Unset = UNSET,
        membership_expires: date | _Unset | None = UNSET,
        suspended: bool | _Unset = UNSET,
        card: str | _Unset | None = UNSET,
        password: str | _Unset | None = UNSET,
    ) -> Patron:
        """Change some of a patron's fields, all or nothing; password None locks the login.

        Refused(UNKNOWN_PATRON) for an unknown ID, Refused(INVALID_VALUE, field=…) as for add.
        """
        key = self._existing(patron_id)
        changes: dict[str, Any] = {}
        if name is not UNSET:
            changes["name"] = _valid_name(name)
        if category is not UNSET:
            changes["category"] = _valid_category(category)
        if membership_expires is not UNSET:
            changes["membership_expires"] = _valid_expiry(membership_expires)
        if suspended is not UNSET:
            changes["suspended"] = _valid_suspended(suspended)
        if card is not UNSET:
            changes["card"] = _valid_card(card)
        if password is not UNSET and password is not None and _password_bytes(password) is None:
            raise Refused(Reason.INVALID_VALUE, field="password")
        self._check_card_free(changes.get("card"), key)
        hashed = await self._hash(password) if isinstance(password, str) else None
        # bcrypt ran in an executor: the world may have moved; check again before writing.
        key = self._existing(key)
        self._check_card_free(changes.get("card"), key)
        entry = self._entries[key]
        patron = replace(entry.patron, **changes)
        new_hash = entry.password_hash if password is UNSET else hashed
        activation = entry.activation if password is UNSET else None
        self._put(_Entry(patron=patron, password_hash=new_hash, activation=activation))
        if changes or password is not UNSET:
            self.on_change()
        return patron

    async def async_remove_patron(self, patron_id: str) -> Patron:
        """Remove a patron and return who it was; Refused(UNKNOWN_PATRON) if there is none."""
        key = self._existing(patron_id)
        entry = self._entries[key]
        self._drop(entry)
        del self._entries[key]
        self.on_change()
        return entry.patron

    async def async_set_password_hash(self, patron_id: str, password_hash: str | bytes) -> None:
        """Set a precomputed bcrypt hash (demo data: one hash for many patrons)."""
        key = self._existing(patron_id)
        entry = self._entries[key]
        self._put(_Entry(patron=entry.patron, password_hash=_valid_hash(password_hash)))
        self.on_change()

    def issue_activation(self, patron_id: str, now: datetime) -> str:
        """A new one-time activation code for a patron; the old password no longer works.

        Returned once (to staff, as a service's response data) and never stored in clear.
        """
        key = self._existing(patron_id)
        entry = self._entries[key]
        code = new_activation_code()
        digest = _code_digest(code)
        assert digest is not None
        self._put(
            _Entry(
                patron=entry.patron,
                password_hash=None,
                activation=_Activation(digest=digest, expires=now + ACTIVATION_VALID),
            )
        )
        self.on_change()
        return code

    async def async_activate(
        self, patron_id: str, code: str, password: str, now: datetime
    ) -> Patron:
        """The patron chooses their password with a live activation code; the code is spent.

        Refused(INVALID_CREDENTIALS) for an unknown ID, a wrong or expired code (one answer
        for all); Refused(INVALID_VALUE, field="password") for a password too short or too long.
        """
        key = normalize_patron_id(patron_id) if isinstance(patron_id, str) else ""
        entry = self._entries.get(key)
        activation = entry.activation if entry is not None else None
        digest = _code_digest(code) or ""
        wanted = activation.digest if activation is not None else "0" * 64
        matched = hmac.compare_digest(digest.encode(), wanted.encode())
        if not (matched and activation is not None and now < activation.expires):
            raise Refused(Reason.INVALID_CREDENTIALS)
        if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
            raise Refused(Reason.INVALID_VALUE, field="password")
        if _password_bytes(password) is None:
            raise Refused(Reason.INVALID_VALUE, field="password")
        hashed = await self._hash(password)
        current = self._entries.get(key)
        if current is None or current.activation != activation:  # spent or replaced meanwhile
            raise Refused(Reason.INVALID_CREDENTIALS)
        self._put(_Entry(patron=current.patron, password_hash=hashed))
        self.on_change()
        return current.patron

    def patrons(self) -> Iterator[Patron]:
        """Yield every patron by ID (for diagnostics: a Patron carries no hash)."""
        for key in sorted(self._entries):
            yield self._entries[key].patron

    # --- Store ----------------------------------------------------------------------------------

    def as_dict(self) -> dict[str, Any]:
        """Return the directory as JSON-safe data for the Store (hashes included)."""
        return {
            "format": STORAGE_FORMAT,
            "patrons": [
                {
                    "patron_id": p.patron_id,
                    "name": p.name,
                    "category": p.category,
                    "membership_expires": (
                        p.membership_expires.isoformat() if p.membership_expires else None
                    ),
                    "suspended": p.suspended,
                    "card": p.card,
                    "password_hash": self._entries[p.patron_id].password_hash,
                    "activation": _activation_record(self._entries[p.patron_id].activation),
                }
                for p in self.patrons()
            ],
        }

    @classmethod
    def from_dict(
        cls,
        data: Mapping[str, Any],
        *,
        run_blocking: Callable[..., Awaitable[Any]],
        on_change: Callable[[], None],
        rounds: int = DEFAULT_ROUNDS,
    ) -> LocalDirectory:
        """Rebuild a directory from `as_dict` (empty data: an empty directory).

        Raises ValueError naming the record and field when the data is damaged: dropping a
        patron silently would lose it for good at the next save.
        """
        directory = cls(run_blocking=run_blocking, on_change=on_change, rounds=rounds)
        if isinstance(data, Mapping) and not data:
            return directory
        records = data.get("patrons") if isinstance(data, Mapping) else None
        if not isinstance(records, list) or data.get("format") != STORAGE_FORMAT:
            raise ValueError("patron directory: unknown storage format")
        for index, record in enumerate(records):
            try:
                directory._load(record)
            except Refused as err:
                field_name = err.placeholders.get("field", err.reason.value)
                raise ValueError(f"patron directory: record {index}: {field_name}") from None
        return directory

    def merge(self, other: LocalDirectory) -> list[str]:
        """Take in another directory's patrons (a site joining a library brings its own).

        Returns the IDs left out because their card belongs to someone else here.
        """
        skipped: list[str] = []
        for key, entry in other._entries.items():
            try:
                self._check_new(entry.patron)
            except Refused:
                if key not in self._entries:
                    skipped.append(key)
                continue
            self._put(entry)
        return skipped

    def _load(self, record: object) -> None:
        if not isinstance(record, Mapping):
            raise Refused(Reason.INVALID_VALUE, field="record")
        expires = record.get("membership_expires")
        if expires is not None:
            try:
                expires = date.fromisoformat(expires)
            except (TypeError, ValueError):
                raise Refused(Reason.INVALID_VALUE, field="membership_expires") from None
        patron = Patron(
            patron_id=_valid_id(record.get("patron_id")),
            name=_valid_name(record.get("name")),
            category=_valid_category(record.get("category")),
            membership_expires=_valid_expiry(expires),
            suspended=_valid_suspended(record.get("suspended", False)),
            card=_valid_card(record.get("card")),
        )
        raw_hash = record.get("password_hash")
        password_hash = None if raw_hash is None else _valid_hash(raw_hash)
        self._check_new(patron)
        self._put(
            _Entry(
                patron=patron,
                password_hash=password_hash,
                activation=_load_activation(record.get("activation")),
            )
        )

    # --- inside ---------------------------------------------------------------------------------

    async def _hash(self, password: str) -> str:
        result = await self.run_blocking(hash_password, password, self.rounds)
        return _valid_hash(result)

    def _existing(self, patron_id: str) -> str:
        key = normalize_patron_id(patron_id) if isinstance(patron_id, str) else ""
        if key not in self._entries:
            raise Refused(Reason.UNKNOWN_PATRON, patron=mask_patron_id(key[:MAX_ID_LENGTH]) or "-")
        return key

    def _check_new(self, patron: Patron) -> None:
        if patron.patron_id in self._entries:
            raise Refused(Reason.PATRON_EXISTS, patron=mask_patron_id(patron.patron_id) or "-")
        self._check_card_free(patron.card, patron.patron_id)

    def _check_card_free(self, card: str | None, owner: str) -> None:
        if card is not None and self._cards.get(card, owner) != owner:
            raise Refused(Reason.INVALID_VALUE, field="card")

    def _put(self, entry: _Entry) -> None:
        key = entry.patron.patron_id
        old = self._entries.get(key)
        if old is not None:
            self._drop(old)
        self._entries[key] = entry
        if entry.patron.card is not None:
            self._cards[entry.patron.card] = key
        if entry.password_hash is not None:
            self._costs[_cost(entry.password_hash)] += 1

    def _drop(self, entry: _Entry) -> None:
        """Forget what the indexes know of an entry."""
        if entry.patron.card is not None:
            self._cards.pop(entry.patron.card, None)
        if entry.password_hash is not None:
            self._costs[_cost(entry.password_hash)] -= 1
            self._costs += Counter()  # drops the costs no hash has any more


def _activation_record(activation: _Activation | None) -> dict[str, str] | None:
    if activation is None:
        return None
    return {"digest": activation.digest, "expires": activation.expires.isoformat()}


def _load_activation(record: object) -> _Activation | None:
    """A stored activation; a damaged one is dropped (staff can issue a new code)."""
    if not isinstance(record, Mapping):
        return None
    digest, expires = record.get("digest"), record.get("expires")
    if not (isinstance(digest, str) and re.fullmatch(r"[0-9a-f]{64}", digest)):
        return None
    try:
        when = datetime.fromisoformat(expires) if isinstance(expires, str) else None
    except ValueError:
        return None
    if when is None or when.tzinfo is None:
        return None
    return _Activation(digest=digest, expires=when)
