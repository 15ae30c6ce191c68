"""The SIP2 settings of a terminal (Sip2Config), checked once when they are made."""

from __future__ import annotations

from dataclasses import dataclass, field

from . import codec
from .codec import DEFAULT_ENCODING, Sip2Error


class Sip2ConfigError(Sip2Error, ValueError):
    """A setting that cannot work; `field` names it (the Sip2Config attribute)."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name


@dataclass(frozen=True, kw_only=True)
class Sip2Config:
    """How to reach the ACS, how the terminal logs in, and the character set of both ways.

    A subclass may add settings of its own: it calls `__post_init__` of this class first.
    """

    host: str
    port: int
    tls: bool = False
    verify_tls: bool = True
    institution: str = ""  # AO
    login_user: str | None = None  # CN of the 93 Login; None: the terminal does not log in
    login_password: str | None = field(default=None, repr=False)  # CO
    location: str = ""  # CP of the 93 Login
    terminal_password: str = field(default="", repr=False)  # AC, rarely used
    error_detection: bool = True  # AY/AZ on every request
    timeout: float = 5.0  # seconds for one request and its answer (connecting included)
    encoding: str = DEFAULT_ENCODING  # one of SIP2_ENCODINGS, both ways

    def __post_init__(self) -> None:
        if self.timeout <= 0:
            raise Sip2ConfigError("timeout", "must be positive")
        if not 0 < self.port < 65536:
            raise Sip2ConfigError("port", "out of range")
        try:
            codec.check_encoding(self.encoding)
        except ValueError as err:
            raise Sip2ConfigError("encoding", str(err)) from None
        # What the terminal sends on every connection must be sendable, or no request could be.
        for name in (
            "institution",
            "login_user",
            "login_password",
            "location",
            "terminal_password",
        ):
            value = getattr(self, name)
            if value is None:
                continue
            try:
                codec.check_text(value, name, self.encoding)
            except Sip2Error as err:
                raise Sip2ConfigError(name, str(err)) from None
