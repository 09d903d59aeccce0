"""e2e, browser route of the "Done when" check: a user's agent module
(``tests.agents.pizza_shop:build``: a greeting and one tool) runs in the real worker for
headless Chromium, unchanged from the SIP and Twilio tests.

Chromium joins through our page and web server; its microphone loops
[5 s silence][sentence][8 s silence] (the greeting plays in the silence). The test checks
what the factory saw (route ``webrtc``, the browser's identity and room), that the agent
spoke first, and that saying "order" made the agent call the user's tool and say its
result. It prints join -> first greeting audio at the page (polled every 50 ms).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
import wave
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page

from omnivoice_rtc.settings import LiveKitSettings, Settings, TokenSettings
from omnivoice_rtc.web import WebServer
from tests.agents import pizza_shop
from tests.conftest import require_binary
from tests.e2e.test_browser import page  # the Chromium fixture (uses this module's speech_wav)
from tests.plugins.agent_worker import AgentWorker
from tests.plugins.livekit_stack import LiveKitServer

__all__ = ["page"]

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

SENTENCE = "I would like to order a pizza"
LEAD_SILENCE_S = 5.0
TAIL_SILENCE_S = 8.0
WAIT_S = 150.0
"""Upper bound for the exchange (the speech loops every ~16 s on a shared 2-core box)."""
AUDIBLE_ENERGY = 1e-4
"""totalAudioEnergy above silence (silence stays below 1e-6)."""


@pytest.fixture(scope="module")
def speech_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    espeak = require_binary("espeak-ng")
    directory = tmp_path_factory.mktemp("user-agent-audio")
    raw = directory / "sentence.wav"
    subprocess.run(
        [espeak, "-v", "en-us", "-s", "140", "-w", str(raw), SENTENCE],
        check=True,
        capture_output=True,
    )
    with wave.open(str(raw), "rb") as source:
        rate, frames = source.getframerate(), source.readframes(source.getnframes())
    out = directory / "speech.wav"
    with wave.open(str(out), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(b"\0" * int(LEAD_SILENCE_S * rate * 2))
        wav.writeframes(frames)
        wav.writeframes(b"\0" * int(TAIL_SILENCE_S * rate * 2))
    return out


@pytest.fixture(scope="module")
def user_agent_worker(agent_worker_factory: Callable[..., AgentWorker]) -> AgentWorker:
    return agent_worker_factory(env={"OMNIVOICE_AGENT": "tests.agents.pizza_shop:build"})


@pytest.fixture
async def web_server(
    livekit_server: LiveKitServer, user_agent_worker: AgentWorker
) -> AsyncIterator[WebServer]:
    settings = Settings(
        livekit=LiveKitSettings(
            url=livekit_server.url,
            api_key=livekit_server.api_key,
            api_secret=livekit_server.api_secret,
        ),
        tokens=TokenSettings(agent_name=user_agent_worker.agent_name),
    )
    server = WebServer(settings=settings, host="127.0.0.1", port=0)
    await server.start()
    try:
        yield server
    finally:
        await server.aclose()


async def _state(page: Page) -> dict[str, Any]:
    state: dict[str, Any] = await page.evaluate(
        """async () => ({
            connection: omnivoice.connection,
            transcript: omnivoice.transcript(),
            events: omnivoice.events.map((e) => e.type),
            agentAudio: await omnivoice.agentAudioStats(),
        })"""
    )
    return state


def _agent_said(state: dict[str, Any], text: str) -> bool:
    return any(
        s["role"] == "agent" and s["final"] and s["text"].strip() == text
        for s in state["transcript"]
    )


async def test_a_users_agent_greets_a_browser_and_calls_its_tool(
    page: Page, web_server: WebServer, user_agent_worker: AgentWorker
) -> None:
    await asyncio.to_thread(user_agent_worker.wait_warm)  # a running worker, not a cold one
    await page.goto(f"{web_server.url}/")
    await page.click("#join")
    deadline = time.monotonic() + 60
    while await page.evaluate("window.omnivoice.connection") != "connected":
        assert time.monotonic() < deadline, "the page never connected"
        await asyncio.sleep(0.05)
    joined = time.monotonic()
    room = await page.evaluate("window.omnivoice.room")
    identity = await page.evaluate("window.omnivoice.identity")

    greeted: float | None = None
    deadline = joined + WAIT_S
    state = await _state(page)
    while time.monotonic() < deadline:
        audio = state["agentAudio"] or {}
        if greeted is None and audio.get("totalAudioEnergy", 0.0) > AUDIBLE_ENERGY:
            greeted = time.monotonic()
        if "tool_call" in state["events"] and _agent_said(state, pizza_shop.TOOL_RESULT):
            break
        await asyncio.sleep(0.05)
        state = await _state(page)
    context = f"state: {state}\nworker log:\n{user_agent_worker.log_text()[-3000:]}"
    assert greeted is not None, context
    print(
        f"greeting (webrtc, e2e): browser joined -> first greeting audio {greeted - joined:.3f} s"
    )

    # the agent spoke first; the looping caller may cut the greeting short
    first = state["transcript"][0]
    assert first["role"] == "agent", context
    assert first["text"], context
    assert pizza_shop.GREETING.startswith(first["text"]), context
    assert "tool_call" in state["events"], context
    assert _agent_said(state, pizza_shop.TOOL_RESULT), context

    seen = json.loads(pizza_shop.report_path(room).read_text(encoding="utf-8"))
    assert seen["route"] == "webrtc"
    assert seen["direction"] == "inbound"
    assert seen["participant_identity"] == identity
    assert seen["room"] == room
    assert (seen["caller"], seen["callee"], seen["carrier_call_id"]) == ("", "", "")
    await page.click("#leave")
