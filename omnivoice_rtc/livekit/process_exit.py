"""Leaving a process that started livekit rtc's native runtime.

The runtime's exit-time teardown (``livekit_ffi_dispose``, run by an ``atexit`` hook of
``livekit.rtc``) can abort the process: a tokio thread panics "in a function that cannot
unwind" and the process dies by SIGABRT (status -6) after it has done all its work.
Seen after a finished ``omnivoice-rtc simulate`` with several calls (2 of ~25 runs) and
after the web server's SIGTERM drain had ended every call and stopped (a CI run of
6951e2e).
A process whose own shutdown is complete leaves with :func:`exit_process` instead: it
flushes stdout, stderr and the log handlers, then ``os._exit`` skips that teardown. The
kernel closes the sockets; every room was already left by then.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import NoReturn


def livekit_rtc_started() -> bool:
    """True when this process created livekit rtc's FFI client (joined a room, made a
    source or a stream); False when it never loaded the native runtime."""
    ffi = sys.modules.get("livekit.rtc._ffi_client")
    client = getattr(ffi, "FfiClient", None)
    return client is not None and getattr(client, "_instance", None) is not None


def exit_process(status: int) -> NoReturn:
    """Exit with ``status``: normally (``sys.exit``) when livekit rtc never started,
    else by ``os._exit`` after flushing stdout, stderr and logging, skipping the
    native runtime's teardown (see the module docstring)."""
    if not livekit_rtc_started():
        sys.exit(status)
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(status)
