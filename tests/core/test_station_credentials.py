"""Self-checkout stations: a credential opens its own site's kiosk only, until revoked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import json

import pytest

from custom_components.ntnu_library.core.errors import Reason, Refused
from custom_components.ntnu_library.core.station_credentials import (
    MAX_STATIONS,
    StationCredentials,
    new_credential,
)

NOW = datetime(2025, 3, 12, 2, 0, tzinfo=UTC)


def test_a_credential_opens_its_own_kiosk_only() -> None:
    stations = StationCredentials()
    new = new_credential()
    stations.open(new, site="main", kiosk="K1", now=NOW, opened_by="admin")
    found = stations.find(new.credential, site="main", kiosk="K1")
    assert found is not None and found.station_id == new.station_id
    assert stations.find(new.credential, site="main", kiosk="K2") is None
    assert stations.find(new.credential, site="gongguan", kiosk="K1") is None
    station_id, secret = new.credential.split(".")
    forged = f"{station_id}.{'A' * len(secret)}"
    for bad in (None, "", forged, secret, station_id, new.credential + "x", "x" * 500):
        assert stations.find(bad, site="main", kiosk="K1") is None, bad


def test_revoking_and_opening_again() -> None:
    stations = StationCredentials()
    first, second = new_credential(), new_credential()
    stations.open(first, site="main", kiosk="K1", now=NOW, opened_by="admin")
    replaced = stations.open(second, site="main", kiosk="K1", now=NOW, opened_by="admin")
    assert [s.station_id for s in replaced] == [first.station_id]
    assert stations.find(first.credential, site="main", kiosk="K1") is None
    assert stations.find(second.credential, site="main", kiosk="K1") is not None
    assert stations.revoke(second.station_id).kiosk == "K1"
    assert stations.find(second.credential, site="main", kiosk="K1") is None
    with pytest.raises(Refused) as err:
        stations.revoke(second.station_id)
    assert err.value.reason is Reason.UNKNOWN_STATION


def test_the_store_keeps_hashes_only_and_reads_back() -> None:
    stations = StationCredentials()
    new = new_credential()
    stations.open(new, site="main", kiosk="K1", now=NOW, opened_by="admin")
    kept = json.loads(json.dumps(stations.as_dict()))
    assert new.credential.split(".")[1] not in json.dumps(kept)
    again = StationCredentials.from_dict(kept)
    assert again.find(new.credential, site="main", kiosk="K1") is not None
    # Damaged records are dropped (staff open the kiosk again), never a crash.
    damaged = kept | {"zz": {}, "0123456789ab": {"site": 1}, "abcdefabcdef": "x"}
    assert list(StationCredentials.from_dict(damaged).stations) == [new.station_id]
    assert StationCredentials.from_dict(None).stations == {}


def test_the_number_of_stations_is_bounded() -> None:
    stations = StationCredentials()
    first = new_credential()
    stations.open(first, site="main", kiosk="K0", now=NOW, opened_by="admin")
    for n in range(1, MAX_STATIONS + 1):
        stations.open(
            new_credential(),
            site="main",
            kiosk=f"K{n}",
            now=NOW + timedelta(seconds=n),
            opened_by="admin",
        )
    assert len(stations.stations) == MAX_STATIONS
    assert stations.find(first.credential, site="main", kiosk="K0") is None  # the oldest went
