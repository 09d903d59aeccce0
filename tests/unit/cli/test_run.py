"""``omnivoice-rtc``'s entry point (:func:`omnivoice_rtc.cli.run`): the exit status of
:func:`~omnivoice_rtc.cli.main`, everything printed flushed, and no livekit rtc teardown
at exit once the native runtime was started (it can abort a finished command)."""

from __future__ import annotations

import pytest

from tests.conftest import run_python

pytestmark = pytest.mark.unit

_PROGRAM = """
import atexit, sys
import omnivoice_rtc.cli as cli
atexit.register(lambda: print("atexit ran", flush=True))
if sys.argv[1] == "rtc":
    from livekit.rtc._ffi_client import FfiClient
    FfiClient.instance  # starts the native runtime, as joining a room does
cli.main = lambda argv=None: (print("report", end=""), 3)[1]
cli.run()
"""


def test_after_livekit_rtc_the_status_is_kept_the_output_flushed_and_teardown_skipped() -> None:
    done = run_python(_PROGRAM, "rtc")
    assert done.returncode == 3, done.stderr
    assert done.stdout == "report"  # printed without a newline: flushed before os._exit
    assert "atexit ran" not in done.stdout


def test_without_livekit_rtc_the_command_exits_normally() -> None:
    done = run_python(_PROGRAM, "plain")
    assert done.returncode == 3, done.stderr
    assert done.stdout == "reportatexit ran\n"
