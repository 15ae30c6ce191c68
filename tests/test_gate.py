"""The patron gate under attack: floods of made-up IDs, lock-outs by guessing, crashes."""

from __future__ import annotations

import asyncio
from typing import Any

from homeassistant.core import Context, HomeAssistant
from homeassistant.exceptions import ServiceValidationError
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events
from zigpy.zcl.clusters.closures import DoorLock

from custom_components.ntnu_library.const import DOMAIN, LOGIN_SLOTS, PATRONS_LOCAL, PATRONS_SIP2
from custom_components.ntnu_library.core.login_queue import Lane
from custom_components.ntnu_library.core.model import Patron

from .conftest import PASSWORD, call_service, patron_action, state_of

WRONG = "not-the-password"


async def _refusal(hass: HomeAssistant, service: str, data: dict[str, Any]) -> str:
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(DOMAIN, service, data, blocking=True)
    return str(err.value.translation_key)


async def _refused_patron(
    hass: HomeAssistant, action: str, patron_id: str, password: str, **kw: Any
) -> str:
    with pytest.raises(ServiceValidationError) as err:
        await patron_action(hass, action, "T01", patron_id, password, **kw)
    return str(err.value.translation_key)


async def test_made_up_ids_from_one_caller_do_not_starve_a_real_patron(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """300 borrows with invented IDs from one account; a patron elsewhere is checked at once.

    Counted in queue positions, not in time, so it holds on any machine: from the moment the
    patron asks for a password check, at most the checks already running and one of the
    flood's start before the patron's (the callers take turns).
    """
    system = init_integration.runtime_data.patrons.system
    checked: list[str] = []
    authenticate = system.async_authenticate

    async def counting(patron_id: str, password: str) -> Patron:
        checked.append(patron_id)
        return await authenticate(patron_id, password)

    system.async_authenticate = counting  # type: ignore[method-assign]
    flooder, patron = "user:flooder", "user:counter-kiosk"
    slots = init_integration.runtime_data.gate._slots
    acquire = slots._acquire
    asked_after: list[int] = []

    async def noting(caller: str, key: str, lane: Lane) -> None:
        if caller == patron:
            asked_after.append(len(checked))
        await acquire(caller, key, lane)

    slots._acquire = noting  # type: ignore[method-assign]

    async def invented(n: int) -> str:
        return await _refused_patron(hass, "borrow", f"ZZ{n:05d}", WRONG, caller=flooder)

    flood = [asyncio.ensure_future(invented(n)) for n in range(300)]
    await asyncio.sleep(0)
    result = await patron_action(hass, "borrow", "T02", "G0001", caller=patron)
    assert result["status"] == "in_use"
    (asked,) = asked_after
    assert checked.index("G0001") - asked <= LOGIN_SLOTS + 1
    answers = await asyncio.gather(*flood)
    assert set(answers) == {"too_many_attempts", "invalid_credentials"}
    # Nearly all of the flood was turned away before any password check: one caller may
    # have only so many waiting.
    limits = slots.limits
    assert answers.count("too_many_attempts") >= 300 - LOGIN_SLOTS - limits.per_caller


async def test_someone_elses_guesses_do_not_keep_a_patron_out(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """The backoff holds the password; the card, the counter and clear_login_lock still work."""
    await patron_action(hass, "borrow", "T01", "S0001")
    for _ in range(6):
        assert await _refused_patron(hass, "open", "S0001", WRONG) == "invalid_credentials"
    assert await _refused_patron(hass, "open", "S0001", PASSWORD) == "too_many_attempts"

    # The patron's own card opens their room: no password, so no backoff.
    await call_service(hass, "simulate", {"room": "T01", "action": "card_tap", "card": "C-S0001"})
    assert state_of(hass, "lock.t01") == "unlocked"

    # Staff at the counter open for the patron who shows their card: no password either.
    await hass.services.async_call("lock", "lock", {"entity_id": "lock.t01"}, blocking=True)
    opened = await call_service(hass, "open_door", {"room": "T01", "patron_id": "S0001"})
    assert opened["door"] == "unlocked"
    assert await _refused_patron(hass, "open", "S0001", PASSWORD) == "too_many_attempts"

    # At the counter, staff clear the lock; the right password works again at once.
    cleared = await call_service(hass, "clear_login_lock", {"patron_id": "S0001"})
    assert cleared == {"patron": "S***1", "cleared": True}
    opened = await patron_action(hass, "open", "T01", "S0001")
    assert opened["door"] == "unlocked"
    # Nothing to clear the second time.
    again = await call_service(hass, "clear_login_lock", {"patron_id": "S0001"})
    assert again["cleared"] is False


async def test_clear_login_lock_is_for_staff(
    hass: HomeAssistant, init_integration: MockConfigEntry, hass_read_only_user: Any
) -> None:
    from homeassistant.exceptions import Unauthorized

    with pytest.raises(Unauthorized):
        await hass.services.async_call(
            DOMAIN,
            "clear_login_lock",
            {"patron_id": "S0001"},
            blocking=True,
            context=Context(user_id=hass_read_only_user.id),
        )
    assert await _refusal(hass, "clear_login_lock", {"patron_id": "Z9999"}) == "unknown_patron"


async def test_a_failure_is_on_disk_before_it_is_answered(
    hass: HomeAssistant, init_integration: MockConfigEntry, hass_storage: dict[str, Any]
) -> None:
    """A crash right after a refusal must not forget it: no delayed write in between."""
    key = f"{DOMAIN}.library.{init_integration.runtime_data.library.library_id}"
    for _ in range(5):
        assert await _refused_patron(hass, "borrow", "S0001", WRONG) == "invalid_credentials"
    # No time has passed and nothing was waited for: the write happened before the answer.
    saved = hass_storage[key]["data"]["throttle"]["patrons"]
    library = init_integration.runtime_data.library
    assert len(saved[library.login_key("S0001")]["failures"]) == 5
    assert "S0001" not in str(saved)  # kept as a keyed hash, never as typed


async def test_a_card_tap_waiting_for_the_patron_system_ends_with_the_site(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """A tap in flight belongs to the site: unloading cancels it, and no door opens."""
    runtime = init_integration.runtime_data
    asked = asyncio.Event()

    async def never_answers(card: str) -> Patron | None:
        asked.set()
        await asyncio.Event().wait()
        return None

    runtime.patrons.system.async_find_by_card = never_answers  # type: ignore[method-assign]
    lock = runtime.radio.lock_model("T01")
    await runtime.radio.async_simulate("T01", "card_tap", "C-S0001")
    await asyncio.wait_for(asked.wait(), 5)
    assert runtime.commands._taps["T01"]  # being decided

    assert await hass.config_entries.async_unload(init_integration.entry_id)
    await hass.async_block_till_done()
    assert not any(task for taps in runtime.commands._taps.values() for task in taps)
    assert lock.lock_state == DoorLock.LockState.Locked


@pytest.mark.parametrize("patron_system", [PATRONS_LOCAL, PATRONS_SIP2])
async def test_a_card_number_shares_its_patrons_budget_once_seen(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """Guessing through the card number, once the card is known, counts against the ID."""
    await call_service(hass, "simulate", {"room": "T01", "action": "card_tap", "card": "C-S0001"})
    gate = init_integration.runtime_data.gate
    assert gate.patron_key("c-s0001") == gate.patron_key("S0001")
    for _ in range(6):
        answer = await _refused_patron(hass, "open", "C-S0001", WRONG, caller="user:guesser")
        assert answer == "invalid_credentials"
    # The budget is the patron's: their ID is held by the backoff, from anywhere.
    assert await _refused_patron(hass, "open", "S0001", PASSWORD) == "too_many_attempts"
    # An unknown card has a budget of its own, and another patron none of this.
    assert gate.patron_key("C-Z9999") != gate.patron_key("S0001")
    assert (await patron_action(hass, "borrow", "T02", "G0001"))["status"] == "in_use"


async def test_a_password_typed_into_the_id_field_is_kept_nowhere(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    hass_storage: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The throttle counts it by a keyed hash; no log line, no event shows any part of it."""
    typed = "Sunflower-Secret-2025"
    events = async_capture_events(hass, f"{DOMAIN}_event")
    for _ in range(5):  # enough to be written to disk
        assert await _refused_patron(hass, "borrow", typed, "x") == "invalid_credentials"
    await hass.async_block_till_done()
    library = init_integration.runtime_data.library
    await library.async_write()
    stored = str(hass_storage)
    for part in (typed, typed.upper(), typed[:4] + "*", "S***5"):
        assert part not in stored
        assert part not in caplog.text
    assert library.login_key(typed) in stored  # counted all the same
    assert events == []  # a failed login is counted, not told
