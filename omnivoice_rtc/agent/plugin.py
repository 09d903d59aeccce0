"""The agent plugin API: load your factory, call it per call, and turn what it returns into
what one session runs (:class:`SessionPlan`).

    # myapp/agent.py
    def build(ctx: CallContext) -> Agent | AgentSpec:      # may be async
        ...

    omnivoice-rtc worker start --agent myapp.agent:build   # or OMNIVOICE_AGENT=...

:func:`load_agent_factory` imports ``module:attribute`` (a bad reference is a
ConfigError naming the module and the attribute). :class:`SessionPlanner` calls the
factory with each call's :class:`~.call_context.CallContext` and layers the result over
the defaults: ``factory's AgentSpec`` over ``--config`` (a seed ``Config``) over the
settings (``OMNIVOICE_GREETING``, ``OMNIVOICE_SILENCE_TIMEOUT_S``, the pipeline and
session variables). A factory that returns a ``livekit.agents.Agent`` keeps its own
instructions, tools and models; the pipeline, greeting, silence and limits still come
from the defaults. Without a factory the built-in agent runs as it always did.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import logging
import sys
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from livekit.agents import Agent, llm

from omnivoice_rtc._errors import ConfigError
from omnivoice_rtc.agent.agent_spec import AgentSpec, Greeting, PipelineChoice, SilenceHandling
from omnivoice_rtc.agent.call_context import CallContext
from omnivoice_rtc.agent.call_flow import CallFlow
from omnivoice_rtc.agent.seed_config import agent_spec_from_config, load_config_file
from omnivoice_rtc.pipelines.factory import build_pipeline
from omnivoice_rtc.pipelines.parts import PipelineParts
from omnivoice_rtc.settings.agent import AgentSettings
from omnivoice_rtc.settings.agent_app import AgentAppSettings
from omnivoice_rtc.settings.answering_machine import AnsweringMachineSettings
from omnivoice_rtc.settings.pipeline import LocalPipelineOptions, PipelineSettings
from omnivoice_rtc.types import (
    LLMProvider,
    PipelineMode,
    RealtimeConfig,
    SessionOptions,
    TextPipelineOptions,
    Turn,
)

__all__ = [
    "AgentFactory",
    "Remover",
    "SessionPlan",
    "SessionPlanner",
    "base_spec",
    "chat_context_from",
    "load_agent_factory",
]

logger = logging.getLogger(__name__)

AgentFactory = Callable[[CallContext], "Agent | AgentSpec | Awaitable[Agent | AgentSpec]"]
"""``build(ctx) -> Agent | AgentSpec``, sync or async."""

PartsFactory = Callable[[], PipelineParts]
Remover = Callable[[str, str], Awaitable[None]]
"""``remover(room, identity)`` removes that participant from that room."""


def load_agent_factory(reference: str, *, setting: str = "OMNIVOICE_AGENT") -> AgentFactory:
    """Import ``package.module:attribute`` and return the callable it names.

    The current directory is importable (as for ``python -m``). ConfigError, naming
    ``setting``, the module and the attribute, when the reference is malformed, the module
    cannot be imported (with the import error), the attribute is missing or not callable.
    """
    module_name, _, attribute = reference.strip().partition(":")
    if not module_name or not attribute:
        raise ConfigError(
            f"{setting}: must be 'module:attribute' (e.g. myapp.agent:build), got {reference!r}"
        )
    cwd = str(Path.cwd())
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(
            f"{setting}: cannot import module {module_name!r} (for attribute {attribute!r}): {exc}"
        ) from None
    target: Any = module
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise ConfigError(f"{setting}: module {module_name!r} has no attribute {attribute!r}")
        target = getattr(target, part)
    if not callable(target):
        raise ConfigError(
            f"{setting}: {module_name}:{attribute} is a {type(target).__name__}, not a callable "
            "factory build(ctx) -> Agent | AgentSpec"
        )
    factory: AgentFactory = target
    return factory


def base_spec(app: AgentAppSettings) -> AgentSpec:
    """The defaults every call starts from: the settings, under the ``--config`` file."""
    from_settings = AgentSpec(
        greeting=Greeting(inbound=app.greeting, outbound=app.greeting_outbound),
        silence=SilenceHandling(
            timeout_s=app.silence_timeout_s, prompt=app.silence_prompt, goodbye=app.silence_goodbye
        ),
    )
    if not app.config_file:
        return from_settings
    return agent_spec_from_config(load_config_file(app.config_file)).over(from_settings)


def chat_context_from(turns: tuple[Turn, ...]) -> llm.ChatContext:
    """A livekit chat context holding ``turns`` (user → user, agent → assistant)."""
    chat = llm.ChatContext.empty()
    for turn in turns:
        chat.add_message(
            role="user" if turn.role == "user" else "assistant",
            content=turn.text,
            created_at=turn.timestamp.timestamp(),
        )
    return chat


@dataclass(slots=True, kw_only=True)
class SessionPlan:
    """What one session runs: ``parts`` (the pipeline), ``agent`` (what AgentSession.start
    gets), ``options`` (max duration, interruption mode), ``flow`` (greeting, silence)."""

    context: CallContext
    parts: PipelineParts
    agent: Agent
    options: SessionOptions
    flow: CallFlow


def _with_voice(settings: PipelineSettings, voice: str) -> PipelineSettings:
    if not voice:
        return settings
    if settings.mode is PipelineMode.REALTIME and settings.realtime is not None:
        return replace(settings, realtime=replace(settings.realtime, voice=voice))
    if settings.mode is PipelineMode.TEXT and settings.text is not None:
        text = settings.text
        return replace(settings, text=replace(text, tts=replace(text.tts, voice_id=voice)))
    return replace(settings, local=replace(settings.local, espeak_voice=voice))


class SessionPlanner:
    """Turns a call into a :class:`SessionPlan` (see the module docstring).

    ``settings``: the job's settings (pipeline, session options); ``defaults``: the
    :func:`base_spec`; ``factory``: your agent factory (None = the built-in agent);
    ``env``: the environment snapshot (``AgentSpec.pipeline="text"`` reads that
    pipeline's options from it); ``llm_provider`` / ``parts_factory``: an in-process
    gateway's LLM and parts (used when the spec names neither); ``remover(room,
    identity)``: removes a participant from its room, to hang up a phone call that the
    agent ends (None: the agent only leaves).
    """

    def __init__(
        self,
        *,
        settings: AgentSettings,
        defaults: AgentSpec | None = None,
        factory: AgentFactory | None = None,
        env: Mapping[str, str] | None = None,
        llm_provider: LLMProvider | None = None,
        parts_factory: PartsFactory | None = None,
        remover: Remover | None = None,
    ) -> None:
        self._settings = settings
        self._remover = remover
        self._defaults = defaults or AgentSpec()
        self._factory = factory
        self._env = dict(env or {})
        self._llm_provider = llm_provider
        self._parts_factory = parts_factory

    async def _call_factory(self, ctx: CallContext) -> Agent | AgentSpec:
        assert self._factory is not None
        result: Any = self._factory(ctx)
        if inspect.isawaitable(result):
            result = await result
        if not isinstance(result, Agent | AgentSpec):
            raise TypeError(
                "the agent factory must return a livekit.agents.Agent or an AgentSpec, "
                f"got {type(result).__name__}"
            )
        return result

    def _pipeline_settings(self, choice: PipelineChoice) -> PipelineSettings:
        current = self._settings.pipeline
        if choice is None:
            return current
        if isinstance(choice, PipelineSettings):
            return choice
        if isinstance(choice, PipelineMode):
            if choice is current.mode:
                return current
            return PipelineSettings.from_env({**self._env, "OMNIVOICE_PIPELINE": choice.value})
        if isinstance(choice, RealtimeConfig):
            return PipelineSettings(
                mode=PipelineMode.REALTIME,
                realtime=choice,
                local=current.local,
                instructions=choice.instructions,
            )
        if isinstance(choice, TextPipelineOptions):
            return PipelineSettings(
                mode=PipelineMode.TEXT,
                text=choice,
                local=current.local,
                instructions=choice.llm.system_prompt,
            )
        if isinstance(choice, LocalPipelineOptions):
            return PipelineSettings(mode=PipelineMode.LOCAL, local=choice)
        raise ConfigError(
            f"AgentSpec.pipeline: expected a pipeline mode, PipelineSettings, RealtimeConfig, "
            f"TextPipelineOptions, LocalPipelineOptions or RealtimeModel, got "
            f"{type(choice).__name__}"
        )

    def _parts(self, spec: AgentSpec, *, custom: bool) -> PipelineParts:
        if isinstance(spec.pipeline, llm.RealtimeModel):
            return PipelineParts(name="realtime", llm=spec.pipeline)
        provider = spec.llm_provider or self._llm_provider
        if not custom and self._parts_factory is not None:
            return self._parts_factory()
        return build_pipeline(self.pipeline_settings(spec), llm_provider=provider)

    def pipeline_settings(self, spec: AgentSpec) -> PipelineSettings:
        """The pipeline ``spec`` asks for (its ``pipeline`` and ``voice``; unset: the
        worker's). ConfigError when it cannot be read (e.g. ``"text"`` without a key)."""
        return _with_voice(self._pipeline_settings(spec.pipeline), spec.voice)

    async def plan(self, ctx: CallContext) -> SessionPlan:
        """Call the factory (if any) and build the session's parts, agent and flow.

        Raises what the factory raises, TypeError for a result that is neither an Agent
        nor an AgentSpec, ConfigError for a pipeline that cannot be built."""
        result: Agent | AgentSpec = AgentSpec()
        if self._factory is not None:
            result = await self._call_factory(ctx)
        user_agent = result if isinstance(result, Agent) else None
        mine = result if isinstance(result, AgentSpec) else AgentSpec()
        spec = mine.over(self._defaults)
        custom = mine.pipeline is not None or mine.llm_provider is not None or bool(mine.voice)
        parts = self._parts(spec, custom=custom)
        history = chat_context_from(ctx.resume_transcript)
        if user_agent is not None:
            agent = user_agent
            if ctx.resumed:
                merged = agent.chat_ctx.copy()
                merged.items.extend(history.items)
                await agent.update_chat_ctx(merged)
        else:
            agent = Agent(
                instructions=spec.instructions or parts.instructions,
                tools=list(spec.tools),
                chat_ctx=history if ctx.resumed else None,
            )
        session = self._settings.session
        options = SessionOptions(
            max_session_duration=spec.max_duration
            if spec.max_duration is not None
            else session.max_session_duration,
            interruption_mode=spec.interruption or session.interruption_mode,
        )
        greeting = spec.greeting_texts or Greeting()
        hang_up = (
            functools.partial(self._remover, ctx.room, ctx.participant_identity)
            if self._remover is not None and ctx.is_phone_call
            else None
        )
        flow = CallFlow(
            greeting="" if ctx.resumed else greeting.text_for(ctx.direction),
            silence=spec.silence_handling,
            wait_for_sip_answer=ctx.route == "sip",
            hang_up=hang_up,
            answering_machine=self._amd_for(ctx),
        )
        return SessionPlan(context=ctx, parts=parts, agent=agent, options=options, flow=flow)

    def _amd_for(self, ctx: CallContext) -> AnsweringMachineSettings | None:
        """The AMD settings for an outbound phone call when AMD is on (None otherwise; a
        resumed call was screened by its first agent)."""
        amd = self._settings.answering_machine
        outbound = ctx.is_phone_call and ctx.direction == "outbound" and not ctx.resumed
        return amd if amd.enabled and outbound else None


def describe_plan(plan: SessionPlan) -> dict[str, Any]:
    """Log-friendly summary (no PII: route, direction, pipeline, flags)."""
    return {
        "route": plan.context.route,
        "direction": plan.context.direction,
        "pipeline": plan.parts.name,
        "greeting": bool(plan.flow.greeting),
        "answering_machine_detection": plan.flow.answering_machine is not None,
        "silence_timeout_s": plan.flow.silence.timeout_s if plan.flow.silence else 0,
        "max_duration_s": plan.options.max_session_duration / timedelta(seconds=1),
        "resumed": plan.context.resumed,
        "tools": len(plan.agent.tools),
    }
