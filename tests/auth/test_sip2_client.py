"""The SIP2 patron system against a real SIP2 server on 127.0.0.1 (scripts/lib/ils.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
import ipaddress
import logging
from pathlib import Path
import ssl
import time
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from ils import IlsServer, demo_patrons
import pytest

from custom_components.ntnu_library.auth import PatronSystem
from custom_components.ntnu_library.auth.sip2 import (
    Sip2Config,
    Sip2LoginRejected,
    Sip2PatronSystem,
    Sip2Unavailable,
)
from custom_components.ntnu_library.core.errors import Reason, Refused
from custom_components.ntnu_library.core.model import Patron

# The HA test plugin blocks sockets; connections stay limited to 127.0.0.1.
pytestmark = pytest.mark.usefixtures("socket_enabled")

PASSWORD = "ntnu-demo"
LOGIN_USER = "door-terminal"
LOGIN_PASSWORD = "s3cret-terminal-login"
EXPIRES = date(2027, 1, 31)

PATRONS: list[dict[str, Any]] = [
    {
        "id": "S0001",
        "name": "王小明",
        "password": PASSWORD,
        "card": "C-S0001",
        "category": "student_undergraduate",
        "expires": EXPIRES,
    },
    {"id": "T0001", "name": "Typed", "password": PASSWORD, "patron_type": "UG"},
    {"id": "T0002", "name": "Unmapped", "password": PASSWORD, "patron_type": "ZZZ"},
    {"id": "B0001", "name": "Blank CQ", "password": PASSWORD, "blank_cq": True},
    {"id": "V0001", "name": "Invalid", "password": PASSWORD, "valid": False},
    {"id": "L0001", "name": "Lost", "password": PASSWORD, "status": [4], "card": "C-L0001"},
    {"id": "P0001", "name": "Denied", "password": PASSWORD, "status": [0]},
    {"id": "H0001", "name": "Holds", "password": PASSWORD, "status": [3]},
    {"id": "I0001", "name": "Items", "password": PASSWORD, "status": [5]},
    {"id": "O0001", "name": "Overdue", "password": PASSWORD, "status": [6]},
    {"id": "F0001", "name": "Fines", "password": PASSWORD, "status": [10]},
    {"id": "G0001", "name": "Fees", "password": PASSWORD, "status": [11]},
    {"id": "M0001", "name": "Many", "password": PASSWORD, "status": [0, 4, 11]},
]


def make_config(port: int, **overrides: Any) -> Sip2Config:
    options: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "institution": "NTNU",
        "login_user": LOGIN_USER,
        "login_password": LOGIN_PASSWORD,
        "timeout": 0.5,
        "category_map": {"UG": "student_undergraduate"},
        "default_category": "partner_library",
        "card_field": "ZC",
    }
    options.update(overrides)
    return Sip2Config(**options)


@pytest.fixture
async def ils() -> AsyncIterator[IlsServer]:
    server = IlsServer(PATRONS, login_user=LOGIN_USER, login_password=LOGIN_PASSWORD)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def system(ils: IlsServer) -> AsyncIterator[Sip2PatronSystem]:
    patrons = Sip2PatronSystem(make_config(ils.port))
    yield patrons
    await patrons.async_close()


async def refused(awaitable: Any) -> Reason:
    with pytest.raises(Refused) as caught:
        await awaitable
    return caught.value.reason


async def test_right_password(system: Sip2PatronSystem, ils: IlsServer) -> None:
    typed: PatronSystem = system
    patron = await system.async_authenticate(" s0001 ", PASSWORD)
    assert patron == Patron(
        patron_id="S0001",
        name="王小明",
        category="student_undergraduate",
        membership_expires=EXPIRES,
        card="C-S0001",
    )
    # A second login reuses the session: one connection, one SIP login.
    await typed.async_authenticate("S0001", PASSWORD)
    assert ils.connections == 1
    assert ils.counts["93"] == 1
    assert ils.counts["63"] == 2


async def test_category_mapping(system: Sip2PatronSystem) -> None:
    assert (await system.async_authenticate("T0001", PASSWORD)).category == (
        "student_undergraduate"
    )
    unmapped = await system.async_authenticate("T0002", PASSWORD)
    assert unmapped.category == "partner_library"
    assert unmapped.membership_expires is None
    assert unmapped.card is None


def test_config_validates_categories() -> None:
    with pytest.raises(ValueError):
        make_config(1, category_map={"UG": "no_such_category"})
    with pytest.raises(ValueError):
        make_config(1, default_category="nope")
    with pytest.raises(ValueError):
        make_config(0)
    assert LOGIN_PASSWORD not in repr(make_config(1))


@pytest.mark.parametrize(
    ("patron_id", "password"),
    [
        ("S0001", "wrong"),  # wrong password: BL=Y CQ=N
        ("NOBODY", PASSWORD),  # unknown: BL=N
        ("B0001", PASSWORD),  # blank CQ
        ("V0001", PASSWORD),  # BL=N for a patron the ILS knows
        ("S0001", ""),  # empty password: never sent
        ("", PASSWORD),
        ("S0001|ADntnu-demo", "x"),  # field injection
        ("S0001", "x|AD" + PASSWORD),
        ("S0001", "x\r63"),
        ("L0001", "wrong"),  # status flags are not revealed to a wrong password
        ("S" * 100, PASSWORD),
    ],
)
async def test_invalid_credentials(system: Sip2PatronSystem, patron_id: str, password: str) -> None:
    assert await refused(system.async_authenticate(patron_id, password)) is (
        Reason.INVALID_CREDENTIALS
    )
    # The session survives a refusal.
    assert (await system.async_authenticate("S0001", PASSWORD)).patron_id == "S0001"


@pytest.mark.parametrize(
    ("patron_id", "reason"),
    [
        ("L0001", Reason.CARD_REPORTED_LOST),
        ("P0001", Reason.PRIVILEGES_DENIED),
        ("H0001", Reason.PRIVILEGES_DENIED),
        ("I0001", Reason.TOO_MANY_ITEMS),
        ("O0001", Reason.TOO_MANY_ITEMS),
        ("F0001", Reason.EXCESSIVE_FEES),
        ("G0001", Reason.EXCESSIVE_FEES),
        ("M0001", Reason.CARD_REPORTED_LOST),
    ],
)
async def test_status_flags(system: Sip2PatronSystem, patron_id: str, reason: Reason) -> None:
    assert await refused(system.async_authenticate(patron_id, PASSWORD)) is reason


async def test_get_patron(system: Sip2PatronSystem) -> None:
    patron = await system.async_get_patron("s0001")
    assert patron is not None
    assert patron.name == "王小明"
    assert not patron.suspended
    assert await system.async_get_patron("NOBODY") is None
    assert await system.async_get_patron("V0001") is None
    assert await system.async_get_patron("") is None
    flagged = await system.async_get_patron("P0001")
    assert flagged is not None
    assert flagged.suspended
    assert await system.async_find_by_name("王小明") == []


async def test_card_lookup_cached(system: Sip2PatronSystem, ils: IlsServer) -> None:
    patron = await system.async_find_by_card(" c-s0001 ")
    assert patron is not None
    assert patron.patron_id == "S0001"
    assert patron.card == "C-S0001"
    assert ils.counts["63"] == 1
    assert await system.async_find_by_card("C-S0001") == patron
    assert ils.counts["63"] == 1  # the second tap does not wait on the ILS
    assert await system.async_find_by_card("C-NOBODY") is None
    assert await system.async_find_by_card("C-NOBODY") is None
    assert ils.counts["63"] == 2
    # A lost card is refused at the door, every time.
    assert await refused(system.async_find_by_card("C-L0001")) is Reason.CARD_REPORTED_LOST
    assert await refused(system.async_find_by_card("C-L0001")) is Reason.CARD_REPORTED_LOST


async def test_card_cache_expires(ils: IlsServer) -> None:
    clock = [1000.0]
    system = Sip2PatronSystem(make_config(ils.port), monotonic=lambda: clock[0])
    try:
        await system.async_find_by_card("C-S0001")
        clock[0] += 30
        await system.async_find_by_card("C-S0001")
        assert ils.counts["63"] == 1
        clock[0] += 31
        await system.async_find_by_card("C-S0001")
        assert ils.counts["63"] == 2
        # A login with a card on file fills the cache too.
        ils.counts.clear()
        await system.async_authenticate("S0001", PASSWORD)
        clock[0] += 61
        await system.async_authenticate("S0001", PASSWORD)
        await system.async_find_by_card("C-S0001")
        assert ils.counts["63"] == 2
    finally:
        await system.async_close()


async def test_async_test(system: Sip2PatronSystem, ils: IlsServer) -> None:
    await system.async_test()
    assert ils.counts == {"93": 1, "99": 1}


async def test_login_rejected(ils: IlsServer) -> None:
    ils.reject_login = True
    system = Sip2PatronSystem(make_config(ils.port))
    with pytest.raises(Sip2LoginRejected):
        await system.async_test()
    assert await refused(system.async_authenticate("S0001", PASSWORD)) is (
        Reason.PATRON_SYSTEM_UNAVAILABLE
    )
    await system.async_close()
    wrong = Sip2PatronSystem(make_config(ils.port, login_password="wrong"))
    ils.reject_login = False
    with pytest.raises(Sip2LoginRejected):
        await wrong.async_test()
    await wrong.async_close()


async def test_no_terminal_login_and_no_error_detection() -> None:
    async with IlsServer(PATRONS) as server:
        system = Sip2PatronSystem(
            make_config(server.port, login_user=None, login_password=None, error_detection=False)
        )
        await system.async_test()
        assert (await system.async_authenticate("S0001", PASSWORD)).name == "王小明"
        assert "93" not in server.counts
        await system.async_close()


async def test_server_down() -> None:
    async with IlsServer(PATRONS) as server:
        port = server.port
    system = Sip2PatronSystem(make_config(port))
    with pytest.raises(Sip2Unavailable):
        await system.async_test()
    assert await refused(system.async_authenticate("S0001", PASSWORD)) is (
        Reason.PATRON_SYSTEM_UNAVAILABLE
    )
    assert await refused(system.async_find_by_card("C-S0001")) is (Reason.PATRON_SYSTEM_UNAVAILABLE)
    await system.async_close()


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ("truncated", Reason.PATRON_SYSTEM_UNAVAILABLE),
        ("bad_checksum", Reason.PATRON_SYSTEM_UNAVAILABLE),
        ("missing_bl", Reason.INVALID_CREDENTIALS),
        ("garbage", Reason.PATRON_SYSTEM_UNAVAILABLE),
        ("huge", Reason.PATRON_SYSTEM_UNAVAILABLE),
        ("drip", Reason.PATRON_SYSTEM_UNAVAILABLE),
        ("silent", Reason.PATRON_SYSTEM_UNAVAILABLE),
        ("reset", Reason.PATRON_SYSTEM_UNAVAILABLE),
    ],
)
async def test_malformed_answers(
    system: Sip2PatronSystem, ils: IlsServer, fault: str, reason: Reason
) -> None:
    await system.async_test()  # the session is up and logged in before the fault
    ils.fault = fault
    start = time.monotonic()
    assert await refused(system.async_authenticate("S0001", PASSWORD)) is reason
    assert time.monotonic() - start < 2.5  # the timeout, never a hang
    if fault != "missing_bl":
        assert await refused(system.async_find_by_card("C-S0001")) is (
            Reason.PATRON_SYSTEM_UNAVAILABLE
        )
    # Once the ILS behaves again, so does the client (a fresh session).
    ils.fault = None
    assert (await system.async_authenticate("S0001", PASSWORD)).patron_id == "S0001"


async def test_bad_checksum_once_is_resent(system: Sip2PatronSystem, ils: IlsServer) -> None:
    ils.fault = "bad_checksum_once"
    assert (await system.async_authenticate("S0001", PASSWORD)).patron_id == "S0001"
    assert ils.counts["97"] == 1
    assert ils.connections == 1


async def test_reconnect_after_drop(system: Sip2PatronSystem, ils: IlsServer) -> None:
    ils.fault = "drop"  # answers, then hangs up
    assert (await system.async_authenticate("S0001", PASSWORD)).patron_id == "S0001"
    await asyncio.sleep(0.05)
    assert (await system.async_authenticate("S0001", PASSWORD)).patron_id == "S0001"
    assert ils.connections == 2
    assert ils.counts["93"] == 2  # logged in again on the new connection


async def test_serialized_use(system: Sip2PatronSystem, ils: IlsServer) -> None:
    ids = ["S0001", "T0001", "T0002"] * 5
    patrons = await asyncio.gather(*(system.async_authenticate(i, PASSWORD) for i in ids))
    assert [p.patron_id for p in patrons] == ids
    assert ils.connections == 1


async def test_cancellation_leaves_no_half_session(
    system: Sip2PatronSystem, ils: IlsServer
) -> None:
    ils.fault = "silent"
    task = asyncio.create_task(system.async_authenticate("S0001", PASSWORD))
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    ils.fault = None
    assert (await system.async_authenticate("S0001", PASSWORD)).patron_id == "S0001"


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


async def test_tls(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    async with IlsServer(
        PATRONS, login_user=LOGIN_USER, login_password=LOGIN_PASSWORD, tls=context
    ) as server:
        unverified = Sip2PatronSystem(make_config(server.port, tls=True, verify_tls=False))
        await unverified.async_test()
        assert (await unverified.async_authenticate("S0001", PASSWORD)).name == "王小明"
        await unverified.async_close()

        verified = Sip2PatronSystem(make_config(server.port, tls=True))
        with pytest.raises(Sip2Unavailable):
            await verified.async_test()
        assert await refused(verified.async_authenticate("S0001", PASSWORD)) is (
            Reason.PATRON_SYSTEM_UNAVAILABLE
        )
        await verified.async_close()

        # Trusting the certificate (as HA's context would a real CA) verifies it.
        trusted_context = ssl.create_default_context(cafile=str(cert))
        trusted = Sip2PatronSystem(make_config(server.port, tls=True), ssl_context=trusted_context)
        assert (await trusted.async_authenticate("S0001", PASSWORD)).patron_id == "S0001"
        await trusted.async_close()

        # A plain-text client against the TLS port gets nothing it can read.
        plain = Sip2PatronSystem(make_config(server.port))
        assert await refused(plain.async_authenticate("S0001", PASSWORD)) is (
            Reason.PATRON_SYSTEM_UNAVAILABLE
        )
        await plain.async_close()


async def test_passwords_never_logged(
    system: Sip2PatronSystem, ils: IlsServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "Pa55-word-never-logged"
    await system.async_test()
    await system.async_authenticate("S0001", PASSWORD)
    for fault in (None, "garbage", "bad_checksum", "reset"):
        ils.fault = fault
        with pytest.raises(Refused) as caught:
            await system.async_authenticate("S0001", secret)
        assert secret not in repr(caught.value)
        assert secret not in str(caught.value.__cause__)
    ils.fault = None
    text = caplog.text
    assert caplog.records  # something was logged
    for forbidden in (secret, PASSWORD, LOGIN_PASSWORD, "S0001"):
        assert forbidden not in text


def test_demo_patrons() -> None:
    patrons = demo_patrons(date(2026, 3, 1))
    assert len(patrons) == 25
    first = patrons[0]
    assert first["id"] == "S0001"
    assert first["card"] == "C-S0001"
    assert first["password"] == "ntnu-demo"
    expired = next(p for p in patrons if p["id"] == "E0001")
    assert expired["expires"] < date(2026, 3, 1)
