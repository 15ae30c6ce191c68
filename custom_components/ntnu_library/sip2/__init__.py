"""SIP2 2.00 for a self-check terminal: a small codec and an asyncio client built on it.

    config = Sip2Config(host="ils.example.org", port=6001, login_user="sc1", login_password=...)
    client = Sip2Client(config)
    patron = await client.patron_information("S0001", password="...")
    if patron.valid_patron and patron.valid_password: ...
    await client.close()

Modules: codec (framing, checksums, character sets, the session and patron messages),
connection (one serial session, TLS optional), config (Sip2Config), patron_info (reading 64 and
24), item_messages (17/18, 11/12, 09/10 and the charged items of a 64), client (Sip2Client).
The package depends on nothing but the standard library.
"""

from __future__ import annotations

from .client import (
    MAX_CHARGED_ITEMS,
    MAX_IDENTIFIER_LENGTH,
    MAX_LOCATION_LENGTH,
    MAX_PATRON_PASSWORD_LENGTH,
    Sip2Client,
)
from .codec import (
    DEFAULT_ENCODING,
    SIP2_ENCODINGS,
    AcsStatus,
    Message,
    Sip2ChecksumError,
    Sip2Error,
    Sip2ProtocolError,
    Sip2ValueError,
)
from .config import Sip2Config, Sip2ConfigError
from .connection import Sip2LoginRejected, Sip2Unavailable
from .item_messages import ChargedItems, CheckinAnswer, CheckoutAnswer, ItemInfo, wire_barcode
from .patron_info import (
    BLOCK_FLAGS,
    BLOCK_MESSAGE_LENGTH,
    PATRON_STATUS_FLAGS,
    PatronInformation,
    PatronStatus,
    blocked_card_message,
    status_flag_positions,
)

__all__ = [
    "BLOCK_FLAGS",
    "BLOCK_MESSAGE_LENGTH",
    "DEFAULT_ENCODING",
    "MAX_CHARGED_ITEMS",
    "MAX_IDENTIFIER_LENGTH",
    "MAX_LOCATION_LENGTH",
    "MAX_PATRON_PASSWORD_LENGTH",
    "PATRON_STATUS_FLAGS",
    "SIP2_ENCODINGS",
    "AcsStatus",
    "ChargedItems",
    "CheckinAnswer",
    "CheckoutAnswer",
    "ItemInfo",
    "Message",
    "PatronInformation",
    "PatronStatus",
    "Sip2ChecksumError",
    "Sip2Client",
    "Sip2Config",
    "Sip2ConfigError",
    "Sip2Error",
    "Sip2LoginRejected",
    "Sip2ProtocolError",
    "Sip2Unavailable",
    "Sip2ValueError",
    "blocked_card_message",
    "status_flag_positions",
    "wire_barcode",
]
