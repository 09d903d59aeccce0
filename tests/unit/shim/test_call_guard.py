"""CallGuard through the gateway, without sockets: replays get no token on any carrier,
answered call ids are remembered (and given back after a server error), webhook rates,
the live-call claim (1008) and the caps (1013), make_call's outbound guard and the drop of
dialled calls whose stream never comes."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from typing import Any
from urllib.parse import urlencode

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from omnivoice_rtc._errors import ConfigError, LimitError, SignatureError
from omnivoice_rtc.carriers import telnyx as telnyx_api
from omnivoice_rtc.carriers import vonage as vonage_api
from omnivoice_rtc.carriers.plivo import PlivoProfile, PlivoSettings, compute_signature_v3
from omnivoice_rtc.carriers.profile import WebhookAnswer, WebhookRequest
from omnivoice_rtc.carriers.registry import AnyProfile
from omnivoice_rtc.carriers.telnyx import TelnyxProfile, TelnyxRestClient, TelnyxSettings
from omnivoice_rtc.carriers.twilio import (
    TwilioProfile,
    TwilioRestClient,
    TwilioSettings,
    compute_signature,
)
from omnivoice_rtc.carriers.vonage import VonageProfile, VonageSettings
from omnivoice_rtc.settings import (
    CallSetupLimits,
    IngressLimits,
    LimitSettings,
    LiveKitSettings,
    OutboundLimits,
)
from omnivoice_rtc.shim.call_guard import CallGuard, CallLease, Refused
from omnivoice_rtc.shim.media_stream_gateway import MediaStreamGateway, ShimRuntime

pytestmark = pytest.mark.unit

BASE = "https://voice.example.com"
VONAGE_SECRET = "vonage-signature-secret-of-32-bytes!"


def _gateway(
    profile: AnyProfile, *, guard: CallGuard | None = None, public_base_url: str = ""
) -> MediaStreamGateway:
    runtime = ShimRuntime(livekit=LiveKitSettings(), agent_name="a", guard=guard or CallGuard())
    return MediaStreamGateway(profile=profile, runtime=runtime, public_base_url=public_base_url)


def _has_token(answer: WebhookAnswer) -> bool:
    return "token" in answer.body


# ------------------------------------------------------------------ signed requests


def _twilio_hook(call_id: str = "CA1", **extra: str) -> WebhookRequest:
    fields = {"CallSid": call_id, "From": "+15550100", "To": "+15550199", **extra}
    url = f"{BASE}/carriers/twilio/answer"
    return WebhookRequest(
        method="POST",
        url=url,
        headers={"X-Twilio-Signature": compute_signature("tw", url, fields)},
        query=[],
        form=fields,
        raw_body=urlencode(fields).encode(),
    )


def _plivo_hook(nonce: str, call_id: str = "uuid-1") -> WebhookRequest:
    fields = {"CallUUID": call_id, "From": "15550100", "To": "15550199"}
    url = f"{BASE}/carriers/plivo/answer"
    signature = compute_signature_v3(
        auth_token="pt", url=url, nonce=nonce, method="POST", params=fields
    )
    return WebhookRequest(
        method="POST",
        url=url,
        headers={"X-Plivo-Signature-V3": signature, "X-Plivo-Signature-V3-Nonce": nonce},
        query=[],
        form=fields,
        raw_body=urlencode(fields).encode(),
    )


def _vonage_hook(*, issued_at: int | None = None, call_id: str = "uuid-v") -> WebhookRequest:
    query = [("uuid", call_id), ("from", "15550100"), ("to", "15550199")]
    token = vonage_api.make_signed_webhook_jwt(
        signature_secret=VONAGE_SECRET,
        api_key="key1",
        payload_hash=vonage_api.query_payload_hash(query),
        issued_at=issued_at,
    )
    return WebhookRequest(
        method="GET",
        url=f"{BASE}/carriers/vonage/answer?{urlencode(query)}",
        headers={"Authorization": f"Bearer {token}"},
        query=query,
        form={},
        raw_body=b"",
    )


TELNYX_KEY = Ed25519PrivateKey.generate()


def _telnyx_settings(**kw: Any) -> TelnyxSettings:
    raw = TELNYX_KEY.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    return TelnyxSettings(public_key=base64.b64encode(raw).decode(), **kw)


def _telnyx_cc_hook(call_id: str = "v3:abc", attempt: int = 1) -> WebhookRequest:
    body = json.dumps(
        {
            "data": {
                "event_type": "call.initiated",
                "payload": {
                    "call_control_id": call_id,
                    "from": "+15550100",
                    "to": "+15550199",
                    "direction": "incoming",
                    "connection_id": "conn-1",
                },
            },
            "meta": {"attempt": attempt},
        }
    ).encode()
    ts = str(int(time.time()))
    return WebhookRequest(
        method="POST",
        url=f"{BASE}/carriers/telnyx/answer",
        headers={
            "telnyx-timestamp": ts,
            "telnyx-signature-ed25519": telnyx_api.sign_webhook(TELNYX_KEY, ts, body),
        },
        query=[],
        form={},
        raw_body=body,
    )


class _TelnyxAnswers(TelnyxRestClient):
    def __init__(self) -> None:
        super().__init__(api_key="KEY")
        self.answered: list[tuple[str, str]] = []
        self.fail = False

    async def answer(
        self,
        call_control_id: str,
        *,
        stream_url: str,
        stream_token: str | None = None,
        codec: str = "PCMU",
    ) -> None:
        if self.fail:
            raise LimitError("simulated", limit="x")  # a server error for the gateway
        self.answered.append((call_control_id, stream_url))


# ------------------------------------------------------------------ replays


async def test_twilio_identical_replay_and_fresh_duplicate_get_409_and_no_token() -> None:
    gateway = _gateway(TwilioProfile(settings=TwilioSettings(auth_token="tw")))
    await gateway.start()
    first = await gateway.answer_webhook(_twilio_hook(), base_url=BASE)
    assert first.status == 200
    assert _has_token(first)
    for _ in range(3):
        again = await gateway.answer_webhook(_twilio_hook(), base_url=BASE)
        assert (again.status, again.body) == (409, "call already answered")
    assert await gateway.runtime.tokens.pending() == 1
    other = await gateway.answer_webhook(_twilio_hook("CA2"), base_url=BASE)
    assert other.status == 200
    assert _has_token(other)


async def test_plivo_nonce_is_accepted_once() -> None:
    gateway = _gateway(PlivoProfile(settings=PlivoSettings(auth_token="pt")))
    await gateway.start()
    assert (await gateway.answer_webhook(_plivo_hook("111"), base_url=BASE)).status == 200
    replay = await gateway.answer_webhook(_plivo_hook("111"), base_url=BASE)
    assert (replay.status, replay.body) == (403, "replayed request")
    fresh = await gateway.answer_webhook(_plivo_hook("222"), base_url=BASE)
    assert fresh.status == 409  # a new nonce, but the call was answered
    other_call = await gateway.answer_webhook(_plivo_hook("111", "uuid-2"), base_url=BASE)
    assert other_call.status == 403  # the nonce, not the call, makes it a replay


async def test_vonage_needs_a_recent_iat_and_a_fresh_jti() -> None:
    gateway = _gateway(VonageProfile(settings=VonageSettings(signature_secret=VONAGE_SECRET)))
    await gateway.start()
    old = await gateway.answer_webhook(
        _vonage_hook(issued_at=int(time.time()) - 600), base_url=BASE
    )
    assert old.status == 403
    hook = _vonage_hook()
    assert (await gateway.answer_webhook(hook, base_url=BASE)).status == 200
    assert (await gateway.answer_webhook(hook, base_url=BASE)).status == 403  # same jti
    no_iat = jwt.encode({"api_key": "k"}, VONAGE_SECRET, algorithm="HS256")
    with pytest.raises(SignatureError, match=r"^vonage: signed-webhook JWT has no iat claim$"):
        vonage_api.verify_signed_webhook(
            signature_secret=VONAGE_SECRET, authorization=f"Bearer {no_iat}", max_age_s=300
        )


async def test_telnyx_call_control_duplicate_is_acknowledged_not_answered_again() -> None:
    rest = _TelnyxAnswers()
    gateway = _gateway(
        TelnyxProfile(settings=_telnyx_settings(api_key="KEY"), rest=rest),
        public_base_url=BASE,
    )
    await gateway.start()
    assert (await gateway.answer_webhook(_telnyx_cc_hook(), base_url="http://evil")).status == 200
    assert rest.answered == [("v3:abc", "wss://voice.example.com/carriers/telnyx/media")]
    identical = await gateway.answer_webhook(_telnyx_cc_hook(), base_url=BASE)
    assert (identical.status, identical.body) == (403, "replayed request")  # same signature
    duplicate = await gateway.answer_webhook(_telnyx_cc_hook(attempt=2), base_url=BASE)
    assert (duplicate.status, duplicate.body) == (200, "{}")  # Telnyx retries non-2xx
    assert len(rest.answered) == 1


async def test_a_server_error_gives_the_answered_id_back_for_the_carriers_retry() -> None:
    rest = _TelnyxAnswers()
    rest.fail = True
    gateway = _gateway(
        TelnyxProfile(settings=_telnyx_settings(api_key="KEY"), rest=rest),
        public_base_url=BASE,
    )
    await gateway.start()
    assert (await gateway.answer_webhook(_telnyx_cc_hook(), base_url=BASE)).status == 503
    rest.fail = False
    retry = await gateway.answer_webhook(_telnyx_cc_hook(attempt=2), base_url=BASE)
    assert retry.status == 200
    assert len(rest.answered) == 1


async def test_call_control_without_a_public_url_is_not_answered_from_the_host_header() -> None:
    rest = _TelnyxAnswers()
    gateway = _gateway(TelnyxProfile(settings=_telnyx_settings(api_key="KEY"), rest=rest))
    await gateway.start()
    answer = await gateway.answer_webhook(_telnyx_cc_hook(), base_url="https://attacker.example")
    assert answer.status == 503
    assert answer.body.startswith("OMNIVOICE_PUBLIC_URL: required to answer telnyx calls over")
    assert rest.answered == []


async def test_markup_offers_ws_only_to_loopback() -> None:
    gateway = _gateway(PlivoProfile(settings=PlivoSettings(auth_token="pt")))
    await gateway.start()
    plain = await gateway.answer_webhook(_plivo_hook("1"), base_url="http://voice.example.com")
    assert plain.status == 503
    assert plain.body.startswith("OMNIVOICE_PUBLIC_URL: the webhook came over plain http")
    local = await gateway.answer_webhook(_plivo_hook("2", "u2"), base_url="http://127.0.0.1:8080")
    assert local.status == 200
    assert ">ws://127.0.0.1:8080/carriers/plivo/media</Stream>" in local.body


async def test_webhook_rate_per_account() -> None:
    limits = LimitSettings(ingress=IngressLimits(webhooks_per_min_per_account=2))
    gateway = _gateway(
        TwilioProfile(settings=TwilioSettings(auth_token="tw")), guard=CallGuard(limits=limits)
    )
    await gateway.start()
    for i in range(2):
        hook = _twilio_hook(f"CA{i}", AccountSid="AC1")
        assert (await gateway.answer_webhook(hook, base_url=BASE)).status == 200
    limited = await gateway.answer_webhook(_twilio_hook("CA9", AccountSid="AC1"), base_url=BASE)
    assert (limited.status, limited.body) == (
        429,
        "too many webhooks: at most 2 per minute per account",
    )
    other = await gateway.answer_webhook(_twilio_hook("CA8", AccountSid="AC2"), base_url=BASE)
    assert other.status == 200


async def test_over_long_parties_are_refused() -> None:
    gateway = _gateway(TwilioProfile(settings=TwilioSettings(auth_token="tw")))
    await gateway.start()
    hook = _twilio_hook("CA1", To="+1" + "9" * 400)
    answer = await gateway.answer_webhook(hook, base_url=BASE)
    assert (answer.status, answer.body) == (400, "twilio: to longer than 256 characters")


# ------------------------------------------------------------------ streams


async def test_a_second_stream_for_a_live_call_is_refused_1008() -> None:
    guard = CallGuard()
    first = await guard.start_call("twilio", "CA1", "198.51.100.7")
    assert isinstance(first, CallLease)
    second = await guard.start_call("twilio", "CA1", "203.0.113.9")
    assert second == Refused(1008, "the call already has a live stream")
    await first.release()
    again = await guard.start_call("twilio", "CA1", "203.0.113.9")
    assert isinstance(again, CallLease)
    await again.release()
    await guard.aclose()


async def test_call_and_socket_caps_close_1013() -> None:
    limits = LimitSettings(
        ingress=IngressLimits(
            max_calls=3,
            max_calls_per_address=1,
            max_media_sockets=2,
            max_media_sockets_per_address=5,
        )
    )
    guard = CallGuard(limits=limits)
    a = await guard.start_call("twilio", "CA1", "198.51.100.7")
    assert isinstance(a, CallLease)
    per_address = await guard.start_call("twilio", "CA2", "198.51.100.7")
    assert per_address == Refused(1013, "too many calls; try again later")
    assert await guard.registry.owner_of("twilio", "CA2") is None  # the claim was given back
    b = await guard.start_call("twilio", "CA2", "198.51.100.8")
    assert isinstance(b, CallLease)
    sockets = [await guard.open_socket("192.0.2.1") for _ in range(3)]
    assert sockets[2] == Refused(1013, "too many media streams in all; try again later")
    for lease in (a, b, *sockets):
        if not isinstance(lease, Refused):
            await lease.release()
    assert await guard.state.count_slots("calls") == 0
    assert await guard.state.count_slots("sockets") == 0
    await guard.aclose()


async def test_the_answered_window_starts_when_the_call_ends() -> None:
    limits = LimitSettings(call_setup=CallSetupLimits(answered_call_window_s=60))
    guard = CallGuard(limits=limits)
    key = await guard.claim_answer("twilio", "CA1")
    assert key == "answered:twilio:CA1"
    lease = await guard.start_call("twilio", "CA1", "198.51.100.7")
    assert isinstance(lease, CallLease)
    await lease.release()
    assert await guard.claim_answer("twilio", "CA1") is None  # still within the window
    await guard.aclose()


# ------------------------------------------------------------------ make_call


class _TwilioDialler(TwilioRestClient):
    def __init__(self) -> None:
        super().__init__(account_sid="AC1", auth_token="tw")
        self.dials: list[str] = []

    async def make_call(
        self, *, to: str, from_: str, twiml: str, status_callback: str | None = None
    ) -> str:
        self.dials.append(to)
        return f"CA{len(self.dials)}"


def _dialler(**outbound: Any) -> tuple[MediaStreamGateway, _TwilioDialler]:
    rest = _TwilioDialler()
    profile = TwilioProfile(settings=TwilioSettings(auth_token="tw", account_sid="AC1"), rest=rest)
    guard = CallGuard(limits=LimitSettings(outbound=OutboundLimits(**outbound)))
    return _gateway(profile, guard=guard, public_base_url=BASE), rest


async def test_make_call_is_refused_outside_the_allow_list_before_dialling() -> None:
    closed, rest = _dialler()
    with pytest.raises(ConfigError, match=r"^OMNIVOICE_OUTBOUND_ALLOW: "):
        await closed.make_call("+15550100")
    gateway, rest = _dialler(allow=("+1415",))
    with pytest.raises(LimitError, match=r"not in OMNIVOICE_OUTBOUND_ALLOW"):
        await gateway.make_call("+900555")
    assert rest.dials == []
    assert await gateway.runtime.tokens.pending() == 0
    session = await gateway.make_call("+14155550100")
    assert rest.dials == ["+14155550100"]
    assert session.id == "CA1"


async def test_outbound_concurrency_and_the_drop_of_calls_that_never_stream(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    gateway, rest = _dialler(allow=("*",), max_concurrent=1)
    first = await gateway.make_call("+1")
    with pytest.raises(LimitError, match=r"1 outbound calls are in progress"):
        await gateway.make_call("+2")
    assert rest.dials == ["+1"]
    # the carrier never connects: once the token and its grace have passed, the call is
    # dropped and its slot is free
    loop = asyncio.get_running_loop()
    real_time = loop.time
    skew = gateway.runtime.tokens.ttl_s + 10
    with monkeypatch.context() as patch:  # the loop clock past the deadline, for one call
        patch.setattr(loop, "time", lambda: real_time() + skew)
        second = await gateway.make_call("+2")
    assert first.closed
    assert first.end_reason == "no_stream"
    assert gateway.get_session("CA1") is None
    assert second.id == "CA2"
    await gateway.stop()
    assert await gateway.runtime.guard.outbound.in_progress() == 0


async def test_webhook_rate_per_client_address_comes_before_the_signature() -> None:
    from aiohttp.test_utils import make_mocked_request

    limits = LimitSettings(ingress=IngressLimits(webhooks_per_min_per_address=1))
    gateway = _gateway(
        TwilioProfile(settings=TwilioSettings(auth_token="tw")), guard=CallGuard(limits=limits)
    )
    await gateway.start()
    unsigned = make_mocked_request("POST", "/carriers/twilio/answer")
    assert (await gateway.handle_webhook(unsigned)).status == 403  # counted, then refused
    limited = await gateway.handle_webhook(make_mocked_request("POST", "/carriers/twilio/answer"))
    assert (limited.status, limited.text) == (
        429,
        "too many webhooks: at most 1 per minute per address",
    )
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
