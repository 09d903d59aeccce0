"""The agent's audio output to its room, and the caller's input framing: livekit-agents'
RoomIO with one change, and the measurements behind what was left as it is.

* **Output** (:class:`RoomAudioOutput`): livekit-agents' room output
  (``voice/room_io/_output.py``, pinned 1.8.9) with a pause that stops the audio at once.
  livekit's native source releases 10 ms per 10 ms tick from its queue and holds up to
  twice the queue size; its ``pause()`` (the false-interruption pause: the user starts
  talking over the agent) stops feeding the queue but lets what is queued play, up to
  400 ms more agent audio at the caller after the agent decided to stop. Here the pause
  drops the queued audio at once (accounted as discarded, as livekit does when a paused
  frame arrives), so the agent goes quiet within one 10 ms tick; a resumed reply goes on
  from the next frame not yet handed to the source.
  The queue stays at livekit's 200 ms (``OUTPUT_QUEUE_MS``), measured in
  docs/benchmarks.md ("Turn latency per route"): it is not in front of the first frame
  (the first 10 ms leave at the source's next tick; ~50 ms capture -> subscriber); a
  100 ms queue gave no faster first audio and, on a loaded machine, later first audio
  and more replies whose head the jitter buffer warped (the source runs dry when the
  event loop is late, and the receiver stretches); direct capture (``queue_size_ms=0``,
  as the shim does for a caller's real-time audio) fed with bursts and idle gaps made the
  subscriber's jitter buffer grow to ~550 ms.
* **Input** (``INPUT_FRAME_MS``, ``OMNIVOICE_INPUT_FRAME_MS``): livekit's 50 ms frames by
  default. 20 ms frames let the VAD see the end of speech up to 30 ms sooner (5-25 ms off a
  turn in the bench) for ~20-30 % more agent CPU per call (docs/benchmarks.md, "Agent CPU
  per call by input frame"). A first try of 20 ms (2026-12-04) was dropped after local
  Whisper lost an utterance's last word twice in tests/integration/agent/test_local_session.py;
  on 2026-12-05 that test passed 4 of 4 with 20 ms, but a full run on the 2-core box
  failed on a load race (Whisper over a second late), and 50 ms stayed the default.

The session publishes the track itself (:meth:`RoomAudioOutput.start` waits for the
participant to subscribe, so :class:`~.livekit_session.LiveKitSession` runs it as an
owned task) and sets the output on the ``AgentSession`` before ``start``, which makes
RoomIO wrap it in its transcript synchronizer instead of building its own.
"""

from __future__ import annotations

import time

from livekit import rtc
from livekit.agents.voice.room_io._output import _ParticipantAudioOutput

from omnivoice_rtc.pipelines.parts import INPUT_FRAME_MS

__all__ = ["INPUT_FRAME_MS", "OUTPUT_QUEUE_MS", "RoomAudioOutput"]

OUTPUT_QUEUE_MS = 200
"""ms of agent audio the native source queues (livekit's own room output: the same); a
multiple of 10 and at least one 50 ms frame of livekit's output framing."""


class RoomAudioOutput(_ParticipantAudioOutput):
    """Publishes the agent's audio as ``track_name`` at ``sample_rate_hz`` Hz (mono);
    see the module docstring for what differs from livekit-agents' room output."""

    def __init__(
        self,
        room: rtc.Room,
        *,
        sample_rate_hz: int,
        track_name: str,
        queue_ms: int = OUTPUT_QUEUE_MS,
    ) -> None:
        if queue_ms < 50 or queue_ms % 10:
            raise ValueError("queue_ms must be a multiple of 10 and at least 50 ms")
        super().__init__(
            room,
            sample_rate=sample_rate_hz,
            num_channels=1,
            track_publish_options=rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE),
            track_name=track_name,
        )
        stock = self._audio_source  # livekit's own source, never published
        self._audio_source = rtc.AudioSource(sample_rate_hz, 1, queue_size_ms=queue_ms)
        self.queue_ms = queue_ms
        self._stock_source = stock

    @property
    def source(self) -> rtc.AudioSource:
        """The native source the track plays (tests read its queue)."""
        return self._audio_source

    def pause(self) -> None:
        """Pause, and silence the caller now: drop what the native source still queues."""
        super().pause()
        queued = self._audio_source.queued_duration  # s
        if queued <= 0:
            return
        self._source_discarded_duration += queued
        # the dropped queue never plays, so a resumed run starts past it
        self._report_run(
            offset=self._source_pushed_duration - queued,
            ended_at=time.time(),
            resumes_at=self._source_pushed_duration,
        )
        self._audio_source.clear_queue()

    async def aclose(self) -> None:
        await super().aclose()
        await self._stock_source.aclose()
