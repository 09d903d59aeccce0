"""The gateway without sockets: the injectable room factory and the caller's attributes;
plus the gateway harness (:func:`_started`) the webhook and dialling tests share
(``test_webhook_answer.py``, ``test_carrier_dialler.py``).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from omnivoice_rtc.audio.format import TWILIO
from omnivoice_rtc.carriers.registry import AnyProfile
from omnivoice_rtc.carriers.stream_tokens import StreamGrant
from omnivoice_rtc.carriers.twilio import TwilioProfile, TwilioSettings
from omnivoice_rtc.media_streams.messages import Start
from omnivoice_rtc.media_streams.twilio import TwilioCodec
from omnivoice_rtc.settings import LiveKitSettings
from omnivoice_rtc.shim.call_room import CallRoomBase, CallRoomSpec, RoomCallbacks
from omnivoice_rtc.shim.handshake import OpenedStream
from omnivoice_rtc.shim.media_stream_gateway import (
    MediaStreamGateway,
    ShimRuntime,
    call_parameter_attributes,
)
from omnivoice_rtc.shim.policy import CallCounters
from tests.fakes.fake_call_room import FakeCallRoom
from tests.fakes.media_socket import FakeMediaSocket

pytestmark = pytest.mark.unit

BASE = "https://voice.example.com"
TWILIO_TOKEN = "twilio-auth-token"


def _gateway(profile: AnyProfile, **runtime: Any) -> MediaStreamGateway:
    rt = ShimRuntime(livekit=LiveKitSettings(), agent_name="agent", **runtime)
    return MediaStreamGateway(profile=profile, runtime=rt)


async def _started(profile: AnyProfile, **runtime: Any) -> MediaStreamGateway:
    gateway = _gateway(profile, **runtime)
    await gateway.start()
    return gateway


def _twilio() -> TwilioProfile:
    return TwilioProfile(settings=TwilioSettings(auth_token=TWILIO_TOKEN))


def test_the_room_factory_is_injectable() -> None:
    made: list[tuple[CallRoomSpec, RoomCallbacks]] = []
    sentinel: Any = object()

    def factory(spec: CallRoomSpec, callbacks: RoomCallbacks) -> CallRoomBase:
        made.append((spec, callbacks))
        result: CallRoomBase = sentinel
        return result

    runtime = ShimRuntime(livekit=LiveKitSettings(), agent_name="a", room_factory=factory)
    spec: Any = object()
    callbacks = RoomCallbacks()
    assert runtime.new_room(spec, callbacks) is sentinel
    assert made == [(spec, callbacks)]


def test_custom_parameters_become_prefixed_attributes_without_the_token() -> None:
    assert call_parameter_attributes({"token": "secret", "customer": "42", "": "x"}) == {
        "omnivoice.param.customer": "42"
    }


async def test_the_callers_attributes_carry_the_streams_custom_parameters() -> None:
    """run_stream puts the start message's custom parameters (Twilio ``<Parameter>``) in the
    caller participant's attributes under ``omnivoice.param.``; the token stays out."""
    specs: list[CallRoomSpec] = []

    def factory(spec: CallRoomSpec, callbacks: RoomCallbacks) -> CallRoomBase:
        specs.append(spec)
        return FakeCallRoom(spec=spec, callbacks=callbacks)

    gateway = await _started(_twilio(), room_factory=factory)
    start = Start(
        call_id="CA9",
        stream_id="MZ9",
        custom_parameters={"token": "t0k", "customer_id": "c-17", "lang": "en"},
        media_format=TWILIO,
        wire_encoding="audio/x-mulaw",
    )
    opened = OpenedStream(
        carrier="twilio",
        profile=gateway.profile,
        codec=TwilioCodec(stream_id="MZ9"),
        opening=start,
        grant=StreamGrant(
            call_id="CA9",
            carrier="twilio",
            issued_at=0.0,
            context={"from": "+15550100", "to": "+15550199", "direction": "inbound"},
        ),
        start=start,
    )
    ws = FakeMediaSocket()
    ws.feed_close()
    await asyncio.wait_for(gateway.run_stream(ws, opened, CallCounters()), 10)
    assert specs[0].attributes == {
        "carrier": "twilio",
        "call_id": "CA9",
        "from": "+15550100",
        "to": "+15550199",
        "direction": "inbound",
        "omnivoice.param.customer_id": "c-17",
        "omnivoice.param.lang": "en",
    }
