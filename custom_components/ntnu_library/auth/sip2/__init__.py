"""SIP2 to the library's ILS: a small codec and the patron system built on it."""

from __future__ import annotations

from .client import Sip2Config, Sip2LoginRejected, Sip2PatronSystem, Sip2Unavailable
from .codec import Sip2ChecksumError, Sip2Error

__all__ = [
    "Sip2ChecksumError",
    "Sip2Config",
    "Sip2Error",
    "Sip2LoginRejected",
    "Sip2PatronSystem",
    "Sip2Unavailable",
]
