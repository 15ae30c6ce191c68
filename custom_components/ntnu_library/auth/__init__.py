"""Patron systems behind one protocol: the embedded local directory, SIP2 to the library's ILS.

No Home Assistant imports: the run time hands in what it needs (an executor for bcrypt, the
transaction that applies and writes a change of the directory: `Commit`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from ..core.model import Patron

__all__ = ["Commit", "PatronSystem", "apply_now"]


class PatronSystem(Protocol):
    """Who a patron is and whether the password is right.

    Patron IDs are compared after `normalize_patron_id`. Authentication says nothing about the
    right to borrow: an expired or suspended patron authenticates, and `core` refuses.
    """

    async def async_authenticate(self, patron_id: str, password: str) -> Patron:
        """Return the patron whose ID and password these are.

        Raises Refused(INVALID_CREDENTIALS) for an unknown ID and for a wrong password alike
        (same answer, same time), Refused(PATRON_SYSTEM_UNAVAILABLE) when the backend is down.
        """
        ...

    async def async_get_patron(self, patron_id: str) -> Patron | None:
        """Return the patron with this ID, or None."""
        ...

    async def async_find_by_card(self, card: str) -> Patron | None:
        """Return the patron holding this ID card (card tap at a door), or None."""
        ...

    async def async_find_by_name(self, name: str) -> list[Patron]:
        """Return the patrons with this name (counter return by name); homonyms are all listed."""
        ...


class Commit(Protocol):
    """Apply a change of `state` in the one transaction, and write it."""

    def __call__[T](self, state: Any, apply: Callable[[], T]) -> Awaitable[T]:
        """Run `apply` under the transaction; its result, once written."""
        ...


async def apply_now[T](state: Any, apply: Callable[[], T]) -> T:
    """A directory of its own (no Store): a change is applied at once."""
    return apply()
