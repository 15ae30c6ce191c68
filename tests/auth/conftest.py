"""Make scripts/lib importable: the SIP2 tests run against its real ILS server."""

from __future__ import annotations

from pathlib import Path
import sys

_LIB = str(Path(__file__).resolve().parents[2] / "scripts" / "lib")
if _LIB not in sys.path:
    sys.path.insert(0, _LIB)
