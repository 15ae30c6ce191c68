"""The one place that knows how the Home Assistant releases the integration runs on differ.

- Admin services with a response: `async_register_admin_service` takes `supports_response`
  (and hands the response back) in newer releases; 2025.4 has neither, so there the same admin
  check (an unknown user or a non-administrator is refused; automations, with no user, pass)
  wraps the handler here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
import inspect

from homeassistant.core import HomeAssistant, ServiceCall, ServiceResponse, SupportsResponse
from homeassistant.exceptions import Unauthorized, UnknownUser
from homeassistant.helpers import service as service_helper
from homeassistant.helpers.typing import VolSchemaType

type ResponseHandler = Callable[[ServiceCall], Awaitable[ServiceResponse]]

_RESPONSE_AWARE = (
    "supports_response" in inspect.signature(service_helper.async_register_admin_service).parameters
)


def async_register_admin_service(
    hass: HomeAssistant,
    domain: str,
    service: str,
    handler: ResponseHandler,
    schema: VolSchemaType,
) -> None:
    """Register a service only administrators and automations may call; it may answer."""
    if _RESPONSE_AWARE:
        service_helper.async_register_admin_service(
            hass,
            domain,
            service,
            handler,  # type: ignore[arg-type,unused-ignore]
            schema,
            supports_response=SupportsResponse.OPTIONAL,  # type: ignore[call-arg,unused-ignore]
        )
        return

    async def admin_handler(call: ServiceCall) -> ServiceResponse:
        if call.context.user_id:
            user = await hass.auth.async_get_user(call.context.user_id)
            if user is None:
                raise UnknownUser(context=call.context)
            if not user.is_admin:
                raise Unauthorized(context=call.context)
        return await handler(call)

    hass.services.async_register(
        domain, service, admin_handler, schema, supports_response=SupportsResponse.OPTIONAL
    )
