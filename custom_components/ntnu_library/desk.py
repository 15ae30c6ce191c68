"""The circulation desk of a site: self-checkout kiosks, 24-hour return boxes, the counter.

The rules are `core.circulation`'s; this is their run-time part. The loans, the catalogue and
what waits in the boxes are the library's (shared by its sites, kept in the library's Store);
the kiosks and boxes named in a site's options are that site's.

With `local` patrons, loans live here. With SIP2 the ILS holds them: before a decision the
patron's loans are read from the ILS (Patron Information, charged items) and each item is
asked for (Item Information); a checkout the rules allow is then made in the ILS (Checkout),
whose due date is the one shown; a scan-back checks the box's items in (Checkin). What the
ILS has not heard of yet (items waiting in a box) is kept here until the scan-back.

Every command: decide under the library's lock, write the Store (a failure changes nothing),
then tell the entities; findings in a box fire `ntnu_library_box_finding` and raise a repair
notice until the box is scanned back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime
import logging
from typing import Any, Final, TypeVar

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.util import dt as dt_util

from .auth.sip2.item_messages import CIRCULATION_CHARGED
from .backends import PatronBackend
from .const import CONF_KIOSKS, CONF_RETURN_BOXES, DOMAIN, signal_circulation_update
from .core.circulation import (
    BoxFinding,
    Circulation,
    CirculationPolicy,
    Item,
    Loan,
    RefusedItem,
    extend_membership,
    normalize_barcode,
    reactivate_membership,
)
from .core.errors import Reason, Refused
from .core.identity import mask_patron_id
from .core.model import Patron
from .core.study_rooms import Library
from .gate import PatronGate
from .library import LibraryHub

_LOGGER = logging.getLogger(__package__)

EVENT_BOX_FINDING: Final = f"{DOMAIN}_box_finding"
# The repair notice of a box with items set aside for staff.
BOX_ISSUE: Final = "box_findings"

_T = TypeVar("_T")

# Whose loan the ILS has made elsewhere (another terminal) until the patron is looked up.
LENT_ELSEWHERE: Final = "-"


def kiosks_of(options: Any) -> tuple[str, ...]:
    """The self-checkout kiosks a site's options name."""
    return tuple(options.get(CONF_KIOSKS) or ())


def boxes_of(options: Any) -> tuple[str, ...]:
    """The 24-hour return boxes a site's options name."""
    return tuple(options.get(CONF_RETURN_BOXES) or ())


def _receipt(lines: list[Any]) -> list[dict[str, str]]:
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
        hub: LibraryHub,
        gate: PatronGate,
        patrons: PatronBackend,
        library: Library,
    ) -> None:
        self._hass = hass
        self._entry = entry
        self._hub = hub
        self._gate = gate
        self._patrons = patrons
        self._library = library
        self.rules = Circulation(
            hub.circulation,
            CirculationPolicy.from_options(entry.options),
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
        pid = self._library.patron_of_ref(patron_id or "", dt_util.now()) or patron_id or ""
        return await self._gate.async_known_patron(pid)

    def _frozen(self, patron: Patron, now: datetime) -> tuple[bool, str | None]:
        freeze = self._library.frozen(patron.patron_id, now)
        if freeze is None:
            return False, None
        return True, freeze.until.isoformat(timespec="minutes")

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
        charged: set[str] = set()
        lookup = await self._async_ils_view(patron, items, charged=charged)
        now = dt_util.now()
        frozen, until = self._frozen(patron, now)
        result = await self._async_decide(
            lambda: self.rules.checkout(
                patron,
                items,
                now,
                frozen=frozen,
                frozen_until=until,
                kiosk=kiosk,
                lookup=lookup,
            )
        )
        receipt, refused = list(result.receipt), list(result.refused)
        if (ils := self._patrons.ils) is not None and receipt:
            receipt, refused = await self._async_ils_checkout(
                patron, receipt, refused, charged=charged, kiosk=kiosk
            )
        self._notify()
        return (
            {
                "patron": mask_patron_id(patron.patron_id),
                "receipt": _receipt(receipt),
                "refused": _refused(refused),
            }
            | ({"kiosk": kiosk} if kiosk else {})
            | ({"ils": True} if ils is not None else {})
        )

    async def async_checkin(self, items: list[str]) -> dict[str, Any]:
        """Items returned at the counter (an accompanying material, or a box's stray)."""
        at_ils: list[str] = []
        if self._patrons.ils is not None:
            for code in dict.fromkeys(normalize_barcode(raw) for raw in items):
                if code is not None and await self._async_ils_checkin(code, dt_util.now()):
                    at_ils.append(code)  # noqa: PERF401 - one ILS exchange after another
        now = dt_util.now()
        result = await self._async_decide(lambda: self.rules.checkin(items, now))
        # The ILS took back what it had lent, here or elsewhere.
        checked_in = list(dict.fromkeys([*result.checked_in, *at_ils]))
        refused = [x for x in result.refused if x.barcode not in at_ils]
        self._notify()
        return {"checked_in": checked_in, "refused": _refused(refused)}

    # --- kiosks ------------------------------------------------------------------------------

    async def async_kiosk_fault(self, kiosk: str, fault: str) -> dict[str, Any]:
        """A kiosk reports a fault: it refuses everyone until staff clear it."""
        await self._async_decide(lambda: self.rules.kiosk_fault(kiosk, fault))
        _LOGGER.warning("Self-checkout kiosk %s: fault %s", kiosk, fault)
        self._notify()
        return {"kiosk": kiosk, "fault": fault}

    async def async_clear_kiosk_fault(self, kiosk: str) -> dict[str, Any]:
        """The kiosk works again."""
        await self._async_decide(lambda: self.rules.clear_kiosk_fault(kiosk))
        self._notify()
        return {"kiosk": kiosk, "fault": None}

    # --- return boxes ----------------------------------------------------------------------

    async def async_drop(self, box: str, items: list[str]) -> dict[str, Any]:
        """Items dropped in a return box: loans wait for the scan-back; strays are set aside."""
        lookup = None
        if self._patrons.ils is not None:
            self.rules.box_status(box)  # an unknown box is refused before the ILS is asked
            charged: set[str] = set()
            lookup = await self._async_ils_items(items, charged=charged)
            self._take_loans_made_elsewhere(charged, lookup)
        now = dt_util.now()
        result = await self._async_decide(
            lambda: self.rules.drop_in_box(box, items, now, lookup=lookup)
        )
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
        now = dt_util.now()
        if self._patrons.ils is not None:
            waiting = [
                loan.barcode
                for loan in self._hub.circulation.loans.values()
                if loan.box == box and loan.dropped_at is not None
            ]
            for code in waiting:
                await self._async_ils_checkin(code, now)
        result = await self._async_decide(lambda: self.rules.scan_back(box, now))
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
        await self._async_ils_view(patron, [])
        now = dt_util.now()
        frozen, _ = self._frozen(patron, now)
        answer = self.rules.patron_loans(patron, now.date(), frozen=frozen)
        return {"patron": mask_patron_id(patron.patron_id)} | answer

    async def async_extend_membership(
        self, patron_id: str, until: date | None = None
    ) -> dict[str, Any]:
        """Extend a membership at the counter (the library's own directory only)."""
        directory = self._patrons.directory
        if directory is None:
            raise Refused(Reason.PATRONS_MANAGED_ELSEWHERE)
        patron = await self._patron(patron_id, None)
        changed = extend_membership(patron, dt_util.now().date(), until=until)
        await directory.async_update_patron(
            patron.patron_id, membership_expires=changed.membership_expires
        )
        await self._hub.storage.async_save()
        return {
            "patron": mask_patron_id(patron.patron_id),
            "membership_expires": (
                changed.membership_expires.isoformat() if changed.membership_expires else None
            ),
        }

    async def async_reactivate_membership(self, patron_id: str) -> dict[str, Any]:
        """A student back from suspension is reactivated at the counter."""
        directory = self._patrons.directory
        if directory is None:
            raise Refused(Reason.PATRONS_MANAGED_ELSEWHERE)
        patron = await self._patron(patron_id, None)
        reactivate_membership(patron, dt_util.now().date())
        await directory.async_update_patron(patron.patron_id, suspended=False)
        await self._hub.storage.async_save()
        return {"patron": mask_patron_id(patron.patron_id), "suspended": False}

    # --- the path ----------------------------------------------------------------------------

    async def _async_decide(self, decide: Callable[[], _T]) -> _T:
        """Decide under the library's lock and write the Store; a failure changes nothing."""
        state = self._hub.circulation
        async with self._hub.lock:
            before = state.snapshot()
            result = decide()  # a refusal changes nothing
            if state.snapshot() != before:
                await self._hub.storage.async_persist(lambda: state.restore(before))
        return result

    def _notify(self) -> None:
        """Every site of the library: a box or kiosk may be named by more than one."""
        for entry_id in self._hub.sites:
            async_dispatcher_send(self._hass, signal_circulation_update(entry_id))

    def _box_issue(self, box: str) -> None:
        """One notice per box of the library (its state is the library's)."""
        flagged = self.rules.box_status(box)["flagged"]
        issue_id = f"{BOX_ISSUE}_{self._hub.library_id}_{box}"
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

    # --- the ILS (SIP2) ----------------------------------------------------------------------

    async def _async_ils_items(
        self, barcodes: list[str], *, charged: set[str] | None = None
    ) -> Callable[[str], Item | None]:
        """The ILS's answer for each readable barcode, as a catalogue the rules can read.

        `charged` collects the items the ILS has on loan (to whomever).
        """
        ils = self._patrons.ils
        assert ils is not None
        found: dict[str, Item | None] = {}
        self._ils_due: dict[str, date] = {}
        for raw in barcodes[:200]:
            code = normalize_barcode(raw)
            if code is None or code in found:
                continue
            info = await self._gate.async_ask(
                lambda code=code: ils.async_item_information(code)  # type: ignore[misc]
            )
            if info is not None and info.circulation_status == CIRCULATION_CHARGED:
                if charged is not None:
                    charged.add(code)
                if info.due_date is not None:
                    self._ils_due[code] = info.due_date
            found[code] = (
                None
                if info is None
                else Item(
                    barcode=code,
                    title=info.title or code,
                    library_use_only=info.library_use_only,
                    accompanies=info.accompanies,
                )
            )
        return found.get

    def _take_loans_made_elsewhere(
        self, charged: set[str], lookup: Callable[[str], Item | None]
    ) -> None:
        """Loans the ILS made elsewhere, found in a box: kept until the scan-back checks them in.

        Whose they are is the ILS's to know; the patron's own look-up claims them.
        """
        loans = self._hub.circulation.loans
        today = dt_util.now().date()
        for code in charged:
            if code not in loans:
                item = lookup(code)
                loans[code] = Loan(
                    barcode=code,
                    patron_id=LENT_ELSEWHERE,
                    since=dt_util.now(),
                    due=self._ils_due.get(code, today),
                    title=item.title if item else "",
                )

    async def _async_ils_view(
        self, patron: Patron, barcodes: list[str], *, charged: set[str] | None = None
    ) -> Callable[[str], Item | None] | None:
        """With SIP2: the patron's loans as the ILS has them, and its answer for the items.

        Loans the ILS no longer lists were returned elsewhere; loans it lists that are not
        known here were made elsewhere (the counter, another kiosk). Items waiting in a box
        stay: the ILS hears of them at the scan-back.
        """
        ils = self._patrons.ils
        if ils is None:
            return None
        listing = await self._gate.async_ask(lambda: ils.async_charged_items(patron.patron_id))
        listed = {normalize_barcode(code) for code in (listing.items if listing else [])} - {None}
        loans = self._hub.circulation.loans
        now = dt_util.now()
        made_elsewhere: dict[str, Loan] = {}
        for code in sorted(
            c
            for c in listed
            if c is not None and (c not in loans or loans[c].patron_id == LENT_ELSEWHERE)
        ):
            if code in loans:  # found in a box: the patron's after all
                made_elsewhere[code] = replace(loans[code], patron_id=patron.patron_id)
                continue
            info = await self._gate.async_ask(
                lambda code=code: ils.async_item_information(code)  # type: ignore[misc]
            )
            due = (info.due_date if info else None) or self.rules.policy.loan_period_due(
                patron.category, now.date()
            )
            made_elsewhere[code] = Loan(
                barcode=code,
                patron_id=patron.patron_id,
                since=now,
                due=due,
                title=(info.title if info else "") or "",
            )
        async with self._hub.lock:  # the ILS was asked outside it: rooms do not wait for it
            loans = self._hub.circulation.loans  # read again: a restore replaces it
            for code, loan in list(loans.items()):
                if loan.patron_id == patron.patron_id and code not in listed and not loan.box:
                    del loans[code]
            for code, loan in made_elsewhere.items():
                if code not in loans or loans[code].patron_id == LENT_ELSEWHERE:
                    loans[code] = loan
        if not barcodes:
            return None
        return await self._async_ils_items(barcodes, charged=charged)

    async def _async_ils_checkout(
        self,
        patron: Patron,
        receipt: list[Any],
        refused: list[RefusedItem],
        *,
        charged: set[str],
        kiosk: str | None,
    ) -> tuple[list[Any], list[RefusedItem]]:
        """Make the loans the rules allowed in the ILS; its refusals undo them here.

        A checkout whose answer is lost may still have been made: the patron's loans at the
        ILS tell. An item the ILS has lent to someone else is `item_on_loan`.
        """
        ils = self._patrons.ils
        assert ils is not None
        kept: list[Any] = []
        undone = 0
        for line in receipt:
            ok, due, reason = await self._async_ils_lend(patron, line.barcode)
            async with self._hub.lock:
                loans = self._hub.circulation.loans  # read again: a restore replaces it
                if reason is not None:
                    refused.append(RefusedItem(barcode=line.barcode, reason=reason))
                if not ok:
                    if reason is not Reason.PATRON_SYSTEM_UNAVAILABLE:
                        loans.pop(line.barcode, None)
                    undone += 1
                    continue
                if due is not None:
                    line = replace(line, due=due)
                # A look-up of the patron meanwhile may have dropped it: the ILS has it now.
                loans[line.barcode] = Loan(
                    barcode=line.barcode,
                    patron_id=patron.patron_id,
                    since=dt_util.now(),
                    due=line.due,
                    title=line.title,
                )
                kept.append(line)
        if undone and kiosk is not None:
            async with self._hub.lock:
                kiosks = self._hub.circulation.kiosks
                if (state := kiosks.get(kiosk)) is not None:
                    kiosks[kiosk] = replace(state, loans_today=max(0, state.loans_today - undone))
        await self._hub.storage.async_save()
        return kept, [
            RefusedItem(barcode=x.barcode, reason=Reason.ITEM_ON_LOAN)
            if x.reason is Reason.ILS_REFUSED and x.barcode in charged
            else x
            for x in refused
        ]

    async def _async_ils_lend(
        self, patron: Patron, barcode: str
    ) -> tuple[bool, date | None, Reason | None]:
        """Checkout at the ILS: (made, its due date, why not).

        A checkout whose answer is lost may have been made: the patron's loans at the ILS tell.
        When even they cannot be read, the loan stays on the record here (the patron may be
        charged; the next look-up settles it) and the patron is told the ILS did not answer.
        """
        ils = self._patrons.ils
        assert ils is not None
        try:
            answer = await self._gate.async_ask(
                lambda: ils.async_checkout(patron.patron_id, barcode, no_block=False)
            )
        except Refused:
            try:
                charged = await self._gate.async_ask(
                    lambda: ils.async_charged_items(patron.patron_id)
                )
            except Refused:
                return False, None, Reason.PATRON_SYSTEM_UNAVAILABLE
            listed = {normalize_barcode(code) for code in (charged.items if charged else [])}
            if barcode in listed:
                return True, None, None
            return False, None, Reason.ILS_REFUSED
        if answer.ok:
            return True, answer.due_date, None
        return False, None, Reason.ILS_REFUSED

    async def _async_ils_checkin(self, code: str, when: datetime) -> bool:
        """Check an item in at the ILS: whether it had it on loan.

        An ILS that does not answer refuses the whole command (nothing changes here).
        """
        ils = self._patrons.ils
        assert ils is not None
        answer = await self._gate.async_ask(lambda: ils.async_checkin(code, return_date=when))
        return bool(answer.ok)
