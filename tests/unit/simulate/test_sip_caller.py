"""The simulator's SIP messages: parsing requests and responses, the answer's SDP."""

from __future__ import annotations

import pytest

from omnivoice_rtc import ProtocolError
from omnivoice_rtc.simulate.sip_caller import parse_sip_message, sdp_media_address

pytestmark = pytest.mark.unit

OK = (
    b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\n"
    b"To: <sip:+15550100001@127.0.0.1>;tag=abc\r\nCSeq: 1 INVITE\r\n"
    b"Contact: <sip:lk@127.0.0.1:5060;transport=udp>\r\nContent-Type: application/sdp\r\n\r\n"
    b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    b"m=audio 10020 RTP/AVP 0 101\r\n"
)


def test_a_response_is_parsed_with_its_sdp() -> None:
    message = parse_sip_message(OK)
    assert (message.status, message.reason, message.method) == (200, "OK", "")
    assert message.headers["cseq"] == "1 INVITE"
    assert message.headers["to"].endswith(";tag=abc")
    assert sdp_media_address(message.body) == ("127.0.0.1", 10020)


def test_a_request_is_parsed_by_method() -> None:
    bye = parse_sip_message(b"BYE sip:x@127.0.0.1 SIP/2.0\r\nCall-ID: c1\r\nCSeq: 2 BYE\r\n\r\n")
    assert (bye.status, bye.method, bye.headers["call-id"]) == (0, "BYE", "c1")


def test_garbage_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        parse_sip_message(b"")
    with pytest.raises(ProtocolError):
        parse_sip_message(b"SIP/2.0 abc\r\n\r\n")
    with pytest.raises(ProtocolError, match="no IPv4 audio"):
        sdp_media_address("v=0\r\n")
