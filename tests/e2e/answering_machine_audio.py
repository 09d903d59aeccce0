"""What the answering-machine tests' callee says, made at test time with espeak-ng + sox:
a recorded voicemail (a greeting, a pause, a 1 kHz beep, then silence) or a person's
"Hello?" (then silence: a person waits for the caller to speak)."""

from __future__ import annotations

import functools
import subprocess
from pathlib import Path
from tempfile import TemporaryDirectory

from tests.conftest import require_binary

__all__ = ["HELLO", "VOICEMAIL_GREETING", "hello_pcm", "voicemail_pcm", "voicemail_wav"]

VOICEMAIL_GREETING = (
    "Hi, you have reached Alex. I can't take your call right now. "
    "Please leave a message after the tone."
)
HELLO = "Hello?"
BEEP_HZ = 1000
BEEP_S = 0.6


def _espeak_wav(text: str, path: Path) -> None:
    subprocess.run(
        [require_binary("espeak-ng"), "-v", "en-us", "-s", "150", "-w", str(path), text],
        check=True,
        capture_output=True,
    )


def voicemail_wav(path: Path, *, rate_hz: int) -> Path:
    """Write the recorded voicemail to ``path`` as a mono 16-bit WAV at ``rate_hz`` Hz:
    the greeting, 0.3 s of silence, a :data:`BEEP_S` s :data:`BEEP_HZ` Hz beep, 2 s of
    silence."""
    sox = require_binary("sox")
    with TemporaryDirectory() as tmp:
        greeting = Path(tmp) / "greeting.wav"
        _espeak_wav(VOICEMAIL_GREETING, greeting)
        fmt = ["-r", str(rate_hz), "-c", "1", "-b", "16", "-e", "signed-integer"]
        normalized = Path(tmp) / "greeting-norm.wav"
        subprocess.run([sox, str(greeting), *fmt, str(normalized)], check=True)
        gap, beep, tail = (Path(tmp) / f"{n}.wav" for n in ("gap", "beep", "tail"))
        subprocess.run([sox, "-n", *fmt, str(gap), "trim", "0", "0.3"], check=True)
        subprocess.run(
            [sox, "-n", *fmt, str(beep), "synth", str(BEEP_S), "sine", str(BEEP_HZ), "vol", "0.5"],
            check=True,
        )
        subprocess.run([sox, "-n", *fmt, str(tail), "trim", "0", "2"], check=True)
        subprocess.run(
            [sox, str(normalized), str(gap), str(beep), str(tail), str(path)], check=True
        )
    return path


def _pcm_of(wav: Path, rate_hz: int) -> bytes:
    return subprocess.run(
        [require_binary("sox"), str(wav), "-t", "raw", "-r", str(rate_hz), "-c", "1", "-b", "16",
         "-e", "signed-integer", "-"],
        check=True,
        capture_output=True,
    ).stdout  # fmt: skip


@functools.lru_cache(maxsize=4)
def voicemail_pcm(rate_hz: int) -> bytes:
    """The voicemail as PCM16 mono at ``rate_hz`` Hz (synchronous: call it before calls)."""
    with TemporaryDirectory() as tmp:
        return _pcm_of(voicemail_wav(Path(tmp) / "voicemail.wav", rate_hz=rate_hz), rate_hz)


@functools.lru_cache(maxsize=4)
def hello_pcm(rate_hz: int) -> bytes:
    """A person's "Hello?" as PCM16 mono at ``rate_hz`` Hz."""
    with TemporaryDirectory() as tmp:
        wav = Path(tmp) / "hello.wav"
        _espeak_wav(HELLO, wav)
        return _pcm_of(wav, rate_hz)
