"""Call control over the carriers' REST APIs (against a loopback fake): make_call and the
stream it binds, Telnyx Call Control answer/reject, Plivo's call id, hang-up by REST,
Exotel's Connect Voice AI."""

from __future__ import annotations

import asyncio
import json
import secrets
from urllib.parse import parse_qsl, urlsplit

import pytest

from omnivoice_rtc import CallRejectedError
from omnivoice_rtc.simulate.carrier_simulator import StreamTarget
from omnivoice_rtc.types import CallInfo
from tests.integration.shim.shim_app import (
    ACCOUNT_SID,
    EXOTEL_SID,
    PLIVO_AUTH_ID,
    App,
    closed,
    session_for,
    sim_for,
    stream_target,
)

pytestmark = pytest.mark.integration


async def test_make_call_dials_over_rest_and_binds_the_stream(shim_app: App) -> None:
    call_id = "CA" + secrets.token_hex(16)
    path = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json"
    shim_app.rest.respond("POST", path, 201, {"sid": call_id})
    session = await shim_app.gateways["twilio"].make_call("+15551234")
    assert session.id == call_id
    assert session.direction == "outbound"
    request = shim_app.rest.requests[-1]
    assert request.method == "POST"
    assert request.path == path
    assert request.headers["Authorization"].startswith("Basic ")
    form = dict(request.form())
    assert form["To"] == "+15551234"
    assert form["From"] == "+15550000"
    assert 'url="wss://shim.example.com/carriers/twilio/media"' in form["Twiml"]
    async with sim_for(shim_app, "twilio") as sim:
        sim.call_id = call_id
        twiml_target = sim.stream_target(form["Twiml"])
        # the carrier would connect to the public URL; we connect to the same path locally
        await sim.open_stream(stream_target(shim_app, "twilio", twiml_target.parameters["token"]))
        bound = await session_for(shim_app, "twilio", call_id)
        assert bound is session
        await sim.hang_up()
    await asyncio.wait_for(closed(session), 10)
    assert json.dumps(session.metrics().to_dict())


async def test_telnyx_call_control_is_answered_over_rest_and_reports_are_acknowledged(
    shim_app: App,
) -> None:
    """Call Control: call.initiated -> the handler -> REST actions/answer carrying the
    stream URL and the token as client_state -> the stream with that client_state binds
    the session. Later events (and call.initiated of a call we dialled) get 200 and ask
    nobody; a rejected call is refused over REST with the matching cause."""
    gateway = shim_app.gateways["telnyx"]
    offered: list[CallInfo] = []

    def on_call(call: CallInfo) -> None:
        offered.append(call)
        if call.to == "+15550000002":
            raise CallRejectedError("line busy", reason="busy")

    gateway.on_call(on_call)
    async with sim_for(shim_app, "telnyx") as sim:
        sim.call_id = "v3:" + secrets.token_hex(12)
        answer_path = f"/v2/calls/{sim.call_id}/actions/answer"
        shim_app.rest.respond("POST", answer_path, 200, {"data": {"result": "ok"}})
        assert await sim.post_call_control_event("call.initiated") == (200, "{}")
        assert [c.call_id for c in offered] == [sim.call_id]
        answer = shim_app.rest.requests[-1]
        assert (answer.method, answer.path) == ("POST", answer_path)
        assert answer.headers["Authorization"] == "Bearer KEY"
        body = answer.json()
        # the configured public URL, never one made from the webhook's Host header
        assert body["stream_url"] == "wss://shim.example.com/carriers/telnyx/media"
        assert body["stream_bidirectional_mode"] == "rtp"
        client_state = body["client_state"]
        for report in ("call.answered", "streaming.started"):
            assert await sim.post_call_control_event(report) == (200, "{}")
        assert len(offered) == 1
        assert len(shim_app.rest.requests) == 1
        target = StreamTarget(f"{shim_app.ws_base}/carriers/telnyx/media", {}, 8000)
        await sim.open_stream(target, start_details={"client_state": client_state})
        session = await session_for(shim_app, "telnyx", sim.call_id)
        assert (session.from_, session.to, session.direction) == (sim.caller, sim.callee, "inbound")
        await sim.hang_up()
        assert await sim.post_call_control_event("call.hangup") == (200, "{}")
    async with sim_for(shim_app, "telnyx") as dialled:  # ours: reported, not offered
        assert await dialled.post_call_control_event("call.initiated", direction="outgoing") == (
            200,
            "{}",
        )
    async with sim_for(shim_app, "telnyx") as busy:
        busy.callee = "+15550000002"
        busy.call_id = "v3:" + secrets.token_hex(12)
        reject_path = f"/v2/calls/{busy.call_id}/actions/reject"
        shim_app.rest.respond("POST", reject_path, 200, {"data": {"result": "ok"}})
        assert await busy.post_call_control_event("call.initiated") == (200, "{}")
        reject = shim_app.rest.requests[-1]
        assert (reject.path, reject.json()) == (reject_path, {"cause": "USER_BUSY"})
    assert len(offered) == 2
    paths = [r.path for r in shim_app.rest.requests]
    assert paths == [answer_path, reject_path], paths


async def test_plivo_make_call_adopts_the_call_uuid_and_hangs_up_with_it(shim_app: App) -> None:
    """Plivo's dial returns a request_uuid; the answered call's CallUUID (answer webhook,
    then the stream's start) becomes the session id, so REST hang-up names the real call."""
    gateway = shim_app.gateways["plivo"]
    request_uuid = secrets.token_hex(16)
    dial_path = f"/v1/Account/{PLIVO_AUTH_ID}/Call/"
    shim_app.rest.respond("POST", dial_path, 201, {"request_uuid": request_uuid})
    session = await gateway.make_call("+15551234")
    assert session.id == request_uuid  # all we know until the call is answered
    answer_url = dict(shim_app.rest.requests[-1].json())["answer_url"]
    pending = answer_url.split("?pending=")[1]
    async with sim_for(shim_app, "plivo") as sim:  # Plivo fetches our answer URL on answer
        status, markup = await sim.post_answer_webhook(url=f"{sim.answer_url()}?pending={pending}")
        assert status == 200, markup
        await sim.open_stream(sim.stream_target(markup))
        bound = await session_for(shim_app, "plivo", sim.call_id)
        assert bound is session
        assert session.id == sim.call_id
        assert gateway.get_session(request_uuid) is None
        assert gateway.list_sessions().count(session) == 1
        hangup_path = f"/v1/Account/{PLIVO_AUTH_ID}/Call/{sim.call_id}/"
        shim_app.rest.respond("DELETE", hangup_path, 204, None)
        await session.close()
        assert shim_app.rest.requests[-1].path == hangup_path


async def test_exotel_connect_voice_ai_binds_the_stream_and_hangs_up_by_closing(
    shim_app: App,
) -> None:
    """Exotel dials with Connect Voice AI; the stream URL it is given carries the Basic
    credentials and the one-time token; the answered stream binds the session. Exotel has
    no REST hang-up: closing the session closes the socket and sends nothing to REST."""
    path = f"/v1/Accounts/{EXOTEL_SID}/Calls/connect.json"
    shim_app.rest.respond("POST", path, 200, {"Call": {"Sid": "exo-call-1"}})
    session = await shim_app.gateways["exotel"].make_call("+919876543210")
    assert (session.id, session.direction) == ("exo-call-1", "outbound")
    (dial,) = [r for r in shim_app.rest.requests if r.path == path]
    form = dict(dial.form())
    assert (form["From"], form["CallerId"], form["StreamType"]) == (
        "+919876543210",
        "08047491899",
        "bidirectional",
    )
    stream_url = urlsplit(form["StreamUrl"])
    assert (stream_url.username, stream_url.hostname, stream_url.path) == (
        shim_app.secrets.exotel_user,
        "shim.example.com",
        "/carriers/exotel/media",
    )
    token = dict(parse_qsl(stream_url.query))["token"]
    async with sim_for(shim_app, "exotel") as sim:
        sim.call_id = "exo-call-1"
        # the carrier would connect to the public URL; we connect to the same path locally
        await sim.open_stream(stream_target(shim_app, "exotel", token))
        bound = await session_for(shim_app, "exotel", "exo-call-1")
        assert bound is session
        requests_before = len(shim_app.rest.requests)
        await session.close()
        assert await sim.wait_closed() == 1000
    await asyncio.wait_for(closed(session), 10)
    assert len(shim_app.rest.requests) == requests_before
