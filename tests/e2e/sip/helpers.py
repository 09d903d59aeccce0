"""Shared pieces of the SIP e2e tests: provisioning a loopback trunk, waiting for things."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Protocol, TypeVar

from livekit import api

from omnivoice_rtc.settings import LiveKitSettings
from omnivoice_rtc.sip.provisioning import ApplyResult, apply, delete
from omnivoice_rtc.types import AgentTranscript, Event, EventType, UserTranscript
from tests.plugins.sip_stack import SIPStack

__all__ = [
    "CALLER",
    "DID",
    "ROOM_PREFIX",
    "livekit_settings",
    "provision",
    "room_names",
    "wait_for",
    "wait_for_event",
]

DID = "+15550100001"
"""The number our inbound trunk answers (SIPp calls it)."""
CALLER = "+15550100999"
ROOM_PREFIX = "sip-e2e-"

T = TypeVar("T")


def livekit_settings(stack: SIPStack) -> LiveKitSettings:
    server = stack.livekit
    return LiveKitSettings(url=server.url, api_key=server.api_key, api_secret=server.api_secret)


async def provision(
    client: api.LiveKitAPI,
    tmp_path: Path,
    *,
    agent_name: str,
    outbound_address: str = "",
) -> list[ApplyResult]:
    """Delete every trunk and rule, then apply a loopback sip/ file through ``apply``.

    Inbound: numbers [DID], only 127.0.0.1 may call. Outbound (when
    ``outbound_address`` is given): UDP to that host:port.
    """
    await delete(None, client=client)
    data: dict[str, object] = {
        "inbound_trunk": {
            "name": "e2e-inbound",
            "numbers": [DID],
            "allowed_addresses": ["127.0.0.1/32"],
        },
        "dispatch_rule": {
            "name": "e2e-dispatch",
            "rule": {"dispatch_rule_individual": {"room_prefix": ROOM_PREFIX}},
            "room_config": {"agents": [{"agent_name": "${OMNIVOICE_AGENT_NAME}"}]},
            "attributes": {"omnivoice.carrier": "e2e"},
        },
    }
    if outbound_address:
        data["outbound_trunk"] = {
            "name": "e2e-outbound",
            "address": outbound_address,
            "transport": "SIP_TRANSPORT_UDP",
            "numbers": [DID],
        }
    path = tmp_path / "e2e.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return await apply(path, client=client, env={"OMNIVOICE_AGENT_NAME": agent_name})


async def room_names(client: api.LiveKitAPI) -> set[str]:
    rooms = await client.room.list_rooms(api.ListRoomsRequest())
    return {room.name for room in rooms.rooms}


async def wait_for(
    probe: Callable[[], Awaitable[T | None]], *, timeout_s: float, what: str, poll_s: float = 0.1
) -> T:
    """Poll ``probe`` until it returns something other than None (AssertionError on timeout)."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = await probe()
        if value is not None:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        await asyncio.sleep(poll_s)


async def wait_for_event(
    events: list[Event],
    kind: EventType,
    *,
    timeout_s: float,
    since: int = 0,
    where: Callable[[Event], bool] = lambda e: True,
) -> Event:
    """The first event of ``kind`` in ``events`` (filled by a reader task) after ``since``
    for which ``where`` holds."""

    async def probe() -> Event | None:
        return next((e for e in events[since:] if e.type is kind and where(e)), None)

    return await wait_for(probe, timeout_s=timeout_s, what=f"event {kind.value}")


KEY_WORDS = frozenset({"would", "like", "order", "pizza"})
"""Content words of the callers' sentence ("I would like to order a pizza")."""


class Speaker(Protocol):
    """What plays caller audio: :class:`tests.e2e.sip.rtp_peer.RtpPeer`."""

    def play(self, ulaw: bytes) -> float: ...


async def say_until_understood(
    events: list[Event], speaker: Speaker, pcmu: bytes, *, attempts: int = 3
) -> float:
    """Play ``pcmu`` until the final user transcripts of one attempt (VAD may cut it in two)
    hold two of :data:`KEY_WORDS` and the agent has answered in full; a caller who is
    misheard says it again. PocketSphinx on 8 kHz PCMU is rough ("what like an order up the"), more so
    on a loaded 2-core box. Returns the monotonic time the understood attempt ended."""
    heard: list[str] = []
    for _ in range(attempts):
        marker = len(events)
        speech_end = time.monotonic() + speaker.play(pcmu)
        try:  # nothing recognized at all -> no transcript: say it again
            await wait_for_event(events, EventType.USER_TRANSCRIPT, timeout_s=30, since=marker)
        except AssertionError:
            heard.append("")
            continue
        # an answer not interrupted: when the VAD cut the sentence in two, its tail barged
        # in on the answer to the first half (docs/sessions.md, "Endpointing")
        await wait_for_event(
            events,
            EventType.AGENT_TRANSCRIPT,
            timeout_s=60,
            since=marker,
            where=lambda e: not e.data_as(AgentTranscript).interrupted,
        )
        texts = [e.data.text for e in events[marker:] if isinstance(e.data, UserTranscript)]
        heard.append(" / ".join(texts))
        print(f"caller heard as {heard[-1]!r}")
        if len(set(" ".join(texts).lower().split()) & KEY_WORDS) >= 2:
            return speech_end
    raise AssertionError(f"not understood in {attempts} attempts: {heard}")
