"""The ILS patron system (the adapter of the sip2 package) against real SIP2 servers on 127.0.0.1.

Two ILSs: scripts/lib/ils.py (our codec, UTF-8, every fault) and pysip2's server (someone else's
codec, code page 850; see tests/sip2/pysip2_ils.py). A test that asks the `ils` fixture runs against both
unless it is marked `ours_only` (faults and vendor fields only scripts/lib/ils.py has).
"""

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

from custom_components.ntnu_library.auth import PatronSystem, ils as adapter, ils_patrons
from custom_components.ntnu_library.auth.ils import (
    DEFAULT_REFUSING_FLAGS,
    SIP2_PROTOCOL_ERROR,
    IlsConfig,
    IlsPatronSystem,
)
from custom_components.ntnu_library.core.categories import CATEGORIES, MOST_RESTRICTED_CATEGORY
from custom_components.ntnu_library.core.errors import Reason, Refused
from custom_components.ntnu_library.core.model import Patron
from custom_components.ntnu_library.sip2 import (
    BLOCK_FLAGS,
    BLOCK_MESSAGE_LENGTH,
    PATRON_STATUS_FLAGS,
    SIP2_ENCODINGS,
    Sip2ConfigError,
    Sip2LoginRejected,
    Sip2Unavailable,
)

from ..conftest import until
from ..sip2.pysip2_ils import PySip2Ils

# The HA test plugin blocks sockets; connections stay limited to 127.0.0.1.
pytestmark = pytest.mark.usefixtures("socket_enabled")

PASSWORD = "ntnu-demo"
LOGIN_USER = "door-terminal"
LOGIN_PASSWORD = "s3cret-terminal-login"
EXPIRES = date(2027, 1, 31)
# Every character set of SIP2_ENCODINGS has these letters; the bytes differ in each.
NAME = "Åse Ødegård"
NON_ASCII_PASSWORD = "blåbær-Ø"

PATRONS: list[dict[str, Any]] = [
    {
        "id": "S0001",
        "name": NAME,
        "password": PASSWORD,
        "card": "C-S0001",
        "category": "student_undergraduate",
        "expires": EXPIRES,
    },
    {"id": "A0001", "name": NAME, "password": NON_ASCII_PASSWORD, "card": "C-A0001"},
    {"id": "W0001", "name": "王小明", "password": PASSWORD},  # served only in UTF-8
    {"id": "T0001", "name": "Typed", "password": PASSWORD, "patron_type": "UG"},
    {"id": "T0002", "name": "Unmapped", "password": PASSWORD, "patron_type": "ZZZ"},
    {"id": "T0003", "name": "Unmapped too", "password": PASSWORD, "patron_type": "FAC-X"},
    {"id": "T0004", "name": "Escapes", "password": PASSWORD, "patron_type": "Q\x1b[2J\u202eX"},
    {"id": "K0001", "name": "Key", "password": PASSWORD, "patron_type": "alumni"},
    {"id": "N0001", "name": "No type", "password": PASSWORD},
    {"id": "B0001", "name": "Blank CQ", "password": PASSWORD, "blank_cq": True},
    {"id": "V0001", "name": "Invalid", "password": PASSWORD, "valid": False},
    {"id": "L0001", "name": "Lost", "password": PASSWORD, "status": [4], "card": "C-L0001"},
    {"id": "P0001", "name": "Denied", "password": PASSWORD, "status": [0], "card": "C-P0001"},
    {"id": "R0001", "name": "Renewals", "password": PASSWORD, "status": [1]},
    {"id": "H0001", "name": "Holds", "password": PASSWORD, "status": [3], "card": "C-H0001"},
    {"id": "I0001", "name": "Items", "password": PASSWORD, "status": [5]},
    {"id": "O0001", "name": "Overdue", "password": PASSWORD, "status": [6]},
    {"id": "F0001", "name": "Fines", "password": PASSWORD, "status": [10]},
    {"id": "G0001", "name": "Fees", "password": PASSWORD, "status": [11]},
    {"id": "M0001", "name": "Many", "password": PASSWORD, "status": [0, 4, 11]},
    {"id": "Y0001", "name": "Loans only", "password": PASSWORD, "status": [1, 2, 3, 5, 6, 7]},
]

ours_only = pytest.mark.parametrize("kind", ["ils.py"])
Ils = IlsServer | PySip2Ils


def new_ils(kind: str, patrons: list[dict[str, Any]] = PATRONS, **options: Any) -> Ils:
    if kind == "pysip2":
        return PySip2Ils(patrons, **options)
    return IlsServer(patrons, **options)


def make_config(port: int, **overrides: Any) -> IlsConfig:
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
    return IlsConfig(**options)


def config_for(ils: Ils, **overrides: Any) -> IlsConfig:
    """The client set as the site would be for this ILS: its port and its character set."""
    return make_config(ils.port, **{"encoding": ils.encoding, **overrides})


@pytest.fixture(params=["ils.py", "pysip2"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def ils_encoding(kind: str) -> str:
    return "cp850" if kind == "pysip2" else "utf-8"


@pytest.fixture
async def ils(kind: str, ils_encoding: str) -> AsyncIterator[Ils]:
    async with new_ils(
        kind, login_user=LOGIN_USER, login_password=LOGIN_PASSWORD, encoding=ils_encoding
    ) as server:
        yield server


@pytest.fixture
def client_options() -> dict[str, Any]:
    return {}


@pytest.fixture
async def system(ils: Ils, client_options: dict[str, Any]) -> AsyncIterator[IlsPatronSystem]:
    patrons = IlsPatronSystem(config_for(ils, **client_options))
    yield patrons
    await patrons.async_close()


async def refused(awaitable: Any) -> Reason:
    with pytest.raises(Refused) as caught:
        await awaitable
    return caught.value.reason


# --- Logging in and looking up -----------------------------------------------------------------


@pytest.mark.parametrize("error_detection", [True, False])
async def test_right_password(ils: Ils, error_detection: bool) -> None:
    system = IlsPatronSystem(config_for(ils, error_detection=error_detection))
    typed: PatronSystem = system
    try:
        patron = await system.async_authenticate(" s0001 ", PASSWORD)
        if isinstance(ils, IlsServer):
            assert patron == Patron(
                patron_id="S0001",
                name=NAME,
                category="student_undergraduate",
                membership_expires=EXPIRES,
                card="C-S0001",
            )
        else:  # a plain SIP2 2.00 answer: no patron type, expiry or card field
            assert patron == Patron(patron_id="S0001", name=NAME, category="partner_library")
        # A second login reuses the session: one connection, one SIP login.
        await typed.async_authenticate("S0001", PASSWORD)
    finally:
        await system.async_close()
    assert ils.connections == 1
    assert ils.counts["93"] == 1
    assert ils.counts["63"] == 2
    # AY/AZ on every request, or on none.
    assert ils.checksummed == (3 if error_detection else 0)


@ours_only
async def test_category_mapping(system: IlsPatronSystem) -> None:
    assert (await system.async_authenticate("T0001", PASSWORD)).category == (
        "student_undergraduate"
    )
    # A type that already is a category key passes as it is.
    assert (await system.async_authenticate("K0001", PASSWORD)).category == "alumni"
    unmapped = await system.async_authenticate("T0002", PASSWORD)
    assert unmapped.category == MOST_RESTRICTED_CATEGORY
    assert unmapped.membership_expires is None
    assert unmapped.card is None


async def test_a_patron_without_a_type_gets_the_default_category(ils: Ils) -> None:
    system = IlsPatronSystem(config_for(ils, default_category="student_master"))
    try:
        assert (await system.async_authenticate("N0001", PASSWORD)).category == "student_master"
    finally:
        await system.async_close()


def test_the_most_restricted_category_comes_from_the_loan_table() -> None:
    fewest = min(entry.item_limit for entry in CATEGORIES.values())
    assert CATEGORIES[MOST_RESTRICTED_CATEGORY].item_limit == fewest
    # Three rows lend 5 items; of those the Friends of the Library have the shortest loan.
    assert MOST_RESTRICTED_CATEGORY == "friend_of_library"
    assert IlsConfig(host="ils", port=1).default_category == MOST_RESTRICTED_CATEGORY


@ours_only
async def test_unmapped_types_are_reported_once_each(ils: Ils) -> None:
    reported: list[str] = []
    system = IlsPatronSystem(config_for(ils), on_unmapped_category=reported.append)
    try:
        for patron_id in ("T0002", "T0002", "T0003", "T0001", "K0001", "N0001"):
            await system.async_authenticate(patron_id, PASSWORD)
        await system.async_get_patron("T0002")
        await system.async_get_patron("T0003")
        assert reported == ["ZZZ", "FAC-X"]
        # What staff will read carries no control character: escaped, not dropped.
        patron = await system.async_authenticate("T0004", PASSWORD)
        assert patron.category == MOST_RESTRICTED_CATEGORY
        assert reported[-1] == "Q\\x1b[2J\\u202eX"
        assert all(ch.isprintable() for ch in reported[-1])
    finally:
        await system.async_close()


@ours_only
async def test_unmapped_type_reports_are_bounded_and_never_cost_a_login(
    ils: IlsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(adapter, "UNMAPPED_TYPES_MAX", 3)
    for n in range(6):
        ils.patrons[f"X{n}"] = {"id": f"X{n}", "name": "X", "password": PASSWORD}
        ils.patrons[f"X{n}"]["patron_type"] = f"TYPE{n}" + "-" * 60
    calls: list[str] = []

    def broken(code: str) -> None:
        calls.append(code)
        raise RuntimeError("the repair registry is gone")

    system = IlsPatronSystem(config_for(ils), on_unmapped_category=broken)
    try:
        for n in range(6):
            patron = await system.async_authenticate(f"X{n}", PASSWORD)
            assert patron.category == MOST_RESTRICTED_CATEGORY
    finally:
        await system.async_close()
    assert len(calls) == 3
    assert calls[0].startswith("TYPE0-")
    assert len(calls[0]) == ils_patrons.UNMAPPED_TYPE_LENGTH


def test_config_validates_categories() -> None:
    with pytest.raises(ValueError):
        make_config(1, category_map={"UG": "no_such_category"})
    with pytest.raises(ValueError):
        make_config(1, default_category="nope")
    with pytest.raises(ValueError):
        make_config(0)
    assert LOGIN_PASSWORD not in repr(make_config(1))


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"encoding": "utf8"}, "encoding"),
        ({"encoding": "utf-16"}, "encoding"),
        ({"encoding": "ascii"}, "encoding"),
        ({"encoding": "cp850", "login_password": "密碼"}, "login_password"),
        ({"encoding": "latin-1", "institution": "師大"}, "institution"),
        ({"login_user": "door|COx"}, "login_user"),
        ({"location": "a\rb"}, "location"),
        ({"refusing_flags": {"charge_privileges_denied", "no_such_flag"}}, "refusing_flags"),
        ({"refusing_flags": {14}}, "refusing_flags"),
        ({"refusing_flags": {-1}}, "refusing_flags"),
        ({"refusing_flags": {True}}, "refusing_flags"),
        ({"category_map": {"UG": "nobody"}}, "category_map"),
        ({"default_category": "nobody"}, "default_category"),
    ],
)
def test_config_names_the_setting_that_cannot_work(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(Sip2ConfigError) as caught:
        make_config(1, **overrides)
    assert caught.value.field == field


def test_config_exports() -> None:
    assert SIP2_ENCODINGS == ("utf-8", "cp850", "latin-1")
    for encoding in SIP2_ENCODINGS:
        assert make_config(1, encoding=encoding, login_password="pässwörd").encoding == encoding
    assert make_config(1).encoding == "utf-8"
    assert len(PATRON_STATUS_FLAGS) == 14
    assert PATRON_STATUS_FLAGS[0] == "charge_privileges_denied"
    assert PATRON_STATUS_FLAGS[4] == "card_reported_lost"
    assert PATRON_STATUS_FLAGS[13] == "too_many_items_billed"
    assert {"charge_privileges_denied", "card_reported_lost"} == DEFAULT_REFUSING_FLAGS
    # Names and positions both work and are held as positions.
    assert make_config(1).refusing_flags == {0, 4}
    assert make_config(1, refusing_flags=["hold_privileges_denied", 12]).refusing_flags == {3, 12}
    assert make_config(1, refusing_flags="card_reported_lost").refusing_flags == {4}
    assert make_config(1, refusing_flags=()).refusing_flags == frozenset()


@pytest.mark.parametrize(
    ("patron_id", "password"),
    [
        ("S0001", "wrong"),  # wrong password: BL=Y CQ=N
        ("NOBODY", PASSWORD),  # unknown: BL=N
        ("B0001", PASSWORD),  # blank CQ (pysip2: no CQ at all)
        ("V0001", PASSWORD),  # BL=N for a patron the ILS knows
        ("S0001", ""),  # empty password: never sent
        ("", PASSWORD),
        ("S0001|ADntnu-demo", "x"),  # field injection
        ("S0001", "x|AD" + PASSWORD),
        ("S0001", "x\r63"),
        ("S0001\n63", PASSWORD),  # LF ends a line for some ILSs
        ("S0001", "x\x00"),  # NUL: pysip2 hangs up, and the ILS would look down
        ("L0001", "wrong"),  # status flags are not revealed to a wrong password
        ("S" * 100, PASSWORD),
    ],
)
async def test_invalid_credentials(system: IlsPatronSystem, patron_id: str, password: str) -> None:
    assert await refused(system.async_authenticate(patron_id, password)) is (
        Reason.INVALID_CREDENTIALS
    )
    # The session survives a refusal.
    assert (await system.async_authenticate("S0001", PASSWORD)).patron_id == "S0001"


# --- Patron status flags ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("patron_id", "reason"),
    [
        ("L0001", Reason.CARD_REPORTED_LOST),
        ("P0001", Reason.PRIVILEGES_DENIED),
        ("M0001", Reason.CARD_REPORTED_LOST),  # the one a patron can act on first
        # Flags about loans do not keep anyone out of a room.
        ("R0001", None),
        ("H0001", None),
        ("I0001", None),
        ("O0001", None),
        ("F0001", None),
        ("G0001", None),
        ("Y0001", None),
    ],
)
async def test_status_flags_that_refuse_a_room_by_default(
    system: IlsPatronSystem, patron_id: str, reason: Reason | None
) -> None:
    if reason is None:
        assert (await system.async_authenticate(patron_id, PASSWORD)).patron_id == patron_id
        patron = await system.async_get_patron(patron_id)
        assert patron is not None
        assert not patron.suspended
    else:
        assert await refused(system.async_authenticate(patron_id, PASSWORD)) is reason
        patron = await system.async_get_patron(patron_id)
        assert patron is not None
        assert patron.suspended


@pytest.mark.parametrize("client_options", [{"refusing_flags": PATRON_STATUS_FLAGS}])
@pytest.mark.parametrize(
    ("patron_id", "reason"),
    [
        ("L0001", Reason.CARD_REPORTED_LOST),
        ("P0001", Reason.PRIVILEGES_DENIED),
        ("R0001", Reason.PRIVILEGES_DENIED),
        ("H0001", Reason.PRIVILEGES_DENIED),
        ("I0001", Reason.TOO_MANY_ITEMS),
        ("O0001", Reason.TOO_MANY_ITEMS),
        ("F0001", Reason.EXCESSIVE_FEES),
        ("G0001", Reason.EXCESSIVE_FEES),
        ("M0001", Reason.CARD_REPORTED_LOST),
        ("Y0001", Reason.PRIVILEGES_DENIED),
    ],
)
async def test_every_flag_can_refuse(
    system: IlsPatronSystem, patron_id: str, reason: Reason
) -> None:
    assert await refused(system.async_authenticate(patron_id, PASSWORD)) is reason


@pytest.mark.parametrize("client_options", [{"refusing_flags": {3, "too_many_items_charged"}}])
async def test_the_site_chooses_the_refusing_flags(system: IlsPatronSystem) -> None:
    assert await refused(system.async_authenticate("H0001", PASSWORD)) is (Reason.PRIVILEGES_DENIED)
    assert await refused(system.async_authenticate("I0001", PASSWORD)) is Reason.TOO_MANY_ITEMS
    # Charge privileges denied no longer refuses, nor a lost card at a password login.
    assert (await system.async_authenticate("P0001", PASSWORD)).patron_id == "P0001"
    assert (await system.async_authenticate("L0001", PASSWORD)).patron_id == "L0001"
    assert await refused(system.async_find_by_card("C-H0001")) is Reason.PRIVILEGES_DENIED
    assert (await system.async_find_by_card("C-P0001")) is not None


@pytest.mark.parametrize("client_options", [{"refusing_flags": ()}])
async def test_a_lost_card_never_opens_a_door(system: IlsPatronSystem) -> None:
    # Its owner may still log in with the password ...
    assert (await system.async_authenticate("L0001", PASSWORD)).patron_id == "L0001"
    # ... but whoever holds the card is refused at the door, whatever the site chose.
    assert await refused(system.async_find_by_card("C-L0001")) is Reason.CARD_REPORTED_LOST


# --- Lookups and the card cache -----------------------------------------------------------------


async def test_get_patron(system: IlsPatronSystem) -> None:
    patron = await system.async_get_patron("s0001")
    assert patron is not None
    assert patron.name == NAME
    assert not patron.suspended
    assert await system.async_get_patron("NOBODY") is None
    assert await system.async_get_patron("V0001") is None
    assert await system.async_get_patron("") is None
    flagged = await system.async_get_patron("P0001")
    assert flagged is not None
    assert flagged.suspended
    assert await system.async_find_by_name(NAME) == []


async def test_card_lookup_cached(system: IlsPatronSystem, ils: Ils) -> None:
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


async def test_card_cache_expires(ils: Ils) -> None:
    clock = [1000.0]
    system = IlsPatronSystem(config_for(ils), monotonic=lambda: clock[0])
    try:
        await system.async_find_by_card("C-S0001")
        clock[0] += 30
        await system.async_find_by_card("C-S0001")
        assert ils.counts["63"] == 1
        clock[0] += 31
        await system.async_find_by_card("C-S0001")
        assert ils.counts["63"] == 2
        if isinstance(ils, IlsServer):  # pysip2 sends no card field to learn the card from
            # A login with a card on file fills the cache too.
            ils.counts.clear()
            await system.async_authenticate("S0001", PASSWORD)
            clock[0] += 61
            await system.async_authenticate("S0001", PASSWORD)
            await system.async_find_by_card("C-S0001")
            assert ils.counts["63"] == 2
    finally:
        await system.async_close()


# --- Character sets ----------------------------------------------------------------------------


@pytest.mark.parametrize("ils_encoding", SIP2_ENCODINGS)
async def test_names_and_passwords_in_the_sites_character_set(ils: Ils, ils_encoding: str) -> None:
    system = IlsPatronSystem(config_for(ils, encoding=ils_encoding))
    try:
        patron = await system.async_authenticate("A0001", NON_ASCII_PASSWORD)
        assert patron.name == NAME
        assert (await system.async_find_by_card("C-A0001")) == Patron(
            patron_id="A0001", name=NAME, category="partner_library", card="C-A0001"
        )
        if ils_encoding == "utf-8":
            assert (await system.async_authenticate("W0001", PASSWORD)).name == "王小明"
        else:
            # A password the character set cannot carry is refused without asking the ILS.
            asked = ils.counts["63"]
            assert await refused(system.async_authenticate("A0001", "密碼")) is (
                Reason.INVALID_CREDENTIALS
            )
            assert ils.counts["63"] == asked
    finally:
        await system.async_close()


async def test_a_name_the_ils_cannot_send_arrives_as_question_marks() -> None:
    async with IlsServer(PATRONS, encoding="cp850") as server:
        system = IlsPatronSystem(
            make_config(server.port, login_user=None, login_password=None, encoding="cp850")
        )
        try:
            assert (await system.async_authenticate("W0001", PASSWORD)).name == "???"
        finally:
            await system.async_close()


@pytest.mark.parametrize(
    ("ils_encoding", "encoding"),
    [("cp850", "utf-8"), ("latin-1", "utf-8"), ("utf-8", "cp850"), ("utf-8", "latin-1")],
)
async def test_a_wrong_character_set_costs_no_lookup(
    ils: Ils, ils_encoding: str, encoding: str
) -> None:
    """The issue's case: Åse Ødegård in cp850 read as UTF-8 failed the lookup, as an outage."""
    system = IlsPatronSystem(config_for(ils, encoding=encoding))
    try:
        patron = await system.async_get_patron("A0001")
        assert patron is not None
        assert patron.patron_id == "A0001"
        assert patron.name != NAME
        assert "deg" in patron.name  # the ASCII letters survive; the others are replaced
        if encoding == "utf-8":
            assert "\ufffd" in patron.name
        card = await system.async_find_by_card("C-A0001")
        assert card is not None
        assert card.patron_id == "A0001"
        if ils_encoding != "utf-8":  # pysip2 hangs up on a request that is not UTF-8
            # The bytes of a non-ASCII password differ: it is wrong, not a failure.
            assert await refused(system.async_authenticate("A0001", NON_ASCII_PASSWORD)) is (
                Reason.INVALID_CREDENTIALS
            )
        # An ASCII login works all the same, on the same session.
        assert (await system.async_authenticate("S0001", PASSWORD)).patron_id == "S0001"
    finally:
        await system.async_close()
    assert ils.connections == 1


# --- The session -------------------------------------------------------------------------------


async def test_async_test(system: IlsPatronSystem, ils: Ils) -> None:
    await system.async_test()
    assert ils.counts == {"93": 1, "99": 1}


async def test_wrong_terminal_password(ils: Ils) -> None:
    ils.reject_login = True
    system = IlsPatronSystem(config_for(ils))
    with pytest.raises(Sip2LoginRejected):
        await system.async_test()
    assert await refused(system.async_authenticate("S0001", PASSWORD)) is (
        Reason.PATRON_SYSTEM_UNAVAILABLE
    )
    assert system.login_rejected
    await system.async_close()
    wrong = IlsPatronSystem(config_for(ils, login_password="wrong"))
    ils.reject_login = False
    with pytest.raises(Sip2LoginRejected):
        await wrong.async_test()
    assert await refused(wrong.async_authenticate("S0001", PASSWORD)) is (
        Reason.PATRON_SYSTEM_UNAVAILABLE
    )
    await wrong.async_close()
    assert "63" not in ils.counts  # nothing was asked without a SIP login


async def test_no_terminal_login_and_no_error_detection(kind: str, ils_encoding: str) -> None:
    async with new_ils(kind, encoding=ils_encoding) as server:
        system = IlsPatronSystem(
            config_for(server, login_user=None, login_password=None, error_detection=False)
        )
        await system.async_test()
        assert (await system.async_authenticate("S0001", PASSWORD)).name == NAME
        assert "93" not in server.counts
        assert server.checksummed == 0
        await system.async_close()


async def test_server_down(kind: str) -> None:
    async with new_ils(kind) as server:
        port = server.port
    system = IlsPatronSystem(make_config(port))
    start = time.monotonic()
    with pytest.raises(Sip2Unavailable):
        await system.async_test()
    assert time.monotonic() - start < 0.4  # refused at once, not the 0.5 s timeout
    assert await refused(system.async_authenticate("S0001", PASSWORD)) is (
        Reason.PATRON_SYSTEM_UNAVAILABLE
    )
    assert await refused(system.async_find_by_card("C-S0001")) is (Reason.PATRON_SYSTEM_UNAVAILABLE)
    await system.async_close()


# --- Faults ------------------------------------------------------------------------------------


@ours_only
@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        # An answer that cannot be read fails that request: the ILS is not down.
        ("truncated", SIP2_PROTOCOL_ERROR),
        ("garbage", SIP2_PROTOCOL_ERROR),
        ("huge", SIP2_PROTOCOL_ERROR),
        ("missing_bl", Reason.INVALID_CREDENTIALS),
        # No answer, or none in time: the ILS is unavailable.
        ("drip", Reason.PATRON_SYSTEM_UNAVAILABLE),
        ("silent", Reason.PATRON_SYSTEM_UNAVAILABLE),
        ("reset", Reason.PATRON_SYSTEM_UNAVAILABLE),
    ],
)
async def test_malformed_answers(
    system: IlsPatronSystem, ils: IlsServer, fault: str, reason: Reason
) -> None:
    await system.async_test()  # the session is up and logged in before the fault
    ils.fault = fault
    start = time.monotonic()
    assert await refused(system.async_authenticate("S0001", PASSWORD)) is reason
    assert time.monotonic() - start < 2.5  # the timeout, never a hang
    if fault != "missing_bl":
        assert await refused(system.async_find_by_card("C-S0001")) is reason
    # Once the ILS behaves again, so does the client (a fresh session).
    ils.fault = None
    assert (await system.async_authenticate("S0001", PASSWORD)).patron_id == "S0001"


def test_an_unreadable_answer_is_not_an_outage() -> None:
    # The integration's breaker counts PATRON_SYSTEM_UNAVAILABLE only.
    assert SIP2_PROTOCOL_ERROR is not Reason.PATRON_SYSTEM_UNAVAILABLE


async def test_bad_checksum_from_the_ils_once_is_asked_again(
    system: IlsPatronSystem, ils: Ils
) -> None:
    ils.fault = "bad_checksum_once"
    assert (await system.async_authenticate("A0001", NON_ASCII_PASSWORD)).name == NAME
    assert ils.counts["97"] == 1
    assert ils.connections == 1


async def test_bad_checksum_from_the_ils_every_time(system: IlsPatronSystem, ils: Ils) -> None:
    ils.fault = "bad_checksum"
    assert await refused(system.async_authenticate("S0001", PASSWORD)) is SIP2_PROTOCOL_ERROR
    assert ils.counts["97"] == 1  # asked once, then given up: no loop
    ils.fault = None
    assert (await system.async_authenticate("S0001", PASSWORD)).patron_id == "S0001"


async def test_bad_checksum_to_the_ils_once_is_sent_again(
    system: IlsPatronSystem, ils: Ils
) -> None:
    await system.async_test()
    ils.fault = "request_checksum_once"
    # The ILS answers 96 (Request SC Resend) and the client sends the same request again.
    assert (await system.async_authenticate("A0001", NON_ASCII_PASSWORD)).name == NAME
    assert ils.counts["63"] == 1  # the ILS read one good 63
    assert ils.connections == 1


async def test_bad_checksum_to_the_ils_every_time(system: IlsPatronSystem, ils: Ils) -> None:
    await system.async_test()
    ils.fault = "request_checksum"
    assert await refused(system.async_authenticate("S0001", PASSWORD)) is SIP2_PROTOCOL_ERROR
    assert "63" not in ils.counts
    ils.fault = None
    assert (await system.async_authenticate("S0001", PASSWORD)).patron_id == "S0001"


async def test_reconnect_after_drop(system: IlsPatronSystem, ils: Ils) -> None:
    ils.fault = "drop"  # answers, then hangs up
    assert (await system.async_authenticate("S0001", PASSWORD)).patron_id == "S0001"
    await until(lambda: ils.fault is None)  # the ILS clears the fault as it hangs up
    assert (await system.async_authenticate("S0001", PASSWORD)).patron_id == "S0001"
    assert ils.connections == 2
    assert ils.counts["93"] == 2  # logged in again on the new connection


async def test_serialized_use(system: IlsPatronSystem, ils: Ils) -> None:
    ids = ["S0001", "T0001", "A0001"] * 5
    passwords = {"A0001": NON_ASCII_PASSWORD}
    patrons = await asyncio.gather(
        *(system.async_authenticate(i, passwords.get(i, PASSWORD)) for i in ids)
    )
    assert [p.patron_id for p in patrons] == ids
    assert ils.connections == 1


@ours_only
async def test_cancellation_leaves_no_half_session(system: IlsPatronSystem, ils: IlsServer) -> None:
    ils.fault = "silent"
    task = asyncio.create_task(system.async_authenticate("S0001", PASSWORD))
    await until(lambda: ils.counts.get("63") == 1)  # asked, and no answer coming
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
        unverified = IlsPatronSystem(make_config(server.port, tls=True, verify_tls=False))
        await unverified.async_test()
        assert (await unverified.async_authenticate("S0001", PASSWORD)).name == NAME
        await unverified.async_close()

        verified = IlsPatronSystem(make_config(server.port, tls=True))
        with pytest.raises(Sip2Unavailable):
            await verified.async_test()
        assert await refused(verified.async_authenticate("S0001", PASSWORD)) is (
            Reason.PATRON_SYSTEM_UNAVAILABLE
        )
        await verified.async_close()

        # Trusting the certificate (as HA's context would a real CA) verifies it.
        trusted_context = ssl.create_default_context(cafile=str(cert))
        trusted = IlsPatronSystem(make_config(server.port, tls=True), ssl_context=trusted_context)
        assert (await trusted.async_authenticate("S0001", PASSWORD)).patron_id == "S0001"
        await trusted.async_close()

        # A plain-text client against the TLS port gets nothing it can read.
        plain = IlsPatronSystem(make_config(server.port))
        assert await refused(plain.async_authenticate("S0001", PASSWORD)) is (
            Reason.PATRON_SYSTEM_UNAVAILABLE
        )
        await plain.async_close()


@ours_only
async def test_passwords_never_logged(
    system: IlsPatronSystem, ils: IlsServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "Pa55-word-never-logged"
    await system.async_test()
    await system.async_authenticate("S0001", PASSWORD)
    for fault in (None, "garbage", "bad_checksum", "reset", "request_checksum"):
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


# --- Blocks shared between sites (01 Block Patron) ---------------------------------------------
# Two clients on one ILS stand for two buildings, each with its own Home Assistant: site A
# freezes a patron and writes the block, site B (its own connection, its own card cache) only
# reads the ILS.

REASON = "Left room 3 unlocked (2nd time)"


def two_sites(ils: Ils, **options: Any) -> tuple[IlsPatronSystem, IlsPatronSystem]:
    """Two sites' clients on one ILS: separate objects, connections and card caches."""
    return (
        IlsPatronSystem(config_for(ils, **options)),
        IlsPatronSystem(config_for(ils, **options)),
    )


@pytest.mark.parametrize("error_detection", [True, False])
async def test_a_block_at_one_site_refuses_the_patron_at_every_site(
    ils: Ils, error_detection: bool
) -> None:
    site_a, site_b = two_sites(ils, error_detection=error_detection)
    try:
        # (A look-up, not a login: a login would put the card in site B's cache, see below.)
        before = await site_b.async_get_patron("S0001")
        assert before is not None
        assert not before.suspended
        await site_a.async_block_patron(" s0001 ", REASON)
        # The ILS holds the block, with the reason, and the card was not retained.
        assert ils.blocks == [("S0001", REASON, False)]
        assert ils.patrons["S0001"]["blocked"] == REASON
        assert ils.counts["01"] == 1
        # Site B refuses at login and at the door: charge privileges denied.
        assert await refused(site_b.async_authenticate("S0001", PASSWORD)) is (
            Reason.PRIVILEGES_DENIED
        )
        assert await refused(site_b.async_find_by_card("C-S0001")) is Reason.PRIVILEGES_DENIED
        patron = await site_b.async_get_patron("S0001")
        assert patron is not None
        assert patron.suspended
        # A fresh site (a building whose Home Assistant just started) refuses too.
        site_c = IlsPatronSystem(config_for(ils, error_detection=error_detection))
        try:
            assert await refused(site_c.async_find_by_card("C-S0001")) is (Reason.PRIVILEGES_DENIED)
        finally:
            await site_c.async_close()
        # Lifting a block is the ILS's business; then every site lets the patron in again.
        assert ils.unblock("S0001")
        assert not ils.unblock("S0001")
        assert (await site_b.async_authenticate("S0001", PASSWORD)).patron_id == "S0001"
        assert (await site_a.async_find_by_card("C-S0001")) is not None
    finally:
        await site_a.async_close()
        await site_b.async_close()
    # Every request carried AY/AZ (sequence numbers checked by the client), or none did.
    if error_detection:
        assert ils.checksummed == sum(ils.counts.values())
    else:
        assert ils.checksummed == 0


async def test_the_blocking_site_forgets_the_card_at_once(ils: Ils) -> None:
    system = IlsPatronSystem(config_for(ils))
    try:
        assert await system.async_find_by_card("C-S0001") is not None
        assert await system.async_find_by_card("C-S0001") is not None  # from the cache
        asked = ils.counts["63"]
        await system.async_block_patron("S0001", REASON)
        # The cached card is not trusted: the ILS is asked, and refuses.
        assert await refused(system.async_find_by_card("C-S0001")) is Reason.PRIVILEGES_DENIED
        assert ils.counts["63"] == asked + 2  # the check after the 01, and the tap
    finally:
        await system.async_close()


async def test_another_sites_card_cache_holds_a_blocked_card_at_most_a_minute(ils: Ils) -> None:
    clock = [1000.0]
    site_a = IlsPatronSystem(config_for(ils))
    site_b = IlsPatronSystem(config_for(ils), monotonic=lambda: clock[0])
    try:
        assert await site_b.async_find_by_card("C-S0001") is not None
        await site_a.async_block_patron("S0001", REASON)
        # Site B cannot know until it asks again: its cached answer stands until it expires.
        assert await site_b.async_find_by_card("C-S0001") is not None
        assert await refused(site_b.async_authenticate("S0001", PASSWORD)) is (
            Reason.PRIVILEGES_DENIED
        )
        clock[0] += adapter.CARD_CACHE_SECONDS + 1
        assert await refused(site_b.async_find_by_card("C-S0001")) is Reason.PRIVILEGES_DENIED
    finally:
        await site_a.async_close()
        await site_b.async_close()


@pytest.mark.parametrize(
    "flags",
    [
        [PATRON_STATUS_FLAGS[0]],
        ["card_reported_lost", "charge_privileges_denied", "excessive_outstanding_fees"],
    ],
)
async def test_a_block_refuses_wherever_charge_privileges_denied_refuses(
    ils: Ils, flags: list[str]
) -> None:
    site_a, site_b = two_sites(ils, refusing_flags=flags)
    try:
        await site_a.async_block_patron("A0001", REASON)
        assert await refused(site_b.async_authenticate("A0001", NON_ASCII_PASSWORD)) is (
            Reason.PRIVILEGES_DENIED
        )
    finally:
        await site_a.async_close()
        await site_b.async_close()


async def test_a_site_that_does_not_refuse_charge_privileges_denied_lets_a_blocked_patron_in(
    ils: Ils, caplog: pytest.LogCaptureFixture
) -> None:
    # The site's choice: documented, and the blocking site warns when it is its own.
    site_a, site_b = two_sites(ils, refusing_flags=["card_reported_lost"])
    try:
        await site_a.async_block_patron("S0001", REASON)
        assert "refusing flags do not refuse" in caplog.text
        assert (await site_b.async_authenticate("S0001", PASSWORD)).patron_id == "S0001"
    finally:
        await site_a.async_close()
        await site_b.async_close()


async def test_blocking_a_patron_already_flagged_keeps_the_flag_after_the_unblock(
    system: IlsPatronSystem, ils: Ils
) -> None:
    await system.async_block_patron("P0001", REASON)
    await system.async_block_patron("P0001", "again")  # a second block: one record
    assert ils.patrons["P0001"]["blocked"] == "again"
    assert ils.unblock("P0001")
    # Charge privileges were denied before the block, and still are.
    assert await refused(system.async_authenticate("P0001", PASSWORD)) is (Reason.PRIVILEGES_DENIED)


@pytest.mark.parametrize(
    "patron_id", ["NOBODY", "V0001", "", "   ", "S0001|AAP0001", "S0001\r01", "S" * 100]
)
async def test_blocking_an_unknown_patron_is_refused(
    system: IlsPatronSystem, ils: Ils, patron_id: str
) -> None:
    assert await refused(system.async_block_patron(patron_id, REASON)) is Reason.UNKNOWN_PATRON
    if patron_id.strip() in {"NOBODY", "V0001"}:
        assert ils.blocks == [(patron_id, REASON, False)]  # asked, and answered BL=N
        assert "63" not in ils.counts  # nothing to check after a BL=N
    else:
        assert "01" not in ils.counts  # never sent: nothing to inject, nobody to block
    # The session is fine.
    assert (await system.async_authenticate("S0001", PASSWORD)).patron_id == "S0001"


async def test_an_ils_without_block_patron_is_not_mistaken_for_success() -> None:
    # pysip2 with no handler for 01 answers its fallback: a 24 with BL=N.
    async with PySip2Ils(PATRONS) as server:
        del server.server._handlers["01"]
        system = IlsPatronSystem(config_for(server, login_user=None, login_password=None))
        try:
            assert await refused(system.async_block_patron("S0001", REASON)) is (
                Reason.UNKNOWN_PATRON
            )
            assert (await system.async_authenticate("S0001", PASSWORD)).patron_id == "S0001"
        finally:
            await system.async_close()


async def test_an_ils_that_does_not_keep_the_block_is_not_mistaken_for_success(
    system: IlsPatronSystem, ils: Ils, caplog: pytest.LogCaptureFixture
) -> None:
    # As Koha's SIP server: a 24 with the privileges denied, nothing stored.
    ils.keep_blocks = False
    assert await refused(system.async_block_patron("S0001", REASON)) is SIP2_PROTOCOL_ERROR
    assert "does not keep it" in caplog.text
    assert ils.counts["01"] == 1
    assert ils.counts["63"] == 1  # the check that found no block


async def test_a_block_when_the_ils_is_down_raises(kind: str) -> None:
    async with new_ils(kind) as server:
        port = server.port
    system = IlsPatronSystem(make_config(port))
    try:
        assert await refused(system.async_block_patron("S0001", REASON)) is (
            Reason.PATRON_SYSTEM_UNAVAILABLE
        )
    finally:
        await system.async_close()


async def test_a_block_when_the_ils_refuses_the_sip_login_raises(ils: Ils) -> None:
    system = IlsPatronSystem(config_for(ils, login_password="wrong"))
    try:
        assert await refused(system.async_block_patron("S0001", REASON)) is (
            Reason.PATRON_SYSTEM_UNAVAILABLE
        )
        assert system.login_rejected
    finally:
        await system.async_close()
    assert "01" not in ils.counts
    assert ils.blocks == []


@ours_only
@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ("truncated", SIP2_PROTOCOL_ERROR),
        ("garbage", SIP2_PROTOCOL_ERROR),
        ("huge", SIP2_PROTOCOL_ERROR),
        ("bad_checksum", SIP2_PROTOCOL_ERROR),
        ("request_checksum", SIP2_PROTOCOL_ERROR),
        ("silent", Reason.PATRON_SYSTEM_UNAVAILABLE),
        ("reset", Reason.PATRON_SYSTEM_UNAVAILABLE),
        ("drip", Reason.PATRON_SYSTEM_UNAVAILABLE),
    ],
)
async def test_a_block_the_ils_does_not_answer_properly_raises(
    system: IlsPatronSystem, ils: IlsServer, fault: str, reason: Reason
) -> None:
    await system.async_test()
    assert await system.async_find_by_card("C-S0001") is not None
    ils.fault = fault
    start = time.monotonic()
    assert await refused(system.async_block_patron("S0001", REASON)) is reason
    assert time.monotonic() - start < 2.5
    # The card is asked about again. A block whose answer was lost may still have been kept
    # (the caller, told it failed, asks again: a second block is harmless).
    ils.fault = None
    ils.counts.clear()
    if ils.blocks:
        assert await refused(system.async_find_by_card("C-S0001")) is Reason.PRIVILEGES_DENIED
    else:
        assert fault == "request_checksum"  # never read, so never kept
        assert await system.async_find_by_card("C-S0001") is not None
    assert ils.counts["63"] == 1


@pytest.mark.parametrize("fault", ["bad_checksum_once", "request_checksum_once", "drop"])
async def test_a_block_survives_a_line_error_or_a_dropped_connection(
    system: IlsPatronSystem, ils: Ils, fault: str
) -> None:
    await system.async_test()
    ils.fault = fault
    await system.async_block_patron("S0001", REASON)
    assert ils.counts["01"] == 1  # one 01 read: the resend replaced the damaged one
    assert ils.blocks == [("S0001", REASON, False)]
    if fault == "bad_checksum_once":
        assert ils.counts["97"] == 1
    assert await refused(system.async_authenticate("S0001", PASSWORD)) is (Reason.PRIVILEGES_DENIED)


@pytest.mark.parametrize(
    ("reason", "sent"),
    [
        ("Door|AAP0001|", "Door AAP0001"),  # no field injection
        ("line one\r\nline two\x00", "line one line two"),
        ("tab\tand\u202emirror\x1b[2J", "tab and mirror [2J"),
        ("  ", adapter.DEFAULT_BLOCK_MESSAGE),
        ("", adapter.DEFAULT_BLOCK_MESSAGE),
        ("x" * 500, "x" * BLOCK_MESSAGE_LENGTH),
        ("Åse Ødegård, blåbær", "Åse Ødegård, blåbær"),  # in every character set
    ],
)
async def test_the_reason_is_sanitised_and_bounded(
    system: IlsPatronSystem, ils: Ils, reason: str, sent: str
) -> None:
    await system.async_block_patron("S0001", reason)
    assert ils.blocks == [("S0001", sent, False)]
    assert len(ils.blocks[0][1]) <= BLOCK_MESSAGE_LENGTH


@pytest.mark.parametrize("ils_encoding", SIP2_ENCODINGS)
async def test_the_reason_in_the_sites_character_set(ils: Ils, ils_encoding: str) -> None:
    system = IlsPatronSystem(config_for(ils, encoding=ils_encoding))
    try:
        await system.async_block_patron("A0001", "王小明 found Åse's card")
    finally:
        await system.async_close()
    expected = "王小明" if ils_encoding == "utf-8" else "???"
    assert ils.blocks == [("A0001", f"{expected} found Åse's card", False)]


def test_block_message() -> None:
    assert adapter.block_message("a | b") == "a b"
    assert adapter.block_message("x" * 59 + " y") == "x" * 59
    assert adapter.block_message("密碼", "latin-1") == "??"
    assert adapter.block_message(None) == adapter.DEFAULT_BLOCK_MESSAGE  # type: ignore[arg-type]
    assert {0, 4} == BLOCK_FLAGS
    assert make_config(1).refusing_flags >= BLOCK_FLAGS


@ours_only
async def test_block_logs_no_secret_and_no_whole_id(
    system: IlsPatronSystem, ils: IlsServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await system.async_block_patron("S0001", REASON)
    ils.fault = "garbage"
    with pytest.raises(Refused):
        await system.async_block_patron("S0001", REASON)
    ils.fault = None
    with pytest.raises(Refused):
        await system.async_block_patron("NOBODY", REASON)
    assert caplog.records
    for forbidden in (LOGIN_PASSWORD, "S0001", "NOBODY"):
        assert forbidden not in caplog.text
