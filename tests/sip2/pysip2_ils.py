"""A second, independent ILS for the SIP2 tests: the server of pysip2 (PyPI `pysip2`).

scripts/lib/ils.py speaks SIP2 with the sip2 package's own codec, so a mistake shared by codec
and client would pass there. pysip2 is someone else's reading of the spec: its own framing,
checksum, character sets (code page 850 unless told otherwise) and its own checks of every
fixed field (a Checkout whose nb due date is no date makes it hang up).

Its records and rules are those of `IlsServer`: both are an `IlsRecords` (the same patron
records, catalogue, loans, checkout / checkin / block decisions and screen messages, and the
same surface: counts, connections, reject_login, fault, loans, checkins, blocks, find, item,
loans_of, unblock); only the wire is pysip2's, on the test's event loop. pysip2 serves inside
an anyio task group, which must be entered and left by one task: start() runs the whole server
in a task of its own.

What pysip2 cannot do, and what stands in:
- Its 64 carries only SIP2 2.00 fields: no patron type (PC), expiry (PA) or vendor card field,
  so `vendor_fields` is False, and it cannot send an empty CQ (such a patron gets none).
- It cannot be told to misbehave. A tap on each connection's stream (`_Tap`, wrapping the
  stream pysip2 reads and writes, nothing else) injects the faults of FAULTS; pysip2 itself
  answers the bad checksum of a request with 96 and a 97 with its last answer.
- It has no hook per connection or per 97: the tap counts connections and 97s, the route
  handlers count 93, 99, 63, 01, 17, 11 and 09.
- It decodes 01 Block Patron and routes it (without a handler it answers a 24 with BL=N, as an
  ILS that does not know the patron would); the handler here blocks on the records.
- Its start() never closes the listening socket (0.1.0): the server is run as start() runs it
  (listen(), then serve with pysip2's own connection handler), with the listener closed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from datetime import datetime
import socket
from typing import Any, Unpack

import anyio
from anyio import EndOfStream
from anyio.abc import SocketAttribute, SocketListener, SocketStream
from ils_records import (
    CARD_BLOCKED,
    ITEM_NOT_FOUND,
    IlsRecords,
    RecordOptions,
    asked_range,
    patron_status,
)
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


def _wrong_checksum(frame: bytes) -> bytes:
    body = frame.rstrip(b"\r")
    if body[-6:-4] != b"AZ":
        return frame
    return body[:-4] + f"{(int(body[-4:], 16) + 1) & 0xFFFF:04X}".encode() + b"\r"


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


class PySip2Ils(IlsRecords):
    """pysip2's SIP2Server serving the ILS's records on 127.0.0.1 (a free port)."""

    vendor_fields = False  # no PC, PA or card field in its 64

    def __init__(
        self,
        patrons: Iterable[Mapping[str, Any]],
        *,
        encoding: str = "cp850",
        **options: Unpack[RecordOptions],
    ) -> None:
        super().__init__(patrons, encoding=encoding, **options)
        self.port = 0
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        server = _TappedServer(
            encoding=encoding,
            institution_id=self.institution,
            login_required=self.login_user is not None,
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

    # --- The routes ---------------------------------------------------------------------------

    async def _login(self, request: LoginRequest, ctx: Any) -> LoginResponse:
        self.count("93")
        ok = self.login(request.login_user_id, request.login_password)
        return LoginResponse(ok="1" if ok else "0")

    async def _sc_status(self, request: SCStatusRequest, ctx: Any) -> Any:
        self.count("99")
        return self.server.build_acs_status(request)

    async def _patron_information(
        self, request: PatronInformationRequest, ctx: Any
    ) -> PatronInformationResponse:
        self.count("63")
        patron = self.patron(request.patron_identifier)
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
        if patron is None:
            return PatronInformationResponse(
                **common,
                patron_status=patron_status(None),
                patron_identifier=request.patron_identifier,
                personal_name="",
                valid_patron="N",
                valid_patron_password="N" if password is not None else None,
            )
        loans = self.loans_of(str(patron["id"]))
        charged: tuple[str, ...] = ()
        if request.summary[2] == "Y":  # the charged items, BP to BQ (from 1)
            charged = tuple(asked_range(loans, request.start_item, request.end_item))
        return PatronInformationResponse(
            **(common | {"charged_items_count": f"{len(loans):04d}"}),
            patron_status=patron_status(patron.get("status")),
            patron_identifier=str(patron["id"]),
            personal_name=self.text(patron.get("name", "")),
            valid_patron="Y",
            # No empty CQ: pysip2 leaves the field out instead.
            valid_patron_password=self.password_check(patron, password) or None,
            charged_items=charged,
        )

    async def _block_patron(self, request: BlockPatronRequest, ctx: Any) -> PatronStatusResponse:
        self.count("01")
        key = request.patron_identifier
        patron, status = self.block(key, request.blocked_card_message, request.card_retained == "Y")
        common: dict[str, Any] = {
            "language": "000",
            "transaction_date": ctx.now_18(),
            "institution_id": self.institution,
            "patron_status": status,
        }
        if patron is None:
            return PatronStatusResponse(
                **common, patron_identifier=key, personal_name="", valid_patron="N"
            )
        return PatronStatusResponse(
            **common,
            patron_identifier=str(patron["id"]),
            personal_name=str(patron.get("name", "")),
            valid_patron="Y",
            screen_message=(CARD_BLOCKED,),
        )

    # --- Circulation --------------------------------------------------------------------------

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
                screen_message=(ITEM_NOT_FOUND,),
            )
        loan = self.loan(barcode)
        location = self.location(item)
        return ItemInformationResponse(
            circulation_status="04" if loan is not None else "03",
            security_marker="02",
            fee_type="01",
            transaction_date=_sip_date(self.now()),
            hold_queue_length="0",
            due_date=_sip_date(loan.due) if loan is not None else None,
            item_identifier=str(item["barcode"]),
            title_identifier=self.text(item.get("title", "")),
            permanent_location=location,
            current_location=location,
            **self._item_fields(item),
        )

    async def _checkout(self, request: CheckoutRequest, ctx: Any) -> CheckoutResponse:
        self.count("11")
        checkout = self.checkout(
            request.patron_identifier,
            request.item_identifier,
            request.patron_password,
            no_block=request.no_block == "Y",
        )
        item = checkout.item
        common: dict[str, Any] = {
            "transaction_date": _sip_date(self.now()),
            "institution_id": self.institution,
            "patron_identifier": checkout.patron_id,
            "item_identifier": checkout.barcode,
            "title_identifier": self.text(item.get("title", "")) if item is not None else "",
        }
        if checkout.refusal is not None or checkout.due is None or item is None:
            return CheckoutResponse(
                **common,
                ok="0",
                renewal_ok="N",
                magnetic_media="U",
                desensitize="N",
                due_date="",
                screen_message=(checkout.refusal or "",),
            )
        return CheckoutResponse(
            **common,
            ok="1",
            renewal_ok="Y" if checkout.renewal else "N",
            magnetic_media="N",
            desensitize="Y",
            due_date=_sip_date(checkout.due),
            **self._item_fields(item),
        )

    async def _checkin(self, request: CheckinRequest, ctx: Any) -> CheckinResponse:
        self.count("09")
        checkin = self.checkin(
            request.item_identifier, request.return_date, request.current_location
        )
        item, loan = checkin.item, checkin.loan
        refusal = () if checkin.refusal is None else (checkin.refusal,)
        common: dict[str, Any] = {
            "transaction_date": _sip_date(self.now()),
            "institution_id": self.institution,
            "item_identifier": checkin.barcode,
            "screen_message": refusal,
        }
        if item is None:
            return CheckinResponse(
                **common,
                ok="0",
                resensitize="N",
                magnetic_media="U",
                alert="Y",
                permanent_location="",
            )
        return CheckinResponse(
            **common,
            ok="1" if loan is not None else "0",
            resensitize="Y",
            magnetic_media="N",
            alert="N",
            permanent_location=self.location(item),
            title_identifier=self.text(item.get("title", "")),
            patron_identifier=loan.patron_id if loan is not None else None,
            **self._item_fields(item),
        )


def _sip_date(moment: datetime) -> str:
    """A SIP2 timestamp in local time (four blanks for the zone), as pysip2's own now_18()."""
    return moment.strftime("%Y%m%d") + "    " + moment.strftime("%H%M%S")
