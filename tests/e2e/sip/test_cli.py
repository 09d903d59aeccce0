"""The CLI on the SIP route: ``omnivoice-rtc simulate sip`` sends a real INVITE and RTP to
livekit-sip (the dispatch rule brings the real agent), and ``omnivoice-rtc call --via sip``
dials a SIPp callee through the outbound trunk: answered, busy."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from livekit import api

from omnivoice_rtc.cli import main
from omnivoice_rtc.simulate.speech import read_wav
from omnivoice_rtc.stack import free_port
from tests.conftest import require_binary
from tests.e2e.sip.helpers import provision
from tests.e2e.sip.sipp import start_sipp
from tests.plugins.agent_worker import AgentWorker
from tests.plugins.sip_stack import SIPStack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

CALLEE = "+15550100777"


def _env(monkeypatch: pytest.MonkeyPatch, stack: SIPStack, worker: AgentWorker) -> None:
    monkeypatch.setenv("LIVEKIT_URL", stack.livekit.url)
    monkeypatch.setenv("LIVEKIT_API_KEY", stack.livekit.api_key)
    monkeypatch.setenv("LIVEKIT_API_SECRET", stack.livekit.api_secret)
    monkeypatch.setenv("OMNIVOICE_AGENT_NAME", worker.agent_name)
    monkeypatch.setenv("OMNIVOICE_OUTBOUND_ALLOW", "+1555")  # the outbound guard fails closed


async def test_simulate_sip_places_a_real_call_and_reports_it(
    sip_api: api.LiveKitAPI,
    sip_stack: SIPStack,
    sip_agent_worker: AgentWorker,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    require_binary("espeak-ng")
    await provision(sip_api, tmp_path, agent_name=sip_agent_worker.agent_name)
    _env(monkeypatch, sip_stack, sip_agent_worker)
    out = tmp_path / "reply.wav"
    argv = [
        "simulate", "sip", "--sip-host", sip_stack.sip_host, "--sip-port", str(sip_stack.sip_port),
        "--dtmf", "42", "--out", str(out),
    ]  # fmt: skip
    status = await asyncio.to_thread(main, argv)
    printed = capsys.readouterr().out
    print(printed)
    assert "route:          sip" in printed
    assert "call:           answered" in printed
    assert "agent:          joined" in printed
    assert "  agent: " in printed
    assert "reply latency:  no answer" not in printed
    assert "dtmf:           sent 42, agent got 42" in printed
    assert status == 0, printed
    pcm, rate = read_wav(out)
    assert rate == 8000
    assert len(pcm) / 2 / rate > 0.5


@pytest.mark.parametrize(
    ("scenario", "replace", "status", "line"),
    [
        ("uas_answer.xml", None, 0, "answered: +15550100777 via sip"),
        (
            "uas_reject.xml",
            {"STATUS_LINE": "486 Busy Here"},
            3,
            "busy: +15550100777 via sip (SIP 486",
        ),
    ],
    ids=["answered", "busy"],
)
async def test_call_via_sip_prints_the_outcome_and_exits_by_it(
    sip_api: api.LiveKitAPI,
    sip_stack: SIPStack,
    sip_agent_worker: AgentWorker,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    scenario: str,
    replace: dict[str, str] | None,
    status: int,
    line: str,
) -> None:
    port = free_port(protocol="udp")
    await provision(
        sip_api,
        tmp_path,
        agent_name=sip_agent_worker.agent_name,
        outbound_address=f"127.0.0.1:{port}",
    )
    rtp_port = free_port(protocol="udp")
    sipp = await start_sipp(
        binary=require_binary("sipp"),
        scenario=scenario,
        port=port,
        log_dir=tmp_path,
        keys={"rtp_port": str(rtp_port)},
        replace=replace,
    )
    _env(monkeypatch, sip_stack, sip_agent_worker)
    try:
        code = await asyncio.to_thread(
            main, ["call", CALLEE, "--via", "sip", "--ring-timeout-s", "20"]
        )
        captured = capsys.readouterr()
        assert line in captured.out, captured.err
        assert code == status
    finally:
        await sipp.kill()
