"""StreamConverter / AudioConverter API: codecs, frame rule, flush, bad input, backends."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from omnivoice_rtc import ConfigError
from omnivoice_rtc.audio import (
    AudioConverter,
    AudioEncoding,
    AudioFormat,
    StreamConverter,
    compiled_backend_available,
    g711,
)
from omnivoice_rtc.audio.converter import convert, set_default_backend
from omnivoice_rtc.audio.format import GEMINI_INPUT, LIVEKIT, OPENAI, TWILIO
from omnivoice_rtc.settings import Settings
from omnivoice_rtc.types.protocols import AudioConverter as AudioConverterProtocol
from tests.conftest import require

from ._signals import noise, tone

pytestmark = pytest.mark.unit

E = AudioEncoding


@pytest.fixture(params=["c", "numpy"])
def backend(request: pytest.FixtureRequest) -> str:
    name = str(request.param)
    if name == "c":
        require(compiled_backend_available(), "compiled extension omnivoice_rtc.audio._fastaudio")
    return name


def make(a: AudioFormat, b: AudioFormat, backend: str) -> StreamConverter:
    return StreamConverter(from_format=a, to_format=b, backend=backend)  # type: ignore[arg-type]  # reason: parametrized str


def encode(x: npt.NDArray[np.int16], enc: AudioEncoding) -> bytes:
    if enc is E.MULAW:
        return g711.ulaw_encode(x.tobytes())
    if enc is E.ALAW:
        return g711.alaw_encode(x.tobytes())
    if enc is E.PCM16_BE:
        return x.astype(">i2").tobytes()
    return x.tobytes()


def decode(raw: bytes, enc: AudioEncoding) -> npt.NDArray[np.int16]:
    if enc is E.MULAW:
        return np.frombuffer(g711.ulaw_decode(raw), dtype=np.int16)
    if enc is E.ALAW:
        return np.frombuffer(g711.alaw_decode(raw), dtype=np.int16)
    if enc is E.PCM16_BE:
        return np.frombuffer(raw, dtype=">i2").astype(np.int16)
    return np.frombuffer(raw, dtype=np.int16)


@pytest.mark.parametrize("enc", list(E))
def test_same_rate_conversion_is_the_codec_alone(backend: str, enc: AudioEncoding) -> None:
    x = noise(8000, 0.1)
    out = make(AudioFormat(E.PCM16, 8000), AudioFormat(enc, 8000), backend).process(x.tobytes())
    assert out == encode(x, enc)
    back = make(AudioFormat(enc, 8000), AudioFormat(E.PCM16, 8000), backend).process(out)
    assert back == decode(out, enc).tobytes()


@pytest.mark.parametrize("enc_in", list(E))
@pytest.mark.parametrize("enc_out", list(E))
def test_every_encoding_pair_through_the_resampler_matches_between_backends(
    enc_in: AudioEncoding, enc_out: AudioEncoding
) -> None:
    require(compiled_backend_available(), "compiled extension omnivoice_rtc.audio._fastaudio")
    raw = encode(noise(16000, 0.2), enc_in)
    a, b = AudioFormat(enc_in, 16000), AudioFormat(enc_out, 48000)
    step = a.frame_bytes()
    outs = {}
    for name in ("c", "numpy"):
        conv = make(a, b, name)
        outs[name] = b"".join(conv.process(raw[i : i + step]) for i in range(0, len(raw), step))
    c, n = decode(outs["c"], enc_out).astype(np.int32), decode(outs["numpy"], enc_out)
    assert len(c) == len(n) == 3 * len(raw) // a.bytes_per_sample
    # one LSB of PCM16 can move a G.711 code by one step; compare in the linear domain
    tolerance = 1 if enc_out in (E.PCM16, E.PCM16_BE) else 512
    assert np.max(np.abs(c - n)) <= tolerance


def test_inbound_twilio_to_openai_is_decode_then_resample(backend: str) -> None:
    x = tone(700, 8000, 0.2, amplitude=0.3)
    ulaw = g711.ulaw_encode(x.tobytes())
    got = np.frombuffer(AudioConverter(backend=backend).convert(ulaw, TWILIO, OPENAI), np.int16)  # type: ignore[arg-type]  # reason: parametrized str
    want = np.frombuffer(
        AudioConverter(backend=backend).convert(  # type: ignore[arg-type]  # reason: parametrized str
            g711.ulaw_decode(ulaw), AudioFormat(E.PCM16, 8000), OPENAI
        ),
        np.int16,
    )
    assert np.array_equal(got, want)
    assert len(got) == 3 * len(x)


def test_short_final_frame_gives_proportional_output_and_flush_gives_the_delay(
    backend: str,
) -> None:
    conv = make(TWILIO, LIVEKIT, backend)
    frames = [conv.process(bytes([0xFF]) * 160) for _ in range(3)]
    short = conv.process(bytes([0xFF]) * 56)  # 7 ms final frame
    tail = conv.flush()
    assert [len(f) for f in frames] == [1920] * 3
    assert len(short) == 56 * 6 * 2
    assert len(tail) == conv.filter.delay_out_samples * 2
    assert conv.filter.delay_out_samples * 1000 / 48000 == conv.delay_ms <= 5.0


def test_flush_resets_for_reuse(backend: str) -> None:
    x = noise(24000, 0.1).tobytes()
    conv = make(OPENAI, TWILIO, backend)
    first = conv.process(x) + conv.flush()
    second = conv.process(x) + conv.flush()
    assert first == second
    conv.process(x)
    conv.reset()
    assert conv.process(x) + conv.flush() == first


def test_output_bytes_predicts_frame_size() -> None:
    conv = StreamConverter(from_format=GEMINI_INPUT, to_format=TWILIO)
    assert conv.output_bytes(640) == 160
    assert StreamConverter(from_format=TWILIO, to_format=OPENAI).output_bytes(160) == 960


def test_module_convert_satisfies_the_go_protocol() -> None:
    assert isinstance(AudioConverter(), AudioConverterProtocol)
    x = noise(8000, 0.05).tobytes()
    assert convert(x, AudioFormat(E.PCM16, 8000), GEMINI_INPUT) == AudioConverter().convert(
        x, AudioFormat(E.PCM16, 8000), GEMINI_INPUT
    )


def test_numpy_int16_array_input_is_accepted(backend: str) -> None:
    x = noise(16000, 0.02)
    conv = make(GEMINI_INPUT, TWILIO, backend)
    ref = make(GEMINI_INPUT, TWILIO, backend)
    assert conv.process(x) == ref.process(x.tobytes())  # type: ignore[arg-type]  # reason: buffer protocol


def test_int16_memoryview_input_is_accepted(backend: str) -> None:
    # what livekit's rtc.AudioFrame.data is: memoryview(...).cast("h")
    x = noise(24000, 0.02)
    conv = make(OPENAI, TWILIO, backend)
    ref = make(OPENAI, TWILIO, backend)
    assert conv.process(memoryview(bytearray(x.tobytes())).cast("h")) == ref.process(x.tobytes())


# -- bad input ---------------------------------------------------------------------------


def test_odd_byte_length_pcm16_is_rejected(backend: str) -> None:
    conv = make(GEMINI_INPUT, TWILIO, backend)
    with pytest.raises(
        ValueError,
        match=r"^StreamConverter.process: pcm16 input must be a whole number of 2-byte "
        r"samples, got 321 bytes$",
    ):
        conv.process(b"\x00" * 321)


def test_odd_byte_length_mulaw_is_fine(backend: str) -> None:
    assert len(make(TWILIO, GEMINI_INPUT, backend).process(b"\xff" * 161)) == 161 * 4


def test_wrong_dtype_is_rejected(backend: str) -> None:
    conv = make(GEMINI_INPUT, TWILIO, backend)
    with pytest.raises(
        ValueError, match=r"pcm16 input must be bytes or a uint8/int16 buffer, got buffer format f"
    ):
        conv.process(np.zeros(160, dtype=np.float32))  # type: ignore[arg-type]  # reason: the error under test
    ulaw = make(TWILIO, GEMINI_INPUT, backend)
    with pytest.raises(
        ValueError, match=r"mulaw input must be bytes or a uint8 buffer, got buffer format h"
    ):
        ulaw.process(np.zeros(160, dtype=np.int16))  # type: ignore[arg-type]  # reason: the error under test


def test_non_contiguous_array_is_rejected(backend: str) -> None:
    conv = make(GEMINI_INPUT, TWILIO, backend)
    with pytest.raises(
        ValueError, match=r"^StreamConverter.process: expected bytes-like audio, got ndarray$"
    ):
        conv.process(np.zeros(640, dtype=np.int16)[::2])  # type: ignore[arg-type]  # reason: the error under test


def test_non_bytes_is_rejected(backend: str) -> None:
    conv = make(GEMINI_INPUT, TWILIO, backend)
    with pytest.raises(
        ValueError, match=r"^StreamConverter.process: expected bytes-like audio, got str$"
    ):
        conv.process("hello")  # type: ignore[arg-type]  # reason: the error under test


@pytest.mark.parametrize("rate", [11025, 22050, 44100, 32000])
def test_unsupported_rate_is_rejected(rate: int) -> None:
    with pytest.raises(
        ValueError,
        match=rf"^StreamConverter.to_format: unsupported sample rate {rate} Hz "
        r"\(supported: 8000, 16000, 24000, 48000\)$",
    ):
        StreamConverter(from_format=TWILIO, to_format=AudioFormat(E.PCM16, rate))


def test_non_format_is_rejected() -> None:
    with pytest.raises(
        ValueError, match=r"^StreamConverter.from_format: expected an AudioFormat, got str$"
    ):
        StreamConverter(from_format="mulaw", to_format=OPENAI)  # type: ignore[arg-type]  # reason: the error under test


def test_unknown_encoding_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"unsupported encoding 'opus'"):
        AudioFormat("opus", 48000)  # type: ignore[arg-type]  # reason: the error under test


def test_default_backend_setting_forces_numpy() -> None:
    settings = Settings.from_env({"OMNIVOICE_RTC_AUDIO_BACKEND": "numpy"})
    set_default_backend(settings.audio.backend)
    try:
        assert StreamConverter(from_format=TWILIO, to_format=OPENAI).backend == "numpy"
    finally:
        set_default_backend("auto")
    with pytest.raises(
        ValueError, match=r"^audio backend: expected 'auto', 'c' or 'numpy', got 'gpu'$"
    ):
        set_default_backend("gpu")
    with pytest.raises(ConfigError, match=r"^OMNIVOICE_RTC_AUDIO_BACKEND: must be one of"):
        Settings.from_env({"OMNIVOICE_RTC_AUDIO_BACKEND": "gpu"})


def test_auto_backend_prefers_compiled_when_built() -> None:
    want = "c" if compiled_backend_available() else "numpy"
    assert StreamConverter(from_format=TWILIO, to_format=OPENAI).backend == want


def test_uninitialised_compiled_stream_raises_instead_of_crashing() -> None:
    require(compiled_backend_available(), "compiled extension omnivoice_rtc.audio._fastaudio")
    from omnivoice_rtc.audio import _fastaudio

    stream = _fastaudio.Stream.__new__(_fastaudio.Stream)
    with pytest.raises(RuntimeError, match=r"^_fastaudio.Stream: not initialised$"):
        stream.process(b"\xff" * 160)
    with pytest.raises(RuntimeError, match=r"^_fastaudio.Stream: not initialised$"):
        stream.flush()
