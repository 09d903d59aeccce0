"""Loopback fake of the Gemini Live API (``BidiGenerateContent`` over WebSocket, TLS).

google-genai always dials ``wss://`` when given a custom base URL
(``BaseApiClient._websocket_base_url`` swaps the scheme), so this fake serves TLS with a
self-signed certificate for 127.0.0.1. Trust it in the client process with
``SSL_CERT_FILE=fake.ca_file`` (google-genai reads it when the client is created)::

    async with GeminiLiveFake(GeminiFakeOptions(user_transcript="hi")) as fake:
        monkeypatch.setenv("SSL_CERT_FILE", fake.ca_file)
        model = google.realtime.RealtimeModel(
            api_key="test", http_options=types.HttpOptions(base_url=fake.base_url))

Wire protocol (the Gemini API / "mldev" dialect google-genai 3.x speaks):

* client → ``{"setup": {"model": ..., "generationConfig": ..., "systemInstruction": ...,
  "tools": [{"functionDeclarations": [...]}], "inputAudioTranscription": {}, ...}}``;
  server → ``{"setupComplete": {}}``.
* client ``{"realtime_input": {"audio": {"data": <b64 s16le 16 kHz>, "mimeType":
  "audio/pcm;rate=16000"}}}`` (also ``activityStart`` / ``activityEnd`` /
  ``audioStreamEnd``), ``{"client_content": {"turns": [...], "turnComplete": bool}}``,
  ``{"tool_response": {"functionResponses": [{"id", "name", "response"}]}}``.
* server ``{"serverContent": {"inputTranscription": {"text"}}}`` when the energy VAD sees
  the end of a user utterance, then either ``{"toolCall": {"functionCalls": [{"id",
  "name", "args"}]}}`` or the model turn: ``{"serverContent": {"modelTurn": {"parts":
  [{"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": <b64>}}]}}}`` chunks with
  ``{"serverContent": {"outputTranscription": {"text"}}}``, then ``generationComplete``,
  and ``turnComplete`` with ``usageMetadata``. Speech during a model turn stops it and
  sends ``{"serverContent": {"interrupted": true}}``.

Knobs (:class:`GeminiFakeOptions`): scripted ``user_transcript`` / ``reply_text``, a
scripted ``tool_call`` (made once; the answer after the ``tool_response`` is
``tool_reply.format(output=...)``), tone or espeak-ng audio, ``pacing``, ``latency_ms``
(default 0), VAD threshold/silence, and errors: ``close_on_setup`` (WebSocket close code
and reason sent instead of ``setupComplete``, e.g. ``(1008, "model not found")``).
Records: ``fake.connections``, ``fake.setups``, ``fake.client_messages`` (audio
redacted), ``fake.server_messages``, ``fake.audio_bytes_received``, ``fake.tool_responses``,
``fake.turns``; waiters ``wait_for_server(key)`` / ``wait_for_client(key)``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import ssl
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, Self

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ._common import FakeToolCall
from ._gemini_live_session import (
    INPUT_SAMPLE_RATE,
    OUTPUT_SAMPLE_RATE,
    GeminiConnection,
    GeminiFakeOptions,
    TurnRecord,
)

__all__ = [
    "INPUT_SAMPLE_RATE",
    "OUTPUT_SAMPLE_RATE",
    "FakeToolCall",
    "GeminiFakeOptions",
    "GeminiLiveFake",
    "TurnRecord",
]


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path = directory / "gemini-fake.pem"
    key_path = directory / "gemini-fake.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class GeminiLiveFake:
    """The fake server (TLS on 127.0.0.1:0). Any number of connections."""

    def __init__(self, options: GeminiFakeOptions | None = None) -> None:
        self.options = options or GeminiFakeOptions()
        self.connections: list[dict[str, Any]] = []
        self.setups: list[dict[str, Any]] = []
        self.client_messages: list[dict[str, Any]] = []
        self.server_messages: list[dict[str, Any]] = []
        self.tool_responses: list[dict[str, Any]] = []
        self.turns: list[TurnRecord] = []
        self.audio_bytes_received = 0
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._tmp = tempfile.TemporaryDirectory(prefix="gemini-fake-")
        self._port = 0
        self._tool_called = False
        self._conns: set[GeminiConnection] = set()
        cert, key = _self_signed(Path(self._tmp.name))
        self.ca_file = str(cert)
        """PEM file of the fake's self-signed certificate (use as ``SSL_CERT_FILE``)."""
        self._server_ssl = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._server_ssl.load_cert_chain(cert, key)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self._server_ssl)
        await site.start()
        server = site._server
        assert server is not None
        self._port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]  # reason: aiohttp exposes the listening socket only on the private server

    async def aclose(self) -> None:
        for conn in list(self._conns):
            await conn.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self._tmp.cleanup()

    @property
    def base_url(self) -> str:
        """``https://127.0.0.1:<port>`` (google-genai turns it into ``wss://``)."""
        return f"https://127.0.0.1:{self._port}"

    def client_ssl_context(self) -> ssl.SSLContext:
        """An SSL context that trusts the fake (for clients other than google-genai)."""
        return ssl.create_default_context(cafile=self.ca_file)

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def _wait(
        self,
        messages: list[dict[str, Any]],
        predicate: Callable[[dict[str, Any]], bool],
        count: int,
        timeout: float,  # noqa: ASYNC109  # reason: a per-call deadline keeps test waits short
    ) -> dict[str, Any]:
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: sum(map(predicate, messages)) >= count)
        return [m for m in messages if predicate(m)][count - 1]

    async def wait_until(
        self,
        condition: Callable[[], bool],
        *,
        timeout: float = 10.0,  # noqa: ASYNC109  # reason: a per-call deadline keeps test waits short
    ) -> None:
        """Wait until ``condition()`` holds; it is re-checked on every message either way."""
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(condition)

    def ready_setups(self) -> int:
        """How many setups were answered with ``setupComplete``."""
        return sum(1 for m in self.server_messages if "setupComplete" in m)

    async def wait_for_server(
        self,
        key: str,
        *,
        count: int = 1,
        timeout: float = 10.0,  # noqa: ASYNC109  # reason: a per-call deadline keeps test waits short
        predicate: Callable[[dict[str, Any]], bool] | None = None,
    ) -> dict[str, Any]:
        """The ``count``-th server message having ``key`` at the top level or in
        ``serverContent`` (e.g. ``"turnComplete"``, ``"toolCall"``, ``"interrupted"``)."""

        def match(m: dict[str, Any]) -> bool:
            has = key in m or key in (m.get("serverContent") or {})
            return has and (predicate is None or predicate(m))

        return await self._wait(self.server_messages, match, count, timeout)

    async def wait_for_client(
        self,
        key: str,
        *,
        count: int = 1,
        timeout: float = 10.0,  # noqa: ASYNC109  # reason: a per-call deadline keeps test waits short
    ) -> dict[str, Any]:
        """The ``count``-th client message whose top-level key is ``key`` (e.g. ``tool_response``)."""
        return await self._wait(self.client_messages, lambda m: key in m, count, timeout)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.connections.append(
            {"path": request.path, "query": dict(request.query), "headers": dict(request.headers)}
        )
        if not request.path.endswith("BidiGenerateContent"):
            return web.json_response(
                {"error": {"code": 404, "message": "not found", "status": "NOT_FOUND"}}, status=404
            )
        if not request.headers.get("x-goog-api-key"):
            return web.json_response(
                {"error": {"code": 401, "status": "UNAUTHENTICATED", "message": "API key missing"}},
                status=401,
            )
        ws = web.WebSocketResponse(max_msg_size=16 * 1024 * 1024)
        await ws.prepare(request)
        conn = GeminiConnection(self, ws)
        self._conns.add(conn)
        try:
            await conn.run()
        finally:
            self._conns.discard(conn)
            await conn.close()
        return ws
