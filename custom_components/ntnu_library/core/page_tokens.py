"""What makes the public patron pages safe to expose: signed room addresses and one-time tokens.

- `RoomSigner`: the QR code on a room's e-label carries the room id and an HMAC of it, made with
  a key only this Home Assistant knows. A printed code keeps working across restarts (the key is
  kept) and cannot be turned into another room's or another site's address.
- `OneTimeTokens`: a form on a patron page carries a token bound to that page (and room); it is
  good once and for a few minutes, so a form cannot be replayed or posted from elsewhere.
"""

from __future__ import annotations

import base64
from collections import OrderedDict
from collections.abc import Callable
import hashlib
import hmac
import secrets
import time

# 12 bytes of HMAC-SHA256 (96 bits): far beyond online guessing, short enough for a small QR.
SIGNATURE_BYTES = 12
KEY_BYTES = 32


def new_key() -> bytes:
    """A fresh signing key."""
    return secrets.token_bytes(KEY_BYTES)


class RoomSigner:
    """Signs and checks (site, room) pairs."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("signing key too short")
        self._key = key

    def sign(self, site: str, room: str) -> str:
        """The signature the room's QR code carries (URL-safe, no padding)."""
        digest = hmac.new(self._key, f"{site}\x00{room}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:SIGNATURE_BYTES]).decode().rstrip("=")

    def verify(self, site: str, room: str, signature: str | None) -> bool:
        """Whether `signature` is this site's and room's (constant time)."""
        if not signature or len(signature) > 64:
            return False
        return hmac.compare_digest(self.sign(site, room), signature)


class OneTimeTokens:
    """Single-use tokens, each bound to a scope and good for `ttl` seconds.

    At most `max_tokens` are outstanding: a flood of page loads drops the oldest, it does not
    grow memory without bound.
    """

    def __init__(
        self,
        *,
        ttl: float,
        max_tokens: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl
        self._max = max_tokens
        self._clock = clock
        self._tokens: OrderedDict[str, tuple[str, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._tokens)

    def issue(self, scope: str) -> str:
        """A new token for `scope`."""
        self._prune()
        token = secrets.token_urlsafe(24)
        self._tokens[token] = (scope, self._clock() + self._ttl)
        while len(self._tokens) > self._max:
            self._tokens.popitem(last=False)
        return token

    def consume(self, token: str | None, scope: str) -> bool:
        """True once for a live token of `scope`; the token is spent either way."""
        if not token or len(token) > 64:
            return False
        entry = self._tokens.pop(token, None)
        if entry is None:
            return False
        bound, expires = entry
        return hmac.compare_digest(bound, scope) and self._clock() < expires

    def _prune(self) -> None:
        now = self._clock()
        while self._tokens:
            token, (_, expires) = next(iter(self._tokens.items()))
            if expires > now:
                break
            del self._tokens[token]
