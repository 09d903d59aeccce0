"""Warm transfer's LiveKit side: who is handed over, what the trunk dials, how LiveKit's
answers become our errors, and which routes support it."""

from __future__ import annotations

from typing import Any

import pytest
from livekit import api

from omnivoice_rtc._errors import ConfigError, ProviderError, SIPCallError
from omnivoice_rtc.calls.control import END_REASON_ATTRIBUTE, CallAction, parse_transfer_target
from omnivoice_rtc.calls.warm_transfer import (
    CARRIER_UNSUPPORTED_REASON,
    ROLE_ATTRIBUTE,
    TRANSFER_TARGET_ROLE,
    WARM_TRANSFERRED,
    call_to,
    dial_transfer_target,
    is_handed_over,
    is_transfer_target,
    remove_transfer_target,
    resolve_outbound_trunk,
    set_subscribed,
)
from omnivoice_rtc.carriers.exotel import ExotelProfile, ExotelSettings
from omnivoice_rtc.carriers.plivo import PlivoProfile, PlivoSettings
from omnivoice_rtc.carriers.telnyx import TelnyxProfile, TelnyxSettings
from omnivoice_rtc.carriers.twilio import TwilioProfile, TwilioSettings
from omnivoice_rtc.carriers.vonage import VonageProfile, VonageSettings

pytestmark = pytest.mark.unit


class _Sip:
    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.requests: list[api.CreateSIPParticipantRequest] = []

    async def create_sip_participant(self, request: api.CreateSIPParticipantRequest) -> Any:
        self.requests.append(request)
        if self.error is not None:
            raise self.error
        return api.SIPParticipantInfo()

    async def list_outbound_trunk(self, _request: Any) -> Any:
        return api.ListSIPOutboundTrunkResponse(
            items=[api.SIPOutboundTrunkInfo(sip_trunk_id="ST_abc", name="desk-out")]
        )


class _Room:
    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.calls: list[Any] = []

    async def update_subscriptions(self, request: api.UpdateSubscriptionsRequest) -> Any:
        self.calls.append(request)
        if self.error is not None:
            raise self.error
        return api.UpdateSubscriptionsResponse()

    async def remove_participant(self, request: api.RoomParticipantIdentity) -> Any:
        self.calls.append(request)
        if self.error is not None:
            raise self.error
        return api.RemoveParticipantResponse()


class _Api:
    def __init__(self, *, sip: _Sip | None = None, room: _Room | None = None) -> None:
        self.sip = sip or _Sip()
        self.room = room or _Room()


def _lk(fake: _Api) -> api.LiveKitAPI:
    return fake  # type: ignore[return-value]  # reason: a stand-in with the calls used


def test_the_human_and_the_connected_caller_are_handed_over() -> None:
    assert is_transfer_target({ROLE_ATTRIBUTE: TRANSFER_TARGET_ROLE})
    assert not is_transfer_target({ROLE_ATTRIBUTE: "caller"})
    assert not is_transfer_target({})
    assert is_handed_over({ROLE_ATTRIBUTE: TRANSFER_TARGET_ROLE})
    assert is_handed_over({END_REASON_ATTRIBUTE: WARM_TRANSFERRED})
    assert not is_handed_over({END_REASON_ATTRIBUTE: "transferred"})
    assert not is_handed_over({"sip.phoneNumber": "+15550100"})


def test_the_trunk_dials_a_number_or_a_sip_uris_user() -> None:
    assert call_to(parse_transfer_target("tel:+15550100")) == "+15550100"
    assert call_to(parse_transfer_target("sip:desk@pbx.example.com")) == "desk"


async def test_dialling_asks_for_an_answered_call_marked_as_the_target() -> None:
    fake = _Api()
    await dial_transfer_target(
        _lk(fake),
        room="sip-1",
        identity="transfer-1",
        trunk_id="ST_abc",
        target=parse_transfer_target("+15550100"),
        ring_timeout_s=12,
    )
    (request,) = fake.sip.requests
    assert request.sip_trunk_id == "ST_abc"
    assert request.sip_call_to == "+15550100"
    assert request.room_name == "sip-1"
    assert request.participant_identity == "transfer-1"
    assert dict(request.participant_attributes) == {ROLE_ATTRIBUTE: TRANSFER_TARGET_ROLE}
    assert request.wait_until_answered
    assert request.ringing_timeout.seconds == 12


async def test_not_answered_is_a_sip_call_error_with_the_status() -> None:
    busy = api.SipCallError(
        api.TwirpErrorCode.RESOURCE_EXHAUSTED,
        "busy",
        status=486,
        metadata={"sip_status_code": "486", "sip_status": "Busy Here"},
    )
    fake = _Api(sip=_Sip(busy))
    with pytest.raises(SIPCallError) as info:
        await dial_transfer_target(
            _lk(fake),
            room="r",
            identity="t",
            trunk_id="ST_abc",
            target=parse_transfer_target("+15550100"),
        )
    assert info.value.sip_status_code == 486
    assert "did not answer" in str(info.value)


async def test_a_livekit_refusal_is_a_provider_error() -> None:
    fake = _Api(sip=_Sip(api.TwirpError(api.TwirpErrorCode.INTERNAL, "boom", status=500)))
    with pytest.raises(ProviderError, match="CreateSIPParticipant failed") as info:
        await dial_transfer_target(
            _lk(fake),
            room="r",
            identity="t",
            trunk_id="ST_abc",
            target=parse_transfer_target("+15550100"),
        )
    assert not isinstance(info.value, SIPCallError)


async def test_the_trunk_is_found_by_name_or_id() -> None:
    fake = _Api()
    assert await resolve_outbound_trunk(_lk(fake), "desk-out") == "ST_abc"
    assert await resolve_outbound_trunk(_lk(fake), "ST_abc") == "ST_abc"
    with pytest.raises(ConfigError, match="no outbound trunk is named"):
        await resolve_outbound_trunk(_lk(fake), "other")
    with pytest.raises(ConfigError, match="no outbound trunk configured"):
        await resolve_outbound_trunk(_lk(fake), "")


async def test_subscriptions_are_changed_through_the_server_api() -> None:
    fake = _Api()
    await set_subscribed(_lk(fake), room="r", identity="caller", track_sids=[], subscribe=False)
    assert fake.room.calls == []  # nothing to change
    await set_subscribed(
        _lk(fake), room="r", identity="caller", track_sids=["TR_1"], subscribe=False
    )
    (request,) = fake.room.calls
    assert (request.room, request.identity, list(request.track_sids), request.subscribe) == (
        "r",
        "caller",
        ["TR_1"],
        False,
    )
    failing = _Api(room=_Room(api.TwirpError(api.TwirpErrorCode.INTERNAL, "no", status=500)))
    with pytest.raises(ProviderError, match="UpdateSubscriptions failed"):
        await set_subscribed(_lk(failing), room="r", identity="c", track_sids=["T"], subscribe=True)


async def test_removing_a_human_who_is_gone_is_fine() -> None:
    gone = _Api(room=_Room(api.TwirpError(api.TwirpErrorCode.NOT_FOUND, "gone", status=500)))
    await remove_transfer_target(_lk(gone), room="r", identity="t")
    failing = _Api(room=_Room(api.TwirpError(api.TwirpErrorCode.INTERNAL, "no", status=500)))
    with pytest.raises(ProviderError, match="RemoveParticipant failed"):
        await remove_transfer_target(_lk(failing), room="r", identity="t")


@pytest.mark.parametrize(
    "profile",
    [
        TwilioProfile(settings=TwilioSettings(account_sid="AC1", auth_token="tok")),
        TelnyxProfile(settings=TelnyxSettings()),
        VonageProfile(settings=VonageSettings()),
        PlivoProfile(settings=PlivoSettings()),
        ExotelProfile(settings=ExotelSettings()),
    ],
)
def test_carrier_routes_do_not_support_it_and_say_why(profile: Any) -> None:
    caps = profile.capabilities(can_serve_documents=True)
    assert not caps.supports(CallAction.WARM_TRANSFER)
    assert caps.unsupported[CallAction.WARM_TRANSFER] == CARRIER_UNSUPPORTED_REASON
    assert "plays only the agent's track" in CARRIER_UNSUPPORTED_REASON
    assert "make_call" in CARRIER_UNSUPPORTED_REASON
