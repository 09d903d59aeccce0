"""BridgePlayout: the agent -> caller half of a :class:`~omnivoice_rtc.shim.call_bridge.CallBridge`
(a mixin of ``CallBridge``, which owns the state it uses).

* agent audio: room callback ``on_agent_audio -> AgentPlayout.on_agent_audio``
  (:mod:`.agent_playout`: carrier frames in a bounded drop-oldest queue) ``-> _send_loop``
  writes them as they come (the carrier buffers; no fixed-clock pacer that could fall
  behind), asking :class:`~.playback_marks.PlaybackMarks` after each frame whether a
  marker is due, and :class:`~.playback_marks.MouthToEar` whether a latency mark is;
* barge-in: agent state / events -> ``AgentPlayout`` -> ``Flush`` -> :meth:`BridgePlayout.flush`
  sends the carrier's clear;
* agent digits go in-band as tones; a reply's mouth-to-ear latency (ms) goes back to the
  agent on ``omnivoice.latency``.

Caller -> room (where a carrier frame becomes room audio) stays in ``CallBridge``.
"""

from __future__ import annotations

import logging

from livekit.rtc.participant import PublishDataError

from omnivoice_rtc.livekit.data_topics import (
    LATENCY_TOPIC,
    MAX_MOUTH_TO_EAR_MS,
    encode_latency_report,
)
from omnivoice_rtc.media_streams.messages import Clear, MediaStreamCodec, SendMark, SendMedia
from omnivoice_rtc.shim.agent_playout import Flush
from omnivoice_rtc.shim.bridge_state import BridgeState
from omnivoice_rtc.shim.playback_marks import MouthToEar, PlaybackMarks
from omnivoice_rtc.types import Event

__all__ = ["BridgePlayout"]

# the bridge's logger: these records kept their logger name when the code moved here
logger = logging.getLogger("omnivoice_rtc.shim.call_bridge")


class BridgePlayout(BridgeState):
    """Agent audio, digits and barge-in to the carrier (see the module docstring)."""

    # more of the bridge's state, set by CallBridge.__init__ (the rest: BridgeState)
    codec: MediaStreamCodec
    marks: PlaybackMarks
    mouth_to_ear: MouthToEar

    def on_agent_audio(self, pcm: bytes) -> None:
        """Room callback: one agent frame (PCM16) -> carrier frames for the sender (not while
        the apology plays)."""
        if self._announcing:
            return
        self.mouth_to_ear.on_agent_audio(pcm)
        if self.playout.on_agent_audio(pcm):
            self._frames_ready.set()

    async def _send_loop(self) -> None:
        while True:
            await self._frames_ready.wait()
            self._frames_ready.clear()
            while (payload := self.playout.pop_frame()) is not None:
                await self._send(self.codec.serialize(SendMedia(payload=payload)))
                self.playout.frame_sent(payload)
                mark = self.marks.on_audio_sent(self.playout.frame_ms)
                if mark is not None:
                    await self._send(self.codec.serialize(SendMark(name=mark)))
                if (m2e := self.mouth_to_ear.mark_after_frame()) is not None:
                    await self._send(self.codec.serialize(SendMark(name=m2e)))

    async def _send(self, data: str | bytes) -> None:
        """Send one message to the carrier; nothing once the socket is closed or closing
        (the read loop ends the call: a send racing the carrier's close is not an error)."""
        if self.ws.closed:
            return
        try:
            if isinstance(data, bytes):
                await self.ws.send_bytes(data)
            else:
                await self.ws.send_str(data)
        except ConnectionResetError as exc:  # aiohttp: "Cannot write to closing transport"
            logger.debug(
                "carrier socket closing; message not sent",
                extra={"call_id": self.call.call_id, "error": str(exc)},
            )

    async def flush(self, reason: str) -> None:
        """Barge-in: drop queued agent audio here and at the carrier (clear/clearAudio)."""
        self.playout.flush()
        self.marks.reset()
        self.mouth_to_ear.cancel()
        logger.info("carrier flush", extra={"call_id": self.call.call_id, "reason": reason})
        await self._send(self.codec.serialize(Clear()))

    async def _report_mouth_to_ear(self, ms: int) -> None:
        """One reply's mouth-to-ear latency (ms) -> the agent (``omnivoice.latency``)."""
        payload = encode_latency_report(
            mouth_to_ear_ms=min(ms, MAX_MOUTH_TO_EAR_MS), measured_by="carrier"
        )
        try:
            await self.room.send_data(payload, topic=LATENCY_TOPIC)
        except (PublishDataError, ConnectionError) as exc:  # the room is going away
            logger.debug("latency report not sent", extra={"reason": str(exc)})

    def on_agent_event(self, event: Event) -> None:
        """Room callback: an ``omnivoice.events`` event from the agent (barge-in
        bookkeeping in :class:`AgentPlayout`), then the ``on_event`` hook."""
        self._flush_if(self.playout.on_agent_event(event.type, agent_state=self.room.agent_state))
        self.hooks.on_event(event)

    def on_agent_state(self, old: str, new: str) -> None:
        """Room callback: ``lk.agent.state`` changed (may flush, see :class:`AgentPlayout`)."""
        self._flush_if(self.playout.on_agent_state(old, new))

    def _flush_if(self, decision: Flush | None) -> None:
        if decision is not None and not self.closed:
            self.spawn(self.flush(decision.reason))

    def on_agent_dtmf(self, digit: str) -> None:
        """Room callback: the agent keyed a digit for the caller's line; it goes in-band
        (the digit's tone pair joins the outbound audio after what is queued)."""
        if not self.playout.on_agent_dtmf(digit):
            logger.warning(
                "agent dtmf digit not playable",
                extra={"call_id": self.call.call_id, "omnivoice.pii.digit": digit},
            )
            return
        logger.info(
            "agent dtmf sent in-band",
            extra={
                "call_id": self.call.call_id,
                "carrier": self.codec.carrier,
                "omnivoice.pii.digit": digit,
            },
        )
        self._frames_ready.set()
