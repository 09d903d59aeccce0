"""Your agent: which factory the worker runs, a seed ``Config`` file, and the greeting and
silence defaults every call starts from (docs/agents.md).

``OMNIVOICE_AGENT=myapp.agent:build`` names a factory ``build(ctx: CallContext) -> Agent |
AgentSpec``; unset, the built-in agent runs. What a factory's ``AgentSpec`` leaves unset
comes from ``OMNIVOICE_AGENT_CONFIG`` (a seed ``Config`` as JSON or YAML), then from these
variables.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Self

from omnivoice_rtc._errors import ConfigError
from omnivoice_rtc.settings._env import load, var

__all__ = [
    "DEFAULT_SILENCE_GOODBYE",
    "DEFAULT_SILENCE_PROMPT",
    "AgentAppSettings",
    "check_factory_reference",
]

DEFAULT_SILENCE_PROMPT: Final = "Are you still there?"
DEFAULT_SILENCE_GOODBYE: Final = "I can't hear anything, so I'll hang up now. Goodbye!"

_IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_]*"
_REFERENCE = re.compile(rf"{_IDENTIFIER}(\.{_IDENTIFIER})*:{_IDENTIFIER}(\.{_IDENTIFIER})*")


def check_factory_reference(name: str, raw: str) -> str:
    """``raw`` if it reads ``package.module:attribute``; ConfigError naming ``name``."""
    value = raw.strip()
    if not _REFERENCE.fullmatch(value):
        raise ConfigError(
            f"{name}: must be 'module:attribute' (e.g. myapp.agent:build), got {value!r}"
        )
    return value


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentAppSettings:
    """Your agent's factory and the per-call defaults (durations in seconds)."""

    factory: str = var(
        "OMNIVOICE_AGENT",
        "",
        doc="your agent factory as module:attribute, e.g. myapp.agent:build (unset: the "
        "built-in agent)",
        parse=check_factory_reference,
    )
    config_file: str = var(
        "OMNIVOICE_AGENT_CONFIG",
        "",
        doc="a seed Config as a JSON or YAML file: the defaults of every call (worker --config)",
    )
    greeting: str = var(
        "OMNIVOICE_GREETING",
        "",
        doc="what the agent says first on an inbound call or a browser join (empty: it "
        "waits for the caller)",
    )
    greeting_outbound: str = var(
        "OMNIVOICE_GREETING_OUTBOUND",
        "",
        doc="what the agent says first when an outbound call is answered (empty: it waits)",
    )
    silence_timeout_s: float = var(
        "OMNIVOICE_SILENCE_TIMEOUT_S",
        0.0,
        doc="after this much silence (s) the agent prompts once, then ends the call; 0 = never",
        kind=float,
        minimum=0,
        maximum=3600,
    )
    silence_prompt: str = var(
        "OMNIVOICE_SILENCE_PROMPT", DEFAULT_SILENCE_PROMPT, doc="what the agent asks after silence"
    )
    silence_goodbye: str = var(
        "OMNIVOICE_SILENCE_GOODBYE",
        DEFAULT_SILENCE_GOODBYE,
        doc="what the agent says before it ends a silent call",
    )

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Self:
        return load(cls, env)
