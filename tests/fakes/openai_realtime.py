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
  (return the n-th matching event; raise TimeoutError after ``timeout`` s).
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
import base64
import contextlib
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Self

from aiohttp import WSCloseCode, WSMsgType, web

from .openai_http import FakeToolCall, espeak_pcm16, pcm16_rms, tone_pcm16

__all__ = [
    "SAMPLE_RATE",
    "ConnectionRecord",
    "FakeToolCall",
    "OpenAIRealtimeFake",
    "RealtimeFakeOptions",
    "ResponseRecord",
]

SAMPLE_RATE = 24000
"""Realtime API audio rate, both directions (Hz, s16le mono)."""
_BYTES_PER_MS = SAMPLE_RATE * 2 // 1000


@dataclass(slots=True)
class RealtimeFakeOptions:
    """Behaviour of :class:`OpenAIRealtimeFake` (see the module doc)."""

    user_transcript: str = "hello there"
    reply_text: str | Callable[[str], str] = "Hello from the fake realtime model."
    tool_call: FakeToolCall | None = None
    tool_reply: str = "The tool said {output}."
    audio: Literal["tone", "espeak"] = "tone"
    tone_ms_per_char: int = 30
    min_reply_ms: int = 600
    audio_chunk_ms: int = 100
    pacing: float = 0.0
    latency_ms: int = 0
    vad_threshold_rms: float = 300.0
    silence_ms: int | None = None
    reject_status: int | None = None
    error_on: dict[str, dict[str, Any]] = field(default_factory=dict)
    fail_responses: int = 0
    drop_after_events: int | None = None


@dataclass(slots=True)
class ConnectionRecord:
    path: str
    query: dict[str, str]
    headers: dict[str, str]


@dataclass(slots=True)
class ResponseRecord:
    id: str
    kind: Literal["message", "function_call"]
    text: str = ""
    status: str = "in_progress"
    audio_bytes: int = 0
    trigger: str = ""


def _new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:20]}"


def _redact(event: dict[str, Any]) -> dict[str, Any]:
    if event.get("type") in ("input_audio_buffer.append", "response.output_audio.delta"):
        key = "audio" if "audio" in event else "delta"
        raw = event.get(key)
        if isinstance(raw, str):
            return {**event, key: f"<{len(base64.b64decode(raw))} bytes>"}
    return event


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
        self._conns: set[_Connection] = set()
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
        conn = _Connection(self, ws, model=request.query.get("model", "gpt-realtime"))
        self._conns.add(conn)
        try:
            await conn.run()
        finally:
            self._conns.discard(conn)
            await conn.close()
        return ws


class _Connection:
    """State of one Realtime WebSocket session."""

    def __init__(self, fake: OpenAIRealtimeFake, ws: web.WebSocketResponse, *, model: str) -> None:
        self.fake = fake
        self.opts = fake.options
        self.ws = ws
        self.send_lock = asyncio.Lock()
        self.session: dict[str, Any] = {
            "type": "realtime",
            "object": "realtime.session",
            "id": _new_id("sess"),
            "model": model,
            "output_modalities": ["audio"],
            "instructions": "",
            "tools": [],
            "tool_choice": "auto",
            "audio": {
                "input": {
                    "format": {"type": "audio/pcm", "rate": SAMPLE_RATE},
                    "transcription": None,
                    "turn_detection": {
                        "type": "server_vad",
                        "threshold": 0.5,
                        "prefix_padding_ms": 300,
                        "silence_duration_ms": 500,
                        "create_response": True,
                        "interrupt_response": True,
                    },
                },
                "output": {"format": {"type": "audio/pcm", "rate": SAMPLE_RATE}, "voice": "marin"},
            },
        }
        self.items: list[dict[str, Any]] = []
        self.buffer = bytearray()
        self.buffer_start_ms = 0
        self.audio_ms = 0.0
        self.speaking = False
        self.silence_run_ms = 0.0
        self.speech_item_id: str | None = None
        self.response_task: asyncio.Task[None] | None = None
        self.response: ResponseRecord | None = None
        self.cancel_reason = "client_cancelled"
        self.last_transcript = ""
        self.events_seen = 0

    # -------------------------------------------------------------- plumbing
    async def send(self, event: dict[str, Any]) -> None:
        event.setdefault("event_id", _new_id("event"))
        if self.ws.closed:
            return
        async with self.send_lock:
            with contextlib.suppress(ConnectionResetError):
                await self.ws.send_str(json.dumps(event))
        self.fake.server_events.append(_redact(event))
        await self.fake._notify()

    async def error(
        self,
        message: str,
        *,
        code: str | None = None,
        event_id: str | None = None,
        type_: str = "invalid_request_error",
    ) -> None:
        await self.send(
            {
                "type": "error",
                "error": {
                    "type": type_,
                    "code": code,
                    "message": message,
                    "param": None,
                    "event_id": event_id,
                },
            }
        )

    async def close(self) -> None:
        if self.response_task is not None:
            self.response_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.response_task
            self.response_task = None
        if not self.ws.closed:
            await self.ws.close()

    async def run(self) -> None:
        await self.send({"type": "session.created", "session": self.session})
        async for msg in self.ws:
            if msg.type != WSMsgType.TEXT:
                continue
            try:
                event = json.loads(msg.data)
            except json.JSONDecodeError:
                await self.error(
                    "The server could not parse the event: invalid JSON", code="invalid_json"
                )
                continue
            if not isinstance(event, dict):
                await self.error("Event must be a JSON object", code="invalid_event")
                continue
            self.fake.client_events.append(_redact(event))
            await self.fake._notify()
            type_ = str(event.get("type", ""))
            if (body := self.opts.error_on.pop(type_, None)) is not None:
                await self.send(
                    {
                        "type": "error",
                        "error": {
                            "type": "invalid_request_error",
                            "param": None,
                            "event_id": event.get("event_id"),
                            **body,
                        },
                    }
                )
                continue
            await self.dispatch(type_, event)
            self.events_seen += 1
            if self.opts.drop_after_events is not None and (
                self.events_seen >= self.opts.drop_after_events
            ):
                self.opts.drop_after_events = None
                await self.ws.close(code=WSCloseCode.INTERNAL_ERROR, message=b"injected drop")
                return

    async def dispatch(self, type_: str, event: dict[str, Any]) -> None:
        handlers: dict[str, Callable[[dict[str, Any]], Any]] = {
            "session.update": self.on_session_update,
            "input_audio_buffer.append": self.on_append,
            "input_audio_buffer.commit": self.on_commit,
            "input_audio_buffer.clear": self.on_clear,
            "conversation.item.create": self.on_item_create,
            "conversation.item.delete": self.on_item_delete,
            "conversation.item.truncate": self.on_item_truncate,
            "response.create": self.on_response_create,
            "response.cancel": self.on_response_cancel,
        }
        handler = handlers.get(type_)
        if handler is None:
            await self.error(
                f"Invalid value: '{type_}'. Supported values are: {', '.join(sorted(handlers))}.",
                code="invalid_value",
                event_id=event.get("event_id"),
            )
            return
        await handler(event)

    # -------------------------------------------------------------- session
    def turn_detection(self) -> dict[str, Any] | None:
        td = self.session["audio"]["input"].get("turn_detection")
        return td if isinstance(td, dict) else None

    def silence_needed_ms(self) -> float:
        if self.opts.silence_ms is not None:
            return float(self.opts.silence_ms)
        td = self.turn_detection() or {}
        return float(td.get("silence_duration_ms") or 500)

    async def on_session_update(self, event: dict[str, Any]) -> None:
        update = event.get("session")
        if not isinstance(update, dict):
            await self.error(
                "Missing required parameter: 'session'.",
                code="missing_required_parameter",
                event_id=event.get("event_id"),
            )
            return
        _merge(self.session, update)
        await self.send({"type": "session.updated", "session": self.session})

    # -------------------------------------------------------------- input audio
    async def on_append(self, event: dict[str, Any]) -> None:
        try:
            pcm = base64.b64decode(event.get("audio", ""), validate=True)
        except ValueError:
            await self.error(
                "Invalid 'audio'. Expected base64-encoded audio bytes.",
                code="invalid_value",
                event_id=event.get("event_id"),
            )
            return
        self.fake.audio_bytes_received += len(pcm)
        if not self.buffer:
            self.buffer_start_ms = int(self.audio_ms)
        self.buffer.extend(pcm)
        chunk_ms = len(pcm) / _BYTES_PER_MS
        self.audio_ms += chunk_ms
        td = self.turn_detection()
        if td is None:
            return
        loud = pcm16_rms(pcm) >= self.opts.vad_threshold_rms
        if loud:
            self.silence_run_ms = 0.0
            if not self.speaking:
                self.speaking = True
                self.speech_item_id = _new_id("item")
                await self.send(
                    {
                        "type": "input_audio_buffer.speech_started",
                        "audio_start_ms": int(self.audio_ms - chunk_ms),
                        "item_id": self.speech_item_id,
                    }
                )
                if self.response_task is not None and td.get("interrupt_response", True):
                    await self.cancel_response("turn_detected")
        elif self.speaking:
            self.silence_run_ms += chunk_ms
            if self.silence_run_ms >= self.silence_needed_ms():
                self.speaking = False
                item_id = self.speech_item_id or _new_id("item")
                await self.send(
                    {
                        "type": "input_audio_buffer.speech_stopped",
                        "audio_end_ms": int(self.audio_ms),
                        "item_id": item_id,
                    }
                )
                await self.commit(item_id)
                if td.get("create_response", True):
                    await self.start_response({}, trigger="server_vad")
        else:
            # keep only ~300 ms of leading silence, like prefix_padding_ms
            keep = 300 * _BYTES_PER_MS
            if len(self.buffer) > keep:
                del self.buffer[: len(self.buffer) - keep]

    async def commit(self, item_id: str, event_id: str | None = None) -> None:
        previous = self.items[-1]["id"] if self.items else None
        self.buffer.clear()
        await self.send(
            {
                "type": "input_audio_buffer.committed",
                "previous_item_id": previous,
                "item_id": item_id,
            }
        )
        item = {
            "id": item_id,
            "object": "realtime.item",
            "type": "message",
            "status": "completed",
            "role": "user",
            "content": [{"type": "input_audio", "transcript": None}],
        }
        await self.add_item(item, previous)
        self.last_transcript = self.opts.user_transcript
        if self.session["audio"]["input"].get("transcription") is not None:
            await self.send(
                {
                    "type": "conversation.item.input_audio_transcription.completed",
                    "item_id": item_id,
                    "content_index": 0,
                    "transcript": self.opts.user_transcript,
                    "usage": {"type": "duration", "seconds": 1},
                }
            )

    async def on_commit(self, event: dict[str, Any]) -> None:
        if len(self.buffer) < 100 * _BYTES_PER_MS:
            await self.error(
                "Error committing input audio buffer: buffer too small. Expected at least 100ms "
                f"of audio, but buffer only has {len(self.buffer) / _BYTES_PER_MS:.2f}ms of audio.",
                code="input_audio_buffer_commit_empty",
                event_id=event.get("event_id"),
            )
            return
        self.speaking = False
        await self.commit(self.speech_item_id or _new_id("item"), event.get("event_id"))
        self.speech_item_id = None

    async def on_clear(self, event: dict[str, Any]) -> None:
        self.buffer.clear()
        self.speaking = False
        await self.send({"type": "input_audio_buffer.cleared"})

    # -------------------------------------------------------------- conversation items
    async def add_item(self, item: dict[str, Any], previous: str | None) -> None:
        if previous is None or previous == "root":
            index = 0 if previous == "root" else len(self.items)
        else:
            ids = [i["id"] for i in self.items]
            index = ids.index(previous) + 1 if previous in ids else len(self.items)
        self.items.insert(index, item)
        prev_id = self.items[index - 1]["id"] if index > 0 else None
        await self.send(
            {"type": "conversation.item.added", "previous_item_id": prev_id, "item": item}
        )
        await self.send(
            {"type": "conversation.item.done", "previous_item_id": prev_id, "item": item}
        )

    async def on_item_create(self, event: dict[str, Any]) -> None:
        item = event.get("item")
        if not isinstance(item, dict) or item.get("type") not in (
            "message",
            "function_call",
            "function_call_output",
        ):
            await self.error(
                "Invalid 'item': expected a message, function_call or function_call_output item.",
                code="invalid_value",
                event_id=event.get("event_id"),
            )
            return
        item = {**item, "object": "realtime.item", "status": "completed"}
        item.setdefault("id", _new_id("item"))
        if any(i["id"] == item["id"] for i in self.items):
            await self.error(
                f"Item with id '{item['id']}' already exists.",
                code="item_create_duplicate_item_id",
                event_id=event.get("event_id"),
            )
            return
        if item["type"] == "function_call_output":
            self.fake.function_outputs.append(item)
        await self.add_item(item, event.get("previous_item_id"))

    async def on_item_delete(self, event: dict[str, Any]) -> None:
        item_id = event.get("item_id")
        for i, item in enumerate(self.items):
            if item["id"] == item_id:
                del self.items[i]
                await self.send({"type": "conversation.item.deleted", "item_id": item_id})
                return
        await self.error(
            f"Error deleting item: the item with id '{item_id}' does not exist.",
            code="item_delete_invalid_item_id",
            event_id=event.get("event_id"),
        )

    async def on_item_truncate(self, event: dict[str, Any]) -> None:
        await self.send(
            {
                "type": "conversation.item.truncated",
                "item_id": event.get("item_id"),
                "content_index": event.get("content_index", 0),
                "audio_end_ms": event.get("audio_end_ms", 0),
            }
        )

    # -------------------------------------------------------------- responses
    async def on_response_create(self, event: dict[str, Any]) -> None:
        if self.response_task is not None:
            await self.error(
                "Conversation already has an active response in progress.",
                code="conversation_already_has_active_response",
                event_id=event.get("event_id"),
            )
            return
        params = event.get("response") if isinstance(event.get("response"), dict) else {}
        await self.start_response(params or {}, trigger="response.create")

    async def on_response_cancel(self, event: dict[str, Any]) -> None:
        if self.response_task is None:
            await self.error(
                "Cancellation failed: no active response found",
                code="response_cancel_not_active",
                event_id=event.get("event_id"),
            )
            return
        await self.cancel_response("client_cancelled")

    async def cancel_response(self, reason: str) -> None:
        task = self.response_task
        if task is None:
            return
        self.cancel_reason = reason
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        record = self.response
        if record is not None and record.status == "in_progress":
            # cancelled before its task ever ran: report it the way the task would have
            record.status = "cancelled"
            await self.send(
                {
                    "type": "response.done",
                    "response": {
                        **self.response_object(record, {}),
                        "status": "cancelled",
                        "status_details": {"type": "cancelled", "reason": reason},
                        "usage": _usage(0),
                    },
                }
            )

    async def start_response(self, params: dict[str, Any], *, trigger: str) -> None:
        kind, text = self.plan_response()
        record = ResponseRecord(id=_new_id("resp"), kind=kind, text=text, trigger=trigger)
        self.fake.responses.append(record)
        self.response = record
        self.cancel_reason = "client_cancelled"
        response = self.response_object(record, params)
        # client events are handled one at a time, so nothing can cancel in between
        await self.send({"type": "response.created", "response": response})
        self.response_task = asyncio.create_task(self.run_response(record, response))

    def response_object(self, record: ResponseRecord, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": record.id,
            "object": "realtime.response",
            "status": "in_progress",
            "status_details": None,
            "output": [],
            "conversation_id": "conv_fake",
            "output_modalities": ["audio"],
            "metadata": params.get("metadata"),
            "usage": None,
        }

    def plan_response(self) -> tuple[Literal["message", "function_call"], str]:
        last = self.items[-1] if self.items else None
        if last is not None and last.get("type") == "function_call_output":
            return "message", self.opts.tool_reply.format(output=last.get("output", ""))
        call = self.opts.tool_call
        offered = {t.get("name") for t in self.session.get("tools") or [] if isinstance(t, dict)}
        if call is not None and not self.fake._tool_called and call.name in offered:
            self.fake._tool_called = True
            return "function_call", json.dumps(call.arguments)
        reply = self.opts.reply_text
        return "message", reply(self.last_transcript) if callable(reply) else reply

    def reply_pcm(self, text: str) -> bytes:
        if self.opts.audio == "espeak":
            return espeak_pcm16(text, sample_rate=SAMPLE_RATE)
        return tone_pcm16(
            max(self.opts.min_reply_ms, self.opts.tone_ms_per_char * len(text)),
            sample_rate=SAMPLE_RATE,
        )

    async def run_response(self, record: ResponseRecord, response: dict[str, Any]) -> None:
        output: list[dict[str, Any]] = []
        item_id = _new_id("item")
        try:
            if self.opts.latency_ms:
                await asyncio.sleep(self.opts.latency_ms / 1000)
            if self.opts.fail_responses > 0:
                self.opts.fail_responses -= 1
                record.status = "failed"
                await self.send(
                    {
                        "type": "response.done",
                        "response": {
                            **response,
                            "status": "failed",
                            "status_details": {
                                "type": "failed",
                                "reason": None,
                                "error": {"type": "server_error", "code": "injected_failure"},
                            },
                            "usage": _usage(0),
                        },
                    }
                )
                return
            if record.kind == "function_call":
                output = [await self.stream_function_call(record, item_id)]
            else:
                output = [await self.stream_message(record, item_id)]
            record.status = "completed"
            await self.send(
                {
                    "type": "response.done",
                    "response": {
                        **response,
                        "status": "completed",
                        "output": output,
                        "usage": _usage(len(record.text)),
                    },
                }
            )
        except asyncio.CancelledError:
            record.status = "cancelled"
            await self.send(
                {
                    "type": "response.done",
                    "response": {
                        **response,
                        "status": "cancelled",
                        "status_details": {"type": "cancelled", "reason": self.cancel_reason},
                        "output": output,
                        "usage": _usage(0),
                    },
                }
            )
            raise
        finally:
            if self.response_task is asyncio.current_task():
                self.response_task = None

    async def stream_function_call(self, record: ResponseRecord, item_id: str) -> dict[str, Any]:
        call = self.opts.tool_call
        assert call is not None
        item = {
            "id": item_id,
            "object": "realtime.item",
            "type": "function_call",
            "status": "in_progress",
            "name": call.name,
            "call_id": call.call_id,
            "arguments": "",
        }
        base = {"response_id": record.id, "output_index": 0}
        await self.send({"type": "response.output_item.added", **base, "item": item})
        await self.add_item(dict(item), self.items[-1]["id"] if self.items else None)
        args = record.text
        for i in range(0, len(args), 8):
            await self.send(
                {
                    "type": "response.function_call_arguments.delta",
                    **base,
                    "item_id": item_id,
                    "call_id": call.call_id,
                    "delta": args[i : i + 8],
                }
            )
        await self.send(
            {
                "type": "response.function_call_arguments.done",
                **base,
                "item_id": item_id,
                "call_id": call.call_id,
                "name": call.name,
                "arguments": args,
            }
        )
        done = {**item, "status": "completed", "arguments": args}
        for stored in self.items:
            if stored["id"] == item_id:
                stored.update(done)
        await self.send({"type": "response.output_item.done", **base, "item": done})
        return done

    async def stream_message(self, record: ResponseRecord, item_id: str) -> dict[str, Any]:
        item = {
            "id": item_id,
            "object": "realtime.item",
            "type": "message",
            "status": "in_progress",
            "role": "assistant",
            "content": [],
        }
        base = {"response_id": record.id, "output_index": 0}
        part_base = {**base, "item_id": item_id, "content_index": 0}
        await self.send({"type": "response.output_item.added", **base, "item": item})
        await self.add_item(dict(item), self.items[-1]["id"] if self.items else None)
        await self.send(
            {
                "type": "response.content_part.added",
                **part_base,
                "part": {"type": "audio", "transcript": ""},
            }
        )
        pcm = self.reply_pcm(record.text)
        chunk = max(1, self.opts.audio_chunk_ms) * _BYTES_PER_MS
        chunks = [pcm[i : i + chunk] for i in range(0, len(pcm), chunk)]
        words = record.text.split(" ")
        per_chunk = max(1, -(-len(words) // max(1, len(chunks))))
        started = time.monotonic()
        sent_ms = 0.0
        transcript = ""
        for n, audio in enumerate(chunks):
            piece = words[n * per_chunk : (n + 1) * per_chunk]
            if piece:
                delta = (" " if transcript else "") + " ".join(piece)
                transcript += delta
                await self.send(
                    {"type": "response.output_audio_transcript.delta", **part_base, "delta": delta}
                )
            await self.send(
                {
                    "type": "response.output_audio.delta",
                    **part_base,
                    "delta": base64.b64encode(audio).decode(),
                }
            )
            record.audio_bytes += len(audio)
            sent_ms += len(audio) / _BYTES_PER_MS
            if self.opts.pacing > 0:
                ahead = sent_ms / 1000 * self.opts.pacing - (time.monotonic() - started)
                if ahead > 0:
                    await asyncio.sleep(ahead)
        if transcript != record.text:
            rest = record.text[len(transcript) :]
            await self.send(
                {"type": "response.output_audio_transcript.delta", **part_base, "delta": rest}
            )
        await self.send({"type": "response.output_audio.done", **part_base})
        await self.send(
            {
                "type": "response.output_audio_transcript.done",
                **part_base,
                "transcript": record.text,
            }
        )
        await self.send(
            {
                "type": "response.content_part.done",
                **part_base,
                "part": {"type": "audio", "transcript": record.text},
            }
        )
        # inside a conversation item the same content is typed "output_audio"
        content = {"type": "output_audio", "transcript": record.text}
        done = {**item, "status": "completed", "content": [content]}
        for stored in self.items:
            if stored["id"] == item_id:
                stored.update(done)
        await self.send({"type": "response.output_item.done", **base, "item": done})
        return done


def _merge(target: dict[str, Any], update: dict[str, Any]) -> None:
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = value


def _usage(chars: int) -> dict[str, Any]:
    out = max(1, chars // 4) if chars else 0
    return {
        "total_tokens": 20 + out,
        "input_tokens": 20,
        "output_tokens": out,
        "input_token_details": {
            "text_tokens": 10,
            "audio_tokens": 10,
            "cached_tokens": 0,
            "image_tokens": 0,
            "cached_tokens_details": {"text_tokens": 0, "audio_tokens": 0, "image_tokens": 0},
        },
        "output_token_details": {"text_tokens": out // 2, "audio_tokens": out - out // 2},
    }
