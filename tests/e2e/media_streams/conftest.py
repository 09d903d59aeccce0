"""The real web server with every registered carrier's routes, over TLS, for carrier
simulators.

Carriers only speak https/wss (Twilio's ``<Stream url>`` must be ``wss://``), so the
server runs with a self-signed certificate for 127.0.0.1 and the simulators trust it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from omnivoice_rtc.carriers.exotel import ExotelProfile, ExotelSettings
from omnivoice_rtc.carriers.plivo import PlivoProfile, PlivoSettings
from omnivoice_rtc.carriers.registry import AnyProfile, carrier_names
from omnivoice_rtc.carriers.telnyx import TelnyxProfile, TelnyxSettings
from omnivoice_rtc.carriers.twilio import TwilioProfile, TwilioSettings
from omnivoice_rtc.carriers.vonage import VonageProfile, VonageSettings
from omnivoice_rtc.native import NativeMediaProcess
from omnivoice_rtc.settings import CallSettings, LedgerSettings, LiveKitSettings, Settings
from omnivoice_rtc.shim.media_stream_gateway import MediaStreamGateway, ShimRuntime
from omnivoice_rtc.shim.native_call_room import NativeMediaOptions
from omnivoice_rtc.shim.policy import MediaPolicy
from omnivoice_rtc.shim.routes import carrier_route_installer
from omnivoice_rtc.simulate.carrier_simulator import CarrierSecrets
from omnivoice_rtc.web import create_app
from omnivoice_rtc.web.keys import LEDGER_KEY
from tests.fakes.local_site import serve_on_free_port
from tests.plugins.agent_worker import AgentWorker
from tests.plugins.livekit_stack import LiveKitServer


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "shim.pem", directory / "shim.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@dataclass
class ShimServer:
    base_url: str
    secrets: CarrierSecrets
    client_ssl: ssl.SSLContext
    gateways: dict[str, MediaStreamGateway]
    runtime: ShimRuntime
    ledger_url: str
    """The call ledger the shim and the agent worker record to."""


@pytest.fixture(scope="session", params=["rtc", "native"])
async def shim_server(
    livekit_server: LiveKitServer,
    agent_worker: AgentWorker,
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> AsyncIterator[ShimServer]:
    """The shim over TLS with every registered carrier; its call rooms joined by livekit rtc
    in this process (``rtc``) or by a real omnivoice-media process (``native``)."""
    media = NativeMediaProcess() if request.param == "native" else None
    cert, key = _self_signed(tmp_path_factory.mktemp("shim-tls"))
    server_ssl = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ssl.load_cert_chain(cert, key)
    client_ssl = ssl.create_default_context(cafile=str(cert))
    lk = LiveKitSettings(
        url=livekit_server.url, api_key=livekit_server.api_key, api_secret=livekit_server.api_secret
    )
    secrets_ = CarrierSecrets()
    # roomier inbound buffers than the defaults: this test process hosts six simulated
    # calls, the shim and six livekit rtc connections on a 2-core box shared with agents
    runtime = ShimRuntime(
        livekit=lk,
        agent_name=agent_worker.agent_name,
        agent_join_timeout_s=90,
        policy=MediaPolicy(),
        native_media=NativeMediaOptions(process=media) if media is not None else None,
        # six calls' speech pipelines on 2 cores answer pings late; agent death has its own
        # tests (tests/integration/faults): here a slow agent must not be replaced mid-call
        liveness=CallSettings(agent_ping_s=2.0, agent_ping_timeout_s=10.0),
    )
    profiles: list[AnyProfile] = [
        TwilioProfile(settings=TwilioSettings(auth_token=secrets_.twilio_auth_token)),
        TelnyxProfile(settings=TelnyxSettings(public_key=secrets_.telnyx_public_key)),
        VonageProfile(settings=VonageSettings(signature_secret=secrets_.vonage_signature_secret)),
        PlivoProfile(settings=PlivoSettings(auth_token=secrets_.plivo_auth_token)),
        ExotelProfile(
            settings=ExotelSettings(
                stream_user=secrets_.exotel_user, stream_password=secrets_.exotel_password
            )
        ),
    ]
    assert tuple(p.name for p in profiles) == carrier_names()  # every registered carrier
    gateways = {p.name: MediaStreamGateway(profile=p, runtime=runtime) for p in profiles}
    ledger = LedgerSettings(database_url=agent_worker.ledger_url, report_wait_s=30.0)
    app = create_app(
        Settings(livekit=lk, ledger=ledger),
        route_installers=[carrier_route_installer(gateways.values())],
    )
    runtime = dataclasses.replace(runtime, ledger=app[LEDGER_KEY])  # the app's ledger
    for gateway in gateways.values():
        gateway.runtime = runtime
    runner, port = await serve_on_free_port(app, ssl_context=server_ssl)
    try:
        yield ShimServer(
            base_url=f"https://127.0.0.1:{port}",
            secrets=secrets_,
            client_ssl=client_ssl,
            gateways=gateways,
            runtime=runtime,
            ledger_url=agent_worker.ledger_url,
        )
    finally:
        await runner.cleanup()
        if media is not None:
            await media.aclose()
