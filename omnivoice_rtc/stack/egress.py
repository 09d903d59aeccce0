"""LiveKit Egress in the local stack: its configuration and process spec (docs/calls.md).

Egress v1.8.6 (``bin/livekit-egress``, built by ``scripts/install-egress.sh``) joins
livekit-server through the same Redis and records tracks with GStreamer. Each recording
runs in a handler process that Egress starts as ``egress run-handler ...`` found on
``PATH`` (a fixed name in ``pkg/server/server_rpc.go``): ``scripts/install-egress.sh``
makes ``bin/egress-handler/egress``, a link to the binary (:func:`handler_directory`
makes one elsewhere), and :func:`egress_spec` puts that directory first on the child's
``PATH``.

The config is JSON (a subset of YAML): API key and secret, ``ws_url``, Redis, the health
and (unused: no room-composite templates in this build) template ports, and CPU costs
small enough for a 2-core box to take a few audio track recordings at once (Egress's
defaults reserve a whole core per track).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Final

from omnivoice_rtc._errors import StackError
from omnivoice_rtc.settings import LiveKitSettings
from omnivoice_rtc.stack.livekit_server import find_binary
from omnivoice_rtc.stack.specs import PortUse, ProcessSpec, TcpCheck

__all__ = [
    "EGRESS_BINARY",
    "HANDLER_DIRECTORY",
    "TRACK_CPU_COST",
    "egress_config",
    "egress_spec",
    "handler_directory",
]

EGRESS_BINARY: Final = "livekit-egress"
HANDLER_DIRECTORY: Final = "egress-handler"
"""Beside the binary: holds ``egress``, the link Egress runs its handlers through."""
TRACK_CPU_COST: Final = 0.1
"""CPUs Egress books for one audio track recording (its default, 0.5, allows three)."""
_FAIL = r"(?i)(failed to start|address already in use|could not connect to redis)"


def egress_config(
    *,
    livekit: LiveKitSettings,
    redis_address: str,
    health_port: int,
    template_port: int,
    log_level: str = "info",
) -> str:
    """The Egress config body (``EGRESS_CONFIG_BODY``) for ``livekit`` and Redis at
    ``redis_address`` (host:port)."""
    config = {
        "log_level": log_level,
        "api_key": livekit.api_key,
        "api_secret": livekit.api_secret,
        "ws_url": livekit.url,
        "insecure": True,
        "redis": {"address": redis_address},
        "health_port": health_port,
        "template_port": template_port,
        "cpu_cost": {
            "max_cpu_utilization": 0.95,
            "track_cpu_cost": TRACK_CPU_COST,
            "track_composite_cpu_cost": TRACK_CPU_COST * 2,
            "participant_cpu_cost": TRACK_CPU_COST * 2,
        },
    }
    return json.dumps(config)


def handler_directory(directory: Path, *, binary: str | None = None) -> Path:
    """``directory`` with an ``egress`` link to the Egress binary in it (made if missing;
    replaced when it points elsewhere). Raises StackError when the binary is missing."""
    target = Path(binary or find_binary(EGRESS_BINARY)).absolute()
    directory.mkdir(parents=True, exist_ok=True)
    link = directory / "egress"
    if link.is_symlink() and Path(link.readlink()) == target:
        return directory
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(target)
    return directory


def egress_spec(
    *,
    livekit: LiveKitSettings,
    redis_address: str,
    health_port: int,
    template_port: int,
    search_path: str,
    binary: str | None = None,
    handlers: Path | None = None,
) -> ProcessSpec:
    """Egress for ``livekit`` on Redis ``redis_address``; ``search_path`` is the ``PATH``
    the handler directory is put in front of (the environment's); ``handlers`` (default:
    ``egress-handler`` beside the binary) holds the ``egress`` link. StackError when the
    binary or the link is missing."""
    executable = binary or find_binary(EGRESS_BINARY)
    handlers = handlers or Path(executable).parent / HANDLER_DIRECTORY
    if not (handlers / "egress").exists():
        raise StackError(
            f"{handlers / 'egress'}: missing (the Egress handler link; "
            "bash scripts/install-egress.sh makes it)"
        )
    return ProcessSpec(
        name="livekit-egress",
        argv=(executable,),
        env={
            "EGRESS_CONFIG_BODY": egress_config(
                livekit=livekit,
                redis_address=redis_address,
                health_port=health_port,
                template_port=template_port,
            ),
            "PATH": f"{handlers}:{search_path}" if search_path else str(handlers),
        },
        health=TcpCheck(port=health_port),
        start_timeout_s=30.0,
        stop_timeout_s=10.0,
        fail_pattern=_FAIL,
        ports=(
            PortUse(port=health_port, protocol="tcp", purpose="egress health"),
            PortUse(port=template_port, protocol="tcp", purpose="egress templates"),
        ),
    )
