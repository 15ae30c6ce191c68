"""A patron's own browser: someone else guessing at their ID never locks them out of it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp.test_utils import TestClient
from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ntnu_library.core.device_credentials import (
    COOKIE_NAME,
    COOKIE_PATH,
    MAX_PER_BROWSER,
    DeviceCredentials,
)

from ..conftest import PASSWORD, patron_action
from .test_room_page import fetch_form, room_path

WRONG = "not-the-password"


@pytest.fixture
def site_rooms() -> tuple[str, ...]:
    """The rooms these tests use."""
    return ("T01", "T02")


async def login(
    client: TestClient, path: str, cookie: str | None, *, action: str = "open"
) -> tuple[int, str | None]:
    """The room form posted from a browser holding `cookie`: the status and the new cookie."""
    _, token = await fetch_form(client, path)
    headers = {"Cookie": f"{COOKIE_NAME}={cookie}"} if cookie else {}
    response = await client.post(
        path,
        data={"patron_id": "S0001", "password": PASSWORD, "action": action, "token": token},
        headers=headers,
    )
    await response.text()
    morsel = response.cookies.get(COOKIE_NAME)
    return response.status, morsel.value if morsel is not None else None


async def guess(hass: HomeAssistant) -> str:
    """One wrong password for S0001 from somebody else (a websocket user elsewhere)."""
    with pytest.raises(ServiceValidationError) as err:
        await patron_action(hass, "open", "T01", "S0001", WRONG, caller="user:guesser")
    return str(err.value.translation_key)


async def test_a_guesser_at_every_backoff_end_never_refuses_the_patrons_own_browser(
    hass: HomeAssistant,
    frozen_clock: FrozenDateTimeFactory,
    init_integration: MockConfigEntry,
    hass_client_no_auth: Any,
) -> None:
    """Five minutes of a guess every second; the patron logs in every five seconds: all pass.

    A browser without the credential (a new phone) is held by the backoff as anyone is.
    """
    client = await hass_client_no_auth()
    path = room_path(hass, "T01")
    status, cookie = await login(client, path, None, action="borrow")
    assert status == 200 and cookie

    answers: list[str] = []
    logins: list[int] = []
    for second in range(300):
        answers.append(await guess(hass))
        if second % 5 == 0:
            status, renewed = await login(client, path, cookie)
            assert status == 200, f"refused after {second} s of guessing"
            logins.append(status)
            assert renewed == cookie  # the same device, the same allowance
        frozen_clock.tick(timedelta(seconds=1))

    assert logins == [200] * 60
    # The guesser got through at every backoff end, and was held in between.
    assert answers.count("invalid_credentials") >= 10
    assert answers.count("too_many_attempts") >= 200
    # Without the credential the patron's password waits out the backoff like the guesser's.
    while await guess(hass) != "invalid_credentials":
        frozen_clock.tick(timedelta(seconds=1))
    new_phone = await hass_client_no_auth()  # a browser of its own, with no cookie
    status, _ = await login(new_phone, path, None)
    assert status == 429


async def test_the_cookie_is_http_only_strict_and_names_nobody(
    hass: HomeAssistant, init_integration: MockConfigEntry, hass_client_no_auth: Any
) -> None:
    client = await hass_client_no_auth()
    path = room_path(hass, "T01")
    _, token = await fetch_form(client, path)
    response = await client.post(
        path,
        data={"patron_id": "S0001", "password": PASSWORD, "action": "borrow", "token": token},
    )
    morsel = response.cookies[COOKIE_NAME]
    assert morsel["httponly"] is True
    assert morsel["samesite"] == "Strict"
    assert morsel["path"] == COOKIE_PATH
    assert int(morsel["max-age"]) >= 300 * 24 * 3600
    assert "S0001" not in morsel.value.upper()
    # A refused login sets no cookie.
    _, token = await fetch_form(client, path)
    refused = await client.post(
        path,
        data={"patron_id": "S0001", "password": WRONG, "action": "open", "token": token},
    )
    assert refused.status == 403
    assert COOKIE_NAME not in refused.cookies


def test_a_credential_is_for_its_patron_and_cannot_be_forged() -> None:
    devices = DeviceCredentials(b"k" * 32)
    cookie = devices.remember(None, "S0001")
    device = devices.device_for(cookie, "s0001")  # the ID as typed in any case
    assert device is not None
    assert devices.device_for(cookie, "G0001") is None
    assert DeviceCredentials(b"x" * 32).device_for(cookie, "S0001") is None  # another key
    forged = cookie[:-2] + ("AA" if cookie[-2:] != "AA" else "BB")
    assert devices.device_for(forged, "S0001") is None
    assert devices.device_for("garbage.more-garbage", "S0001") is None
    # Logging in again keeps the device; another patron on the same browser adds theirs.
    again = devices.remember(cookie, "S0001")
    assert devices.device_for(again, "S0001") == device
    shared = devices.remember(again, "G0001")
    assert devices.device_for(shared, "S0001") == device
    assert devices.device_for(shared, "G0001") not in (None, device)
    # At most a few patrons per browser: the one not seen for longest goes.
    for n in range(MAX_PER_BROWSER):
        shared = devices.remember(shared, f"P{n:04d}")
    assert devices.device_for(shared, "S0001") is None
    assert devices.device_for(shared, f"P{MAX_PER_BROWSER - 1:04d}") is not None
