"""The patron gate: every question to the patron system, and every password check, pass here.

- Login: per patron ID backoff and hourly cap, a soft delay per address (core/throttle.py);
  a failure is written to the Store before the refusal is answered, so a crash cannot
  forget it. Password checks (bcrypt, or the ILS) run a few at a time, handed out fairly
  between callers: one caller flooding made-up IDs waits behind itself, and is refused with
  `too_many_attempts` once it has more waiting than `MAX_WAITING_LOGINS_PER_CALLER`, while
  another caller's patron waits for at most the checks already running.
- The circuit breaker (core/breaker.py) answers `patron_system_unavailable` at once while the
  patron system is down; an ILS that is down when the site starts trips it and opens a
  repair issue, and the site runs on (rooms, locks, counter and automatic returns).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
import logging
import time

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util

from .backends import PatronBackend, PatronSystemDown
from .const import DOMAIN, LOGIN_QUEUE_SECONDS, LOGIN_SLOTS, MAX_WAITING_LOGINS_PER_CALLER
from .core.breaker import CircuitBreaker
from .core.errors import Reason, Refused
from .core.identity import mask_patron_id, normalize_patron_id, printable
from .core.limits import MAX_TEXT_LENGTH
from .core.model import Patron
from .core.throttle import LoginThrottle
from .library import Library

_LOGGER = logging.getLogger(__package__)


class FairSlots:
    """A few slots, handed out round-robin between callers, with a bounded queue per caller."""

    def __init__(self, slots: int, *, max_waiting: int, max_wait: float) -> None:
        self._free = slots
        self._max_waiting = max_waiting
        self._max_wait = max_wait
        self._queues: OrderedDict[str, deque[asyncio.Future[None]]] = OrderedDict()

    @property
    def waiting(self) -> int:
        """How many requests wait for a slot."""
        return sum(len(queue) for queue in self._queues.values())

    async def acquire(self, caller: str) -> None:
        """Take a slot, or Refused(TOO_MANY_ATTEMPTS) when the caller has too many waiting."""
        if self._free > 0 and not self._queues:
            self._free -= 1
            return
        queue = self._queues.setdefault(caller, deque())
        if len(queue) >= self._max_waiting:
            if not queue:
                del self._queues[caller]
            raise Refused(Reason.TOO_MANY_ATTEMPTS, retry_after="1")
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue.append(waiter)
        try:
            async with asyncio.timeout(self._max_wait):
                await waiter
        except BaseException as err:
            if waiter.done() and not waiter.cancelled():
                self.release()  # handed a slot just as we gave up: pass it on
            else:
                waiter.cancel()
                self._drop(caller, waiter)
            if isinstance(err, TimeoutError):
                raise Refused(Reason.TOO_MANY_ATTEMPTS, retry_after="1") from None
            raise

    def release(self) -> None:
        """Give the slot to the next caller in turn (each caller's oldest request first)."""
        while self._queues:
            caller, queue = next(iter(self._queues.items()))
            waiter = queue.popleft()
            if queue:
                self._queues.move_to_end(caller)
            else:
                del self._queues[caller]
            if not waiter.done():
                waiter.set_result(None)
                return
        self._free += 1

    def _drop(self, caller: str, waiter: asyncio.Future[None]) -> None:
        queue = self._queues.get(caller)
        if queue is not None and waiter in queue:
            queue.remove(waiter)
            if not queue:
                del self._queues[caller]


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
        self._slots = FairSlots(
            LOGIN_SLOTS, max_waiting=MAX_WAITING_LOGINS_PER_CALLER, max_wait=LOGIN_QUEUE_SECONDS
        )
        self.down = False  # the patron system did not answer its last health check

    @property
    def throttle(self) -> LoginThrottle:
        """The library's login throttle."""
        return self._library.throttle

    # --- logins ----------------------------------------------------------------------------

    async def async_login(
        self, patron_id: str, password: str, *, caller: str | None, address: str | None
    ) -> Patron:
        """Check credentials; one refusal for a wrong ID or password, the same time for both."""
        pid = normalize_patron_id(patron_id)
        return await self._async_throttled(
            pid,
            caller=caller,
            address=address,
            check=lambda: self.async_ask(
                lambda: self.backend.system.async_authenticate(pid, password)
            ),
        )

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
            check=lambda: directory.async_activate(pid, code, password, dt_util.now()),
        )

    async def _async_throttled(
        self,
        pid: str,
        *,
        caller: str | None,
        address: str | None,
        check: Callable[[], Awaitable[Patron]],
    ) -> Patron:
        """Run a credential check behind the throttle and the fair password-check slots.

        A wrong ID or secret counts against the ID and the address, and is on disk before
        it is answered.
        """
        delay = self.throttle.check(pid, address, time.monotonic())
        verdict = False
        try:
            if delay:
                await asyncio.sleep(delay)
            await self._slots.acquire(caller or address or "-")
            try:
                patron = await check()
            finally:
                self._slots.release()
        except Refused as refusal:
            if refusal.reason is Reason.INVALID_CREDENTIALS:
                verdict = True
                self.throttle.failure(pid, address, time.monotonic())
                await self._async_write_failure()
            raise
        else:
            verdict = True
            self.throttle.success(pid, address, time.monotonic())
            return patron
        finally:
            if not verdict:  # refused early, cancelled or the system failed: not the patron's
                self.throttle.release(pid, address, time.monotonic())

    async def _async_write_failure(self) -> None:
        """A failure is on disk before it is answered; a disk that fails still refuses."""
        try:
            await self._library.async_write()
        except Exception as err:  # noqa: BLE001 - the refusal stands whatever the disk says
            _LOGGER.error("Could not record a failed login: %s", printable(str(err), 200))

    async def async_clear_login_lock(self, patron_id: str) -> bool:
        """Staff at the counter end a patron's backoff (someone else's guesses locked them out)."""
        cleared = self.throttle.clear(normalize_patron_id(patron_id))
        if cleared:
            await self._library.async_write()
        return cleared

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
        return await self.async_ask(lambda: self.backend.system.async_find_by_card(card))

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
            raise
        except asyncio.CancelledError:
            self.breaker.release()
            raise
        except Exception as err:  # an unexpected failure of the backend: fail secure
            self.breaker.record(time.monotonic(), ok=False)
            _LOGGER.error("Patron system failed: %s", type(err).__name__)
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
