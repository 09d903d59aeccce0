"""One connection of the Gemini Live fake: setup, realtime audio input with an energy VAD,
client content, tool calls/responses and streamed model turns (see gemini_live.py)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from aiohttp import WSMsgType, web

from ._common import FakeToolCall, espeak_pcm16, pcm16_rms, tone_pcm16

if TYPE_CHECKING:
    from .gemini_live import GeminiLiveFake

__all__ = [
    "INPUT_SAMPLE_RATE",
    "OUTPUT_SAMPLE_RATE",
    "GeminiConnection",
    "GeminiFakeOptions",
    "TurnRecord",
    "redact",
]

INPUT_SAMPLE_RATE = 16000
"""Rate of ``realtimeInput.audio`` the fake expects (Hz, s16le mono)."""
OUTPUT_SAMPLE_RATE = 24000
"""Rate of the ``inlineData`` audio the fake sends (Hz, s16le mono)."""


@dataclass(slots=True)
class GeminiFakeOptions:
    """Behaviour of :class:`GeminiLiveFake` (see the module doc)."""

    user_transcript: str = "hello there"
    reply_text: str | Callable[[str], str] = "Hello from the fake Gemini model."
    tool_call: FakeToolCall | None = None
    tool_reply: str = "The tool said {output}."
    audio: Literal["tone", "espeak"] = "tone"
    tone_ms_per_char: int = 30
    min_reply_ms: int = 600
    audio_chunk_ms: int = 100
    pacing: float = 0.0
    latency_ms: int = 0
    vad_threshold_rms: float = 300.0
    silence_ms: int = 500
    close_on_setup: tuple[int, str] | None = None


@dataclass(slots=True)
class TurnRecord:
    kind: Literal["message", "tool_call"]
    text: str
    status: str = "in_progress"
    audio_bytes: int = 0
    trigger: str = ""


def b64decode(data: str) -> bytes:
    """Decode standard or URL-safe base64 (google-genai sends URL-safe), padding optional."""
    return base64.urlsafe_b64decode(
        data.replace("+", "-").replace("/", "_") + "=" * (-len(data) % 4)
    )


def _get(d: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        if key in d:
            return d[key]
    return None


class GeminiConnection:
    """State of one BidiGenerateContent WebSocket."""

    def __init__(self, fake: GeminiLiveFake, ws: web.WebSocketResponse) -> None:
        self.fake = fake
        self.opts = fake.options
        self.ws = ws
        self.lock = asyncio.Lock()
        self.setup: dict[str, Any] = {}
        self.speaking = False
        self.silence_run_ms = 0.0
        self.turn_task: asyncio.Task[None] | None = None
        self.last_user_text = ""
        self.pending_tool_call = False

    async def send(self, message: dict[str, Any]) -> None:
        if self.ws.closed:
            return
        async with self.lock:
            with contextlib.suppress(ConnectionResetError):
                await self.ws.send_str(json.dumps(message))
        self.fake.server_messages.append(redact(message))
        await self.fake._notify()

    async def close(self) -> None:
        await self.stop_turn()
        if not self.ws.closed:
            await self.ws.close()

    async def stop_turn(self) -> bool:
        task, self.turn_task = self.turn_task, None
        if task is None or task.done():
            return False
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return True

    async def run(self) -> None:
        async for msg in self.ws:
            if msg.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                continue
            try:
                message = json.loads(msg.data)
            except json.JSONDecodeError:
                await self.ws.close(code=1007, message=b"Invalid JSON payload received.")
                return
            if not isinstance(message, dict):
                await self.ws.close(code=1007, message=b"Invalid message.")
                return
            self.fake.client_messages.append(redact(message))
            await self.fake._notify()
            if "setup" in message:
                if not await self.on_setup(message["setup"]):
                    return
            elif not self.setup:
                await self.ws.close(code=1007, message=b"First message must be setup.")
                return
            elif (ri := _get(message, "realtime_input", "realtimeInput")) is not None:
                await self.on_realtime_input(ri)
            elif (cc := _get(message, "client_content", "clientContent")) is not None:
                await self.on_client_content(cc)
            elif (tr := _get(message, "tool_response", "toolResponse")) is not None:
                await self.on_tool_response(tr)
            else:
                await self.ws.close(code=1007, message=b"Unknown message type.")
                return

    async def on_setup(self, setup: dict[str, Any]) -> bool:
        self.fake.setups.append(setup)
        if not isinstance(setup, dict) or not setup.get("model"):
            await self.ws.close(code=1007, message=b"setup.model is required")
            return False
        if self.opts.close_on_setup is not None:
            code, reason = self.opts.close_on_setup
            await self.ws.close(code=code, message=reason.encode())
            return False
        self.setup = setup
        await self.send({"setupComplete": {"sessionId": uuid.uuid4().hex}})
        return True

    def offered_tools(self) -> set[str]:
        names: set[str] = set()
        for tool in self.setup.get("tools") or []:
            for decl in _get(tool, "functionDeclarations", "function_declarations") or []:
                names.add(str(decl.get("name")))
        return names

    async def on_realtime_input(self, ri: dict[str, Any]) -> None:
        audio = ri.get("audio")
        if isinstance(audio, dict) and isinstance(audio.get("data"), str):
            pcm = b64decode(audio["data"])
            self.fake.audio_bytes_received += len(pcm)
            chunk_ms = len(pcm) / (INPUT_SAMPLE_RATE * 2 / 1000)
            if pcm16_rms(pcm) >= self.opts.vad_threshold_rms:
                self.silence_run_ms = 0.0
                if not self.speaking:
                    await self.speech_started()
            elif self.speaking:
                self.silence_run_ms += chunk_ms
                if self.silence_run_ms >= self.opts.silence_ms:
                    await self.speech_ended()
        if _get(ri, "activityStart", "activity_start") is not None and not self.speaking:
            await self.speech_started()
        if _get(ri, "activityEnd", "activity_end") is not None and self.speaking:
            await self.speech_ended()
        if _get(ri, "audioStreamEnd", "audio_stream_end") and self.speaking:
            await self.speech_ended()

    async def speech_started(self) -> None:
        self.speaking = True
        if await self.stop_turn():
            await self.send({"serverContent": {"interrupted": True}})

    async def speech_ended(self) -> None:
        self.speaking = False
        self.silence_run_ms = 0.0
        self.last_user_text = self.opts.user_transcript
        await self.send({"serverContent": {"inputTranscription": {"text": self.last_user_text}}})
        await self.start_turn(trigger="audio")

    async def on_client_content(self, cc: dict[str, Any]) -> None:
        texts = [
            str(part.get("text", ""))
            for turn in cc.get("turns") or []
            if turn.get("role", "user") == "user"
            for part in turn.get("parts") or []
            if part.get("text")
        ]
        if texts and texts[-1] != ".":
            self.last_user_text = texts[-1]
        if _get(cc, "turnComplete", "turn_complete"):
            await self.stop_turn()
            await self.start_turn(trigger="client_content")

    async def on_tool_response(self, tr: dict[str, Any]) -> None:
        responses = _get(tr, "functionResponses", "function_responses") or []
        self.fake.tool_responses.extend(responses)
        if not self.pending_tool_call:
            return
        self.pending_tool_call = False
        output = responses[0].get("response") if responses else None
        if isinstance(output, dict) and set(output) == {"output"}:
            output = output["output"]
        text = self.opts.tool_reply.format(
            output=output if isinstance(output, str) else json.dumps(output)
        )
        await self.start_turn(trigger="tool_response", text=text)

    async def start_turn(self, *, trigger: str, text: str | None = None) -> None:
        call = self.opts.tool_call
        if (
            text is None
            and call is not None
            and not self.fake._tool_called
            and (call.name in self.offered_tools())
        ):
            self.fake._tool_called = True
            self.pending_tool_call = True
            record = TurnRecord(kind="tool_call", text=json.dumps(call.arguments), trigger=trigger)
            self.fake.turns.append(record)
            await self.send(
                {
                    "toolCall": {
                        "functionCalls": [
                            {"id": call.call_id, "name": call.name, "args": call.arguments}
                        ]
                    }
                }
            )
            record.status = "completed"
            return
        if text is None:
            reply = self.opts.reply_text
            text = reply(self.last_user_text) if callable(reply) else reply
        record = TurnRecord(kind="message", text=text, trigger=trigger)
        self.fake.turns.append(record)
        self.turn_task = asyncio.create_task(self.stream_turn(record))

    async def stream_turn(self, record: TurnRecord) -> None:
        try:
            if self.opts.latency_ms:
                await asyncio.sleep(self.opts.latency_ms / 1000)
            if self.opts.audio == "espeak":
                pcm = espeak_pcm16(record.text, sample_rate=OUTPUT_SAMPLE_RATE)
            else:
                pcm = tone_pcm16(
                    max(self.opts.min_reply_ms, self.opts.tone_ms_per_char * len(record.text)),
                    sample_rate=OUTPUT_SAMPLE_RATE,
                )
            bytes_per_ms = OUTPUT_SAMPLE_RATE * 2 // 1000
            step = max(1, self.opts.audio_chunk_ms) * bytes_per_ms
            chunks = [pcm[i : i + step] for i in range(0, len(pcm), step)]
            words = record.text.split(" ")
            per_chunk = max(1, -(-len(words) // max(1, len(chunks))))
            started = time.monotonic()
            sent_ms = 0.0
            for n, audio in enumerate(chunks):
                piece = words[n * per_chunk : (n + 1) * per_chunk]
                if piece:
                    lead = "" if n == 0 else " "
                    await self.send(
                        {"serverContent": {"outputTranscription": {"text": lead + " ".join(piece)}}}
                    )
                await self.send(
                    {
                        "serverContent": {
                            "modelTurn": {
                                "role": "model",
                                "parts": [
                                    {
                                        "inlineData": {
                                            "mimeType": f"audio/pcm;rate={OUTPUT_SAMPLE_RATE}",
                                            "data": base64.b64encode(audio).decode(),
                                        }
                                    }
                                ],
                            }
                        }
                    }
                )
                record.audio_bytes += len(audio)
                sent_ms += len(audio) / bytes_per_ms
                if self.opts.pacing > 0:
                    ahead = sent_ms / 1000 * self.opts.pacing - (time.monotonic() - started)
                    if ahead > 0:
                        await asyncio.sleep(ahead)
            await self.send({"serverContent": {"generationComplete": True}})
            record.status = "completed"
            out_tokens = max(1, len(record.text) // 4)
            await self.send(
                {
                    "serverContent": {"turnComplete": True},
                    "usageMetadata": {
                        "promptTokenCount": 20,
                        "responseTokenCount": out_tokens,
                        "totalTokenCount": 20 + out_tokens,
                    },
                }
            )
        except asyncio.CancelledError:
            record.status = "interrupted"
            raise


def redact(message: dict[str, Any]) -> dict[str, Any]:
    ri = _get(message, "realtime_input", "realtimeInput")
    if isinstance(ri, dict) and isinstance(ri.get("audio"), dict):
        data = ri["audio"].get("data", "")
        size = len(b64decode(data)) if isinstance(data, str) else 0
        return {"realtime_input": {**ri, "audio": {**ri["audio"], "data": f"<{size} bytes>"}}}
    sc = message.get("serverContent")
    if isinstance(sc, dict) and isinstance(sc.get("modelTurn"), dict):
        parts = []
        for part in sc["modelTurn"].get("parts") or []:
            if "inlineData" in part:
                size = len(b64decode(part["inlineData"]["data"]))
                part = {"inlineData": {**part["inlineData"], "data": f"<{size} bytes>"}}
            parts.append(part)
        return {
            **message,
            "serverContent": {**sc, "modelTurn": {**sc["modelTurn"], "parts": parts}},
        }
    return message
