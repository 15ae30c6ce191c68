"""The embedded patron directory: logins, staff operations, the Store."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
import json
import statistics
import time
from typing import Any

import bcrypt
import pytest

from custom_components.ntnu_library.auth import PatronSystem
from custom_components.ntnu_library.auth.credentials import hash_password, valid_hash
from custom_components.ntnu_library.auth.local import LocalDirectory
from custom_components.ntnu_library.core.errors import Reason, Refused
from custom_components.ntnu_library.core.identity import normalize_card, normalize_name
from custom_components.ntnu_library.core.login_queue import Lane, LoginQueue, QueueLimits
from custom_components.ntnu_library.core.model import Patron
from custom_components.ntnu_library.core.password_rules import PASSWORD_REASONS

PASSWORD = "ntnu-demo"
ROUNDS = 4  # bcrypt's minimum: the tests check behaviour, not cost


async def run_now(func: Callable[..., Any], *args: Any) -> Any:
    """Stand in for hass.async_add_executor_job, in the loop (bcrypt at 4 rounds is ~1 ms)."""
    return func(*args)


class Changes:
    """A commit that applies at once and counts the changes it would write.

    The run time's commit (the library's transaction) writes the Store when a change changed
    the directory; a change that raises changes nothing.
    """

    def __init__(self) -> None:
        self.count = 0

    async def __call__[T](self, state: LocalDirectory, apply: Callable[[], T]) -> T:
        before = state.snapshot()
        try:
            result = apply()
        except BaseException:
            state.restore(before)
            raise
        if state.snapshot() != before:
            self.count += 1
        return result


async def add_with_hash(
    directory: LocalDirectory, patron_id: str, password_hash: str | bytes, **fields: Any
) -> None:
    """A patron whose bcrypt hash was made elsewhere (the demo's patrons share one)."""
    if isinstance(password_hash, bytes):
        password_hash = password_hash.decode("ascii", "replace")
    record = {"patron_id": patron_id, "name": "Patron", "category": "alumni"} | fields
    await directory.async_import([record | {"password_hash": password_hash}])


@pytest.fixture
def changes() -> Changes:
    return Changes()


@pytest.fixture
def directory(changes: Changes) -> LocalDirectory:
    return LocalDirectory(run_blocking=run_now, commit=changes, rounds=ROUNDS)


@pytest.fixture
async def with_patrons(directory: LocalDirectory, changes: Changes) -> LocalDirectory:
    await directory.async_add_patron(
        "S0001", name="王小明", category="student_undergraduate", password=PASSWORD,
        membership_expires=date(2029, 8, 31), card="C-S0001",
    )  # fmt: skip
    await directory.async_add_patron(
        "G0001", name="陳怡君", category="student_master", password="another-secret",
        card="C-G0001",
    )  # fmt: skip
    changes.count = 0
    return directory


@pytest.fixture
def checkpw_calls(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Record the hash every bcrypt.checkpw call compares against."""
    calls: list[bytes] = []
    real = bcrypt.checkpw

    def counting(password: bytes, hashed: bytes) -> bool:
        calls.append(hashed)
        return real(password, hashed)

    monkeypatch.setattr(bcrypt, "checkpw", counting)
    return calls


async def refused(coro: Any) -> Refused:
    with pytest.raises(Refused) as err:
        await coro
    return err.value


# --- login -------------------------------------------------------------------------------------------


async def test_right_password(with_patrons: LocalDirectory) -> None:
    patron = await with_patrons.async_authenticate("S0001", PASSWORD)
    assert patron == Patron(
        patron_id="S0001", name="王小明", category="student_undergraduate",
        membership_expires=date(2029, 8, 31), card="C-S0001",
    )  # fmt: skip


async def test_the_id_however_it_is_typed(with_patrons: LocalDirectory) -> None:
    for typed in (" s0001 ", "S0001", "ｓ０００１"):
        assert (await with_patrons.async_authenticate(typed, PASSWORD)).patron_id == "S0001"


async def test_wrong_password_and_unknown_id_get_the_same_answer(
    with_patrons: LocalDirectory,
) -> None:
    wrong = await refused(with_patrons.async_authenticate("S0001", "ntnu-demo "))
    unknown = await refused(with_patrons.async_authenticate("S9999", PASSWORD))
    others_password = await refused(with_patrons.async_authenticate("S0001", "another-secret"))
    for err in (wrong, unknown, others_password):
        assert err.reason is Reason.INVALID_CREDENTIALS
        assert err.placeholders == {}
        assert str(err) == "invalid_credentials"


@pytest.mark.parametrize(
    ("patron_id", "password"),
    [
        ("S0001", "wrong"),  # known ID, wrong password
        ("S9999", PASSWORD),  # unknown ID
        ("", PASSWORD),  # nothing typed
        ("S0001/../x" * 10, PASSWORD),  # not even a valid ID
        ("S0001", ""),  # empty password
        ("S0001", PASSWORD + "x" * 100),  # longer than bcrypt reads
        ("S0001", "\ud800"),  # cannot be encoded
    ],
)
async def test_every_failure_checks_exactly_one_hash(
    with_patrons: LocalDirectory, checkpw_calls: list[bytes], patron_id: str, password: str
) -> None:
    err = await refused(with_patrons.async_authenticate(patron_id, password))
    assert err.reason is Reason.INVALID_CREDENTIALS
    assert len(checkpw_calls) == 1


async def test_an_unknown_id_is_checked_against_a_dummy_hash_of_the_same_cost(
    with_patrons: LocalDirectory, checkpw_calls: list[bytes]
) -> None:
    await refused(with_patrons.async_authenticate("S9999", PASSWORD))
    await refused(with_patrons.async_authenticate("S0001", "wrong"))
    dummy, real = checkpw_calls
    assert dummy == with_patrons.dummy_hash.encode()
    assert dummy != real
    assert dummy[:7] == real[:7] == b"$2b$04$"  # same algorithm and cost: same time


def test_the_dummy_hash_cost_follows_the_stored_hashes(changes: Changes) -> None:
    empty = LocalDirectory(run_blocking=run_now, commit=changes)
    assert empty.dummy_hash.startswith("$2b$12$")
    assert len(empty.dummy_hash) == 60


async def test_a_patron_without_a_password_cannot_log_in(
    directory: LocalDirectory, checkpw_calls: list[bytes]
) -> None:
    await directory.async_add_patron("A0001", name="楊淑惠", category="alumni")
    err = await refused(directory.async_authenticate("A0001", ""))
    assert err.reason is Reason.INVALID_CREDENTIALS
    err = await refused(directory.async_authenticate("A0001", "anything"))
    assert err.reason is Reason.INVALID_CREDENTIALS
    # The first is checked against the dummy hash (and timed); the second only takes as long.
    assert checkpw_calls == [directory.dummy_hash.encode()]


async def test_nothing_to_check_hands_the_slot_back_and_takes_as_long_as_a_check(
    with_patrons: LocalDirectory, checkpw_calls: list[bytes]
) -> None:
    """An unknown ID, once a real check was timed: no hash, no slot, the same time."""
    queue = LoginQueue(QueueLimits(slots=1))
    await refused(with_patrons.async_authenticate("S0001", "wrong"))  # a real check, timed
    assert len(checkpw_calls) == 1

    async def unknown() -> None:
        async with queue.slot("web:10.0.0.1", "K:1", Lane.CLEAN):
            await refused(with_patrons.async_authenticate("S9999", PASSWORD))

    async def real() -> Patron:
        async with queue.slot("web:10.0.0.2", "K:2", Lane.CLEAN):
            return await with_patrons.async_authenticate("S0001", PASSWORD)

    first = asyncio.create_task(unknown())
    await asyncio.sleep(0)  # it runs up to its wait, with its slot handed back
    assert not first.done()
    # The one slot is free: the real patron is checked while the unknown ID still waits.
    assert (await real()).patron_id == "S0001"
    assert not first.done()
    await first
    assert len(checkpw_calls) == 2  # the real patron's only


async def test_the_time_taken_does_not_tell_whether_the_id_exists(changes: Changes) -> None:
    directory = LocalDirectory(run_blocking=run_now, commit=changes, rounds=8)
    # Home Assistant's test plugin pins bcrypt.gensalt at 4 rounds: build an 8-round hash.
    salt = b"$2b$08$" + bcrypt.gensalt()[7:]
    await add_with_hash(
        directory, "S0001", bcrypt.hashpw(PASSWORD.encode(), salt), name="王小明",
        category="student_undergraduate",
    )  # fmt: skip

    async def timed(patron_id: str) -> float:
        start = time.perf_counter()
        with pytest.raises(Refused):
            await directory.async_authenticate(patron_id, "wrong password")
        return time.perf_counter() - start

    known = statistics.median([await timed("S0001") for _ in range(7)])
    unknown = statistics.median([await timed("S9999") for _ in range(7)])
    assert 0.5 < unknown / known < 2.0


async def test_suspended_or_expired_patrons_authenticate(directory: LocalDirectory) -> None:
    """Authentication says who it is; the room rules refuse an expired or suspended member."""
    await directory.async_add_patron(
        "E0001", name="張家豪", category="student_undergraduate", password=PASSWORD,
        membership_expires=date(2020, 1, 1), suspended=True,
    )  # fmt: skip
    patron = await directory.async_authenticate("E0001", PASSWORD)
    assert patron.suspended
    assert not patron.membership_valid(date(2025, 1, 1))


async def test_passwords_are_compared_after_unicode_normalisation(
    directory: LocalDirectory,
) -> None:
    await directory.async_add_patron(
        "S0002", name="林", category="student_undergraduate", password="ｎｔｎｕ２０２５"
    )
    assert await directory.async_authenticate("S0002", "ntnu2025")


async def test_bcrypt_runs_in_the_executor(changes: Changes) -> None:
    """The runtime passes hass.async_add_executor_job; bcrypt never runs in the event loop."""
    loop = asyncio.get_running_loop()
    executor = ThreadPoolExecutor(max_workers=1)
    threads: list[str] = []

    async def in_executor(func: Callable[..., Any], *args: Any) -> Any:
        def call() -> Any:
            import threading

            threads.append(threading.current_thread().name)
            return func(*args)

        return await loop.run_in_executor(executor, call)

    try:
        directory = LocalDirectory(run_blocking=in_executor, commit=changes, rounds=ROUNDS)
        await directory.async_add_patron(
            "S0001", name="王小明", category="student_undergraduate", password=PASSWORD
        )
        await refused(directory.async_authenticate("S9999", PASSWORD))
        await directory.async_authenticate("S0001", PASSWORD)
        await refused(directory.async_authenticate("S9999", PASSWORD))
    finally:
        executor.shutdown(wait=True)
    # One hash, the dummy check (nothing timed yet) and the real check; the unknown ID after
    # that only waits as long.
    assert len(threads) == 3
    assert all(name != "MainThread" for name in threads)


async def test_a_patron_removed_during_the_check_is_not_let_in(
    with_patrons: LocalDirectory,
) -> None:
    async def remove_meanwhile(func: Callable[..., Any], *args: Any) -> Any:
        await with_patrons.async_remove_patron("S0001")
        return func(*args)

    with_patrons.run_blocking = remove_meanwhile
    err = await refused(with_patrons.async_authenticate("S0001", PASSWORD))
    assert err.reason is Reason.INVALID_CREDENTIALS


async def test_a_password_changed_during_the_check_is_not_accepted(
    with_patrons: LocalDirectory,
) -> None:
    async def change_meanwhile(func: Callable[..., Any], *args: Any) -> Any:
        # Staff reset the password meanwhile: the old one no longer works.
        await with_patrons.async_issue_activation("S0001", datetime.now().astimezone())
        return func(*args)

    with_patrons.run_blocking = change_meanwhile
    err = await refused(with_patrons.async_authenticate("S0001", PASSWORD))
    assert err.reason is Reason.INVALID_CREDENTIALS


# --- the password never leaves -------------------------------------------------------------------------


async def test_the_password_is_never_stored(with_patrons: LocalDirectory) -> None:
    data = with_patrons.as_dict()
    dumped = json.dumps(data, ensure_ascii=False)
    assert PASSWORD not in dumped
    assert "another-secret" not in dumped
    for record in data["patrons"]:
        assert record["password_hash"].startswith("$2b$04$")
        assert len(record["password_hash"]) == 60
        assert PASSWORD not in record["password_hash"]
    hashes = [record["password_hash"] for record in data["patrons"]]
    assert len(set(hashes)) == 2  # salted
    assert PASSWORD not in repr(with_patrons.__dict__)
    assert "$2b$" not in repr(list(with_patrons.patrons()))
    assert "$2b$" not in repr(with_patrons._entries)


async def test_a_refused_password_is_not_echoed(directory: LocalDirectory) -> None:
    secret = "x" * 100
    err = await refused(
        directory.async_add_patron("S0001", name="王", category="alumni", password=secret)
    )
    assert err.reason is Reason.PASSWORD_TOO_LONG
    assert err.placeholders == {}
    assert secret not in repr(err)


def test_hash_password() -> None:
    hashed = hash_password(PASSWORD, ROUNDS)
    assert hashed != PASSWORD
    assert PASSWORD not in hashed
    assert bcrypt.checkpw(PASSWORD.encode(), hashed.encode())
    with pytest.raises(Refused):
        hash_password("")


# --- lookups ----------------------------------------------------------------------------------------


async def test_get_patron(with_patrons: LocalDirectory) -> None:
    assert (await with_patrons.async_get_patron(" s0001")).name == "王小明"  # type: ignore[union-attr]
    assert await with_patrons.async_get_patron("S9999") is None


async def test_find_by_card(with_patrons: LocalDirectory) -> None:
    for typed in ("C-S0001", " c-s0001 ", "Ｃ－Ｓ０００１"):
        found = await with_patrons.async_find_by_card(typed)
        assert found is not None
        assert found.patron_id == "S0001"
    assert await with_patrons.async_find_by_card("C-X9999") is None
    assert await with_patrons.async_find_by_card("") is None


async def test_find_by_name(with_patrons: LocalDirectory) -> None:
    await with_patrons.async_add_patron("A0001", name="王小明", category="alumni")
    await with_patrons.async_add_patron("V0001", name="Anna Schmidt", category="professor_visiting")
    assert [p.patron_id for p in await with_patrons.async_find_by_name("王 小明")] == [
        "A0001",
        "S0001",
    ]
    assert [p.patron_id for p in await with_patrons.async_find_by_name("anna  SCHMIDT")] == [
        "V0001"
    ]
    assert await with_patrons.async_find_by_name("王") == []
    assert await with_patrons.async_find_by_name("  ") == []


def test_normalisers() -> None:
    assert normalize_card(" c-s0001 ") == "C-S0001"
    assert normalize_name(" Anna\u3000Schmidt ") == "annaschmidt"


async def test_patrons_are_listed_by_id_without_hashes(with_patrons: LocalDirectory) -> None:
    listed = list(with_patrons.patrons())
    assert [p.patron_id for p in listed] == ["G0001", "S0001"]
    assert all(isinstance(p, Patron) for p in listed)
    assert len(with_patrons) == with_patrons.count() == 2


def test_it_is_a_patron_system(directory: LocalDirectory) -> None:
    system: PatronSystem = directory
    assert system is directory


# --- staff: add ---------------------------------------------------------------------------------------


async def test_add_patron(directory: LocalDirectory, changes: Changes) -> None:
    patron = await directory.async_add_patron(
        " d0001 ", name=" 林志豪 ", category="student_doctoral", password=PASSWORD,
        membership_expires=date(2032, 8, 31), card=" c-d0001 ",
    )  # fmt: skip
    assert patron == Patron(
        patron_id="D0001", name="林志豪", category="student_doctoral",
        membership_expires=date(2032, 8, 31), card="C-D0001",
    )  # fmt: skip
    assert changes.count == 1
    assert await directory.async_authenticate("D0001", PASSWORD) == patron


async def test_a_blank_card_is_no_card(directory: LocalDirectory) -> None:
    patron = await directory.async_add_patron("A0001", name="楊", category="alumni", card="  ")
    assert patron.card is None


VALID: dict[str, Any] = {
    "patron_id": "S0002",
    "name": "李美玲",
    "category": "faculty_full_time",
    "password": PASSWORD,
    "membership_expires": None,
    "suspended": False,
    "card": "C-S0002",
}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"patron_id": ""}, "patron_id"),
        ({"patron_id": "   "}, "patron_id"),
        ({"patron_id": "S" * 33}, "patron_id"),
        ({"patron_id": "S 0002"}, "patron_id"),
        ({"patron_id": "S/0002"}, "patron_id"),
        ({"patron_id": "S0002<script>"}, "patron_id"),
        ({"patron_id": "王小明"}, "patron_id"),
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "王\n小明"}, "name"),
        ({"name": "王" * 201}, "name"),
        ({"category": "wizard"}, "category"),
        ({"category": "Alumni"}, "category"),
        ({"password": 12345678}, "password"),  # not text: no password at all
        ({"password": "\ud800" * 8}, "password"),  # cannot be encoded
        ({"membership_expires": "2029-08-31"}, "membership_expires"),
        ({"membership_expires": datetime(2029, 8, 31)}, "membership_expires"),
        ({"suspended": "no"}, "suspended"),
        ({"card": "C S0002"}, "card"),
        ({"card": "C" * 65}, "card"),
        ({"card": "c-s0001"}, "card"),  # S0001's card, typed differently
    ],
)
async def test_add_refusals(
    with_patrons: LocalDirectory, changes: Changes, change: dict[str, Any], field: str
) -> None:
    before = with_patrons.as_dict()
    err = await refused(with_patrons.async_add_patron(**{**VALID, **change}))
    assert err.reason is Reason.INVALID_VALUE
    assert err.placeholders["field"] == field
    assert with_patrons.as_dict() == before
    assert changes.count == 0


async def test_an_id_is_added_once(with_patrons: LocalDirectory, changes: Changes) -> None:
    for typed in ("S0001", " s0001", "ｓ０００１"):
        err = await refused(with_patrons.async_add_patron(**{**VALID, "patron_id": typed}))
        assert err.reason is Reason.PATRON_EXISTS
    assert changes.count == 0


async def test_two_adds_racing_for_one_id(directory: LocalDirectory) -> None:
    async def slow(func: Callable[..., Any], *args: Any) -> Any:
        await asyncio.sleep(0)
        return func(*args)

    directory.run_blocking = slow
    results = await asyncio.gather(
        directory.async_add_patron(**VALID),
        directory.async_add_patron(**{**VALID, "name": "Someone else"}),
        return_exceptions=True,
    )
    assert isinstance(results[0], Patron)
    assert isinstance(results[1], Refused)
    assert results[1].reason is Reason.PATRON_EXISTS
    assert len(directory) == 1


async def test_two_adds_racing_for_one_card(directory: LocalDirectory) -> None:
    async def slow(func: Callable[..., Any], *args: Any) -> Any:
        await asyncio.sleep(0)
        return func(*args)

    directory.run_blocking = slow
    results = await asyncio.gather(
        directory.async_add_patron(**VALID),
        directory.async_add_patron(**{**VALID, "patron_id": "S0003"}),
        return_exceptions=True,
    )
    assert isinstance(results[1], Refused)
    assert results[1].placeholders == {"field": "card"}
    assert len(directory) == 1


# --- staff: update, remove, set hash --------------------------------------------------------------


async def test_update_every_field(with_patrons: LocalDirectory, changes: Changes) -> None:
    patron = await with_patrons.async_update_patron(
        "s0001", name="王大明", category="alumni", membership_expires=None, suspended=True,
        card="C-NEW", password="new-password",
    )  # fmt: skip
    assert patron == Patron(
        patron_id="S0001", name="王大明", category="alumni", membership_expires=None,
        suspended=True, card="C-NEW",
    )  # fmt: skip
    assert changes.count == 1
    assert await with_patrons.async_find_by_card("C-S0001") is None
    assert await with_patrons.async_find_by_card("C-NEW") == patron
    await refused(with_patrons.async_authenticate("S0001", PASSWORD))
    assert await with_patrons.async_authenticate("S0001", "new-password") == patron


async def test_update_only_what_is_given(with_patrons: LocalDirectory) -> None:
    after = await with_patrons.async_update_patron("S0001", suspended=True)
    assert after == Patron(
        patron_id="S0001", name="王小明", category="student_undergraduate",
        membership_expires=date(2029, 8, 31), suspended=True, card="C-S0001",
    )  # fmt: skip
    assert await with_patrons.async_authenticate("S0001", PASSWORD) == after


async def test_a_card_moves_from_one_patron_to_another(with_patrons: LocalDirectory) -> None:
    err = await refused(with_patrons.async_update_patron("G0001", card="C-S0001"))
    assert err.placeholders == {"field": "card"}
    await with_patrons.async_update_patron("S0001", card=None)
    await with_patrons.async_update_patron("G0001", card="c-s0001")
    found = await with_patrons.async_find_by_card("C-S0001")
    assert found is not None
    assert found.patron_id == "G0001"
    assert await with_patrons.async_find_by_card("C-G0001") is None


async def test_keeping_ones_own_card_is_no_conflict(with_patrons: LocalDirectory) -> None:
    assert (await with_patrons.async_update_patron("S0001", card=" c-s0001")).card == "C-S0001"


async def test_password_none_locks_the_login(with_patrons: LocalDirectory) -> None:
    await with_patrons.async_update_patron("S0001", password=None)
    await refused(with_patrons.async_authenticate("S0001", PASSWORD))
    assert with_patrons.as_dict()["patrons"][1]["password_hash"] is None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": ""}, "name"),
        ({"category": "wizard"}, "category"),
        ({"membership_expires": "tomorrow"}, "membership_expires"),
        ({"suspended": 1}, "suspended"),
        ({"card": "C-G0001"}, "card"),
        ({"card": "C/1"}, "card"),
        ({"password": b"new-password"}, "password"),
        ({"name": "OK", "category": "wizard"}, "category"),  # all or nothing
    ],
)
async def test_update_refusals(
    with_patrons: LocalDirectory, changes: Changes, change: dict[str, Any], field: str
) -> None:
    before = with_patrons.as_dict()
    err = await refused(with_patrons.async_update_patron("S0001", **change))
    assert err.reason is Reason.INVALID_VALUE
    assert err.placeholders["field"] == field
    assert with_patrons.as_dict() == before
    assert changes.count == 0


async def test_unknown_patrons(with_patrons: LocalDirectory, changes: Changes) -> None:
    for call in (
        with_patrons.async_update_patron("S9999", name="x"),
        with_patrons.async_remove_patron("S9999"),
        with_patrons.async_issue_activation("S9999", datetime.now().astimezone()),
    ):
        err = await refused(call)
        assert err.reason is Reason.UNKNOWN_PATRON
        assert "S9999" not in repr(err)  # masked
    assert changes.count == 0


async def test_update_of_a_patron_removed_meanwhile(with_patrons: LocalDirectory) -> None:
    async def remove_meanwhile(func: Callable[..., Any], *args: Any) -> Any:
        await with_patrons.async_remove_patron("S0001")
        return func(*args)

    with_patrons.run_blocking = remove_meanwhile
    err = await refused(with_patrons.async_update_patron("S0001", password="new-password"))
    assert err.reason is Reason.UNKNOWN_PATRON


async def test_remove_patron(with_patrons: LocalDirectory, changes: Changes) -> None:
    removed = await with_patrons.async_remove_patron(" s0001")
    assert removed.patron_id == "S0001"
    assert changes.count == 1
    assert await with_patrons.async_get_patron("S0001") is None
    assert await with_patrons.async_find_by_card("C-S0001") is None
    err = await refused(with_patrons.async_authenticate("S0001", PASSWORD))
    assert err.reason is Reason.INVALID_CREDENTIALS
    # The ID and the card are free again.
    await with_patrons.async_add_patron(**{**VALID, "patron_id": "S0001", "card": "C-S0001"})


async def test_one_precomputed_hash_for_many_patrons(
    directory: LocalDirectory, changes: Changes
) -> None:
    """Demo data: 25 patrons with the same password cost one bcrypt hash, and one write."""
    shared = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(ROUNDS)).decode()
    records = [
        {"patron_id": f"P{n:04d}", "name": f"Patron {n}", "category": "alumni"}
        | {"password_hash": shared}
        for n in range(25)
    ]
    assert await directory.async_import(records) == 25
    assert changes.count == 1
    for n in (0, 24):
        assert (await directory.async_authenticate(f"P{n:04d}", PASSWORD)).patron_id == (
            f"P{n:04d}"
        )
    # All or none: one record that cannot be taken leaves the others out too.
    err = await refused(directory.async_import([records[0] | {"patron_id": "P9999"}, records[0]]))
    assert err.reason is Reason.PATRON_EXISTS
    assert await directory.async_get_patron("P9999") is None
    assert changes.count == 1


@pytest.mark.parametrize(
    "bad_hash",
    [
        "",
        PASSWORD,
        "$2b$12$short",
        "$2b$03$CiuFGszHx9eNHxPuQcwBWez4CwDTOcLTX5CbOpV6gef2nYuXkY7BO",  # cost below bcrypt's
        "$2x$12$CiuFGszHx9eNHxPuQcwBWez4CwDTOcLTX5CbOpV6gef2nYuXkY7BO",  # unknown variant
        "$2b$12$ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ",  # impossible salt
        "$2b$12$CiuFGszHx9eNHxPuQcwBWez4CwDTOcLTX5CbOpV6gef2nYuXkY7BO\n",
        b"\xff" * 60,
    ],
)
async def test_a_malformed_hash_is_refused(
    with_patrons: LocalDirectory, bad_hash: str | bytes
) -> None:
    """The Rust core of bcrypt panics on some malformed hashes: none may be stored."""
    err = await refused(add_with_hash(with_patrons, "S0002", bad_hash))
    assert err.placeholders == {"field": "password_hash"}
    assert await with_patrons.async_get_patron("S0002") is None
    assert await with_patrons.async_authenticate("S0001", PASSWORD)


def test_every_hash_bcrypt_makes_is_accepted() -> None:
    for _ in range(200):
        hashed = bcrypt.hashpw(b"x", bcrypt.gensalt(ROUNDS)).decode()
        assert valid_hash(hashed) == hashed


# --- the password a patron chooses ---------------------------------------------------------------


NOW = datetime(2026, 3, 1, 9, 0).astimezone()
GOOD = "lantern on the desk"


@pytest.fixture
async def code(with_patrons: LocalDirectory, changes: Changes) -> str:
    """王小明 (S0001) forgot the password: staff issued a code to choose another."""
    issued = await with_patrons.async_issue_activation("S0001", NOW)
    changes.count = 0
    return issued


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("12345678", Reason.PASSWORD_TOO_COMMON),
        ("password", Reason.PASSWORD_TOO_COMMON),
        ("qwertyuiop", Reason.PASSWORD_TOO_COMMON),
        ("PassWord1", Reason.PASSWORD_TOO_COMMON),  # in any case
        ("１２３４５６７８", Reason.PASSWORD_TOO_COMMON),  # full-width: bcrypt sees 12345678
        ("S0001abcd", Reason.PASSWORD_CONTAINS_ID),
        ("my card says s0001", Reason.PASSWORD_CONTAINS_ID),
        ("ｓ０００１ and more", Reason.PASSWORD_CONTAINS_ID),
        ("小明的秘密花園在這裡", Reason.PASSWORD_CONTAINS_NAME),  # the given name
        ("王小 forever and ever", Reason.PASSWORD_CONTAINS_NAME),  # surname and first
        ("short", Reason.PASSWORD_TOO_SHORT),
        ("", Reason.PASSWORD_TOO_SHORT),
        ("密" * 25, Reason.PASSWORD_TOO_LONG),  # 75 bytes in UTF-8: more than bcrypt reads
        ("aaaaaaaaaaaa", Reason.PASSWORD_TOO_GUESSABLE),
        ("98765432", Reason.PASSWORD_TOO_GUESSABLE),
        ("abc123abc123", Reason.PASSWORD_TOO_GUESSABLE),
    ],
)
async def test_activation_refuses_a_weak_password(
    with_patrons: LocalDirectory,
    changes: Changes,
    code: str,
    password: str,
    reason: Reason,
) -> None:
    """Each rule its own reason; nothing changes and the code still sets a good password."""
    before = with_patrons.as_dict()
    err = await refused(with_patrons.async_activate("S0001", code, password, NOW))
    assert err.reason is reason
    assert reason in PASSWORD_REASONS
    assert err.placeholders == {}
    assert err.args == (reason.value,)  # the password is nowhere in it
    assert with_patrons.as_dict() == before
    assert changes.count == 0
    await with_patrons.async_activate("S0001", code, GOOD, NOW)
    assert (await with_patrons.async_authenticate("S0001", GOOD)).patron_id == "S0001"


async def test_activation_refuses_the_code_in_the_password(
    with_patrons: LocalDirectory, code: str
) -> None:
    """Staff have seen the code: the code, or half of it, is no secret."""
    plain = code.replace("-", "")
    for password in (code, plain.lower() + "!", f"{code[:9]} and a tree", f"x{plain[4:12]}-river"):
        err = await refused(with_patrons.async_activate("S0001", code, password, NOW))
        assert err.reason is Reason.PASSWORD_CONTAINS_CODE
    await with_patrons.async_activate("S0001", code, GOOD, NOW)


@pytest.mark.parametrize(
    ("name", "password"),
    [
        ("Anna Schmidt", "Schmidt-garden-9"),
        ("Anna Schmidt", "anna in the rain"),
        ("Anna Schmidt", "ANNASCHMIDT 1987"),
        ("Li Na", "lina river boat"),  # short words: the whole name counts
        ("歐陽娜娜", "歐陽 and the sea"),  # a two-character surname
    ],
)
async def test_activation_refuses_the_name_in_the_password(
    directory: LocalDirectory, name: str, password: str
) -> None:
    await directory.async_add_patron("V0001", name=name, category="professor_visiting")
    code = await directory.async_issue_activation("V0001", NOW)
    err = await refused(directory.async_activate("V0001", code, password, NOW))
    assert err.reason is Reason.PASSWORD_CONTAINS_NAME
    await directory.async_activate("V0001", code, "correct horse battery staple", NOW)


@pytest.mark.parametrize(
    ("patron_id", "given"),
    [
        ("S0001", "AAAA-BBBB-CCCC-DDDD"),  # a wrong code
        ("S9999", None),  # an unknown ID with S0001's code
        ("G0001", None),  # another patron, no code of their own
    ],
)
async def test_the_rules_speak_only_after_the_code_matched(
    with_patrons: LocalDirectory, code: str, patron_id: str, given: str | None
) -> None:
    """A weak password with a wrong code or ID gets the one answer, with no work done.

    Nothing runs in the executor (neither the rules nor bcrypt), so neither the answer nor
    the time taken tells whether the ID exists or what the rules think.
    """
    jobs: list[object] = []

    async def counting(func: Callable[..., Any], *args: Any) -> Any:
        jobs.append(func)
        return func(*args)

    with_patrons.run_blocking = counting
    for password in ("12345678", "S0001abcd", "short", GOOD):
        err = await refused(with_patrons.async_activate(patron_id, given or code, password, NOW))
        assert err.reason is Reason.INVALID_CREDENTIALS
        assert err.placeholders == {}
    later = NOW + timedelta(days=15)  # the code has expired
    expired = await refused(with_patrons.async_activate("S0001", code, "12345678", later))
    assert expired.reason is Reason.INVALID_CREDENTIALS
    assert jobs == []


async def test_a_good_passphrase_is_taken(with_patrons: LocalDirectory, code: str) -> None:
    """No composition rules: words in any language, spaces and all."""
    chosen = "月光下的貓咪散步去"
    patron = await with_patrons.async_activate("S0001", code, chosen, NOW)
    assert patron.patron_id == "S0001"
    assert await with_patrons.async_authenticate("S0001", chosen) == patron


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"password": ""}, Reason.PASSWORD_TOO_SHORT),
        ({"password": "x" * 73}, Reason.PASSWORD_TOO_LONG),
        ({"password": "12345678"}, Reason.PASSWORD_TOO_COMMON),
        ({"password": "S0001 forever"}, Reason.PASSWORD_CONTAINS_ID),
        ({"password": "王小明的密碼很安全"}, Reason.PASSWORD_CONTAINS_NAME),
        # Judged with the name it goes with: the new one.
        ({"name": "Anna Schmidt", "password": "schmidt and sons"}, Reason.PASSWORD_CONTAINS_NAME),
    ],
)
async def test_staff_set_passwords_by_the_same_rules(
    with_patrons: LocalDirectory, changes: Changes, change: dict[str, Any], reason: Reason
) -> None:
    """add_patron and update_patron take no password from staff's services; their own rules."""
    before = with_patrons.as_dict()
    err = await refused(with_patrons.async_update_patron("S0001", **change))
    assert err.reason is reason
    assert with_patrons.as_dict() == before
    empty = LocalDirectory(run_blocking=run_now, commit=changes, rounds=ROUNDS)
    added = {"name": "王小明", "category": "alumni"} | change
    err = await refused(empty.async_add_patron("S0001", **added))
    assert err.reason is reason
    assert len(empty) == 0
    assert changes.count == 0


# --- the Store ----------------------------------------------------------------------------------------


async def test_as_dict_round_trip(with_patrons: LocalDirectory, changes: Changes) -> None:
    await with_patrons.async_add_patron("A0001", name="楊淑惠", category="alumni", suspended=True)
    data = json.loads(json.dumps(with_patrons.as_dict()))
    assert data["patrons"][1] == {
        "patron_id": "G0001",
        "name": "陳怡君",
        "category": "student_master",
        "membership_expires": None,
        "suspended": False,
        "card": "C-G0001",
        "password_hash": data["patrons"][1]["password_hash"],
        "activation": None,
    }
    assert data["patrons"][2]["membership_expires"] == "2029-08-31"
    assert data["patrons"][0]["password_hash"] is None
    restored = LocalDirectory.from_dict(data, run_blocking=run_now, commit=changes)
    assert list(restored.patrons()) == list(with_patrons.patrons())
    assert restored.as_dict() == data
    assert (await restored.async_authenticate("S0001", PASSWORD)).card == "C-S0001"
    # A pending activation is kept as a digest, never the code, and still works restored.
    now = datetime.now().astimezone()
    code = await with_patrons.async_issue_activation("A0001", now)
    data = json.loads(json.dumps(with_patrons.as_dict()))
    assert data["patrons"][0]["activation"] is not None
    assert code not in json.dumps(data)
    assert code.replace("-", "") not in json.dumps(data)
    restored = LocalDirectory.from_dict(data, run_blocking=run_now, commit=changes)
    assert restored.as_dict() == data
    await restored.async_activate("A0001", code, "new-secret-1", now)
    assert (await restored.async_authenticate("A0001", "new-secret-1")).patron_id == "A0001"
    assert (await restored.async_find_by_card("C-G0001")).patron_id == "G0001"  # type: ignore[union-attr]
    # The restored directory checks unknown IDs at the cost of the hashes it holds.
    assert restored.dummy_hash.startswith("$2b$04$")


def test_no_data_is_an_empty_directory(changes: Changes) -> None:
    directory = LocalDirectory.from_dict({}, run_blocking=run_now, commit=changes)
    assert len(directory) == 0
    assert directory.as_dict() == {"format": 1, "patrons": []}


def _record(**change: Any) -> dict[str, Any]:
    return {
        "patron_id": "S0001", "name": "王小明", "category": "student_undergraduate",
        "membership_expires": "2029-08-31", "suspended": False, "card": "C-S0001",
        "password_hash": None, **change,
    }  # fmt: skip


@pytest.mark.parametrize(
    "data",
    [
        {"format": 2, "patrons": []},
        {"format": 1, "patrons": {}},
        {"format": 1, "patrons": ["x"]},
        {"format": 1, "patrons": [_record(category="wizard")]},
        {"format": 1, "patrons": [_record(membership_expires="soon")]},
        {"format": 1, "patrons": [_record(membership_expires=20290831)]},
        {"format": 1, "patrons": [_record(password_hash="plain text")]},
        {"format": 1, "patrons": [_record(patron_id=None)]},
        {"format": 1, "patrons": [_record(), _record()]},
        {"format": 1, "patrons": [_record(), _record(patron_id="S0002")]},  # same card
    ],
)
def test_damaged_data_is_not_silently_dropped(changes: Changes, data: dict[str, Any]) -> None:
    with pytest.raises(ValueError) as err:
        LocalDirectory.from_dict(data, run_blocking=run_now, commit=changes)
    assert "$2b$" not in str(err.value)


def test_rounds_are_bcrypt_rounds(changes: Changes) -> None:
    with pytest.raises(ValueError):
        LocalDirectory(run_blocking=run_now, commit=changes, rounds=3)
