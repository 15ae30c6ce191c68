"""Placeholder: written next."""

from __future__ import annotations

from homeassistant.core import HomeAssistant

from .context import WebContext


def register(hass: HomeAssistant, context: WebContext) -> None:
    """Register this page's views."""
