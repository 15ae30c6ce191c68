"""SIP2 to the library's ILS: a small codec and the patron system built on it."""

from __future__ import annotations

from .client import (
    BLOCK_FLAGS,
    BLOCK_MESSAGE_LENGTH,
    DEFAULT_BLOCK_MESSAGE,
    SIP2_PROTOCOL_ERROR,
    Sip2PatronSystem,
)
from .codec import DEFAULT_ENCODING, SIP2_ENCODINGS, Sip2ChecksumError, Sip2Error
from .config import Sip2Config, Sip2ConfigError
from .connection import Sip2LoginRejected, Sip2Unavailable
from .patron_info import DEFAULT_REFUSING_FLAGS, MOST_RESTRICTED_CATEGORY, PATRON_STATUS_FLAGS

__all__ = [
    "BLOCK_FLAGS",
    "BLOCK_MESSAGE_LENGTH",
    "DEFAULT_BLOCK_MESSAGE",
    "DEFAULT_ENCODING",
    "DEFAULT_REFUSING_FLAGS",
    "MOST_RESTRICTED_CATEGORY",
    "PATRON_STATUS_FLAGS",
    "SIP2_ENCODINGS",
    "SIP2_PROTOCOL_ERROR",
    "Sip2ChecksumError",
    "Sip2Config",
    "Sip2ConfigError",
    "Sip2Error",
    "Sip2LoginRejected",
    "Sip2PatronSystem",
    "Sip2Unavailable",
]
