"""Offline text-to-speech with the espeak-ng command-line program.

Each synthesis runs ``espeak-ng --stdout --stdin -v VOICE -s WPM`` as an asyncio
subprocess, writes the text to its stdin, parses the WAV header it prints and
forwards the PCM16 body to livekit-agents' AudioEmitter while espeak-ng is still
writing (first audio after ~10-30 ms). espeak-ng writes a streaming WAV whose size
fields are placeholders, so only the ``fmt `` chunk is trusted and everything after
the ``data`` chunk header is audio.

Errors: a missing binary, a non-zero exit or no audio raise livekit's ``APIError``
(not retryable), which the AgentSession reports as a ``tts_error`` event.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import struct
from typing import Never

from livekit.agents import APIConnectOptions, APIError, tts, utils
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS

from omnivoice_rtc._errors import ConfigError

__all__ = ["ESPEAK_SAMPLE_RATE_HZ", "EspeakTTS", "WavStreamParser"]

ESPEAK_SAMPLE_RATE_HZ = 22050
"""espeak-ng's output sample rate (Hz) for its standard voices."""

_READ_CHUNK_BYTES = 4096
_MAX_HEADER_BYTES = 4096


class WavStreamParser:
    """Incremental RIFF/WAVE parser: feed bytes, get PCM bytes once past the header.

    ``sample_rate_hz`` / ``num_channels`` / ``bits_per_sample`` are set once the
    ``fmt `` chunk has been read. Raises ValueError on a non-WAV or non-PCM16 stream.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._in_data = False
        self.sample_rate_hz = 0
        self.num_channels = 0
        self.bits_per_sample = 0

    @property
    def header_done(self) -> bool:
        return self._in_data

    def feed(self, data: bytes) -> bytes:
        """Return the audio bytes contained in ``data`` (empty while in the header)."""
        if self._in_data:
            return data
        self._buf += data
        if len(self._buf) < 12:
            return b""
        if self._buf[0:4] != b"RIFF" or self._buf[8:12] != b"WAVE":
            raise ValueError("espeak-ng output is not a RIFF/WAVE stream")
        pos = 12
        while len(self._buf) >= pos + 8:
            chunk_id = bytes(self._buf[pos : pos + 4])
            (size,) = struct.unpack("<I", self._buf[pos + 4 : pos + 8])
            if chunk_id == b"data":
                self._in_data = True
                if not self.sample_rate_hz:
                    raise ValueError("WAV stream has a data chunk before its fmt chunk")
                rest = bytes(self._buf[pos + 8 :])
                self._buf.clear()
                return rest
            if len(self._buf) < pos + 8 + size:
                break
            if chunk_id == b"fmt ":
                fmt, channels, rate, _byte_rate, _align, bits = struct.unpack(
                    "<HHIIHH", self._buf[pos + 8 : pos + 24]
                )
                if fmt != 1 or bits != 16:
                    raise ValueError(f"WAV stream is not PCM16 (format {fmt}, {bits} bits)")
                self.sample_rate_hz, self.num_channels, self.bits_per_sample = rate, channels, bits
            pos += 8 + size + (size & 1)
        if len(self._buf) > _MAX_HEADER_BYTES:
            raise ValueError("WAV header is larger than 4096 bytes")
        return b""


def find_espeak(binary: str = "espeak-ng") -> str:
    """Return the espeak-ng path; ConfigError names OMNIVOICE_ESPEAK_BIN when it is missing."""
    path = shutil.which(binary)
    if path is None:
        raise ConfigError(
            f"OMNIVOICE_ESPEAK_BIN: espeak-ng program {binary!r} not found "
            "(install the espeak-ng package; scripts/install-debian.sh does)"
        )
    return path


class EspeakTTS(tts.TTS[Never]):
    """livekit-agents TTS that speaks with espeak-ng; 22050 Hz mono PCM16.

    ``voice`` is an espeak-ng voice name (``en-us``); ``words_per_minute`` its ``-s`` rate.
    """

    def __init__(
        self, *, binary: str = "espeak-ng", voice: str = "en-us", words_per_minute: int = 170
    ) -> None:
        super().__init__(
            capabilities=tts.TTSCapabilities(streaming=False),
            sample_rate=ESPEAK_SAMPLE_RATE_HZ,
            num_channels=1,
        )
        if not 80 <= words_per_minute <= 450:
            raise ConfigError(
                f"OMNIVOICE_ESPEAK_WPM: must be between 80 and 450, got {words_per_minute}"
            )
        self._binary = binary
        self._voice = voice
        self._wpm = words_per_minute

    @property
    def model(self) -> str:
        return f"espeak-ng/{self._voice}"

    @property
    def provider(self) -> str:
        return "espeak-ng"

    def command(self) -> list[str]:
        """The argv of one synthesis (text goes to stdin)."""
        return [self._binary, "--stdout", "--stdin", "-v", self._voice, "-s", str(self._wpm)]

    def synthesize(
        self, text: str, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> tts.ChunkedStream:
        return _EspeakStream(tts=self, input_text=text, conn_options=conn_options)


class _EspeakStream(tts.ChunkedStream):
    def __init__(self, *, tts: EspeakTTS, input_text: str, conn_options: APIConnectOptions) -> None:
        super().__init__(tts=tts, input_text=input_text, conn_options=conn_options)
        self._espeak = tts

    async def _run(self, output_emitter: tts.AudioEmitter) -> None:
        try:
            proc = await asyncio.create_subprocess_exec(
                *self._espeak.command(),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except OSError as exc:
            raise APIError(f"cannot start espeak-ng: {exc}", retryable=False) from exc
        try:
            await self._feed_and_forward(proc, output_emitter)
        finally:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()

    async def _feed_and_forward(
        self, proc: asyncio.subprocess.Process, output_emitter: tts.AudioEmitter
    ) -> None:
        assert proc.stdin is not None
        assert proc.stdout is not None
        assert proc.stderr is not None
        try:
            proc.stdin.write(self.input_text.encode("utf-8") + b"\n")
            await proc.stdin.drain()
            proc.stdin.close()
        except (BrokenPipeError, ConnectionResetError):
            pass  # it exited without reading: its exit status below says why
        parser = WavStreamParser()
        pending = b""  # keep PCM16 sample alignment across reads
        initialized = False
        while chunk := await proc.stdout.read(_READ_CHUNK_BYTES):
            try:
                audio = parser.feed(chunk)
            except ValueError as exc:
                raise APIError(f"espeak-ng: {exc}", retryable=False) from exc
            if not parser.header_done:
                continue
            if not initialized:
                output_emitter.initialize(
                    request_id=utils.shortuuid("espeak_"),
                    sample_rate=parser.sample_rate_hz,
                    num_channels=parser.num_channels,
                    mime_type="audio/pcm",
                    frame_size_ms=20,
                )
                initialized = True
            audio = pending + audio
            usable = len(audio) - len(audio) % 2
            pending = audio[usable:]
            if usable:
                output_emitter.push(audio[:usable])
        stderr = await proc.stderr.read()
        code = await proc.wait()
        if code != 0:
            message = stderr.decode("utf-8", "replace").strip()[:200]
            raise APIError(f"espeak-ng exited with status {code}: {message}", retryable=False)
        if not initialized:
            raise APIError("espeak-ng produced no audio", retryable=False)
