"""What makes the public patron pages safe to expose: signed room addresses and form tokens.

- `RoomSigner`: the QR code on a room's e-label carries the room id and an HMAC of it, made with
  a key only this Home Assistant knows. A printed code keeps working across restarts (the key is
  kept) and cannot be turned into another room's or another site's address.
- `FormTokens`: a form on a patron page carries a token bound to that page (and room); it is
  good once and for a few minutes, so a form cannot be replayed or posted from elsewhere. The
  token is signed, not stored: loading a page costs no memory, so no flood of page loads can
  push a patron's open form out.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
import hashlib
import hmac
import math
import re
import secrets
import time
from typing import Any, Final

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


# A form token, 48 bytes written as 64 URL-safe characters:
#   generation (6) | expiry, whole seconds (6) | nonce (12) | scope tag (8) | MAC (16).
# The MAC (HMAC-SHA256 over the rest, 128 bits) makes every other part trustworthy.
GENERATION_BYTES: Final = 6
_EXPIRY_BYTES: Final = 6
NONCE_BYTES: Final = 12
_SCOPE_BYTES: Final = 8
_MAC_BYTES: Final = 16
_BODY_BYTES: Final = GENERATION_BYTES + _EXPIRY_BYTES + NONCE_BYTES + _SCOPE_BYTES
TOKEN_CHARS: Final = (_BODY_BYTES + _MAC_BYTES) * 4 // 3
_TOKEN_SHAPE: Final = re.compile(rf"^[A-Za-z0-9_-]{{{TOKEN_CHARS}}}\Z")
# Tells the form key apart from the page key it is derived from (and from any other use of it).
_FORM_KEY_LABEL: Final = b"ntnu_library form tokens v1"


def _wall_clock() -> float:
    """Seconds since the epoch, looked up at every call (a test's frozen clock is seen)."""
    return time.time()


class FormTokens:
    """Single-use form tokens for a scope (a page and its room), each good for `ttl` seconds.

    A token carries its own expiry, a random nonce, a tag of its scope and a MAC with a key
    derived from the page key, so issuing one stores nothing. Consuming one checks the MAC, the
    generation, the expiry and the scope, and remembers the nonce until the token would have
    expired anyway: a token is good once, and only the tokens actually posted cost memory.

    - An authentic token posted to another scope is spent all the same (it is of no use
      anywhere after that); a forged or altered one costs nothing.
    - At most `max_spent` nonces are remembered. One more would need forgetting one whose token
      is still live, so instead the generation changes: every token issued until then is
      refused (patrons with a form open get a fresh one) and the memory starts empty. Failing
      closed costs a flood of `max_spent` posts a few retyped forms, never a replay.
    - Time is the wall clock (a token outlives a restart), but never goes back: if the wall
      clock does, this clock carries on from where it was, so a spent nonce, once forgotten,
      cannot become live again.
    - `saved()` is what to keep at a clean stop and give back as `saved` at the next start:
      the generation, the clock and the spent nonces, so tokens survive the restart and none
      is good twice. Without it (a crash: what was spent since the start is unknown) a new
      generation begins and every earlier token is refused.
    """

    def __init__(
        self,
        key: bytes,
        *,
        ttl: int,
        max_spent: int,
        saved: Mapping[str, Any] | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        if len(key) < 16:
            raise ValueError("signing key too short")
        if ttl < 1 or max_spent < 1:
            raise ValueError("ttl and max_spent must be positive")
        self._key = hmac.new(key, _FORM_KEY_LABEL, hashlib.sha256).digest()
        self._ttl = ttl
        self._max = max_spent
        self._clock = clock or _wall_clock
        self._offset = 0.0
        self._latest = 0.0
        self._generation = secrets.token_bytes(GENERATION_BYTES)
        # Spent nonces by their token's expiry: what is past its expiry goes as a whole.
        self._spent: dict[int, set[bytes]] = {}
        self._count = 0
        self._pruned = 0
        self.rotations = 0
        if saved is not None:
            self._restore(saved)

    def __len__(self) -> int:
        """How many spent nonces are remembered."""
        return self._count

    def issue(self, scope: str) -> str:
        """A new token for `scope` (nothing is stored)."""
        expires = int(self._now() + self._ttl)
        body = b"".join(
            (
                self._generation,
                expires.to_bytes(_EXPIRY_BYTES, "big"),
                secrets.token_bytes(NONCE_BYTES),
                self._scope_tag(scope),
            )
        )
        return base64.urlsafe_b64encode(body + self._mac(body)).decode("ascii")

    def consume(self, token: str | None, scope: str) -> bool:
        """True once for a live token of `scope`; an authentic token is spent either way."""
        if not token or not _TOKEN_SHAPE.match(token):
            return False
        raw = base64.urlsafe_b64decode(token)
        body, mac = raw[:_BODY_BYTES], raw[_BODY_BYTES:]
        if not hmac.compare_digest(mac, self._mac(body)):
            return False  # forged or altered: remembered nowhere
        generation = body[:GENERATION_BYTES]
        expires = int.from_bytes(body[GENERATION_BYTES : GENERATION_BYTES + _EXPIRY_BYTES], "big")
        nonce = body[GENERATION_BYTES + _EXPIRY_BYTES : -_SCOPE_BYTES]
        tag = body[-_SCOPE_BYTES:]
        now = self._now()
        self._prune(now)
        if generation != self._generation or not now < expires <= now + self._ttl:
            return False  # of an earlier generation, expired, or not issued by this clock
        spent = self._spent.setdefault(expires, set())
        if nonce in spent:
            return False
        if self._count >= self._max:
            self._rotate()
            return False
        spent.add(nonce)
        self._count += 1
        return hmac.compare_digest(tag, self._scope_tag(scope))

    def saved(self) -> dict[str, Any]:
        """What the next start needs to honour the live tokens (JSON)."""
        now = self._now()
        self._prune(now)
        return {
            "generation": self._generation.hex(),
            "clock": now,
            "spent": {
                str(expires): sorted(nonce.hex() for nonce in nonces)
                for expires, nonces in self._spent.items()
                if nonces
            },
        }

    def _restore(self, saved: Mapping[str, Any]) -> None:
        """Take the state `saved()` gave; anything malformed leaves the new generation."""
        try:
            generation = bytes.fromhex(saved["generation"])
            clock = float(saved["clock"])
            spent = {
                int(expires): {bytes.fromhex(nonce) for nonce in nonces}
                for expires, nonces in saved["spent"].items()
            }
        except (KeyError, TypeError, ValueError, AttributeError):
            return
        if len(generation) != GENERATION_BYTES or not math.isfinite(clock):
            return
        self._generation = generation
        self._latest = clock
        self._spent = spent
        self._count = sum(len(nonces) for nonces in spent.values())
        self._prune(self._now())
        if self._count > self._max:
            self._rotate()  # more than this instance may remember: refuse them all

    def _now(self) -> float:
        """The wall clock, but never earlier than any time it gave before."""
        now = self._clock() + self._offset
        if now < self._latest:
            self._offset += self._latest - now
            now = self._latest
        self._latest = now
        return now

    def _prune(self, now: float) -> None:
        """Forget the nonces of tokens that have expired (at most once a second)."""
        second = int(now)
        if second <= self._pruned:
            return
        self._pruned = second
        for expires in [expires for expires in self._spent if expires <= second]:
            self._count -= len(self._spent.pop(expires))

    def _rotate(self) -> None:
        """A new generation: every token issued so far is refused, nothing is remembered."""
        self._generation = secrets.token_bytes(GENERATION_BYTES)
        self._spent.clear()
        self._count = 0
        self.rotations += 1

    def _scope_tag(self, scope: str) -> bytes:
        return hmac.new(self._key, b"scope\x00" + scope.encode(), hashlib.sha256).digest()[
            :_SCOPE_BYTES
        ]

    def _mac(self, body: bytes) -> bytes:
        return hmac.new(self._key, b"form\x00" + body, hashlib.sha256).digest()[:_MAC_BYTES]
