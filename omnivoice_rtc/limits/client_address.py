"""The client address of a request: the one helper every per-address limit uses.

``/api/token``'s rate limit, the carrier webhook limit and the media-socket and call caps
all key on :func:`client_address`. ``X-Forwarded-For`` is honoured **only** when the TCP
peer is a configured trusted proxy (``OMNIVOICE_TRUSTED_PROXIES``): the list is read from
the right (the hop nearest to us), trusted proxies are skipped, and the first address
that is not one is the client. Anything else could be forged by the client itself. An
entry that is not an IP address stops the walk at the last trusted hop.

:func:`address_key` is what limits count by: an IPv4 address, or the /64 network of an
IPv6 address (one host usually owns a whole /64 and could rotate addresses inside it).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from typing import Final, Protocol

from omnivoice_rtc.settings.limits import IPNetwork

__all__ = ["FORWARDED_FOR", "UNKNOWN", "address_key", "client_address"]

FORWARDED_FOR: Final = "X-Forwarded-For"
UNKNOWN: Final = "unknown"
"""The address of a request whose peer is not known (a Unix socket, a test request)."""

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class _MultiHeaders(Protocol):
    def getall(self, key: str, default: list[str]) -> list[str]: ...


def _parse(text: str) -> IPAddress | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: IPAddress, proxies: Sequence[IPNetwork]) -> bool:
    return any(address.version == n.version and address in n for n in proxies)


def _forwarded_for(headers: Mapping[str, str] | _MultiHeaders) -> list[str]:
    if hasattr(headers, "getall"):  # aiohttp's CIMultiDict: every header line, in order
        lines = headers.getall(FORWARDED_FOR, [])
    else:
        lowered = {k.lower(): v for k, v in headers.items()}
        lines = [lowered[FORWARDED_FOR.lower()]] if FORWARDED_FOR.lower() in lowered else []
    return [part for line in lines for part in line.split(",") if part.strip()]


def client_address(
    peer: str | None,
    headers: Mapping[str, str] | _MultiHeaders,
    trusted_proxies: Sequence[IPNetwork],
) -> str:
    """The client's address (normalised text) for a request from TCP ``peer`` with
    ``headers`` (see the module docstring); :data:`UNKNOWN` without a usable peer."""
    address = _parse(peer or "")
    if address is None:
        return UNKNOWN
    if not trusted_proxies or not _trusted(address, trusted_proxies):
        return str(address)
    for hop in reversed(_forwarded_for(headers)):
        parsed = _parse(hop)
        if parsed is None:
            break  # a hop we cannot read: the last trusted proxy is as far as we can see
        address = parsed
        if not _trusted(address, trusted_proxies):
            break
    return str(address)


def address_key(address: str) -> str:
    """What per-address limits count by: the IPv4 address, or the IPv6 /64."""
    parsed = _parse(address)
    if parsed is None:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((int(parsed) >> 64 << 64, 64)))
    return str(parsed)
