"""A small, real SIP2 server on loopback: the library's ILS for the tests and the demo.

    python scripts/lib/ils.py             serve the demo patrons (password ntnu-demo, card
                                          C-<id>); prints the port
    python scripts/lib/ils.py --encoding cp850   the same in code page 850 (the SIP2 default)
    python scripts/lib/ils.py --bench     measure the SIP2 login round trip on loopback

It speaks 93/94 (terminal login), 99/98 (status), 63/64 (patron information) and 01/24 (block
patron) with the integration's own codec, in one character set (`encoding`, UTF-8 unless told),
error detection (AY/AZ) whenever the terminal uses it, and 97 (resend). Faults for the tests are
switched on with `IlsServer.fault` (see FAULTS).

A block (01) is kept on the patron record, as in a real ILS: charge privileges denied (patron
status position 0) is set from then on, and `blocked` holds the blocked card message. SIP2 has
no message that lifts a block (25 Patron Enable is for system testing only), so a library lifts
it in the ILS: here `IlsServer.unblock(patron_id)`.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Iterable, Mapping
import contextlib
from datetime import date, datetime
from pathlib import Path
import socket
import ssl
import statistics
import struct
import sys
import time
from typing import Any

if __package__ in {None, ""}:  # run as a script: make the integration importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from custom_components.ntnu_library.auth.sip2 import codec
from custom_components.ntnu_library.auth.sip2.codec import Message, Sip2Error

DEMO_PASSWORD = "ntnu-demo"
DEMO_LOGIN_USER = "ntnu-door"
DEMO_LOGIN_PASSWORD = "ntnu-door-secret"
INSTITUTION = "NTNU"
CARD_FIELD = "ZC"  # the vendor field this ILS puts the card number in

# Each applies to the answers about a patron: the 64 to a 63 and the 24 to a 01.
FAULTS = frozenset(
    {
        "bad_checksum",  # every answer with a wrong checksum
        "bad_checksum_once",  # the first answer wrong, the resend (after 97) right
        "garbage",  # bytes that are no SIP2 message
        "truncated",  # an answer cut short inside its fixed part, CR-terminated
        "missing_bl",  # an answer without BL
        "silent",  # never answer
        "drip",  # the answer one byte every 50 ms
        "reset",  # half the answer, then a TCP reset
        "huge",  # a 1 MB line
        "drop",  # answer, then close the connection (the client must reconnect)
        # The terminal's side: a 63 or 01 arrives with a wrong checksum (a line error on the way
        # in), which this ILS answers with 96, as the spec asks.
        "request_checksum",  # every 63 and 01
        "request_checksum_once",  # the first; the terminal's resend arrives intact
    }
)
# The requests whose answers FAULTS spoil.
_ABOUT_A_PATRON = frozenset({codec.PATRON_INFORMATION, codec.BLOCK_PATRON})


def _status(flags: Iterable[int] | str | None) -> str:
    if isinstance(flags, str):
        return flags.ljust(14)[:14]
    status = [" "] * 14
    for index in flags or ():
        status[index] = "Y"
    return "".join(status)


class IlsServer:
    """An in-memory ILS: patrons are dicts (id, name, password, card, category, expires, status).

    `status` is a 14-character string or the positions of the set flags; `expires` a date or
    None; `blank_cq` True answers a password check with an empty CQ; `valid` False answers BL=N.
    A block adds `blocked` (the message), `card_retained` and `status_before_block`.

    `keep_blocks` False answers 01 as Koha's SIP server does: a 24 with the privileges denied,
    and nothing kept on the record.
    """

    def __init__(
        self,
        patrons: Iterable[Mapping[str, Any]],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        login_user: str | None = None,
        login_password: str | None = None,
        tls: ssl.SSLContext | None = None,
        institution: str = INSTITUTION,
        encoding: str = codec.DEFAULT_ENCODING,
    ) -> None:
        self.patrons = {str(p["id"]).upper(): dict(p) for p in patrons}
        self.encoding = codec.check_encoding(encoding)
        self.host = host
        self.port = port
        self.login_user = login_user
        self.login_password = login_password
        self.tls = tls
        self.institution = institution
        self.fault: str | None = None
        self.reject_login = False
        self.keep_blocks = True
        # Every 01 as received: (patron ID asked for, blocked card message, card retained).
        self.blocks: list[tuple[str, str, bool]] = []
        self.counts: dict[str, int] = {}  # requests seen per command
        self.checksummed = 0  # requests that came with error detection (AY/AZ)
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Listen (port 0: a free one, read it back from .port)."""
        # TLS is started inside the handler so a failed handshake ends that connection quietly
        # instead of reaching the loop's exception handler.
        self._server = await asyncio.start_server(
            self._serve, self.host, self.port, limit=codec.MAX_LINE
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening and close every connection."""
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=2)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
            self._server = None

    async def __aenter__(self) -> IlsServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def find(self, key: str) -> dict[str, Any] | None:
        """Return the patron with this ID or card."""
        key = key.strip().upper()
        if key in self.patrons:
            return self.patrons[key]
        for patron in self.patrons.values():
            if str(patron.get("card") or "").upper() == key:
                return patron
        return None

    def unblock(self, patron_id: str) -> bool:
        """Lift a block as staff would in the ILS; False when the patron is not blocked."""
        patron = self.find(patron_id)
        if patron is None or "blocked" not in patron:
            return False
        patron["status"] = patron.pop("status_before_block", None)
        del patron["blocked"]
        patron.pop("card_retained", None)
        return True

    # --- The session ------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.add(writer)
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        logged_in = self.login_user is None
        last: bytes | None = None
        try:
            if self.tls is not None:
                try:
                    await writer.start_tls(self.tls)
                except (OSError, ssl.SSLError):
                    writer.transport.abort()
                    return
            while True:
                try:
                    raw = await reader.readuntil(codec.CR)
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
                    return
                if raw.startswith((b"63", b"01")) and self.fault in {
                    "request_checksum",
                    "request_checksum_once",
                }:
                    raw = _wrong_checksum(raw)
                    if self.fault == "request_checksum_once":
                        self.fault = None
                try:
                    request = codec.decode(raw, encoding=self.encoding)
                except Sip2Error:
                    writer.write(b"96\r")  # request SC resend
                    await writer.drain()
                    continue
                detect = raw.rstrip(b"\r\n")[-6:-4] == b"AZ"
                self.checksummed += detect
                self.counts[request.command] = self.counts.get(request.command, 0) + 1
                if request.command == codec.REQUEST_ACS_RESEND:
                    if last is not None:
                        writer.write(last)
                        await writer.drain()
                    continue
                if request.command == codec.LOGIN:
                    ok = (
                        not self.reject_login
                        and request.get("CN") == self.login_user
                        and request.get("CO") == self.login_password
                    )
                    logged_in = ok
                    answer = codec.login_response(ok)
                elif not logged_in:
                    return  # a terminal that has not logged in is hung up on
                elif request.command == codec.SC_STATUS:
                    answer = codec.acs_status(self.institution, datetime.now())
                elif request.command == codec.PATRON_INFORMATION:
                    answer = self._patron_information(request)
                elif request.command == codec.BLOCK_PATRON:
                    answer = self._block_patron(request)
                else:
                    return
                sequence = request.sequence if detect else None
                line = codec.encode(
                    Message(answer.command, answer.fixed, answer.fields, sequence),
                    error_detection=detect,
                    encoding=self.encoding,
                )
                last = line
                if request.command in _ABOUT_A_PATRON and self.fault:
                    sent = await self._faulty(line, writer)
                    if sent is None:
                        return
                    last = sent
                    continue
                writer.write(line)
                await writer.drain()
        except (ConnectionError, OSError):
            return
        finally:
            self._writers.discard(writer)
            if task is not None:
                self._tasks.discard(task)
            writer.close()

    async def _faulty(self, line: bytes, writer: asyncio.StreamWriter) -> bytes | None:
        """Send a faulty answer; return what a 97 resends, or None to hang up."""
        fault = self.fault
        sent = line
        if fault in {"bad_checksum", "bad_checksum_once"}:
            sent = _wrong_checksum(line)
            if fault == "bad_checksum_once":
                self.fault = None
                writer.write(sent)
                sent = line  # the resend after 97 is right
            else:
                writer.write(sent)
        elif fault == "garbage":
            sent = b"\x00\xffHELLO garbage \x1b[31m\r"
            writer.write(sent)
        elif fault == "truncated":
            sent = line[:20] + codec.CR
            writer.write(sent)
        elif fault == "missing_bl":
            original = codec.decode(line, encoding=self.encoding)
            without = Message(
                original.command,
                original.fixed,
                tuple(f for f in original.fields if f[0] != "BL"),
                original.sequence,
            )
            sent = codec.encode(
                without, error_detection=line[-7:-5] == b"AZ", encoding=self.encoding
            )
            writer.write(sent)
        elif fault == "silent":
            await asyncio.sleep(3600)
        elif fault == "drip":
            for byte in line:
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(0.05)
        elif fault == "reset":
            writer.write(line[: len(line) // 2])
            await writer.drain()
            sock = writer.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
            return None
        elif fault == "huge":
            sent = b"64" + b"Y" * (1024 * 1024) + codec.CR
            writer.write(sent)
        elif fault == "drop":
            writer.write(line)
            await writer.drain()
            self.fault = None
            return None
        await writer.drain()
        return sent

    def _patron_information(self, request: Message) -> Message:
        key = request.get("AA") or ""
        patron = self.find(key)
        password = request.get("AD")
        now = datetime.now()
        if patron is None or patron.get("valid") is False:
            return codec.patron_information_response(
                status=_status(None),
                now=now,
                institution=self.institution,
                patron_id=key,
                name="",
                valid_patron="N",
                valid_password="N" if password is not None else None,
            )
        cq: str | None = None
        if password is not None:
            if patron.get("blank_cq"):
                cq = ""
            else:
                cq = "Y" if password == patron.get("password") else "N"
        extra: list[tuple[str, str]] = []
        category = patron.get("patron_type") or patron.get("category")
        if category:
            extra.append(("PC", str(category)))
        expires = patron.get("expires")
        if isinstance(expires, date):
            extra.append(("PA", expires.strftime("%Y%m%d")))
        if patron.get("card"):
            extra.append((CARD_FIELD, str(patron["card"])))
        return codec.patron_information_response(
            status=_status(patron.get("status")),
            now=now,
            institution=self.institution,
            patron_id=str(patron["id"]),
            # A name the character set lacks comes out as "?", as from a real cp850 ILS.
            name=str(patron.get("name", "")).encode(self.encoding, "replace").decode(self.encoding),
            valid_patron="Y",
            valid_password=cq,
            extra=tuple(extra),
        )

    def _block_patron(self, request: Message) -> Message:
        """01: block the patron (charge privileges denied from now on) and answer 24."""
        key = request.get("AA") or ""
        message = request.get("AL") or ""
        retained = request.fixed[:1] == "Y"
        self.blocks.append((key, message, retained))
        patron = self.find(key)
        now = datetime.now()
        if patron is None or patron.get("valid") is False:
            return codec.patron_status_response(
                status=_status(None),
                now=now,
                institution=self.institution,
                patron_id=key,
                name="",
                valid_patron="N",
                extra=(("AF", "Unknown patron"),),
            )
        status = list(_status(patron.get("status")))
        if self.keep_blocks:
            if "blocked" not in patron:
                patron["status_before_block"] = patron.get("status")
            status[0] = "Y"
            patron["status"] = "".join(status)
            patron["blocked"] = message
            patron["card_retained"] = retained
        else:  # Koha: privileges denied in this answer only
            status[:4] = "YYYY"
        return codec.patron_status_response(
            status="".join(status),
            now=now,
            institution=self.institution,
            patron_id=str(patron["id"]),
            name=str(patron.get("name", "")).encode(self.encoding, "replace").decode(self.encoding),
            valid_patron="Y",
            extra=(("AF", "Card blocked"),),
        )


def _wrong_checksum(line: bytes) -> bytes:
    """The line with its AZ checksum off by one (unchanged if it carries none)."""
    body = line.rstrip(b"\r\n")
    if body[-6:-4] != b"AZ":
        return line
    wrong = f"{(int(body[-4:], 16) + 1) & 0xFFFF:04X}".encode()
    return body[:-4] + wrong + codec.CR


def demo_patrons(today: date | None = None) -> list[dict[str, Any]]:
    """Return the demo patrons of custom_components/ntnu_library/demo.py as ILS records."""
    from custom_components.ntnu_library.demo import DEMO_PATRONS, demo_membership_expires

    today = today or date.today()
    patrons = []
    for patron_id, name, category, membership in DEMO_PATRONS:
        expires = demo_membership_expires(category, membership, today)
        patrons.append(
            {
                "id": patron_id,
                "name": name,
                "password": DEMO_PASSWORD,
                "card": f"C-{patron_id}",
                "category": category,
                "expires": expires,
            }
        )
    return patrons


async def bench(rounds: int = 200) -> dict[str, float]:
    """Return the SIP2 login (63/64 with password) round trip on loopback, in milliseconds."""
    from custom_components.ntnu_library.auth.sip2 import Sip2Config, Sip2PatronSystem

    async with IlsServer(
        demo_patrons(), login_user=DEMO_LOGIN_USER, login_password=DEMO_LOGIN_PASSWORD
    ) as server:
        system = Sip2PatronSystem(
            Sip2Config(
                host="127.0.0.1",
                port=server.port,
                institution=INSTITUTION,
                login_user=DEMO_LOGIN_USER,
                login_password=DEMO_LOGIN_PASSWORD,
            )
        )
        try:
            start = time.perf_counter()
            await system.async_test()  # connect + 93/94 + 99/98
            connect_ms = (time.perf_counter() - start) * 1000
            samples = []
            for _ in range(rounds):
                start = time.perf_counter()
                await system.async_authenticate("S0001", DEMO_PASSWORD)
                samples.append((time.perf_counter() - start) * 1000)
        finally:
            await system.async_close()
    samples.sort()
    return {
        "sip2_connect_login_status_ms": round(connect_ms, 3),
        "sip2_login_ms_p50": round(statistics.median(samples), 3),
        "sip2_login_ms_p95": round(samples[int(len(samples) * 0.95) - 1], 3),
        "sip2_logins_per_s": round(1000 / statistics.fmean(samples), 1),
    }


async def _serve_forever(port: int, encoding: str) -> None:
    server = IlsServer(
        demo_patrons(),
        port=port,
        login_user=DEMO_LOGIN_USER,
        login_password=DEMO_LOGIN_PASSWORD,
        encoding=encoding,
    )
    await server.start()
    print(
        f"SIP2 ILS on 127.0.0.1:{server.port} (institution {INSTITUTION}, {encoding})", flush=True
    )
    print(server.port, flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await server.stop()


def main(argv: list[str] | None = None) -> int:
    """Serve the demo patrons, or measure the login round trip."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--encoding", choices=codec.SIP2_ENCODINGS, default=codec.DEFAULT_ENCODING)
    parser.add_argument("--bench", action="store_true")
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args(argv)
    if args.bench:
        for key, value in asyncio.run(bench(args.rounds)).items():
            print(f"{key:32} {value}")
        return 0
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve_forever(args.port, args.encoding))
    return 0


if __name__ == "__main__":
    sys.exit(main())
