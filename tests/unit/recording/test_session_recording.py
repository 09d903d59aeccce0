"""SessionRecording: which tracks of a call it records (the caller's and the agent's
audio, nothing else), the reference it gives before Egress answers, and what it does
when Egress refuses one track. The room and the recorder are stand-ins (no server)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from livekit import rtc

from omnivoice_rtc import ProviderError
from omnivoice_rtc.recording import CallRecorder, Recording, SessionRecording, TrackRecording

pytestmark = pytest.mark.unit


class _Publication:
    def __init__(self, sid: str, kind: int = rtc.TrackKind.KIND_AUDIO) -> None:
        self.sid = sid
        self.kind = kind


class _Participant:
    def __init__(self, identity: str, *pubs: _Publication) -> None:
        self.identity = identity
        self.track_publications = {p.sid: p for p in pubs}


class _Room:
    def __init__(self) -> None:
        self.name = "sip-out-1"
        self.local_participant = _Participant("agent-1", _Publication("TR_agent"))
        self.remote_participants = {
            "caller": _Participant(
                "caller", _Publication("TR_caller"), _Publication("TR_video", 2)
            ),
            "other": _Participant("other", _Publication("TR_other")),
        }
        self.handlers: dict[str, Any] = {}

    def on(self, event: str, handler: Any) -> None:
        self.handlers[event] = handler

    def off(self, event: str, handler: Any) -> None:
        assert self.handlers.pop(event) == handler


class _Recorder(CallRecorder):
    def __init__(self, refuse: frozenset[str] = frozenset()) -> None:
        super().__init__(api=None, directory="/rec")  # type: ignore[arg-type]  # reason: no API calls in this stand-in
        self.refuse = refuse
        self.stopped: list[Recording] = []

    async def add_track(self, recording: Recording, participant: str, track_sid: str) -> Recording:
        if track_sid in self.refuse:
            raise ProviderError("egress refused")
        file = str(self.file_for(recording, participant, track_sid))
        track = TrackRecording(
            egress_id=f"EG_{track_sid}", participant=participant, track_sid=track_sid, file=file
        )
        return replace(recording, tracks=(*recording.tracks, track))

    async def stop(self, recording: Recording, *, timeout_s: float = 0) -> Recording:
        self.stopped.append(recording)
        return replace(
            recording, tracks=tuple(replace(t, status="EGRESS_COMPLETE") for t in recording.tracks)
        )


def _recording(recorder: _Recorder) -> tuple[SessionRecording, _Room]:
    room = _Room()
    rec = SessionRecording(recorder=recorder, room=room, caller="caller", call_id="call_1")  # type: ignore[arg-type]  # reason: stand-in room
    return rec, room


async def test_the_caller_and_the_agent_are_recorded_and_nobody_else() -> None:
    recorder = _Recorder()
    rec, room = _recording(recorder)
    rec.start()
    # the reference is there at once, before Egress answered
    assert rec.files == ("/rec/call_1/caller-TR_caller.ogg", "/rec/call_1/agent-1-TR_agent.ogg")
    room.handlers["track_published"](_Publication("TR_late"), room.remote_participants["caller"])
    room.handlers["track_published"](_Publication("TR_x"), room.remote_participants["other"])
    room.handlers["local_track_published"](_Publication("TR_agent"), None)  # seen already
    await rec.aclose()
    [stopped] = recorder.stopped
    assert sorted(t.track_sid for t in stopped.tracks) == ["TR_agent", "TR_caller", "TR_late"]
    assert {t.status for t in rec.recording.tracks} == {"EGRESS_COMPLETE"}
    assert room.handlers == {}  # no longer listening
    await rec.aclose()  # idempotent
    assert len(recorder.stopped) == 1


async def test_a_refused_track_is_not_part_of_the_reference() -> None:
    recorder = _Recorder(refuse=frozenset({"TR_agent"}))
    rec, _room = _recording(recorder)
    rec.start()
    await rec.aclose()
    assert rec.files == ("/rec/call_1/caller-TR_caller.ogg",)
    assert [t.track_sid for t in rec.recording.tracks] == ["TR_caller"]
