"""pytest plugin for the run against the newest Home Assistant (``scripts/test --ha current``).

Loaded only there, as ``-p tests.ha_current_plugin`` (see scripts/lib/test-current). It turns
Home Assistant's deprecation reports about this integration into test failures, so that a
use which still works today but stops working in a coming release is seen now:

* ``homeassistant.helpers.frame.report_usage`` logs "Detected that custom integration
  'ntnu_library' ..." (WARNING by default, other levels on request); the blocking-call
  detector logs "... by custom integration 'ntnu_library' ...".
* ``homeassistant.helpers.deprecation`` (deprecated constants, aliases, functions, classes,
  ``hass`` arguments) logs "The deprecated ... was used from ntnu_library ..." or, when it
  cannot tell the integration, "The deprecated ... was used ..." / "'x' is deprecated ...".
* Python ``DeprecationWarning`` / ``PendingDeprecationWarning`` attributed to a module of
  ``custom_components.ntnu_library``.

Log reports are collected by a handler on the root logger. One counts when it is WARNING or
worse, was logged from Home Assistant's own code, and either names the integration or
speaks of deprecation while a frame of ``custom_components/ntnu_library/`` is on the stack.
Reports seen during a test's setup or call fail the test; reports seen during teardown make
it an error. ``@pytest.mark.allow_ha_deprecation`` lets a test that provokes one on purpose
pass. Python warnings become errors through ``filterwarnings`` (marks on every test, so
they win over the project's own filters, and an ini line for import time).
"""

from __future__ import annotations

from collections.abc import Generator
import logging
import os
import re
import sys
import threading
from types import FrameType
from typing import Any

import pytest

DOMAIN = "ntnu_library"
PACKAGE = f"custom_components.{DOMAIN}"
_OUR_PATH = f"custom_components{os.sep}{DOMAIN}{os.sep}"
_HA_PATH = f"{os.sep}homeassistant{os.sep}"

# "Detected that custom integration 'ntnu_library' ...", "... by custom integration
# 'ntnu_library' at ...", "The custom integration 'ntnu_library' ...".
_NAMES_US = re.compile(rf"\bintegration '{DOMAIN}'")
# homeassistant.helpers.deprecation: "The deprecated constant X was used from ntnu_library."
_DEPRECATED_FROM_US = re.compile(rf"\bdeprecated\b.*\bfrom {DOMAIN}\b", re.DOTALL)
_DEPRECATION_WORDS = re.compile(r"deprecat|will stop working|will be removed", re.IGNORECASE)

_WARNING_FILTERS = tuple(
    f"error::{category}:{re.escape(PACKAGE)}"
    for category in ("DeprecationWarning", "PendingDeprecationWarning")
)


def _our_code_on_stack() -> bool:
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        if _OUR_PATH in frame.f_code.co_filename:
            return True
        frame = frame.f_back
    return False


def _is_report_about_us(record: logging.LogRecord) -> bool:
    if record.levelno < logging.WARNING:
        return False
    if _HA_PATH not in record.pathname:
        # Our own log lines, and other libraries', are not Home Assistant's reports.
        return False
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - a broken log call is not ours to judge
        return False
    if _NAMES_US.search(message) or _DEPRECATED_FROM_US.search(message):
        return True
    return bool(_DEPRECATION_WORDS.search(message)) and _our_code_on_stack()


class _ReportCollector(logging.Handler):
    """Keeps Home Assistant's reports about the integration, from any thread."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self._lock_reports = threading.Lock()
        self._reports: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if _is_report_about_us(record):
            line = f"{record.levelname} {record.name}: {record.getMessage()}"
            with self._lock_reports:
                self._reports.append(line)

    def take(self) -> list[str]:
        with self._lock_reports:
            reports, self._reports = self._reports, []
        return reports


_collector = _ReportCollector()


def _reset_frame_helper_memory() -> None:
    """report_usage says each thing once per process; make it say it in every test."""
    frame = sys.modules.get("homeassistant.helpers.frame")
    reported: Any = getattr(frame, "_REPORTED_INTEGRATIONS", None)
    if reported is not None and hasattr(reported, "clear"):
        reported.clear()


def _allowed(item: pytest.Item) -> bool:
    return item.get_closest_marker("allow_ha_deprecation") is not None


def _fail_message(reports: list[str], when: str) -> str:
    shown = "\n".join(f"  {line}" for line in reports)
    return (
        f"Home Assistant reported deprecated or wrong use by {DOMAIN} during {when} "
        f"(errors in the 'current' run; mark the test allow_ha_deprecation only if it "
        f"provokes this on purpose):\n{shown}"
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "allow_ha_deprecation: Home Assistant's deprecation reports about "
        f"{DOMAIN} do not fail this test (ha_current_plugin)",
    )
    for line in _WARNING_FILTERS:
        config.addinivalue_line("filterwarnings", line)
    root = logging.getLogger()
    if _collector not in root.handlers:
        root.addHandler(_collector)


def pytest_unconfigure(config: pytest.Config) -> None:
    logging.getLogger().removeHandler(_collector)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Marks are applied after the ini and -W filters, so they take precedence.
    for item in items:
        for line in _WARNING_FILTERS:
            item.add_marker(pytest.mark.filterwarnings(line))


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, Any, Any]:
    _collector.take()  # whatever came between tests belongs to no test
    _reset_frame_helper_memory()
    return (yield)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, Any, Any]:
    try:
        result = yield
    except BaseException as err:
        # The test failed on its own; still say what Home Assistant reported.
        if (reports := _collector.take()) and not _allowed(item):
            err.add_note(_fail_message(reports, "setup or call"))
        raise
    reports = _collector.take()
    if reports and not _allowed(item):
        pytest.fail(_fail_message(reports, "setup or call"), pytrace=False)
    return result


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, Any, Any]:
    result = yield
    reports = _collector.take()
    if reports and not _allowed(item):
        pytest.fail(_fail_message(reports, "teardown"), pytrace=False)
    return result
