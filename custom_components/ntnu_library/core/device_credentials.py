"""A patron's own browser, known by a credential it keeps (OWASP's "device cookies").

When a patron logs in on a browser, the page hands that browser a device credential for that
patron: a random device id, a tag of the patron's ID and a MAC over both with a key only this
Home Assistant holds. When the browser comes back for the same patron, the login throttle
counts its attempts on an allowance of that device alone (core/throttle.py) and the login
queue serves it first (core/login_queue.py): someone else guessing at the patron's ID slows
strangers down, never the patron on their own phone.

A credential is no login: the password is asked every time, and a stolen one gives its thief
only an allowance of their own. It names no patron (the tag is a keyed hash of the ID), so the
cookie tells nothing to whoever reads it. A browser keeps credentials for a few patrons (a
phone shared in a family, a lab's PC), the most recent first.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from typing import Final

from .identity import normalize_patron_id

# The cookie, kept by the browser for a year and sent only to the integration's own pages.
COOKIE_NAME: Final = "ntnu_device"
COOKIE_PATH: Final = "/ntnu_library/"
COOKIE_SECONDS: Final = 365 * 24 * 3600
# Credentials one browser keeps (the patrons who log in on it); the oldest goes first.
MAX_PER_BROWSER: Final = 4

_DEVICE_BYTES: Final = 12
_TAG_BYTES: Final = 12
_MAC_BYTES: Final = 12
_RAW_BYTES: Final = _DEVICE_BYTES + _TAG_BYTES + _MAC_BYTES
_CHARS: Final = _RAW_BYTES * 4 // 3
_CREDENTIAL: Final = re.compile(rf"^[A-Za-z0-9_-]{{{_CHARS}}}\Z")
_LABEL: Final = b"ntnu_library device credentials v1"


class DeviceCredentials:
    """Issue and read device credentials with a key derived from `key`."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("signing key too short")
        self._key = hmac.new(key, _LABEL, hashlib.sha256).digest()

    def device_for(self, cookie: str | None, patron_id: str) -> str | None:
        """The device id this browser holds for `patron_id`, or None (none, forged, another's)."""
        tag = self._tag(patron_id)
        for device, other in self._read(cookie):
            if hmac.compare_digest(other, tag):
                return device.hex()
        return None

    def remember(self, cookie: str | None, patron_id: str) -> str:
        """The cookie's new value, with this patron's credential first.

        The same device id as before, so its allowance carries on; then the others the
        browser holds, at most `MAX_PER_BROWSER` in all.
        """
        tag = self._tag(patron_id)
        held = self._read(cookie)
        mine = next((device for device, other in held if hmac.compare_digest(other, tag)), None)
        device = mine if mine is not None else secrets.token_bytes(_DEVICE_BYTES)
        others = [(d, t) for d, t in held if not hmac.compare_digest(t, tag)]
        kept = [(device, tag), *others][:MAX_PER_BROWSER]
        return ".".join(self._write(d, t) for d, t in kept)

    # --- inside ----------------------------------------------------------------------------

    def _tag(self, patron_id: str) -> bytes:
        data = b"patron\x00" + normalize_patron_id(patron_id).encode()
        return hmac.new(self._key, data, hashlib.sha256).digest()[:_TAG_BYTES]

    def _mac(self, body: bytes) -> bytes:
        return hmac.new(self._key, b"device\x00" + body, hashlib.sha256).digest()[:_MAC_BYTES]

    def _write(self, device: bytes, tag: bytes) -> str:
        body = device + tag
        return base64.urlsafe_b64encode(body + self._mac(body)).decode("ascii")

    def _read(self, cookie: str | None) -> list[tuple[bytes, bytes]]:
        """The authentic credentials of a cookie, as (device, tag); anything else is dropped."""
        if not cookie:
            return []
        found: list[tuple[bytes, bytes]] = []
        for part in cookie.split(".")[:MAX_PER_BROWSER]:
            if not _CREDENTIAL.match(part):
                continue
            try:
                raw = base64.urlsafe_b64decode(part)
            except (binascii.Error, ValueError):
                continue
            body, mac = raw[: _DEVICE_BYTES + _TAG_BYTES], raw[_DEVICE_BYTES + _TAG_BYTES :]
            if hmac.compare_digest(mac, self._mac(body)):
                found.append((body[:_DEVICE_BYTES], body[_DEVICE_BYTES:]))
        return found
