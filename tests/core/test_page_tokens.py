"""Form tokens: signed, not stored; good once, for their scope, for ten minutes, across restarts."""

from __future__ import annotations

import base64
import json

import pytest

from custom_components.ntnu_library.core.page_tokens import (
    TOKEN_CHARS,
    FormTokens,
    RoomSigner,
    new_key,
)

KEY = b"k" * 32
TTL = 600
T0 = 1_800_000_000.0
ROOM = "room:entry:T01"
OTHER_ROOM = "room:entry:T02"


class Clock:
    """A wall clock the test moves, forwards or back."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def tokens(
    clock: Clock, *, key: bytes = KEY, max_spent: int = 1000, saved: dict | None = None
) -> FormTokens:
    """Form tokens on `clock`."""
    return FormTokens(key, ttl=TTL, max_spent=max_spent, saved=saved, clock=clock)


def restarted(forms: FormTokens, clock: Clock, **kwargs: object) -> FormTokens:
    """What a restart after a clean stop makes: the saved state, through JSON as stored."""
    saved = json.loads(json.dumps(forms.saved()))
    return tokens(clock, saved=saved, **kwargs)  # type: ignore[arg-type]


def test_a_token_is_good_once_and_only_for_its_scope() -> None:
    clock = Clock()
    forms = tokens(clock)
    token = forms.issue(ROOM)
    assert len(token) == TOKEN_CHARS == 64
    assert forms.consume(token, ROOM)
    assert not forms.consume(token, ROOM)
    # Another room's token is refused, and spent: no good on its own room after that.
    other = forms.issue(OTHER_ROOM)
    assert not forms.consume(other, ROOM)
    assert not forms.consume(other, OTHER_ROOM)
    # Every token is new.
    assert len({forms.issue(ROOM) for _ in range(1000)}) == 1000


def test_issuing_stores_nothing_so_a_flood_of_page_loads_expires_no_form() -> None:
    clock = Clock()
    forms = tokens(clock, max_spent=100)
    typing = forms.issue(ROOM)
    for _ in range(10_000):
        forms.issue(ROOM)
        clock.now += 0.01  # 10,000 loads in 100 s
    assert len(forms) == 0
    assert forms.consume(typing, ROOM)
    assert len(forms) == 1


@pytest.mark.parametrize("token", [None, "", "x", "spent", "a" * 63, "a" * 65, "é" * 64])
def test_no_token_or_no_token_of_ours_is_refused(token: str | None) -> None:
    forms = tokens(Clock())
    assert not forms.consume(token, ROOM)
    assert len(forms) == 0


def test_an_altered_or_forged_token_is_refused_and_costs_nothing() -> None:
    clock = Clock()
    forms = tokens(clock)
    token = forms.issue(ROOM)
    raw = bytearray(base64.urlsafe_b64decode(token))
    for index in range(len(raw)):
        for bit in (0x01, 0x80):
            altered = bytearray(raw)
            altered[index] ^= bit
            assert not forms.consume(base64.urlsafe_b64encode(altered).decode(), ROOM), index
    # A standard-alphabet spelling of the same bytes is not one of ours either.
    standard = base64.b64encode(raw).decode()
    if standard != token:
        assert not forms.consume(standard, ROOM)
    # Another Home Assistant's token (another key), however well formed.
    assert not forms.consume(tokens(clock, key=new_key()).issue(ROOM), ROOM)
    # None of that was remembered; the real token is still good.
    assert len(forms) == 0
    assert forms.consume(token, ROOM)


def test_a_token_expires_after_ten_minutes() -> None:
    clock = Clock()
    forms = tokens(clock)
    early, late = forms.issue(ROOM), forms.issue(ROOM)
    clock.now += TTL - 1
    assert forms.consume(early, ROOM)
    assert len(forms) == 1
    clock.now += 1
    assert not forms.consume(late, ROOM)
    # Both have expired: the late one is not remembered, the spent one is forgotten.
    assert len(forms) == 0
    assert not forms.consume(early, ROOM)
    assert len(forms) == 0


def test_spent_tokens_are_remembered_until_they_expire_and_no_longer() -> None:
    clock = Clock()
    forms = tokens(clock)
    spent = []
    for _minute in range(10):
        token = forms.issue(ROOM)
        assert forms.consume(token, ROOM)
        spent.append(token)
        clock.now += 60
    assert len(forms) == 10
    # Each is remembered as long as it would be live: the first has just expired.
    assert not forms.consume(spent[0], ROOM)
    assert len(forms) == 9
    for token in spent:
        assert not forms.consume(token, ROOM)
    clock.now += TTL
    assert forms.consume(forms.issue(ROOM), ROOM)
    assert len(forms) == 1  # only the one just spent


def test_the_clock_going_back_does_not_revive_a_token() -> None:
    clock = Clock()
    forms = tokens(clock)
    spent, unused = forms.issue(ROOM), forms.issue(ROOM)
    assert forms.consume(spent, ROOM)
    clock.now += TTL + 60
    assert not forms.consume(unused, ROOM)  # expired; and the spent one is forgotten
    assert len(forms) == 0
    clock.now -= TTL + 50  # the wall clock is set back: this clock carries on from where it was
    assert not forms.consume(spent, ROOM)
    assert not forms.consume(unused, ROOM)
    # New tokens live their ten minutes as the wall clock moves on.
    fresh = forms.issue(ROOM)
    clock.now += TTL - 1
    assert forms.consume(fresh, ROOM)
    stale = forms.issue(ROOM)
    clock.now += TTL
    assert not forms.consume(stale, ROOM)


def test_at_the_memory_bound_every_earlier_token_is_refused() -> None:
    """Fail secure: rather than forget a live spent token, refuse all issued until then."""
    clock = Clock()
    forms = tokens(clock, max_spent=3)
    spent = [forms.issue(ROOM) for _ in range(3)]
    open_forms = [forms.issue(ROOM) for _ in range(2)]
    assert all(forms.consume(token, ROOM) for token in spent)
    assert len(forms) == 3
    assert forms.rotations == 0

    assert not forms.consume(open_forms[0], ROOM)  # one more would pass the bound
    assert forms.rotations == 1
    assert len(forms) == 0
    # Nothing from before is good any more, spent or not; new forms are.
    for token in [*spent, *open_forms]:
        assert not forms.consume(token, ROOM)
    fresh = forms.issue(ROOM)
    assert forms.consume(fresh, ROOM)
    assert not forms.consume(fresh, ROOM)
    assert len(forms) == 1


def test_tokens_survive_a_clean_restart_and_stay_single_use() -> None:
    clock = Clock()
    forms = tokens(clock)
    spent, kept, other = forms.issue(ROOM), forms.issue(ROOM), forms.issue(OTHER_ROOM)
    assert forms.consume(spent, ROOM)
    assert not forms.consume(other, ROOM)  # spent on the wrong room
    clock.now += 60
    after = restarted(forms, clock)
    assert len(after) == 2
    assert not forms.consume(spent, ROOM)
    assert not after.consume(spent, ROOM)
    assert not after.consume(other, OTHER_ROOM)
    assert after.consume(kept, ROOM)
    # Still ten minutes from issue, not from the restart.
    late = forms.issue(ROOM)
    again = restarted(forms, clock)
    clock.now += TTL
    assert not again.consume(late, ROOM)


def test_a_restart_with_the_wall_clock_set_back_keeps_time_going_forward() -> None:
    clock = Clock()
    forms = tokens(clock)
    spent, kept = forms.issue(ROOM), forms.issue(ROOM)
    assert forms.consume(spent, ROOM)
    clock.now -= 3600  # the machine comes back with its clock an hour behind
    after = restarted(forms, clock)
    assert not after.consume(spent, ROOM)
    clock.now += TTL - 1
    assert after.consume(kept, ROOM)
    late = after.issue(ROOM)
    clock.now += TTL
    assert not after.consume(late, ROOM)


def test_without_a_clean_stop_every_earlier_token_is_refused() -> None:
    """A crash: what was spent since the start is unknown, so nothing from before is good."""
    clock = Clock()
    forms = tokens(clock)
    spent, unused = forms.issue(ROOM), forms.issue(ROOM)
    assert forms.consume(spent, ROOM)
    for saved in (None, {}, {"generation": "zz", "clock": T0, "spent": {}}, {"spent": []}):
        after = tokens(clock, saved=saved)
        assert not after.consume(spent, ROOM)
        assert not after.consume(unused, ROOM)
        fresh = after.issue(ROOM)
        assert after.consume(fresh, ROOM)


def test_a_new_key_refuses_every_earlier_token() -> None:
    clock = Clock()
    forms = tokens(clock)
    token = forms.issue(ROOM)
    after = restarted(forms, clock, key=new_key())
    assert not after.consume(token, ROOM)


def test_more_spent_than_the_bound_after_a_restart_refuses_them_all() -> None:
    clock = Clock()
    forms = tokens(clock, max_spent=10)
    for _ in range(5):
        assert forms.consume(forms.issue(ROOM), ROOM)
    unused = forms.issue(ROOM)
    after = restarted(forms, clock, max_spent=4)
    assert len(after) == 0
    assert not after.consume(unused, ROOM)


def test_form_tokens_and_room_signatures_do_not_mix() -> None:
    """The form key is derived from the page key: one never passes for the other."""
    signer = RoomSigner(KEY)
    forms = tokens(Clock())
    assert not forms.consume(signer.sign("entry", "T01"), ROOM)
    assert not signer.verify("entry", "T01", forms.issue(ROOM))
    with pytest.raises(ValueError, match="too short"):
        FormTokens(b"short", ttl=TTL, max_spent=10)
