"""Call recording through LiveKit Egress: :class:`CallRecorder` records a room's audio
tracks on demand; :class:`SessionRecording` records an agent's phone call when
``OMNIVOICE_RECORD_CALLS`` is on (docs/calls.md)."""

from omnivoice_rtc.recording.call_recorder import (
    STOP_TIMEOUT_S,
    CallRecorder,
    Recording,
    TrackRecording,
)
from omnivoice_rtc.recording.session_recording import SessionRecording

__all__ = ["STOP_TIMEOUT_S", "CallRecorder", "Recording", "SessionRecording", "TrackRecording"]
