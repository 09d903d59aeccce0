"""Settings of a phone call's liveness: what ends a dead call, what replaces a dead agent.

One section for every route a call takes (carrier media streams through the shim, SIP
trunks through livekit-sip); :mod:`omnivoice_rtc.calls.liveness` applies it. All times
are in seconds; a time of 0 turns that check off where the variable says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Self

from omnivoice_rtc.settings._env import load, var

__all__ = ["CallSettings"]


@dataclass(frozen=True, slots=True, kw_only=True)
class CallSettings:
    """How a call notices that its media, its socket or its agent died, and what then."""

    media_timeout_s: float = var(
        "OMNIVOICE_CALL_MEDIA_TIMEOUT_S",
        15.0,
        doc="a carrier stream that sends no audio for this long is ended and hung up over REST (s); 0 = never",
        kind=float,
        minimum=0,
        maximum=3600,
    )
    ws_heartbeat_s: float = var(
        "OMNIVOICE_CALL_WS_HEARTBEAT_S",
        10.0,
        doc="ping a carrier media WebSocket this often; no pong within half of it closes the socket (s); 0 = no pings",
        kind=float,
        minimum=0,
        maximum=600,
    )
    agent_ping_s: float = var(
        "OMNIVOICE_CALL_AGENT_PING_S",
        1.0,
        doc="ask the call's agent whether it is alive this often (s); 0 = only notice an agent that leaves",
        kind=float,
        minimum=0,
        maximum=60,
    )
    agent_ping_timeout_s: float = var(
        "OMNIVOICE_CALL_AGENT_PING_TIMEOUT_S",
        1.0,
        doc="an agent that has not acknowledged a ping within this long is dead (s)",
        kind=float,
        minimum=0.1,
        maximum=60,
    )
    agent_tries: int = var(
        "OMNIVOICE_CALL_AGENT_TRIES",
        2,
        doc="fresh agents dispatched into a call whose agent died, in all; then the caller hears an apology and the call is hung up",
        kind=int,
        minimum=0,
        maximum=10,
    )
    agent_rejoin_timeout_s: float = var(
        "OMNIVOICE_CALL_AGENT_REJOIN_TIMEOUT_S",
        6.0,
        doc="how long a freshly dispatched agent has to join before the next try (s)",
        kind=float,
        minimum=1,
        maximum=300,
    )
    teardown_step_s: float = var(
        "OMNIVOICE_CALL_TEARDOWN_STEP_S",
        10.0,
        doc="longest wait for one step of a call's teardown (closing the socket, leaving the room, a hang-up) (s)",
        kind=float,
        minimum=0.5,
        maximum=300,
    )

    @property
    def agent_silence_limit_s(self) -> float:
        """How long an agent that publishes audio may send nothing before it counts as dead
        where pings cannot be sent (the native media participant) (s): the ping timeout
        plus 0.5 s (a live agent's track sends an Opus DTX packet at least every 0.4 s)."""
        return self.agent_ping_timeout_s + 0.5

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Self:
        return load(cls, env)
