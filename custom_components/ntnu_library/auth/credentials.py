"""Patron credentials: bcrypt password hashes and one-time activation codes.

The clear password is only ever held for the moment it is hashed or checked; it is never
stored, logged or put in an error. An activation code is shown once (to staff, who hand it
over); only a SHA-256 of it is kept (it has 80 random bits), with its expiry. A password a
patron chooses is hashed only once the rules of core.password_rules take it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
import hashlib
import random
import re
import secrets
import time
from typing import Any, Final
import unicodedata

import bcrypt

from ..core.errors import Reason, Refused
from ..core.login_queue import hand_back_slot
from ..core.password_rules import MAX_PASSWORD_BYTES, check_new_password

DEFAULT_ROUNDS: Final = 12
# An activation code: 16 characters of an alphabet without look-alikes (80 bits), shown in
# groups of four; good for this long.
ACTIVATION_ALPHABET: Final = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
ACTIVATION_LENGTH: Final = 16
ACTIVATION_VALID: Final = timedelta(days=14)

# A well-formed bcrypt hash. bcrypt's Rust core panics (BaseException) on some malformed ones,
# so nothing else may ever reach checkpw. The salt's last character carries 2 bits: . O e u.
_BCRYPT_HASH = re.compile(
    r"\$2[aby]\$(?:0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{21}[.Oeu][./A-Za-z0-9]{31}"
)
# The salt of Home Assistant's own dummy hash; the cost is set to match real hashes.
DUMMY_TAIL = "CiuFGszHx9eNHxPuQcwBWez4CwDTOcLTX5CbOpV6gef2nYuXkY7BO"


def password_bytes(password: object) -> bytes | None:
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
    secret = password_bytes(password)
    if secret is None:
        raise Refused(Reason.INVALID_VALUE, field="password")
    return bcrypt.hashpw(secret, bcrypt.gensalt(rounds=rounds)).decode()


def hash_new_password(
    password: object, rounds: int, patron_id: str, name: str, code: str = ""
) -> str:
    """Return the bcrypt hash of a password the patron chose, if the rules take it (blocking).

    The rules (core.password_rules) refuse it with their own reason first: the patron's ID,
    name and activation code `code` ("" for none) are what it may not contain.
    """
    check_new_password(password, patron_id, name, code)
    assert isinstance(password, str)  # the rules refuse anything else
    return hash_password(password, rounds)


class CheckTimes:
    """How long the last password checks took, so a check with nothing to hash lasts as long.

    An unknown ID (or a patron without a password) has nothing to check. Hashing a dummy
    would hide that, but costs a password-check slot: a flood of made-up IDs would keep the
    slots from real patrons. Instead, once real checks have been timed, such a check hands its
    slot back and waits as long as one of the recent real checks took, picked at random: the
    same times, drawn from what checks take on this machine under its load right now.
    """

    def __init__(self, keep: int = 32) -> None:
        self._recent: deque[float] = deque(maxlen=keep)

    async def async_check(
        self,
        run_blocking: Callable[..., Awaitable[Any]],
        secret: bytes | None,
        stored: str | None,
        dummy: str,
    ) -> bool:
        """Whether `secret` matches the `stored` hash, checked in the executor and timed.

        With nothing to check (no secret, no stored hash) False, after the dummy hash was
        checked (until a real check has been timed) or a recent check's time waited out.
        """
        usable = secret is not None and stored is not None
        if not usable and self._recent:
            hand_back_slot()
            await asyncio.sleep(random.choice(self._recent))
            return False
        started = time.monotonic()
        matched = await run_blocking(
            check_password, secret or b"-", stored if stored is not None and usable else dummy
        )
        self._recent.append(time.monotonic() - started)
        return usable and matched is True


def check_password(secret: bytes, password_hash: str) -> bool:
    """Return whether a password matches a hash (blocking, constant time in bcrypt)."""
    try:
        return bool(bcrypt.checkpw(secret, password_hash.encode()))
    except ValueError:  # a hash that passed the pattern but not bcrypt: never a match
        return False


def hash_cost(password_hash: str) -> str:
    """Return the two-digit cost of a validated hash ($2b$12$… -> "12")."""
    return password_hash[4:6]


def valid_hash(password_hash: object) -> str:
    """A well-formed bcrypt hash (bytes or text), or Refused(INVALID_VALUE)."""
    if isinstance(password_hash, bytes):
        try:
            password_hash = password_hash.decode("ascii")
        except UnicodeDecodeError:
            password_hash = None
    if not isinstance(password_hash, str) or not _BCRYPT_HASH.fullmatch(password_hash):
        raise Refused(Reason.INVALID_VALUE, field="password_hash")
    return password_hash


def new_activation_code() -> str:
    """A fresh code, as staff hand it over: XXXX-XXXX-XXXX-XXXX."""
    raw = "".join(secrets.choice(ACTIVATION_ALPHABET) for _ in range(ACTIVATION_LENGTH))
    return "-".join(raw[i : i + 4] for i in range(0, ACTIVATION_LENGTH, 4))


def code_digest(code: object) -> str | None:
    """What is kept of a code: SHA-256 of it without dashes, spaces or case."""
    if not isinstance(code, str) or len(code) > 64:
        return None
    normal = "".join(ch for ch in code.upper() if ch.isalnum())
    if len(normal) != ACTIVATION_LENGTH:
        return None
    return hashlib.sha256(normal.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Activation:
    """A live activation code: its digest (never the code) and until when it works."""

    digest: str = field(repr=False)
    expires: datetime
