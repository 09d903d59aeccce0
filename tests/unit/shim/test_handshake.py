"""The media-stream handshake without sockets: a FakeMediaSocket plays the carrier.

Each test feeds the frames a carrier sends and checks what :func:`open_stream` decides:
the carrier (given or detected), where the token was found, what was counted, and the
close code the shim sent when it refused the stream.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

import pytest

from omnivoice_rtc._errors import StreamRejected
from omnivoice_rtc.audio.format import PLIVO, TELNYX, TWILIO, VONAGE
from omnivoice_rtc.carriers.exotel import ExotelProfile, ExotelSettings, basic_authorization
from omnivoice_rtc.carriers.plivo import PlivoProfile, PlivoSettings
from omnivoice_rtc.carriers.registry import AnyProfile
from omnivoice_rtc.carriers.stream_tokens import StreamTokenStore
from omnivoice_rtc.carriers.telnyx import TelnyxProfile, TelnyxSettings
from omnivoice_rtc.carriers.twilio import TwilioProfile, TwilioSettings
from omnivoice_rtc.carriers.vonage import VonageProfile, VonageSettings
from omnivoice_rtc.media_streams import (
    Clear,
    Connected,
    ExotelCodec,
    Media,
    PlivoCodec,
    Start,
    TelnyxCodec,
    TwilioCodec,
    VonageCodec,
)
from omnivoice_rtc.media_streams.exotel import MEDIA_FORMAT as EXOTEL_FORMAT
from omnivoice_rtc.shim.handshake import PENDING_CALL_PREFIX, OpenedStream, open_stream
from omnivoice_rtc.shim.policy import CallCounters, MediaPolicy
from tests.fakes.media_socket import FakeMediaSocket

pytestmark = pytest.mark.unit

EXO_USER, EXO_PASSWORD = "exo", "pw"
EXO_AUTH = {"Authorization": basic_authorization(EXO_USER, EXO_PASSWORD)}


def _profiles() -> dict[str, AnyProfile]:
    return {
        "twilio": TwilioProfile(settings=TwilioSettings(auth_token="t")),
        "telnyx": TelnyxProfile(settings=TelnyxSettings(public_key="k")),
        "vonage": VonageProfile(settings=VonageSettings(signature_secret="s")),
        "plivo": PlivoProfile(settings=PlivoSettings(auth_token="p")),
        "exotel": ExotelProfile(
            settings=ExotelSettings(stream_user=EXO_USER, stream_password=EXO_PASSWORD)
        ),
    }


def _start(carrier: str, call_id: str, params: Mapping[str, str], **kw: Any) -> Start:
    formats = {"twilio": TWILIO, "telnyx": TELNYX, "plivo": PLIVO, "exotel": EXOTEL_FORMAT}
    encodings = {
        "twilio": "audio/x-mulaw",
        "telnyx": "PCMU",
        "plivo": "audio/x-mulaw",
        "exotel": "audio/x-raw",
    }
    return Start(
        call_id=call_id,
        stream_id=kw.pop("stream_id", "MZ1"),
        custom_parameters=params,
        media_format=formats[carrier],
        wire_encoding=encodings[carrier],
        sequence_number=1,
        **kw,
    )


class Handshake:
    """One handshake: a fake socket, a token store, counters and a short policy."""

    def __init__(self, **policy: Any) -> None:
        self.ws = FakeMediaSocket()
        self.tokens = StreamTokenStore()
        self.counters = CallCounters()
        self.policy = MediaPolicy(**{"start_timeout_s": 5.0, **policy})
        self.profiles = _profiles()

    async def open(
        self, carrier: str | None = None, headers: Mapping[str, str] | None = None
    ) -> OpenedStream:
        return await open_stream(
            self.ws,
            tokens=self.tokens,
            policy=self.policy,
            counters=self.counters,
            profiles=self.profiles,
            carrier=carrier,
            headers=headers,
        )

    async def refused(
        self, carrier: str | None = None, headers: Mapping[str, str] | None = None
    ) -> str:
        """The reason the stream was refused; the socket was closed with 1008 first."""
        with pytest.raises(StreamRejected) as info:
            await self.open(carrier, headers)
        assert self.ws.closed_by == "shim"
        assert self.ws.close_code == info.value.code
        return info.value.reason


async def test_twilio_start_redeems_the_token_and_binds_the_codec() -> None:
    h = Handshake()
    token = await h.tokens.issue("CA1", "twilio", context={"from": "+15550100"})
    codec = TwilioCodec(stream_id="MZ1")
    h.ws.feed_text(codec.serialize(Connected(protocol="Call", version="1.0.0")))
    h.ws.feed_text(codec.serialize(_start("twilio", "CA1", {"token": token})))
    opened = await h.open("twilio")
    assert (opened.carrier, opened.profile.name, opened.grant.call_id) == (
        "twilio",
        "twilio",
        "CA1",
    )
    assert opened.grant.context == {"from": "+15550100"}
    assert isinstance(opened.start, Start)
    assert opened.opening is opened.start
    assert '"streamSid":"MZ1"' in str(opened.codec.serialize(Clear()))  # bound to the stream
    assert h.counters.as_dict()["dropped_before_start"] == 0
    assert not h.ws.closed


async def test_bad_tokens_close_1008_before_anything_else() -> None:
    h = Handshake()
    codec = TwilioCodec(stream_id="MZ1")
    h.ws.feed_text(codec.serialize(_start("twilio", "CA1", {"token": "0" * 32})))
    assert await h.refused("twilio") == "stream token unknown"
    assert h.ws.close_code == 1008

    h = Handshake()
    h.ws.feed_text(codec.serialize(_start("twilio", "CA1", {})))
    assert await h.refused("twilio") == "stream token missing"

    h = Handshake()
    token = await h.tokens.issue("CA-other", "twilio")
    h.ws.feed_text(codec.serialize(_start("twilio", "CA1", {"token": token})))
    assert await h.refused("twilio") == "stream token is for another call"

    h = Handshake()
    token = await h.tokens.issue("CA1", "plivo")
    h.ws.feed_text(codec.serialize(_start("twilio", "CA1", {"token": token})))
    assert await h.refused("twilio") == "stream token wrong_carrier"


async def test_a_dialled_call_binds_whatever_call_id_the_carrier_gave() -> None:
    h = Handshake()
    token = await h.tokens.issue(PENDING_CALL_PREFIX + "abc", "plivo")
    h.ws.feed_text(PlivoCodec().serialize(_start("plivo", "real-uuid", {"token": token})))
    opened = await h.open("plivo")
    assert opened.grant.call_id == PENDING_CALL_PREFIX + "abc"
    assert opened.start is not None
    assert opened.start.call_id == "real-uuid"


async def test_generic_path_counts_media_before_start_and_detects_the_carrier() -> None:
    h = Handshake()
    token = await h.tokens.issue("c-1", "plivo")
    codec = PlivoCodec(stream_id="s1")
    h.ws.feed_text(codec.serialize(Media(payload=bytes(160), stream_id="s1", sequence_number=1)))
    h.ws.feed_text(codec.serialize(_start("plivo", "c-1", {"token": token}, stream_id="s1")))
    opened = await h.open()
    assert opened.carrier == "plivo"
    assert opened.codec.carrier == "plivo"
    assert h.counters.dropped_before_start == 1


async def test_a_bare_connected_is_kept_until_start_decides_exotel() -> None:
    """Exotel's ``{"event":"connected"}`` fits Telnyx too: detection waits for ``start``,
    then checks the upgrade's Basic credentials (the generic path accepted the upgrade
    before knowing the carrier)."""
    h = Handshake()
    token = await h.tokens.issue("CA9", "exotel")
    codec = ExotelCodec(stream_id="MZ9")
    h.ws.feed_text(codec.serialize(Connected()))
    h.ws.feed_text(codec.serialize(_start("exotel", "CA9", {"token": token}, stream_id="MZ9")))
    opened = await h.open(headers=EXO_AUTH)
    assert opened.carrier == "exotel"
    assert opened.codec.output_format == EXOTEL_FORMAT
    assert h.counters.dropped_before_start == 0
    assert '"stream_sid":"MZ9"' in str(opened.codec.serialize(Clear()))

    h = Handshake()
    token = await h.tokens.issue("CA9", "exotel")
    h.ws.feed_text(codec.serialize(Connected()))
    h.ws.feed_text(codec.serialize(_start("exotel", "CA9", {"token": token}, stream_id="MZ9")))
    wrong = {"Authorization": basic_authorization(EXO_USER, "guess")}
    assert await h.refused(headers=wrong) == "upgrade credentials refused"
    # refused before the token was looked at: it is still unredeemed
    assert (await h.tokens.redeem(token, "exotel")).call_id == "CA9"


async def test_telnyx_token_from_client_state_header_or_connected() -> None:
    codec = TelnyxCodec(stream_id="st1")
    h = Handshake()
    token = await h.tokens.issue("v3:a", "telnyx")
    state = base64.b64encode(token.encode()).decode()
    h.ws.feed_text(
        codec.serialize(
            _start("telnyx", "v3:a", {}, stream_id="st1", details={"client_state": state})
        )
    )
    assert (await h.open("telnyx")).grant.call_id == "v3:a"

    h = Handshake()
    token = await h.tokens.issue("v3:b", "telnyx")
    h.ws.feed_text(codec.serialize(_start("telnyx", "v3:b", {}, stream_id="st1")))
    opened = await h.open("telnyx", headers={"x-telnyx-streaming-auth-token": token})
    assert opened.grant.call_id == "v3:b"

    h = Handshake()
    token = await h.tokens.issue("v3:c", "telnyx")
    connected = json.dumps(
        {"event": "connected", "version": "1.0.0", "x-telnyx-streaming-auth-token": token}
    )
    h.ws.feed_text(connected)
    h.ws.feed_text(codec.serialize(_start("telnyx", "v3:c", {}, stream_id="st1")))
    assert (await h.open()).grant.call_id == "v3:c"  # detected from connected (has version)


def _text(message: Connected) -> str:
    frame = VonageCodec().serialize(message)
    assert isinstance(frame, str)  # Vonage control messages are text
    return frame


async def test_vonage_opens_with_connected_and_a_bearer_token() -> None:
    h = Handshake()
    token = await h.tokens.issue("uuid-1", "vonage")
    h.ws.feed_text(_text(Connected(media_format=VONAGE, custom_parameters={"token": token})))
    opened = await h.open()
    assert (opened.carrier, opened.start) == ("vonage", None)
    assert isinstance(opened.opening, Connected)

    h = Handshake()
    token = await h.tokens.issue("uuid-2", "vonage")
    h.ws.feed_text(_text(Connected(media_format=VONAGE)))
    opened = await h.open("vonage", headers={"Authorization": f"Bearer {token}"})
    assert opened.grant.call_id == "uuid-2"


async def test_garbage_limits_and_endings() -> None:
    h = Handshake(max_frames_before_start=3)
    for _ in range(4):
        h.ws.feed_text('{"event":"media"}')
    assert await h.refused() == "too many frames before start"
    assert h.counters.dropped_before_start == 4

    h = Handshake()
    h.ws.feed_text("{not json")
    h.ws.feed_text("{not json")
    h.ws.feed_close(1001)
    with pytest.raises(StreamRejected) as info:
        await h.open("twilio")
    assert (info.value.reason, info.value.code) == ("closed before start", 1001)
    assert h.counters.dropped_invalid == 2
    assert h.ws.closed_by == "carrier"

    h = Handshake(start_timeout_s=0.05)  # nothing ever arrives
    assert await h.refused("twilio") == "no start before the deadline"


async def test_a_detected_carrier_without_a_gateway_is_refused() -> None:
    h = Handshake()
    del h.profiles["twilio"]
    token = await h.tokens.issue("CA1", "twilio")
    h.ws.feed_text(
        TwilioCodec(stream_id="MZ1").serialize(_start("twilio", "CA1", {"token": token}))
    )
    assert await h.refused() == "no gateway for carrier twilio"


@pytest.mark.parametrize(
    "frame",
    [
        "[" * 60000,  # deeper than Python's recursion limit
        '{"event":"start","sequenceNumber":' + "9" * 5000 + "}",  # over 4300 digits
        b"\xff\xfe\xfd",  # binary, not UTF-8
        "\ud800",  # a lone surrogate
    ],
    ids=["deep-nesting", "huge-number", "binary", "lone-surrogate"],
)
async def test_hostile_first_frames_are_counted_then_closed_1007(frame: str | bytes) -> None:
    h = Handshake(max_invalid_frames=2)
    for _ in range(3):
        if isinstance(frame, bytes):
            h.ws.feed_bytes(frame)
        else:
            h.ws.feed_text(frame)
    with pytest.raises(StreamRejected) as info:
        await h.open()
    assert (info.value.reason, info.value.code) == ("too many invalid frames before start", 1007)
    assert h.counters.dropped_invalid == 3
    assert h.ws.closed_by == "shim"
