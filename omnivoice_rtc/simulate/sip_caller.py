"""A minimal SIP user agent (UAC over UDP) that places one call: INVITE with a PCMU +
RFC 4733 offer, ACK, BYE; it answers the far end's BYE and other in-dialog requests.

Enough for ``omnivoice-rtc simulate sip`` against a trunk that admits the caller by
address (the local livekit-sip on loopback): no digest authentication (a 401/407 ends the
call with that status), no TCP/TLS, no re-INVITE handling beyond answering 200. The
media is an :class:`~omnivoice_rtc.simulate.rtp_peer.RtpPeer` whose port goes in the SDP.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
from dataclasses import dataclass, field
from typing import Final

from omnivoice_rtc._errors import ProtocolError, SIPCallError

__all__ = ["SipCaller", "SipResponse", "parse_sip_message", "sdp_media_address"]

_RETRANSMIT_S: Final = (0.5, 1.0, 2.0, 4.0)
_FINAL_TIMEOUT_S: Final = 60.0
_USER_AGENT: Final = "omnivoice-simulate"


@dataclass(frozen=True, slots=True)
class SipResponse:
    """A parsed SIP message: ``status`` 0 for a request (then ``method`` is set)."""

    status: int
    reason: str
    method: str
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""


def parse_sip_message(data: bytes) -> SipResponse:
    """Parse a SIP request or response (headers lower-cased, first value of each)."""
    head, _, body = data.decode("utf-8", "replace").partition("\r\n\r\n")
    lines = head.split("\r\n")
    if not lines or not lines[0]:
        raise ProtocolError("sip: empty message")
    first = lines[0]
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers.setdefault(name.strip().lower(), value.strip())
    if first.startswith("SIP/2.0 "):
        parts = first.split(" ", 2)
        if len(parts) < 2 or not parts[1].isdigit():
            raise ProtocolError(f"sip: bad status line {first!r}")
        return SipResponse(int(parts[1]), parts[2] if len(parts) > 2 else "", "", headers, body)
    return SipResponse(0, "", first.split(" ", 1)[0], headers, body)


def sdp_media_address(sdp: str) -> tuple[str, int]:
    """(IP, port) of the audio stream an SDP answer names."""
    port = re.search(r"^m=audio (\d+) ", sdp, re.MULTILINE)
    addr = re.search(r"^c=IN IP4 (\S+)", sdp, re.MULTILINE)
    if port is None or addr is None:
        raise ProtocolError("sip: the answer's SDP has no IPv4 audio stream")
    return addr.group(1), int(port.group(1))


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, inbox: asyncio.Queue[tuple[bytes, tuple[str, int]]]) -> None:
        self._inbox = inbox

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self._inbox.put_nowait((data, addr))


class SipCaller:
    """One outgoing call from ``caller`` to ``callee`` at ``host:port``; its media at
    ``local_ip:rtp_port``. Use :meth:`open`, :meth:`invite`, :meth:`hang_up`, :meth:`aclose`."""

    def __init__(
        self, *, host: str, port: int, caller: str, callee: str, rtp_port: int, local_ip: str
    ) -> None:
        self.host, self.port = host, port
        self.caller, self.callee = caller, callee
        self.rtp_port, self.local_ip = rtp_port, local_ip
        self.call_id = f"{secrets.token_hex(8)}@{local_ip}"
        self.ended = asyncio.Event()
        """Set when the far end sent BYE (or we hung up)."""
        self._tag = secrets.token_hex(4)
        self._to_header = f"<sip:{callee}@{host}:{port}>"
        self._remote_target = f"sip:{callee}@{host}:{port}"
        self._cseq = 1
        self._transport: asyncio.DatagramTransport | None = None
        self._inbox: asyncio.Queue[tuple[bytes, tuple[str, int]]] = asyncio.Queue()
        self._responses: asyncio.Queue[SipResponse] = asyncio.Queue()
        self._reader: asyncio.Task[None] | None = None
        self._local_port = 0

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _Protocol(self._inbox), local_addr=(self.local_ip, 0)
        )
        self._transport = transport
        self._local_port = int(self._transport.get_extra_info("sockname")[1])
        self._reader = loop.create_task(self._read())

    async def aclose(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    # ------------------------------------------------------------------ messages

    def _headers(self, method: str, cseq: int, branch: str) -> list[str]:
        return [
            f"Via: SIP/2.0/UDP {self.local_ip}:{self._local_port};branch={branch};rport",
            f'From: "Simulated caller" <sip:{self.caller}@{self.local_ip}>;tag={self._tag}',
            f"To: {self._to_header}",
            f"Call-ID: {self.call_id}",
            f"CSeq: {cseq} {method}",
            f"Contact: <sip:{self.caller}@{self.local_ip}:{self._local_port}>",
            "Max-Forwards: 70",
            f"User-Agent: {_USER_AGENT}",
        ]

    def _send(self, first: str, headers: list[str], body: str = "", content_type: str = "") -> None:
        if self._transport is None:
            raise RuntimeError("SipCaller: open() first")
        if content_type:
            headers = [*headers, f"Content-Type: {content_type}"]
        text = "\r\n".join([first, *headers, f"Content-Length: {len(body.encode())}", "", body])
        self._transport.sendto(text.encode(), (self.host, self.port))

    def _offer(self) -> str:
        return "\r\n".join(
            [
                "v=0",
                f"o=simulate 1 1 IN IP4 {self.local_ip}",
                "s=omnivoice-simulate",
                f"c=IN IP4 {self.local_ip}",
                "t=0 0",
                f"m=audio {self.rtp_port} RTP/AVP 0 101",
                "a=rtpmap:0 PCMU/8000",
                "a=rtpmap:101 telephone-event/8000",
                "a=fmtp:101 0-16",
                "a=ptime:20",
                "a=sendrecv",
                "",
            ]
        )

    async def _read(self) -> None:
        while True:
            data, _addr = await self._inbox.get()
            try:
                message = parse_sip_message(data)
            except ProtocolError:
                continue
            if message.status:
                self._responses.put_nowait(message)
                continue
            self._answer_request(message)

    def _answer_request(self, request: SipResponse) -> None:
        """200 OK to BYE, INFO, OPTIONS, re-INVITE… (ACKs get nothing)."""
        if request.method == "ACK":
            return
        headers = [
            f"Via: {request.headers.get('via', '')}",
            f"From: {request.headers.get('from', '')}",
            f"To: {request.headers.get('to', '')}",
            f"Call-ID: {request.headers.get('call-id', '')}",
            f"CSeq: {request.headers.get('cseq', '')}",
        ]
        self._send("SIP/2.0 200 OK", headers)
        if request.method == "BYE":
            self.ended.set()

    async def _transaction(self, method: str, first: str, **body: str) -> SipResponse:
        """Send a request (retransmitted until a response) and return its final response."""
        branch = "z9hG4bK" + secrets.token_hex(6)
        cseq = self._cseq
        headers = self._headers(method, cseq, branch)
        self._send(first, headers, **body)
        resend = list(_RETRANSMIT_S)
        provisional = False
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _FINAL_TIMEOUT_S
        while True:
            wait = resend.pop(0) if resend and not provisional else deadline - loop.time()
            if wait <= 0:
                raise SIPCallError(
                    f"call failed: no final answer to {method}",
                    sip_status_code=408,
                    sip_status="Request Timeout",
                )
            try:
                response = await asyncio.wait_for(self._responses.get(), wait)
            except TimeoutError:
                if not provisional:
                    self._send(first, headers, **body)
                continue
            if not response.headers.get("cseq", "").startswith(f"{cseq} "):
                continue  # a stray retransmission of an earlier transaction
            if response.status < 200:
                provisional = True
                continue
            if method == "INVITE":
                self._ack(response, branch if response.status >= 300 else None)
            return response

    def _ack(self, response: SipResponse, branch: str | None) -> None:
        to = response.headers.get("to", self._to_header)
        self._to_header = to
        headers = self._headers("ACK", self._cseq, branch or "z9hG4bK" + secrets.token_hex(6))
        target = f"sip:{self.callee}@{self.host}:{self.port}"
        contact = re.search(r"<(sip:[^>]+)>", response.headers.get("contact", ""))
        if branch is None and contact is not None:
            target = self._remote_target = contact.group(1)
        self._send(f"ACK {target} SIP/2.0", headers)

    # ------------------------------------------------------------------ the call

    async def invite(self) -> tuple[str, int]:
        """Call; return the far end's RTP (IP, port) once answered. SIPCallError with the
        SIP status when refused."""
        target = f"sip:{self.callee}@{self.host}:{self.port}"
        response = await self._transaction(
            "INVITE", f"INVITE {target} SIP/2.0", body=self._offer(), content_type="application/sdp"
        )
        if response.status >= 300:
            raise SIPCallError(
                f"call failed: SIP {response.status} {response.reason}",
                sip_status_code=response.status,
                sip_status=response.reason,
            )
        return sdp_media_address(response.body)

    async def hang_up(self) -> None:
        """Send BYE (unless the far end already did) and wait briefly for its 200."""
        if self.ended.is_set():
            return
        self.ended.set()
        self._cseq += 1
        with contextlib.suppress(SIPCallError, TimeoutError):
            await asyncio.wait_for(
                self._transaction("BYE", f"BYE {self._remote_target} SIP/2.0"),
                5,
            )
