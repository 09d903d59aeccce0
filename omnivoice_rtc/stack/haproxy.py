"""HAProxy in front of the web/shim replicas (``omnivoice-rtc dev --web-replicas N``).

The configuration is ``deploy/haproxy.cfg`` (the example for your own hosts too) with the
dev stack's bind address, port and replicas filled in; it is passed to ``haproxy -f`` as a
file written next to the other dev-stack files. HAProxy is Debian's package
(scripts/install-debian.sh). See docs/scaling.md for what the configuration does.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from omnivoice_rtc.stack.livekit_server import PROJECT_ROOT, find_binary
from omnivoice_rtc.stack.specs import HttpCheck, PortUse, ProcessSpec

__all__ = ["HAPROXY_TEMPLATE", "haproxy_config", "haproxy_spec"]

HAPROXY_TEMPLATE: Final = PROJECT_ROOT / "deploy" / "haproxy.cfg"
_FAIL: Final = r"cannot bind socket|Address already in use|Fatal errors found"


def haproxy_config(
    *, bind: str, port: int, replicas: Sequence[tuple[str, int]], template: str | None = None
) -> str:
    """deploy/haproxy.cfg for ``replicas`` (``(host, port)`` each) behind ``bind:port``."""
    if not replicas:
        raise ValueError("replicas: at least one web replica is needed")
    text = HAPROXY_TEMPLATE.read_text(encoding="utf-8") if template is None else template
    servers = "\n".join(
        f"    server web-{i} {host}:{rport} check" for i, (host, rport) in enumerate(replicas, 1)
    )
    return text.replace("{bind}", bind).replace("{port}", str(port)).replace("{servers}", servers)


def haproxy_spec(
    *,
    bind: str = "127.0.0.1",
    port: int,
    replicas: Sequence[tuple[str, int]],
    binary: str | None = None,
    config_dir: Path | None = None,
) -> ProcessSpec:
    """``haproxy -db -f <rendered deploy/haproxy.cfg>`` on ``bind:port``; healthy once a
    replica answers ``/healthz`` through it."""
    text = haproxy_config(bind=bind, port=port, replicas=replicas)
    directory = config_dir or Path(tempfile.gettempdir())
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    path = directory / f"omnivoice-haproxy-{digest}.cfg"
    path.write_text(text, encoding="utf-8")
    probe = "127.0.0.1" if bind in ("0.0.0.0", "") else bind
    return ProcessSpec(
        name="haproxy",
        argv=(binary or find_binary("haproxy"), "-db", "-f", str(path)),
        health=HttpCheck(url=f"http://{probe}:{port}/healthz"),
        start_timeout_s=60.0,
        stop_timeout_s=5.0,
        fail_pattern=_FAIL,
        ports=(PortUse(port=port, protocol="tcp", host=probe, purpose="http (balancer)"),),
    )
