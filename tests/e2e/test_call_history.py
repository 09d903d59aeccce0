"""e2e: the call history page in headless Chromium, with the token key set: the page asks
for the key, then lists the recorded calls, filters them by route, and draws one call's
transcript and per-turn latency chart (no CDN: the page's CSP allows only itself)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.async_api import Page, async_playwright

from omnivoice_rtc.ledger.facts import CallOpened, TurnFact
from omnivoice_rtc.ledger.keys import CallParties, classify
from omnivoice_rtc.ledger.store import CallLedger, utc_now
from omnivoice_rtc.settings import LedgerSettings, Settings, TokenSettings
from omnivoice_rtc.web import WebServer
from tests.conftest import ROOT, require_binary

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

KEY = "history-e2e-key"


async def _seed(url: str) -> tuple[str, str]:
    ledger = await CallLedger.open(url)
    try:
        now = utc_now()
        browser = await ledger.open_call(
            CallOpened(
                room_name="web-hist", participant_identity="visitor-h",
                parties=CallParties(route="browser"), source="agent",
                created_at=now - timedelta(minutes=5),
            )
        )  # fmt: skip
        room = "call-telnyx-v3:abc"
        attributes = {
            "carrier": "telnyx",
            "call_id": "v3:abc",
            "from": "+15551230000",
            "to": "+15559870000",
        }
        phone = await ledger.open_call(
            CallOpened(
                room_name=room, participant_identity="caller-telnyx-v3-abc",
                parties=classify(room, attributes, sip_kind=True), source="shim", created_at=now,
            )
        )  # fmt: skip
        for seq, (role, text, total) in enumerate(
            [("user", "I would like a pizza", None), ("agent", "Which size?", 740),
             ("user", "large", None), ("agent", "A large pizza it is.", 910)]
        ):  # fmt: skip
            fact = TurnFact(
                role=role, text=text, started_at=now + timedelta(seconds=2 * seq),
                duration_ms=1200, stt_ms=110 if role == "user" else None,
                llm_ms=250 if role == "agent" else None, tts_ms=130 if role == "agent" else None,
                total_ms=total,
            )  # fmt: skip
            await ledger.add_turn(phone, fact)
        await ledger.mark_ended(
            phone, at=now + timedelta(seconds=12), reason="carrier_stop", source="shim"
        )
        return browser, phone
    finally:
        await ledger.aclose()


@pytest.fixture
async def page(tmp_path: Path) -> AsyncIterator[Page]:
    chromium = require_binary("chromium")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            page = await browser.new_page()
            yield page
        finally:
            await browser.close()


async def test_history_page_asks_for_the_key_then_lists_and_charts(
    page: Page, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'calls.db'}"
    browser_call, phone_call = await _seed(url)
    settings = Settings(tokens=TokenSettings(key=KEY), ledger=LedgerSettings(database_url=url))
    server = WebServer(settings=settings, host="127.0.0.1", port=0)
    await server.start()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    try:
        await page.goto(f"{server.url}/calls")
        await page.wait_for_selector("#key-form", state="visible", timeout=30_000)
        assert await page.is_hidden("#list-view")  # nothing shown without the key
        await page.fill("#key", KEY)
        await page.click("#key-form button")
        await page.wait_for_selector(f"tr[data-call='{phone_call}']", timeout=30_000)
        assert await page.locator(f"tr[data-call='{browser_call}']").count() == 1
        phone_row = await page.inner_text(f"tr[data-call='{phone_call}']")
        assert "media_stream/telnyx" in phone_row
        assert "carrier_stop" in phone_row
        assert "+15551230000" in phone_row

        await page.select_option("#route", "browser")
        await page.click("#filters button")
        await page.wait_for_selector(
            f"tr[data-call='{phone_call}']", state="detached", timeout=30_000
        )
        assert await page.locator(f"tr[data-call='{browser_call}']").count() == 1
        assert "route=browser" in page.url

        await page.goto(f"{server.url}/calls/{phone_call}")  # the key is kept for the tab
        await page.wait_for_selector("#chart svg", timeout=30_000)
        bars = page.locator("#chart rect[data-kind='total']")
        assert await bars.count() == 2
        heights = [float(await bars.nth(i).get_attribute("height") or 0) for i in range(2)]
        assert heights[1] > heights[0] > 0  # 910 ms is drawn taller than 740 ms
        turns = page.locator("#transcript .turn")
        assert await turns.count() == 4
        assert await turns.nth(1).get_attribute("data-role") == "agent"
        assert "answered in 740 ms" in await turns.nth(1).inner_text()
        summary = await page.inner_text("#summary")
        assert "carrier_stop (by caller)" in summary
        assert "+15559870000" in summary
        (ROOT / "test-artifacts").mkdir(exist_ok=True)
        await page.screenshot(
            path=str(ROOT / "test-artifacts" / "call-history-key.png"), full_page=True
        )
    finally:
        await server.aclose()
    assert errors == []
    assert all(r.startswith(server.url) for r in requests), requests  # nothing from elsewhere
