"""The web server's call ledger: LiveKit's webhooks (verified, de-duplicated) open and
close records, /api/calls and /calls serve them, and the key protects the data."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from google.protobuf.json_format import MessageToJson
from livekit import api
from livekit.protocol.models import ParticipantInfo, Room
from livekit.protocol.webhook import WebhookEvent

from omnivoice_rtc.ledger.keys import call_key
from omnivoice_rtc.settings import LedgerSettings, LiveKitSettings, Settings, TokenSettings
from omnivoice_rtc.web import create_app
from omnivoice_rtc.web.keys import LEDGER_KEY, LIVEKIT_WEBHOOKS_KEY

from .conftest import API_KEY, API_SECRET, LIVEKIT_URL, ClientFactory

pytestmark = pytest.mark.unit


def _settings(db: Path, *, key: str = "") -> Settings:
    return Settings(
        livekit=LiveKitSettings(url=LIVEKIT_URL, api_key=API_KEY, api_secret=API_SECRET),
        tokens=TokenSettings(key=key),
        ledger=LedgerSettings(database_url=f"sqlite:///{db}", report_wait_s=0.0),
    )


def _event(
    name: str,
    room: str,
    identity: str = "",
    *,
    kind: Any = ParticipantInfo.Kind.STANDARD,
    attributes: dict[str, str] | None = None,
) -> tuple[bytes, str]:
    now = int(datetime.now(UTC).timestamp())
    event = WebhookEvent(
        event=name,
        id=f"EV_{secrets.token_hex(6)}",
        created_at=now,
        room=Room(name=room, sid="RM_test"),
    )
    if identity:
        event.participant.CopyFrom(
            ParticipantInfo(
                identity=identity, sid="PA_x", kind=kind, joined_at=now, attributes=attributes or {}
            )
        )
    body = MessageToJson(event).encode()
    digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
    token = api.AccessToken(API_KEY, API_SECRET).with_sha256(digest).to_jwt()
    return body, token


async def _post(client, body: bytes, token: str) -> int:  # type: ignore[no-untyped-def]
    response = await client.post(
        "/livekit/webhook",
        data=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/webhook+json"},
    )
    return int(response.status)


async def test_livekit_webhooks_open_and_close_a_browser_call(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    client = await make_client(_settings(tmp_path / "calls.db"))
    service = client.app[LEDGER_KEY]
    assert service.ledger is not None
    joined = _event("participant_joined", "web-1", "visitor-1")
    assert await _post(client, *joined) == 200
    assert await _post(client, *joined) == 200  # livekit-server retried: handled once
    assert client.app[LIVEKIT_WEBHOOKS_KEY].duplicates == 1
    assert (
        await _post(
            client,
            *_event("participant_joined", "web-1", "agent-1", kind=ParticipantInfo.Kind.AGENT),
        )
        == 200
    )  # agents are not calls
    assert await _post(client, *_event("participant_left", "web-1", "visitor-1")) == 200
    await service.flush()
    response = await client.get("/api/calls")
    assert response.status == 200
    calls = (await response.json())["calls"]
    assert [c["id"] for c in calls] == [call_key("web-1", "visitor-1")]
    assert calls[0]["route"] == "browser"
    assert calls[0]["end_reason"] == "participant_left"
    assert calls[0]["ended_by"] == "caller"
    assert calls[0]["ids"]["room_sid"] == "RM_test"


async def test_a_forged_webhook_is_refused(make_client: ClientFactory, tmp_path: Path) -> None:
    client = await make_client(_settings(tmp_path / "calls.db"))
    body, token = _event("participant_joined", "web-2", "visitor-2")
    forged = body.replace(b"visitor-2", b"visitor-3")
    assert await _post(client, forged, token) == 401
    assert await _post(client, body, "not-a-jwt") == 401
    other = api.AccessToken(API_KEY, "another-secret-that-is-long-enough-for-hs256").with_sha256(
        base64.b64encode(hashlib.sha256(body).digest()).decode()
    )
    assert await _post(client, body, other.to_jwt()) == 401
    assert (await client.post("/livekit/webhook", data=body)).status == 401
    await client.app[LEDGER_KEY].flush()
    assert (await (await client.get("/api/calls")).json())["calls"] == []


async def test_one_call_with_filters_and_the_key(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    client = await make_client(_settings(tmp_path / "calls.db", key="k"))
    assert (await client.get("/api/calls")).status == 401
    assert (await client.get("/api/calls/x", headers={"X-Omnivoice-Key": "wrong"})).status == 401
    auth = {"Authorization": "Bearer k"}
    sip = {
        "sip.callID": "SCL_9",
        "sip.phoneNumber": "+1555",
        "sip.trunkPhoneNumber": "+1999",
        "sip.ruleID": "r",
    }
    assert (
        await _post(
            client,
            *_event(
                "participant_joined",
                "sip-twilio-_+1555_x",
                "sip_+1555",
                kind=ParticipantInfo.Kind.SIP,
                attributes=sip,
            ),
        )
        == 200
    )
    assert await _post(client, *_event("participant_joined", "web-3", "visitor-3")) == 200
    await client.app[LEDGER_KEY].flush()
    sip_only = await (await client.get("/api/calls?route=sip", headers=auth)).json()
    assert [c["ids"]["sip_call"] for c in sip_only["calls"]] == ["SCL_9"]
    assert sip_only["calls"][0]["pii"] == {"caller": "+1555", "callee": "+1999"}
    today = datetime.now(UTC).date().isoformat()
    assert (
        len((await (await client.get(f"/api/calls?since={today}", headers=auth)).json())["calls"])
        == 2
    )
    assert (await (await client.get("/api/calls?until=2000-01-01", headers=auth)).json())[
        "calls"
    ] == []
    assert (await client.get("/api/calls?since=yesterday", headers=auth)).status == 400
    one = await client.get("/api/calls/SCL_9", headers=auth)  # by the SIP call id
    assert one.status == 200
    body = await one.json()
    assert body["id"] == call_key("sip-twilio-_+1555_x", "sip_+1555")
    assert body["transcript"] == []
    assert (await client.get("/api/calls/nope", headers=auth)).status == 404


async def test_the_page_is_served_without_data_and_with_a_strict_policy(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    client = await make_client(_settings(tmp_path / "calls.db", key="k"))
    for path in ("/calls", "/calls/call_123"):
        page = await client.get(path)
        assert page.status == 200
        assert "script-src 'self'" in page.headers["Content-Security-Policy"]
        text = await page.text()
        assert '<script src="/static/calls.js">' in text
        assert "cdn" not in text.lower()
    script = await client.get("/static/calls.js")
    assert script.status == 200
    assert "http" not in (await script.text()).replace("http://www.w3.org/2000/svg", "")


async def test_with_the_ledger_off_the_data_is_unavailable(make_client: ClientFactory) -> None:
    settings = Settings(
        livekit=LiveKitSettings(url=LIVEKIT_URL, api_key=API_KEY, api_secret=API_SECRET)
    )
    client = await make_client(settings)
    assert client.app[LEDGER_KEY].ledger is None
    assert (await client.get("/api/calls")).status == 503
    assert (
        await _post(client, *_event("participant_joined", "web-4", "visitor-4")) == 200
    )  # still verified


def test_create_app_wires_the_ledger_and_the_receiver(tmp_path: Path) -> None:
    app = create_app(_settings(tmp_path / "calls.db"))
    assert app[LEDGER_KEY].enabled
    assert json.dumps([r.canonical for r in app.router.resources()]).count("/calls") >= 2
