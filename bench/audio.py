"""Audio converter benchmark: full-duplex cost per 20 ms frame, latency and frame regularity.

Run: ``python -m bench.audio`` (``make bench-audio``). Options: ``--batch-ms MS``,
``--repeats N``, ``--rates 16000,24000,48000``, ``--markdown`` (print the table for
docs/benchmarks.md). Every peer's timed batch lasts about ``--batch-ms`` (its frame count is
calibrated on a warm-up), so fast and slow peers face the same odds of a quiet window on a
busy machine; peers are interleaved and the best batch of each is kept.

One *duplex frame* is what a phone call's media path does every 20 ms: inbound 160 bytes of
μ-law 8 kHz -> PCM16 at the model/room rate, and outbound 20 ms of PCM16 at that rate ->
160 bytes of μ-law 8 kHz. Every peer uses audioop for the G.711 step except ours (fused) and
pipecat (its own helpers, which call audioop). Each peer's time is divided by the
audioop-only time measured in the same run. Added latency is measured, not computed: an
impulse is pushed through 20 ms frames and the output peak is located, so it includes any
output a resampler holds back. "constant frames" says whether every call returned exactly
20 ms. The last column is the level of a 6 kHz tone after 48k/24k/16k -> 8k (resampler only,
before the codec, relative to the input tone): audioop and anything without an anti-alias
filter lets it through.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import platform
import sys
import time
import warnings
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from omnivoice_rtc.audio import (
    AudioEncoding,
    AudioFormat,
    StreamConverter,
    compiled_backend_available,
)
from omnivoice_rtc.audio.format import TWILIO

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    try:
        audioop: Any = importlib.import_module("audioop")
    except ImportError:  # Python >= 3.13
        audioop = None

Convert = Callable[[bytes], bytes]
AsyncConvert = Callable[[bytes], Coroutine[Any, Any, bytes]]


@dataclass
class Duplex:
    """One peer's pair of converters for one call (inbound and outbound), at ``rate`` Hz."""

    inbound: Convert | None = None  # μ-law 8 kHz -> PCM16 rate
    outbound: Convert | None = None  # PCM16 rate -> μ-law 8 kHz
    down_pcm: Convert | None = None  # PCM16 rate -> PCM16 8 kHz (resampler alone)
    ainbound: AsyncConvert | None = None
    aoutbound: AsyncConvert | None = None
    adown_pcm: AsyncConvert | None = None


@dataclass
class Peer:
    name: str
    make: Callable[[int], Duplex]
    note: str = ""


# -- peers --------------------------------------------------------------------------------


def ours(backend: str) -> Callable[[int], Duplex]:
    def make(rate: int) -> Duplex:
        pcm = AudioFormat(AudioEncoding.PCM16, rate)
        pcm8 = AudioFormat(AudioEncoding.PCM16, 8000)
        kw: dict[str, Any] = {"backend": backend}
        return Duplex(
            inbound=StreamConverter(from_format=TWILIO, to_format=pcm, **kw).process,
            outbound=StreamConverter(from_format=pcm, to_format=TWILIO, **kw).process,
            down_pcm=StreamConverter(from_format=pcm, to_format=pcm8, **kw).process,
        )

    return make


def audioop_only(rate: int) -> Duplex:
    state: list[Any] = [None, None, None]

    def inbound(ulaw: bytes) -> bytes:
        out, state[0] = audioop.ratecv(audioop.ulaw2lin(ulaw, 2), 2, 1, 8000, rate, state[0])
        return bytes(out)

    def outbound(pcm: bytes) -> bytes:
        out, state[1] = audioop.ratecv(pcm, 2, 1, rate, 8000, state[1])
        return bytes(audioop.lin2ulaw(out, 2))

    def down_pcm(pcm: bytes) -> bytes:
        out, state[2] = audioop.ratecv(pcm, 2, 1, rate, 8000, state[2])
        return bytes(out)

    return Duplex(inbound=inbound, outbound=outbound, down_pcm=down_pcm)


def soxr_hq(rate: int) -> Duplex:
    import soxr

    up = soxr.ResampleStream(8000, rate, 1, dtype="int16", quality="HQ")
    down = soxr.ResampleStream(rate, 8000, 1, dtype="int16", quality="HQ")
    down2 = soxr.ResampleStream(rate, 8000, 1, dtype="int16", quality="HQ")

    def inbound(ulaw: bytes) -> bytes:
        x = np.frombuffer(audioop.ulaw2lin(ulaw, 2), dtype=np.int16)
        return bytes(up.resample_chunk(x).tobytes())

    def outbound(pcm: bytes) -> bytes:
        y = down.resample_chunk(np.frombuffer(pcm, dtype=np.int16))
        return bytes(audioop.lin2ulaw(y.tobytes(), 2))

    def down_pcm(pcm: bytes) -> bytes:
        return bytes(down2.resample_chunk(np.frombuffer(pcm, dtype=np.int16)).tobytes())

    return Duplex(inbound=inbound, outbound=outbound, down_pcm=down_pcm)


def livekit_rtc(rate: int) -> Duplex:
    from livekit import rtc

    up = rtc.AudioResampler(8000, rate, num_channels=1)
    down = rtc.AudioResampler(rate, 8000, num_channels=1)
    down2 = rtc.AudioResampler(rate, 8000, num_channels=1)

    def frames_bytes(frames: list[rtc.AudioFrame]) -> bytes:
        return b"".join(bytes(f.data) for f in frames)

    def inbound(ulaw: bytes) -> bytes:
        return frames_bytes(up.push(bytearray(audioop.ulaw2lin(ulaw, 2))))

    def outbound(pcm: bytes) -> bytes:
        return bytes(audioop.lin2ulaw(frames_bytes(down.push(bytearray(pcm))), 2))

    def down_pcm(pcm: bytes) -> bytes:
        return frames_bytes(down2.push(bytearray(pcm)))

    return Duplex(inbound=inbound, outbound=outbound, down_pcm=down_pcm)


def pyav(rate: int) -> Duplex:
    import av

    up = av.AudioResampler(format="s16", layout="mono", rate=rate)
    down = av.AudioResampler(format="s16", layout="mono", rate=8000)
    down2 = av.AudioResampler(format="s16", layout="mono", rate=8000)

    def run(rs: Any, pcm: bytes, in_rate: int) -> bytes:
        frame = av.AudioFrame.from_ndarray(
            np.frombuffer(pcm, dtype=np.int16).reshape(1, -1), format="s16", layout="mono"
        )
        frame.sample_rate = in_rate
        return b"".join(f.to_ndarray().tobytes() for f in rs.resample(frame))

    return Duplex(
        inbound=lambda ulaw: run(up, audioop.ulaw2lin(ulaw, 2), 8000),
        outbound=lambda pcm: bytes(audioop.lin2ulaw(run(down, pcm, rate), 2)),
        down_pcm=lambda pcm: run(down2, pcm, rate),
    )


def pipecat(rate: int) -> Duplex:
    from pipecat.audio.utils import create_stream_resampler, pcm_to_ulaw, ulaw_to_pcm

    up, down, down2 = (create_stream_resampler() for _ in range(3))

    async def ainbound(ulaw: bytes) -> bytes:
        return bytes(await ulaw_to_pcm(ulaw, 8000, rate, up))

    async def aoutbound(pcm: bytes) -> bytes:
        return bytes(await pcm_to_ulaw(pcm, rate, 8000, down))

    async def adown_pcm(pcm: bytes) -> bytes:
        return bytes(await down2.resample(pcm, rate, 8000))

    return Duplex(ainbound=ainbound, aoutbound=aoutbound, adown_pcm=adown_pcm)


def available_peers() -> tuple[list[Peer], list[str]]:
    peers: list[Peer] = []
    notes: list[str] = []
    if compiled_backend_available():
        peers.append(Peer("omnivoice (C)", ours("c")))
    else:
        notes.append("omnivoice C extension not built: `pip install -e .` builds it")
    peers.append(Peer("omnivoice (numpy)", ours("numpy")))
    peers.append(Peer("audioop-only", audioop_only, "ulaw2lin+ratecv / ratecv+lin2ulaw"))
    optional: list[tuple[str, str, Callable[[int], Duplex], str]] = [
        ("soxr", "soxr.ResampleStream HQ", soxr_hq, "+ audioop G.711"),
        ("livekit.rtc", "livekit rtc.AudioResampler", livekit_rtc, "MEDIUM (default), + audioop"),
        (
            "pipecat.audio.utils",
            "pipecat stream resampler",
            pipecat,
            "ulaw_to_pcm/pcm_to_ulaw, VHQ",
        ),
        ("av", "PyAV AudioResampler", pyav, "swresample, + audioop G.711"),
    ]
    for module, name, make, note in optional:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            notes.append(f"{name} skipped: {module} not importable ({exc}); pip install '.[bench]'")
            continue
        peers.append(Peer(name, make, note))
    return peers, notes


# -- measurements ----------------------------------------------------------------------------


def call(
    fn: Convert | None, afn: AsyncConvert | None, data: bytes, loop: asyncio.AbstractEventLoop
) -> bytes:
    if fn is not None:
        return fn(data)
    assert afn is not None  # reason: every peer defines one of the two
    return loop.run_until_complete(afn(data))


def time_duplex(
    d: Duplex, ulaw: list[bytes], pcm: list[bytes], iterations: int, loop: asyncio.AbstractEventLoop
) -> float:
    """Seconds per duplex frame (one batch of ``iterations``)."""
    n = len(ulaw)
    if d.inbound is not None and d.outbound is not None:
        fin, fout = d.inbound, d.outbound
        t0 = time.perf_counter()
        for i in range(iterations):
            fin(ulaw[i % n])
            fout(pcm[i % n])
        return (time.perf_counter() - t0) / iterations
    ain, aout = d.ainbound, d.aoutbound
    assert ain is not None  # reason: async peer
    assert aout is not None  # reason: async peer

    async def batch() -> float:
        t0 = time.perf_counter()
        for i in range(iterations):
            await ain(ulaw[i % n])
            await aout(pcm[i % n])
        return (time.perf_counter() - t0) / iterations

    return loop.run_until_complete(batch())


def impulse_latency(
    conv: Convert | None,
    aconv: AsyncConvert | None,
    in_rate: int,
    out_rate: int,
    encode: Callable[[npt.NDArray[np.int16]], bytes],
    decode: Callable[[bytes], npt.NDArray[np.int16]],
    loop: asyncio.AbstractEventLoop,
) -> tuple[float, bool, tuple[int, int]]:
    """(added latency ms, constant frames, (min, max) output samples per 20 ms call).

    Frames are fed at their real-time instants (frame c completes at (c + 1) x 20 ms) and a
    sink plays output samples back to back as soon as they exist (silence on underrun). The
    added latency is when the impulse is played, minus when an ideal zero-delay converter
    would play it (its input time + the 20 ms framing every peer shares). It counts both the
    filter delay and any output a resampler holds back.
    """
    frame = in_rate // 50
    x = np.zeros(frame * 25, dtype=np.int16)  # 500 ms
    at = frame * 5 + frame // 2  # impulse in the middle of the 6th frame
    x[at] = 20000
    outs = [
        decode(call(conv, aconv, encode(x[i : i + frame]), loop)) for i in range(0, len(x), frame)
    ]
    sizes = [len(o) for o in outs]
    y = np.concatenate(outs).astype(np.int32)
    peak = int(np.argmax(np.abs(y)))
    play = 0.0  # playout time (s) of the next output sample
    emitted = 0
    for c, n in enumerate(sizes):
        ready = (c + 1) / 50.0
        if emitted <= peak < emitted + n:
            play = max(play, ready) + (peak - emitted) / out_rate
            break
        if n:
            play = max(play, ready) + n / out_rate
        emitted += n
    latency_ms = 1000.0 * (play - (at / in_rate + 0.020))
    want = out_rate // 50
    return latency_ms, all(s == want for s in sizes), (min(sizes), max(sizes))


def tone_leak_db(d: Duplex, rate: int, loop: asyncio.AbstractEventLoop) -> float:
    """Level (dB) of a 6 kHz tone after rate -> 8 kHz, resampler only, steady state."""
    t = np.arange(rate) / rate
    x = np.rint(0.9 * 32767 * np.sin(2 * np.pi * 6000 * t)).astype(np.int16)
    frame = rate // 50
    outs = [
        call(d.down_pcm, d.adown_pcm, x[i : i + frame].tobytes(), loop)
        for i in range(0, len(x), frame)
    ]
    y = np.frombuffer(b"".join(outs), dtype=np.int16).astype(np.float64)[800:]  # skip 100 ms
    if len(y) == 0:
        return float("nan")
    ratio = np.sqrt(np.mean(y**2)) / (0.9 * 32767 / np.sqrt(2))
    return 20.0 * float(np.log10(max(ratio, 1e-12)))


@dataclass
class Row:
    peer: str
    rate: int
    duplex_us: float
    ratio: float
    lat_in_ms: float
    lat_out_ms: float
    constant: bool
    sizes: str
    leak_db: float
    note: str


def ulaw_bytes(x: npt.NDArray[np.int16]) -> bytes:
    return bytes(audioop.lin2ulaw(x.tobytes(), 2))


def ulaw_samples(b: bytes) -> npt.NDArray[np.int16]:
    return np.frombuffer(audioop.ulaw2lin(b, 2), dtype=np.int16)


def pcm_samples(b: bytes) -> npt.NDArray[np.int16]:
    return np.frombuffer(b, dtype=np.int16)


def measure(rates: list[int], batch_s: float, repeats: int) -> tuple[list[Row], list[str]]:
    peers, notes = available_peers()
    rng = np.random.default_rng(5)
    loop = asyncio.new_event_loop()
    rows: list[Row] = []
    try:
        for rate in rates:
            speechlike = [
                np.clip(rng.standard_normal(rate // 50) * 3000, -32768, 32767).astype(np.int16)
                for _ in range(50)
            ]
            pcm = [s.tobytes() for s in speechlike]
            ulaw = [ulaw_bytes(s[:: rate // 8000]) for s in speechlike]
            duplexes = {p.name: p.make(rate) for p in peers}
            iterations: dict[str, int] = {}
            for name, d in duplexes.items():  # warm up, then size each batch to ~batch_s
                time_duplex(d, ulaw, pcm, 200, loop)
                per_frame = min(time_duplex(d, ulaw, pcm, 200, loop) for _ in range(3))
                iterations[name] = max(200, round(batch_s / per_frame))
            samples: dict[str, list[float]] = {name: [] for name in duplexes}
            for _ in range(repeats):  # interleave peers so drift hits all of them alike
                for name, d in duplexes.items():
                    samples[name].append(time_duplex(d, ulaw, pcm, iterations[name], loop))
            best = {name: min(v) for name, v in samples.items()}
            base = best["audioop-only"]
            for p in peers:
                fresh = p.make(rate)
                lat_in, const_in, size_in = impulse_latency(
                    fresh.inbound, fresh.ainbound, 8000, rate, ulaw_bytes, pcm_samples, loop
                )
                lat_out, const_out, size_out = impulse_latency(
                    fresh.outbound,
                    fresh.aoutbound,
                    rate,
                    8000,
                    lambda x: x.tobytes(),
                    ulaw_samples,
                    loop,
                )
                sizes = f"in {size_in[0]}-{size_in[1]}, out {size_out[0]}-{size_out[1]}"
                rows.append(
                    Row(
                        p.name,
                        rate,
                        best[p.name] * 1e6,
                        best[p.name] / base,
                        lat_in,
                        lat_out,
                        const_in and const_out,
                        sizes,
                        tone_leak_db(p.make(rate), rate, loop),
                        p.note,
                    )
                )
    finally:
        loop.close()
    return rows, notes


def render(rows: list[Row], markdown: bool) -> str:
    head = [
        "peer",
        "rate",
        "duplex µs/frame",
        "× audioop",
        "latency in/out ms",
        "constant 20 ms frames",
        "6 kHz after →8k",
        "notes",
    ]
    body = [
        [
            r.peer,
            f"{r.rate // 1000}k",
            f"{r.duplex_us:.2f}",
            f"{r.ratio:.2f}",
            f"{r.lat_in_ms:.1f} / {r.lat_out_ms:.1f}",
            "yes" if r.constant else f"no ({r.sizes} samples)",
            f"{r.leak_db:.0f} dB" if r.leak_db > -120 else "silent",
            r.note,
        ]
        for r in rows
    ]
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(b) + " |" for b in body]
        return "\n".join(lines)
    widths = [max(len(x) for x in col) for col in zip(head, *body, strict=True)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join(fmt.format(*line) for line in [head, *body])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.audio", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--batch-ms", type=float, default=40.0, help="duration of one timed batch per peer (ms)"
    )
    parser.add_argument(
        "--repeats", type=int, default=15, help="timed batches per peer (best kept)"
    )
    parser.add_argument("--rates", default="16000,24000,48000", help="comma-separated Hz")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args(argv)
    if audioop is None:
        print("audioop is not available on this Python (>= 3.13): no baseline to compare with")
        return 2
    rates = [int(r) for r in args.rates.split(",")]
    print(
        f"# audio converter bench: {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    )
    print(
        f"# best of {args.repeats} batches of ~{args.batch_ms:g} ms of duplex 20 ms frames "
        "(μ-law 8 kHz in -> PCM16 rate, PCM16 rate -> μ-law 8 kHz out)"
    )
    rows, notes = measure(rates, args.batch_ms / 1000.0, args.repeats)
    for note in notes:
        print(f"note: {note}")
    print(render(rows, args.markdown))
    by_rate = {r.rate: r for r in rows if r.peer.startswith("omnivoice (C)")}
    if by_rate:
        worst = max(r.ratio for r in by_rate.values())
        print(
            f"goal <= 0.65x audioop-only: worst omnivoice (C) ratio {worst:.2f} "
            f"-> {'met' if worst <= 0.65 else 'NOT met'}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
