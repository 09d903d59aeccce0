"""The agent worker's settings: what a job needs (:class:`AgentSettings`) and how the
worker process runs (:class:`WorkerSettings`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Self

from omnivoice_rtc._errors import ConfigError
from omnivoice_rtc.settings._env import EnvVar, load, var
from omnivoice_rtc.settings.answering_machine import AnsweringMachineSettings
from omnivoice_rtc.settings.core import DEFAULT_AGENT_NAME, TokenSettings
from omnivoice_rtc.settings.ledger import LedgerSettings
from omnivoice_rtc.settings.limits import ControlLimits
from omnivoice_rtc.settings.pipeline import PipelineSettings
from omnivoice_rtc.settings.recording import RecordingSettings
from omnivoice_rtc.types import InterruptionMode, SessionOptions

__all__ = ["AGENT_VARIABLES", "AgentSettings", "WorkerSettings"]

_INTERRUPTION = EnvVar(
    name="OMNIVOICE_INTERRUPTION_MODE",
    doc="immediate, after_sentence or disabled",
    choices=("immediate", "after_sentence", "disabled"),
)
_MAX_DURATION = EnvVar(
    name="OMNIVOICE_MAX_SESSION_DURATION_S",
    doc="0 = unlimited (s)",
    kind=int,
    minimum=0,
    maximum=24 * 3600,
)
_JOIN_TIMEOUT = EnvVar(
    name="OMNIVOICE_JOIN_TIMEOUT_S",
    doc="how long a job waits for a participant (s)",
    kind=int,
    minimum=1,
    maximum=3600,
)
AGENT_VARIABLES = (_INTERRUPTION, _MAX_DURATION, _JOIN_TIMEOUT)
"""The variables :meth:`AgentSettings.from_env` reads besides the pipeline's and the agent name."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentSettings:
    """Everything a job needs besides the room."""

    agent_name: str = DEFAULT_AGENT_NAME
    pipeline: PipelineSettings = field(default_factory=PipelineSettings)
    session: SessionOptions = field(default_factory=SessionOptions)
    join_timeout_s: int = 60
    relay_events: bool = True
    output_sample_rate_hz: int = 24000
    control: ControlLimits = field(default_factory=ControlLimits)
    """Caps on ``omnivoice.control`` commands (``say`` length and rate)."""
    ledger: LedgerSettings = field(default_factory=LedgerSettings)
    """Where the job records its calls (:mod:`omnivoice_rtc.ledger`); off when built in code."""
    answering_machine: AnsweringMachineSettings = field(default_factory=AnsweringMachineSettings)
    """Answering-machine detection on outbound calls (:mod:`omnivoice_rtc.agent.amd`)."""
    recording: RecordingSettings = field(default_factory=RecordingSettings)
    """Whether the job records its phone calls, and where (:mod:`omnivoice_rtc.recording`)."""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Self:
        mode = InterruptionMode(_INTERRUPTION.read(env, "immediate"))
        max_s: int = _MAX_DURATION.read(env, 0)
        return cls(
            agent_name=TokenSettings.from_env(env).agent_name,
            pipeline=PipelineSettings.from_env(env),
            session=SessionOptions(
                max_session_duration=timedelta(seconds=max_s), interruption_mode=mode
            ),
            join_timeout_s=_JOIN_TIMEOUT.read(env, 60),
            control=ControlLimits.from_env(env),
            ledger=LedgerSettings.from_env(env),
            answering_machine=AnsweringMachineSettings.from_env(env),
            recording=RecordingSettings.from_env(env),
        )


def _executor(name: str, raw: str) -> str:
    value = raw.strip().lower()
    if value not in ("process", "thread"):
        raise ConfigError(f"{name}: must be process or thread; got {value!r}")
    return value


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerSettings:
    """How agents/worker.py runs its jobs."""

    executor: str = var(
        "OMNIVOICE_WORKER_EXECUTOR",
        "process",
        doc="process or thread: how jobs run",
        parse=_executor,
    )
    http_port: int | None = var(
        "OMNIVOICE_WORKER_HTTP_PORT",
        None,
        doc="health-check port (unset: 8081 in start mode, any free port in dev mode; 0 = any)",
        kind=int,
        minimum=0,
        maximum=65535,
    )
    prometheus_port: int | None = var(
        "OMNIVOICE_WORKER_PROMETHEUS_PORT",
        None,
        doc="serve the worker's Prometheus metrics on this port's /metrics; unset = off, "
        "0 = any free port",
        kind=int,
        minimum=0,
        maximum=65535,
    )
    prometheus_dir: str = var(
        "PROMETHEUS_MULTIPROC_DIR",
        "",
        doc="prometheus_client's multiprocess folder: set it when the worker starts (with "
        "the port above) so /metrics has its jobs' metrics too (`omnivoice-rtc dev` does)",
    )
    load_threshold_pct: int = var(
        "OMNIVOICE_WORKER_LOAD_THRESHOLD",
        70,
        doc="CPU load (%) above which the worker takes no jobs; 100 disables load shedding",
        kind=int,
        minimum=1,
        maximum=100,
    )

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Self:
        return load(cls, env)
