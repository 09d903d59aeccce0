"""Turn latency per route: ours vs bare livekit-agents vs pipecat, same fakes and speech.

    python -m bench.latency [--turns 20] [--barge-ins N] [--routes webrtc,twilio,sip]
                            [--json] [--write LABEL]

One run, the same zero-latency fakes (bench/pipeline.py: an STT that answers at once, the
rules responder, a TTS that returns pre-rendered espeak-ng speech at once, silero VAD
deciding the end of the turn) and the same user sentence for every row. Per route and peer:

    overhead = (first non-silent agent audio at the caller
                - the instant the caller sent the last voiced sample of its sentence)
               - endpointing (max(VAD min silence, min endpointing delay) = 400 ms)

p50/p95 in ms. Rows with no such route for a peer are ``null`` and the reason is printed.

No clipped words: every reply is aligned with the pre-rendered reply by cross-correlation
of the whole reply; its first 50 ms of speech must then be found within 20 ms of that
alignment with a normalized correlation >= 0.6 ("head ok": turns whose first 50 ms
arrived / turns). It detects a head missing by more than about 20 ms. The Twilio and SIP
rows are checked at 8000 Hz against the reply band-limited the same way (resampled to 8 kHz
and through μ-law: bench/latency_twilio_caller.py ``telephone_band``).

Routes measured here (rows in bench/latency_rows.py):

* ``webrtc``: a real rtc participant in a room of a local livekit-server; ours is
  :class:`~omnivoice_rtc.agent.livekit_gateway.LiveKitGateway`'s session, bare is a plain
  ``AgentSession``.
* ``twilio``: a simulated Twilio caller (bench/latency_twilio_caller.py: Twilio Media
  Streams over a real WebSocket, 20 ms μ-law frames in real time, the agent's audio taken
  as Twilio plays it). Ours (bench/latency_twilio.py): the caller -> our shim -> the
  call's room -> LiveKitGateway's session and back, so mouth-to-ear includes the shim, the
  room and back. pipecat (bench/latency_pipecat.py): pipecat's Twilio WebSocket pipeline
  with equivalent fakes and the same 400 ms endpointing.
* ``sip``: a SIP phone (bench/latency_sip_caller.py: the project's SIP user agent and RTP
  peer, 20 ms PCMU packets in real time, the agent's RTP taken as it arrives) -> the local
  livekit-sip -> a direct dispatch rule per called number -> the row's room -> the agent and
  back (bench/latency_sip.py). Ours is LiveKitGateway's session, bare a plain
  ``AgentSession``. Checked at 8000 Hz through μ-law as the Twilio rows. With ``sip`` the
  bench's livekit-server is the SIP stack's (with redis, tests/plugins/sip_stack.py) for
  every route.

See docs/benchmarks.md "Turn latency per route" for the peers not measured (their
``--json`` entries are ``null``, the reason printed).

``--barge-ins N``: per row, N times the user talks over a 5 s reply 0.6 s into it (the
time until the agent's audio stops at the caller) and N times says a short "mm hm" there
(the share of the reply still heard). ``--write LABEL`` appends the run to the section in
docs/benchmarks.md under ``### LABEL`` (runs are kept: before/after).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import shlex
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from bench.doc_runs import append_run
from bench.latency_pipecat import twilio_pipecat_row
from bench.latency_rows import CallerClient, RecordingClient, Row, head_arrived
from bench.latency_sip import sip_rows
from bench.latency_twilio import twilio_ours_row
from bench.latency_twilio_caller import TwilioCaller, playout_gap_lines
from bench.pipeline import (
    ENDPOINTING_MS,
    USER_SENTENCE,
    BareAgent,
    _agent_pcm,
    _pct,
    _trailing_silence_s,
    make_parts,
)
from omnivoice_rtc.agent.livekit_gateway import LiveKitGateway
from omnivoice_rtc.stack import Supervisor
from omnivoice_rtc.types import LiveKitCredentials, WebRTCConfig
from tests.integration.agent.voice_client import espeak_pcm, participant_token
from tests.plugins.livekit_stack import LiveKitServer, start_livekit_server
from tests.plugins.sip_stack import SIPStack, start_sip_stack

__all__ = ["NOT_MEASURED", "RecordingClient", "Row", "head_arrived", "reasons", "run", "summary"]

SECTION = "## Turn latency per route"
ROUTES = ("webrtc", "twilio", "sip")
PEERS = ("ours", "bare", "pipecat")
BARGE_IN_AFTER_S = 0.6  # into the agent's reply, the user talks over it
LONG_REPLY = (
    "You said hello there. I will keep talking for a little while, "
    "so that you can interrupt me whenever you like."
)
SILENCE_RMS = 100.0  # int16 units; a 10 ms frame above it is agent speech

NOT_MEASURED: dict[tuple[str, str], str] = {
    ("webrtc", "pipecat"): "pipecat's peer here is its Twilio WebSocket pipeline; it has no "
    "LiveKit/WebRTC row in this bench",
    ("twilio", "bare"): "bare livekit-agents has no carrier media-stream route",
    ("sip", "pipecat"): "pipecat's Twilio WebSocket pipeline has no SIP route",
}


async def _turn(row: Row, sentence: np.ndarray, reply: np.ndarray, *, count: bool) -> None:
    client = row.client
    end = await client.say(sentence) - _trailing_silence_s(sentence)
    deadline = time.monotonic() + 15
    first: float | None = None
    while time.monotonic() < deadline:
        first = client.first_agent_audio_after(end)
        if first is not None:
            break
        await asyncio.sleep(0.005)
    while time.monotonic() < deadline:  # the reply ends, then a short pause
        last = client.last_agent_audio()
        if last is not None and last > end and time.monotonic() - last > 0.5:
            break
        await asyncio.sleep(0.05)
    if not count or first is None:
        row.marks.clear()
        return
    row.samples_ms.append((first - end) * 1000)
    for stage, at in row.marks:
        if at >= end - 0.2 and stage not in ("user speaking", "agent listening"):
            row.stages.setdefault(stage, []).append((at - end) * 1000)
    row.marks.clear()
    row.heads += 1
    if row.head_ok(reply, client.audio_between(end, time.monotonic())):
        row.heads_ok += 1


def _leading_silence_s(pcm: np.ndarray, *, threshold: int = 300) -> float:
    loud = np.flatnonzero(np.abs(pcm.astype(np.int32)) > threshold)
    return 0.0 if loud.size == 0 else float(loud[0]) / 48000


def _voiced_s(client: CallerClient, start: float, end: float) -> float:
    return sum(
        f.duration_s
        for f in client.agent_audio
        if start <= f.received_at <= end and f.rms > SILENCE_RMS
    )


async def _wait_quiet(client: CallerClient, *, quiet_s: float, limit_s: float) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        last = client.last_agent_audio()
        if last is None or time.monotonic() - last > quiet_s:
            return
        await asyncio.sleep(0.05)


async def _talk_over(
    row: Row, sentence: np.ndarray, over: np.ndarray, reply_s: float, *, cough: bool
) -> None:
    """The user speaks; ``BARGE_IN_AFTER_S`` into the agent's reply the user says
    ``over`` (a sentence: barge-in; a short "mm-hm": a cough-like backchannel)."""
    client = row.client
    end = await client.say(sentence) - _trailing_silence_s(sentence)
    deadline = time.monotonic() + 10
    first = None
    while first is None and time.monotonic() < deadline:
        first = client.first_agent_audio_after(end)
        await asyncio.sleep(0.005)
    if first is None:
        return
    await asyncio.sleep(max(0.0, first + BARGE_IN_AFTER_S - time.monotonic()))
    start = time.monotonic() + 0.01 + _leading_silence_s(over)  # next mic tick, then voice
    await client.say(over, wait=False)
    if cough:
        await asyncio.sleep(reply_s + 1.5)
        heard = _voiced_s(client, first, first + reply_s + 1.5)
        row.cough_completed.append(heard / reply_s)
    else:
        # the agent stopped at the last voiced frame before a gap of 300 ms
        await asyncio.sleep(3.0)
        frames = [f.received_at for f in client.agent_audio if f.received_at >= start]
        voiced = [
            f.received_at
            for f in client.agent_audio
            if f.received_at >= start and f.rms > SILENCE_RMS
        ]
        stop = start
        for at in voiced:
            if at - stop > 0.3 and stop > start:
                break
            stop = at
        if frames:
            row.barge_in_ms.append(max(0.0, stop - start) * 1000)
    await _wait_quiet(client, quiet_s=1.0, limit_s=15)


async def _webrtc_rows(
    server: LiveKitServer, build: Callable[[], Any]
) -> tuple[list[Row], list[Any]]:
    ours_room, bare_room = f"lat-ours-{secrets.token_hex(3)}", f"lat-bare-{secrets.token_hex(3)}"
    gateway = LiveKitGateway(
        config=WebRTCConfig(
            livekit=LiveKitCredentials(
                server_url=server.url, api_key=server.api_key, api_secret=server.api_secret
            )
        ),
        parts_factory=build,
        drain_timeout_s=1.0,
    )
    await gateway.join_room(ours_room)
    bare = BareAgent(server, bare_room, build())
    await bare.start()
    rows = []
    sessions = {"bare": bare.session}
    for peer, room in (("ours", ours_room), ("bare", bare_room)):
        client = RecordingClient(
            url=server.url,
            token=participant_token(
                server.api_key, server.api_secret, room=room, identity=f"user-{peer}"
            ),
        )
        await client.connect()
        rows.append(Row("webrtc", peer, client))
    for _ in range(100):  # our session starts once the participant joined
        if gateway.sessions():
            break
        await asyncio.sleep(0.05)
    sessions["ours"] = gateway.sessions()[0].agent_session
    for row in rows:
        row.watch(sessions[row.peer])
    return rows, [gateway, bare]


def _start_servers(
    routes: list[str],
) -> tuple[Supervisor, LiveKitServer, SIPStack | None, Callable[[], None]]:
    """livekit-server, with redis and livekit-sip when ``sip`` is measured (then the SIP
    stack's livekit-server serves every route); the last item closes the log."""
    log_dir = Path(tempfile.mkdtemp(prefix="bench-latency-"))
    if "sip" in routes:
        supervisor, stack, sip_sink = start_sip_stack(log_dir / "sip-stack.log")
        print(f"SIP stack log: {stack.log_file}", file=sys.stderr)
        return supervisor, stack.livekit, stack, sip_sink.close
    supervisor, server, sink = start_livekit_server(log_dir / "livekit-server.log")
    return supervisor, server, None, sink.close


async def run(turns: int, routes: list[str], *, barge_ins: int = 0) -> list[Row]:
    supervisor, server, stack, close_log = _start_servers(routes)
    agent_pcm = _agent_pcm() if not barge_ins else _long_reply_pcm()
    reply = np.frombuffer(agent_pcm, dtype=np.int16)
    build = make_parts(agent_pcm)
    sentence = espeak_pcm(USER_SENTENCE, wpm=170)
    rows: list[Row] = []
    owners: list[Any] = []
    try:
        if "webrtc" in routes:
            new_rows, new_owners = await _webrtc_rows(server, build)
            rows += new_rows
            owners += new_owners
        if "twilio" in routes:  # pipecat first: its imports and model load stall the loop
            pipecat, bot = await twilio_pipecat_row(agent_pcm)
            owners.append(bot)
            ours, shim_and_agent = await twilio_ours_row(server, build, reply)
            owners.append(shim_and_agent)
            rows += [ours, pipecat]
        if stack is not None:
            sip, agents = await sip_rows(stack, build, reply)
            rows += sip
            owners.append(agents)
        await asyncio.sleep(2.0)  # sessions linked, tracks subscribed
        for row in rows:  # warm-up turn (first inference, first negotiation), not counted
            await _turn(row, sentence, reply, count=False)
        for i in range(turns):
            for row in rows if i % 2 == 0 else rows[::-1]:  # alternate: drift hits all alike
                await _turn(row, sentence, reply, count=True)
            print(
                f"turn {i + 1}/{turns}: "
                + ", ".join(
                    f"{r.route}/{r.peer} {r.samples_ms[-1] - ENDPOINTING_MS:.0f} ms"
                    for r in rows
                    if r.samples_ms
                ),
                file=sys.stderr,
            )
        over = espeak_pcm("wait, wait, stop please, I have a question", wpm=170)
        mmhm = espeak_pcm("mm hm", wpm=220)
        reply_s = _voiced_reply_s(reply)
        for i in range(barge_ins):
            for row in rows if i % 2 == 0 else rows[::-1]:
                await _talk_over(row, sentence, over, reply_s, cough=False)
                await _talk_over(row, sentence, mmhm, reply_s, cough=True)
            print(
                f"barge-in {i + 1}/{barge_ins}: "
                + ", ".join(
                    f"{r.route}/{r.peer} stop {r.barge_in_ms[-1] if r.barge_in_ms else -1:.0f} ms "
                    f"mm-hm heard {r.cough_completed[-1] if r.cough_completed else -1:.2f}"
                    for r in rows
                ),
                file=sys.stderr,
            )
        return rows
    finally:
        for row in rows:
            await row.client.aclose()
        for owner in owners:
            await (owner.stop() if isinstance(owner, LiveKitGateway) else owner.aclose())
        supervisor.stop()
        close_log()


def _long_reply_pcm() -> bytes:
    pcm48 = espeak_pcm(LONG_REPLY, wpm=200)
    return pcm48[::2].astype(np.int16).tobytes()  # 48 -> 24 kHz (speech is band-limited)


def _voiced_reply_s(reply: np.ndarray) -> float:
    """Seconds of 10 ms frames of the reply (24 kHz) above the silence level."""
    frames = reply[: reply.size - reply.size % 240].reshape(-1, 240).astype(np.float64)
    rms = np.sqrt(np.mean(frames**2, axis=1))
    return float(np.count_nonzero(rms > SILENCE_RMS)) * 0.01


def summary(rows: list[Row], routes: list[str]) -> dict[str, dict[str, float | None]]:
    """``{route: {"ours_ms": p50 overhead, "bare_ms": …, "pipecat_ms": …}}`` (None: no row)."""
    out: dict[str, dict[str, float | None]] = {}
    for route in routes:
        entry: dict[str, float | None] = {f"{p}_ms": None for p in PEERS}
        for row in rows:
            if row.route == route and row.samples_ms:
                entry[f"{row.peer}_ms"] = round(_pct(row.samples_ms, 0.5) - ENDPOINTING_MS, 1)
        out[route] = entry
    return out


def reasons(rows: list[Row], routes: list[str]) -> list[str]:
    measured = {(r.route, r.peer) for r in rows}
    lines = []
    for route in routes:
        for peer in PEERS:
            if (route, peer) not in measured:
                why = NOT_MEASURED.get((route, peer), "not measured by this bench yet")
                lines.append(f"{route}/{peer}: null: {why}")
    return lines


def report(rows: list[Row], routes: list[str], *, command: str = "python -m bench.latency") -> str:
    """The run as markdown; ``command``: how it was run (printed first)."""
    table = []
    for row in rows:
        over = [v - ENDPOINTING_MS for v in row.samples_ms]
        if not over:
            continue
        table.append(
            f"| {row.route} | {row.peer} | {len(over)} | {_pct(over, 0.5):.0f} | "
            f"{_pct(over, 0.95):.0f} | {_pct(row.samples_ms, 0.5):.0f} | "
            f"{row.heads_ok}/{row.heads} |"
        )
    ratios = []
    for route in routes:
        by = {r.peer: r.samples_ms for r in rows if r.route == route and r.samples_ms}
        if "ours" in by and "bare" in by:
            o = _pct(by["ours"], 0.5) - ENDPOINTING_MS
            b = _pct(by["bare"], 0.5) - ENDPOINTING_MS
            ratios.append(f"{route}: overhead ours/bare p50 {o / b:.2f} ({o:.0f} vs {b:.0f} ms)")
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    turn_lines = (
        [
            "| route | peer | turns | overhead p50 ms | overhead p95 ms | e2e p50 ms | head ok |",
            "|---|---|---|---|---|---|---|",
            *table,
            "",
        ]
        if table
        else []
    )
    stage_lines = [
        f"- {row.route}/{row.peer}: "
        + ", ".join(
            f"{k} {_pct(v, 0.5):.0f}"
            for k, v in sorted(row.stages.items(), key=lambda kv: _pct(kv[1], 0.5))
        )
        + f", first audio at the caller {_pct(row.samples_ms, 0.5):.0f}"
        for row in rows
        if row.samples_ms
    ]
    return "\n".join(
        [
            f"`{command}` ({when}, {platform.machine()}, {os.cpu_count()} CPUs, "
            f"Python {platform.python_version()}, load average {load} at the end).",
            "",
            *turn_lines,
            *(f"- {line}" for line in ratios + reasons(rows, routes)),
            *_barge_in_lines(rows),
            *playout_gap_lines(
                [
                    (f"{r.route}/{r.peer}", r.client)
                    for r in rows
                    if isinstance(r.client, TwilioCaller)
                ]
            ),
            *(
                [
                    "",
                    "Where the time goes (p50 ms after the end of the user's speech, by the "
                    "agent's session state changes, same clock):",
                    "",
                    *stage_lines,
                ]
                if stage_lines
                else []
            ),
            "",
        ]
    )


def _barge_in_lines(rows: list[Row]) -> list[str]:
    measured = [r for r in rows if r.barge_in_ms or r.cough_completed]
    if not measured:
        return []
    lines = [
        "",
        f"Barge-in: the user talks over the reply {BARGE_IN_AFTER_S} s into it; from the first "
        "voiced sample of the interrupting speech to the last agent audio at the caller before "
        'a 300 ms gap. mm-hm: a short "mm hm" at the same point; the share of the reply\'s '
        "speech the caller still heard (1.0 = not cut).",
        "",
        "| route | peer | barge-ins | stop p50 ms | stop p95 ms | mm-hm trials | reply heard p50 |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in measured:
        stop = (
            f"{_pct(r.barge_in_ms, 0.5):.0f} | {_pct(r.barge_in_ms, 0.95):.0f}"
            if r.barge_in_ms
            else "- | -"
        )
        heard = f"{_pct(r.cough_completed, 0.5):.2f}" if r.cough_completed else "-"
        lines.append(
            f"| {r.route} | {r.peer} | {len(r.barge_in_ms)} | {stop} | "
            f"{len(r.cough_completed)} | {heard} |"
        )
    return lines


def write_run(text: str, label: str) -> None:
    """Append this run under ``### label`` in :data:`SECTION` (runs are kept: before/after)."""
    append_run(text, label, section=SECTION)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--turns", type=int, default=20, help="measured turns per row")
    parser.add_argument(
        "--routes",
        default=",".join(ROUTES),
        help=f"comma-separated, of {', '.join(ROUTES)}",
    )
    parser.add_argument(
        "--barge-ins",
        type=int,
        default=0,
        help="also N barge-in and N mm-hm trials per row (a 5 s reply for every turn)",
    )
    parser.add_argument("--json", action="store_true", help="print the p50 summary as JSON")
    parser.add_argument("--write", metavar="LABEL", help="append the run to docs/benchmarks.md")
    args = parser.parse_args()
    routes = [r for r in args.routes.split(",") if r]
    unknown = set(routes) - set(ROUTES)
    if unknown:
        parser.error(f"unknown routes: {sorted(unknown)}")
    rows = asyncio.run(run(args.turns, routes, barge_ins=args.barge_ins))
    for line in reasons(rows, routes):
        print(line, file=sys.stderr)
    text = report(rows, routes, command="python -m bench.latency " + shlex.join(sys.argv[1:]))
    if args.json:
        print(json.dumps(summary(rows, routes)))
    else:
        print(text)
    if args.write:
        write_run(text, args.write)


if __name__ == "__main__":
    main()
