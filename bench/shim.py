"""Carrier media-stream shim benchmark: codec cost, one-way latency, calls per core.

Run: ``python -m bench.shim`` (``make bench-shim``). Options: ``--calls 25,50,100``,
``--seconds S`` (per capacity step), ``--skip-capacity``, ``--markdown``. Loopback only;
every loop is bounded; a private livekit-server is started on free ports and stopped.

1. **Frame cost** (µs of CPU per full-duplex 20 ms frame, in-process): our Twilio codec +
   InboundAudio + OutboundAudio (parse JSON, base64, μ-law <-> PCM16, serialize) against
   pipecat's ``TwilioFrameSerializer`` doing the same job (deserialize to 16 kHz, serialize
   24 kHz agent audio to μ-law 8 kHz JSON).
2. **One-way added latency** (carrier frame in -> audio at a room subscriber): tone bursts
   sent as Twilio frames over a real WebSocket through the shim into a real room, detected
   by a subscriber; the same bursts published straight from an AudioSource at 8 kHz give
   the baseline; added = shim - direct (p50/p99). Then the rate question: bursts published at
   8 kHz vs 48 kHz (we resample), and agent audio subscribed at 8 kHz vs at 48 kHz followed by
   our 48k->8k converter, each pair measured at the same time on the same audio.
3. **Calls per core**: :mod:`bench.shim_capacity`, the native media process (omnivoice-media)
   against livekit rtc in the shim process (with and without our FFI event router), and
   :mod:`bench.pipecat_capacity`, pipecat's own Twilio WebSocket path (no room) as a peer.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import numpy as np
from aiohttp import web
from livekit import api, rtc

from omnivoice_rtc.audio.converter import StreamConverter
from omnivoice_rtc.audio.format import TWILIO, AudioEncoding, AudioFormat
from omnivoice_rtc.audio.g711 import ulaw_decode, ulaw_encode
from omnivoice_rtc.carriers.twilio import TwilioProfile, TwilioSettings
from omnivoice_rtc.media_streams.messages import Connected, Media, SendMedia, Start
from omnivoice_rtc.media_streams.twilio import TwilioCodec
from omnivoice_rtc.native import NativeMediaProcess
from omnivoice_rtc.settings import LiveKitSettings, Settings
from omnivoice_rtc.shim.audio_path import InboundAudio, OutboundAudio
from omnivoice_rtc.shim.media_stream_gateway import MediaStreamGateway, ShimRuntime
from omnivoice_rtc.shim.native_call_room import NativeMediaOptions
from omnivoice_rtc.shim.policy import MediaPolicy
from omnivoice_rtc.shim.routes import carrier_route_installer
from omnivoice_rtc.stack import Supervisor, free_port, free_ports, livekit_server_spec
from omnivoice_rtc.web import create_app

PCM8 = AudioFormat(AudioEncoding.PCM16, 8000)
FRAME_MS = 20


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# ---------------------------------------------------------------- 1. frame cost


def _tone(rate: int, ms: int, freq: float = 1000.0, amp: int = 8000) -> bytes:
    t = np.arange(rate * ms // 1000) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.int16).tobytes()


def bench_frame_cost(frames: int = 3000) -> dict[str, float]:
    codec = TwilioCodec(stream_id="MZ" + "0" * 32)
    inbound = InboundAudio(carrier_format=TWILIO, room_rate_hz=8000)
    outbound = OutboundAudio(carrier_format=TWILIO, room_rate_hz=8000)
    wire_in = codec.serialize(
        Media(payload=ulaw_encode(_tone(8000, 20)), stream_id=codec.stream_id)
    )
    agent_pcm = _tone(8000, 20)
    start = time.process_time()
    for _ in range(frames):
        message = codec.parse(wire_in)
        assert isinstance(message, Media)
        inbound.convert(message.payload)
        for payload in outbound.convert(agent_pcm):
            codec.serialize(SendMedia(payload=payload))
    ours = (time.process_time() - start) / frames * 1e6
    result = {"ours_us": ours}
    try:
        result["pipecat_us"] = asyncio.run(_pipecat_frame_cost(wire_in, frames))
    except ImportError as exc:  # pipecat-ai is in the bench extra; say so if absent
        print(f"pipecat not available: {exc}", file=sys.stderr)
    return result


async def _pipecat_frame_cost(wire_in: str | bytes, frames: int) -> float:
    from pipecat.frames.frames import OutputAudioRawFrame
    from pipecat.serializers.twilio import TwilioFrameSerializer

    serializer = TwilioFrameSerializer(
        stream_sid="MZ" + "0" * 32,
        params=TwilioFrameSerializer.InputParams(auto_hang_up=False, sample_rate=16000),
    )
    serializer._sample_rate = 16000  # reason: what setup() sets from the pipeline's input rate
    agent = OutputAudioRawFrame(audio=_tone(24000, 20), sample_rate=24000, num_channels=1)
    start = time.process_time()
    for _ in range(frames):
        await serializer.deserialize(wire_in)
        await serializer.serialize(agent)
    return (time.process_time() - start) / frames * 1e6


# ---------------------------------------------------------------- livekit-server


@dataclass
class Server:
    supervisor: Supervisor
    lk: LiveKitSettings


def start_livekit() -> Server:
    http_port, tcp_port = free_ports(2)
    key, secret = "bench-" + secrets.token_hex(3), secrets.token_urlsafe(24)
    spec = livekit_server_spec(
        port=http_port, tcp_port=tcp_port, udp_port=free_port(protocol="udp"), keys={key: secret}
    )
    supervisor = Supervisor([spec], log_sink=lambda line: None)
    supervisor.start()
    lk = LiveKitSettings(url=f"ws://127.0.0.1:{http_port}", api_key=key, api_secret=secret)
    return Server(supervisor, lk)


def _token(lk: LiveKitSettings, room: str, identity: str, kind: Any = "standard") -> str:
    return (
        api.AccessToken(lk.api_key, lk.api_secret)
        .with_identity(identity)
        .with_kind(kind)
        .with_grants(api.VideoGrants(room_join=True, room=room))
        .to_jwt()
    )


# ---------------------------------------------------------------- 2. latency

LATE_BOUND_MS = 40.0
"""A capacity step fails when the shim's 20 ms timer is this late at p99 (two frames)."""
BURST_EVERY_MS = 400
BURST_MS = 60
THRESHOLD = 1500.0


def _burst_frames(n_bursts: int) -> list[tuple[bool, bytes]]:
    """(is_burst_onset, 20 ms PCM16 8 kHz) frames: a 1 kHz burst every 400 ms."""
    frames: list[tuple[bool, bytes]] = []
    tone = _tone(8000, BURST_MS)
    silence = bytes(320)
    per = BURST_EVERY_MS // FRAME_MS
    for _ in range(n_bursts):
        for i in range(per):
            if i * FRAME_MS < BURST_MS:
                frames.append((i == 0, tone[i * 320 : (i + 1) * 320]))
            else:
                frames.append((False, silence))
    return frames


class OnsetDetector:
    """Records the arrival time of each burst onset in a track's audio."""

    def __init__(self) -> None:
        self.onsets: list[float] = []
        self._loud = False

    def feed(self, samples: np.ndarray, at: float) -> None:
        level = float(np.sqrt(np.mean(samples.astype(np.float64) ** 2))) if len(samples) else 0.0
        if level > THRESHOLD and not self._loud:
            self.onsets.append(at)
        self._loud = level > THRESHOLD / 3


async def _detect(
    stream: rtc.AudioStream, det: OnsetDetector, convert: Callable[[bytes], bytes] | None = None
) -> None:
    async for event in stream:
        data = bytes(event.frame.data.cast("B"))
        if convert is not None:
            data = ulaw_decode(convert(data))
        det.feed(np.frombuffer(data, dtype=np.int16), time.monotonic())


async def _subscriber(lk: LiveKitSettings, room: str, identity: str) -> rtc.Room:
    sub = rtc.Room()
    await sub.connect(lk.url, _token(lk, room, identity, "agent"))
    return sub


async def _wait_track(sub: rtc.Room, identity: str) -> rtc.Track:
    for _ in range(400):
        p = sub.remote_participants.get(identity)
        if p is not None:
            for pub in p.track_publications.values():
                if pub.track is not None:
                    return pub.track
        await asyncio.sleep(0.025)
    raise TimeoutError(identity)


def _latencies(sent: list[float], onsets: list[float]) -> list[float]:
    out = []
    for s in sent:
        later = [o for o in onsets if s <= o < s + BURST_EVERY_MS / 1000.0]
        if later:
            out.append((later[0] - s) * 1000.0)
    return out


async def bench_latency(
    lk: LiveKitSettings, bursts: int = 50, *, native: bool = False
) -> dict[str, float]:
    """All paths at once, in the call's own room, on the same bursts (paired differences).
    ``native``: the shim's room is joined by omnivoice-media (G.711 published)."""
    frames = _burst_frames(bursts)
    process = NativeMediaProcess() if native else None
    runner, port, gateway = await _start_shim(lk, "none", native=process)
    call_id = "CA" + secrets.token_hex(16)
    token = await gateway.runtime.tokens.issue(call_id, "twilio")
    room_name = f"call-twilio-{call_id}"
    http = aiohttp.ClientSession()
    ws, codec = await _open_twilio(
        http, f"ws://127.0.0.1:{port}/carriers/twilio/media", call_id=call_id, token=token
    )
    pubs: dict[int, tuple[rtc.Room, rtc.AudioSource, StreamConverter | None]] = {}
    for rate in (8000, 48000):
        room = rtc.Room()
        await room.connect(lk.url, _token(lk, room_name, f"pub{rate}"))
        source = rtc.AudioSource(rate, 1, queue_size_ms=0)
        await room.local_participant.publish_track(
            rtc.LocalAudioTrack.create_audio_track(f"t{rate}", source),
            rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE),
        )
        conv = None
        if rate != 8000:
            conv = StreamConverter(
                from_format=PCM8, to_format=AudioFormat(AudioEncoding.PCM16, rate)
            )
        pubs[rate] = (room, source, conv)
    sub = await _subscriber(lk, room_name, "sub")
    dets = {
        name: OnsetDetector() for name in ("shim", "pub8000", "pub48000", "sub8k", "sub48k+ours")
    }
    down = StreamConverter(from_format=AudioFormat(AudioEncoding.PCM16, 48000), to_format=TWILIO)
    tasks = []
    for name, identity in (
        ("shim", f"pstn-twilio-{call_id}"),
        ("pub8000", "pub8000"),
        ("pub48000", "pub48000"),
    ):
        track = await _wait_track(sub, identity)
        stream = rtc.AudioStream.from_track(track=track, sample_rate=48000, frame_size_ms=10)
        tasks.append(asyncio.ensure_future(_detect(stream, dets[name])))
    track48 = await _wait_track(sub, "pub48000")
    # the order of two streams on one track matters (measured): alternate it per run
    order = ("sub8k", "sub48k+ours") if secrets.randbits(1) else ("sub48k+ours", "sub8k")
    for name in order:
        rate = 8000 if name == "sub8k" else 48000
        stream = rtc.AudioStream.from_track(track=track48, sample_rate=rate, frame_size_ms=FRAME_MS)
        convert = None if name == "sub8k" else down.process
        tasks.append(asyncio.ensure_future(_detect(stream, dets[name], convert)))

    await asyncio.sleep(1.0)
    sent: list[float] = []
    t0 = time.monotonic()
    for i, (onset, pcm) in enumerate(frames):
        if onset:
            sent.append(time.monotonic())
        await ws.send_str(
            codec.serialize(Media(payload=ulaw_encode(pcm), stream_id=codec.stream_id))
        )
        for rate, (_room, source, conv) in pubs.items():
            data = conv.process(pcm) if conv else pcm
            step = rate // 100 * 2  # direct capture: 10 ms frames
            for k in range(0, len(data), step):
                await source.capture_frame(rtc.AudioFrame(data[k : k + step], rate, 1, step // 2))
        delay = t0 + (i + 1) * FRAME_MS / 1000 - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
    await asyncio.sleep(1.0)
    lat = {name: _latencies(sent, det.onsets) for name, det in dets.items()}
    results: dict[str, float] = {}
    for name, values in lat.items():
        results[f"{name}_p50"] = _pct(values, 0.5)
        results[f"{name}_p99"] = _pct(values, 0.99)
    paired = _paired(sent, dets["shim"].onsets, dets["pub8000"].onsets)
    results["shim_added_p50"] = _pct(paired, 0.5)
    results["shim_added_p99"] = _pct(paired, 0.99)
    results["pairs"] = float(len(paired))
    print(f"downlink streams created in order: {order}", file=sys.stderr)
    for task in tasks:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    await sub.disconnect()
    for room, source, _ in pubs.values():
        await room.disconnect()
        await source.aclose()
    await ws.close()
    await http.close()
    await runner.cleanup()
    if process is not None:
        await process.aclose()
    return results


def _paired(sent: list[float], a: list[float], b: list[float]) -> list[float]:
    """Per burst: arrival via ``a`` minus arrival via ``b`` (ms)."""
    window = BURST_EVERY_MS / 1000.0
    out = []
    for s in sent:
        xa = [o for o in a if s <= o < s + window]
        xb = [o for o in b if s <= o < s + window]
        if xa and xb:
            out.append((xa[0] - xb[0]) * 1000.0)
    return out


async def _start_shim(
    lk: LiveKitSettings, agent_name: str, *, native: NativeMediaProcess | None = None
) -> tuple[web.AppRunner, int, MediaStreamGateway]:
    queue_ms = int(os.environ.get("BENCH_SHIM_SOURCE_QUEUE_MS", "0"))
    cushion = os.environ.get("BENCH_SHIM_CUSHION_MS", "")  # a fixed playout cushion (ms)
    runtime = ShimRuntime(
        livekit=lk,
        agent_name=agent_name,
        agent_join_timeout_s=3600,
        source_queue_ms=queue_ms,
        policy=MediaPolicy(playout_cushion_ms=int(cushion) if cushion else None),
        native_media=NativeMediaOptions(process=native) if native is not None else None,
    )
    gateway = MediaStreamGateway(
        profile=TwilioProfile(settings=TwilioSettings(auth_token="bench")), runtime=runtime
    )
    app = create_app(Settings(livekit=lk), route_installers=[carrier_route_installer([gateway])])
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]  # reason: the bound port is only exposed here
    return runner, port, gateway


async def _open_twilio(
    http: aiohttp.ClientSession, url: str, *, call_id: str, token: str = "", stream_id: str = ""
) -> tuple[aiohttp.ClientWebSocketResponse, TwilioCodec]:
    """A Twilio media stream to ``url``: connected + start (with the stream token, if any);
    ``stream_id``: the streamSid (empty: a new one)."""
    codec = TwilioCodec(stream_id=stream_id or "MZ" + secrets.token_hex(16))
    ws = await http.ws_connect(url)
    await ws.send_str(codec.serialize(Connected(protocol="Call", version="1.0.0")))
    start = Start(
        call_id=call_id,
        stream_id=codec.stream_id,
        custom_parameters={"token": token} if token else {},
        media_format=TWILIO,
        wire_encoding="audio/x-mulaw",
        tracks=("inbound",),
    )
    await ws.send_str(codec.serialize(start))
    return ws, codec


async def run_twilio_caller(
    ws: aiohttp.ClientWebSocketResponse,
    codec: TwilioCodec,
    *,
    seconds: float,
    go: asyncio.Event,
    on_sent: Callable[[], None],
    on_media: Callable[[str], None],
) -> None:
    """The capacity benches' caller: once ``go`` is set, one 20 ms frame of μ-law silence per
    20 ms (paced against the start, so a late tick catches up) for ``seconds``; every media
    message received goes to ``on_media``; then 0.5 s for the last replies and close."""

    async def reader() -> None:
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.TEXT and '"media"' in msg.data[:20]:
                on_media(msg.data)

    receiving = asyncio.ensure_future(reader())
    wire = codec.serialize(Media(payload=b"\xff" * 160, stream_id=codec.stream_id))
    await go.wait()
    t0 = time.monotonic()
    for k in range(int(seconds * 1000 / FRAME_MS)):
        await ws.send_str(wire)
        on_sent()
        await asyncio.sleep(max(0.0, t0 + (k + 1) * FRAME_MS / 1000 - time.monotonic()))
    await asyncio.sleep(0.5)
    receiving.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await receiving
    await ws.close()


# ---------------------------------------------------------------- main


def main() -> None:
    from .pipecat_capacity import bench_pipecat_capacity
    from .shim_capacity import BACKENDS, bench_capacity, most_calls

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", default="5,10,15,20,25,30,40,50,75,100,125,150")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--backends", default=",".join((*BACKENDS, "pipecat")))
    parser.add_argument("--skip-capacity", action="store_true")
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    cost = bench_frame_cost()
    print(f"frame cost (µs CPU per duplex 20 ms frame): {json.dumps(cost)}")
    server = start_livekit()
    backends = args.backends.split(",")
    try:
        latency: dict[str, dict[str, float]] = {}
        for name in () if args.skip_latency else ("rtc", "native"):
            latency[name] = asyncio.run(bench_latency(server.lk, native=name == "native"))
            rounded = {k: round(v, 1) for k, v in latency[name].items()}
            print(f"latency {name} (ms): {json.dumps(rounded)}")
        capacity: list[dict[str, Any]] = []
        if not args.skip_capacity:
            steps = [int(x) for x in args.calls.split(",")]
            for backend in backends:
                if backend == "pipecat":  # its own Twilio WebSocket path, no room (peer)
                    capacity += asyncio.run(bench_pipecat_capacity(steps, args.seconds))
                    continue
                capacity += asyncio.run(
                    bench_capacity(server.lk, steps, args.seconds, backend=backend)
                )
            for row in capacity:
                print(f"capacity: {json.dumps(row)}")
            best = {backend: most_calls(capacity, backend) for backend in backends}
            print(f"calls per core: {json.dumps(best)}")
            if best.get("native"):
                for peer in backends[1:]:
                    ratio = f"{best['native'] / best[peer]:.1f}x" if best[peer] else "n/a"
                    print(f"calls per core, native vs {peer}: {ratio}")
    finally:
        server.supervisor.stop()
    if args.markdown and latency:
        print(_markdown(cost, latency, capacity))


def _markdown(
    cost: dict[str, float], latencies: dict[str, dict[str, float]], cap: list[dict[str, Any]]
) -> str:
    lat = latencies["rtc"]
    lines = [
        "| measure | value |",
        "|---|---|",
        f"| CPU per duplex frame, ours (Twilio codec + μ-law both ways) | {cost['ours_us']:.0f} µs |",
    ]
    if "pipecat_us" in cost:
        lines.append(
            f"| CPU per duplex frame, pipecat TwilioFrameSerializer (16k in, 24k out) | {cost['pipecat_us']:.0f} µs |"
        )
    lines += [
        f"| carrier frame -> room subscriber, via shim, p50 / p99 | {lat['shim_p50']:.1f} / {lat['shim_p99']:.1f} ms |",
        f"| same audio published directly at 8 kHz, p50 / p99 | {lat['pub8000_p50']:.1f} / {lat['pub8000_p99']:.1f} ms |",
    ]
    for name, values in latencies.items():
        lines.append(
            f"| **added by the shim, {name}** (paired per burst), p50 / p99 | **{values['shim_added_p50']:.1f} / {values['shim_added_p99']:.1f} ms** |"
        )
    lines += [
        f"| publish at 8 kHz vs 48 kHz (ours resampled), p50 | {lat['pub8000_p50']:.1f} vs {lat['pub48000_p50']:.1f} ms |",
        f"| subscribe at 8 kHz vs 48 kHz + our 48k->8k, p50 | {lat['sub8k_p50']:.1f} vs {lat['sub48k+ours_p50']:.1f} ms |",
    ]
    for row in cap:
        if row["backend"] == "pipecat":  # an echo: what came back against what went in
            lost = f"{max(0, int(row['sent'] - row['received']))} round trip"
        else:
            lost = f"{int(row['sent'] - row['frames_in'])} / {max(0, int(row['frames_out'] - row['received']))}"
        lines.append(
            f"| {int(row['n'])} calls on one core, {row['backend']}: lost in/out, timer late p99, CPU | "
            f"{lost}, {row['late_p99_ms']:.1f} ms, {row['cpu_pct']:.0f}% {'ok' if row['ok'] else 'FAIL'} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
