"""Record one phone call the agent serves (``OMNIVOICE_RECORD_CALLS=1``): every audio
track of the caller and of the agent, each through its own Egress track egress, from
when it is published until the session ends.

The files' paths are known as soon as a track is published (:attr:`SessionRecording.
files`), so the session's ``session_ended`` event carries them
(``SessionEnded.recording``) although Egress finishes the files after it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Final

from livekit import rtc

from omnivoice_rtc._errors import ProviderError
from omnivoice_rtc.recording.call_recorder import CallRecorder, Recording

__all__ = ["FINISH_TIMEOUT_S", "SessionRecording"]

logger = logging.getLogger(__name__)

FINISH_TIMEOUT_S: Final = 20.0
"""Longest wait (s) at the end of a call for Egress to finish its files."""


class SessionRecording:
    """Records ``caller``'s and the agent's audio tracks in ``room`` under ``call_id``'s
    folder. :meth:`start` once the session runs; :meth:`aclose` when it has ended."""

    def __init__(
        self, *, recorder: CallRecorder, room: rtc.Room, caller: str, call_id: str
    ) -> None:
        self._recorder = recorder
        self._room = room
        self._caller = caller
        self._recording = Recording(room=room.name, directory=str(recorder.folder_for(call_id)))
        self._requested: dict[str, str] = {}  # track sid -> file path
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    @property
    def files(self) -> tuple[str, ...]:
        """The recording's reference: each recorded track's file (absolute paths)."""
        return tuple(self._requested.values())

    @property
    def recording(self) -> Recording:
        """The egresses started so far (their outcomes after :meth:`aclose`)."""
        return self._recording

    def start(self) -> None:
        """Record the tracks published now and every audio track published later."""
        self._room.on("track_published", self._on_remote)
        self._room.on("local_track_published", self._on_local)
        caller = self._room.remote_participants.get(self._caller)
        if caller is not None:
            for publication in caller.track_publications.values():
                self._record(caller.identity, publication)
        local = self._room.local_participant
        for local_publication in local.track_publications.values():
            self._record(local.identity, local_publication)

    def _on_remote(self, publication: rtc.RemoteTrackPublication, p: rtc.RemoteParticipant) -> None:
        if p.identity == self._caller:
            self._record(p.identity, publication)

    def _on_local(self, publication: rtc.LocalTrackPublication, _track: Any) -> None:
        self._record(self._room.local_participant.identity, publication)

    def _record(self, identity: str, publication: rtc.TrackPublication) -> None:
        if self._closed or publication.kind != rtc.TrackKind.KIND_AUDIO:
            return
        if publication.sid in self._requested:
            return
        self._requested[publication.sid] = str(
            self._recorder.file_for(self._recording, identity, publication.sid)
        )
        task = asyncio.get_running_loop().create_task(
            self._add(identity, publication.sid), name="omnivoice.recording.add"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _add(self, identity: str, track_sid: str) -> None:
        async with self._lock:
            try:
                self._recording = await self._recorder.add_track(
                    self._recording, identity, track_sid
                )
            except ProviderError as exc:
                self._requested.pop(track_sid, None)  # never recorded: not a reference
                logger.warning("track not recorded", extra={"track": track_sid, "error": str(exc)})

    async def aclose(self) -> None:
        """Stop listening, wait for pending starts, stop every egress and wait (at most
        :data:`FINISH_TIMEOUT_S` s) for the files."""
        if self._closed:
            return
        self._closed = True
        self._room.off("track_published", self._on_remote)
        self._room.off("local_track_published", self._on_local)
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        async with self._lock:
            self._recording = await self._recorder.stop(self._recording, timeout_s=FINISH_TIMEOUT_S)
        for track in self._recording.tracks:
            logger.info(
                "recording finished",
                extra={
                    "egress_id": track.egress_id,
                    "status": track.status,
                    "bytes": track.size_bytes,
                },
            )
