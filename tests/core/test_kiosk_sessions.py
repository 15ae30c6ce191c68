"""A patron's session at a self-checkout station: one at a time, ended by Done or idleness."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from custom_components.ntnu_library.core.kiosk_sessions import (
    DEFAULT_IDLE_SECONDS,
    MAX_LINES,
    KioskSessions,
    KioskSettings,
    ScanLine,
)

NOW = datetime(2025, 3, 12, 2, 0, tzinfo=UTC)


def test_a_session_ends_after_its_idle_time() -> None:
    sessions = KioskSessions()
    session = sessions.start("st1", "S0001", NOW)
    assert sessions.current("st1", NOW + timedelta(seconds=59), 60) is session
    sessions.touch(session, NOW + timedelta(seconds=59))
    assert sessions.current("st1", NOW + timedelta(seconds=118), 60) is session
    assert sessions.current("st1", NOW + timedelta(seconds=119), 60) is None
    assert len(sessions) == 0  # gone, not only hidden


def test_the_next_patron_replaces_the_session_and_old_forms_name_nothing() -> None:
    sessions = KioskSessions()
    first = sessions.start("st1", "S0001", NOW)
    second = sessions.start("st1", "G0001", NOW)
    assert sessions.current("st1", NOW, 60, first.session_id) is None
    assert sessions.current("st1", NOW, 60, second.session_id) is second
    assert sessions.current("st2", NOW, 60) is None  # another station has its own
    sessions.end("st1")
    assert sessions.current("st1", NOW, 60) is None


def test_a_full_session_keeps_its_loans() -> None:
    session = KioskSessions().start("st1", "S0001", NOW)
    session.add(ScanLine(barcode="B00001", title="Book", due=date(2025, 7, 12)))
    for n in range(MAX_LINES + 5):
        session.add(ScanLine(barcode=f"R{n:05d}", reason="library_use_only"))
    assert len(session.lines) == MAX_LINES
    assert [line.barcode for line in session.lent] == ["B00001"]


def test_settings_from_options() -> None:
    assert KioskSettings.from_options({}) == KioskSettings(
        password_required=False, idle_seconds=DEFAULT_IDLE_SECONDS
    )
    options = {"kiosk_password": True, "kiosk_idle_seconds": 30}
    assert KioskSettings.from_options(options).as_dict() == options
    for bad in (0, 4, 601, "30", True, 30.5):
        assert KioskSettings.from_options({"kiosk_idle_seconds": bad}).idle_seconds == 60
