"""Signed webhooks (Exotel: Basic credentials): unsigned or mis-signed answers get 403 and
create nothing."""

from __future__ import annotations

import pytest
from livekit import api

from omnivoice_rtc.shim.rtc_call_room import call_room_name
from omnivoice_rtc.simulate.carrier_simulator import CarrierSimulator
from tests.e2e.media_streams.conftest import ShimServer

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("carrier", ["twilio", "telnyx", "vonage", "plivo", "exotel"])
async def test_bad_signatures_get_403_and_create_nothing(
    carrier: str, shim_server: ShimServer, livekit_api: api.LiveKitAPI
) -> None:
    tokens_before = await shim_server.runtime.tokens.pending()
    async with CarrierSimulator(
        carrier=carrier,
        base_url=shim_server.base_url,
        secrets_=shim_server.secrets,
        ssl_context=shim_server.client_ssl,
    ) as sim:
        for signed in ("missing", "wrong"):
            status, body = await sim.post_answer_webhook(signed=signed)
            assert status == 403, (signed, body)
        assert await shim_server.runtime.tokens.pending() == tokens_before
        # the same request correctly signed is answered (so the 403s were the signatures)
        status, body = await sim.post_answer_webhook(signed="ok")
        assert status == 200, body
        assert sim.stream_target(body).parameters["token"]
    rooms = await livekit_api.room.list_rooms(
        api.ListRoomsRequest(names=[call_room_name(carrier, sim.call_id)])
    )
    assert list(rooms.rooms) == []
    assert shim_server.gateways[carrier].get_session(sim.call_id) is None
