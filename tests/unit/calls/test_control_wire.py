"""The omnivoice.call_control wire: requests, replies, and executing a request."""

from __future__ import annotations

import pytest

from omnivoice_rtc._errors import (
    ConfigError,
    ProviderError,
    SessionClosedError,
    UnsupportedActionError,
)
from omnivoice_rtc.calls.control import Capabilities
from omnivoice_rtc.calls.control_wire import ControlReply, ControlRequest, decode_packet, execute

pytestmark = pytest.mark.unit


class Recorder:
    """A CallControl that records what it was asked and fails on demand."""

    def __init__(self, fail: Exception | None = None) -> None:
        self.calls: list[tuple[str, ...]] = []
        self.fail = fail

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities.of("twilio")

    def _did(self, *what: str) -> None:
        self.calls.append(what)
        if self.fail is not None:
            raise self.fail

    async def transfer(self, to: str, *, say: str | None = None) -> None:
        self._did("transfer", to, str(say))

    async def hold(self) -> None:
        self._did("hold")

    async def resume(self) -> None:
        self._did("resume")

    async def send_dtmf(self, digits: str) -> None:
        self._did("dtmf", digits)

    async def hangup(self, reason: str = "agent_hangup") -> None:
        self._did("hangup", reason)

    async def warm_transfer(self, to: str, summary: str) -> bool:
        self._did("warm_transfer", to, summary)
        return False


def test_request_round_trip() -> None:
    request = ControlRequest(action="transfer", args={"to": "+15550100", "say": "One moment"})
    decoded = decode_packet(request.encode())
    assert decoded == request
    extra = b'{"type":"request","id":"x","action":"dtmf","digits":"1","evil":"y","to":3}'
    assert decode_packet(extra) == ControlRequest(action="dtmf", args={"digits": "1"}, id="x")


@pytest.mark.parametrize(
    "packet",
    [
        b"nope",
        b"[]",
        b'{"type":"request","action":"hold"}',
        b'{"type":"request","id":"1","action":"teleport"}',
        b'{"type":"other","id":"1"}',
        b'{"type":"request","id":"1","action":"hold","pad":"' + b"x" * 5000 + b'"}',
    ],
)
def test_bad_packets(packet: bytes) -> None:
    with pytest.raises(ValueError, match=r"omnivoice\.call_control packet"):
        decode_packet(packet)


def test_reply_round_trip_and_errors() -> None:
    ok = ControlReply("1", True, result={"a": 1})
    assert decode_packet(ok.encode()) == ok
    bad = ControlReply("2", False, "unsupported", "exotel: transfer is not supported: why")
    assert decode_packet(bad.encode()) == bad
    with pytest.raises(UnsupportedActionError, match="why"):
        bad.raise_for_error(action="transfer", route="exotel")
    with pytest.raises(SessionClosedError):
        ControlReply("3", False, "closed", "gone").raise_for_error(action="hold", route="x")
    with pytest.raises(ValueError, match="bad"):
        ControlReply("3", False, "invalid", "bad").raise_for_error(action="hold", route="x")
    with pytest.raises(ConfigError):
        ControlReply("3", False, "config", "X: unset").raise_for_error(action="hold", route="x")
    with pytest.raises(ProviderError):
        ControlReply("3", False, "failed", "HTTP 500").raise_for_error(action="hold", route="x")
    odd = decode_packet(b'{"type":"reply","id":"4","ok":false,"error":"weird"}')
    assert isinstance(odd, ControlReply)
    assert odd.error == "failed"
    ok.raise_for_error(action="hold", route="x")


async def test_execute_maps_actions_and_errors() -> None:
    control = Recorder()
    for request in (
        ControlRequest("transfer", {"to": "+1555", "say": "bye"}),
        ControlRequest("hold"),
        ControlRequest("resume"),
        ControlRequest("dtmf", {"digits": "12"}),
        ControlRequest("hangup", {"reason": "done"}),
        ControlRequest("hangup"),
        ControlRequest("warm_transfer", {"to": "+1555", "summary": "VIP"}),
    ):
        reply = await execute(control, request)
        assert reply.ok
        assert reply.id == request.id
    assert control.calls == [
        ("transfer", "+1555", "bye"),
        ("hold",),
        ("resume",),
        ("dtmf", "12"),
        ("hangup", "done"),
        ("hangup", "agent_hangup"),
        ("warm_transfer", "+1555", "VIP"),  # a carrier route's session refuses it itself
    ]
    # an action that is not carried out is refused, never taken for a hang-up
    odd = await execute(control, ControlRequest("dance"))
    assert (odd.ok, odd.error) == (False, "unsupported")
    assert control.calls[-1] == ("warm_transfer", "+1555", "VIP")
    caps = await execute(control, ControlRequest("capabilities"))
    assert caps.result["route"] == "twilio"
    for error, kind in (
        (UnsupportedActionError("no", action="hold", route="x"), "unsupported"),
        (SessionClosedError("closed"), "closed"),
        (ConfigError("X: unset"), "config"),
        (ValueError("bad digits"), "invalid"),
        (ProviderError("HTTP 500"), "failed"),
    ):
        reply = await execute(Recorder(fail=error), ControlRequest("hold"))
        assert (reply.ok, reply.error, reply.message) == (False, kind, str(error))
