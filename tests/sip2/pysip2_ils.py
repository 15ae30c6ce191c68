"""A second, independent ILS for the SIP2 tests: the server of pysip2 (PyPI `pysip2`).

scripts/lib/ils.py speaks SIP2 with the sip2 package's own codec, so a mistake shared by codec
and client would pass there. pysip2 is someone else's reading of the spec: its own framing,
checksum, character sets (code page 850 unless told otherwise) and its own checks of every
fixed field (a Checkout whose nb due date is no date makes it hang up).

It serves the same patron records as `IlsServer` (dicts with id, name, password, card, status,
valid, blank_cq) and the same catalogue (`items`, `demo_items()` unless told) with the same
surface (port, counts, connections, reject_login, fault, loans, checkins, item, loans_of), on
the test's event loop. Circulation follows IlsServer's rules and screen messages: a checkout
refused for an unknown patron, a wrong password, a block (charge privileges denied or card
reported lost, unless no block), an unknown item, an item for library use only or on loan to
someone else; a loan to the same patron renewed; due LOAN_DAYS later at the end of the day
(accompanying material is not tied to its item here). pysip2 serves inside an anyio task group,
which must be entered and left by one task: start() runs the whole server in a task of its own.

What pysip2 cannot do, and what stands in:
- Its 64 carries only SIP2 2.00 fields: no patron type (PC), expiry (PA) or vendor card field,
  so `vendor_fields` is False, and it cannot send an empty CQ (such a patron gets none).
- It cannot be told to misbehave. A tap on each connection's stream (`_Tap`, wrapping the
  stream pysip2 reads and writes, nothing else) injects the faults of FAULTS; pysip2 itself
  answers the bad checksum of a request with 96 and a 97 with its last answer.
- It has no hook per connection or per 97: the tap counts connections and 97s, the route
  handlers count 93, 99, 63, 01, 17, 11 and 09.
- It decodes 01 Block Patron and routes it (without a handler it answers a 24 with BL=N, as an
  ILS that does not know the patron would). The handler here keeps the block on the record as
  scripts/lib/ils.py does (charge privileges denied, `blocked`), with the same `blocks`,
  `keep_blocks` and `unblock`.
- Its start() never closes the listening socket (0.1.0): the server is run as start() runs it
  (listen(), then serve with pysip2's own connection handler), with the listener closed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, time as day_time, timedelta
import socket
from typing import Any

import anyio
from anyio import EndOfStream
from anyio.abc import SocketAttribute, SocketListener, SocketStream
from ils import INSTITUTION, LOAN_DAYS, LOCATION, Loan, demo_items
from pysip2 import (
    BLOCK_PATRON,
    CHECKIN,
    CHECKOUT,
    ITEM_INFORMATION,
    LOGIN,
    PATRON_INFORMATION,
    SC_STATUS,
    BlockPatronRequest,
    CheckinRequest,
    CheckinResponse,
    CheckoutRequest,
    CheckoutResponse,
    ItemInformationRequest,
    ItemInformationResponse,
    LoginRequest,
    LoginResponse,
    PatronInformationRequest,
    PatronInformationResponse,
    PatronStatusResponse,
    SCStatusRequest,
    SIP2Server,
)

# As in scripts/lib/ils.py, each touches the questions about a patron (63, 01) and about items
# (17, 11, 09), and their answers (64, 24, 18, 12, 10).
FAULTS = frozenset(
    {
        "bad_checksum",  # every answer sent with a wrong checksum (the 97 replay too)
        "bad_checksum_once",  # the first answer wrong; pysip2's replay after 97 is the right one
        "request_checksum",  # every question arrives with a wrong checksum: pysip2 answers 96
        "request_checksum_once",  # the first only; the terminal's resend arrives intact
        "drop",  # answer the next question, then close the connection
    }
)
_QUESTIONS = (b"63", b"01", b"17", b"11", b"09")
_ANSWERS = (b"64", b"24", b"18", b"12", b"10")
# The patron status flags that stop a checkout: charge privileges denied, card reported lost.
_NO_CHARGE = (0, 4)


def _wrong_checksum(frame: bytes) -> bytes:
    body = frame.rstrip(b"\r")
    if body[-6:-4] != b"AZ":
        return frame
    return body[:-4] + f"{(int(body[-4:], 16) + 1) & 0xFFFF:04X}".encode() + b"\r"


def _status(flags: Iterable[int] | str | None) -> str:
    if isinstance(flags, str):
        return flags.ljust(14)[:14]
    status = [" "] * 14
    for index in flags or ():
        status[index] = "Y"
    return "".join(status)


class _Tap:
    """One connection's stream as pysip2 sees it, with FAULTS applied frame by frame."""

    def __init__(self, stream: SocketStream, ils: PySip2Ils) -> None:
        self._stream = stream
        self._ils = ils
        self._pending = b""

    def extra(self, attribute: Any, *default: Any) -> Any:
        return self._stream.extra(attribute, *default)

    async def receive(self, max_bytes: int = 65536) -> bytes:
        # Whole frames only, so a fault can touch one frame and its checksum.
        while b"\r" not in self._pending:
            try:
                data = await self._stream.receive(max_bytes)
            except EndOfStream:
                if not self._pending:
                    raise
                rest, self._pending = self._pending, b""
                return rest  # a last line without CR: pysip2's to judge
            self._pending += data
        cut = self._pending.rfind(b"\r") + 1
        frames, self._pending = self._pending[:cut], self._pending[cut:]
        out = []
        for frame in frames.split(b"\r"):
            if not frame:
                continue
            frame += b"\r"
            if frame.rstrip(b"\r")[-6:-4] == b"AZ":
                self._ils.checksummed += 1
            if frame.startswith(b"97"):
                self._ils.count("97")
            fault = self._ils.fault
            if frame.startswith(_QUESTIONS) and fault in {
                "request_checksum",
                "request_checksum_once",
            }:
                frame = _wrong_checksum(frame)
                if fault == "request_checksum_once":
                    self._ils.fault = None
            out.append(frame)
        return b"".join(out)

    async def send(self, item: bytes) -> None:
        fault = self._ils.fault
        if item.startswith(_ANSWERS) and fault in {"bad_checksum", "bad_checksum_once"}:
            if fault == "bad_checksum_once":
                self._ils.fault = None
            item = _wrong_checksum(item)
        await self._stream.send(item)
        if item.startswith(_ANSWERS) and fault == "drop":
            self._ils.fault = None
            await self._stream.aclose()

    async def aclose(self) -> None:
        await self._stream.aclose()

    async def __aenter__(self) -> _Tap:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class _TappedServer(SIP2Server):
    ils: PySip2Ils

    async def handle(self, stream: SocketStream) -> None:
        """pysip2's own connection handler, on the tapped stream."""
        self.ils.connections += 1
        await self._handle_connection(_Tap(stream, self.ils))


class PySip2Ils:
    """pysip2's SIP2Server serving patron records on 127.0.0.1 (a free port)."""

    vendor_fields = False  # no PC, PA or card field in its 64

    def __init__(
        self,
        patrons: Iterable[Mapping[str, Any]],
        *,
        login_user: str | None = None,
        login_password: str | None = None,
        institution: str = INSTITUTION,
        encoding: str = "cp850",
        items: list[dict[str, Any]] | None = None,
        now: Callable[[], datetime] = datetime.now,
        loan_days: int = LOAN_DAYS,
    ) -> None:
        self.patrons = {str(p["id"]).upper(): dict(p) for p in patrons}
        catalogue = demo_items() if items is None else items
        self.items = {str(i["barcode"]).strip().upper(): dict(i) for i in catalogue}
        self.loans: dict[str, Loan] = {}
        self.now = now
        self.loan_days = loan_days
        # Every 09 as received: (item, return date as sent, current location).
        self.checkins: list[tuple[str, str, str]] = []
        self.login_user = login_user
        self.login_password = login_password
        self.institution = institution
        self.encoding = encoding
        self.port = 0
        self.fault: str | None = None
        self.reject_login = False
        self.keep_blocks = True
        self.blocks: list[tuple[str, str, bool]] = []  # (patron ID, message, card retained)
        self.counts: dict[str, int] = {}
        self.connections = 0
        self.checksummed = 0  # requests that came with AY/AZ
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        server = _TappedServer(
            encoding=encoding, institution_id=institution, login_required=login_user is not None
        )
        server.ils = self
        server.route(LOGIN)(self._login)
        server.route(SC_STATUS)(self._sc_status)
        server.route(PATRON_INFORMATION)(self._patron_information)
        server.route(BLOCK_PATRON)(self._block_patron)
        server.route(ITEM_INFORMATION)(self._item_information)
        server.route(CHECKOUT)(self._checkout)
        server.route(CHECKIN)(self._checkin)
        self.server = server

    def count(self, command: str) -> None:
        self.counts[command] = self.counts.get(command, 0) + 1

    async def start(self) -> None:
        ready: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._stop = asyncio.Event()

        async def serve() -> None:
            # What SIP2Server.start() does, but closing the listener: pysip2 0.1.0's start()
            # leaves it open (the port still takes connections, until the socket is collected).
            # A socket bound here, not a host name for anyio to resolve: newer Home Assistant
            # test plugins refuse any name resolution, even of "127.0.0.1" as bytes.
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sock.listen()
            listener = await SocketListener.from_socket(sock)
            async with listener, anyio.create_task_group() as group:
                group.start_soon(listener.serve, self.server.handle)
                ready.set_result(listener.extra(SocketAttribute.local_port))
                await self._stop.wait()
                group.cancel_scope.cancel()

        self._task = asyncio.create_task(serve())
        await asyncio.wait({ready, self._task}, return_when=asyncio.FIRST_COMPLETED)
        if not ready.done():
            self._task.result()  # raises what kept it from listening
        self.port = ready.result()

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task
            self._task = None

    async def __aenter__(self) -> PySip2Ils:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def find(self, key: str) -> dict[str, Any] | None:
        key = key.strip().upper()
        if key in self.patrons:
            return self.patrons[key]
        for patron in self.patrons.values():
            if str(patron.get("card") or "").upper() == key:
                return patron
        return None

    def item(self, barcode: str) -> dict[str, Any] | None:
        """Return the catalogue record of an item (its barcode in any case)."""
        return self.items.get(barcode.strip().upper())

    def loans_of(self, patron_id: str) -> list[str]:
        """Return the barcodes on loan to a patron (by ID or card), oldest loan first."""
        patron = self.find(patron_id)
        key = str(patron["id"]).upper() if patron is not None else patron_id.strip().upper()
        return [
            str(self.items[barcode]["barcode"])
            for barcode, loan in self.loans.items()
            if loan.patron_id.upper() == key
        ]

    def unblock(self, patron_id: str) -> bool:
        """Lift a block as staff would in the ILS; False when the patron is not blocked."""
        patron = self.find(patron_id)
        if patron is None or "blocked" not in patron:
            return False
        patron["status"] = patron.pop("status_before_block", None)
        del patron["blocked"]
        patron.pop("card_retained", None)
        return True

    # --- The routes ---------------------------------------------------------------------------

    async def _login(self, request: LoginRequest, ctx: Any) -> LoginResponse:
        self.count("93")
        ok = (
            not self.reject_login
            and request.login_user_id == self.login_user
            and request.login_password == self.login_password
        )
        return LoginResponse(ok="1" if ok else "0")

    async def _sc_status(self, request: SCStatusRequest, ctx: Any) -> Any:
        self.count("99")
        return self.server.build_acs_status(request)

    async def _patron_information(
        self, request: PatronInformationRequest, ctx: Any
    ) -> PatronInformationResponse:
        self.count("63")
        patron = self.find(request.patron_identifier)
        password = request.patron_password
        common: dict[str, Any] = {
            "language": "000",
            "transaction_date": ctx.now_18(),
            "hold_items_count": "0000",
            "overdue_items_count": "0000",
            "charged_items_count": "0000",
            "fine_items_count": "0000",
            "recall_items_count": "0000",
            "unavailable_holds_count": "0000",
            "institution_id": self.institution,
        }
        if patron is None or patron.get("valid") is False:
            return PatronInformationResponse(
                **common,
                patron_status=" " * 14,
                patron_identifier=request.patron_identifier,
                personal_name="",
                valid_patron="N",
                valid_patron_password="N" if password is not None else None,
            )
        cq: str | None = None
        if password is not None and not patron.get("blank_cq"):
            cq = "Y" if password == patron.get("password") else "N"
        loans = self.loans_of(str(patron["id"]))
        charged: tuple[str, ...] = ()
        if request.summary[2] == "Y":  # the charged items, BP to BQ (from 1)
            start = max(_number(request.start_item, 1), 1)
            charged = tuple(loans[start - 1 : _number(request.end_item, len(loans))])
        return PatronInformationResponse(
            **(common | {"charged_items_count": f"{len(loans):04d}"}),
            patron_status=_status(patron.get("status")),
            patron_identifier=str(patron["id"]),
            personal_name=self._text(patron.get("name", "")),
            valid_patron="Y",
            valid_patron_password=cq,
            charged_items=charged,
        )

    async def _block_patron(self, request: BlockPatronRequest, ctx: Any) -> PatronStatusResponse:
        self.count("01")
        retained = request.card_retained == "Y"
        self.blocks.append((request.patron_identifier, request.blocked_card_message, retained))
        patron = self.find(request.patron_identifier)
        common: dict[str, Any] = {
            "language": "000",
            "transaction_date": ctx.now_18(),
            "institution_id": self.institution,
        }
        if patron is None or patron.get("valid") is False:
            return PatronStatusResponse(
                **common,
                patron_status=" " * 14,
                patron_identifier=request.patron_identifier,
                personal_name="",
                valid_patron="N",
            )
        status = list(_status(patron.get("status")))
        if self.keep_blocks:
            if "blocked" not in patron:
                patron["status_before_block"] = patron.get("status")
            status[0] = "Y"
            patron["status"] = "".join(status)
            patron["blocked"] = request.blocked_card_message
            patron["card_retained"] = retained
        else:
            status[:4] = "YYYY"
        return PatronStatusResponse(
            **common,
            patron_status="".join(status),
            patron_identifier=str(patron["id"]),
            personal_name=str(patron.get("name", "")),
            valid_patron="Y",
            screen_message=("Card blocked",),
        )

    # --- Circulation --------------------------------------------------------------------------

    def _text(self, value: object) -> str:
        """A value as this ILS sends it: what the character set lacks comes out as "?"."""
        return str(value).encode(self.encoding, "replace").decode(self.encoding)

    def _item_fields(self, item: Mapping[str, Any]) -> dict[str, Any]:
        """CK (media type) and CH (item properties) of an item, as IlsServer sends them."""
        accompanies = item.get("accompanies")
        tokens = ["library_use_only"] if item.get("library_use_only") else []
        if accompanies:
            tokens.append(f"accompanies={accompanies}")
        return {
            "media_type": str(item.get("media_type") or ("006" if accompanies else "001")),
            "item_properties": ";".join(tokens) or None,
        }

    def _due(self) -> datetime:
        return datetime.combine(
            self.now().date() + timedelta(days=self.loan_days), day_time(23, 59, 59)
        )

    async def _item_information(
        self, request: ItemInformationRequest, ctx: Any
    ) -> ItemInformationResponse:
        self.count("17")
        barcode = request.item_identifier
        item = self.item(barcode)
        if item is None:  # as Koha: "other" status, no title
            return ItemInformationResponse(
                circulation_status="01",
                security_marker="01",
                fee_type="01",
                transaction_date=_sip_date(self.now()),
                item_identifier=barcode,
                title_identifier="",
                screen_message=("Item not found",),
            )
        loan = self.loans.get(barcode.strip().upper())
        location = str(item.get("location") or LOCATION)
        return ItemInformationResponse(
            circulation_status="04" if loan is not None else "03",
            security_marker="02",
            fee_type="01",
            transaction_date=_sip_date(self.now()),
            hold_queue_length="0",
            due_date=_sip_date(loan.due) if loan is not None else None,
            item_identifier=str(item["barcode"]),
            title_identifier=self._text(item.get("title", "")),
            permanent_location=location,
            current_location=location,
            **self._item_fields(item),
        )

    async def _checkout(self, request: CheckoutRequest, ctx: Any) -> CheckoutResponse:
        self.count("11")
        key = request.patron_identifier
        barcode = request.item_identifier
        patron = self.find(key)
        item = self.item(barcode)
        now = _sip_date(self.now())

        def refuse(message: str) -> CheckoutResponse:
            return CheckoutResponse(
                ok="0",
                renewal_ok="N",
                magnetic_media="U",
                desensitize="N",
                transaction_date=now,
                institution_id=self.institution,
                patron_identifier=key,
                item_identifier=barcode,
                title_identifier=self._text(item.get("title", "")) if item is not None else "",
                due_date="",
                screen_message=(message,),
            )

        if patron is None or patron.get("valid") is False:
            return refuse("Unknown patron")
        password = request.patron_password
        if password is not None and password != patron.get("password"):
            return refuse("Invalid patron password")
        status = _status(patron.get("status"))
        if request.no_block != "Y" and any(status[i] == "Y" for i in _NO_CHARGE):
            return refuse("Patron blocked: borrowing is not allowed")
        if item is None:
            return refuse("Item not found")
        if item.get("library_use_only"):
            return refuse("Library use only: this item cannot be borrowed")
        patron_id = str(patron["id"])
        item_key = str(item["barcode"]).strip().upper()
        loan = self.loans.get(item_key)
        if loan is not None and loan.patron_id.upper() != patron_id.upper():
            return refuse("Item is on loan to another patron")
        due = self._due()
        self.loans[item_key] = Loan(patron_id, due)
        return CheckoutResponse(
            ok="1",
            renewal_ok="Y" if loan is not None else "N",
            magnetic_media="N",
            desensitize="Y",
            transaction_date=now,
            institution_id=self.institution,
            patron_identifier=patron_id,
            item_identifier=str(item["barcode"]),
            title_identifier=self._text(item.get("title", "")),
            due_date=_sip_date(due),
            **self._item_fields(item),
        )

    async def _checkin(self, request: CheckinRequest, ctx: Any) -> CheckinResponse:
        self.count("09")
        barcode = request.item_identifier
        self.checkins.append((barcode, request.return_date, request.current_location))
        item = self.item(barcode)
        now = _sip_date(self.now())
        if item is None:
            return CheckinResponse(
                ok="0",
                resensitize="N",
                magnetic_media="U",
                alert="Y",
                transaction_date=now,
                institution_id=self.institution,
                item_identifier=barcode,
                permanent_location="",
                screen_message=("Item not found",),
            )
        loan = self.loans.pop(str(item["barcode"]).strip().upper(), None)
        return CheckinResponse(
            ok="1" if loan is not None else "0",
            resensitize="Y",
            magnetic_media="N",
            alert="N",
            transaction_date=now,
            institution_id=self.institution,
            item_identifier=str(item["barcode"]),
            permanent_location=str(item.get("location") or LOCATION),
            title_identifier=self._text(item.get("title", "")),
            patron_identifier=loan.patron_id if loan is not None else None,
            screen_message=() if loan is not None else ("Item was not on loan",),
            **self._item_fields(item),
        )


def _sip_date(moment: datetime) -> str:
    """A SIP2 timestamp in local time (four blanks for the zone), as pysip2's own now_18()."""
    return moment.strftime("%Y%m%d") + "    " + moment.strftime("%H%M%S")


def _number(text: str | None, default: int) -> int:
    value = (text or "").strip()
    return int(value) if value.isascii() and value.isdigit() else default
