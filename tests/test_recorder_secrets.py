"""An attack session with Home Assistant's recorder running: nothing typed reaches its database.

Guessed IDs and passwords are refused without a trace of what was typed: no event names them,
no state or attribute holds them, and a flood of refusals is not a flood of rows (a failed
login is counted by the site's sensor, whose writes are spaced out, not told as an event).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from homeassistant.components import recorder
from homeassistant.components.recorder.db_schema import Base
from homeassistant.components.recorder.util import session_scope
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)
from pytest_homeassistant_custom_component.typing import RecorderInstanceContextManager
from sqlalchemy import func, select

from custom_components.ntnu_library.core.identity import mask_patron_id
from custom_components.ntnu_library.sensor import SIGNAL_COOLDOWN_SECONDS

from .conftest import PASSWORD, patron_action

MADE_UP = [f"ZQ{n:06d}" for n in range(123456, 123456 + 200)]
REAL_ID = "S0001"
WRONG = "Wr0ng-Passw0rd-7731"
GUESSED = "Guess-The-Word-4409"
SENSOR = "sensor.main_library_failed_logins_last_hour"
# Rows the recorder may add while 220 logins are refused: the sensor's few state changes and
# whatever else happens meanwhile. Measured (HA 2025.4): 206 failed logins and 14 turned away
# add 0 event rows and 3 state rows (the sensor at 1, then 206; T02's lock relocking), 2 state
# attribute rows. Written on every failure, the sensor alone would add some 200 of each.
MAX_NEW_ROWS = 20  # in each of events, event_data, states and state_attributes


@pytest.fixture
def mock_recorder_before_hass(async_test_recorder: RecorderInstanceContextManager) -> None:
    """Prepare the recorder's database before `hass` (the conftest's autouse fixtures ask it).

    Home Assistant's own tests of the recorder override this fixture the same way.
    """


def _text(value: Any) -> str:
    # Binary columns (context ids) as hex: random bytes shown as characters could spell
    # anything.
    return value.hex() if isinstance(value, bytes | memoryview) else repr(value)


def _database(hass: HomeAssistant) -> dict[str, list[str]]:
    """Every row of every table of the recorder's database, as lower-case text."""
    with session_scope(hass=hass, read_only=True) as session:
        return {
            table.name: [
                " ".join(_text(value) for value in row).lower()
                for row in session.execute(select(table)).all()
            ]
            for table in Base.metadata.sorted_tables
        }


def _count(hass: HomeAssistant, table: str) -> int:
    with session_scope(hass=hass, read_only=True) as session:
        return int(
            session.execute(
                select(func.count()).select_from(Base.metadata.tables[table])
            ).scalar_one()
        )


async def _rows(hass: HomeAssistant) -> dict[str, int]:
    await async_wait_recording_done(hass)
    instance = recorder.get_instance(hass)
    return {
        table: await instance.async_add_executor_job(_count, hass, table)
        for table in ("events", "event_data", "states", "state_attributes")
    }


async def _refused(hass: HomeAssistant, patron_id: str, password: str, caller: str) -> str:
    with pytest.raises(ServiceValidationError) as err:
        await patron_action(hass, "borrow", "T01", patron_id, password, caller=caller)
    return str(err.value.translation_key)


async def test_an_attack_leaves_no_secret_and_few_rows(
    recorder_mock: recorder.Recorder,
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
) -> None:
    """200 made-up IDs and 20 wrong passwords for a real ID, all refused, barely recorded."""
    # A patron's ordinary login first: the recorder does record this integration's states.
    result = await patron_action(hass, "borrow", "T02", "G0001")
    assert result["status"] == "in_use"
    before = await _rows(hass)

    reasons: dict[str, int] = {}
    for n, patron_id in enumerate(MADE_UP):
        # From many accounts (a soft delay per caller would make one caller wait).
        reason = await _refused(hass, patron_id, GUESSED, f"user:attacker-{n % 50}")
        reasons[reason] = reasons.get(reason, 0) + 1
    for _ in range(20):
        reason = await _refused(hass, REAL_ID, WRONG, "user:attacker-real")
        reasons[reason] = reasons.get(reason, 0) + 1
    assert sum(reasons.values()) == 220
    assert reasons["invalid_credentials"] > 200  # checked and wrong, not only turned away
    assert set(reasons) <= {"invalid_credentials", "too_many_attempts"}

    # The burst's last count is written when the sensor's cooldown ends.
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=SIGNAL_COOLDOWN_SECONDS))
    await hass.async_block_till_done()
    state = hass.states.get(SENSOR)
    assert state is not None
    assert int(state.state) == reasons["invalid_credentials"]
    assert state.attributes["patron_ids"] == 201

    after = await _rows(hass)
    grown = {table: after[table] - before[table] for table in after}
    assert all(rows < MAX_NEW_ROWS for rows in grown.values()), grown

    database = await recorder.get_instance(hass).async_add_executor_job(_database, hass)
    assert database["states"], "the recorder recorded nothing: the search below would be empty"
    assert any("main_library_failed_logins" in row for row in database["states_meta"])
    text = "\n".join(row for rows in database.values() for row in rows)
    assert "zq12" not in text  # not even a part of a made-up ID
    for secret in (*MADE_UP, WRONG, GUESSED, PASSWORD, "attacker"):
        assert secret.lower() not in text, secret
    # The real ID under attack is never recorded as typed; staff see it masked, only in the
    # failed-logins sensor's count per patron (a failed login is not a room event).
    assert REAL_ID.lower() not in text
    masked = mask_patron_id(REAL_ID).lower()
    assert f'"guessed_patrons":{{"{masked}":' in text
    assert text.count(masked) == text.count('"guessed_patrons":{"' + masked)
    assert mask_patron_id("G0001").lower() in text  # the search does see what is recorded
