"""Loopback fake of the OpenAI HTTP API: chat completions, transcriptions, speech.

Point the real ``openai`` client (and the livekit openai plugin) at ``fake.base_url``::

    async with OpenAIHTTPFake(OpenAIHTTPFakeOptions(transcript="what time is it")) as fake:
        llm = openai.LLM(base_url=fake.base_url, api_key="test")
        ...
        assert fake.requests_to("/v1/chat/completions")

Endpoints (wire format as the ``openai`` client parses it):

* ``POST /v1/chat/completions`` — ``stream=true``: ``text/event-stream`` of
  ``chat.completion.chunk`` objects (role chunk, content deltas, finish chunk, a usage
  chunk when ``stream_options.include_usage``) then ``data: [DONE]``. With
  ``options.tool_call`` set and the function offered in ``tools``, the first answer is a
  streamed tool call (``delta.tool_calls`` with id/name, then argument fragments,
  ``finish_reason="tool_calls"``); once a ``role="tool"`` message is in the request, the
  answer is ``options.tool_reply.format(output=<tool message content>)``.
  ``stream=false`` returns one ``chat.completion`` object.
* ``POST /v1/audio/transcriptions`` — multipart; returns ``{"text": options.transcript}``
  (``verbose_json`` adds language/duration; ``text`` returns plain text). The fake does
  not recognise speech: the transcript is scripted.
* ``POST /v1/audio/speech`` — JSON; ``stream_format="sse"`` answers ``speech.audio.delta``
  / ``speech.audio.done`` events, otherwise the raw bytes of ``response_format`` (``pcm``:
  24 kHz mono s16le, or ``wav``). The audio is a tone or espeak-ng speech of the input
  (``options.speech``), never silence.

Knobs: scripted replies, a tool call, injected HTTP errors (:meth:`inject_error`),
``latency_ms`` (default 0) before each answer. Every request is recorded in
``fake.requests``. Audio helpers (:func:`tone_pcm16`, :func:`espeak_pcm16`,
:func:`pcm16_rms`) are shared with the other fakes.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Self

from aiohttp import BodyPartReader, web

from ._common import (
    SPEECH_SAMPLE_RATE,
    FakeToolCall,
    espeak_pcm16,
    pcm16_rms,
    tone_pcm16,
    wav_bytes,
)

__all__ = [
    "SAMPLE_RATE",
    "FakeToolCall",
    "OpenAIHTTPFake",
    "OpenAIHTTPFakeOptions",
    "RecordedRequest",
    "espeak_pcm16",
    "pcm16_rms",
    "tone_pcm16",
    "wav_bytes",
]

SAMPLE_RATE = SPEECH_SAMPLE_RATE
"""OpenAI speech output rate for ``pcm`` (Hz)."""


# ----------------------------------------------------------------------------- the fake


@dataclass(slots=True)
class OpenAIHTTPFakeOptions:
    """Behaviour of :class:`OpenAIHTTPFake`.

    ``reply`` may be a string or ``fn(last_user_text) -> str``. ``speech`` picks the
    audio of ``/v1/audio/speech``: ``"tone"`` (``tone_ms_per_char`` ms per input char,
    at least 300 ms) or ``"espeak"`` (espeak-ng speech of the input).
    ``latency_ms`` delays every answer (0 = none).
    """

    reply: str | Callable[[str], str] = "Hello from the fake model."
    transcript: str = "hello there"
    tool_call: FakeToolCall | None = None
    tool_reply: str = "The tool said {output}."
    speech: Literal["tone", "espeak"] = "tone"
    tone_ms_per_char: int = 40
    latency_ms: int = 0
    api_key: str | None = None
    """When set, requests with another bearer token get HTTP 401."""


@dataclass(slots=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    """Parsed JSON, or for multipart a dict of form fields (file parts as their size)."""
    received_at: float


@dataclass(slots=True)
class _InjectedError:
    status: int
    message: str
    code: str | None
    remaining: int


class OpenAIHTTPFake:
    """aiohttp server on 127.0.0.1:0 speaking the OpenAI HTTP API (see module doc)."""

    def __init__(self, options: OpenAIHTTPFakeOptions | None = None) -> None:
        self.options = options or OpenAIHTTPFakeOptions()
        self.requests: list[RecordedRequest] = []
        self._errors: dict[str, _InjectedError] = {}
        self._runner: web.AppRunner | None = None
        self._port = 0

    # -- lifecycle
    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/audio/transcriptions", self._transcriptions)
        app.router.add_post("/v1/audio/speech", self._speech)
        app.router.add_get("/v1/models", self._models)
        app.on_response_prepare.append(_add_request_id)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self._port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]  # reason: see above

    async def aclose(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>/v1`` — the value for ``base_url`` / ``OPENAI_BASE_URL``."""
        return f"http://127.0.0.1:{self._port}/v1"

    # -- knobs
    def inject_error(
        self,
        path: str,
        *,
        status: int = 500,
        message: str = "injected error",
        code: str | None = None,
        times: int = 1,
    ) -> None:
        """Make the next ``times`` requests to ``path`` (e.g. ``/v1/chat/completions``) fail."""
        self._errors[path] = _InjectedError(status, message, code, times)

    def requests_to(self, path: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == path]

    # -- helpers
    async def _gate(self, request: web.Request, body: Any) -> web.Response | None:
        self.requests.append(
            RecordedRequest(
                method=request.method,
                path=request.path,
                headers=dict(request.headers),
                body=body,
                received_at=time.monotonic(),
            )
        )
        expected = self.options.api_key
        if expected is not None and request.headers.get("Authorization") != f"Bearer {expected}":
            return _error(
                401, "Incorrect API key provided.", "invalid_api_key", "invalid_request_error"
            )
        injected = self._errors.get(request.path)
        if injected is not None and injected.remaining > 0:
            injected.remaining -= 1
            return _error(injected.status, injected.message, injected.code, "server_error")
        if self.options.latency_ms:
            await asyncio.sleep(self.options.latency_ms / 1000)
        return None

    # -- handlers
    async def _models(self, request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": []})

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json()
        except json.JSONDecodeError:
            return _error(
                400,
                "We could not parse the JSON body of your request.",
                None,
                "invalid_request_error",
            )
        if (failed := await self._gate(request, body)) is not None:
            return failed
        messages = body.get("messages")
        if not isinstance(messages, list) or not body.get("model"):
            return _error(400, "'messages' and 'model' are required", None, "invalid_request_error")

        tool_call = self._pending_tool_call(body)
        text = "" if tool_call else self._reply_text(messages)
        completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        created = int(time.time())
        model = str(body["model"])
        if not body.get("stream"):
            return web.json_response(
                _full_completion(completion_id, created, model, text, tool_call)
            )

        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)

        async def send(obj: dict[str, Any]) -> None:
            await resp.write(f"data: {json.dumps(obj)}\n\n".encode())

        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            return {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "system_fingerprint": "fp_fake",
                "choices": [
                    {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
                ],
            }

        await send(chunk({"role": "assistant", "content": "", "refusal": None}))
        if tool_call is not None:
            args = json.dumps(tool_call.arguments)
            await send(
                chunk(
                    {
                        "tool_calls": [
                            {
                                "index": 0,
                                "id": tool_call.call_id,
                                "type": "function",
                                "function": {"name": tool_call.name, "arguments": ""},
                            }
                        ]
                    }
                )
            )
            for piece in _split(args, 8):
                await send(chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}))
            await send(chunk({}, "tool_calls"))
        else:
            for piece in _words(text):
                await send(chunk({"content": piece}))
            await send(chunk({}, "stop"))
        if (body.get("stream_options") or {}).get("include_usage"):
            await send(
                {
                    "id": completion_id,
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": model,
                    "choices": [],
                    "usage": {
                        "prompt_tokens": 10,
                        "completion_tokens": max(1, len(text) // 4),
                        "total_tokens": 10 + max(1, len(text) // 4),
                    },
                }
            )
        await resp.write(b"data: [DONE]\n\n")
        await resp.write_eof()
        return resp

    def _pending_tool_call(self, body: dict[str, Any]) -> FakeToolCall | None:
        call = self.options.tool_call
        if call is None:
            return None
        offered = {
            (t.get("function") or {}).get("name")
            for t in body.get("tools") or []
            if isinstance(t, dict)
        }
        if call.name not in offered:
            return None
        messages = body.get("messages") or []
        if any(isinstance(m, dict) and m.get("role") == "tool" for m in messages):
            return None
        return call

    def _reply_text(self, messages: list[Any]) -> str:
        last = messages[-1] if messages else {}
        if isinstance(last, dict) and last.get("role") == "tool":
            return self.options.tool_reply.format(output=_content_text(last.get("content")))
        user_text = ""
        for m in reversed(messages):
            if isinstance(m, dict) and m.get("role") == "user":
                user_text = _content_text(m.get("content"))
                break
        reply = self.options.reply
        return reply(user_text) if callable(reply) else reply

    async def _transcriptions(self, request: web.Request) -> web.Response:
        fields: dict[str, Any] = {}
        try:
            reader = await request.multipart()
        except (AssertionError, ValueError):
            return _error(400, "expected multipart/form-data", None, "invalid_request_error")
        async for part in reader:
            if not isinstance(part, BodyPartReader) or part.name is None:
                continue
            data = await part.read()
            if part.filename:
                fields[part.name] = {"filename": part.filename, "size": len(data), "bytes": data}
            else:
                fields[part.name] = data.decode()
        if (failed := await self._gate(request, fields)) is not None:
            return failed
        if "file" not in fields or "model" not in fields:
            return _error(400, "'file' and 'model' are required", None, "invalid_request_error")
        fmt = fields.get("response_format", "json")
        text = self.options.transcript
        if fmt == "text":
            return web.Response(text=text, content_type="text/plain")
        if fmt == "verbose_json":
            return web.json_response(
                {
                    "task": "transcribe",
                    "language": "english",
                    "duration": 1.0,
                    "text": text,
                    "segments": [],
                }
            )
        return web.json_response({"text": text, "usage": {"type": "duration", "seconds": 1}})

    async def _speech(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json()
        except json.JSONDecodeError:
            return _error(
                400,
                "We could not parse the JSON body of your request.",
                None,
                "invalid_request_error",
            )
        if (failed := await self._gate(request, body)) is not None:
            return failed
        text = body.get("input")
        if not isinstance(text, str) or not text or not body.get("model") or not body.get("voice"):
            return _error(
                400, "'input', 'model' and 'voice' are required", None, "invalid_request_error"
            )
        fmt = body.get("response_format", "mp3")
        if fmt not in ("pcm", "wav"):
            return _error(
                400,
                f"the fake only produces pcm and wav, not {fmt!r}",
                None,
                "invalid_request_error",
            )
        pcm = self.speech_pcm(text)
        if body.get("stream_format") == "sse":
            resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
            await resp.prepare(request)
            step = SAMPLE_RATE * 2 // 10  # 100 ms per event
            for i in range(0, len(pcm), step):
                event = {
                    "type": "speech.audio.delta",
                    "audio": base64.b64encode(pcm[i : i + step]).decode(),
                }
                await resp.write(f"data: {json.dumps(event)}\n\n".encode())
            done = {
                "type": "speech.audio.done",
                "usage": {
                    "input_tokens": len(text),
                    "output_tokens": len(pcm) // 480,
                    "total_tokens": len(text) + len(pcm) // 480,
                },
            }
            await resp.write(f"data: {json.dumps(done)}\n\n".encode())
            await resp.write_eof()
            return resp
        if fmt == "wav":
            return web.Response(body=wav_bytes(pcm), content_type="audio/wav")
        return web.Response(body=pcm, content_type="audio/pcm")

    def speech_pcm(self, text: str) -> bytes:
        """The 24 kHz s16le audio the fake speaks for ``text``."""
        if self.options.speech == "espeak":
            return espeak_pcm16(text)
        return tone_pcm16(max(300, self.options.tone_ms_per_char * len(text)))


async def _add_request_id(request: web.Request, response: web.StreamResponse) -> None:
    response.headers["x-request-id"] = f"req_{uuid.uuid4().hex[:24]}"


def _error(status: int, message: str, code: str | None, type_: str) -> web.Response:
    return web.json_response(
        {"error": {"message": message, "type": type_, "param": None, "code": code}}, status=status
    )


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            str(p.get("text", ""))
            for p in content
            if isinstance(p, dict) and p.get("type") == "text"
        )
    return ""


def _words(text: str) -> list[str]:
    parts = text.split(" ")
    return [p if i == 0 else " " + p for i, p in enumerate(parts)]


def _split(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def _full_completion(
    completion_id: str, created: int, model: str, text: str, tool_call: FakeToolCall | None
) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": text or None, "refusal": None}
    finish = "stop"
    if tool_call is not None:
        message["tool_calls"] = [
            {
                "id": tool_call.call_id,
                "type": "function",
                "function": {"name": tool_call.name, "arguments": json.dumps(tool_call.arguments)},
            }
        ]
        finish = "tool_calls"
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    }
