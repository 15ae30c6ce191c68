"""The one place that turns the integration's own errors into Home Assistant's translated ones.

A refusal of the request (the rules, a wrong password, a bad value) is Home Assistant's
`ServiceValidationError`: the caller can do something about it. A patron system, radio or
lock that cannot be reached is a `HomeAssistantError`: the request was fine, a part failed.
Both carry the refusal's reason as their translation key.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from homeassistant.exceptions import HomeAssistantError, ServiceValidationError

from .const import DOMAIN
from .core.errors import UNREACHABLE, Reason, Refused
from .core.identity import mask_patron_id, printable
from .zigbee.radio import RadioError


def refusal_error(refusal: Refused) -> HomeAssistantError:
    """A refusal, as the translated error people see."""
    placeholders = {key: printable(value, 64) for key, value in refusal.placeholders.items()}
    # core names the patron in full; messages end up in logs and traces.
    # UNKNOWN_PATRON may carry a name looked up at the counter, already shortened.
    if "patron" in placeholders and refusal.reason is not Reason.UNKNOWN_PATRON:
        placeholders["patron"] = mask_patron_id(placeholders["patron"]) or "-"
    kind = HomeAssistantError if refusal.reason in UNREACHABLE else ServiceValidationError
    return kind(
        translation_domain=DOMAIN,
        translation_key=refusal.reason.value,
        translation_placeholders=placeholders,
    )


def radio_error(err: RadioError) -> HomeAssistantError:
    """The radio could not do what was asked."""
    return HomeAssistantError(
        translation_domain=DOMAIN,
        translation_key="radio_not_ready",
        translation_placeholders={"error": printable(str(err), 200)},
    )


def door_error(room_id: str, door: str, *, lock_online: bool) -> HomeAssistantError | None:
    """A command's bolt that did not move, for a caller that must fail (the lock entity)."""
    if door not in ("unlock_failed", "lock_failed"):
        return None
    return HomeAssistantError(
        translation_domain=DOMAIN,
        translation_key="lock_command_failed" if lock_online else "lock_offline",
        translation_placeholders={"room": room_id},
    )


@contextmanager
def translated_errors() -> Iterator[None]:
    """Refusals and radio errors raised inside become Home Assistant's translated errors."""
    try:
        yield
    except Refused as refusal:
        raise refusal_error(refusal) from None
    except RadioError as err:
        raise radio_error(err) from err
