"""Self-checkout stations: the browsers staff opened for a kiosk, and what they hold.

A station is one browser bound to one kiosk of one site. An administrator opens it once; from
then on the browser holds a station credential (an HttpOnly cookie): the station's id and a
random secret. Only a hash of the secret is kept, so a copy of the Store opens no station; the
secret has 256 random bits, so a plain SHA-256 is enough (nothing to stretch, nothing to guess).

A credential is good for its own site and kiosk only, until staff revoke it, or open the same
kiosk in another browser: one station per kiosk, the newer replaces the older (a kiosk whose
browser was reinstalled leaves no credential behind). Station ids are not secret: staff see
them in the station list and name them to revoke one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
import hashlib
import hmac
import re
import secrets
from typing import Any, Final

from .errors import Reason, Refused
from .identity import printable

STATION_ID_BYTES: Final = 6
SECRET_BYTES: Final = 32
# More stations than this in one library is not a library's kiosks: the oldest goes.
MAX_STATIONS: Final = 200

_STATION_ID: Final = re.compile(rf"^[0-9a-f]{{{STATION_ID_BYTES * 2}}}\Z")
_SECRET: Final = re.compile(rf"^[A-Za-z0-9_-]{{{(SECRET_BYTES * 4 + 2) // 3}}}\Z")
_HASH_LABEL: Final = b"ntnu_library station v1\x00"


def _hash(secret: str) -> str:
    return hashlib.sha256(_HASH_LABEL + secret.encode("ascii")).hexdigest()


@dataclass(frozen=True, slots=True)
class NewCredential:
    """A station's id, and the credential its browser keeps (never stored as it is)."""

    station_id: str
    credential: str

    @property
    def secret_hash(self) -> str:
        """What is kept of the secret."""
        return _hash(self.credential.partition(".")[2])


def new_credential() -> NewCredential:
    """A fresh station id and credential (`<station id>.<secret>`)."""
    station_id = secrets.token_hex(STATION_ID_BYTES)
    secret = secrets.token_urlsafe(SECRET_BYTES)
    return NewCredential(station_id, f"{station_id}.{secret}")


@dataclass(frozen=True, kw_only=True, slots=True)
class Station:
    """An opened station: which site's kiosk, when, by which Home Assistant user."""

    station_id: str
    site: str
    kiosk: str
    secret_hash: str
    opened_at: datetime
    opened_by: str


@dataclass(slots=True)
class StationCredentials:
    """The library's open stations by id (what the library's Store keeps)."""

    stations: dict[str, Station] = field(default_factory=dict)

    # --- the transaction's part -------------------------------------------------------------

    def snapshot(self) -> dict[str, Station]:
        """A shallow copy (stations are immutable)."""
        return dict(self.stations)

    def restore(self, snapshot: dict[str, Station]) -> None:
        """Go back to a snapshot, in place."""
        self.stations = dict(snapshot)

    # --- the rules ----------------------------------------------------------------------------

    def open(
        self, new: NewCredential, *, site: str, kiosk: str, now: datetime, opened_by: str
    ) -> list[Station]:
        """Open a station for a site's kiosk; the stations it replaces (that kiosk's) go."""
        replaced = [s for s in self.stations.values() if (s.site, s.kiosk) == (site, kiosk)]
        for station in replaced:
            del self.stations[station.station_id]
        while len(self.stations) >= MAX_STATIONS:
            oldest = min(self.stations.values(), key=lambda s: s.opened_at)
            del self.stations[oldest.station_id]
        self.stations[new.station_id] = Station(
            station_id=new.station_id,
            site=site,
            kiosk=kiosk,
            secret_hash=new.secret_hash,
            opened_at=now,
            opened_by=opened_by,
        )
        return replaced

    def revoke(self, station_id: str) -> Station:
        """Revoke a station by id: its browser is refused from now on."""
        station = self.stations.pop(station_id, None) if isinstance(station_id, str) else None
        if station is None:
            raise Refused(Reason.UNKNOWN_STATION, station=printable(str(station_id), 32))
        return station

    def find(self, credential: str | None, *, site: str, kiosk: str) -> Station | None:
        """The station a browser's credential opens at this site's kiosk, or None."""
        if not credential or len(credential) > 128:
            return None
        station_id, _, secret = credential.partition(".")
        if not _STATION_ID.match(station_id) or not _SECRET.match(secret):
            return None
        station = self.stations.get(station_id)
        if station is None or (station.site, station.kiosk) != (site, kiosk):
            return None
        if not hmac.compare_digest(station.secret_hash, _hash(secret)):
            return None
        return station

    def listed(self) -> list[Station]:
        """Every station, by site, kiosk and opening time."""
        return sorted(self.stations.values(), key=lambda s: (s.site, s.kiosk, s.opened_at))

    # --- the Store ------------------------------------------------------------------------------

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe form for the library's Store (hashes only)."""
        return {
            station.station_id: {
                "site": station.site,
                "kiosk": station.kiosk,
                "secret_hash": station.secret_hash,
                "opened_at": station.opened_at.isoformat(),
                "opened_by": station.opened_by,
            }
            for station in self.stations.values()
        }

    @classmethod
    def from_dict(cls, data: Any) -> StationCredentials:
        """Read what `as_dict` wrote; a damaged record is dropped (staff open it again)."""
        stations: dict[str, Station] = {}
        if isinstance(data, Mapping):
            for station_id, record in data.items():
                station = _read(station_id, record)
                if station is not None:
                    stations[station_id] = station
        return cls(stations)


def _read(station_id: Any, record: Any) -> Station | None:
    if not isinstance(station_id, str) or not _STATION_ID.match(station_id):
        return None
    if not isinstance(record, Mapping):
        return None
    try:
        opened_at = datetime.fromisoformat(record["opened_at"])
        fields = [record[key] for key in ("site", "kiosk", "secret_hash", "opened_by")]
    except (KeyError, TypeError, ValueError):
        return None
    if not all(isinstance(value, str) for value in fields) or opened_at.tzinfo is None:
        return None
    site, kiosk, secret_hash, opened_by = fields
    return Station(
        station_id=station_id,
        site=site,
        kiosk=kiosk,
        secret_hash=secret_hash,
        opened_at=opened_at,
        opened_by=opened_by,
    )
