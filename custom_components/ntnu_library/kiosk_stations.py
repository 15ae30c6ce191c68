"""Self-checkout stations at run time: opened, listed and revoked in the library's transaction.

The rules and the hashed credentials are `core.station_credentials`'; the station page
(web/kiosk_page.py) opens a station once an administrator logged in, and staff list and revoke
stations with the `kiosk_stations` and `revoke_kiosk_station` services.
"""

from __future__ import annotations

import logging
from typing import Any

from homeassistant.core import HomeAssistant

from .core.station_credentials import Station, new_credential
from .library import Library

_LOGGER = logging.getLogger(__package__)


async def async_open_station(
    library: Library, *, site: str, kiosk: str, opened_by: str
) -> tuple[str, str]:
    """Open a station for a site's kiosk: its id, and the credential its browser keeps.

    The kiosk's earlier station, if any, is revoked by it.
    """
    new = new_credential()
    replaced = await library.transaction.async_run(
        lambda now: library.stations.open(
            new, site=site, kiosk=kiosk, now=now, opened_by=opened_by
        ),
        library.kept_stations,
    )
    _LOGGER.info(
        "Self-checkout kiosk %s: station %s opened%s",
        kiosk,
        new.station_id,
        f" (replaces {', '.join(s.station_id for s in replaced)})" if replaced else "",
    )
    return new.station_id, new.credential


async def async_revoke_station(library: Library, station_id: str) -> dict[str, Any]:
    """Revoke a station: its browser is refused from its next request on."""
    station: Station = await library.transaction.async_run(
        lambda _now: library.stations.revoke(station_id), library.kept_stations
    )
    _LOGGER.info("Self-checkout kiosk %s: station %s revoked", station.kiosk, station_id)
    return {"station": station.station_id, "kiosk": station.kiosk, "revoked": True}


async def async_list_stations(hass: HomeAssistant, library: Library) -> dict[str, Any]:
    """The library's stations for staff: id, site, kiosk, when and by whom (never a secret)."""
    listed = []
    for station in library.stations.listed():
        user = await hass.auth.async_get_user(station.opened_by)
        building = library.buildings.get(station.site)
        entry = hass.config_entries.async_get_entry(station.site)
        listed.append(
            {
                "station": station.station_id,
                "site": building.name if building else (entry.title if entry else station.site),
                "kiosk": station.kiosk,
                "opened_at": station.opened_at.isoformat(timespec="seconds"),
                "opened_by": user.name if user is not None else None,
            }
        )
    return {"stations": listed}
