"""Free ports: kernel-chosen by default, or from one range (a parallel test worker's)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from omnivoice_rtc.stack import ports

pytestmark = pytest.mark.unit


@pytest.fixture
def restore_range() -> Iterator[None]:
    before = ports._port_range
    yield
    ports._port_range = before


def test_ports_come_from_the_range_when_one_is_set(restore_range: None) -> None:
    ports.use_port_range(23_000, 23_100)
    found = ports.free_ports(5)
    assert len(set(found)) == 5
    assert all(23_000 <= p < 23_100 for p in found)
    assert 23_000 <= ports.free_port(protocol="udp") < 23_100


def test_a_bad_range_is_refused(restore_range: None) -> None:
    with pytest.raises(
        ValueError, match=r"^port range: need 1024 <= low < high <= 65536, got 80\.\.90$"
    ):
        ports.use_port_range(80, 90)
