"""The connection to the ACS: one request and its answer at a time, over TCP, TLS optional.

One connection, used serially behind a lock (most ACSs allow one SIP session per terminal and
answer strictly in order). A dropped connection is reopened, and the terminal logged in again,
once per request. A timeout closes the connection: a late answer would otherwise be read as the
answer to the next question. With error detection a bad checksum is answered by one 97 (Request
ACS Resend), as the spec asks; a second bad answer fails that request.
"""

from __future__ import annotations

import asyncio
import logging
import ssl

from . import codec
from .codec import Message, Sip2ChecksumError, Sip2Error, Sip2ProtocolError
from .config import Sip2Config

_LOGGER = logging.getLogger(__name__)


class Sip2Unavailable(Sip2Error):
    """The ACS cannot be reached, closed the connection or did not answer in time."""


class Sip2LoginRejected(Sip2Error):
    """The ACS refused the terminal's SIP login (93 answered with ok=0)."""


class _Dropped(Exception):
    """The connection closed under us (EOF, reset, broken pipe)."""


class Sip2Connection:
    """The terminal's SIP session with the ACS, opened (and logged in) when first needed."""

    def __init__(self, config: Sip2Config, ssl_context: ssl.SSLContext | None = None) -> None:
        self.config = config
        self._ssl_context = ssl_context
        self._lock = asyncio.Lock()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._sequence = 0
        self.requests = 0  # answers read from the ACS

    async def request(self, request: Message, expect: str) -> Message:
        """Send one request and return its answer; reconnect once on a dropped connection.

        Raises Sip2Unavailable, Sip2LoginRejected, Sip2ProtocolError for an answer that cannot
        be read (or is not the `expect` one), Sip2ValueError for a request that cannot be sent.
        """
        async with self._lock:
            for attempt in range(2):
                fresh = self._writer is None
                try:
                    async with asyncio.timeout(self.config.timeout):
                        if fresh:
                            await self._connect()
                        return await self._exchange(request, expect)
                except _Dropped:
                    await self._disconnect()
                    if fresh or attempt:
                        raise Sip2Unavailable("connection closed by the ACS") from None
                    _LOGGER.debug("SIP2 connection dropped, reconnecting")
                except TimeoutError:
                    await self._disconnect()
                    raise Sip2Unavailable("timed out") from None
                except ssl.SSLError as err:
                    await self._disconnect()
                    raise Sip2Unavailable(f"TLS: {err.reason}") from None
                except OSError as err:
                    await self._disconnect()
                    raise Sip2Unavailable(f"network: {type(err).__name__}") from None
                except BaseException:  # the other Sip2Errors, cancellation
                    await self._disconnect()
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def close(self) -> None:
        """Close the connection (after the request in flight, if any)."""
        async with self._lock:
            await self._disconnect()

    async def _connect(self) -> None:
        config = self.config
        context: ssl.SSLContext | None = None
        if config.tls:
            context = self._ssl_context or _client_context(verify=config.verify_tls)
        self._reader, self._writer = await asyncio.open_connection(
            config.host,
            config.port,
            ssl=context,
            server_hostname=config.host if context else None,
            limit=codec.MAX_LINE,
        )
        self._sequence = 0
        if config.login_user:
            request = codec.login(config.login_user, config.login_password or "", config.location)
            answer = await self._exchange(request, codec.LOGIN_RESPONSE)
            if answer.fixed != "1":
                raise Sip2LoginRejected("the ACS refused the SIP login")

    async def _disconnect(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is None:
            return
        writer.close()
        try:
            async with asyncio.timeout(1):
                await writer.wait_closed()
        except (OSError, TimeoutError):
            pass

    async def _exchange(self, request: Message, expect: str) -> Message:
        detect = self.config.error_detection
        encoding = self.config.encoding
        sequence: int | None = None
        if detect:
            sequence = self._sequence
            self._sequence = (self._sequence + 1) % 10
        line = codec.encode(
            Message(request.command, request.fixed, request.fields, sequence),
            error_detection=detect,
            encoding=encoding,
        )
        await self._send(line)
        for again in (False, True):
            raw = await self._read_line()
            try:
                answer = codec.decode(raw, encoding=encoding)
            except Sip2ChecksumError:
                if again:
                    raise
                await self._send(
                    codec.encode(
                        Message(codec.REQUEST_ACS_RESEND), error_detection=True, encoding=encoding
                    )
                )
                continue
            if answer.command == codec.REQUEST_SC_RESEND and not again:
                await self._send(line)
                continue
            if answer.command != expect:
                raise Sip2ProtocolError(f"expected {expect}, got {answer.command}")
            if detect and answer.sequence is not None and answer.sequence != sequence:
                raise Sip2ProtocolError("answer to another sequence number")
            self.requests += 1
            return answer
        raise Sip2ProtocolError("no valid answer after a resend")

    async def _send(self, line: bytes) -> None:
        writer = self._writer
        if writer is None or writer.is_closing():
            raise _Dropped
        try:
            writer.write(line)
            await writer.drain()
        except (ConnectionError, RuntimeError):
            raise _Dropped from None

    async def _read_line(self) -> bytes:
        reader = self._reader
        if reader is None:
            raise _Dropped
        try:
            return await reader.readuntil(codec.CR)
        except asyncio.IncompleteReadError:
            raise _Dropped from None
        except asyncio.LimitOverrunError:
            raise Sip2ProtocolError("answer longer than the line limit") from None
        except ConnectionError:
            raise _Dropped from None


def _client_context(*, verify: bool) -> ssl.SSLContext:
    """Return a TLS client context; verification is off only when asked for."""
    context = ssl.create_default_context()
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context
