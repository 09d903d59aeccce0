"""A simulated carrier call into a running web server, as the carrier would place it.

The answer webhook is signed with the secrets the server verifies with (its carrier
settings: ``TWILIO_AUTH_TOKEN``, ``VONAGE_SIGNATURE_SECRET`` + ``VONAGE_API_KEY``,
``PLIVO_AUTH_TOKEN``, ``EXOTEL_STREAM_USER``/``_PASSWORD``; Telnyx signs with an Ed25519
private key only Telnyx holds, so the simulator needs one whose public half is the
server's ``TELNYX_PUBLIC_KEY``: :func:`new_telnyx_key` makes a pair) for the URL the
server believes it is reached at (``OMNIVOICE_PUBLIC_URL``), sent to ``server_url``; the
media WebSocket the answer names is opened on ``server_url`` too. Caller audio goes as
the carrier's frames at real-time pace; the call's room is watched from a hidden
observer for the agent's events (:func:`omnivoice_rtc.simulate.script.run_script`).
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import ssl
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit, urlunsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from omnivoice_rtc._errors import ConfigError, ProtocolError
from omnivoice_rtc.carriers.profile import CarrierSettings
from omnivoice_rtc.livekit.names import call_participant_identity, call_room_name
from omnivoice_rtc.livekit.rooms import lease_room_control
from omnivoice_rtc.settings import LiveKitSettings
from omnivoice_rtc.simulate.carrier_simulator import CarrierSecrets, CarrierSimulator
from omnivoice_rtc.simulate.observer import CallObserver
from omnivoice_rtc.simulate.script import ScriptOptions, SimulationReport, run_script

__all__ = [
    "CarrierCallTarget",
    "CarrierPhone",
    "load_telnyx_key",
    "new_telnyx_key",
    "secrets_from_settings",
    "simulate_carrier_call",
]

_ROOM_TIMEOUT_S: Final = 60.0


@dataclass(frozen=True, slots=True, kw_only=True)
class CarrierCallTarget:
    """Where the simulated carrier calls: ``server_url`` is where requests go,
    ``public_url`` what the server signs against (empty: ``server_url``)."""

    carrier: str
    server_url: str
    public_url: str = ""
    livekit: LiveKitSettings
    secrets: CarrierSecrets
    ssl_context: ssl.SSLContext | None = None
    callee: str = "+15550199"


def new_telnyx_key(path: Path) -> str:
    """Write a new Ed25519 private key (PEM) to ``path``; return its public half as
    ``TELNYX_PUBLIC_KEY`` wants it (base64 of the 32 raw bytes)."""
    key = Ed25519PrivateKey.generate()
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def load_telnyx_key(path: Path) -> Ed25519PrivateKey:
    """The Ed25519 private key in PEM file ``path`` (ConfigError naming ``--telnyx-key``)."""
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise ConfigError(f"--telnyx-key: cannot read an Ed25519 key from {path}: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"--telnyx-key: {path} is not an Ed25519 private key")
    return key


def secrets_from_settings(
    carrier: str, carriers: dict[str, CarrierSettings], telnyx_key: Ed25519PrivateKey | None
) -> CarrierSecrets:
    """The secrets to sign ``carrier``'s webhooks with, from the server's own settings;
    ConfigError naming the variable the server would need to verify them."""
    settings = carriers.get(carrier)
    if settings is None:
        raise ConfigError(f"simulate: {carrier!r} is not a registered carrier")
    if not settings.enabled:
        raise ConfigError(
            f"{type(settings).ENABLE_VAR}: not set, so the web server does not serve {carrier}"
        )

    def value(name: str) -> str:
        return str(getattr(settings, name, ""))

    if carrier == "telnyx":
        if telnyx_key is None:
            raise ConfigError(
                "--telnyx-key: Telnyx signs webhooks with a private key only Telnyx has; make "
                "a key pair with `omnivoice-rtc simulate telnyx --new-telnyx-key FILE` and set "
                "TELNYX_PUBLIC_KEY on the server to the public half it prints"
            )
        return CarrierSecrets(telnyx_private_key=telnyx_key)
    if carrier == "twilio":
        return CarrierSecrets(twilio_auth_token=value("auth_token"))
    if carrier == "vonage":
        return CarrierSecrets(
            vonage_signature_secret=value("signature_secret"),
            vonage_api_key=value("api_key") or "simulated",
        )
    if carrier == "plivo":
        return CarrierSecrets(plivo_auth_token=value("auth_token"))
    if carrier == "exotel":
        return CarrierSecrets(
            exotel_user=value("stream_user"), exotel_password=value("stream_password")
        )
    raise ConfigError(f"simulate: no simulator for carrier {carrier!r}")


class CarrierPhone:
    """:class:`~omnivoice_rtc.simulate.script.SimulatedPhone` over a carrier simulator."""

    def __init__(self, sim: CarrierSimulator) -> None:
        self._sim = sim

    @property
    def rate_hz(self) -> int:
        return self._sim.codec.output_format.sample_rate

    async def say(self, pcm: bytes, rate_hz: int, *, wait: bool = True) -> float:
        return await self._sim.say(pcm, rate_hz, wait=wait)

    async def send_dtmf(self, digit: str) -> None:
        await self._sim.send_dtmf(digit)

    def first_loud_after(self, at: float) -> float | None:
        return self._sim.playout.first_loud_after(at)

    def received_audio(self) -> tuple[bytes, int]:
        return bytes(self._sim.received_pcm), self._sim.codec.output_format.sample_rate

    def flushed_after(self, at: float) -> float | None:
        return next((t for t in self._sim.clears if t >= at), None)


def _local_stream_url(stream_url: str, server_url: str) -> str:
    """The markup's stream URL (public host) on the server we actually talk to."""
    server = urlsplit(server_url)
    stream = urlsplit(stream_url)
    scheme = "wss" if server.scheme == "https" else "ws"
    return urlunsplit((scheme, server.netloc, stream.path, stream.query, ""))


async def _wait_for_room(livekit: LiveKitSettings, room: str) -> bool:
    lease = lease_room_control(livekit)
    try:
        deadline = time.monotonic() + _ROOM_TIMEOUT_S
        while time.monotonic() < deadline:
            if await lease.rooms.list_rooms([room]):
                return True
            await asyncio.sleep(0.2)
        return False
    finally:
        await lease.aclose()


async def simulate_carrier_call(
    target: CarrierCallTarget, options: ScriptOptions
) -> SimulationReport:
    """Place one simulated call of ``target.carrier`` and report what happened."""
    caller = "+1555" + "".join(secrets.choice("0123456789") for _ in range(7))
    report = SimulationReport(route=target.carrier)
    async with CarrierSimulator(
        carrier=target.carrier,
        base_url=target.server_url,
        public_base_url=target.public_url,
        secrets_=target.secrets,
        ssl_context=target.ssl_context,
        caller=caller,
        callee=target.callee,
    ) as sim:
        report.call_id = sim.call_id
        status, markup = await sim.post_answer_webhook()
        if status != 200:
            report.refused = f"answer webhook got HTTP {status}: {markup.strip()[:200]}"
            return report
        try:
            stream = sim.stream_target(markup)
        except ProtocolError as exc:
            report.refused = f"the server's answer names no stream: {exc}"
            return report
        url = _local_stream_url(stream.url, target.server_url)
        await sim.open_stream(type(stream)(url, stream.parameters, stream.sample_rate))
        sim.start_mic()
        report.answered = True
        report.room = call_room_name(target.carrier, sim.call_id)
        if not await _wait_for_room(target.livekit, report.room):
            report.problems.append(f"room {report.room} did not appear on LiveKit")
            return report
        observer = CallObserver(
            livekit=target.livekit,
            room=report.room,
            caller=call_participant_identity(target.carrier, sim.call_id),
        )
        await observer.start()
        try:
            await run_script(CarrierPhone(sim), observer, options, report)
        finally:
            await sim.hang_up()
            await observer.aclose()
    return report
