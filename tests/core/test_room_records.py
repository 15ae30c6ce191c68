"""What the room rules record for staff: door activity in words, staff unlocks, violations."""

from __future__ import annotations

from datetime import timedelta
import json
from typing import Any

import pytest

from custom_components.ntnu_library.core.errors import Reason
from custom_components.ntnu_library.core.event_words import room_event_sentence
from custom_components.ntnu_library.core.model import EventType, Source
from custom_components.ntnu_library.core.policy import AutoReturnReason, Policy
from custom_components.ntnu_library.core.room_state import (
    MAX_VIOLATIONS,
    VIOLATION_DAYS,
    PatronState,
    Violation,
)
from custom_components.ntnu_library.core.room_words import Words, in_language
from custom_components.ntnu_library.core.study_rooms import StudyRooms

from .test_study_rooms import NOW, ROOMS, at, borrowed, refused

# --- the logbook's sentences -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "english", "chinese"),
    [
        (
            {"type": "borrowed", "source": "qr", "patron": "S***1"},
            "borrowed by S***1",
            "S***1 登記使用",
        ),
        (
            {"type": "borrowed", "source": "counter", "patron": "S***1"},
            "borrowed at the counter for S***1",
            "櫃檯代 S***1 登記使用",
        ),
        (
            {"type": "qr_open", "source": "qr", "patron": "D***1"},
            "opened by QR (D***1)",
            "D***1 以 QR code 開門",
        ),
        (
            {"type": "card_tap", "source": "card", "patron": "D***1"},
            "opened by card of D***1",
            "D***1 刷卡開門",
        ),
        (
            {"type": "refused", "source": "card", "patron": "G***1", "reason": "not_holder"},
            "card of G***1 refused: not the holder",
            "G***1 的卡片遭拒：非登記使用者",
        ),
        (
            {"type": "refused", "source": "card", "patron": None, "reason": "unknown_card"},
            "card refused: unknown card",
            "卡片遭拒：未登記的卡片",
        ),
        (
            {"type": "refused", "source": "qr", "patron": "X***1", "reason": "not_checked_in"},
            "X***1 refused: not checked in at the counter today",
            "X***1 遭拒：今日未至櫃檯報到",
        ),
        (
            {"type": "push_exit", "source": "push_button", "patron": None},
            "PUSH exit",
            "按 PUSH 鈕外出",
        ),
        ({"type": "forced_open", "source": "door"}, "door forced open", "門被強行開啟"),
        (
            {"type": "returned", "source": "counter", "patron": "S***1"},
            "returned by staff (S***1)",
            "櫃檯代 S***1 歸還",
        ),
        (
            {"type": "returned", "source": "qr", "patron": "S***1"},
            "returned by S***1",
            "S***1 結束使用",
        ),
        (
            {
                "type": "auto_returned",
                "source": "automation",
                "patron": "S***1",
                "reason": "empty",
                "minutes": 30,
            },
            "auto-returned: empty 30 min (S***1)",
            "自動歸還：無人 30 分鐘（S***1）",
        ),
        (
            {
                "type": "auto_returned",
                "source": "automation",
                "patron": "S***1",
                "reason": "closing",
            },
            "auto-returned: closing time (S***1)",
            "自動歸還：閉館（S***1）",
        ),
        ({"type": "staff_unlock", "source": "counter"}, "unlocked by staff", "館員開門"),
        (
            {"type": "staff_unlock", "source": "automation"},
            "unlocked by an automation",
            "自動化開門",
        ),
        ({"type": "relocked", "source": "door"}, "locked again", "已重新上鎖"),
    ],
)
def test_each_event_reads_as_a_sentence(data: dict[str, Any], english: str, chinese: str) -> None:
    assert room_event_sentence(data, "en") == english
    assert room_event_sentence(data, "zh-Hant") == chinese
    assert room_event_sentence(data, "zh-TW") == chinese  # any Chinese
    assert room_event_sentence(data, "de") == english  # any other language


def test_a_source_the_sentence_does_not_say_is_added() -> None:
    """A lock that decided a card by itself, or a source these words do not know yet."""
    by_lock = {"type": "card_tap", "source": "lock", "patron": "D***1"}
    assert room_event_sentence(by_lock, "en") == "opened by card of D***1 (decided by the lock)"
    assert room_event_sentence(by_lock, "zh-Hant") == "D***1 刷卡開門（由門鎖判定）"
    refused_by_lock = {"type": "refused", "source": "lock", "reason": "unknown_card"}
    assert (
        room_event_sentence(refused_by_lock, "en") == "refused: unknown card (decided by the lock)"
    )
    assert room_event_sentence({"type": "push_exit", "source": "keypad"}, "en") == (
        "PUSH exit (keypad)"
    )


def test_what_the_words_do_not_know_is_shown_as_it_is() -> None:
    assert room_event_sentence({"type": "door_sang", "source": "door"}, "en") == "door_sang"
    odd_reason = {"type": "refused", "source": "qr", "patron": "S***1", "reason": "moon_phase"}
    assert room_event_sentence(odd_reason, "en") == "S***1 refused: moon phase"
    free = {"type": "auto_returned", "source": "automation", "reason": "night cleaning"}
    assert room_event_sentence(free, "zh-Hant") == "自動歸還：night cleaning"
    # Recorded data is not trusted to be tidy: one short line, whatever was stored.
    messy = {"type": "refused", "source": "qr", "patron": "S***1\nX", "reason": "x" * 500}
    sentence = room_event_sentence(messy, "en")
    assert "\n" not in sentence and len(sentence) < 100
    assert room_event_sentence({}, "en") == "?"


def test_any_chinese_reads_traditional_chinese() -> None:
    words = Words("閒置", "Idle")
    assert [in_language(words, tag) for tag in ("zh", "zh-Hant", "zh-hk", " ZH-TW ")] == [
        "閒置"
    ] * 4
    assert [in_language(words, tag) for tag in ("en", "en-GB", "ja", "")] == ["Idle"] * 4


# --- the door opened past the rules, and automatic returns ---------------------------------------


def test_a_staff_unlock_is_door_activity() -> None:
    library = StudyRooms(ROOMS, Policy())
    outcome = library.staff_unlock("T01", NOW, lock_online=True)
    assert outcome.unlock
    (event,) = outcome.events
    assert (event.type, event.source, event.patron_id) == (
        EventType.STAFF_UNLOCK,
        Source.COUNTER,
        None,
    )
    by_automation = library.staff_unlock("T01", NOW, lock_online=True, source=Source.AUTOMATION)
    assert by_automation.events[0].source is Source.AUTOMATION
    with refused(library, Reason.LOCK_OFFLINE):
        library.staff_unlock("T01", NOW, lock_online=False)


def test_an_automatic_return_tells_how_long_the_room_stood_empty_or_unopened() -> None:
    library = StudyRooms(ROOMS, Policy())
    borrowed(library, when=at(10))
    library.occupancy("T01", False, at(10, 5))
    (empty,) = library.auto_return("T01", AutoReturnReason.EMPTY, at(10, 35)).events
    assert (empty.reason, empty.minutes) == ("empty", 30)

    borrowed(library, when=at(11))
    (unopened,) = library.auto_return(
        "T01", AutoReturnReason.NOT_OPENED, at(11, 15) + timedelta(seconds=30)
    ).events
    assert (unopened.reason, unopened.minutes) == ("not_opened", 15)

    borrowed(library, when=at(12))
    (closing,) = library.auto_return("T01", AutoReturnReason.CLOSING, at(22)).events
    assert closing.minutes is None  # nothing to count
    borrowed(library, when=at(12, day=11))
    (counter,) = library.counter_return(at(13, day=11), room_id="T01").events
    assert counter.minutes is None


def test_a_counter_return_for_someone_who_holds_nothing_names_the_patron() -> None:
    library = StudyRooms(ROOMS, Policy())
    with refused(library, Reason.HOLDS_NO_ROOM) as err:
        library.counter_return(NOW, patron_id="G0001")
    assert err.value.placeholders == {"patron": "G0001"}  # masked where people read it


# --- violations ------------------------------------------------------------------------------


def test_violations_are_counted_within_a_window_and_a_ref_once() -> None:
    patrons = PatronState()
    day = timedelta(days=1)
    assert patrons.record_violation("S0001", "closing", NOW, "REF-A")
    assert not patrons.record_violation("S0001", "closing", NOW + day, "REF-A")  # told twice
    assert patrons.record_violation("S0001", "not_opened", NOW + 3 * day, "REF-B")
    assert patrons.record_violation("S0001", "staff", NOW + 8 * day)  # no ref: each counts
    assert patrons.record_violation("S0001", "staff", NOW + 8 * day)
    assert patrons.violations_within("S0001", NOW + 8 * day, 7) == 3  # day 0 is 8 days old
    assert patrons.violations_within("S0001", NOW + 8 * day, 9) == 4
    assert patrons.violations_within("S0001", NOW + 3 * day, 30) == 2  # none from the future
    assert patrons.violations_within("G0001", NOW, 30) == 0


def test_violations_are_kept_a_year_and_a_hundred_a_patron() -> None:
    patrons = PatronState()
    for n in range(MAX_VIOLATIONS + 5):
        patrons.record_violation("S0001", "closing", NOW + timedelta(hours=n), f"REF-{n}")
    kept = patrons.violations["S0001"]
    assert len(kept) == MAX_VIOLATIONS and kept[0].ref == "REF-5"
    patrons.record_violation("G0001", "closing", NOW)
    later = NOW + timedelta(days=VIOLATION_DAYS, hours=50)
    assert patrons.prune_violations(later)
    assert "G0001" not in patrons.violations
    assert len(patrons.violations["S0001"]) == 54  # those after the year's first 50 hours
    assert not patrons.prune_violations(later)


def test_the_policy_tick_drops_old_violations() -> None:
    library = StudyRooms(ROOMS, Policy())
    library.patrons.record_violation("S0001", "closing", at(22, day=1, month=1, year=2025))
    assert library.prune(NOW)
    assert library.patrons.violations == {}


def test_violations_survive_the_store_and_a_merge() -> None:
    patrons = PatronState()
    patrons.record_violation("S0001", "closing", NOW, "REF-A")
    stored = json.loads(json.dumps(patrons.as_dict()))
    assert PatronState.from_dict(stored) == patrons
    assert PatronState.from_dict({}).violations == {}
    other = PatronState()
    other.record_violation("S0001", "not_opened", NOW - timedelta(days=1), "REF-B")
    other.record_violation("S0001", "closing", NOW, "REF-A")
    patrons.merge(other)
    assert [v.ref for v in patrons.violations["S0001"]] == ["REF-B", "REF-A"]


def test_a_refused_change_leaves_the_violations_alone() -> None:
    patrons = PatronState(violations={"S0001": (Violation(at=NOW, reason="closing", ref="REF-A"),)})
    before = patrons.snapshot()
    patrons.record_violation("S0001", "closing", NOW, "REF-B")
    patrons.restore(before)
    assert patrons.violations_within("S0001", NOW, 30) == 1
