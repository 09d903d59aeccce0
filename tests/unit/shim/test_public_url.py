"""Which public URL webhooks are checked against, and the wss URL put in markup."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import make_mocked_request

from omnivoice_rtc._urls import ws_url_of
from omnivoice_rtc.settings import LiveKitSettings
from omnivoice_rtc.shim.media_stream_gateway import ShimRuntime

pytestmark = pytest.mark.unit

FORWARDED = {"Host": "10.0.0.5:8080", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "x.example"}


def _runtime(**kw: object) -> ShimRuntime:
    return ShimRuntime(livekit=LiveKitSettings(), agent_name="a", **kw)  # type: ignore[arg-type]  # reason: test kwargs


def test_forwarded_headers_are_ignored_unless_trusted() -> None:
    request = make_mocked_request("POST", "/carriers/twilio/answer", headers=FORWARDED)
    assert _runtime().base_url(request) == "http://10.0.0.5:8080"
    assert _runtime(trust_forwarded=True).base_url(request) == "https://x.example"


def test_configured_public_url_wins_over_the_request() -> None:
    request = make_mocked_request("POST", "/carriers/twilio/answer", headers=FORWARDED)
    runtime = _runtime(public_base_url="https://tunnel.example/")
    assert runtime.base_url(request) == "https://tunnel.example"


def test_configured_public_url_wins_over_trusted_forwarded_headers() -> None:
    """Secure by default: a configured public URL is never overridden by headers a client
    could send, even with OMNIVOICE_TRUST_FORWARDED on (the production gateway used to let
    forwarded headers win)."""
    request = make_mocked_request("POST", "/carriers/twilio/answer", headers=FORWARDED)
    runtime = _runtime(public_base_url="https://tunnel.example", trust_forwarded=True)
    assert runtime.base_url(request) == "https://tunnel.example"


def test_ws_base() -> None:
    assert ws_url_of("https://h:1") == "wss://h:1"
    assert ws_url_of("http://h") == "ws://h"
