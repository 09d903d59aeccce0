"""The ``local`` pipeline: silero VAD -> pocketsphinx STT -> rules responder -> espeak-ng TTS.

Needs no network and no key. See :mod:`.responder` for what the agent answers.

Environment (all optional): ``OMNIVOICE_ESPEAK_BIN`` (default ``espeak-ng``),
``OMNIVOICE_ESPEAK_VOICE`` (``en-us``), ``OMNIVOICE_ESPEAK_WPM`` (170 words/min),
``OMNIVOICE_VAD_MIN_SILENCE_MS`` (400 ms of silence ends an utterance),
``OMNIVOICE_ENDPOINTING_MIN_DELAY_MS`` (300 ms more before the turn is taken).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from omnivoice_rtc.pipelines.local.responder import RulesResponderLLM, respond
from omnivoice_rtc.pipelines.local.stt import PocketSphinxSTT, shutdown_decoder
from omnivoice_rtc.pipelines.local.stt import prewarm as prewarm_stt
from omnivoice_rtc.pipelines.local.tts import EspeakTTS, find_espeak
from omnivoice_rtc.pipelines.parts import PipelineParts
from omnivoice_rtc.settings import env_int, env_str

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


@dataclass(frozen=True, slots=True, kw_only=True)
class LocalPipelineOptions:
    """Settings of the local pipeline. Durations in milliseconds."""

    espeak_bin: str = "espeak-ng"
    espeak_voice: str = "en-us"
    espeak_wpm: int = 170
    vad_min_silence_ms: int = 400
    endpointing_min_delay_ms: int = 300

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> LocalPipelineOptions:
        env = os.environ if env is None else env
        return cls(
            espeak_bin=env_str(env, "OMNIVOICE_ESPEAK_BIN", "espeak-ng"),
            espeak_voice=env_str(env, "OMNIVOICE_ESPEAK_VOICE", "en-us"),
            espeak_wpm=env_int(env, "OMNIVOICE_ESPEAK_WPM", 170, minimum=80, maximum=450),
            vad_min_silence_ms=env_int(
                env, "OMNIVOICE_VAD_MIN_SILENCE_MS", 400, minimum=100, maximum=5000
            ),
            endpointing_min_delay_ms=env_int(
                env, "OMNIVOICE_ENDPOINTING_MIN_DELAY_MS", 300, minimum=0, maximum=10000
            ),
        )


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
    prewarm_stt(wait=False)


def build_local(options: LocalPipelineOptions | None = None) -> PipelineParts:
    """Build the local pipeline's parts; ConfigError when espeak-ng is missing."""
    options = options or LocalPipelineOptions()
    espeak = find_espeak(options.espeak_bin)
    return PipelineParts(
        name="local",
        stt=PocketSphinxSTT(),
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
