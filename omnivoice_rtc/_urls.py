"""URL logic in one place: the public base URL of a request, and ws <-> http schemes.

Carriers sign the URL *they* requested (``https://public-host/path?query``), which differs
from what this server sees behind a tunnel or proxy; the markup we return must name our
public ``wss://`` URL. The rule, secure by default:

1. a configured public URL (``OMNIVOICE_PUBLIC_URL``) always wins;
2. else ``X-Forwarded-Proto``/``X-Forwarded-Host`` are used, but only when the deployment
   says to trust them (``OMNIVOICE_TRUST_FORWARDED``; a client could forge them otherwise);
3. else the request's own scheme and host.

:func:`ws_url_of` and :func:`http_url_of` are the only scheme converters in the package
(the shim's ``wss://`` markup URLs, :attr:`LiveKitSettings.http_url`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final
from urllib.parse import urlsplit, urlunsplit

__all__ = [
    "http_url_of",
    "public_base_url",
    "public_request_url",
    "websocket_url",
    "ws_url_of",
]

_WS_OF: Final = {"https": "wss", "http": "ws", "wss": "wss", "ws": "ws"}
_HTTP_OF: Final = {"wss": "https", "ws": "http", "https": "https", "http": "http"}


def _convert(url: str, table: Mapping[str, str]) -> str:
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in table:
        raise ValueError(f"expected an http(s) or ws(s) URL, got {url!r}")
    return f"{table[scheme.lower()]}://{rest}"


def ws_url_of(url: str) -> str:
    """``https://h/p`` -> ``wss://h/p``, ``http://h`` -> ``ws://h`` (ws/wss unchanged)."""
    return _convert(url, _WS_OF)


def http_url_of(url: str) -> str:
    """``wss://h/p`` -> ``https://h/p``, ``ws://h`` -> ``http://h`` (http/https unchanged)."""
    return _convert(url, _HTTP_OF)


def _first(value: str) -> str:
    """The first entry of a comma-separated forwarded header (the client-facing proxy's)."""
    return value.split(",")[0].strip()


def public_base_url(
    *,
    scheme: str,
    host: str,
    headers: Mapping[str, str],
    public_url: str = "",
    trust_forwarded: bool = False,
) -> str:
    """``scheme://host[/prefix]`` (no trailing slash) of the URL the outside world used.

    ``scheme``/``host`` are what this server saw; ``public_url`` (e.g.
    ``https://voice.example.com/app``; a path prefix is kept) wins over everything;
    otherwise the first ``X-Forwarded-Proto``/``X-Forwarded-Host`` values replace the
    request's own (each one only when present) if ``trust_forwarded`` is true. Header
    names are matched case-insensitively.
    """
    if public_url:
        base = urlsplit(public_url)
        if base.scheme not in _WS_OF or not base.netloc:
            raise ValueError(f"public URL must be an http(s) URL, got {public_url!r}")
        return f"{base.scheme}://{base.netloc}{base.path.rstrip('/')}"
    if trust_forwarded:
        lowered = {k.lower(): v for k, v in headers.items()}
        scheme = _first(lowered.get("x-forwarded-proto", "")) or scheme
        host = _first(lowered.get("x-forwarded-host", "")) or host
    return f"{scheme}://{host}"


def public_request_url(
    *,
    scheme: str,
    host: str,
    path_qs: str,
    headers: Mapping[str, str],
    public_url: str = "",
    trust_forwarded: bool = False,
) -> str:
    """The full URL the carrier requested (what it signed): :func:`public_base_url` plus
    ``path_qs`` (the path and query string as this server received them)."""
    base = public_base_url(
        scheme=scheme,
        host=host,
        headers=headers,
        public_url=public_url,
        trust_forwarded=trust_forwarded,
    )
    return base + path_qs


def websocket_url(base_url: str, path: str) -> str:
    """``https://host/prefix`` + ``/carriers/twilio/media`` ->
    ``wss://host/prefix/carriers/twilio/media`` (query and fragment of the base dropped)."""
    parts = urlsplit(base_url)
    if parts.scheme not in _WS_OF or not parts.netloc:
        raise ValueError(f"base URL must be an http(s) or ws(s) URL, got {base_url!r}")
    if not path.startswith("/"):
        raise ValueError(f"path must start with '/', got {path!r}")
    return urlunsplit((_WS_OF[parts.scheme], parts.netloc, parts.path.rstrip("/") + path, "", ""))
