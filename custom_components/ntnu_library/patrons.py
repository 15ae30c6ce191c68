"""The site's patron system, chosen by the entry: the local directory or the ILS over SIP2."""

from __future__ import annotations

from collections.abc import Mapping
import re
from typing import Any

from homeassistant.util.ssl import get_default_context, get_default_no_verify_context

from .auth.sip2 import Sip2Config, Sip2PatronSystem
from .const import (
    CONF_CARD_FIELD,
    CONF_CATEGORY_FIELD,
    CONF_CATEGORY_MAP,
    CONF_DEFAULT_CATEGORY,
    CONF_ERROR_DETECTION,
    CONF_HOST,
    CONF_INSTITUTION,
    CONF_LOCATION,
    CONF_LOGIN_PASSWORD,
    CONF_LOGIN_USER,
    CONF_PORT,
    CONF_TLS,
    CONF_VERIFY_TLS,
)

DEFAULT_CATEGORY = "friend_of_library"  # the smallest loan rights for an unknown patron type


def parse_category_map(text: str) -> dict[str, str]:
    """`ILS type=category; …` (commas or new lines also separate); ValueError if malformed."""
    found: dict[str, str] = {}
    for item in re.split(r"[;,\n]", text or ""):
        if not item.strip():
            continue
        ils_type, sep, category = item.partition("=")
        if not sep or not ils_type.strip() or not category.strip():
            raise ValueError(f"not TYPE=category: {item.strip()[:40]!r}")
        found[ils_type.strip()] = category.strip()
    return found


def sip2_config(data: Mapping[str, Any]) -> Sip2Config:
    """The SIP2 settings an entry (or a config flow form) holds; ValueError if inconsistent."""
    return Sip2Config(
        host=data[CONF_HOST],
        port=int(data[CONF_PORT]),
        tls=bool(data.get(CONF_TLS, False)),
        verify_tls=bool(data.get(CONF_VERIFY_TLS, True)),
        institution=data.get(CONF_INSTITUTION, ""),
        login_user=data.get(CONF_LOGIN_USER) or None,
        login_password=data.get(CONF_LOGIN_PASSWORD) or None,
        location=data.get(CONF_LOCATION, ""),
        error_detection=bool(data.get(CONF_ERROR_DETECTION, True)),
        category_field=data.get(CONF_CATEGORY_FIELD) or "PC",
        category_map=parse_category_map(data.get(CONF_CATEGORY_MAP, "")),
        default_category=data.get(CONF_DEFAULT_CATEGORY) or DEFAULT_CATEGORY,
        card_field=data.get(CONF_CARD_FIELD) or None,
    )


def sip2_patron_system(data: Mapping[str, Any]) -> Sip2PatronSystem:
    """A SIP2 client with Home Assistant's shared TLS context (loaded once, off the loop)."""
    config = sip2_config(data)
    context = None
    if config.tls:
        context = get_default_context() if config.verify_tls else get_default_no_verify_context()
    return Sip2PatronSystem(config, ssl_context=context)
