"""Pytest plugin: LiveKit Egress (bin/livekit-egress) on the SIP stack's Redis and
livekit-server, for recording tests (egress needs Redis, which only ``sip_stack`` runs).

Fixtures:

* ``egress_server`` (session): :class:`EgressServer` (``.stack``: the SIP stack it
  serves, ``.recordings``: a folder it may write to, ``.log_file``), started with the same
  spec as ``omnivoice-rtc dev`` (omnivoice_rtc.stack.egress) and stopped at session end.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

from omnivoice_rtc.settings import LiveKitSettings
from omnivoice_rtc.stack import Supervisor, free_ports
from omnivoice_rtc.stack.egress import egress_spec, handler_directory
from tests.conftest import require_binary
from tests.plugins.sip_stack import SIPStack

__all__ = ["EgressServer", "egress_server"]


@dataclass(frozen=True)
class EgressServer:
    stack: SIPStack
    recordings: Path
    log_file: Path

    def log_text(self) -> str:
        return self.log_file.read_text(encoding="utf-8", errors="replace")


class _FileSink:
    def __init__(self, path: Path) -> None:
        self._file = path.open("a", encoding="utf-8", buffering=1)
        self._lock = threading.Lock()

    def __call__(self, line: str) -> None:
        with self._lock:
            if not self._file.closed:
                self._file.write(line + "\n")

    def close(self) -> None:
        with self._lock:
            self._file.close()


_SHARED: dict[str, EgressServer] = {}


@pytest.fixture(scope="session")
def egress_server(
    request: pytest.FixtureRequest, sip_stack: SIPStack, tmp_path_factory: pytest.TempPathFactory
) -> EgressServer:
    """Egress for ``sip_stack`` for the whole session."""
    if "egress" in _SHARED:
        return _SHARED["egress"]
    binary = require_binary("livekit-egress")
    work = tmp_path_factory.mktemp("egress")
    # the installed bin/egress-handler may be missing (an older install): link one here
    handlers = handler_directory(work / "handler", binary=binary)
    health_port, template_port = free_ports(2)
    server = sip_stack.livekit
    spec = egress_spec(
        livekit=LiveKitSettings(
            url=server.url, api_key=server.api_key, api_secret=server.api_secret
        ),
        redis_address=f"127.0.0.1:{sip_stack.redis_port}",
        health_port=health_port,
        template_port=template_port,
        search_path=os.environ.get("PATH", ""),
        binary=binary,
        handlers=handlers,
    )
    log_file = work / "egress.log"
    sink = _FileSink(log_file)
    supervisor = Supervisor([spec], log_sink=sink)
    try:
        supervisor.start()
    except BaseException:
        sink.close()
        raise

    def stop() -> None:
        _SHARED.pop("egress", None)
        supervisor.stop()
        sink.close()

    request.config.add_cleanup(stop)  # before the SIP stack's cleanup (LIFO)
    recordings = work / "recordings"
    recordings.mkdir()
    _SHARED["egress"] = EgressServer(stack=sip_stack, recordings=recordings, log_file=log_file)
    return _SHARED["egress"]
