"""The SIP part of the local stack: redis-server and livekit-sip.

livekit-sip talks to livekit-server only through Redis, so both use the same
redis-server; :func:`sip_specs` returns a :class:`~omnivoice_rtc.stack.StackExtension`
whose ``redis_host`` the supervisor passes to livekit-server as ``--redis-host``.
livekit-sip's configuration is ``sip/livekit-sip.yaml`` with its ``${...}`` fields
filled in; it reaches the process in ``SIP_CONFIG_BODY`` so the API secret is not on
the command line.
"""

from __future__ import annotations

import ipaddress
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from omnivoice_rtc._errors import ConfigError, StackError
from omnivoice_rtc.settings import LiveKitSettings, Settings, env_int, env_str
from omnivoice_rtc.stack import (
    PROJECT_ROOT,
    PortUse,
    ProcessSpec,
    StackExtension,
    TcpCheck,
    find_binary,
)

__all__ = [
    "LIVEKIT_SIP_TEMPLATE",
    "SIPStackSettings",
    "livekit_sip_config",
    "livekit_sip_spec",
    "redis_spec",
    "sip_specs",
]

LIVEKIT_SIP_TEMPLATE = PROJECT_ROOT / "sip" / "livekit-sip.yaml"

_REDIS_FAIL = r"Address already in use|Could not create server TCP listening socket"
_SIP_FAIL = r"address already in use|could not start|failed to start"
_LOG_LEVELS = ("debug", "info", "warn", "error")


def _check_ip(name: str, value: str) -> str:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise ConfigError(f"{name}: must be an IP address, got {value!r}") from None
    return value


SIP_VARIABLES: Final[dict[str, str]] = {
    "OMNIVOICE_SIP_PORT": "SIP signaling port, UDP and TCP (default 5060)",
    "OMNIVOICE_SIP_RTP_PORTS": "RTP media port range start-end (default 10000-10100)",
    "OMNIVOICE_SIP_BIND_IP": "where livekit-sip listens (default 127.0.0.1)",
    "OMNIVOICE_SIP_PUBLIC_IP": "address announced in SIP/SDP (required with a wildcard bind)",
    "OMNIVOICE_REDIS_PORT": "the local redis-server's port (default 6379)",
    "OMNIVOICE_SIP_LOG_LEVEL": "livekit-sip log level: debug, info, warn or error",
}
"""The variables :meth:`SIPStackSettings.from_env` reads, for the docs."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SIPStackSettings:
    """Ports and addresses of the local SIP stack.

    ``sip_port``: SIP signaling (UDP and TCP); ``rtp_port_start``..``rtp_port_end``:
    RTP media (UDP, inclusive; livekit-sip binds them on all interfaces);
    ``bind_ip``: where signaling listens; ``public_ip``: the address announced in
    SIP and SDP (empty: ``bind_ip``, or must be set when ``bind_ip`` is 0.0.0.0);
    ``redis_port``: the loopback redis-server. ``max_cpu_utilization`` (0, 1]:
    livekit-sip refuses calls above this CPU share (1.0: never, the local default).
    """

    sip_port: int = 5060
    rtp_port_start: int = 10000
    rtp_port_end: int = 10100
    bind_ip: str = "127.0.0.1"
    public_ip: str = ""
    redis_port: int = 6379
    log_level: str = "info"
    max_cpu_utilization: float = 1.0
    extra_env: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("sip_port", "rtp_port_start", "rtp_port_end", "redis_port"):
            value = getattr(self, name)
            if not 1 <= value <= 65535:
                raise ValueError(f"{name}: must be between 1 and 65535, got {value}")
        if self.rtp_port_end < self.rtp_port_start:
            raise ValueError(
                f"rtp_port_end: must be >= rtp_port_start ({self.rtp_port_start}), "
                f"got {self.rtp_port_end}"
            )
        if not 0 < self.max_cpu_utilization <= 1:
            raise ValueError(
                f"max_cpu_utilization: must be in (0, 1], got {self.max_cpu_utilization}"
            )
        if self.log_level not in _LOG_LEVELS:
            raise ValueError(f"log_level: must be one of {', '.join(_LOG_LEVELS)}")
        _check_ip("bind_ip", self.bind_ip)
        if self.public_ip:
            _check_ip("public_ip", self.public_ip)
        elif self.bind_ip in ("0.0.0.0", "::"):
            raise ValueError("public_ip: must be set when bind_ip is a wildcard address")

    @property
    def announced_ip(self) -> str:
        """The IP address put in SIP Contact/Via headers and SDP."""
        return self.public_ip or self.bind_ip

    @property
    def redis_address(self) -> str:
        return f"127.0.0.1:{self.redis_port}"

    @property
    def sip_uri(self) -> str:
        return f"sip:{self.announced_ip}:{self.sip_port}"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> SIPStackSettings:
        """Read ``OMNIVOICE_SIP_PORT``, ``OMNIVOICE_SIP_RTP_PORTS`` (``start-end``),
        ``OMNIVOICE_SIP_BIND_IP``, ``OMNIVOICE_SIP_PUBLIC_IP``, ``OMNIVOICE_REDIS_PORT``,
        ``OMNIVOICE_SIP_LOG_LEVEL``."""
        sip_port = env_int(env, "OMNIVOICE_SIP_PORT", 5060, minimum=1, maximum=65535)
        redis_port = env_int(env, "OMNIVOICE_REDIS_PORT", 6379, minimum=1, maximum=65535)
        rtp = env_str(env, "OMNIVOICE_SIP_RTP_PORTS", "10000-10100")
        start_text, _, end_text = rtp.partition("-")
        try:
            start, end = int(start_text), int(end_text)
        except ValueError:
            raise ConfigError(
                f"OMNIVOICE_SIP_RTP_PORTS: must be 'start-end' like 10000-10100, got {rtp!r}"
            ) from None
        if not 1 <= start <= end <= 65535:
            raise ConfigError(
                f"OMNIVOICE_SIP_RTP_PORTS: must be 'start-end' with 1 <= start <= end <= 65535, "
                f"got {rtp!r}"
            )
        bind_ip = _check_ip(
            "OMNIVOICE_SIP_BIND_IP", env_str(env, "OMNIVOICE_SIP_BIND_IP", "127.0.0.1")
        )
        public_ip = env_str(env, "OMNIVOICE_SIP_PUBLIC_IP", "")
        if public_ip:
            _check_ip("OMNIVOICE_SIP_PUBLIC_IP", public_ip)
        elif bind_ip in ("0.0.0.0", "::"):
            raise ConfigError(
                "OMNIVOICE_SIP_PUBLIC_IP: must be set when OMNIVOICE_SIP_BIND_IP is 0.0.0.0"
            )
        log_level = env_str(env, "OMNIVOICE_SIP_LOG_LEVEL", "info")
        if log_level not in _LOG_LEVELS:
            raise ConfigError(f"OMNIVOICE_SIP_LOG_LEVEL: must be one of {', '.join(_LOG_LEVELS)}")
        return cls(
            sip_port=sip_port,
            rtp_port_start=start,
            rtp_port_end=end,
            bind_ip=bind_ip,
            public_ip=public_ip,
            redis_port=redis_port,
            log_level=log_level,
        )


def redis_spec(*, port: int, binary: str | None = None) -> ProcessSpec:
    """redis-server on 127.0.0.1:``port``, in memory only (no RDB/AOF files)."""
    argv = (
        binary or find_binary("redis-server"),
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--protected-mode", "yes",
        "--save", "",
        "--appendonly", "no",
    )  # fmt: skip
    return ProcessSpec(
        name="redis",
        argv=argv,
        health=TcpCheck(port=port),
        start_timeout_s=15.0,
        fail_pattern=_REDIS_FAIL,
        ports=(PortUse(port=port, protocol="tcp", purpose="redis"),),
    )


def livekit_sip_config(
    *, livekit: LiveKitSettings, sip: SIPStackSettings, template: str | None = None
) -> str:
    """The livekit-sip YAML: ``sip/livekit-sip.yaml`` with its fields filled in."""
    text = LIVEKIT_SIP_TEMPLATE.read_text(encoding="utf-8") if template is None else template
    values = {
        "LIVEKIT_API_KEY": livekit.api_key,
        "LIVEKIT_API_SECRET": livekit.api_secret,
        "LIVEKIT_WS_URL": livekit.url,
        "REDIS_ADDRESS": sip.redis_address,
        "SIP_PORT": str(sip.sip_port),
        "RTP_PORT_RANGE": f"{sip.rtp_port_start}-{sip.rtp_port_end}",
        "SIP_BIND_IP": sip.bind_ip,
        "SIP_PUBLIC_IP": sip.announced_ip,
        "LOG_LEVEL": sip.log_level,
        "MAX_CPU_UTILIZATION": str(sip.max_cpu_utilization),
    }
    for name, value in values.items():
        if any(c in value for c in "\n\"'#") or value != value.strip():
            raise ValueError(f"{name}: must not contain newlines, quotes or '#'")
    try:
        return string.Template(text).substitute(values)
    except (KeyError, ValueError) as exc:
        raise ValueError(
            f"{LIVEKIT_SIP_TEMPLATE}: unknown or malformed placeholder: {exc}"
        ) from None


def livekit_sip_spec(
    *, livekit: LiveKitSettings, sip: SIPStackSettings, binary: str | None = None
) -> ProcessSpec:
    """livekit-sip for ``livekit`` (server URL and keys) with the ports of ``sip``."""
    probe_host = "127.0.0.1" if sip.bind_ip in ("0.0.0.0", "::") else sip.bind_ip
    return ProcessSpec(
        name="livekit-sip",
        argv=(binary or find_binary("livekit-sip"),),
        env={
            "SIP_CONFIG_BODY": livekit_sip_config(livekit=livekit, sip=sip),
            **sip.extra_env,
        },
        # "sip service ready" is logged at debug level only; SIP TCP accepts right after.
        health=TcpCheck(port=sip.sip_port, host=probe_host),
        start_timeout_s=30.0,
        stop_timeout_s=5.0,
        fail_pattern=_SIP_FAIL,
        ports=(
            PortUse(port=sip.sip_port, protocol="udp", host=probe_host, purpose="sip"),
            PortUse(port=sip.sip_port, protocol="tcp", host=probe_host, purpose="sip"),
        ),
    )


def sip_specs(
    settings: Settings, *, sip: SIPStackSettings | None = None, livekit_url: str | None = None
) -> StackExtension:
    """redis-server (before livekit-server) and livekit-sip (after it) for ``settings``.

    ``sip`` defaults to ``settings.sip``. ``livekit_url`` (ws URL)
    overrides ``settings.livekit.url`` when the dev stack moved livekit-server to
    another port. With a non-local ``LIVEKIT_URL`` (LiveKit Cloud) nothing is started:
    Cloud runs SIP itself.
    """
    if not settings.livekit.is_local:
        return StackExtension(urls={"SIP": "not started locally (LIVEKIT_URL is not local)"})
    sip = settings.sip if sip is None else sip
    livekit = settings.livekit
    if livekit_url is not None:
        livekit = LiveKitSettings(
            url=livekit_url, api_key=livekit.api_key, api_secret=livekit.api_secret
        )
    egress, egress_url = _egress(settings, livekit=livekit, redis_address=sip.redis_address)
    return StackExtension(
        before_livekit=(redis_spec(port=sip.redis_port),),
        after_livekit=(livekit_sip_spec(livekit=livekit, sip=sip), *egress),
        redis_host=sip.redis_address,
        urls={"SIP": sip.sip_uri, "Redis": f"redis://{sip.redis_address}", "Egress": egress_url},
    )


def _egress(
    settings: Settings, *, livekit: LiveKitSettings, redis_address: str
) -> tuple[tuple[ProcessSpec, ...], str]:
    """LiveKit Egress on the stack's Redis (call recording), when it is installed."""
    from omnivoice_rtc.stack.egress import egress_spec

    recording = settings.recording
    try:
        spec = egress_spec(
            livekit=livekit,
            redis_address=redis_address,
            health_port=recording.egress_health_port,
            template_port=recording.egress_template_port,
            search_path=settings.env.get("PATH", ""),
        )
    except StackError:
        return (), "not installed (bash scripts/install-egress.sh): no call recording"
    return (spec,), f"recording to {Path(recording.directory).absolute()}"
