"""AgentSpec: your agent described as data, for users who do not want to subclass
``livekit.agents.Agent``.

A factory ``build(ctx: CallContext) -> AgentSpec`` returns one per call::

    def build(ctx: CallContext) -> AgentSpec:
        return AgentSpec(
            instructions="You are the receptionist of Acme Dental.",
            tools=[opening_hours, take_message],          # livekit-agents function tools
            greeting=Greeting(inbound="Acme Dental, how can I help?",
                              outbound="Hello, this is Acme Dental calling."),
            silence=SilenceHandling(timeout_s=10),
        )

Every field may be left unset (``None``, ``""`` or ``()``): it then comes from the
worker's ``--config`` file (a seed ``Config``), else from the settings
(``OMNIVOICE_GREETING``, ``OMNIVOICE_SILENCE_TIMEOUT_S``, ``OMNIVOICE_PIPELINE``, ...;
:meth:`AgentSpec.over` layers them).

``pipeline`` picks the pipeline and its provider: a :class:`PipelineMode` or its name
(``"local"``, ``"text"``, ``"realtime"``: options from the environment), a
``RealtimeConfig`` (realtime; its ``functions`` + ``on_function_call`` become tools), a
``TextPipelineOptions`` (text), a ``LocalPipelineOptions`` (local), a whole
``PipelineSettings``, or a ready ``livekit.agents.llm.RealtimeModel``. ``llm_provider`` (a
seed ``LLMProvider`` or a bare ``generate(input, history)``) replaces the LLM of the text
and local pipelines. ``voice`` is the realtime voice, the text pipeline's TTS voice or the
espeak-ng voice of the local pipeline.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

from omnivoice_rtc.settings.agent_app import DEFAULT_SILENCE_GOODBYE, DEFAULT_SILENCE_PROMPT
from omnivoice_rtc.settings.pipeline import LocalPipelineOptions, PipelineSettings
from omnivoice_rtc.types import (
    Config,
    InterruptionMode,
    LLMProvider,
    PipelineMode,
    RealtimeConfig,
    TextPipelineOptions,
)

if TYPE_CHECKING:
    from livekit.agents import llm

    from omnivoice_rtc.pipelines.llm_adapter import GenerateFunction

__all__ = ["AgentSpec", "Greeting", "PipelineChoice", "SilenceHandling"]

PipelineChoice: TypeAlias = (
    "PipelineSettings | PipelineMode | str | RealtimeConfig | TextPipelineOptions"
    " | LocalPipelineOptions | llm.RealtimeModel | None"
)
"""What ``AgentSpec.pipeline`` accepts (see the module docstring); None = the worker's."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Greeting:
    """What the agent says first, once the caller's audio path is up: ``inbound`` for
    inbound calls and browser joins, ``outbound`` when a call we placed is answered
    ("" = say nothing, wait for the caller)."""

    inbound: str = ""
    outbound: str = ""

    def text_for(self, direction: Literal["inbound", "outbound"]) -> str:
        return self.outbound if direction == "outbound" else self.inbound


@dataclass(frozen=True, slots=True, kw_only=True)
class SilenceHandling:
    """After ``timeout_s`` seconds in which neither side spoke the agent says ``prompt``;
    after as long again without an answer it says ``goodbye`` and ends the call (close
    reason ``silence_timeout``). ``timeout_s`` 0 turns it off."""

    timeout_s: float
    prompt: str = DEFAULT_SILENCE_PROMPT
    goodbye: str = DEFAULT_SILENCE_GOODBYE

    def __post_init__(self) -> None:
        if not 0 <= self.timeout_s <= 3600:
            raise ValueError(
                f"SilenceHandling.timeout_s: must be within 0..3600 s, got {self.timeout_s}"
            )

    @property
    def enabled(self) -> bool:
        return self.timeout_s > 0


def _seconds(value: timedelta | float, name: str) -> timedelta:
    result = value if isinstance(value, timedelta) else timedelta(seconds=float(value))
    if result < timedelta(0):
        raise ValueError(f"{name}: must be >= 0, got {value!r}")
    return result


def _interruption(value: InterruptionMode | str) -> InterruptionMode:
    mode = InterruptionMode(value)
    if not mode.is_known:
        listed = ", ".join(m.value for m in InterruptionMode)
        raise ValueError(f"AgentSpec.interruption_mode: must be one of {listed}; got {value!r}")
    return mode


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentSpec:
    """Your agent for one call (see the module docstring).

    ``instructions``: the system prompt; ``tools``: livekit-agents function tools (use
    :func:`~omnivoice_rtc.pipelines.realtime.build_function_tools` for seed
    ``FunctionDeclaration`` s); ``greeting``: a :class:`Greeting` or one text for both
    directions; ``pipeline``: see :data:`PipelineChoice`; ``llm_provider``: the LLM of the
    text and local pipelines; ``voice``; ``max_call_duration`` (s or timedelta; 0 =
    unlimited): the agent says goodbye and ends the call; ``silence``: a
    :class:`SilenceHandling` or its timeout in s; ``interruption_mode``.
    """

    instructions: str = ""
    tools: Sequence[Any] = ()
    greeting: Greeting | str | None = None
    pipeline: PipelineChoice = None
    llm_provider: LLMProvider | GenerateFunction | None = None
    voice: str = ""
    max_call_duration: timedelta | float | None = None
    silence: SilenceHandling | float | None = None
    interruption_mode: InterruptionMode | str | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "tools", tuple(self.tools))
        if isinstance(self.greeting, str):
            set_(self, "greeting", Greeting(inbound=self.greeting, outbound=self.greeting))
        if self.max_call_duration is not None:
            set_(
                self,
                "max_call_duration",
                _seconds(self.max_call_duration, "AgentSpec.max_call_duration"),
            )
        if self.silence is not None and not isinstance(self.silence, SilenceHandling):
            set_(self, "silence", SilenceHandling(timeout_s=float(self.silence)))
        if self.interruption_mode is not None:
            set_(self, "interruption_mode", _interruption(self.interruption_mode))
        if isinstance(self.pipeline, str) and not isinstance(self.pipeline, PipelineMode):
            mode = PipelineMode(self.pipeline.strip().lower())
            if not mode.is_known:
                raise ValueError(
                    f"AgentSpec.pipeline: unknown pipeline {self.pipeline!r}; "
                    "expected local, text or realtime"
                )
            set_(self, "pipeline", mode)

    # -- typed views of the normalised fields ---------------------------------------------
    @property
    def greeting_texts(self) -> Greeting | None:
        return self.greeting if isinstance(self.greeting, Greeting) else None

    @property
    def silence_handling(self) -> SilenceHandling | None:
        return self.silence if isinstance(self.silence, SilenceHandling) else None

    @property
    def max_duration(self) -> timedelta | None:
        return self.max_call_duration if isinstance(self.max_call_duration, timedelta) else None

    @property
    def interruption(self) -> InterruptionMode | None:
        mode = self.interruption_mode
        return mode if isinstance(mode, InterruptionMode) else None

    @classmethod
    def from_config(cls, config: Config) -> AgentSpec:
        """The spec a seed ``Config`` describes (:mod:`~omnivoice_rtc.agent.seed_config`)."""
        from omnivoice_rtc.agent.seed_config import agent_spec_from_config

        return agent_spec_from_config(config)

    def over(self, base: AgentSpec) -> AgentSpec:
        """This spec with every unset field (``None``, ``""``, ``()``) taken from ``base``."""
        values: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            mine = getattr(self, f.name)
            values[f.name] = getattr(base, f.name) if mine in (None, "", ()) else mine
        return AgentSpec(**values)
