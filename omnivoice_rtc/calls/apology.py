"""The apology a caller hears when no agent can take the call any more.

A short recording shipped in the package (``audio/apology_8k.wav``: "Sorry, something went
wrong. Please call again later.", 3.5 s, rendered once with espeak-ng), so playing it needs
no download, no TTS and no agent. :func:`apology_pcm` gives it as PCM16 mono at the rate
asked (resampled from 8 kHz, cached). The shim plays it into the carrier stream itself;
for a SIP call, :func:`announce_in_room` publishes it into the room from a server-side
participant before the SIP participant is removed.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import wave
from importlib import resources
from typing import Final

import numpy as np
from livekit import rtc

from omnivoice_rtc.audio.resampler import resample
from omnivoice_rtc.livekit.tokens import agent_token
from omnivoice_rtc.settings import LiveKitSettings

__all__ = ["APOLOGY_RATE_HZ", "announce_in_room", "apology_ms", "apology_pcm"]

APOLOGY_RATE_HZ: Final = 8000
"""Sample rate of the shipped recording (Hz)."""

_FILE: Final = "apology_8k.wav"
_QUEUE_MS: Final = 200
"""The announcer's AudioSource queue (ms): capture waits on it, pacing at real time."""
_TAIL_S: Final = 0.5
"""Stay in the room this long after the last frame played (s), so none is cut."""


@functools.cache
def _recording() -> bytes:
    source = resources.files("omnivoice_rtc.calls").joinpath("audio", _FILE)
    with source.open("rb") as raw, wave.open(raw, "rb") as wav:
        if (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) != (
            1,
            2,
            APOLOGY_RATE_HZ,
        ):
            raise ValueError(f"{_FILE}: expected mono PCM16 at {APOLOGY_RATE_HZ} Hz")
        return wav.readframes(wav.getnframes())


@functools.cache
def apology_pcm(rate_hz: int) -> bytes:
    """The apology as PCM16 mono little-endian at ``rate_hz`` (8000, 16000, 24000 or 48000 Hz)."""
    pcm = _recording()
    if rate_hz == APOLOGY_RATE_HZ:
        return pcm
    samples = np.frombuffer(pcm, dtype="<i2")
    return resample(samples, from_rate=APOLOGY_RATE_HZ, to_rate=rate_hz).astype("<i2").tobytes()


def apology_ms() -> int:
    """Length of the apology (ms)."""
    return len(_recording()) * 1000 // (2 * APOLOGY_RATE_HZ)


async def announce_in_room(
    *,
    livekit: LiveKitSettings,
    room: str,
    identity: str,
    pcm: bytes,
    rate_hz: int,
    subscribe_timeout_s: float = 3.0,
) -> None:
    """Join ``room`` as a server-side participant ``identity`` (kind agent: an agent job
    ignores it), publish ``pcm`` (PCM16 mono at ``rate_hz``) as an audio track and play it
    at real time once someone (the SIP participant) subscribed to it or after
    ``subscribe_timeout_s`` (s), then leave. Used for the apology of a SIP call."""
    token = agent_token(credentials=livekit, room=room, identity=identity, name="apology")
    speaker = rtc.Room()
    subscribed = asyncio.Event()

    speaker.on("local_track_subscribed", lambda _track: subscribed.set())
    try:
        await speaker.connect(livekit.url, token, rtc.RoomOptions(auto_subscribe=False))
        source = rtc.AudioSource(rate_hz, 1, queue_size_ms=_QUEUE_MS)
        track = rtc.LocalAudioTrack.create_audio_track("apology", source)
        await speaker.local_participant.publish_track(
            track, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
        )
        with contextlib.suppress(TimeoutError):  # play anyway: better late than silent
            async with asyncio.timeout(subscribe_timeout_s):
                await subscribed.wait()
        step = rate_hz // 100 * 2  # 10 ms
        for offset in range(0, len(pcm) - step + 1, step):
            chunk = pcm[offset : offset + step]
            await source.capture_frame(rtc.AudioFrame(chunk, rate_hz, 1, step // 2))
        await source.wait_for_playout()
        await asyncio.sleep(_TAIL_S)
        await source.aclose()
    finally:
        await speaker.disconnect()
