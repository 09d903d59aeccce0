"""Two replicas sharing one real redis-server (``RedisStateStore``): a token issued by one
is redeemed by the other, a webhook answered by one is refused by the other, a live call
claimed by one cannot get a second stream on the other, and limits count together."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import urlencode

import pytest

from omnivoice_rtc._errors import LimitError, StreamTokenError
from omnivoice_rtc.carriers.profile import WebhookRequest
from omnivoice_rtc.carriers.twilio import TwilioProfile, TwilioSettings, compute_signature
from omnivoice_rtc.settings import LimitSettings, LiveKitSettings, OutboundLimits
from omnivoice_rtc.shim.call_guard import CallGuard, CallLease, Refused
from omnivoice_rtc.shim.media_stream_gateway import MediaStreamGateway, ShimRuntime
from omnivoice_rtc.state import RedisStateStore
from tests.plugins.redis_server import RedisServer

pytestmark = pytest.mark.integration

BASE = "https://voice.example.com"


@pytest.fixture
async def replicas(redis_server: RedisServer) -> AsyncIterator[tuple[CallGuard, CallGuard]]:
    prefix = redis_server.new_prefix()
    limits = LimitSettings(outbound=OutboundLimits(allow=("*",), max_concurrent=1))
    stores = [RedisStateStore(url=redis_server.url, prefix=prefix) for _ in range(2)]
    guards = (
        CallGuard(state=stores[0], limits=limits, replica_id="replica-a"),
        CallGuard(state=stores[1], limits=limits, replica_id="replica-b"),
    )
    try:
        yield guards
    finally:
        for guard in guards:
            await guard.aclose()
            await guard.state.aclose()


def _gateway(guard: CallGuard) -> MediaStreamGateway:
    runtime = ShimRuntime(livekit=LiveKitSettings(), agent_name="a", guard=guard)
    return MediaStreamGateway(
        profile=TwilioProfile(settings=TwilioSettings(auth_token="tw")), runtime=runtime
    )


def _hook() -> WebhookRequest:
    fields = {"CallSid": "CA-shared", "From": "+15550100", "To": "+15550199"}
    url = f"{BASE}/carriers/twilio/answer"
    return WebhookRequest(
        method="POST",
        url=url,
        headers={"X-Twilio-Signature": compute_signature("tw", url, fields)},
        query=[],
        form=fields,
        raw_body=urlencode(fields).encode(),
    )


async def test_a_token_issued_by_one_replica_is_redeemed_once_by_another(
    replicas: tuple[CallGuard, CallGuard],
) -> None:
    a, b = replicas
    token = await a.tokens.issue("CA1", "twilio", source="AC1")
    assert await b.tokens.pending() == 1
    assert (await b.tokens.redeem(token, "twilio")).call_id == "CA1"
    with pytest.raises(StreamTokenError) as info:
        await a.tokens.redeem(token, "twilio")
    assert info.value.reason == "used"
    assert await a.tokens.pending() == 0


async def test_a_webhook_answered_by_one_replica_is_refused_by_the_other(
    replicas: tuple[CallGuard, CallGuard],
) -> None:
    a, b = (_gateway(g) for g in replicas)
    await a.start()
    await b.start()
    first = await a.answer_webhook(_hook(), base_url=BASE)
    assert first.status == 200
    replay = await b.answer_webhook(_hook(), base_url=BASE)
    assert (replay.status, replay.body) == (409, "call already answered")


async def test_a_live_call_on_one_replica_gets_no_second_stream_on_the_other(
    replicas: tuple[CallGuard, CallGuard],
) -> None:
    a, b = replicas
    live = await a.start_call("twilio", "CA1", "198.51.100.7")
    assert isinstance(live, CallLease)
    assert (await b.registry.owner_of("twilio", "CA1") or "").startswith("replica-a/")
    assert await b.start_call("twilio", "CA1", "198.51.100.7") == Refused(
        1008, "the call already has a live stream"
    )
    await live.release()
    again = await b.start_call("twilio", "CA1", "198.51.100.7")
    assert isinstance(again, CallLease)
    await again.release()


async def test_outbound_concurrency_counts_across_replicas(
    replicas: tuple[CallGuard, CallGuard],
) -> None:
    a, b = replicas
    lease = await a.outbound.admit("+15550100")
    with pytest.raises(LimitError, match=r"1 outbound calls are in progress"):
        await b.outbound.admit("+15550101")
    await lease.release()
    await (await b.outbound.admit("+15550101")).release()
