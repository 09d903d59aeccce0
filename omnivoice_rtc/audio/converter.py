"""Audio conversion between :class:`AudioFormat` s: one-shot and per-stream (the frame path).

:class:`StreamConverter` is what a call's media path uses, one per direction: every
``process(frame)`` decodes, resamples and encodes in one call and returns the converted frame.

Frame rule (documented, tested):

* ``process`` accepts any whole number of input samples and returns every output sample whose
  time is covered by the input so far, so an input frame of constant duration gives an output
  frame of constant size (20 ms in -> 20 ms out, for every supported rate pair); a short final
  frame gives a proportionally short output frame. Nothing is padded.
* The filter adds a fixed group delay (:attr:`StreamConverter.delay_ms`, 1.25-2.5 ms);
  ``flush()`` returns those held-back samples (the tail of the stream, computed against
  silence) and resets the converter for reuse. Call it once at end of stream if you want the tail.

Two interchangeable backends compute the same result (within 1 LSB of 16-bit PCM):
the compiled ``_fastaudio`` extension (default when it was built) and a numpy path. Set
``OMNIVOICE_RTC_AUDIO_BACKEND=numpy`` (or pass ``backend="numpy"``) to force numpy.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from omnivoice_rtc.audio import g711
from omnivoice_rtc.audio.format import AudioEncoding, AudioFormat
from omnivoice_rtc.audio.resampler import StreamingResampler, check_rate, design_filter

_fastaudio: ModuleType | None
try:
    from omnivoice_rtc.audio import _fastaudio
except ImportError:  # pragma: no cover - exercised when the extension was not built
    _fastaudio = None

__all__ = [
    "AudioConverter",
    "Backend",
    "StreamConverter",
    "compiled_backend_available",
    "convert",
    "set_default_backend",
]

Backend = Literal["auto", "c", "numpy"]
_default_backend: str = "auto"


def set_default_backend(backend: str) -> None:
    """The backend converters built without one use: ``auto`` (the C extension when built),
    ``c`` or ``numpy``. Processes set it from ``OMNIVOICE_RTC_AUDIO_BACKEND``
    (:class:`~omnivoice_rtc.settings.AudioSettings`)."""
    global _default_backend
    _resolve_backend(backend)  # validates
    _default_backend = backend


_KIND = {
    AudioEncoding.PCM16: 0,
    AudioEncoding.PCM16_BE: 1,
    AudioEncoding.MULAW: 2,
    AudioEncoding.ALAW: 2,
}
_DECODE_TABLES = {
    AudioEncoding.MULAW: g711.ULAW_DECODE_TABLE,
    AudioEncoding.ALAW: g711.ALAW_DECODE_TABLE,
}
_ENCODE_TABLES = {
    AudioEncoding.MULAW: g711.ULAW_ENCODE_TABLE,
    AudioEncoding.ALAW: g711.ALAW_ENCODE_TABLE,
}


def compiled_backend_available() -> bool:
    """True when the C extension ``omnivoice_rtc.audio._fastaudio`` was built and imports."""
    return _fastaudio is not None


def _resolve_backend(backend: str | None) -> Literal["c", "numpy"]:
    choice = backend if backend is not None else _default_backend
    if choice not in ("auto", "c", "numpy"):
        raise ValueError(f"audio backend: expected 'auto', 'c' or 'numpy', got {choice!r}")
    if choice == "numpy":
        return "numpy"
    if _fastaudio is None:
        if choice == "c":
            raise ValueError("audio backend 'c': the _fastaudio extension is not built")
        return "numpy"
    return "c"


def _check_format(fmt: Any, what: str) -> AudioFormat:
    if not isinstance(fmt, AudioFormat):
        raise ValueError(f"{what}: expected an AudioFormat, got {type(fmt).__name__}")
    check_rate(fmt.sample_rate, what)
    return fmt


def _samples_from(frame: Any, fmt: AudioFormat) -> npt.NDArray[np.int16]:
    """Validate and decode one input frame to int16 samples (numpy path)."""
    try:
        view = memoryview(frame)
    except TypeError:
        view = None
    if view is None or not view.c_contiguous:
        raise ValueError(
            f"StreamConverter.process: expected bytes-like audio, got {type(frame).__name__}"
        )
    bps = fmt.encoding.bytes_per_sample
    item = view.format.lstrip("<=@")
    if item not in ("B", "b", "c") and not (item == "h" and bps == 2):
        allowed = "uint8/int16" if bps == 2 else "uint8"
        raise ValueError(
            f"StreamConverter.process: {fmt.encoding} input must be bytes or a {allowed} "
            f"buffer, got buffer format {view.format}"
        )
    raw = view.cast("B") if view.ndim != 1 or view.itemsize != 1 else view
    if len(raw) % bps:
        raise ValueError(
            f"StreamConverter.process: {fmt.encoding} input must be a whole number of "
            f"2-byte samples, got {len(raw)} bytes"
        )
    if fmt.encoding is AudioEncoding.PCM16:
        return np.frombuffer(raw, dtype="<i2")
    if fmt.encoding is AudioEncoding.PCM16_BE:
        return np.frombuffer(raw, dtype=">i2").astype(np.int16)
    return _DECODE_TABLES[fmt.encoding][np.frombuffer(raw, dtype=np.uint8)]


def _encode(samples: npt.NDArray[np.int16], fmt: AudioFormat) -> bytes:
    if fmt.encoding is AudioEncoding.PCM16:
        return samples.astype("<i2", copy=False).tobytes()
    if fmt.encoding is AudioEncoding.PCM16_BE:
        return samples.astype(">i2").tobytes()
    return _ENCODE_TABLES[fmt.encoding][samples.view(np.uint16)].tobytes()


class StreamConverter:
    """Stateful converter for one direction of one stream (the 20 ms frame path).

    ``from_format``/``to_format`` are mono :class:`AudioFormat` s at 8000, 16000, 24000 or
    48000 Hz in any supported encoding. ``backend`` picks the implementation ("auto": compiled
    when built, else numpy; default from ``OMNIVOICE_RTC_AUDIO_BACKEND``).
    """

    def __init__(
        self,
        *,
        from_format: AudioFormat,
        to_format: AudioFormat,
        backend: Backend | None = None,
    ) -> None:
        self.from_format = _check_format(from_format, "StreamConverter.from_format")
        self.to_format = _check_format(to_format, "StreamConverter.to_format")
        self.filter = design_filter(from_format.sample_rate, to_format.sample_rate)
        self.backend: Literal["c", "numpy"] = _resolve_backend(backend)
        self._c: Any = None
        self._np: StreamingResampler | None = None
        if self.backend == "c":
            f = self.filter
            dec = _DECODE_TABLES.get(from_format.encoding)
            enc = _ENCODE_TABLES.get(to_format.encoding)
            assert _fastaudio is not None  # reason: _resolve_backend returned "c"
            # the C kernels work in blocks of 8 taps: pad each branch with zeros on the
            # oldest-sample side (more history, same filter, same timing)
            taps = -(-f.taps_per_phase // 8) * 8
            coeffs = np.zeros((f.up, taps), dtype=np.float32)
            coeffs[:, taps - f.taps_per_phase :] = f.phases
            self._c = _fastaudio.Stream(
                in_kind=_KIND[from_format.encoding],
                out_kind=_KIND[to_format.encoding],
                up=f.up,
                down=f.down,
                taps=taps,
                delay_out=f.delay_out_samples,
                flush_in=f.flush_input_samples,
                coeffs=coeffs.tobytes(),
                dec_table=b"" if dec is None else dec.tobytes(),
                enc_table=b"" if enc is None else enc.tobytes(),
                in_name=str(from_format.encoding),
            )
            self.process = self._c.process  # type: ignore[method-assign]  # reason: skip a Python frame on the 20 ms path
        else:
            self._np = StreamingResampler(
                from_rate=from_format.sample_rate, to_rate=to_format.sample_rate
            )

    @property
    def delay_ms(self) -> float:
        """Group delay this converter adds (ms)."""
        return self.filter.delay_ms

    def output_bytes(self, input_bytes: int) -> int:
        """Output size (bytes) of a frame of ``input_bytes`` on a stream at frame boundary 0.

        Exact for every frame when ``input_bytes`` is a whole number of 20 ms (or any length
        whose sample count times ``to_rate / from_rate`` is an integer).
        """
        n_in = input_bytes // self.from_format.bytes_per_sample
        n_out = -(-n_in * self.filter.up // self.filter.down)
        return n_out * self.to_format.bytes_per_sample

    def process(self, frame: bytes | bytearray | memoryview) -> bytes:
        """Convert one frame; returns the output samples now complete (see module doc)."""
        assert self._np is not None  # reason: the C backend rebinds process in __init__
        samples = _samples_from(frame, self.from_format)
        return _encode(self._np.process(samples), self.to_format)

    def flush(self) -> bytes:
        """Return the samples held in the filter (group delay), then reset for reuse."""
        if self._c is not None:
            tail: bytes = self._c.flush()
            return tail
        assert self._np is not None  # reason: one of the two backends is set
        return _encode(self._np.flush(), self.to_format)

    def reset(self) -> None:
        """Forget all input, as if newly constructed."""
        if self._c is not None:
            self._c.reset()
        elif self._np is not None:
            self._np.reset()


class AudioConverter:
    """One-shot converter (Go ``AudioConverter``): whole buffers, delay-compensated.

    ``backend`` as for :class:`StreamConverter`.
    """

    def __init__(self, *, backend: Backend | None = None) -> None:
        self.backend = backend

    def convert(
        self,
        audio: bytes | bytearray | memoryview,
        from_format: AudioFormat,
        to_format: AudioFormat,
    ) -> bytes:
        """Convert a complete buffer; output is time-aligned with the input.

        Returns ``ceil(n * to_rate / from_rate)`` samples for ``n`` input samples.
        """
        stream = StreamConverter(from_format=from_format, to_format=to_format, backend=self.backend)
        body = stream.process(audio)
        tail = stream.flush()
        skip = stream.filter.delay_out_samples * to_format.bytes_per_sample
        return (body + tail)[skip:]


def convert(
    audio: bytes | bytearray | memoryview, from_format: AudioFormat, to_format: AudioFormat
) -> bytes:
    """Module-level shortcut for ``AudioConverter().convert(audio, from_format, to_format)``."""
    return AudioConverter().convert(audio, from_format, to_format)
