"""The public URLs carriers see, for signature checks and for the markup we return.

Carriers sign the URL *they* requested (``https://public-host/path?query``), which differs
from what the server sees behind a tunnel or proxy. ``public_request_url`` rebuilds it
from a configured public base URL, or from ``X-Forwarded-Proto``/``X-Forwarded-Host``
only when the deployment says to trust them (a client could forge them otherwise).
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit, urlunsplit

__all__ = ["public_request_url", "websocket_url"]

_WS_SCHEMES = {"https": "wss", "http": "ws", "wss": "wss", "ws": "ws"}


def public_request_url(
    *,
    scheme: str,
    host: str,
    path_qs: str,
    headers: Mapping[str, str],
    public_base_url: str | None = None,
    trust_forwarded: bool = False,
) -> str:
    """The URL the carrier requested. ``scheme``/``host`` are what this server saw;
    ``path_qs`` is the path plus query string. ``public_base_url`` (e.g.
    ``https://voice.example.com``; a path prefix is kept) wins over everything;
    otherwise the first ``X-Forwarded-Proto``/``X-Forwarded-Host`` values are used when
    ``trust_forwarded`` is true. Header names are matched case-insensitively."""
    if public_base_url:
        base = urlsplit(public_base_url)
        if base.scheme not in _WS_SCHEMES or not base.netloc:
            raise ValueError(f"public_base_url must be an http(s) URL, got {public_base_url!r}")
        return f"{base.scheme}://{base.netloc}{base.path.rstrip('/')}{path_qs}"
    if trust_forwarded:
        lowered = {k.lower(): v for k, v in headers.items()}
        scheme = lowered.get("x-forwarded-proto", scheme).split(",")[0].strip() or scheme
        host = lowered.get("x-forwarded-host", host).split(",")[0].strip() or host
    return f"{scheme}://{host}{path_qs}"


def websocket_url(base_url: str, path: str) -> str:
    """``https://host/prefix`` + ``/media/twilio`` → ``wss://host/prefix/media/twilio``."""
    parts = urlsplit(base_url)
    if parts.scheme not in _WS_SCHEMES or not parts.netloc:
        raise ValueError(f"base URL must be an http(s) or ws(s) URL, got {base_url!r}")
    if not path.startswith("/"):
        raise ValueError(f"path must start with '/', got {path!r}")
    return urlunsplit(
        (_WS_SCHEMES[parts.scheme], parts.netloc, parts.path.rstrip("/") + path, "", "")
    )
