"""Watch one call from outside: a hidden participant in the call's room that collects the
agent's ``omnivoice.events`` about one caller (transcripts, speech, DTMF, the end).

``omnivoice-rtc simulate`` and ``omnivoice-rtc call`` use it to print what happened on a
call served by the running stack; it joins with an observer token (hidden, hears no audio,
the same grants as :class:`~omnivoice_rtc.sip.sip_session.SIPSession`'s observer).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable
from typing import Any

from livekit import rtc

from omnivoice_rtc.livekit.data_topics import EVENTS_TOPIC, decode_event_packet
from omnivoice_rtc.livekit.tokens import observer_token
from omnivoice_rtc.settings import LiveKitSettings
from omnivoice_rtc.types import AgentTranscript, Event, EventType, SessionEnded, UserTranscript

__all__ = ["CallObserver", "TimedEvent"]

logger = logging.getLogger(__name__)

TimedEvent = tuple[float, Event]
"""(``time.monotonic()`` s when it arrived, the event)."""


class CallObserver:
    """A hidden participant in ``room`` that keeps the agent's events about ``caller``
    (the caller participant's identity) with their arrival times."""

    def __init__(self, *, livekit: LiveKitSettings, room: str, caller: str) -> None:
        self.livekit = livekit
        self.room_name = room
        self.caller = caller
        self.identity = f"omnivoice-observer-{secrets.token_hex(4)}"
        self.events: list[TimedEvent] = []
        self.ended = asyncio.Event()
        """Set when the caller leaves, the agent's session ends or the room closes."""
        self._changed = asyncio.Event()
        self._room: rtc.Room | None = None

    async def start(self) -> None:
        """Join the room (it must exist: the call created it)."""
        token = observer_token(
            credentials=self.livekit, room=self.room_name, identity=self.identity
        )
        room = rtc.Room()
        room.on("data_received", self._on_data)
        room.on("participant_disconnected", self._on_left)
        room.on("disconnected", self._on_disconnected)
        await room.connect(self.livekit.url, token, rtc.RoomOptions(auto_subscribe=False))
        self._room = room

    @property
    def agent_present(self) -> bool:
        """True while an agent participant is in the room (it may have started its session
        before this observer joined, so its ``session_started`` was missed)."""
        if self._room is None:
            return False
        agent = rtc.ParticipantKind.PARTICIPANT_KIND_AGENT
        return any(p.kind == agent for p in self._room.remote_participants.values())

    @property
    def caller_present(self) -> bool:
        return self._room is not None and self.caller in self._room.remote_participants

    async def aclose(self) -> None:
        room, self._room = self._room, None
        if room is not None:
            await room.disconnect()

    # ------------------------------------------------------------------ reading

    def since(self, at: float) -> list[Event]:
        """Events that arrived at or after monotonic time ``at`` (s)."""
        return [event for t, event in self.events if t >= at]

    async def wait_for(
        self,
        kind: EventType,
        *,
        since: float = 0.0,
        timeout_s: float = 30.0,
        where: Callable[[Event], bool] = lambda _event: True,
    ) -> TimedEvent:
        """The first event of ``kind`` after ``since`` (TimeoutError after ``timeout_s``)."""

        async def wait() -> TimedEvent:
            while True:
                for at, event in self.events:
                    if at >= since and event.type is kind and where(event):
                        return at, event
                self._changed.clear()
                await self._changed.wait()

        return await asyncio.wait_for(wait(), timeout_s)

    async def wait_quiet(self, *, quiet_s: float, timeout_s: float) -> None:
        """Return once no event arrived for ``quiet_s`` s, or after ``timeout_s`` s."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            last = self.events[-1][0] if self.events else 0.0
            if time.monotonic() - last >= quiet_s:
                return
            await asyncio.sleep(0.1)

    def transcript(self, *, since: float = 0.0) -> list[tuple[str, str]]:
        """(``caller`` | ``agent``, text) of the final transcripts after ``since``.

        Events sent before this observer joined are lost (a greeting spoken at once); when
        the agent's ``session_ended`` report arrived, its transcript (the whole call) is
        used instead if it has more lines."""
        lines: list[tuple[str, str]] = []
        report: list[tuple[str, str]] = []
        for event in self.since(since):
            data = event.data
            if isinstance(data, UserTranscript) and data.final and data.text.strip():
                lines.append(("caller", data.text.strip()))
            elif isinstance(data, AgentTranscript) and data.text.strip():
                lines.append(("agent", data.text.strip()))
            elif isinstance(data, SessionEnded) and since == 0.0:
                report = [
                    ("caller" if turn.role == "user" else "agent", turn.text.strip())
                    for turn in data.transcript
                    if turn.text.strip()
                ]
        return report if len(report) > len(lines) else lines

    # ------------------------------------------------------------------ room callbacks

    def _on_data(self, packet: rtc.DataPacket) -> None:
        if packet.topic != EVENTS_TOPIC:
            return
        try:
            event, participant, _session_id = decode_event_packet(packet.data)
        except ValueError as exc:
            logger.warning("bad omnivoice.events packet", extra={"error": str(exc)})
            return
        if participant == self.caller:
            self.add(event)

    def add(self, event: Event) -> None:
        """Record an event about the caller (as if it arrived now)."""
        self.events.append((time.monotonic(), event))
        self._changed.set()
        if event.type is EventType.SESSION_ENDED:
            self.ended.set()

    def _on_left(self, participant: rtc.RemoteParticipant) -> None:
        if participant.identity == self.caller:
            self.ended.set()
            self._changed.set()

    def _on_disconnected(self, _reason: Any) -> None:
        self.ended.set()
        self._changed.set()
