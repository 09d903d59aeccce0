"""Public request URLs behind proxies, and wss URLs for the markup."""

from __future__ import annotations

import pytest

from omnivoice_rtc.carriers.urls import public_request_url, websocket_url

pytestmark = pytest.mark.unit

FWD = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "voice.example.com, proxy.internal"}


def test_configured_base_wins() -> None:
    url = public_request_url(
        scheme="http",
        host="127.0.0.1:8080",
        path_qs="/twilio/voice?x=1",
        headers=FWD,
        public_base_url="https://public.example.com/app/",
        trust_forwarded=True,
    )
    assert url == "https://public.example.com/app/twilio/voice?x=1"


def test_forwarded_headers_only_when_trusted() -> None:
    args = {"scheme": "http", "host": "127.0.0.1:8080", "path_qs": "/p", "headers": FWD}
    assert public_request_url(**args) == "http://127.0.0.1:8080/p"  # type: ignore[arg-type]  # reason: test kwargs
    trusted = public_request_url(**args, trust_forwarded=True)  # type: ignore[arg-type]  # reason: test kwargs
    assert trusted == "https://voice.example.com/p"


def test_websocket_url() -> None:
    assert websocket_url("https://voice.example.com/app/", "/media/twilio") == (
        "wss://voice.example.com/app/media/twilio"
    )
    assert (
        websocket_url("http://127.0.0.1:8080", "/media/plivo") == "ws://127.0.0.1:8080/media/plivo"
    )
    with pytest.raises(ValueError, match=r"^path must start with '/', got 'x'$"):
        websocket_url("https://h", "x")
