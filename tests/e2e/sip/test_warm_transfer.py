"""Warm transfer on the SIP route end to end: SIPp calls livekit-sip (the caller), the
real agent with ``warm_transfer_call`` (``tests.agents.warm_desk``) answers; the caller
asks for a warm transfer; the agent dials a second SIPp (the human) through the outbound
trunk into the caller's room.

Answered: the caller's RTP carries the hold chime and never the briefing while the
human's RTP carries the briefing; then the human's audio (a steady tone) reaches the
caller and the agent has left the room. Not answered (486 Busy Here): the transfer
target is gone, the agent is still there and the caller hears it speak again. The
operator CLI's ``calls warm-transfer`` asks the same agent for the same transfer."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import numpy as np
import pytest
from livekit import api

from omnivoice_rtc.audio.g711 import ulaw_encode
from omnivoice_rtc.calls.hold_audio import NOTES_HZ
from omnivoice_rtc.calls.live_calls import active_calls
from omnivoice_rtc.calls.warm_transfer import is_transfer_target
from omnivoice_rtc.cli import main
from omnivoice_rtc.stack import free_port
from tests.conftest import require_binary
from tests.e2e.hold_audio_checks import chime_windows, heard_hold_chime
from tests.e2e.sip.helpers import CALLER, DID, ROOM_PREFIX, provision, wait_for
from tests.e2e.sip.rtp_peer import RtpPeer, espeak_ulaw
from tests.e2e.sip.sipp import Sipp, start_sipp
from tests.plugins.agent_worker import AgentWorker, start_agent_worker
from tests.plugins.sip_stack import SIPStack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(420)]

SENTENCE = "Warm transfer my phone call to support please"
HUMAN_TONE_HZ = 1800.0
"""What the human's phone sends: a steady tone no hold chime note or voice resembles."""
_PACKET_BYTES = 320  # one 20 ms PCMU packet decoded to PCM16 at 8000 Hz


def _tone_ulaw(seconds: float) -> bytes:
    t = np.arange(int(8000 * seconds)) / 8000
    pcm = (6000 * np.sin(2 * np.pi * HUMAN_TONE_HZ * t)).astype(np.int16)
    return ulaw_encode(pcm.tobytes())


def _dominant_hz(window: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(window * np.hanning(window.size), n=8000))
    return float(np.argmax(spectrum))


def _foreign_windows(pcm: bytes, allowed_hz: tuple[float, ...]) -> int:
    """Loud 100 ms windows (RMS >= 200) whose loudest frequency is none of ``allowed_hz``
    (within 15 Hz): speech, not a tone we expect."""
    samples = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype=np.int16).astype(np.float64)
    count = 0
    for start in range(0, samples.size - 800, 800):
        window = samples[start : start + 800]
        if np.sqrt(np.mean(window**2)) < 200:
            continue
        if all(abs(_dominant_hz(window) - f) > 15 for f in allowed_hz):
            count += 1
    return count


async def _participants(
    sip_api: api.LiveKitAPI, earlier: set[str]
) -> list[api.ParticipantInfo] | None:
    """Who is in this test's call room (the one room of the call not in ``earlier``)."""
    rooms = [
        r.name
        for r in (await sip_api.room.list_rooms(api.ListRoomsRequest())).rooms
        if r.name.startswith(ROOM_PREFIX) and r.name not in earlier
    ]
    if len(rooms) != 1:
        return None
    listed = await sip_api.room.list_participants(api.ListParticipantsRequest(room=rooms[0]))
    return list(listed.participants)


async def _room_names(sip_api: api.LiveKitAPI) -> set[str]:
    return {r.name for r in (await sip_api.room.list_rooms(api.ListRoomsRequest())).rooms}


async def _call_in(
    sip_api: api.LiveKitAPI,
    sip_stack: SIPStack,
    tmp_path: Path,
    *,
    human_scenario: str,
    human_keys: dict[str, str] | None = None,
    human_replace: dict[str, str] | None = None,
) -> tuple[AgentWorker, Sipp, Sipp, RtpPeer]:
    worker = await asyncio.to_thread(
        start_agent_worker,
        sip_stack.livekit,
        log_dir=tmp_path,
        env={"OMNIVOICE_AGENT": "tests.agents.warm_desk:build"},
    )
    human_port = free_port(protocol="udp")
    await provision(
        sip_api, tmp_path, agent_name=worker.agent_name, outbound_address=f"127.0.0.1:{human_port}"
    )
    human = await start_sipp(
        binary=require_binary("sipp"),
        scenario=human_scenario,
        port=human_port,
        log_dir=tmp_path,
        keys=human_keys,
        replace=human_replace,
        timeout_s=300,
    )
    rtp = await RtpPeer.open()
    caller = await start_sipp(
        binary=require_binary("sipp"),
        scenario="uac_call.xml",
        remote=sip_stack.sip_address,
        service=DID,
        port=free_port(protocol="udp"),
        log_dir=tmp_path,
        keys={"caller": CALLER, "rtp_port": str(rtp.port)},
        timeout_s=300,
    )
    return worker, caller, human, rtp


async def _agent_back_and_target_gone(sip_api: api.LiveKitAPI, earlier: set[str]) -> None:
    """Not answered: the agent is still in the call's room and the transfer target is not."""
    listed = await _participants(sip_api, earlier)
    assert listed is not None
    assert api.ParticipantInfo.Kind.AGENT in [p.kind for p in listed]
    assert not any(is_transfer_target(dict(p.attributes)) for p in listed)


async def _ask_for_the_transfer(rtp: RtpPeer, sipp_human: Sipp) -> int:
    """Wait for the greeting to end, say SENTENCE until the human's SIPp got an INVITE;
    returns the index of the caller's first packet after the request."""

    async def greeted() -> bool | None:  # asking over the greeting is cut short
        loud = [r.at for r in rtp.received if r.rms > 300]
        return True if loud and time.monotonic() - loud[-1] > 1.0 else None

    await wait_for(greeted, timeout_s=90, what="the greeting to end")
    speech = espeak_ulaw(SENTENCE)
    marker = len(rtp.received)

    async def dialled() -> bool | None:
        return True if "INVITE" in sipp_human.received_requests() else None

    for _ in range(3):
        rtp.play(speech)
        try:
            await wait_for(dialled, timeout_s=45, what="the human's INVITE")
            break
        except AssertionError:
            continue
    else:
        raise AssertionError("the agent never dialled the human")
    return marker


@pytest.mark.xfail(
    strict=False,
    reason=(
        "known flaky in the full parallel suite (passes alone): once the agent was still "
        "listed 60 s after the connect; under investigation"
    ),
)
async def test_warm_transfer_answered_briefs_the_human_then_connects_and_leaves(
    sip_api: api.LiveKitAPI, sip_stack: SIPStack, tmp_path: Path
) -> None:
    require_binary("espeak-ng")
    earlier = await _room_names(sip_api)  # an earlier test's room may linger
    human_rtp = await RtpPeer.open()
    worker, caller, human, rtp = await _call_in(
        sip_api,
        sip_stack,
        tmp_path,
        human_scenario="uas_answer.xml",
        human_keys={"rtp_port": str(human_rtp.port)},
    )
    try:
        rtp.start(await caller.remote_media(timeout_s=60))
        marker = await _ask_for_the_transfer(rtp, human)
        human_rtp.start(await human.remote_media(timeout_s=60))

        async def briefed() -> float | None:  # the briefing played, then stopped 1 s ago
            loud = [r.at for r in human_rtp.received if r.rms > 300]
            if len(loud) >= 25 and time.monotonic() - loud[-1] > 1.0:
                return loud[-1]
            return None

        await wait_for(briefed, timeout_s=120, what="the briefing at the human")
        human_rtp.play(_tone_ulaw(60.0))  # the human talks from now on
        start = len(rtp.received)

        async def connected() -> bool | None:
            heard = bytes(rtp.received_pcm[start * _PACKET_BYTES :])
            return True if chime_windows(heard, HUMAN_TONE_HZ, rate_hz=8000) >= 5 else None

        await wait_for(connected, timeout_s=60, what="the human's tone at the caller")

        # the consult: from the request to the connect the caller heard the chime and no
        # speech (the briefing went to the human only)
        consult = bytes(rtp.received_pcm[marker * _PACKET_BYTES : start * _PACKET_BYTES])
        assert heard_hold_chime(consult, rate_hz=8000)
        held = _held_part(consult)
        assert _foreign_windows(held, tuple(NOTES_HZ)) <= 2, "the caller heard speech on hold"

        async def agent_gone() -> bool | None:
            listed = await _participants(sip_api, earlier)
            if listed is None:
                return None
            kinds = [p.kind for p in listed]
            if api.ParticipantInfo.Kind.AGENT in kinds:
                return None
            assert sum(1 for p in listed if is_transfer_target(dict(p.attributes))) == 1
            assert len(listed) == 2  # the caller and the human, nobody else
            return True

        await wait_for(agent_gone, timeout_s=120, what="the agent to leave the call")
    finally:
        await caller.kill()
        await human.kill()
        await rtp.aclose()
        await human_rtp.aclose()
        await asyncio.to_thread(worker.stop)


def _held_part(pcm: bytes) -> bytes:
    """``pcm`` from the first hold chime window on (the agent's own reply before the
    hold is not the consult)."""
    samples = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype=np.int16).astype(np.float64)
    for start in range(0, samples.size - 800, 400):
        window = samples[start : start + 800]
        if np.sqrt(np.mean(window**2)) < 200:
            continue
        if any(abs(_dominant_hz(window) - f) <= 15 for f in NOTES_HZ):
            return pcm[start * 2 :]
    return b""


async def test_warm_transfer_not_answered_brings_the_agent_back(
    sip_api: api.LiveKitAPI, sip_stack: SIPStack, tmp_path: Path
) -> None:
    require_binary("espeak-ng")
    earlier = await _room_names(sip_api)  # an earlier test's room may linger
    worker, caller, human, rtp = await _call_in(
        sip_api,
        sip_stack,
        tmp_path,
        human_scenario="uas_reject.xml",
        human_replace={"STATUS_LINE": "486 Busy Here"},
    )
    try:
        rtp.start(await caller.remote_media(timeout_s=60))
        await _ask_for_the_transfer(rtp, human)
        assert await human.wait(timeout_s=60) == 0, human.messages("received")
        rejected_at = len(rtp.received)

        async def agent_speaks() -> bool | None:  # the unavailable line: speech, no chime
            heard = bytes(rtp.received_pcm[rejected_at * _PACKET_BYTES :])
            return True if _foreign_windows(heard, tuple(NOTES_HZ)) >= 10 else None

        await wait_for(agent_speaks, timeout_s=90, what="the agent back with the caller")
        await _agent_back_and_target_gone(sip_api, earlier)
    finally:
        await caller.kill()
        await human.kill()
        await rtp.aclose()
        await asyncio.to_thread(worker.stop)


async def test_the_operator_cli_asks_the_agent_for_a_warm_transfer(
    sip_api: api.LiveKitAPI,
    sip_stack: SIPStack,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``omnivoice-rtc calls warm-transfer CALL --summary ...``: the CLI sends the
    ``warm_transfer`` command, the agent (its factory built the warm-transfer options)
    dials the human through the outbound trunk; the human is busy (486), so the agent
    answers ``unanswered``, the CLI says so and exits 1, and the agent is back with the
    caller (the transfer target is gone)."""
    earlier = await _room_names(sip_api)
    worker, caller, human, rtp = await _call_in(
        sip_api,
        sip_stack,
        tmp_path,
        human_scenario="uas_reject.xml",
        human_replace={"STATUS_LINE": "486 Busy Here"},
    )
    for name, value in (
        ("LIVEKIT_URL", sip_stack.livekit.url),
        ("LIVEKIT_API_KEY", sip_stack.livekit.api_key),
        ("LIVEKIT_API_SECRET", sip_stack.livekit.api_secret),
    ):
        monkeypatch.setenv(name, value)
    try:
        rtp.start(await caller.remote_media(timeout_s=60))

        async def served() -> str | None:  # the agent's session for the caller runs
            listed = await _participants(sip_api, earlier)
            states = [
                p.attributes.get("lk.agent.state", "")
                for p in listed or []
                if p.kind == api.ParticipantInfo.Kind.AGENT
            ]
            if not any(state in ("listening", "speaking", "thinking") for state in states):
                return None
            calls = [c for c in await active_calls(sip_api) if c.room not in earlier]
            return calls[0].id if len(calls) == 1 else None  # an earlier test's may linger

        call_id = await wait_for(served, timeout_s=60, what="the call's agent")
        capsys.readouterr()
        argv = ["calls", "warm-transfer", call_id, "+15550100", "--summary", "Refund, VIP"]
        assert await asyncio.to_thread(main, argv) == 1
        err = capsys.readouterr().err
        assert "not answered; the agent is back with the caller" in err, err
        assert "INVITE" in human.received_requests()
        assert await human.wait(timeout_s=60) == 0, human.messages("received")
        await _agent_back_and_target_gone(sip_api, earlier)
    finally:
        await caller.kill()
        await human.kill()
        await rtp.aclose()
        await asyncio.to_thread(worker.stop)
