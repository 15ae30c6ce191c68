"""The integration's limits on what people and devices send, each defined once.

Pure values: the rules (`core`), the patron systems, the services, the websocket command and
the public pages all take their bounds from here.
"""

from __future__ import annotations

from typing import Final

# Patron IDs (staff / student numbers, ILS barcodes) and card numbers, as typed or read.
MAX_ID_LENGTH: Final = 32
MAX_CARD_LENGTH: Final = 64
# A password as typed (bcrypt itself reads at most 72 bytes of it).
MAX_PASSWORD_LENGTH: Final = 256
# Room ids: what the e-label, the QR code and the entity ids carry.
ROOM_ID_PATTERN: Final = r"^[A-Z0-9][A-Z0-9-]{0,15}\Z"
MAX_ROOM_NAME_LENGTH: Final = 64
MAX_FLOOR_LENGTH: Final = 16
MAX_SITE_NAME_ZH: Final = 64  # a site's own name in Chinese
# Free text from staff and automations (freeze reasons, names).
MAX_TEXT_LENGTH: Final = 200
# A long-term room is reserved at most this many months ahead.
MAX_MONTHS_AHEAD: Final = 12
# Doors: an unlocked door is locked again after this many seconds when nobody opened it
# (option `relock_after_s`, 0: never).
DEFAULT_RELOCK_AFTER_S: Final = 10
MAX_RELOCK_AFTER_S: Final = 600
