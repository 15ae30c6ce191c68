"""A patron's session at a self-checkout station: who it is, what was scanned, when it ends.

A station serves one patron at a time. The patron's card (or ID and password) starts a session;
each scanned item adds a line (lent with its due date, or refused with its reason); "Done"
ends it, and so does `idle_seconds` without input: the expiry is decided here, at every
request, whatever the browser's own timer does. A new patron's session replaces the one before,
so nothing of one patron reaches the next.

Sessions live in memory only (a restart ends them all); they hold the patron's ID for the
station's requests, never a card number or a password. Time is passed in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
import secrets
from typing import Any, Final

# The site's options: whether a card alone starts a session (the library's machine reads the
# card) or the patron's password is asked as well, and how long a session waits for input.
CONF_KIOSK_PASSWORD: Final = "kiosk_password"
CONF_KIOSK_IDLE_SECONDS: Final = "kiosk_idle_seconds"
DEFAULT_IDLE_SECONDS: Final = 60
MIN_IDLE_SECONDS: Final = 5
MAX_IDLE_SECONDS: Final = 600
# Lines one session keeps (a patron borrows far fewer at a time).
MAX_LINES: Final = 200


@dataclass(frozen=True, kw_only=True, slots=True)
class KioskSettings:
    """A site's self-checkout options."""

    password_required: bool = False
    idle_seconds: int = DEFAULT_IDLE_SECONDS

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> KioskSettings:
        """The options as set; a value out of range is the default."""
        idle = options.get(CONF_KIOSK_IDLE_SECONDS, DEFAULT_IDLE_SECONDS)
        if (
            not isinstance(idle, int)
            or isinstance(idle, bool)
            or not MIN_IDLE_SECONDS <= idle <= MAX_IDLE_SECONDS
        ):
            idle = DEFAULT_IDLE_SECONDS
        return cls(password_required=options.get(CONF_KIOSK_PASSWORD) is True, idle_seconds=idle)

    def as_dict(self) -> dict[str, Any]:
        """The options, as the site's options keep them."""
        return {
            CONF_KIOSK_PASSWORD: self.password_required,
            CONF_KIOSK_IDLE_SECONDS: self.idle_seconds,
        }


@dataclass(frozen=True, kw_only=True, slots=True)
class ScanLine:
    """One scanned item: lent (`due` set) or refused (`reason` set, with its placeholders)."""

    barcode: str
    title: str = ""
    due: date | None = None
    reason: str | None = None
    detail: Mapping[str, str] = field(default_factory=dict)

    @property
    def lent(self) -> bool:
        """The item was lent."""
        return self.reason is None


@dataclass(kw_only=True, slots=True)
class KioskSession:
    """One patron at one station."""

    session_id: str
    patron_id: str
    started: datetime
    last_input: datetime
    lines: list[ScanLine] = field(default_factory=list)

    @property
    def lent(self) -> list[ScanLine]:
        """What this session lent (the receipt)."""
        return [line for line in self.lines if line.lent]

    def add(self, line: ScanLine) -> None:
        """A scan's result; the oldest refusal goes first when the session is full."""
        self.lines.append(line)
        while len(self.lines) > MAX_LINES:
            refused = next((x for x in self.lines if not x.lent), self.lines[0])
            self.lines.remove(refused)


class KioskSessions:
    """The current session of every station (at most one each)."""

    def __init__(self) -> None:
        self._sessions: dict[str, KioskSession] = {}

    def __len__(self) -> int:
        return len(self._sessions)

    def start(self, station_id: str, patron_id: str, now: datetime) -> KioskSession:
        """A patron starts a session; whatever session the station had ends."""
        session = KioskSession(
            session_id=secrets.token_urlsafe(12),
            patron_id=patron_id,
            started=now,
            last_input=now,
        )
        self._sessions[station_id] = session
        return session

    def current(
        self, station_id: str, now: datetime, idle_seconds: int, session_id: str | None = None
    ) -> KioskSession | None:
        """The station's live session (the one named, if `session_id`), or None.

        A session idle for `idle_seconds` has ended: it is dropped here.
        """
        session = self._sessions.get(station_id)
        if session is None:
            return None
        if now - session.last_input >= timedelta(seconds=idle_seconds):
            del self._sessions[station_id]
            return None
        if session_id is not None and not secrets.compare_digest(session.session_id, session_id):
            return None
        return session

    @staticmethod
    def touch(session: KioskSession, now: datetime) -> None:
        """The patron did something: the idle time starts again."""
        session.last_input = max(session.last_input, now)

    def end(self, station_id: str) -> None:
        """Done (or the station is closed): the session is gone."""
        self._sessions.pop(station_id, None)
