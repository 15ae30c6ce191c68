"""Patron systems behind one protocol: the embedded local directory, SIP2 to the library's ILS.

No Home Assistant imports: the runtime hands in what it needs (an executor, a save callback).
"""

from __future__ import annotations

from typing import Protocol

from ..core.model import Patron

__all__ = ["PatronSystem"]


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
