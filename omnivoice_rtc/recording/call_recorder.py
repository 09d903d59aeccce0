"""Record a call's audio through LiveKit Egress: one audio-only track egress per track,
each to an Ogg/Opus file in a local folder (docs/calls.md).

    recorder = CallRecorder(api=livekit_api, directory="/var/lib/omnivoice/recordings")
    recording = await recorder.start("sip-out-1234", call_id="call_abc")   # every audio track
    ...
    recording = await recorder.stop(recording)        # files final; recording.files = paths

Why track egress: it needs no Chrome (room-composite recording renders a web page), runs
on the self-hosted Egress this project builds and on LiveKit Cloud, and copies the Opus
packets as they are (no transcoding). A call is two tracks (the caller and the agent),
so two files: ``<directory>/<call id>/<participant identity>-<track sid>.ogg``. The
paths are the recording's reference (:attr:`Recording.files`); they are known when the
recording starts. On LiveKit Cloud the files are written on LiveKit's machines: give the
request an upload target there instead (not covered here).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final

from livekit import api

from omnivoice_rtc._errors import ProviderError
from omnivoice_rtc.logs import pii

__all__ = ["STOP_TIMEOUT_S", "CallRecorder", "Recording", "TrackRecording"]

logger = logging.getLogger(__name__)

STOP_TIMEOUT_S: Final = 30.0
"""Longest wait (s) for Egress to finish a file after stop."""
_POLL_S: Final = 0.25
_UNSAFE = re.compile(r"[^A-Za-z0-9_.+-]")
_DONE: Final = (
    api.EgressStatus.EGRESS_COMPLETE,
    api.EgressStatus.EGRESS_FAILED,
    api.EgressStatus.EGRESS_ABORTED,
    api.EgressStatus.EGRESS_LIMIT_REACHED,
)


def _safe(name: str) -> str:
    """``name`` as one path component (identities hold ``+`` and ``:``; never ``/``)."""
    return _UNSAFE.sub("_", name).strip(".") or "_"


@dataclass(frozen=True, slots=True, kw_only=True)
class TrackRecording:
    """One track's egress: its id, whose track, the file, and (after stop) the outcome
    (``status`` is Egress's name for it, e.g. ``EGRESS_COMPLETE``; ``size_bytes``)."""

    egress_id: str
    participant: str
    track_sid: str
    file: str
    status: str = "EGRESS_STARTING"
    error: str = ""
    size_bytes: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Recording:
    """A call's recording: ``room``, ``directory`` (its folder) and one
    :class:`TrackRecording` per recorded track."""

    room: str
    directory: str
    tracks: tuple[TrackRecording, ...] = ()

    @property
    def files(self) -> tuple[str, ...]:
        """The recording's reference: the absolute path of every track's file."""
        return tuple(t.file for t in self.tracks)


class CallRecorder:
    """Starts and stops audio-only track egresses (see the module docstring).

    ``api``: a LiveKitAPI for the server the call's room is on (not closed here);
    ``directory``: where files go, on the machine Egress runs on.
    """

    def __init__(self, *, api: api.LiveKitAPI, directory: str | Path) -> None:
        self._api = api
        self._directory = Path(directory).expanduser().absolute()

    def folder_for(self, call_id: str) -> Path:
        """The folder of ``call_id``'s files."""
        return self._directory / _safe(call_id)

    async def start(
        self, room: str, *, call_id: str = "", identities: Iterable[str] | None = None
    ) -> Recording:
        """Record every audio track now in ``room`` (only those of ``identities`` when
        given). ``call_id`` names the folder (default: the room). ProviderError when
        LiveKit or Egress refuses (e.g. no Egress running: "no response from servers")."""
        wanted = set(identities) if identities is not None else None
        try:
            listed = await self._api.room.list_participants(api.ListParticipantsRequest(room=room))
        except api.TwirpError as exc:
            raise ProviderError(f"recording {room}: cannot list participants: {exc}") from exc
        recording = Recording(room=room, directory=str(self.folder_for(call_id or room)))
        for p in listed.participants:
            if wanted is not None and p.identity not in wanted:
                continue
            for track in p.tracks:
                if track.type == api.TrackType.AUDIO:
                    recording = await self.add_track(recording, p.identity, track.sid)
        return recording

    @staticmethod
    def file_for(recording: Recording, participant: str, track_sid: str) -> Path:
        """The file ``participant``'s track ``track_sid`` is recorded to."""
        return Path(recording.directory) / f"{_safe(participant)}-{_safe(track_sid)}.ogg"

    async def add_track(self, recording: Recording, participant: str, track_sid: str) -> Recording:
        """Start recording one more track of ``recording``'s room; the new Recording."""
        path = self.file_for(recording, participant, track_sid)
        request = api.TrackEgressRequest(
            room_name=recording.room,
            track_id=track_sid,
            file=api.DirectFileOutput(filepath=str(path)),
        )
        try:
            info = await self._api.egress.start_track_egress(request)
        except api.TwirpError as exc:
            raise ProviderError(f"recording {recording.room}: egress refused: {exc}") from exc
        logger.info(
            "recording a track",
            extra={"egress_id": info.egress_id, "track": track_sid, **pii(participant=participant)},
        )
        track = TrackRecording(
            egress_id=info.egress_id,
            participant=participant,
            track_sid=track_sid,
            file=str(path),
            status=api.EgressStatus.Name(info.status),
        )
        return replace(recording, tracks=(*recording.tracks, track))

    async def wait_active(self, recording: Recording, *, timeout_s: float = 30.0) -> None:
        """Wait until every track's egress records (Egress's first pipeline on a machine
        takes seconds: GStreamer scans its plugins). TimeoutError after ``timeout_s`` s."""
        async with asyncio.timeout(timeout_s):
            for track in recording.tracks:
                while (info := await self._info(track.egress_id)) is not None and (  # noqa: ASYNC110 -- reason: polls a remote API; no event to wait on
                    info.status == api.EgressStatus.EGRESS_STARTING
                ):
                    await asyncio.sleep(_POLL_S)

    async def stop(self, recording: Recording, *, timeout_s: float = STOP_TIMEOUT_S) -> Recording:
        """Stop every track's egress and wait (at most ``timeout_s`` s) until its file is
        final; the Recording with each track's outcome."""
        for track in recording.tracks:
            try:
                await self._api.egress.stop_egress(api.StopEgressRequest(egress_id=track.egress_id))
            except api.TwirpError as exc:  # already ended (e.g. the room closed first)
                logger.info(
                    "egress already stopped",
                    extra={"egress_id": track.egress_id, "error": str(exc)},
                )
        tracks = [await self._settled(track, timeout_s) for track in recording.tracks]
        return replace(recording, tracks=tuple(tracks))

    async def _info(self, egress_id: str) -> api.EgressInfo | None:
        listed = await self._api.egress.list_egress(api.ListEgressRequest(egress_id=egress_id))
        return listed.items[0] if listed.items else None

    async def _settled(self, track: TrackRecording, timeout_s: float) -> TrackRecording:
        info: api.EgressInfo | None = None
        try:
            async with asyncio.timeout(timeout_s):
                while (info := await self._info(track.egress_id)) is not None and (  # noqa: ASYNC110 -- reason: polls a remote API; no event to wait on
                    info.status not in _DONE
                ):
                    await asyncio.sleep(_POLL_S)
        except TimeoutError:
            logger.warning(
                "recording not final in time",
                extra={"egress_id": track.egress_id, "timeout_s": timeout_s},
            )
        except api.TwirpError as exc:  # the outcome is unknown; the file may still be fine
            logger.warning(
                "recording outcome unknown", extra={"egress_id": track.egress_id, "error": str(exc)}
            )
        if info is None:
            return track
        size = info.file.size if info.HasField("file") else 0
        return replace(
            track, status=api.EgressStatus.Name(info.status), error=info.error, size_bytes=size
        )
