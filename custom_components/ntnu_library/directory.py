"""Staff manage the library's own patron directory: add, update and remove patrons.

Only a `local` site uses one (shared by every site of its library); with SIP2 the library's
ILS holds the patrons and these refuse with `patrons_managed_elsewhere`. Every change goes
through the library's one transaction (the directory's `commit`).
"""

from __future__ import annotations

from typing import Any

from homeassistant.util import dt as dt_util

from .auth.credentials import ACTIVATION_VALID
from .auth.local import LocalDirectory
from .core.categories import default_membership_expiry
from .core.errors import Reason, Refused
from .core.identity import mask_patron_id
from .core.model import Patron
from .gate import PatronGate
from .library import Library


def patron_summary(patron: Patron) -> dict[str, Any]:
    """What a staff service returns about a patron: nothing a log must not show."""
    return {
        "patron": mask_patron_id(patron.patron_id),
        "category": patron.category,
        "membership_expires": (
            patron.membership_expires.isoformat() if patron.membership_expires else None
        ),
        "suspended": patron.suspended,
        "card": patron.card is not None,
    }


def _activation_answer(code: str) -> dict[str, Any]:
    """The code, once, as response data, and until when it works."""
    expires = dt_util.now() + ACTIVATION_VALID
    return {"activation_code": code, "activation_expires": expires.isoformat(timespec="minutes")}


class DirectoryAdmin:
    """add_patron, update_patron and remove_patron of one site."""

    def __init__(
        self, *, directory: LocalDirectory | None, library: Library, gate: PatronGate
    ) -> None:
        self._directory = directory
        self._library = library
        self._gate = gate

    def _local(self) -> LocalDirectory:
        if self._directory is None:
            raise Refused(Reason.PATRONS_MANAGED_ELSEWHERE)
        return self._directory

    async def async_add_patron(self, **fields: Any) -> dict[str, Any]:
        """Add a patron; the category's membership period by default.

        The answer carries the patron's one-time activation code (staff hand it over; the
        patron chooses a password with it on the activation page).
        """
        directory = self._local()
        if fields.get("membership_expires") is None:
            fields["membership_expires"] = default_membership_expiry(
                fields["category"], dt_util.now().date()
            )
        patron = await directory.async_add_patron(fields.pop("patron_id"), **fields)
        code = await directory.async_issue_activation(patron.patron_id, dt_util.now())
        return patron_summary(patron) | _activation_answer(code)

    async def async_update_patron(
        self, patron_id: str, *, reset_password: bool = False, **changes: Any
    ) -> dict[str, Any]:
        """Change a patron; only the fields given change.

        `reset_password`: the old password stops working and the answer carries a new
        activation code.
        """
        directory = self._local()
        patron = await directory.async_update_patron(patron_id, **changes)
        answer = patron_summary(patron)
        if reset_password:
            code = await directory.async_issue_activation(patron.patron_id, dt_util.now())
            answer |= _activation_answer(code)
        return answer

    async def async_activate(
        self, patron_id: str, code: str, password: str, *, address: str | None
    ) -> dict[str, Any]:
        """The patron sets their own password with an activation code (the activation page)."""
        patron = await self._gate.async_activate(patron_id, code, password, address=address)
        return {"patron": mask_patron_id(patron.patron_id), "activated": True}

    async def async_remove_patron(self, patron_id: str) -> dict[str, Any]:
        """Remove a patron who holds no room (decided with every room of the library)."""
        directory = self._local()
        patron = await self._gate.async_known_patron(patron_id)

        def holds_nothing(pid: str) -> None:
            if (held := self._library.holds(pid)) is not None:
                raise Refused(Reason.ROOM_HAS_HOLDER, room=held)

        await directory.async_remove_patron(patron.patron_id, guard=holds_nothing)
        return {"patron": mask_patron_id(patron.patron_id), "removed": True}
