"""A carrier, simulated from each carrier's documented protocol (reference sections 1-4;
Exotel: developer.exotel.com/docs/agentstream).

It does what Twilio, Telnyx, Vonage, Plivo or Exotel do when a call arrives at a number
pointed at our server: POST (or GET) a correctly signed (Exotel: Basic-authenticated)
answer webhook, read the markup it gets back, open the WebSocket the markup names (with
the token where the markup put it; Exotel with its Basic credentials on the upgrade),
stream caller audio as that carrier's frames at real-time pace, and play what comes
back: it decodes outbound media, echoes marks after the audio before them has
"played" (a playout clock), drops queued audio and echoes pending marks on a clear,
and records every command with its arrival time (that side is
:class:`~omnivoice_rtc.simulate.carrier_playout.CarrierPlayout`).

Messages are built with the carriers package's codecs (their serialize side) and the
webhook signatures with its signing helpers; the per-carrier facts (secrets, call ids,
codecs, webhook fields) are in :mod:`omnivoice_rtc.simulate.carrier_webhooks`, so this file holds only
the choreography.

The tests use it against the shim (tests/integration/shim, tests/e2e/media_streams) and
``omnivoice-rtc simulate`` against a running web server
(:mod:`omnivoice_rtc.simulate.carrier_call`).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import ssl
import time
from collections import deque
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlencode

import aiohttp
import numpy as np

from omnivoice_rtc.audio.converter import StreamConverter
from omnivoice_rtc.audio.format import PLIVO, TELNYX, TWILIO, AudioEncoding, AudioFormat
from omnivoice_rtc.carriers import telnyx as telnyx_api
from omnivoice_rtc.carriers import vonage as vonage_api
from omnivoice_rtc.media_streams.messages import (
    Connected,
    Dtmf,
    Media,
    MediaStreamCodec,
    Start,
    Stop,
)
from omnivoice_rtc.simulate.carrier_playout import FRAME_MS, CarrierPlayout
from omnivoice_rtc.simulate.carrier_webhooks import (
    WIRE_ENCODINGS,
    CallParties,
    CarrierSecrets,
    call_control_event,
    exotel_headers,
    new_call_id,
    signature_headers,
    stream_codec,
    stream_target_from_markup,
    webhook_fields,
)

__all__ = ["CarrierSecrets", "CarrierSimulator", "StreamTarget", "pcm16"]

EXOTEL_FRAME_MS = 100
"""Exotel streams about 100 ms per ``media`` message."""


@dataclass(frozen=True, slots=True)
class StreamTarget:
    """Where the markup told the carrier to stream, and the values it asked to send along."""

    url: str
    parameters: dict[str, str]
    sample_rate: int = 8000


def pcm16(samples: np.ndarray) -> bytes:
    return samples.astype(np.int16).tobytes()


class CarrierSimulator:
    """One simulated call of ``carrier`` against ``base_url`` (``https://host:port``).

    ``public_base_url``: the URL the server believes carriers reach it at
    (``OMNIVOICE_PUBLIC_URL``); webhooks are signed for it while they are sent to
    ``base_url`` (empty: signed for ``base_url``)."""

    def __init__(
        self,
        *,
        carrier: str,
        base_url: str,
        secrets_: CarrierSecrets,
        ssl_context: ssl.SSLContext | None = None,
        call_id: str | None = None,
        caller: str = "+15550100",
        callee: str = "+15550199",
        public_base_url: str = "",
    ) -> None:
        self.carrier = carrier
        self.base_url = base_url.rstrip("/")
        self.public_base_url = public_base_url.rstrip("/") or self.base_url
        self.secrets = secrets_
        self.ssl = ssl_context
        self.caller, self.callee = caller, callee
        self.call_id = call_id or new_call_id(carrier)
        prefix = {"twilio": "MZ", "telnyx": "", "plivo": "", "vonage": "", "exotel": "MZ"}
        self.stream_id = prefix[carrier] + secrets.token_hex(16)
        self.frame_ms = EXOTEL_FRAME_MS if carrier == "exotel" else FRAME_MS
        """Duration of each media message this carrier sends (ms)."""
        self.playout = CarrierPlayout(
            carrier=carrier,
            stream_id=self.stream_id,
            codec=stream_codec(carrier, self.stream_id, 8000 if carrier != "vonage" else 16000),
        )
        """What the carrier does with what the server sends (reads it once the stream opens)."""
        self.http: aiohttp.ClientSession | None = None
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self._seq = 0
        self._chunk = 0
        self._format: AudioFormat = TWILIO
        self._mic: asyncio.Task[None] | None = None
        self._player: StreamConverter | None = None
        self._mic_queue: deque[bytes] = deque()
        self._mic_waiters: list[asyncio.Future[float]] = []

    @property
    def codec(self) -> MediaStreamCodec:
        """The stream's codec (the playout parses with it too)."""
        return self.playout.codec

    @codec.setter
    def codec(self, codec: MediaStreamCodec) -> None:
        self.playout.codec = codec

    @property
    def received_pcm(self) -> bytearray:
        """Agent audio as decoded PCM16 at the carrier rate."""
        return self.playout.received_pcm

    @property
    def clears(self) -> list[float]:
        """Monotonic arrival times (s) of the shim's clears."""
        return self.playout.clears

    @property
    def close_code(self) -> int | None:
        """The close code of the server's close, once it closed the stream."""
        return self.playout.close_code

    # ------------------------------------------------------------------ setup

    async def __aenter__(self) -> CarrierSimulator:
        self.http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=self.ssl or False))
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
        if self.http is not None:
            await self.http.close()

    def _http(self) -> aiohttp.ClientSession:
        if self.http is None:
            raise RuntimeError("CarrierSimulator: use it as `async with` first")
        return self.http

    # ------------------------------------------------------------------ webhook

    def answer_url(self) -> str:
        return f"{self.base_url}/carriers/{self.carrier}/answer"

    def signed_url(self, url: str) -> str:
        """``url`` (under ``base_url``) as the server sees it: under ``public_base_url``."""
        if url.startswith(self.base_url):
            return self.public_base_url + url[len(self.base_url) :]
        return url

    def parties(self) -> CallParties:
        return CallParties(self.carrier, self.call_id, self.caller, self.callee)

    def webhook_fields(self) -> dict[str, str]:
        return webhook_fields(self.parties())

    async def post_answer_webhook(
        self, *, signed: Literal["ok", "missing", "wrong"] = "ok", url: str | None = None
    ) -> tuple[int, str]:
        """Send the answer webhook as the carrier does; returns (status, body)."""
        http = self._http()
        url = url or self.answer_url()
        signed_url = self.signed_url(url)
        fields = self.webhook_fields()
        headers: dict[str, str] = {}
        if self.carrier == "exotel":  # the applet GETs our endpoint with Basic credentials
            if signed != "missing":
                headers.update(exotel_headers(self.secrets, wrong=signed == "wrong"))
            async with http.get(f"{url}?{urlencode(fields)}", headers=headers) as resp:
                return resp.status, await resp.text()
        if self.carrier == "vonage":  # GET by default, query string, JWT over the query
            url = f"{url}?{urlencode(fields)}"
            hash_ = vonage_api.query_payload_hash(list(fields.items()))
            secret = self.secrets.vonage_signature_secret if signed == "ok" else "wrong-secret"
            token = vonage_api.make_signed_webhook_jwt(
                signature_secret=secret, api_key=self.secrets.vonage_api_key, payload_hash=hash_
            )
            if signed != "missing":
                headers["Authorization"] = f"Bearer {token}"
            async with http.get(url, headers=headers) as resp:
                return resp.status, await resp.text()
        body = urlencode(fields).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        if signed != "missing":
            headers.update(
                self._signature_headers(signed_url, fields, body, wrong=signed == "wrong")
            )
        async with http.post(url, data=body, headers=headers) as resp:
            return resp.status, await resp.text()

    def _signature_headers(
        self, url: str, fields: dict[str, str], body: bytes, *, wrong: bool
    ) -> dict[str, str]:
        return signature_headers(
            self.carrier, self.secrets, url=url, fields=fields, body=body, wrong=wrong
        )

    def stream_target(self, markup: str) -> StreamTarget:
        """Read the answer markup as the carrier would: stream URL, parameters, rate."""
        return StreamTarget(*stream_target_from_markup(self.carrier, markup))

    # ------------------------------------------------------------------ media stream

    async def post_call_control_event(
        self, event_type: str, *, direction: Literal["incoming", "outgoing"] = "incoming"
    ) -> tuple[int, str]:
        """Telnyx Call Control: POST a signed JSON event about this call (``call.initiated``
        offers a parked call; the others report on it); returns (status, body)."""
        http = self._http()
        if self.carrier != "telnyx":
            raise ValueError(f"call control events are Telnyx's, not {self.carrier}'s")
        body = call_control_event(
            self.parties(),
            event_type,
            direction=direction,
            delivered_to=self.signed_url(self.answer_url()),
        )
        ts = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "telnyx-timestamp": ts,
            "telnyx-signature-ed25519": telnyx_api.sign_webhook(
                self.secrets.telnyx_private_key, ts, body
            ),
        }
        async with http.post(self.answer_url(), data=body, headers=headers) as resp:
            return resp.status, await resp.text()

    async def open_stream(
        self,
        target: StreamTarget,
        *,
        headers: dict[str, str] | None = None,
        start_details: dict[str, str] | None = None,
    ) -> None:
        """Connect the WebSocket and send the carrier's opening messages; ``start_details``
        go into ``start`` as they are (Telnyx Call Control's ``client_state``). Exotel
        presents its Basic credentials on the upgrade unless ``headers`` are given."""
        http = self._http()
        if headers is None and self.carrier == "exotel":
            headers = exotel_headers(self.secrets)
        self.ws = await http.ws_connect(target.url, headers=headers or {}, max_msg_size=0)
        self.playout.start(self.ws)
        if self.carrier == "vonage":
            self.codec = stream_codec(self.carrier, self.stream_id, target.sample_rate)
            self._format = AudioFormat(AudioEncoding.PCM16, target.sample_rate)
            await self._send(
                self.codec.serialize(
                    Connected(media_format=self._format, custom_parameters=dict(target.parameters))
                )
            )
            return
        if self.carrier == "exotel":  # PCM16 at the rate the stream URL asked for
            self.codec = stream_codec(self.carrier, self.stream_id, target.sample_rate)
            self._format = AudioFormat(AudioEncoding.PCM16, target.sample_rate)
        else:
            self._format = {"twilio": TWILIO, "telnyx": TELNYX, "plivo": PLIVO}[self.carrier]
        if self.carrier == "twilio":
            await self._send(self.codec.serialize(Connected(protocol="Call", version="1.0.0")))
        elif self.carrier == "telnyx":
            await self._send(self.codec.serialize(Connected(version="1.0.0")))
        elif self.carrier == "exotel":
            await self._send(self.codec.serialize(Connected()))
        await self._send(
            self.codec.serialize(self.start_message(target.parameters, start_details or {}))
        )

    def start_message(
        self, parameters: dict[str, str], details: dict[str, str] | None = None
    ) -> Start:
        return Start(
            call_id=self.call_id,
            stream_id=self.stream_id,
            account_id="AC" + "0" * 32 if self.carrier == "twilio" else None,
            tracks=("inbound",) if self.carrier != "exotel" else (),
            custom_parameters=parameters,
            details=dict(details or {}),
            media_format=self._format,
            wire_encoding=WIRE_ENCODINGS[self.carrier],
            sequence_number=self._next_seq(),
        )

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    async def _send(self, data: str | bytes) -> None:
        if self.ws is None:
            raise RuntimeError("CarrierSimulator: the stream is not open")
        if isinstance(data, bytes):
            await self.ws.send_bytes(data)
        else:
            await self.ws.send_str(data)

    async def send_raw(self, data: str | bytes) -> None:
        """Send anything (hostile tests)."""
        await self._send(data)

    def media_frames(self, pcm: bytes, rate_hz: int) -> list[bytes]:
        """PCM16 at ``rate_hz`` -> this carrier's payloads of ``frame_ms`` each."""
        conv = StreamConverter(
            from_format=AudioFormat(AudioEncoding.PCM16, rate_hz), to_format=self._format
        )
        wire = conv.process(pcm) + conv.flush()
        size = self._format.frame_bytes(self.frame_ms)
        wire += bytes(size - len(wire) % size) if len(wire) % size else b""
        return [wire[i : i + size] for i in range(0, len(wire), size)]

    def media_message(self, payload: bytes) -> str | bytes:
        self._chunk += 1
        if self.carrier == "vonage":
            return self.codec.serialize(Media(payload=payload))
        return self.codec.serialize(
            Media(
                payload=payload,
                stream_id=self.stream_id,
                track="inbound" if self.carrier != "exotel" else None,
                sequence_number=self._next_seq(),
                chunk=self._chunk,
                timestamp_ms=(self._chunk - 1) * self.frame_ms,
            )
        )

    async def stream_pcm(self, pcm: bytes, rate_hz: int, *, speed: float = 1.0) -> float:
        """Send ``pcm`` as media frames paced at ``speed`` x real time (a clock that
        catches up). Returns the monotonic time the first frame went out."""
        frames = self.media_frames(pcm, rate_hz)
        started = time.monotonic()
        for i, payload in enumerate(frames):
            await self._send(self.media_message(payload))
            due = started + (i + 1) * self.frame_ms / 1000.0 / speed
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        return started

    def start_mic(self) -> None:
        """Stream continuously, as a phone line does: queued speech, else silence."""
        if self._mic is None:
            self._mic = asyncio.ensure_future(self._mic_loop())

    async def _mic_loop(self) -> None:
        silence = bytes(self._format.frame_bytes(self.frame_ms))
        if self._format.encoding is AudioEncoding.MULAW:
            silence = b"\xff" * len(silence)
        started = time.monotonic()
        sent = 0
        while self.ws is not None and not self.ws.closed:
            payload = self._mic_queue.popleft() if self._mic_queue else silence
            if self._mic_waiters and payload is not silence:
                onset = self._mic_waiters.pop(0)
                if not onset.done():
                    onset.set_result(time.monotonic())
            try:
                await self._send(self.media_message(payload))
            except (ConnectionResetError, RuntimeError):  # the server closed the socket
                return
            sent += 1
            delay = started + sent * self.frame_ms / 1000.0 - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)

    async def say(self, pcm: bytes, rate_hz: int, *, wait: bool = True) -> float:
        """Queue speech on the running mic; returns the monotonic time its first frame
        went out (and, with ``wait``, returns after its last frame went out)."""
        frames = self.media_frames(pcm, rate_hz)
        onset: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._mic_waiters.append(onset)
        self._mic_queue.extend(frames)
        started = await onset
        if wait:
            await asyncio.sleep(len(frames) * self.frame_ms / 1000.0)
        return started

    async def send_dtmf(self, digit: str) -> None:
        if self.carrier == "vonage":
            await self._send(self.codec.serialize(Dtmf(digit=digit, duration_ms=260)))
        elif self.carrier == "exotel":
            dtmf = Dtmf(
                digit=digit,
                stream_id=self.stream_id,
                sequence_number=self._next_seq(),
                duration_ms=100,
            )
            await self._send(self.codec.serialize(dtmf))
        else:
            await self._send(
                self.codec.serialize(
                    Dtmf(
                        digit=digit,
                        stream_id=self.stream_id,
                        track="inbound_track" if self.carrier == "twilio" else None,
                        sequence_number=self._next_seq(),
                    )
                )
            )

    async def hang_up(self) -> None:
        """The caller hangs up: Twilio/Telnyx/Exotel send stop, then every carrier closes."""
        if self._mic is not None:
            self._mic.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._mic
            self._mic = None
        if self.ws is None or self.ws.closed:
            return
        if self.carrier in ("twilio", "telnyx", "exotel"):
            await self._send(
                self.codec.serialize(
                    Stop(
                        call_id=self.call_id,
                        stream_id=self.stream_id,
                        sequence_number=self._next_seq(),
                    )
                )
            )
        await self.ws.close()

    async def close(self) -> None:
        if self._mic is not None:
            self._mic.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._mic
        await self.playout.aclose()
        if self.ws is not None and not self.ws.closed:
            await self.ws.close()

    async def wait_closed(self, timeout_s: float = 15.0) -> int | None:
        """Wait for the server to close the socket; returns the close code."""
        return await self.playout.wait_closed(timeout_s)

    # ------------------------------------------------------------------ what comes back

    def received_seconds(self, *, threshold: float = 500.0) -> float:
        """Seconds of received agent audio whose 20 ms RMS exceeds ``threshold``."""
        return self.playout.received_seconds(threshold=threshold)
