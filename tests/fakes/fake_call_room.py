"""FakeCallRoom: a call room in memory, a real :class:`CallRoomBase` subclass (no server).

What the bridge does to the room is recorded: ``caller_audio`` (PCM16 frames pushed),
``caller_digits`` (DTMF published), ``data`` (``(topic, payload)`` sent to the agent),
``start_calls`` / ``aclose_calls``. The test plays the agent through the base class's own
agent tracking, so the bridge sees exactly what a real room would hand it:
:meth:`FakeCallRoom.agent_joins`, :meth:`~FakeCallRoom.agent_speaks`,
:meth:`~FakeCallRoom.set_agent_state`, :meth:`~FakeCallRoom.agent_event` (encoded and
decoded as the ``omnivoice.events`` packet), :meth:`~FakeCallRoom.agent_keys` (DTMF),
:meth:`~FakeCallRoom.agent_leaves`, :meth:`~FakeCallRoom.disconnect`. A fresh agent the
room dispatches (:meth:`~CallRoomBase.replace_agent`) is recorded in ``dispatches`` (its
metadata) and ``removed`` (the stale agent removed); ``dispatch_error`` makes it fail.

The join can be held open (``hold_join()`` then ``finish_join()``) or made to fail
(``join_error``) to test what happens while a room is being joined.
"""

from __future__ import annotations

import asyncio

from omnivoice_rtc.livekit.data_topics import encode_event
from omnivoice_rtc.settings import LiveKitSettings
from omnivoice_rtc.shim.call_room import (
    AGENT_STATE_ATTRIBUTE,
    CallRoomBase,
    CallRoomSpec,
    RoomCallbacks,
    dtmf_code,
)
from omnivoice_rtc.types import Event

__all__ = ["AGENT_IDENTITY", "FakeCallRoom", "fake_room_spec"]

AGENT_IDENTITY = "agent-1"


def fake_room_spec(
    *, room_name: str = "call-twilio-CA1", identity: str = "pstn-twilio-CA1"
) -> CallRoomSpec:
    """A spec for a room that never reaches a server."""
    return CallRoomSpec(
        livekit=LiveKitSettings(),
        room_name=room_name,
        identity=identity,
        attributes={"carrier": "twilio", "call_id": "CA1"},
        agent_name="agent",
    )


class FakeCallRoom(CallRoomBase):
    """See the module docstring."""

    def __init__(
        self, *, spec: CallRoomSpec | None = None, callbacks: RoomCallbacks | None = None
    ) -> None:
        super().__init__(spec=spec or fake_room_spec(), callbacks=callbacks)
        self.caller_audio: list[bytes] = []
        self.caller_digits: list[str] = []
        self.data: list[tuple[str, bytes]] = []
        self.data_destinations: list[tuple[str, ...]] = []
        self.start_calls = 0
        self.aclose_calls = 0
        self.join_error: BaseException | None = None
        """Raised by :meth:`start` (after the join gate opens) when set."""
        self.dispatches: list[str] = []
        self.removed: list[str] = []
        self.dispatch_error: BaseException | None = None
        """Raised by the fresh-agent dispatch when set."""
        self.server_up = True
        """Whether livekit-server answers (the liveness check's second opinion)."""
        self.joined = asyncio.Event()
        self._join_gate = asyncio.Event()
        self._join_gate.set()

    # ------------------------------------------------------------------ CallRoomBase

    async def start(self) -> None:
        self.start_calls += 1
        await self._join_gate.wait()
        if self.join_error is not None:
            raise self.join_error
        self._room_created = True
        self.joined.set()

    async def aclose(self) -> None:
        self.aclose_calls += 1
        self._closed = True

    async def push_caller_audio(self, pcm: bytes) -> None:
        if not self._closed:
            self.caller_audio.append(pcm)

    async def send_dtmf(self, digit: str) -> None:
        dtmf_code(digit)  # raises ValueError for a digit a real room refuses
        self.caller_digits.append(digit)

    async def send_data(
        self, payload: bytes, *, topic: str, destinations: tuple[str, ...] = ()
    ) -> None:
        self.data.append((topic, payload))
        self.data_destinations.append(destinations)

    async def _dispatch_fresh_agent(self, metadata: str) -> None:
        if self.dispatch_error is not None:
            raise self.dispatch_error
        self.dispatches.append(metadata)

    async def _remove_stale_agent(self, identity: str) -> None:
        self.removed.append(identity)

    async def _server_answers(self, timeout_s: float) -> bool:
        return self.server_up

    # ------------------------------------------------------------------ the join

    def hold_join(self) -> None:
        """:meth:`start` waits until :meth:`finish_join` (the room is "being joined")."""
        self._join_gate.clear()

    def finish_join(self) -> None:
        self._join_gate.set()

    @property
    def closed(self) -> bool:
        return self._closed

    # ------------------------------------------------------------------ the test plays the agent

    def agent_joins(self, *, identity: str = AGENT_IDENTITY, state: str = "listening") -> None:
        """An agent participant joins with ``lk.agent.state`` ``state``."""
        self._note_agent(identity, {AGENT_STATE_ATTRIBUTE: state})

    def agent_speaks(self, pcm: bytes) -> None:
        """One frame of the agent's audio (PCM16 at ``subscribe_rate_hz``) reaches the room."""
        self._agent.audio_frames += 1
        self._cb.on_agent_audio(pcm)

    def set_agent_state(self, state: str) -> None:
        """The agent's ``lk.agent.state`` attribute changes."""
        self._attributes_changed(self.agent_identity, {AGENT_STATE_ATTRIBUTE: state})

    def agent_event(self, event: Event, *, participant: str | None = None) -> None:
        """The agent publishes ``event`` on ``omnivoice.events`` for ``participant`` (the
        caller by default), through the real packet encoding and decoding."""
        who = self.identity if participant is None else participant
        self._deliver_event_json(encode_event(event, participant=who, session_id="s"))

    def agent_keys(self, digit: str) -> None:
        """The agent publishes a DTMF digit into the room."""
        self._dtmf_received(self.agent_identity or AGENT_IDENTITY, digit)

    def agent_leaves(self) -> None:
        self._participant_left(self.agent_identity)

    def agent_stops_answering(self) -> None:
        """The agent's process died: it is still listed but answers nothing (what the
        room's liveness pings find out)."""
        self._agent_gone("agent_unresponsive")

    def agent_never_joins(self) -> None:
        """The agent's join timeout ran out."""
        self._agent_gone("agent_never_joined")

    def disconnect(self) -> None:
        """Our own connection to the room ends (server gone, room deleted)."""
        self._cb.on_disconnected()
