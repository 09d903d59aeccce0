"""Adaptive endpointing: a short silence ends the user's turn when what they said reads as
finished, a longer one when it does not.

A fixed endpoint waits the same silence after every utterance (livekit-agents with a VAD:
the VAD's ``min_silence_duration``, 400 ms in our pipelines): too long after "What time is
it?", too short after "I'd like to order a ...". livekit-agents' answer is its turn-detector
model, which its plugin downloads at run time (not allowed here: nothing is fetched when a
call starts). Ours reads the transcript instead, the way the model's caller uses it:

* the VAD ends an utterance one 32 ms window before ``complete_silence_ms`` (200 ms) of
  silence (:func:`vad_silence_ms`), the STT transcribes it while livekit's endpointing
  waits the rest of the 200 ms (counted from the last speech), and
  :class:`TranscriptTurnDetector` (livekit-agents' turn-detector hook)
  scores it: a question or exclamation mark, or a last word that is not a continuation
  ("and", "the", "to", "um", ...; recognizers often put a full stop after a fragment, so
  a full stop alone decides nothing) reads as finished;
* finished: the turn ends at once (endpointing ``min_delay`` = the short silence, counted
  from the last speech); unfinished (a trailing comma, dash or ellipsis, a continuation
  word, nothing recognised): livekit waits up to ``incomplete_silence_ms`` (900 ms) from
  the last speech, and a resumed utterance joins the same turn.

The effect is measured in docs/benchmarks.md ("Turn latency per route"). Applied by
:func:`~omnivoice_rtc.agent.agent_session_setup.new_agent_session` to pipelines with an STT
and a silero VAD (``PipelineParts.endpointing``; ``None`` keeps the parts' fixed silence);
realtime models keep their server-side turn detection.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from livekit.agents import llm
from livekit.agents.language import LanguageCode

from omnivoice_rtc.pipelines.parts import AdaptiveEndpointing

__all__ = [
    "CONTINUATION_WORDS",
    "AdaptiveEndpointing",
    "TranscriptTurnDetector",
    "adaptive_turn_handling",
    "completion_probability",
    "short_silence_vad",
    "vad_silence_ms",
]

CONTINUATION_WORDS = frozenset(
    {
        # conjunctions and subordinators
        *("and", "but", "or", "because", "cause", "if", "when", "while", "than", "which"),
        *("whose", "although", "unless", "until"),
        # articles and possessives
        *("a", "an", "the", "my", "your", "our", "their", "his", "its", "every", "each"),
        # prepositions
        *("to", "of", "with", "from", "into", "between", "through", "about", "for", "at"),
        *("by", "like"),
        # fillers and a dangling subject or modifier
        *("um", "uh", "er", "erm", "uhm", "hmm", "i", "i'm", "i'd", "we're", "let's"),
        *("gonna", "wanna", "very", "just"),
    }
)
"""English words after which an utterance is most likely unfinished (lower case)."""

_ASKED_MARKS = ("?", "!", "？", "！")
_UNFINISHED_MARKS = (",", "-", "—", "–", ":", ";", "...", "…")
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*", re.UNICODE)

LIKELY = 0.9
UNLIKELY = 0.1
THRESHOLD = 0.5
"""A score below this is "unfinished": livekit-agents then waits its ``max_delay``."""
SPEECH_END_BELOW = 0.5
"""Silero speech probability under which the silence count starts (livekit's default:
0.35, 0.15 below its 0.5 activation; pipecat's: 0.7)."""


def completion_probability(text: str) -> float:
    """How likely ``text`` (a user's transcript so far) is a finished utterance: ``LIKELY``
    or ``UNLIKELY``. Empty text is unfinished."""
    stripped = text.strip().strip("\"'”“)»")
    if not stripped:
        return UNLIKELY
    if stripped.endswith(_UNFINISHED_MARKS):
        return UNLIKELY
    if stripped.endswith(_ASKED_MARKS):
        return LIKELY
    words = _WORD.findall(stripped.lower().replace("’", "'"))
    if not words or words[-1] in CONTINUATION_WORDS:
        return UNLIKELY  # "I'd like to order a." is still unfinished
    return LIKELY


class TranscriptTurnDetector:
    """livekit-agents' turn-detector hook (``turn_detection=`` an object with
    ``predict_end_of_turn``) scoring the user's last message with
    :func:`completion_probability`. No model, no download, any language (the continuation
    words are English; punctuation decides elsewhere)."""

    @property
    def model(self) -> str:
        return "omnivoice-transcript-rules"

    @property
    def provider(self) -> str:
        return "omnivoice"

    async def unlikely_threshold(self, language: LanguageCode | None) -> float | None:
        return THRESHOLD

    async def supports_language(self, language: LanguageCode | None) -> bool:
        return True

    async def predict_end_of_turn(
        self,
        chat_ctx: llm.ChatContext,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - livekit's hook signature; rules take no time
    ) -> float:
        for item in reversed(chat_ctx.items):
            if isinstance(item, llm.ChatMessage) and item.role == "user":
                return completion_probability(item.text_content or "")
        return UNLIKELY


def adaptive_turn_handling(options: AdaptiveEndpointing) -> dict[str, Any]:
    """livekit-agents ``turn_handling`` keys for ``options``: the detector and the two
    delays (s, counted from the last speech)."""
    return {
        "turn_detection": TranscriptTurnDetector(),
        "endpointing": {
            "mode": "fixed",
            "min_delay": options.complete_silence_ms / 1000,
            "max_delay": options.incomplete_silence_ms / 1000,
        },
    }


SILERO_WINDOW_MS = 32
"""Silero's inference window (512 samples at 16 kHz, 256 at 8 kHz): it counts silence in
whole windows."""


def vad_silence_ms(endpoint_ms: int) -> int:
    """The VAD silence (ms) for a turn that ends after ``endpoint_ms`` of silence: the
    largest whole number of silero windows below it (192 for 200), at least one.

    Silero counts silence in 32 ms windows, so a VAD silence of 200 ms ends speech after 7
    windows, 224 ms. One window less ends it before the endpoint, livekit's endpointing
    (``min_delay``, counted from the last speech) ends the turn at ``endpoint_ms`` exactly,
    and the STT transcribes the utterance during that rest of the wait instead of after it."""
    windows = max(1, -(-endpoint_ms // SILERO_WINDOW_MS) - 1)
    return windows * SILERO_WINDOW_MS


def short_silence_vad(vad: Any, endpoint_ms: int) -> Any | None:
    """A silero VAD like ``vad`` (same model session, same thresholds) that ends speech
    after :func:`vad_silence_ms` ``(endpoint_ms)`` of silence; ``None`` when ``vad`` is not
    a silero VAD (its own silence is then kept)."""
    from livekit.plugins import silero

    if not isinstance(vad, silero.VAD):
        return None
    # reason: silero.VAD has no public copy; its constructor takes the loaded ONNX session
    # and the options dataclass, which is what VAD.load builds (livekit-plugins-silero 1.x)
    opts = dataclasses.replace(
        vad._opts,
        min_silence_duration=vad_silence_ms(endpoint_ms) / 1000,
        deactivation_threshold=max(vad._opts.deactivation_threshold, SPEECH_END_BELOW),
    )
    return silero.VAD(session=vad._onnx_session, opts=opts)
