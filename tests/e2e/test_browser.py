"""e2e: headless Chromium joins the page, speaks a WAV, and the real agent answers.

Real peers only: Debian's chromium (driven by Playwright for Python through
``executable_path``; Playwright cannot download its own browser here) with an
espeak-ng WAV as its fake microphone, our web server in-process, the session's
real livekit-server (``livekit_server``) and the real agent worker with the keyless
local pipeline (``browser_worker``: the default agent, with a call ledger of its own).

The WAV is [2 s silence][sentence][8 s silence] and Chromium loops it, so the agent
hears the sentence again every ~12 s whenever it joined; the test waits (bounded)
until the page's transcript shows the user's words, the agent's answer, the agent's
states and non-silent agent audio, then leaves and checks the room is left.
A screenshot is kept in ``test-artifacts/browser-e2e.png``.

Every call accounted for: after the visitor left (the caller ends the call),
``omnivoice-rtc calls list --json`` shows the call's record (browser route, end reason,
both sides of the transcript, non-zero latencies), the /calls page shows it with its
latency chart, and a webhook receiver gets ``call.started`` and ``call.ended`` once each,
signed, delivered after the web server was restarted with both in flight.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
import wave
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from livekit import api
from playwright.async_api import Page, async_playwright

from omnivoice_rtc.ledger.keys import call_key
from omnivoice_rtc.settings import (
    LedgerSettings,
    LiveKitSettings,
    Settings,
    TokenSettings,
    WebhookSettings,
)
from omnivoice_rtc.web import WebServer
from tests.conftest import ROOT, require_binary
from tests.e2e.ledger_checks import assert_complete, cli_records, wait_for_record
from tests.integration.webhooks.receiver import WebhookReceiver
from tests.plugins.agent_worker import AgentWorker
from tests.plugins.livekit_stack import LiveKitServer

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

SENTENCE = "Please tell me the weather today."
KEY_WORDS = ("weather", "today")
"""The user's turn counts as heard when its transcript contains one of these words."""
LEAD_SILENCE_S = 2.0
TAIL_SILENCE_S = 8.0
WAIT_FOR_TURN_S = 150.0
"""Upper bound for the whole exchange (the CPU is shared with the agent's STT/TTS)."""
MIN_AGENT_AUDIO_ENERGY = 0.01
"""WebRTC totalAudioEnergy (sum of level² × seconds) of the agent's track; silence
stays below 1e-6, a spoken answer is well above 0.05."""
REDISPATCH_AFTER_S = 30.0
"""Dispatch the agent again if it has not joined this long after the last dispatch."""
ARTIFACTS = ROOT / "test-artifacts"

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # Without these Chromium's own background connections are refused here and stall it.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
)


@pytest.fixture(scope="module")
def speech_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """espeak-ng's 16-bit mono WAV of :data:`SENTENCE`, padded with silence."""
    espeak = require_binary("espeak-ng")
    directory = tmp_path_factory.mktemp("browser-audio")
    raw_path = directory / "sentence.wav"
    subprocess.run(
        [espeak, "-v", "en-us", "-s", "150", "-w", str(raw_path), SENTENCE],
        check=True,
        capture_output=True,
    )
    with wave.open(str(raw_path), "rb") as source:
        params = source.getparams()
        frames = source.readframes(source.getnframes())
    assert params.nchannels == 1
    assert params.sampwidth == 2
    bytes_per_second = params.framerate * params.sampwidth
    out_path = directory / "speech.wav"
    with wave.open(str(out_path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(params.framerate)
        out.writeframes(b"\0" * int(LEAD_SILENCE_S * bytes_per_second))
        out.writeframes(frames)
        out.writeframes(b"\0" * int(TAIL_SILENCE_S * bytes_per_second))
    return out_path


WEBHOOK_SECRET = "whsec-browser-e2e"


@pytest.fixture
async def webhook_receiver() -> AsyncIterator[WebhookReceiver]:
    """Our users' webhook endpoint; holds every delivery until released."""
    receiver = await WebhookReceiver(secret=WEBHOOK_SECRET, hold=True).start()
    try:
        yield receiver
    finally:
        receiver.release()
        await receiver.aclose()


@pytest.fixture(scope="module")
def browser_worker(
    agent_worker_factory: Callable[..., AgentWorker], tmp_path_factory: pytest.TempPathFactory
) -> AgentWorker:
    """The default agent with a ledger of its own: the web server below is the only web
    process on it. Every process sharing a ledger must have the same webhook settings
    (docs/ledger.md); the session's shim servers share the default worker's ledger without
    webhooks, and their sweeps would announce this test's calls to nobody."""
    ledger = tmp_path_factory.mktemp("browser-ledger") / "calls.db"
    return agent_worker_factory(env={"OMNIVOICE_DATABASE_URL": f"sqlite:///{ledger}"})


@pytest.fixture
def web_settings(
    livekit_server: LiveKitServer, browser_worker: AgentWorker, webhook_receiver: WebhookReceiver
) -> Settings:
    """Tokens for the test server; the ledger the agent worker records to; webhooks."""
    agent_worker = browser_worker
    return Settings(
        livekit=LiveKitSettings(
            url=livekit_server.url,
            api_key=livekit_server.api_key,
            api_secret=livekit_server.api_secret,
        ),
        tokens=TokenSettings(agent_name=agent_worker.agent_name),
        ledger=LedgerSettings(database_url=agent_worker.ledger_url, report_wait_s=30.0),
        webhooks=WebhookSettings(
            urls=(webhook_receiver.url,),
            secrets=(WEBHOOK_SECRET,),
            backoff_s=0.2,
            backoff_cap_s=2.0,
            timeout_s=5.0,
        ),
    )


@pytest.fixture
async def web_server(
    livekit_server: LiveKitServer, web_settings: Settings
) -> AsyncIterator[WebServer]:
    """Our web server, in-process on a free port, minting tokens for the test server and
    receiving its webhooks."""
    server = WebServer(settings=web_settings, host="127.0.0.1", port=0)
    await server.start()
    assert livekit_server.webhooks is not None
    try:
        with livekit_server.webhooks.forward_to(f"{server.url}/livekit/webhook"):
            yield server
    finally:
        await server.aclose()


@pytest.fixture
async def page(speech_wav: Path, tmp_path: Path) -> AsyncIterator[Page]:
    """A fresh headless Chromium profile whose microphone plays ``speech_wav`` in a loop."""
    chromium = require_binary("chromium")
    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=chromium,
            headless=True,
            args=[*CHROMIUM_FLAGS, f"--use-file-for-fake-audio-capture={speech_wav}"],
        )
        try:
            yield context.pages[0] if context.pages else await context.new_page()
        finally:
            await context.close()


async def _page_state(page: Page) -> dict[str, Any]:
    state: dict[str, Any] = await page.evaluate(
        """async () => ({
            connection: omnivoice.connection,
            agentState: omnivoice.agentState,
            agentStatesSeen: omnivoice.agentStatesSeen,
            transcript: omnivoice.transcript(),
            events: omnivoice.events.map((e) => e.type),
            errors: omnivoice.errors,
            agentAudio: await omnivoice.agentAudioStats(),
        })"""
    )
    return state


def _heard(segment: dict[str, Any]) -> bool:
    return segment["role"] == "user" and any(w in segment["text"].lower() for w in KEY_WORDS)


def _exchange_done(state: dict[str, Any]) -> bool:
    transcript = state["transcript"]
    heard = [i for i, segment in enumerate(transcript) if _heard(segment)]
    answered = (
        any(
            s["role"] == "agent" and s["final"] and s["text"].strip()
            for s in transcript[heard[0] :]
        )
        if heard
        else False
    )
    audio = state["agentAudio"] or {}
    return (
        answered
        and "speaking" in state["agentStatesSeen"]
        and audio.get("totalAudioEnergy", 0.0) > MIN_AGENT_AUDIO_ENERGY
    )


async def _wait_for_exchange(
    page: Page, *, livekit_api: api.LiveKitAPI, worker: AgentWorker, room: str
) -> tuple[dict[str, Any], int]:
    """Poll the page until the exchange is done (or the bound passes).

    livekit-server never retries a dispatch the worker could not take (it refuses
    one when the worker reports CPU load above its target, which happens on a busy
    test machine), so when no agent joined within :data:`REDISPATCH_AFTER_S` the test
    dispatches it again through the API. Returns the last state and that count.
    """
    deadline = time.monotonic() + WAIT_FOR_TURN_S
    next_redispatch = time.monotonic() + REDISPATCH_AFTER_S
    redispatches = 0
    state = await _page_state(page)
    while not _exchange_done(state) and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        state = await _page_state(page)
        if state["agentState"] in ("absent", "waiting") and time.monotonic() > next_redispatch:
            await worker.dispatch(livekit_api, room)
            redispatches += 1
            next_redispatch = time.monotonic() + REDISPATCH_AFTER_S
    return state, redispatches


async def _wait_for_turn_latency(page: Page, *, timeout_s: float = 15.0) -> list[Any]:
    """The ``turn_latency`` events the page received (polled until one arrives)."""
    script = "omnivoice.events.filter((e) => e.type === 'turn_latency')"
    deadline = time.monotonic() + timeout_s
    events: list[Any] = await page.evaluate(script)
    while not events and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        events = await page.evaluate(script)
    return events


async def _wait_for_connection(page: Page, wanted: str, *, timeout_s: float) -> None:
    """Poll the page's connection state (page.evaluate is exempt from the page's CSP,
    unlike Playwright's wait_for_function, which needs 'unsafe-eval')."""
    deadline = time.monotonic() + timeout_s
    state = await page.evaluate("window.omnivoice.connection")
    while state != wanted and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        state = await page.evaluate("window.omnivoice.connection")
    assert state == wanted, f"page connection stayed {state!r}, expected {wanted!r}"


async def _participants(livekit_api: api.LiveKitAPI, room: str) -> set[str]:
    """Identities in ``room``; empty once the server has deleted the room."""
    try:
        response = await livekit_api.room.list_participants(api.ListParticipantsRequest(room=room))
    except api.ServerError as exc:
        if exc.code == api.ServerErrorCode.NOT_FOUND:
            return set()
        raise
    return {p.identity for p in response.participants}


async def test_browser_joins_speaks_and_agent_answers(
    page: Page,
    web_server: WebServer,
    web_settings: Settings,
    webhook_receiver: WebhookReceiver,
    livekit_server: LiveKitServer,
    livekit_api: api.LiveKitAPI,
    browser_worker: AgentWorker,
) -> None:
    agent_worker = browser_worker
    page_errors: list[str] = []
    page.on("pageerror", lambda error: page_errors.append(str(error)))

    await page.goto(f"{web_server.url}/")
    await page.click("#join")
    await _wait_for_connection(page, "connected", timeout_s=60.0)
    room = await page.evaluate("window.omnivoice.room")
    identity = await page.evaluate("window.omnivoice.identity")
    assert room.startswith("web-")
    assert identity.startswith("visitor-")

    state, redispatches = await _wait_for_exchange(
        page, livekit_api=livekit_api, worker=agent_worker, room=room
    )
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "browser-e2e.png"), full_page=True)

    context = (
        f"page state: {state}\nre-dispatches: {redispatches}\n"
        f"worker log tail:\n{agent_worker.log_text()[-2000:]}"
    )
    transcript = state["transcript"]
    user_turns = [s for s in transcript if _heard(s)]
    assert user_turns, f"the page's transcript never showed the user's words {KEY_WORDS}\n{context}"
    assert user_turns[0]["identity"] == identity
    first_heard = transcript.index(user_turns[0])
    agent_answers = [
        s for s in transcript[first_heard:] if s["role"] == "agent" and s["final"] and s["text"]
    ]
    assert agent_answers, f"no agent answer after the user's turn\n{context}"
    assert agent_answers[0]["text"].startswith("You said:"), context
    assert {"listening", "thinking", "speaking"} <= set(state["agentStatesSeen"]), context
    assert state["agentAudio"]["totalAudioEnergy"] > MIN_AGENT_AUDIO_ENERGY, context
    # The session relays its events on the data topic; the page received them in order.
    events = state["events"]
    assert events[0] == "session_started", context
    first_user_transcript = events.index("user_transcript")
    assert "agent_speech_start" in events[first_user_transcript:], context
    assert state["errors"] == [], context
    assert page_errors == [], context
    # Mouth-to-ear: the page measured the agent's reply and the agent took its report
    # (a turn_latency event relayed back); the figure itself is the bench's business.
    reported = await _wait_for_turn_latency(page)
    assert reported, f"no turn_latency event\n{context}"
    assert reported[0]["data"]["measured_by"] == "browser", reported
    page_latencies = await page.evaluate("omnivoice.latencies")
    assert reported[0]["data"]["mouth_to_ear_ms"] in page_latencies, (reported, page_latencies)
    print(f"mouth-to-ear measured by the page: {page_latencies} ms")

    # What the page shows on screen is what the state says.
    heard_bubble = page.locator(f"#transcript .turn[data-segment='{user_turns[0]['segment']}']")
    assert await heard_bubble.get_attribute("data-role") == "user"
    heard_text = (await heard_bubble.inner_text()).lower()
    assert any(word in heard_text for word in KEY_WORDS)
    answer_bubble = page.locator(f"#transcript .turn[data-segment='{agent_answers[0]['segment']}']")
    assert await answer_bubble.get_attribute("data-role") == "agent"
    assert "You said:" in await answer_bubble.inner_text()
    assert await page.get_attribute("#agent-state", "data-state") in (
        "listening",
        "thinking",
        "speaking",
    )

    # The visitor and the agent are both in the room; Leave takes the visitor out.
    assert identity in await _participants(livekit_api, room)
    await page.click("#leave")
    await _wait_for_connection(page, "idle", timeout_s=30.0)
    remaining = await _participants(livekit_api, room)
    deadline = time.monotonic() + 30.0
    while identity in remaining and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        remaining = await _participants(livekit_api, room)
    assert identity not in remaining

    await _check_the_call_was_accounted_for(
        page,
        call_id=call_key(room, identity),
        web_server=web_server,
        web_settings=web_settings,
        receiver=webhook_receiver,
        livekit_server=livekit_server,
        ledger_url=agent_worker.ledger_url,
    )


async def _check_the_call_was_accounted_for(
    page: Page,
    *,
    call_id: str,
    web_server: WebServer,
    web_settings: Settings,
    receiver: WebhookReceiver,
    livekit_server: LiveKitServer,
    ledger_url: str,
) -> None:
    """The ledger's record via the CLI and the /calls page; both webhooks delivered once,
    after a restart of the web server with them in flight."""
    record = await wait_for_record(ledger_url, call_id)  # finalized by the web server
    assert record.status == "final"
    [listed] = [r for r in await cli_records(ledger_url) if r["id"] == call_id]
    assert_complete(listed, route="browser")
    assert listed["ended_by"] == "caller", listed  # the visitor left first

    await page.goto(f"{web_server.url}/calls/{call_id}")
    await page.wait_for_selector("#chart svg rect", timeout=30_000)
    assert await page.locator("#transcript .turn[data-role='agent']").count() >= 1
    assert await page.locator("#transcript .turn[data-role='user']").count() >= 1
    assert record.end_reason in await page.inner_text("#summary")
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "call-history-e2e.png"), full_page=True)
    await page.goto(f"{web_server.url}/calls?route=browser")
    await page.wait_for_selector(f"tr[data-call='{call_id}']", timeout=30_000)

    held = {kind for kind, ref in receiver.held if ref == call_id}
    await receiver.wait_for(
        lambda: {"call.started", "call.ended"} <= {k for k, ref in receiver.held if ref == call_id},
        timeout_s=60,
    )
    # the web server stops while both deliveries are in flight; a new one sends them
    await web_server.aclose()
    receiver.release()
    restarted = WebServer(settings=web_settings, host="127.0.0.1", port=0)
    await restarted.start()
    try:
        assert livekit_server.webhooks is not None
        with livekit_server.webhooks.forward_to(f"{restarted.url}/livekit/webhook"):
            await receiver.wait_for(
                lambda: (
                    {"call.started", "call.ended"}
                    <= {
                        d.event["type"]
                        for d in receiver.accepted
                        if d.event["data"]["id"] == call_id
                    }
                ),
                timeout_s=60,
            )
            await asyncio.sleep(1.0)  # a duplicate would come within this
    finally:
        await restarted.aclose()
    ours = [d for d in receiver.accepted if d.event["data"]["id"] == call_id]
    assert sorted(d.event["type"] for d in ours) == [
        "call.answered",
        "call.ended",
        "call.started",
    ], held
    ended = next(d.event for d in ours if d.event["type"] == "call.ended")
    assert ended["data"]["end_reason"] == record.end_reason
    assert {t["role"] for t in ended["data"]["transcript"]} == {"user", "agent"}
    assert receiver.rejected == 0


async def test_page_asks_for_the_key_when_the_server_requires_one(
    page: Page, livekit_server: LiveKitServer, livekit_api: api.LiveKitAPI
) -> None:
    """With OMNIVOICE_TOKEN_KEY set, Join first gets 401, the page shows the key field,
    and Join with the key connects the visitor to its room."""
    settings = Settings(
        livekit=LiveKitSettings(
            url=livekit_server.url,
            api_key=livekit_server.api_key,
            api_secret=livekit_server.api_secret,
        ),
        tokens=TokenSettings(key="e2e-shared-key", agent_name="omnivoice-e2e-no-such-agent"),
    )
    server = WebServer(settings=settings, host="127.0.0.1", port=0)
    await server.start()
    try:
        await page.goto(f"{server.url}/")
        assert await page.is_hidden("#key")
        await page.click("#join")
        await page.wait_for_selector("#key", state="visible", timeout=30_000)
        await page.wait_for_selector("#error", state="visible", timeout=30_000)
        assert "access key" in await page.inner_text("#error")
        await _wait_for_connection(page, "idle", timeout_s=30.0)

        await page.fill("#key", "e2e-shared-key")
        await page.click("#join")
        await _wait_for_connection(page, "connected", timeout_s=60.0)
        room = await page.evaluate("window.omnivoice.room")
        identity = await page.evaluate("window.omnivoice.identity")
        assert identity in await _participants(livekit_api, room)
        await page.click("#leave")
        await _wait_for_connection(page, "idle", timeout_s=30.0)
    finally:
        await server.aclose()
