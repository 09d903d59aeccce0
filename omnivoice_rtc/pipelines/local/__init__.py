"""The ``local`` pipeline: silero VAD -> offline STT -> rules responder -> espeak-ng TTS.

The STT is Whisper tiny.en or pocketsphinx (``OMNIVOICE_LOCAL_STT``, :mod:`.stt`).

Needs no network and no key. See :mod:`.responder` for what the agent answers.

Options: :class:`~omnivoice_rtc.settings.pipeline.LocalPipelineOptions` (espeak binary,
voice and rate; VAD silence and endpointing delay in ms).
"""

from __future__ import annotations

import threading
from typing import Any

from omnivoice_rtc.pipelines.local.responder import RulesResponderLLM, respond
from omnivoice_rtc.pipelines.local.stt import (
    PocketSphinxSTT,
    local_stt,
    prewarm_engine,
    shutdown_decoder,
)
from omnivoice_rtc.pipelines.local.tts import EspeakTTS, find_espeak
from omnivoice_rtc.pipelines.parts import PipelineParts
from omnivoice_rtc.settings.pipeline import LocalPipelineOptions

__all__ = [
    "EspeakTTS",
    "LocalPipelineOptions",
    "PocketSphinxSTT",
    "RulesResponderLLM",
    "build_local",
    "load_vad",
    "prewarm",
    "respond",
    "shutdown_decoder",
]

LOCAL_INSTRUCTIONS = "Offline rules-and-echo responder (no language model)."


_vad_lock = threading.Lock()
_vad_cache: dict[int, Any] = {}


def load_vad(*, min_silence_ms: int = 400) -> Any:
    """The process-wide silero VAD (the model ships inside livekit-plugins-silero).

    Loading is blocking (~0.1 s); the instance is shared by every session of the process.
    """
    with _vad_lock:
        vad = _vad_cache.get(min_silence_ms)
        if vad is None:
            from livekit.plugins import silero

            vad = silero.VAD.load(min_silence_duration=min_silence_ms / 1000)
            _vad_cache[min_silence_ms] = vad
        return vad


def prewarm(options: LocalPipelineOptions | None = None) -> None:
    """Load the VAD now and start the STT decoder process in the background (a worker's
    prewarm hook calls this)."""
    options = options or LocalPipelineOptions()
    load_vad(min_silence_ms=options.vad_min_silence_ms)
    prewarm_engine(options.stt, wait=False)


def build_local(options: LocalPipelineOptions | None = None) -> PipelineParts:
    """Build the local pipeline's parts; ConfigError when espeak-ng is missing."""
    options = options or LocalPipelineOptions()
    espeak = find_espeak(options.espeak_bin)
    return PipelineParts(
        name="local",
        stt=local_stt(options.stt),
        llm=RulesResponderLLM(),
        tts=EspeakTTS(
            binary=espeak, voice=options.espeak_voice, words_per_minute=options.espeak_wpm
        ),
        vad=load_vad(min_silence_ms=options.vad_min_silence_ms),
        instructions=LOCAL_INSTRUCTIONS,
        session_options={
            "turn_handling": {
                "turn_detection": "vad",
                "endpointing": {"min_delay": options.endpointing_min_delay_ms / 1000},
                "preemptive_generation": {"enabled": False},
            },
        },
    )
