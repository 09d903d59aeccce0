"""The shim as the web server runs it, for the fault suite: the Twilio gateway on a real
aiohttp server, its REST hang-ups recorded by a loopback fake, call rooms joined through
livekit rtc or a real omnivoice-media process, the agent a real worker."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from omnivoice_rtc.carriers.twilio import TwilioProfile, TwilioSettings
from omnivoice_rtc.native import NativeMediaProcess
from omnivoice_rtc.settings import CallSettings, LiveKitSettings, Settings
from omnivoice_rtc.shim.media_stream_gateway import MediaStreamGateway, ShimRuntime
from omnivoice_rtc.shim.native_call_room import NativeMediaOptions
from omnivoice_rtc.shim.pstn_session import PstnSession
from omnivoice_rtc.shim.routes import carrier_route_installer
from omnivoice_rtc.simulate.carrier_simulator import CarrierSecrets, CarrierSimulator, StreamTarget
from omnivoice_rtc.web import create_app
from tests.fakes.carrier_rest import CarrierRestFake
from tests.fakes.local_site import serve_on_free_port

__all__ = ["ACCOUNT_SID", "FaultShim", "release", "start_fault_shim", "wait_until"]

ACCOUNT_SID = "AC" + "7" * 32


@dataclass
class FaultShim:
    base_url: str
    port: int
    gateway: MediaStreamGateway
    runtime: ShimRuntime
    rest: CarrierRestFake
    secrets: CarrierSecrets

    def hangups(self, call_id: str) -> int:
        """REST hang-ups the shim sent for ``call_id``."""
        return sum(r.path.endswith(f"/Calls/{call_id}.json") for r in self.rest.requests)

    async def open_call(
        self, *, port: int | None = None, mic: bool = True
    ) -> tuple[CarrierSimulator, PstnSession]:
        """A Twilio call streaming to the shim (through ``port``, e.g. a fault proxy);
        returns once its room is joined."""
        sim = CarrierSimulator(carrier="twilio", base_url=self.base_url, secrets_=self.secrets)
        await sim.__aenter__()
        call_id = sim.call_id
        self.rest.respond(
            "POST",
            f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls/{call_id}.json",
            200,
            {"sid": call_id},
        )
        token = await self.runtime.tokens.issue(call_id, "twilio", context={"from": "+15550100"})
        target = StreamTarget(
            f"ws://127.0.0.1:{port or self.port}/carriers/twilio/media", {"token": token}
        )
        try:
            await sim.open_stream(target)
            if mic:
                sim.start_mic()
            session = await self.session(call_id)
        except BaseException:  # a call that never connected: the caller hangs up
            await sim.hang_up()
            await sim.__aexit__(None, None, None)
            raise
        return sim, session

    async def session(self, call_id: str, timeout_s: float = 30.0) -> PstnSession:
        deadline = time.monotonic() + timeout_s
        while True:
            session = self.gateway.get_session(call_id)
            if session is not None and session.bridge is not None:
                await asyncio.wait_for(session.bridge.relaying.wait(), deadline - time.monotonic())
                return session
            assert time.monotonic() < deadline, f"no session for {call_id}"
            await asyncio.sleep(0.05)


@asynccontextmanager
async def start_fault_shim(
    *,
    livekit: LiveKitSettings,
    agent_name: str,
    liveness: CallSettings,
    native: NativeMediaProcess | None = None,
) -> AsyncIterator[FaultShim]:
    rest = CarrierRestFake()
    await rest.start()
    secrets_ = CarrierSecrets()
    runtime = ShimRuntime(
        livekit=livekit,
        agent_name=agent_name,
        agent_join_timeout_s=30,
        native_media=NativeMediaOptions(process=native) if native is not None else None,
        liveness=liveness,
    )
    profile = TwilioProfile(
        settings=TwilioSettings(
            account_sid=ACCOUNT_SID,
            auth_token=secrets_.twilio_auth_token,
            from_number="+15550000",
            api_base_url=rest.base_url,
        )
    )
    gateway = MediaStreamGateway(profile=profile, runtime=runtime)
    app = create_app(
        Settings(livekit=livekit), route_installers=[carrier_route_installer([gateway])]
    )
    runner, port = await serve_on_free_port(app)
    try:
        yield FaultShim(
            base_url=f"http://127.0.0.1:{port}",
            port=port,
            gateway=gateway,
            runtime=runtime,
            rest=rest,
            secrets=secrets_,
        )
    finally:
        await runner.cleanup()
        await rest.aclose()


async def wait_until(predicate: Callable[[], bool], *, timeout_s: float, what: str) -> float:
    """Poll ``predicate`` every 20 ms; returns the monotonic time it first held."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"timed out after {timeout_s} s waiting for {what}"
        await asyncio.sleep(0.02)
    return time.monotonic()


async def release(sim: CarrierSimulator) -> None:
    """Close the simulated call's socket and its HTTP session."""
    await sim.__aexit__(None, None, None)
