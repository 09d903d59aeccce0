"""Offline speech-to-text over pocketsphinx (its PyPI wheel bundles a US-English model).

Non-streaming: :meth:`PocketSphinxSTT.recognize` decodes one whole utterance. The
AgentSession wraps it in livekit-agents' ``stt.StreamAdapter`` with the session's VAD,
so each VAD-delimited utterance is decoded once speech ends.

Audio arrives at any sample rate (Hz) and channel count; it is mixed to mono and
resampled to 16000 Hz with livekit's high-quality resampler before decoding (the
acoustic model is trained at 16 kHz; a filterless resampler halves accuracy).
Decoding is CPU-bound (~0.2 s per second of speech) and runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import TYPE_CHECKING, Never

import numpy as np
from livekit import rtc
from livekit.agents import stt, utils
from livekit.agents.language import LanguageCode
from livekit.agents.types import NOT_GIVEN, APIConnectOptions, NotGivenOr

if TYPE_CHECKING:
    from pocketsphinx import Decoder

__all__ = ["DECODER_SAMPLE_RATE_HZ", "PocketSphinxSTT", "pcm16_to_decoder_input"]

logger = logging.getLogger(__name__)

DECODER_SAMPLE_RATE_HZ = 16000
"""The sample rate (Hz) of pocketsphinx's bundled English acoustic model."""


class _DecoderPool:
    """Decoders are not thread-safe and take ~0.3 s to load: keep idle ones for reuse."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: list[Decoder] = []

    def acquire(self) -> Decoder:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        from pocketsphinx import Decoder

        return Decoder(samprate=DECODER_SAMPLE_RATE_HZ, logfn="/dev/null")

    def release(self, decoder: Decoder) -> None:
        with self._lock:
            self._idle.append(decoder)


_POOL = _DecoderPool()


def prewarm() -> None:
    """Load one decoder now (call from a worker's prewarm hook) so the first turn is fast."""
    _POOL.release(_POOL.acquire())


def pcm16_to_decoder_input(pcm: bytes, *, sample_rate_hz: int, num_channels: int) -> bytes:
    """Mix interleaved PCM16 to mono and resample it to 16000 Hz; returns PCM16 bytes."""
    samples = np.frombuffer(pcm, dtype=np.int16)
    if num_channels > 1:
        usable = len(samples) - len(samples) % num_channels
        mixed = samples[:usable].reshape(-1, num_channels).astype(np.int32).mean(axis=1)
        samples = mixed.astype(np.int16)
    if sample_rate_hz == DECODER_SAMPLE_RATE_HZ or len(samples) == 0:
        return samples.tobytes()
    resampler = rtc.AudioResampler(
        sample_rate_hz, DECODER_SAMPLE_RATE_HZ, quality=rtc.AudioResamplerQuality.HIGH
    )
    out = bytearray()
    for frame in resampler.push(bytearray(samples.tobytes())):
        out += frame.data.tobytes()
    for frame in resampler.flush():
        out += frame.data.tobytes()
    return bytes(out)


def _decode(pcm16_16k: bytes) -> tuple[str, float]:
    """Decode one utterance; returns (lower-case words, posterior confidence 0..1)."""
    decoder = _POOL.acquire()
    try:
        decoder.start_utt()
        decoder.process_raw(pcm16_16k, full_utt=True)
        decoder.end_utt()
        hyp = decoder.hyp()
        if hyp is None:
            return "", 0.0
        confidence = float(decoder.logmath.exp(hyp.prob)) if hyp.prob else 0.0
        return hyp.hypstr.strip(), max(0.0, min(1.0, confidence))
    finally:
        _POOL.release(decoder)


class PocketSphinxSTT(stt.STT[Never]):
    """livekit-agents STT that recognizes US English offline with pocketsphinx."""

    def __init__(self, *, language: str = "en") -> None:
        super().__init__(capabilities=stt.STTCapabilities(streaming=False, interim_results=False))
        self._language = language

    @property
    def model(self) -> str:
        return "pocketsphinx-en-us"

    @property
    def provider(self) -> str:
        return "pocketsphinx"

    async def _recognize_impl(
        self,
        buffer: utils.AudioBuffer,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions,
    ) -> stt.SpeechEvent:
        frame = rtc.combine_audio_frames(buffer)
        pcm = await asyncio.to_thread(
            pcm16_to_decoder_input,
            frame.data.tobytes(),
            sample_rate_hz=frame.sample_rate,
            num_channels=frame.num_channels,
        )
        started = time.perf_counter()
        text, confidence = await asyncio.to_thread(_decode, pcm)
        logger.debug(
            "pocketsphinx decoded utterance",
            extra={"text": text, "decode_ms": int((time.perf_counter() - started) * 1000)},
        )
        return stt.SpeechEvent(
            type=stt.SpeechEventType.FINAL_TRANSCRIPT,
            alternatives=[
                stt.SpeechData(
                    language=LanguageCode(
                        language if isinstance(language, str) else self._language
                    ),
                    text=text,
                    confidence=confidence,
                )
            ],
        )
