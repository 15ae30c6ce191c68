"""A small, real SIP2 server on loopback: the library's ILS for the tests and the demo.

    python scripts/lib/ils.py             serve the demo patrons (password ntnu-demo, card
                                          C-<id>); prints the port
    python scripts/lib/ils.py --encoding cp850   the same in code page 850 (the SIP2 default)
    python scripts/lib/ils.py --bench     measure the SIP2 login round trip on loopback

It speaks 93/94 (terminal login), 99/98 (status), 63/64 (patron information), 01/24 (block
patron), 17/18 (item information), 11/12 (checkout) and 09/10 (checkin) with the integration's
own codec, in one character set (`encoding`, UTF-8 unless told), error detection (AY/AZ)
whenever the terminal uses it, and 97 (resend). Faults for the tests are switched on with
`IlsServer.fault` (see FAULTS).

The records and the rules (patrons, the catalogue, loans, due dates, what a checkout, checkin
or block does) are those of `IlsRecords` (ils_records.py), which the tests' second ILS, on
another codec, shares; this module is the wire. The item properties (CH) carry `library_use_only` and
`accompanies=<barcode>`, as item_messages.py reads them; due dates go out as SIP2 timestamps
(YYYYMMDD    HHMMSS). The 64 counts a patron's loans (charged items count) and lists them (AU)
when its summary asks.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Iterable, Mapping
import contextlib
from datetime import date
from pathlib import Path
import socket
import ssl
import statistics
import struct
import sys
import time
from typing import Any, Unpack

if __package__ in {None, ""}:  # run as a script: make the integration importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from ils_records import (
    CARD_BLOCKED,
    INSTITUTION,
    ITEM_NOT_FOUND,
    UNKNOWN_PATRON,
    IlsRecords,
    RecordOptions,
    asked_range,
    patron_status,
)

from custom_components.ntnu_library.sip2 import codec, item_messages
from custom_components.ntnu_library.sip2.codec import Message, Sip2Error

DEMO_PASSWORD = "ntnu-demo"
DEMO_LOGIN_USER = "ntnu-door"
DEMO_LOGIN_PASSWORD = "ntnu-door-secret"
CARD_FIELD = "ZC"  # the vendor field this ILS puts the card number in

# Each applies to the answers about a patron (the 64 to a 63, the 24 to a 01) and to those of
# circulation (the 18 to a 17, the 12 to an 11, the 10 to a 09).
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
        "request_checksum",  # every 63, 01, 17, 11 and 09
        "request_checksum_once",  # the first; the terminal's resend arrives intact
    }
)
# The requests whose answers FAULTS spoil.
_FAULTABLE = frozenset(
    {
        codec.PATRON_INFORMATION,
        codec.BLOCK_PATRON,
        codec.ITEM_INFORMATION,
        codec.CHECKOUT,
        codec.CHECKIN,
    }
)
_FAULTABLE_PREFIXES = tuple(command.encode() for command in sorted(_FAULTABLE))


class IlsServer(IlsRecords):
    """The ILS's records (`IlsRecords`) served over SIP2 with the integration's codec.

    An unknown or invalid patron is answered BL=N. A refused checkout (11) is answered ok=0
    with the screen message (AF); a renewal ok=1 with renewal ok Y and the new due date. A
    checkin (09) that ends a loan is answered ok=1, one refused ok=0 (alert Y for an unknown
    item). A 01 with `keep_blocks` False is answered as Koha's SIP server does: a 24 with the
    privileges denied, and nothing kept on the record.
    """

    def __init__(
        self,
        patrons: Iterable[Mapping[str, Any]],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: ssl.SSLContext | None = None,
        encoding: str = codec.DEFAULT_ENCODING,
        **options: Unpack[RecordOptions],
    ) -> None:
        super().__init__(patrons, encoding=codec.check_encoding(encoding), **options)
        self.host = host
        self.port = port
        self.tls = tls
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
                if raw.startswith(_FAULTABLE_PREFIXES) and self.fault in {
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
                self.count(request.command)
                if request.command == codec.REQUEST_ACS_RESEND:
                    if last is not None:
                        writer.write(last)
                        await writer.drain()
                    continue
                if request.command == codec.LOGIN:
                    ok = self.login(request.get("CN"), request.get("CO"))
                    logged_in = ok
                    answer = codec.login_response(ok)
                elif not logged_in:
                    return  # a terminal that has not logged in is hung up on
                elif request.command == codec.SC_STATUS:
                    answer = codec.acs_status(self.institution, self.now())
                elif request.command == codec.PATRON_INFORMATION:
                    answer = self._patron_information(request)
                elif request.command == codec.BLOCK_PATRON:
                    answer = self._block_patron(request)
                elif request.command == codec.ITEM_INFORMATION:
                    answer = self._item_information(request)
                elif request.command == codec.CHECKOUT:
                    answer = self._checkout(request)
                elif request.command == codec.CHECKIN:
                    answer = self._checkin(request)
                else:
                    return
                sequence = request.sequence if detect else None
                line = codec.encode(
                    Message(answer.command, answer.fixed, answer.fields, sequence),
                    error_detection=detect,
                    encoding=self.encoding,
                )
                last = line
                if request.command in _FAULTABLE and self.fault:
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
        """63: the patron (64), with the loans listed when the summary asks; BL=N if unknown."""
        key = request.get("AA") or ""
        patron = self.patron(key)
        password = request.get("AD")
        now = self.now()
        if patron is None:
            return codec.patron_information_response(
                status=patron_status(None),
                now=now,
                institution=self.institution,
                patron_id=key,
                name="",
                valid_patron="N",
                valid_password="N" if password is not None else None,
            )
        extra: list[tuple[str, str]] = []
        category = patron.get("patron_type") or patron.get("category")
        if category:
            extra.append(("PC", str(category)))
        expires = patron.get("expires")
        if isinstance(expires, date):
            extra.append(("PA", expires.strftime("%Y%m%d")))
        if patron.get("card"):
            extra.append((CARD_FIELD, str(patron["card"])))
        loans = self.loans_of(str(patron["id"]))
        summary = request.fixed[-codec.SUMMARY_LENGTH :].ljust(codec.SUMMARY_LENGTH)
        if summary[item_messages.SUMMARY_CHARGED_ITEMS] == "Y":
            asked = asked_range(loans, request.get("BP"), request.get("BQ"))
            extra += [("AU", barcode) for barcode in asked]
        return codec.patron_information_response(
            status=patron_status(patron.get("status")),
            now=now,
            institution=self.institution,
            patron_id=str(patron["id"]),
            # A name the character set lacks comes out as "?", as from a real cp850 ILS.
            name=self.text(patron.get("name", "")),
            valid_patron="Y",
            valid_password=self.password_check(patron, password),
            charged_items=len(loans),
            extra=tuple(extra),
        )

    def _item_fields(self, item: Mapping[str, Any]) -> list[tuple[str, str]]:
        """CK (media type) and CH (item properties) of an item."""
        accompanies = item.get("accompanies")
        media = item.get("media_type") or (
            item_messages.MEDIA_CD if accompanies else item_messages.MEDIA_BOOK
        )
        fields = [("CK", str(media))]
        properties = item_messages.item_properties(
            library_use_only=bool(item.get("library_use_only")),
            accompanies=str(accompanies) if accompanies else None,
        )
        if properties:
            fields.append(("CH", properties))
        return fields

    def _item_information(self, request: Message) -> Message:
        """17: the item, on the shelf (03) or on loan (04, with its due date); 01 if unknown."""
        barcode = request.get("AB") or ""
        item = self.item(barcode)
        now = self.now()
        if item is None:  # as Koha: "other" status, "other" marker, "unknown" fee, no title
            return item_messages.item_information_response(
                circulation_status=item_messages.CIRCULATION_OTHER,
                now=now,
                barcode=barcode,
                title="",
                security_marker="01",
                extra=(("AF", ITEM_NOT_FOUND),),
            )
        loan = self.loan(barcode)
        extra = [("CF", "0")]
        if loan is not None:
            extra.append(("AH", codec.sip_date(loan.due)))
        location = self.location(item)
        extra += [("AQ", location), ("AP", location), *self._item_fields(item)]
        return item_messages.item_information_response(
            circulation_status=(
                item_messages.CIRCULATION_CHARGED
                if loan is not None
                else item_messages.CIRCULATION_AVAILABLE
            ),
            now=now,
            barcode=str(item["barcode"]),
            title=self.text(item.get("title", "")),
            extra=tuple(extra),
        )

    def _checkout(self, request: Message) -> Message:
        """11: lend the item (12 ok=1 with the due date), or refuse it (ok=0 with AF)."""
        checkout = self.checkout(
            request.get("AA") or "",
            request.get("AB") or "",
            request.get("AD"),
            no_block=request.fixed[1:2] == "Y",
        )
        item = checkout.item
        title = self.text(item.get("title", "")) if item is not None else ""
        if checkout.refusal is not None or checkout.due is None or item is None:
            return item_messages.checkout_response(
                ok=False,
                now=self.now(),
                institution=self.institution,
                patron_id=checkout.patron_id,
                barcode=checkout.barcode,
                title=title,
                due="",
                magnetic_media="U",
                desensitize="N",
                extra=(("AF", checkout.refusal or ""),),
            )
        return item_messages.checkout_response(
            ok=True,
            now=self.now(),
            institution=self.institution,
            patron_id=checkout.patron_id,
            barcode=checkout.barcode,
            title=title,
            due=codec.sip_date(checkout.due),
            renewal_ok=checkout.renewal,
            extra=tuple(self._item_fields(item)),
        )

    def _checkin(self, request: Message) -> Message:
        """09: end the loan (10 ok=1), or ok=0 for an item not on loan or unknown."""
        checkin = self.checkin(
            request.get("AB") or "", request.fixed[19:37], request.get("AP") or ""
        )
        item, loan = checkin.item, checkin.loan
        if item is None:
            return item_messages.checkin_response(
                ok=False,
                now=self.now(),
                institution=self.institution,
                barcode=checkin.barcode,
                permanent_location="",
                resensitize=False,
                magnetic_media="U",
                alert=True,
                extra=(("AF", ITEM_NOT_FOUND),),
            )
        extra = [("AJ", self.text(item.get("title", "")))]
        if loan is not None:
            extra.append(("AA", loan.patron_id))
        extra += self._item_fields(item)
        if checkin.refusal is not None:
            extra.append(("AF", checkin.refusal))
        return item_messages.checkin_response(
            ok=loan is not None,
            now=self.now(),
            institution=self.institution,
            barcode=checkin.barcode,
            permanent_location=self.location(item),
            extra=tuple(extra),
        )

    def _block_patron(self, request: Message) -> Message:
        """01: block the patron (charge privileges denied from now on) and answer 24."""
        key = request.get("AA") or ""
        patron, status = self.block(key, request.get("AL") or "", request.fixed[:1] == "Y")
        if patron is None:
            return codec.patron_status_response(
                status=status,
                now=self.now(),
                institution=self.institution,
                patron_id=key,
                name="",
                valid_patron="N",
                extra=(("AF", UNKNOWN_PATRON),),
            )
        return codec.patron_status_response(
            status=status,
            now=self.now(),
            institution=self.institution,
            patron_id=str(patron["id"]),
            name=self.text(patron.get("name", "")),
            valid_patron="Y",
            extra=(("AF", CARD_BLOCKED),),
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
    from custom_components.ntnu_library.auth.ils import IlsConfig, IlsPatronSystem

    async with IlsServer(
        demo_patrons(), login_user=DEMO_LOGIN_USER, login_password=DEMO_LOGIN_PASSWORD
    ) as server:
        system = IlsPatronSystem(
            IlsConfig(
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
