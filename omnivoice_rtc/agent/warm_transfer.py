"""Warm transfer, the agent's part: hold the caller, dial and brief a human inside the
caller's room, then connect them and leave (or come back when nobody answers).

1. The caller is put on hold (:class:`~omnivoice_rtc.agent.call_hold.CallHold`: hold
   audio on the agent's main track, the agent's input off).
2. The agent publishes a second audio track, ``briefing``, and sets its track
   permissions: the caller may subscribe to the main track only, the human to the
   briefing track only (other participants, e.g. a recorder, keep everything).
3. The human is dialled into the room (:func:`~omnivoice_rtc.calls.warm_transfer.dial_transfer_target`,
   the attribute ``omnivoice.role=transfer-target``); as soon as they join and publish,
   the server API unsubscribes caller and human from each other.
4. Answered: the summary is spoken on the briefing track (the pipeline's TTS), the hold
   audio stops, caller and human are subscribed to each other, the caller's
   ``omnivoice.end_reason`` becomes ``warm_transferred`` and the agent's session closes
   without hanging up (the job then leaves the room; the call goes on without it).
   Not answered: the human's participant is removed, the briefing track unpublished,
   the permissions restored, the hold ends and the agent says ``unavailable_line``.

See :mod:`omnivoice_rtc.calls.warm_transfer` for why the consult happens in the caller's
room (livekit-server v1.13.5 does not implement ``MoveParticipant``).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from livekit import api, rtc
from livekit.agents import AgentSession
from livekit.agents import tts as lk_tts

from omnivoice_rtc._errors import ProviderError, SessionClosedError, SIPCallError
from omnivoice_rtc.agent.call_flow import speak
from omnivoice_rtc.agent.call_hold import hold_of
from omnivoice_rtc.calls.control import parse_transfer_target
from omnivoice_rtc.calls.sip_actions import set_end_reason
from omnivoice_rtc.calls.warm_transfer import (
    BRIEFING_TRACK,
    DEFAULT_RING_TIMEOUT_S,
    WARM_TRANSFERRED,
    dial_transfer_target,
    is_handed_over,
    remove_transfer_target,
    resolve_outbound_trunk,
    set_subscribed,
)

__all__ = ["DEFAULT_UNAVAILABLE_LINE", "WarmTransfer", "WarmTransferOptions"]

logger = logging.getLogger(__name__)

DEFAULT_UNAVAILABLE_LINE: Final = (
    "Sorry, I could not reach anyone right now. I am back with you. How else can I help?"
)
_JOIN_TIMEOUT_S: Final = 15.0
"""How long after the answer the human's audio track may take to appear (s)."""


@dataclass(frozen=True, slots=True)
class WarmTransferOptions:
    """``outbound_trunk``: name or id of the outbound trunk that dials the human;
    ``ring_timeout_s``: how long their phone rings (s); ``unavailable_line``: what the
    agent tells the caller when nobody answered ("" says nothing)."""

    outbound_trunk: str
    ring_timeout_s: float = DEFAULT_RING_TIMEOUT_S
    unavailable_line: str = DEFAULT_UNAVAILABLE_LINE


def _audio_sids(participant: rtc.Participant | None) -> list[str]:
    if participant is None:
        return []
    return [
        pub.sid
        for pub in participant.track_publications.values()
        if pub.kind == rtc.TrackKind.KIND_AUDIO
    ]


class WarmTransfer:
    """One warm transfer of the caller ``caller`` (identity) of ``session`` in ``room``;
    :meth:`run` does it (see the module docstring). ``livekit_api``: the server API."""

    def __init__(
        self,
        *,
        session: AgentSession[Any],
        room: rtc.Room,
        caller: str,
        livekit_api: Callable[[], api.LiveKitAPI],
        options: WarmTransferOptions,
    ) -> None:
        self._session = session
        self._room = room
        self._caller = caller
        self._api = livekit_api
        self._options = options
        self._human = f"transfer-{secrets.token_hex(4)}"
        self._tasks: set[asyncio.Task[None]] = set()
        self._human_tracks: set[str] = set()
        self._briefing: rtc.LocalTrackPublication | None = None
        self._source: rtc.AudioSource | None = None

    @property
    def human_identity(self) -> str:
        """The identity the human joins the room with."""
        return self._human

    async def run(self, to: str, summary: str) -> bool:
        """Transfer to ``to`` (E.164 number or SIP URI, dialled through the outbound
        trunk) after briefing them with ``summary``. True: connected, the agent's session
        is closing; False: not answered, the agent is back with the caller. Other
        failures (ProviderError, ConfigError) are raised after the caller was taken off
        hold and the human removed."""
        target = parse_transfer_target(to)
        lk = self._api()
        trunk_id = await resolve_outbound_trunk(lk, self._options.outbound_trunk)
        hold = hold_of(self._session)
        hold.hold()
        self._room.on("participant_connected", self._on_joined)
        self._room.on("track_published", self._on_published)
        connected = False
        try:
            await self._publish_briefing_track()
            logger.info("warm transfer: dialling the human", extra={"human": self._human})
            try:
                await dial_transfer_target(
                    lk,
                    room=self._room.name,
                    identity=self._human,
                    trunk_id=trunk_id,
                    target=target,
                    ring_timeout_s=self._options.ring_timeout_s,
                )
            except SIPCallError:
                return False
            await self._keep_apart()
            await self._brief(summary)
            hold.resume()  # the hold audio stops; the session closes right after
            self._session.input.set_audio_enabled(False)
            await self._connect()
            connected = True
            return True
        finally:
            self._room.off("participant_connected", self._on_joined)
            self._room.off("track_published", self._on_published)
            for task in list(self._tasks):
                task.cancel()
            if not connected:
                await asyncio.shield(self._back_to_caller())

    # ------------------------------------------------------------------ steps

    async def _publish_briefing_track(self) -> None:
        local = self._room.local_participant
        main = _audio_sids(local)
        tts = self._tts()
        rate = tts.sample_rate if tts is not None else 24000
        self._source = rtc.AudioSource(rate, 1)
        track = rtc.LocalAudioTrack.create_audio_track(BRIEFING_TRACK, self._source)
        self._briefing = await local.publish_track(track, rtc.TrackPublishOptions())
        others = [
            rtc.ParticipantTrackPermission(participant_identity=identity, allow_all=True)
            for identity in self._room.remote_participants
            if identity not in (self._caller, self._human)
        ]
        local.set_track_subscription_permissions(
            allow_all_participants=False,
            participant_permissions=[
                rtc.ParticipantTrackPermission(
                    participant_identity=self._caller, allowed_track_sids=main
                ),
                rtc.ParticipantTrackPermission(
                    participant_identity=self._human, allowed_track_sids=[self._briefing.sid]
                ),
                *others,
            ],
        )

    def _on_joined(self, participant: rtc.RemoteParticipant) -> None:
        if participant.identity == self._human:  # the human must not hear the caller
            caller = self._room.remote_participants.get(self._caller)
            self._spawn(self._subscribe(self._human, _audio_sids(caller), False))

    def _on_published(
        self, publication: rtc.RemoteTrackPublication, participant: rtc.RemoteParticipant
    ) -> None:
        if participant.identity == self._human and publication.kind == rtc.TrackKind.KIND_AUDIO:
            self._human_tracks.add(publication.sid)  # the caller must not hear the human
            self._spawn(self._subscribe(self._caller, [publication.sid], False))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _subscribe(self, identity: str, sids: list[str], subscribe: bool) -> None:
        try:
            await set_subscribed(
                self._api(),
                room=self._room.name,
                identity=identity,
                track_sids=sids,
                subscribe=subscribe,
            )
        except ProviderError as exc:
            logger.warning("warm transfer: subscription not changed", extra={"error": str(exc)})

    async def _keep_apart(self) -> None:
        """Once the human is in: both unsubscribed from each other (waits for the
        human's audio track, at most :data:`_JOIN_TIMEOUT_S` s)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _JOIN_TIMEOUT_S
        human = self._room.remote_participants.get(self._human)
        while loop.time() < deadline and not _audio_sids(human):
            await asyncio.sleep(0.1)
            human = self._room.remote_participants.get(self._human)
        caller = self._room.remote_participants.get(self._caller)
        await self._subscribe(self._human, _audio_sids(caller), False)
        await self._subscribe(self._caller, _audio_sids(human), False)
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def _tts(self) -> lk_tts.TTS[Any] | None:
        agent_tts = self._session.current_agent.tts
        if isinstance(agent_tts, lk_tts.TTS):
            return agent_tts
        return self._session.tts

    async def _brief(self, summary: str) -> None:
        """Say ``summary`` on the briefing track and wait until it has played."""
        tts, source = self._tts(), self._source
        if tts is None or source is None or not summary.strip():
            logger.warning("warm transfer: no briefing (no TTS or no summary)")
            return
        async with tts.synthesize(summary) as stream:
            async for audio in stream:
                await source.capture_frame(audio.frame)
        await source.wait_for_playout()

    async def _connect(self) -> None:
        lk = self._api()
        room = self._room.name
        try:
            await set_end_reason(lk, room=room, identity=self._caller, reason=WARM_TRANSFERRED)
        except SessionClosedError:
            logger.info("warm transfer: the caller left before the connect")
        await self._see_handed_over()
        human = self._room.remote_participants.get(self._human)
        caller = self._room.remote_participants.get(self._caller)
        await set_subscribed(
            lk, room=room, identity=self._caller, track_sids=_audio_sids(human), subscribe=True
        )
        await set_subscribed(
            lk, room=room, identity=self._human, track_sids=_audio_sids(caller), subscribe=True
        )
        logger.info("warm transfer: caller and human connected; the agent leaves")
        self._session.shutdown(drain=False)  # closes without hanging up

    async def _see_handed_over(self) -> None:
        """Wait (at most :data:`_JOIN_TIMEOUT_S` s) until this room sees the caller's
        ``warm_transferred`` mark: the job then finds the room idle and leaves."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _JOIN_TIMEOUT_S
        while loop.time() < deadline:
            caller = self._room.remote_participants.get(self._caller)
            if caller is None or is_handed_over(dict(caller.attributes)):
                return
            await asyncio.sleep(0.05)
        logger.warning("warm transfer: the caller's mark was not seen; the job may stay")

    async def _back_to_caller(self) -> None:
        """Not answered or failed: remove the human, undo the briefing track and the
        permissions, end the hold, tell the caller."""
        try:
            await remove_transfer_target(self._api(), room=self._room.name, identity=self._human)
        except ProviderError as exc:
            logger.warning("warm transfer: human not removed", extra={"error": str(exc)})
        local = self._room.local_participant
        local.set_track_subscription_permissions(allow_all_participants=True)
        if self._briefing is not None:
            await local.unpublish_track(self._briefing.sid)
        if self._source is not None:
            await self._source.aclose()
        hold_of(self._session).resume()
        logger.info("warm transfer: not connected; back with the caller")
        if self._options.unavailable_line:
            try:
                await speak(self._session, self._options.unavailable_line)
            except RuntimeError:  # the session closed meanwhile
                return
