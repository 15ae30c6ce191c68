"""The embedded patron directory (patron system `local`): kept in the library's Store.

A patron is an ID, a name, a loan category (core/categories.py), a membership expiry, a
suspended flag, an ID card number and a bcrypt hash of the password (credentials.py). Staff
never choose a patron's password: adding a patron (or resetting a password) gives a one-time
activation code, which the patron uses to choose their own password on the activation page.

Every change is made through `commit`, which the run time hands in: it applies the change
under the library's one transaction and writes it (a failed write puts the directory back).
The slow part of a change (bcrypt) runs before, outside it; the change itself checks again
that what it relies on still holds.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import Enum
import hmac
from typing import Any, Final

from ..core.errors import Reason, Refused
from ..core.identity import mask_patron_id, normalize_card, normalize_name, normalize_patron_id
from ..core.limits import MAX_ID_LENGTH
from ..core.model import Patron
from . import Commit, PatronSystem, apply_now
from .credentials import (
    ACTIVATION_VALID,
    DEFAULT_ROUNDS,
    DUMMY_TAIL,
    Activation,
    CheckTimes,
    code_digest,
    hash_cost,
    hash_new_password,
    new_activation_code,
    password_bytes,
    valid_hash,
)
from .patron_records import (
    activation_record,
    load_activation,
    valid_card,
    valid_category,
    valid_expiry,
    valid_id,
    valid_name,
    valid_suspended,
)

STORAGE_FORMAT: Final = 1


class _Unset(Enum):
    UNSET = "unset"


UNSET: Final = _Unset.UNSET


@dataclass(slots=True)
class _Entry:
    patron: Patron
    password_hash: str | None = field(default=None, repr=False)  # None: cannot log in
    activation: Activation | None = field(default=None, repr=False)


class LocalDirectory(PatronSystem):
    """The embedded patron directory: staff manage it; every change passes `commit`."""

    def __init__(
        self,
        *,
        run_blocking: Callable[..., Awaitable[Any]],
        commit: Commit = apply_now,
        rounds: int = DEFAULT_ROUNDS,
    ) -> None:
        """Take the executor for bcrypt (hass.async_add_executor_job) and the transaction."""
        if not 4 <= rounds <= 31:
            raise ValueError("bcrypt rounds must be between 4 and 31")
        self.run_blocking = run_blocking
        self._commit = commit
        self.rounds = rounds
        self._entries: dict[str, _Entry] = {}
        self._cards: dict[str, str] = {}  # card number -> patron ID
        self._costs: Counter[str] = Counter()  # bcrypt cost of the stored hashes
        self._times = CheckTimes()

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
        return f"$2b${cost}${DUMMY_TAIL}"

    def snapshot(self) -> dict[str, _Entry]:
        """The entries (each replaced, never changed, on a change): cheap to take and compare."""
        return dict(self._entries)

    def restore(self, snapshot: dict[str, _Entry]) -> None:
        """Go back to a snapshot, in place, with the indexes rebuilt."""
        self._entries, self._cards, self._costs = {}, {}, Counter()
        for entry in snapshot.values():
            self._put(entry)

    def patron(self, patron_id: str) -> Patron | None:
        """The patron with this ID as the directory holds it now (a decision reads it again)."""
        if not isinstance(patron_id, str):
            return None
        entry = self._entries.get(normalize_patron_id(patron_id))
        return entry.patron if entry is not None else None

    # --- PatronSystem ---------------------------------------------------------------------------

    async def async_authenticate(self, patron_id: str, password: str) -> Patron:
        """Return the patron if ID and password match; one refusal for every other case.

        The same time whatever the case (unknown ID, no password set, a password bcrypt
        cannot take): a real check is timed; with nothing to check, the dummy hash is checked
        until a real check has been timed, then a recent real check's time is waited out
        without the password-check slot (CheckTimes).
        """
        key = normalize_patron_id(patron_id) if isinstance(patron_id, str) else ""
        entry = self._entries.get(key)
        stored = entry.password_hash if entry is not None else None
        matched = await self._times.async_check(
            self.run_blocking, password_bytes(password), stored, self.dummy_hash
        )
        # Read again: the patron may have been removed or given a new password meanwhile.
        current = self._entries.get(key)
        if not (matched and current is not None):
            raise Refused(Reason.INVALID_CREDENTIALS)
        if current.password_hash != stored:
            raise Refused(Reason.INVALID_CREDENTIALS)
        return current.patron

    async def async_get_patron(self, patron_id: str) -> Patron | None:
        """Return the patron with this ID, or None."""
        return self.patron(patron_id)

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
        Refused(PATRON_EXISTS) for an ID already in the directory, a password reason
        (core.password_rules) for a password the patron could not choose either.
        """
        patron = Patron(
            patron_id=valid_id(patron_id),
            name=valid_name(name),
            category=valid_category(category),
            membership_expires=valid_expiry(membership_expires),
            suspended=valid_suspended(suspended),
            card=valid_card(card),
        )
        self._check_new(patron)
        hashed = await self._hash(password, patron) if password is not None else None

        def add() -> Patron:
            self._check_new(patron)  # another add may have finished while bcrypt ran
            self._put(_Entry(patron=patron, password_hash=hashed))
            return patron

        return await self._commit(self, add)

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

        Refused(UNKNOWN_PATRON) for an unknown ID, Refused(INVALID_VALUE, field=…) and the
        password reasons as for add (the password judged with the name it will go with).
        """
        key = self._existing(patron_id)
        changes: dict[str, Any] = {}
        if name is not UNSET:
            changes["name"] = valid_name(name)
        if category is not UNSET:
            changes["category"] = valid_category(category)
        if membership_expires is not UNSET:
            changes["membership_expires"] = valid_expiry(membership_expires)
        if suspended is not UNSET:
            changes["suspended"] = valid_suspended(suspended)
        if card is not UNSET:
            changes["card"] = valid_card(card)
        self._check_card_free(changes.get("card"), key)
        owner = replace(self._entries[key].patron, **changes)
        hashed = (
            None if password is UNSET or password is None else await self._hash(password, owner)
        )

        def update() -> Patron:
            # bcrypt ran in an executor: the world may have moved; check again.
            self._existing(key)
            self._check_card_free(changes.get("card"), key)
            entry = self._entries[key]
            patron = replace(entry.patron, **changes)
            new_hash = entry.password_hash if password is UNSET else hashed
            activation = entry.activation if password is UNSET else None
            self._put(_Entry(patron=patron, password_hash=new_hash, activation=activation))
            return patron

        return await self._commit(self, update)

    async def async_change(self, patron_id: str, change: Callable[[Patron], Patron]) -> Patron:
        """Change a patron by a rule of the patron as they are now (a membership extension).

        `change` runs in the transaction on the current record; Refused changes nothing.
        """
        key = self._existing(patron_id)

        def apply() -> Patron:
            entry = self._entries[self._existing(key)]
            patron = change(entry.patron)
            if patron.patron_id != key or patron.card != entry.patron.card:
                raise ValueError("a change may not move a patron or a card")
            self._put(replace(entry, patron=patron))
            return patron

        return await self._commit(self, apply)

    async def async_remove_patron(
        self, patron_id: str, *, guard: Callable[[str], None] | None = None
    ) -> Patron:
        """Remove a patron and return who it was; Refused(UNKNOWN_PATRON) if there is none.

        `guard` (the patron's ID) runs in the transaction first and may refuse (a patron who
        holds a room).
        """
        key = self._existing(patron_id)

        def remove() -> Patron:
            entry = self._entries[self._existing(key)]
            if guard is not None:
                guard(key)
            self._drop(entry)
            del self._entries[key]
            return entry.patron

        return await self._commit(self, remove)

    async def async_import(self, records: Iterable[Mapping[str, Any]]) -> int:
        """Take in patrons in the Store's own record form (the demo's); all or none.

        Refused(PATRON_EXISTS) or Refused(INVALID_VALUE) for a record that cannot be taken.
        """
        ready = list(records)

        def take() -> int:
            for record in ready:
                self._load(record)
            return len(ready)

        return await self._commit(self, take)

    async def async_issue_activation(self, patron_id: str, now: datetime) -> str:
        """A new one-time activation code for a patron; the old password no longer works.

        Returned once (to staff, as a service's response data) and never stored in clear.
        """
        key = self._existing(patron_id)
        code = new_activation_code()
        digest = code_digest(code)
        assert digest is not None

        def issue() -> str:
            entry = self._entries[self._existing(key)]
            self._put(
                _Entry(
                    patron=entry.patron,
                    password_hash=None,
                    activation=Activation(digest=digest, expires=now + ACTIVATION_VALID),
                )
            )
            return code

        return await self._commit(self, issue)

    async def async_activate(
        self, patron_id: str, code: str, password: str, now: datetime
    ) -> Patron:
        """The patron chooses their password with a live activation code; the code is spent.

        Refused(INVALID_CREDENTIALS) for an unknown ID, a wrong or expired code (one answer
        for all, in the same time: no bcrypt yet); only then a password reason
        (core.password_rules) for a password the rules refuse, the code still good.
        """
        key = normalize_patron_id(patron_id) if isinstance(patron_id, str) else ""
        entry = self._entries.get(key)
        activation = entry.activation if entry is not None else None
        digest = code_digest(code) or ""
        wanted = activation.digest if activation is not None else "0" * 64
        matched = hmac.compare_digest(digest.encode(), wanted.encode())
        if not (
            matched and entry is not None and activation is not None and now < activation.expires
        ):
            raise Refused(Reason.INVALID_CREDENTIALS)
        hashed = await self._hash(password, entry.patron, code)

        def activate() -> Patron:
            current = self._entries.get(key)
            if current is None or current.activation != activation:  # spent or replaced
                raise Refused(Reason.INVALID_CREDENTIALS)
            self._put(_Entry(patron=current.patron, password_hash=hashed))
            return current.patron

        return await self._commit(self, activate)

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
                    "activation": activation_record(self._entries[p.patron_id].activation),
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
        commit: Commit = apply_now,
        rounds: int = DEFAULT_ROUNDS,
    ) -> LocalDirectory:
        """Rebuild a directory from `as_dict` (empty data: an empty directory).

        Raises ValueError naming the record and field when the data is damaged: dropping a
        patron silently would lose it for good at the next save.
        """
        directory = cls(run_blocking=run_blocking, commit=commit, rounds=rounds)
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
            patron_id=valid_id(record.get("patron_id")),
            name=valid_name(record.get("name")),
            category=valid_category(record.get("category")),
            membership_expires=valid_expiry(expires),
            suspended=valid_suspended(record.get("suspended", False)),
            card=valid_card(record.get("card")),
        )
        raw_hash = record.get("password_hash")
        password_hash = None if raw_hash is None else valid_hash(raw_hash)
        self._check_new(patron)
        self._put(
            _Entry(
                patron=patron,
                password_hash=password_hash,
                activation=load_activation(record.get("activation")),
            )
        )

    # --- inside ---------------------------------------------------------------------------------

    async def _hash(self, password: object, patron: Patron, code: str = "") -> str:
        result = await self.run_blocking(
            hash_new_password, password, self.rounds, patron.patron_id, patron.name, code
        )
        return valid_hash(result)

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
            self._costs[hash_cost(entry.password_hash)] += 1

    def _drop(self, entry: _Entry) -> None:
        """Forget what the indexes know of an entry."""
        if entry.patron.card is not None:
            self._cards.pop(entry.patron.card, None)
        if entry.password_hash is not None:
            self._costs[hash_cost(entry.password_hash)] -= 1
            self._costs += Counter()  # drops the costs no hash has any more
