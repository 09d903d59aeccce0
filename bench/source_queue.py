"""Where an agent's first audio frame waits: livekit's AudioSource queue vs direct capture.

    python -m bench.source_queue [--bursts 8] [--modes 200,100,50,direct,direct-pump]

One publisher and one subscriber in a room of a local livekit-server. Like an agent's
replies, the publisher is idle, then captures 1 s of a 440 Hz tone as fast as the source
takes it, then is idle again (1 s), ``--bursts`` times. Printed per burst: ms from the first
``capture_frame`` call to the first loud frame at the subscriber.

Modes: ``N`` (ms) = ``AudioSource(queue_size_ms=N)``, 50 ms frames (livekit-agents' room
output uses 200); ``direct`` = ``queue_size_ms=0`` with 10 ms frames paced in real time
and nothing captured between bursts; ``direct-pump`` = the same with silence captured
between bursts (a continuous 10 ms pump). Results: docs/benchmarks.md, "Turn latency per
route".
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import numpy as np
from livekit import rtc

from tests.integration.agent.voice_client import participant_token
from tests.plugins.livekit_stack import LiveKitServer, start_livekit_server

RATE_HZ = 24000
TEN_MS = RATE_HZ // 100
LOUD_RMS = 1000.0  # int16 units


async def _one_mode(server: LiveKitServer, mode: str, bursts: int) -> list[float | None]:
    pub, sub = rtc.Room(), rtc.Room()
    arrivals: list[tuple[float, float]] = []
    tasks: set[asyncio.Task[None]] = set()

    async def record(track: rtc.Track) -> None:
        stream = rtc.AudioStream(track, sample_rate=RATE_HZ, num_channels=1)
        async for ev in stream:
            s = np.frombuffer(ev.frame.data, dtype=np.int16).astype(np.float64)
            arrivals.append((time.monotonic(), float(np.sqrt(np.mean(s**2))) if s.size else 0.0))

    def on_track(track: rtc.Track, *_: object) -> None:
        task = asyncio.ensure_future(record(track))
        tasks.add(task)

    room = f"queue-{mode}"
    sub.on("track_subscribed", on_track)
    key, secret = server.api_key, server.api_secret
    await sub.connect(server.url, participant_token(key, secret, room=room, identity="sub"))
    await pub.connect(server.url, participant_token(key, secret, room=room, identity="pub"))
    direct = mode.startswith("direct")
    source = rtc.AudioSource(RATE_HZ, 1, queue_size_ms=0 if direct else int(mode))
    track = rtc.LocalAudioTrack.create_audio_track("a", source)
    options = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
    await pub.local_participant.publish_track(track, options)
    pending: list[np.ndarray] = []

    async def pump() -> None:  # 10 ms every 10 ms: the burst, else silence
        silence = np.zeros(TEN_MS, dtype=np.int16)
        next_at = time.monotonic()
        while True:
            chunk = pending.pop(0) if pending else silence
            await source.capture_frame(rtc.AudioFrame(chunk.tobytes(), RATE_HZ, 1, TEN_MS))
            next_at += 0.01
            delay = next_at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -0.2:
                next_at = time.monotonic()

    if mode == "direct-pump":
        tasks.add(asyncio.ensure_future(pump()))
    await asyncio.sleep(2.0)
    tone = (8000 * np.sin(2 * np.pi * 440 * np.arange(RATE_HZ) / RATE_HZ)).astype(np.int16)
    results: list[float | None] = []
    try:
        for _ in range(bursts):
            t0 = time.monotonic()
            if mode == "direct-pump":
                pending.extend(tone[i : i + TEN_MS] for i in range(0, tone.size, TEN_MS))
                await asyncio.sleep(tone.size / RATE_HZ + 0.05)  # the pump plays it
            elif direct:
                next_at = t0
                for i in range(0, tone.size, TEN_MS):
                    chunk = tone[i : i + TEN_MS]
                    await source.capture_frame(rtc.AudioFrame(chunk.tobytes(), RATE_HZ, 1, TEN_MS))
                    next_at += 0.01
                    await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            else:
                step = RATE_HZ // 20
                for i in range(0, tone.size, step):
                    chunk = tone[i : i + step]
                    await source.capture_frame(rtc.AudioFrame(chunk.tobytes(), RATE_HZ, 1, step))
                await source.wait_for_playout()
            await asyncio.sleep(1.0)
            first = next((t for t, rms in arrivals if t >= t0 and rms > LOUD_RMS), None)
            results.append(None if first is None else round((first - t0) * 1000, 1))
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await pub.disconnect()
        await sub.disconnect()
        await source.aclose()
    return results


async def run(modes: list[str], bursts: int) -> None:
    log = Path(tempfile.mkdtemp(prefix="bench-source-queue-")) / "livekit-server.log"
    supervisor, server, sink = start_livekit_server(log)
    try:
        for mode in modes:
            print(f"{mode}: first loud frame ms per burst {await _one_mode(server, mode, bursts)}")
    finally:
        supervisor.stop()
        sink.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--bursts", type=int, default=8)
    parser.add_argument("--modes", default="200,100,50,direct,direct-pump")
    args = parser.parse_args()
    modes = [m for m in args.modes.split(",") if m]
    for mode in modes:
        if not (mode in ("direct", "direct-pump") or (mode.isdigit() and int(mode) % 10 == 0)):
            parser.error(f"bad mode {mode!r}")
    asyncio.run(run(modes, args.bursts))


if __name__ == "__main__":
    main()
