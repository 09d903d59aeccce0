"""The shim as the web server runs it, for integration tests: every registered carrier's
gateway on a real aiohttp server, REST clients pointed at a loopback fake, plus the helpers
the tests share (a simulator per carrier, stream targets, waits)."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from omnivoice_rtc.carriers.exotel import ExotelProfile, ExotelSettings
from omnivoice_rtc.carriers.plivo import PlivoProfile, PlivoSettings
from omnivoice_rtc.carriers.registry import AnyProfile, carrier_names
from omnivoice_rtc.carriers.telnyx import TelnyxProfile, TelnyxSettings
from omnivoice_rtc.carriers.twilio import TwilioProfile, TwilioSettings
from omnivoice_rtc.carriers.vonage import VonageProfile, VonageSettings
from omnivoice_rtc.native import NativeMediaProcess
from omnivoice_rtc.settings import LimitSettings, LiveKitSettings, OutboundLimits, Settings
from omnivoice_rtc.shim.call_guard import CallGuard
from omnivoice_rtc.shim.media_stream_gateway import MediaStreamGateway, ShimRuntime
from omnivoice_rtc.shim.native_call_room import NativeMediaOptions
from omnivoice_rtc.shim.policy import MediaPolicy
from omnivoice_rtc.shim.pstn_session import PstnSession
from omnivoice_rtc.shim.routes import carrier_route_installer
from omnivoice_rtc.simulate.carrier_simulator import CarrierSecrets, CarrierSimulator, StreamTarget
from omnivoice_rtc.web import create_app
from tests.fakes.carrier_rest import CarrierRestFake
from tests.fakes.local_site import serve_on_free_port
from tests.plugins.livekit_stack import LiveKitServer

__all__ = [
    "ACCOUNT_SID",
    "EXOTEL_SID",
    "PLIVO_AUTH_ID",
    "App",
    "closed",
    "session_for",
    "sim_for",
    "start_shim_app",
    "stream_target",
    "until",
]

ACCOUNT_SID = "AC" + "1" * 32
PLIVO_AUTH_ID = "MA" + "2" * 18
EXOTEL_SID = "omnivoice-test1"


@dataclass
class App:
    base_url: str
    ws_base: str
    runtime: ShimRuntime
    gateways: dict[str, MediaStreamGateway]
    rest: CarrierRestFake
    secrets: CarrierSecrets


async def start_shim_app(
    livekit_server: LiveKitServer, *, native: bool = False
) -> AsyncIterator[App]:
    """``native``: call rooms are joined by a real omnivoice-media process."""
    media = NativeMediaProcess() if native else None
    rest = CarrierRestFake()
    await rest.start()
    lk = LiveKitSettings(
        url=livekit_server.url, api_key=livekit_server.api_key, api_secret=livekit_server.api_secret
    )
    secrets_ = CarrierSecrets()
    runtime = ShimRuntime(
        livekit=lk,
        agent_name="no-agent-" + secrets.token_hex(3),
        # make_call's toll-fraud guard: these tests may dial anywhere
        guard=CallGuard(limits=LimitSettings(outbound=OutboundLimits(allow=("*",)))),
        policy=MediaPolicy(max_invalid_frames=5, burst_ms=200),
        agent_join_timeout_s=120,
        native_media=NativeMediaOptions(process=media) if media is not None else None,
    )
    public = "https://shim.example.com"
    profiles: list[AnyProfile] = [
        TwilioProfile(
            settings=TwilioSettings(
                account_sid=ACCOUNT_SID,
                auth_token=secrets_.twilio_auth_token,
                from_number="+15550000",
                api_base_url=rest.base_url,
            )
        ),
        TelnyxProfile(
            settings=TelnyxSettings(
                public_key=secrets_.telnyx_public_key, api_key="KEY", api_base_url=rest.base_url
            )
        ),
        VonageProfile(settings=VonageSettings(signature_secret=secrets_.vonage_signature_secret)),
        PlivoProfile(
            settings=PlivoSettings(
                auth_id=PLIVO_AUTH_ID,
                auth_token=secrets_.plivo_auth_token,
                from_number="+15550000",
                api_base_url=rest.base_url,
            )
        ),
        ExotelProfile(
            settings=ExotelSettings(
                stream_user=secrets_.exotel_user,
                stream_password=secrets_.exotel_password,
                account_sid=EXOTEL_SID,
                api_key="EXO-KEY",
                api_token="EXO-TOKEN",
                from_number="08047491899",
                api_base_url=rest.base_url,
            )
        ),
    ]
    assert tuple(p.name for p in profiles) == carrier_names()  # every registered carrier
    # make_call needs a public URL; so does answering Telnyx Call Control over REST
    dialling = ("twilio", "telnyx", "plivo", "exotel")
    gateways: dict[str, MediaStreamGateway] = {
        p.name: MediaStreamGateway(
            profile=p, runtime=runtime, public_base_url=public if p.name in dialling else ""
        )
        for p in profiles
    }
    app = create_app(
        Settings(livekit=lk), route_installers=[carrier_route_installer(gateways.values())]
    )
    runner, port = await serve_on_free_port(app)
    try:
        yield App(
            base_url=f"http://127.0.0.1:{port}",
            ws_base=f"ws://127.0.0.1:{port}",
            runtime=runtime,
            gateways=gateways,
            rest=rest,
            secrets=secrets_,
        )
    finally:
        await runner.cleanup()
        await rest.aclose()
        if media is not None:
            await media.aclose()


def sim_for(app: App, carrier: str) -> CarrierSimulator:
    return CarrierSimulator(carrier=carrier, base_url=app.base_url, secrets_=app.secrets)


def stream_target(app: App, carrier: str, token: str, *, generic: bool = False) -> StreamTarget:
    path = "/carriers/media" if generic else f"/carriers/{carrier}/media"
    rate = 16000 if carrier == "vonage" else 8000
    return StreamTarget(f"{app.ws_base}{path}", {"token": token}, rate)


async def session_for(app: App, carrier: str, call_id: str) -> PstnSession:
    """The call's session once its bridge relays (room joined)."""
    for _ in range(600):
        session = app.gateways[carrier].get_session(call_id)
        if session is not None and session.bridge is not None:
            await asyncio.wait_for(session.bridge.relaying.wait(), 30)
            return session
        await asyncio.sleep(0.05)
    raise TimeoutError(call_id)


async def closed(session: PstnSession) -> None:
    await until(lambda: session.closed)


async def until(predicate: Callable[[], bool], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)
