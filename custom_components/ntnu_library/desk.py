"""The circulation desk of a site: self-checkout kiosks, 24-hour return boxes, the counter.

The rules are `core.circulation`'s; the loans, the catalogue and what waits in the boxes are
the library's (shared by its sites, kept in the library's Store); the kiosks and boxes named in
a site's options are that site's. Who else keeps the loans — nobody, or the library's ILS — is
the site's loan backend (loans.py): it is asked before a decision, outside the library's
transaction, and what it said is handed to the rules inside it.

Every command: ask the backend, decide in the one transaction (a refusal or a failed write
changes nothing), then make the loans in the ILS where it keeps them, then tell the entities;
findings in a box fire `ntnu_library_box_finding` and raise a repair notice until the box is
scanned back.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
import logging
from typing import Any, Final

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.util import dt as dt_util

from .const import CONF_KIOSKS, CONF_RETURN_BOXES, DOMAIN, signal_circulation_update
from .core.circulation import Circulation, CirculationPolicy
from .core.circulation_state import BoxFinding, CheckoutResult, ReceiptLine, RefusedItem
from .core.errors import Reason, Refused
from .core.identity import mask_patron_id
from .core.loans_elsewhere import (
    follow_patron_loans,
    lent_receipt,
    settle_lent,
    take_lent_elsewhere,
)
from .core.membership import extend_membership, reactivate_membership
from .core.model import Patron
from .core.study_rooms import StudyRooms
from .gate import PatronGate
from .library import Library
from .loans import LoanBackend, LoanView

_LOGGER = logging.getLogger(__package__)

EVENT_BOX_FINDING: Final = f"{DOMAIN}_box_finding"
# The repair notice of a box with items set aside for staff.
BOX_ISSUE: Final = "box_findings"


def kiosks_of(options: Any) -> tuple[str, ...]:
    """The self-checkout kiosks a site's options name."""
    return tuple(options.get(CONF_KIOSKS) or ())


def boxes_of(options: Any) -> tuple[str, ...]:
    """The 24-hour return boxes a site's options name."""
    return tuple(options.get(CONF_RETURN_BOXES) or ())


def _receipt(lines: list[ReceiptLine]) -> list[dict[str, str]]:
    return [{"barcode": x.barcode, "title": x.title, "due": x.due.isoformat()} for x in lines]


def _refused(items: list[RefusedItem]) -> list[dict[str, str]]:
    return [{"barcode": x.barcode, "reason": x.reason.value} for x in items]


def _findings(findings: list[BoxFinding]) -> list[dict[str, str]]:
    return [{"barcode": f.barcode, "reason": f.reason.value} for f in findings]


class CirculationDesk:
    """The kiosks, return boxes and counter circulation of one site."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry,
        *,
        library: Library,
        rooms: StudyRooms,
        gate: PatronGate,
        loans: LoanBackend,
        policy: CirculationPolicy,
    ) -> None:
        self._hass = hass
        self._entry = entry
        self._library = library
        self._rooms = rooms  # the freezes and refs of the study-room rules
        self._gate = gate
        self._loans = loans
        self.rules = Circulation(
            library.circulation,
            policy,
            boxes=boxes_of(entry.options),
            kiosks=kiosks_of(entry.options),
        )

    # --- what entities read ----------------------------------------------------------------

    @property
    def kiosks(self) -> tuple[str, ...]:
        """The site's kiosks."""
        return self.rules.kiosks

    @property
    def boxes(self) -> tuple[str, ...]:
        """The site's return boxes."""
        return self.rules.boxes

    def kiosk_status(self, kiosk: str) -> dict[str, Any]:
        """A kiosk's fault (None: ready) and today's loans."""
        return self.rules.kiosk_status(kiosk, dt_util.now().date())

    def box_status(self, box: str) -> dict[str, Any]:
        """Items awaiting scan-back in a box, the oldest drop, the items set aside."""
        return self.rules.box_status(box)

    # --- patrons ---------------------------------------------------------------------------

    async def _patron(self, patron_id: str | None, card: str | None) -> Patron:
        if card:
            patron = await self._gate.async_find_by_card(card)
            if patron is None:
                raise Refused(Reason.UNKNOWN_PATRON, patron="-")
            return patron
        pid = self._rooms.patron_of_ref(patron_id or "", dt_util.now()) or patron_id or ""
        return await self._gate.async_known_patron(pid)

    def _frozen(self, patron: Patron, now: datetime) -> tuple[bool, str | None]:
        freeze = self._rooms.frozen(patron.patron_id, now)
        if freeze is None:
            return False, None
        return True, freeze.until.isoformat(timespec="minutes")

    def _follow(self, view: LoanView, patron: Patron) -> None:
        """In a decision: the patron's loans as the ILS listed them."""
        if view.listed is not None:
            follow_patron_loans(
                self._library.circulation, patron.patron_id, view.listed, view.lent_elsewhere
            )

    async def _async_decide[T](self, decide: Callable[[datetime], T]) -> T:
        """Decide in the library's transaction: circulation is what it may change."""
        return await self._library.transaction.async_run(decide, self._library.kept_circulation)

    # --- lending ---------------------------------------------------------------------------

    async def async_checkout(
        self,
        *,
        items: list[str],
        patron_id: str | None = None,
        card: str | None = None,
        kiosk: str | None = None,
    ) -> dict[str, Any]:
        """Lend items at a kiosk (or at the counter without `kiosk`): a receipt and refusals."""
        if kiosk is not None:
            if kiosk not in self.kiosks:
                raise Refused(Reason.UNKNOWN_KIOSK, kiosk=kiosk[:32])
            if (fault := self.kiosk_status(kiosk)["fault"]) is not None:
                raise Refused(Reason.KIOSK_FAULT, kiosk=kiosk, fault=fault)
        patron = await self._patron(patron_id, card)
        view = await self._loans.async_view(patron, items)

        def checkout(now: datetime) -> CheckoutResult:
            self._follow(view, patron)
            frozen, until = self._frozen(patron, now)
            return self.rules.checkout(
                self._gate.current(patron),
                items,
                now,
                frozen=frozen,
                frozen_until=until,
                kiosk=kiosk,
                lookup=view.lookup,
            )

        result: CheckoutResult = await self._async_decide(checkout)
        answers = await self._loans.async_lend(patron, result.receipt) if result.receipt else None
        if answers is not None:
            lines = list(result.receipt)
            result = lent_receipt(lines, answers, result.refused, view.on_loan)
            try:
                await self._async_decide(
                    lambda now: settle_lent(
                        self._library.circulation,
                        patron.patron_id,
                        lines,
                        answers,
                        now,
                        kiosk=kiosk,
                    )
                )
            except HomeAssistantError as err:
                # The ILS made its loans: they are the patron's; its next look-up records them.
                _LOGGER.error("Loans made in the ILS not recorded here: %s", err)
        self._notify()
        return (
            {
                "patron": mask_patron_id(patron.patron_id),
                "receipt": _receipt(result.receipt),
                "refused": _refused(result.refused),
            }
            | ({"kiosk": kiosk} if kiosk else {})
            | ({"ils": True} if self._loans.ils else {})
        )

    async def async_checkin(self, items: list[str]) -> dict[str, Any]:
        """Items returned at the counter (an accompanying material, or a box's stray)."""
        at_ils = await self._loans.async_check_in(items, dt_util.now())
        result = await self._async_decide(lambda now: self.rules.checkin(items, now))
        # The ILS took back what it had lent, here or elsewhere.
        checked_in = list(dict.fromkeys([*result.checked_in, *at_ils]))
        refused = [x for x in result.refused if x.barcode not in at_ils]
        self._notify()
        return {"checked_in": checked_in, "refused": _refused(refused)}

    # --- kiosks ------------------------------------------------------------------------------

    async def async_kiosk_fault(self, kiosk: str, fault: str) -> dict[str, Any]:
        """A kiosk reports a fault: it refuses everyone until staff clear it."""
        await self._async_decide(lambda _now: self.rules.kiosk_fault(kiosk, fault))
        _LOGGER.warning("Self-checkout kiosk %s: fault %s", kiosk, fault)
        self._notify()
        return {"kiosk": kiosk, "fault": fault}

    async def async_clear_kiosk_fault(self, kiosk: str) -> dict[str, Any]:
        """The kiosk works again."""
        await self._async_decide(lambda _now: self.rules.clear_kiosk_fault(kiosk))
        self._notify()
        return {"kiosk": kiosk, "fault": None}

    # --- return boxes ----------------------------------------------------------------------

    async def async_drop(self, box: str, items: list[str]) -> dict[str, Any]:
        """Items dropped in a return box: loans wait for the scan-back; strays are set aside."""
        self.rules.box_status(box)  # an unknown box is refused before the ILS is asked
        view = await self._loans.async_view(None, items)

        def drop(now: datetime) -> Any:
            if view.on_loan and view.lookup is not None:
                state = self._library.circulation
                take_lent_elsewhere(state, view.on_loan, view.lookup, view.due, now)
            return self.rules.drop_in_box(box, items, now, lookup=view.lookup)

        result = await self._async_decide(drop)
        for finding in result.flagged:
            self._hass.bus.async_fire(
                EVENT_BOX_FINDING,
                {
                    "site": self._entry.title,
                    "box": finding.box,
                    "barcode": finding.barcode,
                    "reason": finding.reason.value,
                },
            )
        self._box_issue(box)
        self._notify()
        return {"box": box, "accepted": result.accepted, "flagged": _findings(result.flagged)}

    async def async_scan_back(self, box: str) -> dict[str, Any]:
        """Staff (or an automation at opening) scan back a box: its loans are checked in."""
        self.rules.box_status(box)  # an unknown box is refused before anything is asked
        waiting = [
            loan.barcode
            for loan in self._library.circulation.loans.values()
            if loan.box == box and loan.dropped_at is not None
        ]
        await self._loans.async_check_in(waiting, dt_util.now())
        result = await self._async_decide(lambda now: self.rules.scan_back(box, now))
        self._box_issue(box)
        self._notify()
        return {
            "box": box,
            "checked_in": result.checked_in,
            "flagged": _findings(result.flagged),
        }

    # --- patrons' loans and memberships -----------------------------------------------------

    async def async_patron_loans(self, patron_id: str) -> dict[str, Any]:
        """A patron's category, limit, period, loans, what remains, and their membership."""
        patron = await self._patron(patron_id, None)
        view = await self._loans.async_view(patron, [])
        if view.listed is not None:
            await self._async_decide(lambda _now: self._follow(view, patron))
        now = dt_util.now()
        frozen, _ = self._frozen(patron, now)
        answer = self.rules.patron_loans(patron, now.date(), frozen=frozen)
        return {"patron": mask_patron_id(patron.patron_id)} | answer

    async def async_extend_membership(
        self, patron_id: str, until: date | None = None
    ) -> dict[str, Any]:
        """Extend a membership at the counter (the library's own directory only)."""
        directory = self._gate.backend.directory
        if directory is None:
            raise Refused(Reason.PATRONS_MANAGED_ELSEWHERE)
        patron = await self._patron(patron_id, None)
        today = dt_util.now().date()
        changed = await directory.async_change(
            patron.patron_id, lambda current: extend_membership(current, today, until=until)
        )
        expires = changed.membership_expires
        return {
            "patron": mask_patron_id(patron.patron_id),
            "membership_expires": expires.isoformat() if expires else None,
        }

    async def async_reactivate_membership(self, patron_id: str) -> dict[str, Any]:
        """A student back from suspension is reactivated at the counter."""
        directory = self._gate.backend.directory
        if directory is None:
            raise Refused(Reason.PATRONS_MANAGED_ELSEWHERE)
        patron = await self._patron(patron_id, None)
        today = dt_util.now().date()
        await directory.async_change(
            patron.patron_id, lambda current: reactivate_membership(current, today)
        )
        return {"patron": mask_patron_id(patron.patron_id), "suspended": False}

    # --- telling ---------------------------------------------------------------------------

    def _notify(self) -> None:
        """Every site of the library: a box or kiosk may be named by more than one."""
        for entry_id in self._library.buildings:
            async_dispatcher_send(self._hass, signal_circulation_update(entry_id))

    def _box_issue(self, box: str) -> None:
        """One notice per box of the library (its state is the library's)."""
        flagged = self.rules.box_status(box)["flagged"]
        issue_id = f"{BOX_ISSUE}_{self._library.library_id}_{box}"
        if not flagged:
            ir.async_delete_issue(self._hass, DOMAIN, issue_id)
            return
        ir.async_create_issue(
            self._hass,
            DOMAIN,
            issue_id,
            is_fixable=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key=BOX_ISSUE,
            translation_placeholders={
                "site": self._entry.title,
                "box": box,
                "count": str(flagged),
            },
        )
