"""The recording's reference: folders and file names made safe, known at start."""

from __future__ import annotations

import pytest

from omnivoice_rtc.recording import CallRecorder, Recording, TrackRecording
from omnivoice_rtc.recording.call_recorder import _safe  # reason: the path rule itself
from omnivoice_rtc.settings import RecordingSettings

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("call_abc", "call_abc"),
        ("+15550100", "+15550100"),
        ("sip:alice@example.com", "sip_alice_example.com"),
        ("../../etc/passwd", "_.._etc_passwd"),
        ("..", "_"),
        ("", "_"),
    ],
)
def test_names_become_one_path_component(name: str, safe: str) -> None:
    assert _safe(name) == safe
    assert "/" not in _safe(name)


def test_the_folder_of_a_call_is_under_the_directory() -> None:
    recorder = CallRecorder(api=object(), directory="/var/rec")  # type: ignore[arg-type]  # reason: no API call here
    assert str(recorder.folder_for("call/1")) == "/var/rec/call_1"


def test_the_reference_is_every_tracks_file() -> None:
    tracks = tuple(
        TrackRecording(egress_id=f"EG_{i}", participant=p, track_sid=f"TR_{i}", file=f"/r/{p}.ogg")
        for i, p in enumerate(("caller", "agent"))
    )
    recording = Recording(room="room", directory="/r", tracks=tracks)
    assert recording.files == ("/r/caller.ogg", "/r/agent.ogg")


def test_the_recording_directory_setting_is_made_absolute() -> None:
    settings = RecordingSettings.from_env(
        {"OMNIVOICE_RECORDING_DIR": "rec", "OMNIVOICE_RECORD_CALLS": "1"}
    )
    assert settings.record_calls
    assert settings.directory.startswith("/")
    assert settings.directory.endswith("/rec")
    assert not RecordingSettings.from_env({}).record_calls
