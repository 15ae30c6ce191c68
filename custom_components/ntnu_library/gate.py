"""The patron gate: every question to the patron system, and every password check, pass here.

- Login: per patron ID backoff and hourly cap, a soft delay per caller (client address, or
  Home Assistant user), and the patron's own known browser on an allowance of its own
  (core/throttle.py). A failure that must be kept (from an ID's fifth on; the free ones are
  not worth a write, so a flood of made-up IDs writes nothing) is written to the Store before
  the refusal is answered, so a crash cannot forget it. What is typed as an ID is never kept
  as typed: the throttle keys patron IDs (and the card numbers an ILS also takes as IDs,
  sharing their patron's budget once seen) by a keyed hash. Password checks (bcrypt, or the
  ILS) run a few at a time, handed out in turn (core/login_queue.py): the patron's known
  browser first, then callers that failed nothing lately, then the rest, each caller and
  each patron ID in turn.
- The circuit breaker (core/breaker.py) answers `patron_system_unavailable` at once while the
  patron system is down; an ILS that is down when the site starts trips it, and one that
  stops answering while the site runs opens it: either way a repair issue stays open until
  the minute's check finds it answering, and the site runs on (rooms, locks, counter and
  automatic returns).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
import logging
import time

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.util import dt as dt_util

from .backends import PatronBackend, PatronSystemDown
from .const import DOMAIN, LOGIN_SLOTS, MAX_LOGIN_ALIASES, signal_logins
from .core.breaker import BreakerState, CircuitBreaker
from .core.errors import Reason, Refused
from .core.identity import mask_patron_id, normalize_patron_id, printable
from .core.limits import MAX_TEXT_LENGTH
from .core.login_queue import Lane, LoginQueue, QueueLimits
from .core.model import Patron
from .core.throttle import LoginThrottle
from .library import Library

_LOGGER = logging.getLogger(__package__)


class PatronGate:
    """Logins, patron look-ups and the patron system's health, for one site."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry,
        *,
        backend: PatronBackend,
        library: Library,
    ) -> None:
        self._hass = hass
        self._entry = entry
        self.backend = backend
        # The library's: failures at one building count at every other.
        self._library = library
        self.breaker = CircuitBreaker()
        self._slots = LoginQueue(QueueLimits(slots=LOGIN_SLOTS))
        self.down = False  # the patron system did not answer its last health check

    @property
    def throttle(self) -> LoginThrottle:
        """The library's login throttle."""
        return self._library.throttle

    # --- logins ----------------------------------------------------------------------------

    def patron_key(self, patron_id: str) -> str:
        """How the throttle knows a typed ID: a keyed hash, or its patron's once seen."""
        key = self._library.login_key(patron_id)
        return self._library.aliases.get(key, key)

    async def async_login(
        self,
        patron_id: str,
        password: str,
        *,
        caller: str | None,
        address: str | None,
        device: str | None = None,
    ) -> Patron:
        """Check credentials; one refusal for a wrong ID or password, the same time for both.

        `device`: the patron's own browser, as a device credential the page checked for this
        ID; it logs in on an allowance of its own.
        """
        pid = normalize_patron_id(patron_id)
        patron = await self._async_throttled(
            pid,
            caller=caller,
            address=address,
            device=device,
            check=lambda: self.async_ask(
                lambda: self.backend.system.async_authenticate(pid, password)
            ),
        )
        self._learn(pid, patron)
        return patron

    async def async_card_login(
        self, card: str, *, caller: str | None, address: str | None
    ) -> Patron:
        """A card read at a self-checkout station, where the card alone identifies the patron.

        Throttled as a login: a card nobody holds is a failed login of the typed number (and
        of the caller), answered `invalid_credentials` like a wrong password.
        """

        async def check() -> Patron:
            patron = await self.async_ask(lambda: self.backend.system.async_find_by_card(card))
            if patron is None:
                raise Refused(Reason.INVALID_CREDENTIALS)
            return patron

        patron = await self._async_throttled(
            normalize_patron_id(card), caller=caller, address=address, device=None, check=check
        )
        self._learn(card, patron)
        return patron

    async def async_activate(
        self, patron_id: str, code: str, password: str, *, address: str | None
    ) -> Patron:
        """A patron chooses their password with an activation code (throttled as a login)."""
        directory = self.backend.directory
        if directory is None:
            raise Refused(Reason.PATRONS_MANAGED_ELSEWHERE)
        pid = normalize_patron_id(patron_id)
        return await self._async_throttled(
            pid,
            caller=None,
            address=address,
            device=None,
            check=lambda: directory.async_activate(pid, code, password, dt_util.now()),
        )

    async def _async_throttled(
        self,
        pid: str,
        *,
        caller: str | None,
        address: str | None,
        device: str | None,
        check: Callable[[], Awaitable[Patron]],
    ) -> Patron:
        """Run a credential check behind the throttle and the fair password-check slots.

        A wrong ID or secret counts against the ID (or the patron's own device) and the
        caller; once the ID's failures are worth keeping, it is on disk before it is answered.
        """
        key = self.patron_key(pid)
        source = address or caller or "-"  # whose soft delay: the address, or the user
        throttle = self.throttle
        delay = throttle.check(key, source, time.monotonic(), device=device)
        if device is not None:
            # The patron's own browser: its allowance is its limit, not its address's delay
            # (a campus NAT with a guesser behind it).
            delay = 0.0
            lane = Lane.TRUSTED
        elif throttle.address_failed(source, time.monotonic()):
            lane = Lane.SUSPECT
        else:
            lane = Lane.CLEAN
        verdict = False
        try:
            if delay:
                await asyncio.sleep(delay)
            async with self._slots.slot(caller or source, key, lane):
                patron = await check()
        except Refused as refusal:
            if refusal.reason is Reason.INVALID_CREDENTIALS:
                verdict = True
                if device is None and (known := self._library.directory.patron(pid)):
                    self._name(key, known.patron_id)  # staff see whom guesses are for
                if throttle.failure(key, source, time.monotonic(), device=device):
                    await self._async_write_failure()
                async_dispatcher_send(self._hass, signal_logins(self._library.library_id))
            raise
        else:
            verdict = True
            throttle.success(key, source, time.monotonic(), device=device)
            return patron
        finally:
            if not verdict:  # refused early, cancelled or the system failed: not the patron's
                throttle.release(key, source, time.monotonic(), device=device)

    def _learn(self, typed: str, patron: Patron) -> None:
        """The ID and card an ILS takes for this patron share the patron's budget from now."""
        aliases = self._library.aliases
        key = self._library.login_key(patron.patron_id)
        for other in (typed, patron.card):
            if other and (alias := self._library.login_key(other)) != key:
                aliases[alias] = key
                aliases.move_to_end(alias)
        while len(aliases) > MAX_LOGIN_ALIASES:
            aliases.popitem(last=False)
        self._name(key, patron.patron_id)

    def _name(self, key: str, patron_id: str) -> None:
        """A patron's keyed ID, named (masked) for the staff's count of failed logins."""
        names = self._library.names
        names[key] = mask_patron_id(patron_id) or "-"
        names.move_to_end(key)
        while len(names) > MAX_LOGIN_ALIASES:
            names.popitem(last=False)

    async def _async_write_failure(self) -> None:
        """A failure is on disk before it is answered; a disk that fails still refuses."""
        try:
            await self._library.async_write()
        except Exception as err:  # noqa: BLE001 - the refusal stands whatever the disk says
            _LOGGER.error("Could not record a failed login: %s", printable(str(err), 200))

    async def async_clear_login_lock(self, patron_id: str) -> bool:
        """Staff at the counter end a patron's backoff (someone else's guesses locked them out)."""
        cleared = self.throttle.clear(self.patron_key(patron_id))
        if cleared:
            await self._library.async_write()
        return cleared

    def login_lock(self, patron_id: str) -> tuple[int, float]:
        """A patron's failed logins in the last hour, and the seconds their ID must still wait."""
        return self.throttle.lock_status(self.patron_key(patron_id), time.monotonic())

    # --- look-ups ----------------------------------------------------------------------------

    async def async_known_patron(self, patron_id: str) -> Patron:
        """The patron with this ID, or Refused(UNKNOWN_PATRON)."""
        pid = normalize_patron_id(patron_id)
        patron = await self.async_ask(lambda: self.backend.system.async_get_patron(pid))
        if patron is None:
            raise Refused(Reason.UNKNOWN_PATRON, patron=mask_patron_id(pid) or "-")
        return patron

    def current(self, patron: Patron) -> Patron:
        """The patron's record as the library's own directory holds it now (in a decision).

        Who the patron is was settled before the decision (a password check takes a while);
        the local directory may have changed since: a patron removed meanwhile is refused, a
        suspension counts. The ILS answered just now and is taken as it answered.
        """
        directory = self.backend.directory
        if directory is None:
            return patron
        current = directory.patron(patron.patron_id)
        if current is None:
            raise Refused(Reason.UNKNOWN_PATRON, patron=mask_patron_id(patron.patron_id) or "-")
        return current

    async def async_find_by_card(self, card: str) -> Patron | None:
        """The patron holding this card (a tap at a door), or None."""
        patron = await self.async_ask(lambda: self.backend.system.async_find_by_card(card))
        if patron is not None:
            self._learn(card, patron)
        return patron

    async def async_resolve(self, patron_id: str | None, patron_name: str | None) -> str:
        """The ID of the one patron with this ID or name (counter return)."""
        if patron_id:
            return (await self.async_known_patron(patron_id)).patron_id
        name = patron_name or ""
        matches = await self.async_ask(lambda: self.backend.system.async_find_by_name(name))
        if len(matches) != 1:
            raise Refused(Reason.UNKNOWN_PATRON, patron=printable(name, MAX_TEXT_LENGTH)[:32])
        return matches[0].patron_id

    async def async_ask[T](self, request: Callable[[], Awaitable[T]]) -> T:
        """Every question to the patron system passes the circuit breaker."""
        started = time.monotonic()
        self.breaker.allow(started)
        try:
            answer = await request()
        except Refused as refusal:
            answered = refusal.reason is not Reason.PATRON_SYSTEM_UNAVAILABLE
            self.breaker.record(time.monotonic(), ok=answered, elapsed=time.monotonic() - started)
            if self.backend.login_rejected():
                self._entry.async_start_reauth(self._hass)
            if not answered:
                self._opened("no answer to a patron's request")
            raise
        except asyncio.CancelledError:
            self.breaker.release()
            raise
        except Exception as err:  # an unexpected failure of the backend: fail secure
            self.breaker.record(time.monotonic(), ok=False)
            _LOGGER.error("Patron system failed: %s", type(err).__name__)
            self._opened(type(err).__name__)
            raise Refused(Reason.PATRON_SYSTEM_UNAVAILABLE) from err
        self.breaker.record(time.monotonic(), ok=True, elapsed=time.monotonic() - started)
        if self.down:
            self._set_down(False, "")
        return answer

    # --- health ------------------------------------------------------------------------------

    async def async_check(self) -> None:
        """Ask the patron system whether it answers; a repair issue stays open while it does not.

        Raises PatronLoginRejected when it refuses the site's own account.
        """
        try:
            await self.backend.async_check()
        except PatronSystemDown as err:
            self.breaker.trip(time.monotonic())
            self._set_down(True, str(err))
            return
        self.breaker.reset()
        self._set_down(False, "")

    @callback
    def _opened(self, error: str) -> None:
        """Failures opened the breaker while the site runs: down until a check says otherwise."""
        if not self.down and self.breaker.state(time.monotonic()) is BreakerState.OPEN:
            self._set_down(True, error)

    @callback
    def _set_down(self, down: bool, error: str) -> None:
        issue_id = f"patron_system_down_{self._entry.entry_id}"
        if down and not self.down:
            _LOGGER.warning(
                "The patron system of %s does not answer; patron logins are refused until it "
                "does: %s",
                self._entry.title,
                printable(error, 200),
            )
            ir.async_create_issue(
                self._hass,
                DOMAIN,
                issue_id,
                is_fixable=False,
                severity=ir.IssueSeverity.ERROR,
                translation_key="patron_system_down",
                translation_placeholders={
                    "site": self._entry.title,
                    "error": printable(error, 200),
                },
            )
        elif not down and self.down:
            _LOGGER.info("The patron system of %s answers again", self._entry.title)
            ir.async_delete_issue(self._hass, DOMAIN, issue_id)
        self.down = down
