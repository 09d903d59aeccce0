"""The one public-URL rule (configured URL > trusted forwarded headers > the request) and
the ws <-> http converters."""

from __future__ import annotations

from typing import Any

import pytest

from omnivoice_rtc._urls import (
    http_url_of,
    public_base_url,
    public_request_url,
    websocket_url,
    ws_url_of,
)

pytestmark = pytest.mark.unit

FWD = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "voice.example.com, proxy.internal"}
SEEN: dict[str, Any] = {"scheme": "http", "host": "127.0.0.1:8080"}


def test_configured_base_wins() -> None:
    url = public_request_url(
        **SEEN,
        path_qs="/twilio/voice?x=1",
        headers=FWD,
        public_url="https://public.example.com/app/",
        trust_forwarded=True,
    )
    assert url == "https://public.example.com/app/twilio/voice?x=1"


def test_forwarded_headers_only_when_trusted() -> None:
    assert public_request_url(**SEEN, path_qs="/p", headers=FWD) == "http://127.0.0.1:8080/p"
    trusted = public_request_url(**SEEN, path_qs="/p", headers=FWD, trust_forwarded=True)
    assert trusted == "https://voice.example.com/p"


def test_the_rule_case_by_case() -> None:
    """Public URL set: it wins whatever the headers and trust. Not set: forwarded headers
    only when trusted (first value, case-insensitive names, each one only when present);
    otherwise the request's own scheme and host."""
    public = "https://tunnel.example/"
    for trust in (False, True):
        assert public_base_url(**SEEN, headers=FWD, public_url=public, trust_forwarded=trust) == (
            "https://tunnel.example"
        )
    assert public_base_url(**SEEN, headers=FWD) == "http://127.0.0.1:8080"
    lower = {"x-forwarded-proto": "https"}
    assert public_base_url(**SEEN, headers=lower, trust_forwarded=True) == "https://127.0.0.1:8080"
    assert public_base_url(**SEEN, headers={}, trust_forwarded=True) == "http://127.0.0.1:8080"
    with pytest.raises(ValueError, match=r"^public URL must be an http\(s\) URL, got 'tunnel'$"):
        public_base_url(**SEEN, headers={}, public_url="tunnel")


def test_scheme_converters() -> None:
    assert ws_url_of("https://h:1") == "wss://h:1"
    assert ws_url_of("http://h/p?q=1") == "ws://h/p?q=1"
    assert ws_url_of("wss://h") == "wss://h"
    assert http_url_of("ws://127.0.0.1:7880") == "http://127.0.0.1:7880"
    assert http_url_of("wss://demo.livekit.cloud") == "https://demo.livekit.cloud"
    assert http_url_of("https://h") == "https://h"
    with pytest.raises(ValueError, match=r"^expected an http\(s\) or ws\(s\) URL, got 'ftp://h'$"):
        ws_url_of("ftp://h")


def test_websocket_url() -> None:
    assert websocket_url("https://voice.example.com/app/", "/media/twilio") == (
        "wss://voice.example.com/app/media/twilio"
    )
    assert (
        websocket_url("http://127.0.0.1:8080", "/media/plivo") == "ws://127.0.0.1:8080/media/plivo"
    )
    with pytest.raises(ValueError, match=r"^path must start with '/', got 'x'$"):
        websocket_url("https://h", "x")
