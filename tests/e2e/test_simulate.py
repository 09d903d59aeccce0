"""``omnivoice-rtc simulate <carrier>`` against the test stack: the real command (its
settings from the environment, as a user runs it) places a signed carrier call into a web
server serving every carrier behind a public URL, the real agent worker answers in a real
room, and the command prints the transcript, reply latency, barge-in and DTMF results and
saves the agent's audio.

The five carriers' calls are real-time (~30 s each: the greeting, a question, a barge-in, a
DTMF key), so they run two at a time, each command its own process, as users would run it;
each carrier's test then checks its own command's output. (Five at once overload the local
pipeline's Whisper on a 2-core machine: replies then come 7-20 s late.)"""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from omnivoice_rtc.carriers.registry import carrier_names
from omnivoice_rtc.cli import main
from omnivoice_rtc.settings import Settings
from omnivoice_rtc.shim.install import gateways_from_settings
from omnivoice_rtc.shim.routes import carrier_route_installer
from omnivoice_rtc.simulate.carrier_call import new_telnyx_key
from omnivoice_rtc.simulate.speech import read_wav
from omnivoice_rtc.web import create_app
from tests.conftest import require_binary
from tests.fakes.local_site import serve_on_free_port
from tests.plugins.agent_worker import AgentWorker
from tests.plugins.livekit_stack import LiveKitServer

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

PUBLIC_URL = "https://public.example"


@dataclass
class Stack:
    server_url: str
    env: dict[str, str]
    telnyx_key: Path


@pytest.fixture(scope="module")
async def stack(
    livekit_server: LiveKitServer,
    agent_worker: AgentWorker,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Stack]:
    """The web server as `omnivoice-rtc dev` runs it (carrier gateways built from the
    environment), reached locally while it believes it is at PUBLIC_URL."""
    key_file = tmp_path_factory.mktemp("telnyx") / "telnyx.pem"
    env = {
        "LIVEKIT_URL": livekit_server.url,
        "LIVEKIT_API_KEY": livekit_server.api_key,
        "LIVEKIT_API_SECRET": livekit_server.api_secret,
        "OMNIVOICE_AGENT_NAME": agent_worker.agent_name,
        "OMNIVOICE_PUBLIC_URL": PUBLIC_URL,
        "OMNIVOICE_SHIM_MEDIA": "rtc",
        "TWILIO_AUTH_TOKEN": secrets.token_hex(16),
        "TELNYX_PUBLIC_KEY": new_telnyx_key(key_file),
        "VONAGE_SIGNATURE_SECRET": secrets.token_hex(16),
        "VONAGE_API_KEY": "simkey",
        "PLIVO_AUTH_TOKEN": secrets.token_hex(16),
        "EXOTEL_STREAM_USER": "exotel-sim",
        "EXOTEL_STREAM_PASSWORD": secrets.token_hex(16),
    }
    settings = Settings.from_env(env)
    gateways = gateways_from_settings(settings)
    assert sorted(g.carrier for g in gateways) == sorted(carrier_names())
    app = create_app(settings, route_installers=[carrier_route_installer(gateways)])
    runner, port = await serve_on_free_port(app)
    try:
        yield Stack(server_url=f"http://127.0.0.1:{port}", env=env, telnyx_key=key_file)
    finally:
        await runner.cleanup()


_AT_ONCE = 2


@dataclass
class SimulateRun:
    """One ``omnivoice-rtc simulate <carrier>`` process: its exit status, what it printed
    (stdout, then stderr) and where it saved the agent's audio."""

    status: int | None
    printed: str
    out: Path


async def _simulate(carrier: str, stack: Stack, out: Path) -> SimulateRun:
    argv = ["simulate", carrier, "--server", stack.server_url, "--dtmf", "5", "--out", str(out)]
    if carrier == "telnyx":
        argv += ["--telnyx-key", str(stack.telnyx_key)]
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "omnivoice_rtc.cli",
        *argv,
        env={**os.environ, **stack.env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), 180)
    except TimeoutError:
        process.kill()
        stdout, stderr = await process.communicate()
    printed = (
        stdout.decode(errors="replace") + "\n--- stderr ---\n" + stderr.decode(errors="replace")
    )
    return SimulateRun(status=process.returncode, printed=printed, out=out)


@pytest.fixture(scope="module")
async def simulate_runs(
    stack: Stack, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, SimulateRun]:
    """Every carrier's ``simulate`` command against the one stack, ``_AT_ONCE`` at a time."""
    require_binary("espeak-ng")
    folder = tmp_path_factory.mktemp("simulate")
    carriers = carrier_names()
    slots = asyncio.Semaphore(_AT_ONCE)

    async def run(carrier: str) -> SimulateRun:
        async with slots:
            return await _simulate(carrier, stack, folder / f"{carrier}-reply.wav")

    runs = await asyncio.gather(*(run(carrier) for carrier in carriers))
    return dict(zip(carriers, runs, strict=True))


@pytest.mark.parametrize("carrier", carrier_names())
async def test_simulate_reports_the_agents_answer_and_the_keys(
    carrier: str, simulate_runs: dict[str, SimulateRun]
) -> None:
    run = simulate_runs[carrier]
    printed = run.printed
    print(printed)
    assert f"route:          {carrier}" in printed
    assert "call:           answered" in printed
    assert "agent:          joined" in printed
    assert "  agent: " in printed  # the agent's answer, transcribed
    assert "reply latency:  " in printed
    assert "reply latency:  no answer" not in printed
    assert "dtmf:           sent 5, agent got 5" in printed
    assert "barge-in:       FAILED" not in printed
    assert run.status == 0, printed
    pcm, rate = read_wav(run.out)
    assert rate in (8000, 16000)
    assert len(pcm) / 2 / rate > 0.5  # the agent's reply was saved


async def test_a_refused_webhook_is_reported_with_its_status(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in stack.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "not-the-servers-token")
    status = await asyncio.to_thread(
        main, ["simulate", "twilio", "--server", stack.server_url, "--no-barge-in"]
    )
    printed = capsys.readouterr().out
    assert "call:           refused (answer webhook got HTTP 403" in printed
    assert status == 3
