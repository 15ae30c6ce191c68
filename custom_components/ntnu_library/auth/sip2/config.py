"""The SIP2 settings (Sip2Config), checked once when they are made."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from ...core.categories import CATEGORIES
from . import codec
from .codec import DEFAULT_ENCODING, Sip2Error
from .patron_info import DEFAULT_REFUSING_FLAGS, MOST_RESTRICTED_CATEGORY, PATRON_STATUS_FLAGS


class Sip2ConfigError(ValueError):
    """A setting that cannot work; `field` names it (the Sip2Config attribute)."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name


@dataclass(frozen=True, kw_only=True)
class Sip2Config:
    """How to reach the ILS and how to read its answers."""

    host: str
    port: int
    tls: bool = False
    verify_tls: bool = True
    institution: str = ""
    login_user: str | None = None
    login_password: str | None = field(default=None, repr=False)
    location: str = ""
    terminal_password: str = field(default="", repr=False)  # AC, rarely used
    error_detection: bool = True
    timeout: float = 5.0
    encoding: str = DEFAULT_ENCODING  # one of SIP2_ENCODINGS, both ways
    category_field: str = "PC"
    # ILS patron type -> our category key; a value that is already a key passes unchanged. A
    # type neither maps gets MOST_RESTRICTED_CATEGORY and is reported (on_unmapped_category).
    category_map: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    # For a patron whose record carries no type at all (many ILSs never send one).
    default_category: str = MOST_RESTRICTED_CATEGORY
    # Patron status flags that refuse a room: names of PATRON_STATUS_FLAGS or their positions,
    # held as a frozenset of positions once checked.
    refusing_flags: Collection[int | str] = DEFAULT_REFUSING_FLAGS
    card_field: str | None = None  # a vendor field carrying the card number, if any

    def __post_init__(self) -> None:
        if self.default_category not in CATEGORIES:
            raise Sip2ConfigError("default_category", f"unknown category {self.default_category!r}")
        for key in self.category_map.values():
            if key not in CATEGORIES:
                raise Sip2ConfigError("category_map", f"unknown category {key!r}")
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
        object.__setattr__(self, "refusing_flags", flag_positions(self.refusing_flags))


def flag_positions(flags: Collection[int | str]) -> frozenset[int]:
    """Return the positions of patron status flags given by name or position.

    Raises Sip2ConfigError("refusing_flags") for anything else.
    """
    if isinstance(flags, str):  # one name is not a collection of letters
        flags = (flags,)
    positions: set[int] = set()
    for flag in flags:
        if isinstance(flag, str) and flag in PATRON_STATUS_FLAGS:
            positions.add(PATRON_STATUS_FLAGS.index(flag))
        elif (
            isinstance(flag, int)
            and not isinstance(flag, bool)
            and 0 <= flag < len(PATRON_STATUS_FLAGS)
        ):
            positions.add(flag)
        else:
            raise Sip2ConfigError("refusing_flags", f"unknown patron status flag {flag!r}")
    return frozenset(positions)
