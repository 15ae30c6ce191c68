"""A patron's session on a page that takes more than one step (the reservation page).

After a login (ID and password, through the gate like any other) the browser gets a session
token: random, kept by the browser in an HttpOnly cookie, and kept here only as its hash, with
the patron it is for. The token names no patron; a session ends when the patron logs out,
after `idle_seconds` without a request, or when Home Assistant restarts (nothing of it is
written: the patron logs in again, what they reserved is kept by the rooms). Memory is bounded:
at most `max_sessions` in all and `max_per_patron` for one patron, the oldest going first.
Time is passed in (a monotonic clock), so these are plain functions of state.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
import hashlib
import secrets
from typing import Final

from .model import Patron

TOKEN_BYTES: Final = 32
# What a browser may send as a token: anything longer is not one of ours.
MAX_TOKEN_CHARS: Final = 64


@dataclass(slots=True)
class Session:
    """Who is logged in, and until when (moved on by every request)."""

    patron: Patron
    # Binds the session's forms to it (a form token's scope); not the token itself.
    scope: str
    expires: float


class PatronSessions:
    """The open sessions of one page."""

    def __init__(self, *, idle_seconds: float, max_sessions: int, max_per_patron: int) -> None:
        if idle_seconds <= 0 or max_sessions < 1 or max_per_patron < 1:
            raise ValueError("session bounds must be positive")
        self._idle = idle_seconds
        self._max = max_sessions
        self._per_patron = max_per_patron
        # hash of the token -> session, least recently used first.
        self._sessions: OrderedDict[str, Session] = OrderedDict()

    def __len__(self) -> int:
        """How many sessions are open (some may have run out, until next looked at)."""
        return len(self._sessions)

    def open(self, patron: Patron, now: float) -> str:
        """A new session for `patron`; the token for the browser's cookie."""
        self._prune(now)
        mine = [key for key, s in self._sessions.items() if s.patron.patron_id == patron.patron_id]
        for key in mine[: max(0, len(mine) - self._per_patron + 1)]:
            del self._sessions[key]
        while len(self._sessions) >= self._max:
            self._sessions.popitem(last=False)
        token = secrets.token_urlsafe(TOKEN_BYTES)
        key = _digest(token)
        self._sessions[key] = Session(patron=patron, scope=key[:24], expires=now + self._idle)
        return token

    def get(self, token: str | None, now: float) -> Session | None:
        """The live session of `token` (its idle time starts again), or None."""
        if not token or len(token) > MAX_TOKEN_CHARS:
            return None
        key = _digest(token)
        session = self._sessions.get(key)
        if session is None:
            return None
        if session.expires <= now:
            del self._sessions[key]
            return None
        session.expires = now + self._idle
        self._sessions.move_to_end(key)
        return session

    def close(self, token: str | None) -> None:
        """Log out: the session of `token` ends now."""
        if token and len(token) <= MAX_TOKEN_CHARS:
            self._sessions.pop(_digest(token), None)

    def _prune(self, now: float) -> None:
        """Drop the sessions that ran out (the least recently used come first)."""
        while self._sessions:
            key, session = next(iter(self._sessions.items()))
            if session.expires > now:
                return
            del self._sessions[key]


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
