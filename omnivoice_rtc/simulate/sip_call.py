"""A simulated SIP call into livekit-sip: a real INVITE (:mod:`.sip_caller`) and real RTP
(:class:`~.rtp_peer.RtpPeer`), as a carrier's trunk would deliver a phone call.

The call goes to one of the inbound trunk's numbers (the first LiveKit lists, unless
given); the dispatch rule puts it in a room with the agent. The call's room is found by
its SIP participant, whose ``sip.phoneNumber`` is this simulation's random caller number,
and watched from a hidden observer (:func:`omnivoice_rtc.simulate.script.run_script`).
The trunk must admit the simulator by address (the local stack's loopback trunks do):
digest authentication is not supported.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass
from typing import Final

from livekit import api

from omnivoice_rtc._errors import ConfigError, SIPCallError
from omnivoice_rtc.audio.g711 import ulaw_encode
from omnivoice_rtc.livekit.rooms import lease_room_control
from omnivoice_rtc.settings import LiveKitSettings
from omnivoice_rtc.simulate.observer import CallObserver
from omnivoice_rtc.simulate.rtp_peer import RtpPeer
from omnivoice_rtc.simulate.script import ScriptOptions, SimulationReport, run_script
from omnivoice_rtc.simulate.sip_caller import SipCaller
from omnivoice_rtc.simulate.speech import resample

__all__ = ["RtpPhone", "SipCallTarget", "inbound_number", "simulate_sip_call"]

_SIP_KIND: Final = 3  # livekit.ParticipantInfo.Kind.SIP
_ROOM_TIMEOUT_S: Final = 60.0
_RATE_HZ: Final = 8000
_LOUD_RMS: Final = 300.0


@dataclass(frozen=True, slots=True, kw_only=True)
class SipCallTarget:
    """livekit-sip's signaling address and the number to call (empty: the inbound
    trunk's first number)."""

    host: str
    port: int
    livekit: LiveKitSettings
    callee: str = ""
    local_ip: str = "127.0.0.1"


class RtpPhone:
    """:class:`~omnivoice_rtc.simulate.script.SimulatedPhone` over an RTP peer (PCMU)."""

    def __init__(self, rtp: RtpPeer) -> None:
        self._rtp = rtp

    @property
    def rate_hz(self) -> int:
        return _RATE_HZ

    async def say(self, pcm: bytes, rate_hz: int, *, wait: bool = True) -> float:
        onset = time.monotonic() + self._rtp.queued_s()
        duration = self._rtp.play(ulaw_encode(resample(pcm, rate_hz, _RATE_HZ)))
        if wait:
            await asyncio.sleep(max(0.0, onset + duration - time.monotonic()))
        return onset

    async def send_dtmf(self, digit: str) -> None:
        self._rtp.send_dtmf(digit)
        await asyncio.sleep(self._rtp.queued_s())

    def first_loud_after(self, at: float) -> float | None:
        return self._rtp.first_loud_after(at, threshold_rms=_LOUD_RMS)

    def received_audio(self) -> tuple[bytes, int]:
        return bytes(self._rtp.received_pcm), _RATE_HZ

    def flushed_after(self, at: float) -> float | None:
        return None  # RTP has no playback buffer to flush


async def inbound_number(livekit: LiveKitSettings) -> str:
    """The first number of the first inbound trunk LiveKit has (ConfigError if none)."""
    lease = lease_room_control(livekit)
    try:
        listed = await lease.rooms.api.sip.list_inbound_trunk(api.ListSIPInboundTrunkRequest())
    finally:
        await lease.aclose()
    for trunk in listed.items:
        for number in trunk.numbers:
            if number:
                return str(number)
    raise ConfigError(
        "--to: LiveKit has no inbound trunk with a number (`omnivoice-rtc sip apply` creates "
        "it); name the number to call"
    )


async def _find_call_room(livekit: LiveKitSettings, caller: str) -> tuple[str, str] | None:
    """(room, identity) of the SIP participant whose remote number is ``caller``."""
    lease = lease_room_control(livekit)
    lk = lease.rooms.api
    try:
        deadline = time.monotonic() + _ROOM_TIMEOUT_S
        while time.monotonic() < deadline:
            for room in await lease.rooms.list_rooms():
                listed = await lk.room.list_participants(
                    api.ListParticipantsRequest(room=room.name)
                )
                for participant in listed.participants:
                    number = participant.attributes.get("sip.phoneNumber", "")
                    if participant.kind == _SIP_KIND and number.lstrip("+") == caller.lstrip("+"):
                        return room.name, participant.identity
            await asyncio.sleep(0.2)
        return None
    finally:
        await lease.aclose()


async def simulate_sip_call(target: SipCallTarget, options: ScriptOptions) -> SimulationReport:
    """Place one simulated SIP call and report what happened."""
    callee = target.callee or await inbound_number(target.livekit)
    caller = "+1555" + "".join(secrets.choice("0123456789") for _ in range(7))
    report = SimulationReport(route="sip")
    rtp = await RtpPeer.open(target.local_ip)
    sip = SipCaller(
        host=target.host,
        port=target.port,
        caller=caller,
        callee=callee,
        rtp_port=rtp.port,
        local_ip=target.local_ip,
    )
    await sip.open()
    try:
        try:
            remote = await sip.invite()
        except SIPCallError as exc:
            report.refused = f"SIP {exc.sip_status_code} {exc.sip_status}"
            return report
        report.answered = True
        report.call_id = sip.call_id
        rtp.start(remote)
        found = await _find_call_room(target.livekit, caller)
        if found is None:
            report.problems.append("no LiveKit room holds this call's SIP participant")
            return report
        report.room, identity = found
        observer = CallObserver(livekit=target.livekit, room=report.room, caller=identity)
        await observer.start()
        try:
            await run_script(RtpPhone(rtp), observer, options, report)
        finally:
            await observer.aclose()
    finally:
        if report.answered:
            await sip.hang_up()
        await sip.aclose()
        await rtp.aclose()
    return report
