"""Loopback fake of the OpenAI Realtime API WebSocket (GA protocol, ``/v1/realtime``).

Usage (the real plugin, pointed at the fake by base URL)::

    from livekit.plugins.openai import realtime
    from tests.fakes.openai_realtime import OpenAIRealtimeFake, RealtimeFakeOptions

    async with OpenAIRealtimeFake(RealtimeFakeOptions(user_transcript="what time is it",
                                                      reply_text="It is noon.")) as fake:
        model = realtime.RealtimeModel(base_url=fake.base_url, api_key="test")
        session = model.session()
        ...  # push_audio(...) speech, then silence
        await fake.wait_for_server_event("response.done")
        assert fake.audio_bytes_received > 0

API:

* ``OpenAIRealtimeFake(options)`` — async context manager; aiohttp server on 127.0.0.1:0.
* ``fake.base_url`` — ``http://127.0.0.1:<port>/v1`` (for ``RealtimeModel(base_url=...)``
  or ``OPENAI_BASE_URL``); ``fake.ws_url`` — ``ws://127.0.0.1:<port>/v1/realtime``.
* Records: ``fake.connections`` (path, query, headers per WebSocket), ``fake.client_events``
  and ``fake.server_events`` (every JSON event; base64 audio replaced by
  ``"<N bytes>"``), ``fake.audio_bytes_received`` (decoded PCM bytes appended),
  ``fake.function_outputs`` (``function_call_output`` items the client created),
  ``fake.responses`` (one :class:`ResponseRecord` per response: id, kind, text, status).
* Waiters: ``await fake.wait_for_client_event(type)`` / ``wait_for_server_event(type)``
  (return the n-th matching event; raise TimeoutError after ``timeout`` s);
  ``await fake.wait_idle()`` until no session is open (``fake.open_connections``).
* Knobs (:class:`RealtimeFakeOptions`): scripted ``user_transcript`` and ``reply_text``
  (string or ``fn(user_transcript) -> str``), a scripted ``tool_call`` made once before the
  first answer (the answer after the client's ``function_call_output`` and
  ``response.create`` is ``tool_reply.format(output=...)``), reply audio (tone or
  espeak-ng speech), ``pacing`` (0 = as fast as possible, 1.0 = real time),
  ``latency_ms`` (0 by default), VAD ``vad_threshold_rms`` / ``silence_ms``, and injected
  errors: ``reject_status`` (HTTP status for the upgrade), ``error_on`` (client event type →
  ``error`` event body, sent once), ``fail_responses`` (the next N responses end
  ``failed``), ``drop_after_events`` (close the socket, code 1011, after N client events).

Protocol (as livekit-plugins-openai 1.8.9 / ``openai.types.realtime`` speak it):
client ``session.update``, ``input_audio_buffer.append|commit|clear``,
``conversation.item.create|delete|truncate``, ``response.create|cancel``; server
``session.created|updated``, ``input_audio_buffer.speech_started|speech_stopped|committed|
cleared`` (server VAD from the energy of the appended 24 kHz s16le audio),
``conversation.item.added|done|deleted|truncated``,
``conversation.item.input_audio_transcription.completed``, ``response.created``,
``response.output_item.added|done``, ``response.content_part.added|done``,
``response.output_audio_transcript.delta|done``, ``response.output_audio.delta|done``,
``response.function_call_arguments.delta|done``, ``response.done``, ``error``.
The plugin in this tree uses the GA names (``response.output_audio.delta``,
``conversation.item.added``); the beta names are Azure-only there.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Self

from aiohttp import web

from ._common import FakeToolCall
from ._openai_realtime_session import RealtimeConnection
from ._openai_realtime_types import (
    SAMPLE_RATE,
    ConnectionRecord,
    RealtimeFakeOptions,
    ResponseRecord,
)

__all__ = [
    "SAMPLE_RATE",
    "ConnectionRecord",
    "FakeToolCall",
    "OpenAIRealtimeFake",
    "RealtimeFakeOptions",
    "ResponseRecord",
]


class OpenAIRealtimeFake:
    """The fake server. One instance serves any number of WebSocket connections."""

    def __init__(self, options: RealtimeFakeOptions | None = None) -> None:
        self.options = options or RealtimeFakeOptions()
        self.connections: list[ConnectionRecord] = []
        self.client_events: list[dict[str, Any]] = []
        self.server_events: list[dict[str, Any]] = []
        self.function_outputs: list[dict[str, Any]] = []
        self.responses: list[ResponseRecord] = []
        self.audio_bytes_received = 0
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._conns: set[RealtimeConnection] = set()
        self._port = 0
        self._tool_called = False

    # ------------------------------------------------------------------ lifecycle
    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/v1/realtime", self._handle)
        app.router.add_get("/realtime", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
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

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._port}/v1"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self._port}/v1/realtime"

    # ------------------------------------------------------------------ waiters
    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def _wait(
        self,
        events: list[dict[str, Any]],
        type_: str,
        count: int,
        timeout: float,  # noqa: ASYNC109  # reason: a per-call deadline keeps test waits short
        predicate: Callable[[dict[str, Any]], bool] | None,
    ) -> dict[str, Any]:
        def matches() -> list[dict[str, Any]]:
            return [
                e for e in events if e.get("type") == type_ and (predicate is None or predicate(e))
            ]

        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: len(matches()) >= count)
        return matches()[count - 1]

    @property
    def open_connections(self) -> int:
        """WebSocket sessions currently open."""
        return len(self._conns)

    async def wait_idle(
        self,
        *,
        timeout: float = 10.0,  # noqa: ASYNC109  # reason: a per-call deadline keeps test waits short
    ) -> None:
        """Wait until no WebSocket session is open (e.g. between tests sharing a fake)."""
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: not self._conns)

    async def wait_for_client_event(
        self,
        type_: str,
        *,
        count: int = 1,
        timeout: float = 10.0,  # noqa: ASYNC109  # reason: a per-call deadline keeps test waits short
        predicate: Callable[[dict[str, Any]], bool] | None = None,
    ) -> dict[str, Any]:
        """The ``count``-th client event of ``type_`` (waits up to ``timeout`` s)."""
        return await self._wait(self.client_events, type_, count, timeout, predicate)

    async def wait_for_server_event(
        self,
        type_: str,
        *,
        count: int = 1,
        timeout: float = 10.0,  # noqa: ASYNC109  # reason: a per-call deadline keeps test waits short
        predicate: Callable[[dict[str, Any]], bool] | None = None,
    ) -> dict[str, Any]:
        """The ``count``-th server event of ``type_`` (waits up to ``timeout`` s)."""
        return await self._wait(self.server_events, type_, count, timeout, predicate)

    # ------------------------------------------------------------------ handler
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.connections.append(
            ConnectionRecord(request.path, dict(request.query), dict(request.headers))
        )
        if self.options.reject_status is not None:
            return web.json_response(
                {
                    "error": {
                        "type": "invalid_request_error",
                        "code": "rejected",
                        "message": "injected rejection",
                        "param": None,
                    }
                },
                status=self.options.reject_status,
            )
        if not request.headers.get("Authorization", "").startswith("Bearer "):
            return web.json_response(
                {
                    "error": {
                        "type": "invalid_request_error",
                        "code": "missing_api_key",
                        "message": "Missing bearer authentication",
                        "param": None,
                    }
                },
                status=401,
            )
        ws = web.WebSocketResponse(max_msg_size=16 * 1024 * 1024)
        await ws.prepare(request)
        conn = RealtimeConnection(self, ws, model=request.query.get("model", "gpt-realtime"))
        self._conns.add(conn)
        try:
            await conn.run()
        finally:
            self._conns.discard(conn)
            await conn.close()
            await self._notify()
        return ws
