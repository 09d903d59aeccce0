"""The livekit-server process spec (binary lookup, ports, keys, optional redis)."""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from omnivoice_rtc._errors import StackError
from omnivoice_rtc.stack.specs import HttpCheck, PortUse, ProcessSpec

__all__ = ["PROJECT_ROOT", "find_binary", "livekit_server_spec"]

PROJECT_ROOT = Path(__file__).resolve().parents[2]
"""The source checkout (holds bin/ and livekit.yaml) when installed in editable mode."""

# livekit-server prints bind errors to stdout and then exits (with code 0).
_LIVEKIT_FAIL = r"address already in use|bind: permission denied"


def find_binary(name: str) -> str:
    """Path of executable ``name``: the project's bin/ first, then the venv, then PATH."""
    for directory in (PROJECT_ROOT / "bin", Path(sys.prefix) / "bin"):
        candidate = directory / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise StackError(f"{name}: binary not found in bin/ or PATH; run `make deps`")
    return found


def livekit_server_spec(
    *,
    port: int = 7880,
    tcp_port: int = 7881,
    udp_port: int = 7882,
    keys: Mapping[str, str] | None = None,
    redis_host: str | None = None,
    binary: str | None = None,
    config: Path | None = None,
    bind: str = "127.0.0.1",
    log_level: str = "info",
    start_timeout_s: float = 30.0,
    webhook_urls: Sequence[str] = (),
) -> ProcessSpec:
    """livekit-server on ``bind``: HTTP/WebSocket ``port``, ICE-TCP ``tcp_port``, UDP ``udp_port``.

    ``keys`` (API key → secret; default ``{"devkey": "secret"}``) reach the server via
    the ``LIVEKIT_KEYS`` environment variable, not argv, so they do not show in
    ``ps``. ``redis_host`` (``host:port``) turns on redis (needed by livekit-sip).
    ``config`` defaults to the project's livekit.yaml when it exists; the flags
    given here override it. ``webhook_urls`` (e.g. the web server's ``/livekit/webhook``)
    get LiveKit's webhooks signed with the first key: the config is then passed as
    ``--config-body`` with a ``webhook`` section added (no secret in it).
    """
    keys = {"devkey": "secret"} if keys is None else dict(keys)
    if not keys:
        raise ValueError("keys: must hold at least one API key")
    for key, secret in keys.items():
        if not key or not secret or any(c in key for c in ":\n ") or "\n" in secret:
            raise ValueError(f"keys: invalid API key/secret pair for key {key!r}")
    if config is None:
        default = PROJECT_ROOT / "livekit.yaml"
        config = default if default.is_file() else None
    argv = [binary or find_binary("livekit-server")]
    if webhook_urls:
        body = config.read_text(encoding="utf-8") if config is not None else ""
        body += f"\nwebhook:\n  api_key: {json.dumps(next(iter(keys)))}\n  urls:\n"
        body += "".join(f"    - {json.dumps(url)}\n" for url in webhook_urls)
        argv += ["--config-body", body]
    elif config is not None:
        argv += ["--config", str(config)]
    argv += [
        "--bind", bind,
        "--port", str(port),
        "--rtc.tcp_port", str(tcp_port),
        "--udp-port", str(udp_port),
        "--logging.level", log_level,
    ]  # fmt: skip
    if bind in ("127.0.0.1", "localhost"):
        argv += ["--node-ip", "127.0.0.1", "--rtc.enable_loopback_candidate"]
    if redis_host:
        argv += ["--redis-host", redis_host]
    http_host = "127.0.0.1" if bind in ("0.0.0.0", "localhost") else bind
    return ProcessSpec(
        name="livekit-server",
        argv=tuple(argv),
        env={"LIVEKIT_KEYS": "\n".join(f"{k}: {s}" for k, s in keys.items())},
        health=HttpCheck(url=f"http://{http_host}:{port}/"),
        start_timeout_s=start_timeout_s,
        stop_timeout_s=5.0,
        fail_pattern=_LIVEKIT_FAIL,
        ports=(
            PortUse(port=port, protocol="tcp", host=bind, purpose="http/ws"),
            PortUse(port=tcp_port, protocol="tcp", host=bind, purpose="rtc tcp"),
            PortUse(port=udp_port, protocol="udp", host=bind, purpose="rtc udp"),
        ),
    )
