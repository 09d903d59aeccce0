"""client_address: X-Forwarded-For is honoured only from trusted proxies; address_key."""

from __future__ import annotations

import pytest
from multidict import CIMultiDict

from omnivoice_rtc.limits.client_address import UNKNOWN, address_key, client_address
from omnivoice_rtc.settings.limits import parse_networks

pytestmark = pytest.mark.unit

PROXIES = parse_networks("OMNIVOICE_TRUSTED_PROXIES", "10.0.0.0/8, 2001:db8::1")


def test_without_trusted_proxies_the_peer_is_the_client_whatever_the_header_says() -> None:
    forged = {"X-Forwarded-For": "203.0.113.9"}
    assert client_address("198.51.100.7", forged, ()) == "198.51.100.7"
    assert client_address("198.51.100.7", forged, PROXIES) == "198.51.100.7"  # not a proxy


def test_a_trusted_proxy_names_the_client_and_forged_hops_to_its_left_are_ignored() -> None:
    headers = {"x-forwarded-for": "6.6.6.6, 203.0.113.9, 10.1.2.3"}
    # 10.1.2.3 is a trusted inner proxy; 203.0.113.9 the first untrusted hop: the client.
    assert client_address("10.0.0.5", headers, PROXIES) == "203.0.113.9"
    assert client_address("10.0.0.5", {}, PROXIES) == "10.0.0.5"  # no header: the proxy
    every_line = CIMultiDict([("X-Forwarded-For", "6.6.6.6"), ("X-Forwarded-For", "203.0.113.9")])
    assert client_address("10.0.0.5", every_line, PROXIES) == "203.0.113.9"


def test_unreadable_hops_stop_at_the_last_trusted_proxy() -> None:
    assert client_address("10.0.0.5", {"X-Forwarded-For": "garbage"}, PROXIES) == "10.0.0.5"
    headers = {"X-Forwarded-For": "203.0.113.9, unknown, 10.9.9.9"}
    assert client_address("10.0.0.5", headers, PROXIES) == "10.9.9.9"
    assert client_address("10.0.0.5", {"X-Forwarded-For": "[2001:db8::7]:443"}, PROXIES) == (
        "2001:db8::7"
    )


def test_peers_are_normalised_and_unknown_peers_say_so() -> None:
    assert client_address("::ffff:198.51.100.7", {}, ()) == "198.51.100.7"
    assert client_address(None, {}, ()) == UNKNOWN
    assert client_address("", {}, PROXIES) == UNKNOWN
    assert client_address("2001:db8::1", {"X-Forwarded-For": "192.0.2.1:5060"}, PROXIES) == (
        "192.0.2.1"
    )


def test_address_key_groups_an_ipv6_64() -> None:
    assert address_key("198.51.100.7") == "198.51.100.7"
    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:ffff::9")
    assert address_key("2001:db8:1:2:aaaa::1") == "2001:db8:1:2::/64"
    assert address_key("2001:db8:1:3::1") != address_key("2001:db8:1:2::1")
    assert address_key(UNKNOWN) == UNKNOWN
