"""Leaving a process after livekit rtc started (:mod:`omnivoice_rtc.livekit.process_exit`):
the status is kept, output and logs are flushed, and the native runtime's exit-time
teardown (which can abort a finished process with SIGABRT) is skipped."""

from __future__ import annotations

import pytest

from tests.conftest import run_python

pytestmark = pytest.mark.unit

_PROGRAM = """
import atexit, logging, sys
from omnivoice_rtc.livekit.process_exit import exit_process, livekit_rtc_started
atexit.register(lambda: print("atexit ran", flush=True))
logging.basicConfig(stream=sys.stderr, format="%(message)s", level=logging.INFO)
if sys.argv[1] == "rtc":
    from livekit.rtc._ffi_client import FfiClient
    FfiClient.instance  # starts the native runtime, as joining a room does
print("started" if livekit_rtc_started() else "not started", end=" ")
logging.getLogger("t").info("last log line")
exit_process(5)
"""


def test_after_livekit_rtc_started_the_teardown_is_skipped_and_everything_flushed() -> None:
    done = run_python(_PROGRAM, "rtc")
    assert done.returncode == 5, done.stderr
    assert done.stdout == "started "  # no newline: flushed before os._exit
    assert "last log line" in done.stderr


def test_without_livekit_rtc_the_process_exits_normally() -> None:
    done = run_python(_PROGRAM, "plain")
    assert done.returncode == 5, done.stderr
    assert done.stdout == "not started atexit ran\n"
    assert "last log line" in done.stderr
