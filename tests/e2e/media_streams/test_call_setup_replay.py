"""Replay-proof call setup, per carrier, against the shim over TLS and a real livekit-server.

The bug this reproduces (issue "Safe to put a phone number on"): re-POSTing the identical,
correctly signed voice webhook during a live call returned a fresh stream token, whose
stream joined the call's room under the caller's identity; livekit-server then removed
the live caller (``DUPLICATE_IDENTITY``) and the real call ended. Now, on every carrier:

* the identical signed request again gets no token (403 where the carrier signs a nonce,
  a JWT id or a signature: Plivo, Vonage, Telnyx; 409 "already answered" otherwise);
* a freshly signed duplicate for the answered call id gets no token either (409);
* even a valid token for the live call's id (as a replay used to get) opens no second
  stream: closed with 1008 before it joins the room, and the live caller stays in the
  room with its audio still flowing.

The figures docs/reliability.md quotes: replayed webhooks admitted 0, live calls cut by
another request 0.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from urllib.parse import urlencode

import pytest
from livekit import api

from omnivoice_rtc.carriers import vonage as vonage_api
from omnivoice_rtc.carriers.registry import carrier_names
from omnivoice_rtc.shim.rtc_call_room import call_participant_identity, call_room_name
from omnivoice_rtc.simulate.carrier_simulator import CarrierSimulator, StreamTarget
from tests.e2e.media_streams.conftest import ShimServer
from tests.e2e.media_streams.helpers import until, wait_for_session
from tests.fakes.carrier_webhooks import exotel_headers, signature_headers

pytestmark = pytest.mark.e2e

REPLAY_STATUS = {"twilio": 409, "telnyx": 403, "vonage": 403, "plivo": 403, "exotel": 409}
"""What the identical request gets again: 403 where the request carries something unique
that is remembered (Telnyx signature, Vonage jti, Plivo nonce); 409 where only the answered
call id tells (Twilio and Exotel sign nothing unique)."""


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """One answer webhook exactly as the carrier sent it, to be sent again byte for byte."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes


def answer_request(sim: CarrierSimulator) -> SignedRequest:
    """The carrier's answer webhook for ``sim``'s call, signed once."""
    fields = sim.webhook_fields()
    url = sim.answer_url()
    if sim.carrier == "exotel":
        return SignedRequest("GET", f"{url}?{urlencode(fields)}", exotel_headers(sim.secrets), b"")
    if sim.carrier == "vonage":
        token = vonage_api.make_signed_webhook_jwt(
            signature_secret=sim.secrets.vonage_signature_secret,
            api_key=sim.secrets.vonage_api_key,
            payload_hash=vonage_api.query_payload_hash(list(fields.items())),
        )
        headers = {"Authorization": f"Bearer {token}"}
        return SignedRequest("GET", f"{url}?{urlencode(fields)}", headers, b"")
    body = urlencode(fields).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    headers.update(
        signature_headers(sim.carrier, sim.secrets, url=url, fields=fields, body=body, wrong=False)
    )
    return SignedRequest("POST", url, headers, body)


async def send(sim: CarrierSimulator, request: SignedRequest) -> tuple[int, str]:
    assert sim.http is not None
    async with sim.http.request(
        request.method, request.url, headers=request.headers, data=request.body or None
    ) as response:
        return response.status, await response.text()


async def _participants(lk: api.LiveKitAPI, room: str) -> list[str]:
    listed = await lk.room.list_participants(api.ListParticipantsRequest(room=room))
    return [p.identity for p in listed.participants]


@pytest.mark.parametrize("carrier", carrier_names())
async def test_a_replayed_webhook_cannot_cut_a_live_call(
    carrier: str, shim_server: ShimServer, livekit_api: api.LiveKitAPI
) -> None:
    async with CarrierSimulator(
        carrier=carrier,
        base_url=shim_server.base_url,
        secrets_=shim_server.secrets,
        ssl_context=shim_server.client_ssl,
    ) as sim:
        request = answer_request(sim)
        status, markup = await send(sim, request)
        assert status == 200, markup
        await sim.open_stream(sim.stream_target(markup))
        sim.start_mic()
        session = await wait_for_session(shim_server.gateways[carrier], sim.call_id)
        bridge = session.bridge
        assert bridge is not None
        await asyncio.wait_for(bridge.relaying.wait(), 60)
        room = call_room_name(carrier, sim.call_id)
        caller = call_participant_identity(carrier, sim.call_id)
        await until(lambda: bridge.room.identity == caller, timeout_s=5)
        assert caller in await _participants(livekit_api, room)

        # the identical signed request again: no token
        replay_status, replay_body = await send(sim, request)
        assert replay_status == REPLAY_STATUS[carrier], replay_body
        assert "token" not in replay_body
        # a freshly signed duplicate offering the same call: no token either
        dup_status, dup_body = await sim.post_answer_webhook()
        assert dup_status == 409, dup_body
        assert "token" not in dup_body

        # what a replay used to get: a valid token for the live call. Its stream is
        # refused before it touches the room.
        token = await shim_server.runtime.tokens.issue(sim.call_id, carrier)
        async with CarrierSimulator(
            carrier=carrier,
            base_url=shim_server.base_url,
            secrets_=shim_server.secrets,
            ssl_context=shim_server.client_ssl,
            call_id=sim.call_id,
        ) as intruder:
            live = sim.stream_target(markup)
            await intruder.open_stream(
                StreamTarget(live.url, {**live.parameters, "token": token}, live.sample_rate)
            )
            # over TLS the client may see the TCP close before the close frame (1006)
            assert await intruder.wait_closed() in (1008, 1006)

        # the live call is untouched: same bridge, caller still in the room, audio flowing
        frames_before = bridge.counters.frames_in
        deadline = time.monotonic() + 10
        while bridge.counters.frames_in < frames_before + 25:
            assert time.monotonic() < deadline, "the live call's audio stopped"
            await asyncio.sleep(0.1)
        assert not session.closed
        assert shim_server.gateways[carrier].get_session(sim.call_id) is session
        assert caller in await _participants(livekit_api, room)
        await sim.hang_up()
        await until(lambda: session.closed, timeout_s=30)
