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
3. **Calls per core**: the shim in its own process pinned to CPU 0; N Twilio clients (in
   this process, CPU 1) stream μ-law at real time while a synthetic agent feeds 20 ms of
   audio per call per 20 ms into each bridge (the outbound path without N extra room
   peers). A step passes with zero frames lost both ways and the shim's 20 ms timer late
   by < 40 ms at p99 (overload over TCP shows up as delay, not loss). Run twice: with our
   FFI event router (omnivoice_rtc/livekit/ffi_router.py) and with livekit rtc's own event
   delivery (``OMNIVOICE_FFI_ROUTING=0``), the peer for the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing as mp
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
from omnivoice_rtc.livekit.ffi_router import ROUTING_ENV
from omnivoice_rtc.media_streams.base import Connected, Media, SendMedia, Start
from omnivoice_rtc.media_streams.twilio import TwilioCodec
from omnivoice_rtc.settings import LiveKitSettings, Settings
from omnivoice_rtc.shim.audio_path import InboundAudio, OutboundAudio
from omnivoice_rtc.shim.carriers import TwilioAdapter
from omnivoice_rtc.shim.gateway import MediaStreamGateway, ShimRuntime
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


async def bench_latency(lk: LiveKitSettings, bursts: int = 50) -> dict[str, float]:
    """All paths at once, in the call's own room, on the same bursts (paired differences)."""
    frames = _burst_frames(bursts)
    runner, port, gateway = await _start_shim(lk, "none")
    call_id = "CA" + secrets.token_hex(16)
    token = gateway.runtime.tokens.issue(call_id, "twilio")
    room_name = f"call-twilio-{call_id}"
    http = aiohttp.ClientSession()
    ws, codec = await _open_twilio(http, port, token, call_id)
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
    lk: LiveKitSettings, agent_name: str
) -> tuple[web.AppRunner, int, MediaStreamGateway]:
    queue_ms = int(os.environ.get("BENCH_SHIM_SOURCE_QUEUE_MS", "0"))
    runtime = ShimRuntime(
        livekit=lk, agent_name=agent_name, agent_join_timeout_s=3600, source_queue_ms=queue_ms
    )
    gateway = MediaStreamGateway(adapter=TwilioAdapter(auth_token="bench"), runtime=runtime)
    app = create_app(Settings(livekit=lk), route_installers=[carrier_route_installer([gateway])])
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]  # reason: the bound port is only exposed here
    return runner, port, gateway


async def _open_twilio(
    http: aiohttp.ClientSession, port: int, token: str, call_id: str
) -> tuple[aiohttp.ClientWebSocketResponse, TwilioCodec]:
    codec = TwilioCodec(stream_id="MZ" + secrets.token_hex(16))
    ws = await http.ws_connect(f"ws://127.0.0.1:{port}/carriers/twilio/media")
    await ws.send_str(codec.serialize(Connected(protocol="Call", version="1.0.0")))
    start = Start(
        call_id=call_id,
        stream_id=codec.stream_id,
        custom_parameters={"token": token},
        media_format=TWILIO,
        wire_encoding="audio/x-mulaw",
        tracks=("inbound",),
    )
    await ws.send_str(codec.serialize(start))
    return ws, codec


# ---------------------------------------------------------------- 3. capacity


def _shim_process(
    lk: dict[str, str], port_q: Any, cmd_q: Any, result_q: Any, routing: bool = True
) -> None:
    import logging

    os.environ[ROUTING_ENV] = "1" if routing else "0"

    logging.basicConfig(level=logging.WARNING, format="shim: %(levelname)s %(name)s %(message)s")
    logging.getLogger("omnivoice_rtc.shim").setLevel(logging.INFO)
    with contextlib.suppress(AttributeError, OSError):
        os.sched_setaffinity(0, {0})
    asyncio.run(_shim_main(LiveKitSettings(**lk), port_q, cmd_q, result_q))


async def _shim_main(lk: LiveKitSettings, port_q: Any, cmd_q: Any, result_q: Any) -> None:
    runner, port, gateway = await _start_shim(lk, "none")
    loop = asyncio.get_running_loop()
    port_q.put(port)
    lateness: list[float] = []
    fed = 0
    agent_pcm = _tone(8000, FRAME_MS, freq=440)

    async def synthetic_agent() -> None:
        nonlocal fed
        t0 = time.monotonic()
        tick = 0
        while True:
            tick += 1
            due = t0 + tick * FRAME_MS / 1000
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            lateness.append((time.monotonic() - due) * 1000)
            for bridge in list(gateway._bridges):  # reason: bench reaches in to feed agent audio
                if bridge.relaying.is_set():
                    bridge.on_agent_audio(agent_pcm)
                    fed += 1

    feeder = asyncio.ensure_future(synthetic_agent())
    while True:
        cmd = await loop.run_in_executor(None, cmd_q.get)
        if cmd == "stop":
            break
        if cmd == "reset":
            for bridge in gateway._bridges:  # count the measured window only
                bridge.counters.__init__()  # type: ignore[misc]  # reason: reset a dataclass in place
            lateness.clear()
            fed = 0
            cpu0 = time.process_time()
            wall0 = time.monotonic()
            continue
        if cmd == "report":
            counters = [b.counters.as_dict() for b in gateway._bridges]
            result_q.put(
                {
                    "late_p99_ms": _pct(lateness, 0.99),
                    "cpu_pct": 100 * (time.process_time() - cpu0) / (time.monotonic() - wall0),
                    "frames_in": sum(c["frames_in"] for c in counters),
                    "frames_out": sum(c["frames_out"] for c in counters),
                    "dropped": sum(
                        v for c in counters for k, v in c.items() if k.startswith("dropped")
                    ),
                    **{
                        k: sum(c[k] for c in counters)
                        for k in ("dropped_too_fast", "dropped_outbound", "frames_late")
                    },
                    "calls": len(counters),
                }
            )
        if cmd.startswith("token "):
            call_id = cmd.split()[1]
            result_q.put(gateway.runtime.tokens.issue(call_id, "twilio"))
    feeder.cancel()
    await runner.cleanup()


async def _capacity_step(
    port: int, n: int, seconds: float, cmd_q: Any, result_q: Any
) -> dict[str, float]:
    loop = asyncio.get_running_loop()
    silence = b"\xff" * 160
    received = [0] * n
    sent = [0] * n

    grants: list[tuple[str, str]] = []
    for _ in range(n):  # one at a time: the reply queue is shared
        call_id = "CA" + secrets.token_hex(16)
        cmd_q.put(f"token {call_id}")
        grants.append((call_id, await loop.run_in_executor(None, result_q.get)))

    async def call(
        i: int, http: aiohttp.ClientSession, ready: asyncio.Event, go: asyncio.Event
    ) -> None:
        call_id, token = grants[i]
        ws, codec = await _open_twilio(http, port, token, call_id)

        async def reader() -> None:
            async for msg in ws:
                if msg.type == aiohttp.WSMsgType.TEXT and '"media"' in msg.data[:20]:
                    received[i] += 1

        r = asyncio.ensure_future(reader())
        wire = codec.serialize(Media(payload=silence, stream_id=codec.stream_id))
        ready.set()
        await go.wait()
        t0 = time.monotonic()
        frames = int(seconds * 1000 / FRAME_MS)
        for k in range(frames):
            await ws.send_str(wire)
            sent[i] += 1
            await asyncio.sleep(max(0.0, t0 + (k + 1) * FRAME_MS / 1000 - time.monotonic()))
        await asyncio.sleep(0.5)
        r.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await r
        await ws.close()

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        readies = [asyncio.Event() for _ in range(n)]
        go = asyncio.Event()
        tasks = [asyncio.ensure_future(call(i, http, readies[i], go)) for i in range(n)]
        await asyncio.gather(*(e.wait() for e in readies))
        await asyncio.sleep(3.0)  # rooms joined
        cmd_q.put("reset")
        go.set()
        await asyncio.sleep(seconds + 0.2)
        cmd_q.put("report")
        report: dict[str, float] = await loop.run_in_executor(None, result_q.get)
        await asyncio.gather(*tasks)
    report["sent"] = sum(sent)
    report["received"] = sum(received)
    return report


async def bench_capacity(
    lk: LiveKitSettings, steps: list[int], seconds: float, *, routing: bool = True
) -> list[dict[str, float]]:
    ctx = mp.get_context("spawn")
    port_q, cmd_q, result_q = ctx.Queue(), ctx.Queue(), ctx.Queue()
    lk_dict = {"url": lk.url, "api_key": lk.api_key, "api_secret": lk.api_secret}
    with contextlib.suppress(AttributeError, OSError):
        os.sched_setaffinity(0, {1})
    results = []
    for n in steps:
        proc = ctx.Process(target=_shim_process, args=(lk_dict, port_q, cmd_q, result_q, routing))
        proc.start()
        port = port_q.get(timeout=60)
        try:
            report = await _capacity_step(port, n, seconds, cmd_q, result_q)
        finally:
            cmd_q.put("stop")
            proc.join(30)
            if proc.is_alive():
                proc.kill()
        report["n"] = n
        report["routing"] = float(routing)
        report["ok"] = float(
            report["dropped"] == 0
            and report["frames_in"] >= report["sent"] * 0.99
            and report["received"] >= report["frames_out"] * 0.99
            and report["late_p99_ms"] < LATE_BOUND_MS
        )
        print(json.dumps(report), file=sys.stderr)
        results.append(report)
        if not report["ok"]:
            break
    return results


# ---------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", default="5,10,15,20,25,30,40,50,100")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--skip-capacity", action="store_true")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    cost = bench_frame_cost()
    print(f"frame cost (µs CPU per duplex 20 ms frame): {json.dumps(cost)}")
    server = start_livekit()
    try:
        latency = asyncio.run(bench_latency(server.lk))
        print(f"latency (ms): {json.dumps({k: round(v, 1) for k, v in latency.items()})}")
        capacity: list[dict[str, float]] = []
        if not args.skip_capacity:
            steps = [int(x) for x in args.calls.split(",")]
            for routing in (True, False):
                capacity += asyncio.run(
                    bench_capacity(server.lk, steps, args.seconds, routing=routing)
                )
            for row in capacity:
                print(f"capacity: {json.dumps(row)}")
            ours, sdk = (_most_calls(capacity, routing) for routing in (1.0, 0.0))
            ratio = f"{ours / sdk:.1f}x" if sdk else "n/a (the SDK path passed no step)"
            print(f"calls per core: routed {ours}, livekit rtc delivery {sdk}, ratio {ratio}")
    finally:
        server.supervisor.stop()
    if args.markdown:
        print(_markdown(cost, latency, capacity))


def _most_calls(rows: list[dict[str, float]], routing: float) -> int:
    """The largest passing step of one capacity run (0 when none passed)."""
    return max((int(r["n"]) for r in rows if r["routing"] == routing and r["ok"]), default=0)


def _markdown(cost: dict[str, float], lat: dict[str, float], cap: list[dict[str, float]]) -> str:
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
        f"| **added by the shim** (paired per burst), p50 / p99 | **{lat['shim_added_p50']:.1f} / {lat['shim_added_p99']:.1f} ms** |",
        f"| publish at 8 kHz vs 48 kHz (ours resampled), p50 | {lat['pub8000_p50']:.1f} vs {lat['pub48000_p50']:.1f} ms |",
        f"| subscribe at 8 kHz vs 48 kHz + our 48k->8k, p50 | {lat['sub8k_p50']:.1f} vs {lat['sub48k+ours_p50']:.1f} ms |",
    ]
    for row in cap:
        lines.append(
            f"| {int(row['n'])} calls on one core, {'routed' if row['routing'] else 'SDK delivery'}: lost in/out, timer late p99, shim CPU | "
            f"{int(row['sent'] - row['frames_in'])} / {max(0, int(row['frames_out'] - row['received']))}, "
            f"{row['late_p99_ms']:.1f} ms, {row['cpu_pct']:.0f}% {'ok' if row['ok'] else 'FAIL'} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
