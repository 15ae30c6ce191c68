"""A patron's browser on the reservation page, over real HTTP, with cookies of its own."""

from __future__ import annotations

import re
from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient

from custom_components.ntnu_library.web.context import RESERVE_PATH

from ..conftest import PASSWORD
from .test_room_page import text_of, token_of

_PROBLEM = re.compile(r'<section class="card result refused"[^>]*>(.*?)</section>', re.S)
_RESULT = re.compile(r'<section class="card result" id="result"[^>]*>(.*?)</section>', re.S)


class Browser:
    """One browser: its own cookie jar (its session), the page it shows, the forms on it."""

    def __init__(self, client: TestClient, lang: str = "en") -> None:
        self.session = aiohttp.ClientSession(
            base_url=client.make_url("/"), cookie_jar=aiohttp.CookieJar(unsafe=True)
        )
        self.lang = lang
        self.page = ""
        self.status = 0
        self.headers: Any = {}
        self.cookies: Any = {}

    async def __aenter__(self) -> Browser:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.session.close()

    @property
    def text(self) -> str:
        """The page as a patron reads it."""
        return " ".join(text_of(self.page).split())

    @property
    def problem(self) -> str:
        """The refusal the page shows ('' if none)."""
        match = _PROBLEM.search(self.page)
        return " ".join(text_of(match.group(1)).split()) if match else ""

    @property
    def result(self) -> str:
        """The result the page shows ('' if none)."""
        match = _RESULT.search(self.page)
        return " ".join(text_of(match.group(1)).split()) if match else ""

    async def get(self, path: str = RESERVE_PATH) -> int:
        """Open a page in the browser's language."""
        response = await self.session.get(path, params={"lang": self.lang})
        return await self._show(response)

    async def post(self, *, token: str | None = None, **fields: str) -> int:
        """Send a form of the page shown (its token unless told otherwise)."""
        data = {"token": token_of(self.page) if token is None else token, "lang": self.lang}
        response = await self.session.post(RESERVE_PATH, data=data | fields)
        status = await self._show(response)
        assert PASSWORD not in self.page
        return status

    async def login(self, patron_id: str, password: str = PASSWORD) -> int:
        """Open the page and log in."""
        await self.get()
        return await self.post(action="login", patron_id=patron_id, password=password)

    async def choose(self, room: str, month: str) -> int:
        """Pick a room for a month (the page then asks to confirm)."""
        return await self.post(action="choose", room=room, month=month)

    async def reserve(self, room: str, month: str) -> int:
        """Pick a room and confirm it; the status of the last step."""
        status = await self.choose(room, month)
        if status != 200:
            return status
        return await self.post(action="reserve", room=room, month=month)

    async def cancel(self, room: str, month: str) -> int:
        """Ask to cancel a reservation and confirm it; the status of the last step."""
        status = await self.post(action="ask_cancel", room=room, month=month)
        if status != 200:
            return status
        return await self.post(action="cancel", room=room, month=month)

    async def _show(self, response: aiohttp.ClientResponse) -> int:
        self.page = await response.text()
        self.status = response.status
        self.headers = response.headers
        self.cookies = response.cookies
        return response.status
