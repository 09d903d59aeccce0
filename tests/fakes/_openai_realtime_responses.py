"""The response side of one OpenAI Realtime fake connection: plans a reply (scripted
text, the scripted tool call, or the answer to a tool result), streams it as the GA
``response.*`` events, and cancels it (client ``response.cancel`` or barge-in)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
from typing import TYPE_CHECKING, Any, Literal

from ._common import espeak_pcm16, tone_pcm16
from ._openai_realtime_types import BYTES_PER_MS, SAMPLE_RATE, ResponseRecord, new_id

if TYPE_CHECKING:
    from ._openai_realtime_session import RealtimeConnection

__all__ = ["ResponseStreamer"]


class ResponseStreamer:
    """The response in progress on one connection (at most one at a time)."""

    def __init__(self, conn: RealtimeConnection) -> None:
        self.conn = conn
        self.task: asyncio.Task[None] | None = None
        self.response: ResponseRecord | None = None
        self.cancel_reason = "client_cancelled"

    @property
    def active(self) -> bool:
        return self.task is not None

    async def cancel(self, reason: str) -> None:
        task = self.task
        if task is None:
            return
        self.cancel_reason = reason
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        if self.task is task:  # a task cancelled before it ran never reached its finally
            self.task = None
        record = self.response
        if record is not None and record.status == "in_progress":
            # cancelled before its task ever ran: report it the way the task would have
            record.status = "cancelled"
            await self.conn.send(
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

    async def start(self, params: dict[str, Any], *, trigger: str) -> None:
        kind, text = self.plan_response()
        record = ResponseRecord(id=new_id("resp"), kind=kind, text=text, trigger=trigger)
        self.conn.fake.responses.append(record)
        self.response = record
        self.cancel_reason = "client_cancelled"
        response = self.response_object(record, params)
        # client events are handled one at a time, so nothing can cancel in between
        await self.conn.send({"type": "response.created", "response": response})
        self.task = asyncio.create_task(self.run_response(record, response))

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
        last = self.conn.items[-1] if self.conn.items else None
        if last is not None and last.get("type") == "function_call_output":
            return "message", self.conn.opts.tool_reply.format(output=last.get("output", ""))
        call = self.conn.opts.tool_call
        offered = {
            t.get("name") for t in self.conn.session.get("tools") or [] if isinstance(t, dict)
        }
        if call is not None and not self.conn.fake._tool_called and call.name in offered:
            self.conn.fake._tool_called = True
            return "function_call", json.dumps(call.arguments)
        reply = self.conn.opts.reply_text
        return "message", reply(self.conn.last_transcript) if callable(reply) else reply

    def reply_pcm(self, text: str) -> bytes:
        if self.conn.opts.audio == "espeak":
            return espeak_pcm16(text, sample_rate=SAMPLE_RATE)
        return tone_pcm16(
            max(self.conn.opts.min_reply_ms, self.conn.opts.tone_ms_per_char * len(text)),
            sample_rate=SAMPLE_RATE,
        )

    async def run_response(self, record: ResponseRecord, response: dict[str, Any]) -> None:
        output: list[dict[str, Any]] = []
        item_id = new_id("item")
        try:
            if self.conn.opts.latency_ms:
                await asyncio.sleep(self.conn.opts.latency_ms / 1000)
            if self.conn.opts.fail_responses > 0:
                self.conn.opts.fail_responses -= 1
                record.status = "failed"
                await self.conn.send(
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
            await self.conn.send(
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
            await self.conn.send(
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
            if self.task is asyncio.current_task():
                self.task = None

    async def stream_function_call(self, record: ResponseRecord, item_id: str) -> dict[str, Any]:
        call = self.conn.opts.tool_call
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
        await self.conn.send({"type": "response.output_item.added", **base, "item": item})
        await self.conn.add_item(dict(item), self.conn.items[-1]["id"] if self.conn.items else None)
        args = record.text
        for i in range(0, len(args), 8):
            await self.conn.send(
                {
                    "type": "response.function_call_arguments.delta",
                    **base,
                    "item_id": item_id,
                    "call_id": call.call_id,
                    "delta": args[i : i + 8],
                }
            )
        await self.conn.send(
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
        for stored in self.conn.items:
            if stored["id"] == item_id:
                stored.update(done)
        await self.conn.send({"type": "response.output_item.done", **base, "item": done})
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
        await self.conn.send({"type": "response.output_item.added", **base, "item": item})
        await self.conn.add_item(dict(item), self.conn.items[-1]["id"] if self.conn.items else None)
        await self.conn.send(
            {
                "type": "response.content_part.added",
                **part_base,
                "part": {"type": "audio", "transcript": ""},
            }
        )
        pcm = self.reply_pcm(record.text)
        chunk = max(1, self.conn.opts.audio_chunk_ms) * BYTES_PER_MS
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
                await self.conn.send(
                    {"type": "response.output_audio_transcript.delta", **part_base, "delta": delta}
                )
            await self.conn.send(
                {
                    "type": "response.output_audio.delta",
                    **part_base,
                    "delta": base64.b64encode(audio).decode(),
                }
            )
            record.audio_bytes += len(audio)
            sent_ms += len(audio) / BYTES_PER_MS
            if self.conn.opts.pacing > 0:
                ahead = sent_ms / 1000 * self.conn.opts.pacing - (time.monotonic() - started)
                if ahead > 0:
                    await asyncio.sleep(ahead)
        if transcript != record.text:
            rest = record.text[len(transcript) :]
            await self.conn.send(
                {"type": "response.output_audio_transcript.delta", **part_base, "delta": rest}
            )
        await self.conn.send({"type": "response.output_audio.done", **part_base})
        await self.conn.send(
            {
                "type": "response.output_audio_transcript.done",
                **part_base,
                "transcript": record.text,
            }
        )
        await self.conn.send(
            {
                "type": "response.content_part.done",
                **part_base,
                "part": {"type": "audio", "transcript": record.text},
            }
        )
        # inside a conversation item the same content is typed "output_audio"
        content = {"type": "output_audio", "transcript": record.text}
        done = {**item, "status": "completed", "content": [content]}
        for stored in self.conn.items:
            if stored["id"] == item_id:
                stored.update(done)
        await self.conn.send({"type": "response.output_item.done", **base, "item": done})
        return done


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
