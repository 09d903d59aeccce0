"""One connection of the OpenAI Realtime fake: session state, input audio with an energy
VAD, conversation items, and client event dispatch (see openai_realtime.py)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiohttp import WSCloseCode, WSMsgType, web

from ._common import pcm16_rms
from ._openai_realtime_responses import ResponseStreamer
from ._openai_realtime_types import BYTES_PER_MS, SAMPLE_RATE, new_id, redact

if TYPE_CHECKING:
    from .openai_realtime import OpenAIRealtimeFake

__all__ = ["RealtimeConnection"]


class RealtimeConnection:
    """State of one Realtime WebSocket session."""

    def __init__(self, fake: OpenAIRealtimeFake, ws: web.WebSocketResponse, *, model: str) -> None:
        self.fake = fake
        self.opts = fake.options
        self.ws = ws
        self.send_lock = asyncio.Lock()
        self.session: dict[str, Any] = {
            "type": "realtime",
            "object": "realtime.session",
            "id": new_id("sess"),
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
        self.responses = ResponseStreamer(self)
        self.last_transcript = ""
        self.events_seen = 0

    # -------------------------------------------------------------- plumbing
    async def send(self, event: dict[str, Any]) -> None:
        event.setdefault("event_id", new_id("event"))
        if self.ws.closed:
            return
        async with self.send_lock:
            with contextlib.suppress(ConnectionResetError):
                await self.ws.send_str(json.dumps(event))
        self.fake.server_events.append(redact(event))
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
        await self.responses.cancel("client_cancelled")
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
            self.fake.client_events.append(redact(event))
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
        chunk_ms = len(pcm) / BYTES_PER_MS
        self.audio_ms += chunk_ms
        td = self.turn_detection()
        if td is None:
            return
        loud = pcm16_rms(pcm) >= self.opts.vad_threshold_rms
        if loud:
            self.silence_run_ms = 0.0
            if not self.speaking:
                self.speaking = True
                self.speech_item_id = new_id("item")
                await self.send(
                    {
                        "type": "input_audio_buffer.speech_started",
                        "audio_start_ms": int(self.audio_ms - chunk_ms),
                        "item_id": self.speech_item_id,
                    }
                )
                if self.responses.active and td.get("interrupt_response", True):
                    await self.responses.cancel("turn_detected")
        elif self.speaking:
            self.silence_run_ms += chunk_ms
            if self.silence_run_ms >= self.silence_needed_ms():
                self.speaking = False
                item_id = self.speech_item_id or new_id("item")
                await self.send(
                    {
                        "type": "input_audio_buffer.speech_stopped",
                        "audio_end_ms": int(self.audio_ms),
                        "item_id": item_id,
                    }
                )
                await self.commit(item_id)
                if td.get("create_response", True):
                    await self.responses.start({}, trigger="server_vad")
        else:
            # keep only ~300 ms of leading silence, like prefix_padding_ms
            keep = 300 * BYTES_PER_MS
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
        if len(self.buffer) < 100 * BYTES_PER_MS:
            await self.error(
                "Error committing input audio buffer: buffer too small. Expected at least 100ms "
                f"of audio, but buffer only has {len(self.buffer) / BYTES_PER_MS:.2f}ms of audio.",
                code="input_audio_buffer_commit_empty",
                event_id=event.get("event_id"),
            )
            return
        self.speaking = False
        await self.commit(self.speech_item_id or new_id("item"), event.get("event_id"))
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
        item.setdefault("id", new_id("item"))
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
        if self.responses.active:
            await self.error(
                "Conversation already has an active response in progress.",
                code="conversation_already_has_active_response",
                event_id=event.get("event_id"),
            )
            return
        params = event.get("response") if isinstance(event.get("response"), dict) else {}
        await self.responses.start(params or {}, trigger="response.create")

    async def on_response_cancel(self, event: dict[str, Any]) -> None:
        if not self.responses.active:
            await self.error(
                "Cancellation failed: no active response found",
                code="response_cancel_not_active",
                event_id=event.get("event_id"),
            )
            return
        await self.responses.cancel("client_cancelled")


def _merge(target: dict[str, Any], update: dict[str, Any]) -> None:
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = value
