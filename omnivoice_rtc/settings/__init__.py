"""One settings tree for every process, read once from an injected environment.

:meth:`Settings.from_env` is the only place in the package that reads ``os.environ``
(:func:`environment` hands the same mapping to library code that falls back on it,
e.g. a provider key not given in code). Each section is a frozen dataclass whose fields
name their variables (:func:`~omnivoice_rtc.settings._env.var`); ``docs/settings.md``
lists them all (a test keeps it complete). Every error is a
:class:`~omnivoice_rtc.ConfigError` whose message starts with the variable's name, e.g.
``OMNIVOICE_WEB_PORT: must be an integer between 1 and 65535, got 'abc'``.

=============  ==============================================  =========================
section        what                                            module
=============  ==============================================  =========================
``livekit``    server URL and API key pair                     :mod:`.core`
``web``        bind address, port, public URL, route installers :mod:`.core`
``tokens``     /api/token: TTL, key, agent name                :mod:`.core`
``log``        format, level, PII                              :mod:`.core`
``agent``      what a job needs: pipeline, session options     :mod:`.agent`, :mod:`.pipeline`
``agent_app``  your agent factory, Config file, greeting, silence :mod:`.agent_app`
``worker``     how the worker process runs jobs                :mod:`.agent`
``shim``       media backend, FFI routing, forwarded headers   :mod:`.shim`
``audio``      the converter's frame path                      :mod:`.shim`
``exposure``   opt-ins for a server reachable from outside     :mod:`.safety`
``state``      where call-setup state lives (memory or Redis)  :mod:`.limits`
``limits``     proxies, caps, rates, replay windows, outbound  :mod:`.limits`
``ledger``     call ledger database, retention                  :mod:`.ledger`
``webhooks``   signed outbound call webhooks                    :mod:`.ledger`
``calls``      liveness of a call: media timeout, agent pings  :mod:`.calls`
``sip``        the local SIP stack's ports and addresses         :mod:`omnivoice_rtc.sip.processes`
``carriers``   each carrier's keys, REST credentials, caller id its ``carriers/<name>.py``
=============  ==============================================  =========================
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Self

from omnivoice_rtc.settings._env import EnvVar, env_bool, env_int, env_str, env_vars, load, var
from omnivoice_rtc.settings.agent import AgentSettings, WorkerSettings
from omnivoice_rtc.settings.agent_app import AgentAppSettings
from omnivoice_rtc.settings.calls import CallSettings
from omnivoice_rtc.settings.core import (
    DEFAULT_AGENT_NAME,
    DEFAULT_LIVEKIT_API_KEY,
    DEFAULT_LIVEKIT_API_SECRET,
    DEFAULT_LIVEKIT_URL,
    LiveKitSettings,
    LogSettings,
    TokenSettings,
    WebSettings,
    http_url_of,
)
from omnivoice_rtc.settings.ledger import LedgerSettings, WebhookSettings
from omnivoice_rtc.settings.limits import (
    CallSetupLimits,
    ControlLimits,
    IngressLimits,
    LimitSettings,
    OutboundLimits,
    StateSettings,
)
from omnivoice_rtc.settings.pipeline import LocalPipelineOptions, PipelineSettings
from omnivoice_rtc.settings.recording import RecordingSettings
from omnivoice_rtc.settings.safety import ExposureSettings, Role, require_safe
from omnivoice_rtc.settings.shim import AudioSettings, ShimSettings

if TYPE_CHECKING:
    from omnivoice_rtc.carriers.profile import CarrierSettings
    from omnivoice_rtc.sip.processes import SIPStackSettings

__all__ = [
    "DEFAULT_AGENT_NAME",
    "DEFAULT_LIVEKIT_API_KEY",
    "DEFAULT_LIVEKIT_API_SECRET",
    "DEFAULT_LIVEKIT_URL",
    "AgentAppSettings",
    "AgentSettings",
    "AudioSettings",
    "CallSettings",
    "CallSetupLimits",
    "ControlLimits",
    "EnvVar",
    "ExposureSettings",
    "IngressLimits",
    "LedgerSettings",
    "LimitSettings",
    "LiveKitSettings",
    "LocalPipelineOptions",
    "LogSettings",
    "OutboundLimits",
    "PipelineSettings",
    "RecordingSettings",
    "Settings",
    "ShimSettings",
    "StateSettings",
    "TokenSettings",
    "WebSettings",
    "WebhookSettings",
    "WorkerSettings",
    "env_bool",
    "env_int",
    "env_str",
    "env_vars",
    "environment",
    "http_url_of",
    "load",
    "var",
]


def _no_env() -> Mapping[str, str]:
    return MappingProxyType({})


def _default_sip() -> SIPStackSettings:
    from omnivoice_rtc.sip.processes import SIPStackSettings

    return SIPStackSettings()


def environment() -> Mapping[str, str]:
    """This process's environment (the one read of ``os.environ`` in the package)."""
    return os.environ


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """All settings; ``Settings.from_env()`` reads and validates them at once.

    ``env`` is the snapshot they were read from (read-only): templates such as
    ``sip/*.json`` placeholders expand from it, and child processes inherit it.
    """

    livekit: LiveKitSettings = field(default_factory=LiveKitSettings)
    web: WebSettings = field(default_factory=WebSettings)
    tokens: TokenSettings = field(default_factory=TokenSettings)
    log: LogSettings = field(default_factory=LogSettings)
    agent: AgentSettings = field(default_factory=AgentSettings)
    agent_app: AgentAppSettings = field(default_factory=AgentAppSettings)
    """Your agent: factory, seed Config file, greeting and silence defaults."""
    worker: WorkerSettings = field(default_factory=WorkerSettings)
    shim: ShimSettings = field(default_factory=ShimSettings)
    audio: AudioSettings = field(default_factory=AudioSettings)
    exposure: ExposureSettings = field(default_factory=ExposureSettings)
    state: StateSettings = field(default_factory=StateSettings)
    """Where call-setup state lives (:mod:`omnivoice_rtc.state`)."""
    limits: LimitSettings = field(default_factory=LimitSettings)
    """Trusted proxies, caps, rates, replay windows, outbound guard, control caps."""
    ledger: LedgerSettings = field(default_factory=LedgerSettings)
    """The call ledger (:mod:`omnivoice_rtc.ledger`); built in code it records nothing."""
    webhooks: WebhookSettings = field(default_factory=WebhookSettings)
    """Signed outbound call webhooks (:mod:`omnivoice_rtc.webhooks`)."""
    calls: CallSettings = field(default_factory=CallSettings)
    recording: RecordingSettings = field(default_factory=RecordingSettings)
    """Call recording through LiveKit Egress (:mod:`omnivoice_rtc.recording`)."""
    """How a phone call notices dead media, sockets and agents (:mod:`.calls`)."""
    sip: SIPStackSettings = field(default_factory=_default_sip)
    """The local SIP stack's ports and addresses (:mod:`omnivoice_rtc.sip.processes`)."""
    carriers: Mapping[str, CarrierSettings] = field(default_factory=dict)
    """Each registered carrier's settings by name (:mod:`omnivoice_rtc.carriers.registry`)."""
    env: Mapping[str, str] = field(default_factory=_no_env, repr=False, compare=False)

    @property
    def agent_name(self) -> str:
        return self.tokens.agent_name

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Self:
        """Read every setting from ``env`` (default: this process's environment)."""
        from omnivoice_rtc.carriers.registry import carrier_settings_from_env
        from omnivoice_rtc.sip.processes import SIPStackSettings

        snapshot = MappingProxyType(dict(environment() if env is None else env))
        return cls(
            livekit=LiveKitSettings.from_env(snapshot),
            web=WebSettings.from_env(snapshot),
            tokens=TokenSettings.from_env(snapshot),
            log=LogSettings.from_env(snapshot),
            agent=AgentSettings.from_env(snapshot),
            agent_app=AgentAppSettings.from_env(snapshot),
            worker=WorkerSettings.from_env(snapshot),
            shim=ShimSettings.from_env(snapshot),
            audio=AudioSettings.from_env(snapshot),
            exposure=ExposureSettings.from_env(snapshot),
            state=StateSettings.from_env(snapshot),
            limits=LimitSettings.from_env(snapshot),
            ledger=LedgerSettings.from_env(snapshot),
            webhooks=WebhookSettings.from_env(snapshot),
            calls=CallSettings.from_env(snapshot),
            recording=RecordingSettings.from_env(snapshot),
            sip=SIPStackSettings.from_env(snapshot),
            carriers=carrier_settings_from_env(snapshot),
            env=snapshot,
        )

    def require_safe(self, role: Role) -> None:
        """Refuse unsafe settings for a process of ``role`` (ConfigError naming them)."""
        require_safe(
            role=role,
            livekit=self.livekit,
            web=self.web,
            tokens=self.tokens,
            exposure=self.exposure,
            state=self.state,
            limits=self.limits,
        )
