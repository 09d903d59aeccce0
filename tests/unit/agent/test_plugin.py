"""The plugin API: loading a factory by reference, and planning a session from what the
factory returns layered over the defaults (no server: parts come from a stand-in)."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from livekit.agents import Agent, function_tool, llm

from omnivoice_rtc import ConfigError
from omnivoice_rtc.agent.agent_spec import AgentSpec, Greeting, SilenceHandling
from omnivoice_rtc.agent.call_context import CallContext
from omnivoice_rtc.agent.plugin import (
    SessionPlanner,
    base_spec,
    chat_context_from,
    load_agent_factory,
)
from omnivoice_rtc.pipelines.parts import PipelineParts
from omnivoice_rtc.settings import AgentAppSettings, AgentSettings
from omnivoice_rtc.types import InterruptionMode, SessionOptions, Turn
from tests.unit.agent.test_seed_config import FakeRealtimeModel

pytestmark = pytest.mark.unit

INBOUND = CallContext(
    route="twilio",
    caller="+15550100",
    room="call-twilio-CA1",
    participant_identity="pstn-twilio-CA1",
)
OUTBOUND = CallContext(
    route="sip", direction="outbound", room="sip-out-1", participant_identity="sip-1"
)
BROWSER = CallContext(route="webrtc", room="web-1", participant_identity="visitor-1")


@function_tool
async def opening_hours() -> str:
    """When the office is open."""
    return "Nine to five."


def _parts() -> PipelineParts:
    return PipelineParts(name="stand-in", instructions="built-in instructions")


def _planner(**kwargs: object) -> SessionPlanner:
    return SessionPlanner(settings=AgentSettings(), parts_factory=_parts, **kwargs)  # type: ignore[arg-type]  # reason: keyword pass-through in a test helper


# -- load_agent_factory ----------------------------------------------------------------


@pytest.fixture
def user_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    (tmp_path / "omnivoice_test_userpkg").mkdir()
    (tmp_path / "omnivoice_test_userpkg" / "__init__.py").write_text("")
    (tmp_path / "omnivoice_test_userpkg" / "agent.py").write_text(
        "from omnivoice_rtc import AgentSpec\n"
        "NOT_CALLABLE = 3\n"
        "class Holder:\n"
        "    @staticmethod\n"
        "    def build(ctx):\n"
        "        return AgentSpec(instructions='nested')\n"
        "def build(ctx):\n"
        "    return AgentSpec(instructions=f'hello {ctx.route}')\n"
    )
    (tmp_path / "omnivoice_test_userpkg" / "broken.py").write_text("import no_such_module_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "omnivoice_test_userpkg"
    for name in [m for m in sys.modules if m.startswith("omnivoice_test_userpkg")]:
        del sys.modules[name]


def test_a_factory_loads_by_module_and_attribute(user_module: str) -> None:
    build = load_agent_factory(f"{user_module}.agent:build")
    assert build(BROWSER) == AgentSpec(instructions="hello webrtc")
    nested = load_agent_factory(f"{user_module}.agent:Holder.build")
    assert nested(BROWSER) == AgentSpec(instructions="nested")


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ("{pkg}.agent", "must be 'module:attribute'"),
        ("{pkg}.nowhere:build", "cannot import module '{pkg}.nowhere' (for attribute 'build')"),
        ("{pkg}.broken:build", "No module named 'no_such_module_xyz'"),
        ("{pkg}.agent:missing", "module '{pkg}.agent' has no attribute 'missing'"),
        ("{pkg}.agent:NOT_CALLABLE", "{pkg}.agent:NOT_CALLABLE is a int, not a callable"),
    ],
)
def test_a_bad_reference_names_the_module_and_the_attribute(
    user_module: str, reference: str, message: str
) -> None:
    with pytest.raises(ConfigError) as err:
        load_agent_factory(reference.format(pkg=user_module), setting="--agent")
    assert str(err.value).startswith("--agent: ")
    assert message.format(pkg=user_module) in str(err.value)


# -- SessionPlanner ---------------------------------------------------------------------


async def test_without_a_factory_the_built_in_agent_runs_as_before() -> None:
    plan = await _planner().plan(BROWSER)
    assert plan.parts.name == "stand-in"
    assert type(plan.agent) is Agent
    assert plan.agent.instructions == "built-in instructions"
    assert plan.agent.tools == []
    assert plan.options == SessionOptions()
    assert plan.flow.greeting == ""
    assert plan.flow.silence is None
    assert plan.flow.hang_up is None


async def test_a_spec_gives_the_agent_its_instructions_tools_greeting_and_limits() -> None:
    seen: list[CallContext] = []

    async def build(ctx: CallContext) -> AgentSpec:
        seen.append(ctx)
        return AgentSpec(
            instructions="You are a receptionist.",
            tools=[opening_hours],
            greeting=Greeting(inbound="Acme, how can I help?", outbound="Hello from Acme."),
            silence=SilenceHandling(timeout_s=8),
            max_call_duration=120,
            interruption_mode="disabled",
        )

    planner = _planner(factory=build)
    inbound = await planner.plan(INBOUND)
    assert seen == [INBOUND]
    assert inbound.agent.instructions == "You are a receptionist."
    assert [t.id for t in inbound.agent.tools] == ["opening_hours"]
    assert inbound.flow.greeting == "Acme, how can I help?"
    assert inbound.flow.user_away_timeout_s == 8
    assert inbound.options == SessionOptions(
        max_session_duration=timedelta(seconds=120), interruption_mode=InterruptionMode.DISABLED
    )
    outbound = await planner.plan(OUTBOUND)
    assert outbound.flow.greeting == "Hello from Acme."
    assert outbound.flow.wait_for_sip_answer
    assert not inbound.flow.wait_for_sip_answer


async def test_what_the_spec_leaves_unset_comes_from_the_defaults_then_the_settings() -> None:
    settings = AgentSettings(
        session=SessionOptions(
            max_session_duration=timedelta(seconds=30),
            interruption_mode=InterruptionMode.AFTER_SENTENCE,
        )
    )
    defaults = base_spec(AgentAppSettings(greeting="Hi!", silence_timeout_s=5))
    planner = SessionPlanner(
        settings=settings,
        defaults=defaults,
        factory=lambda ctx: AgentSpec(instructions="mine"),
        parts_factory=_parts,
    )
    plan = await planner.plan(BROWSER)
    assert plan.agent.instructions == "mine"
    assert plan.flow.greeting == "Hi!"
    assert plan.flow.silence == SilenceHandling(timeout_s=5)
    assert plan.options == settings.session


async def test_a_livekit_agent_is_used_as_is_with_the_defaults_flow() -> None:
    mine = Agent(instructions="custom agent", tools=[opening_hours])
    planner = _planner(factory=lambda ctx: mine, defaults=AgentSpec(greeting="Welcome."))
    plan = await planner.plan(INBOUND)
    assert plan.agent is mine
    assert plan.flow.greeting == "Welcome."


async def test_a_resumed_call_starts_with_its_history_and_does_not_greet() -> None:
    at = datetime(2025, 1, 1, tzinfo=UTC)
    history = (
        Turn(role="user", text="Do you deliver?", timestamp=at),
        Turn(role="agent", text="Yes, within 5 km.", timestamp=at),
    )
    resumed = CallContext(route="webrtc", room="web-1", resume_transcript=history)
    planner = _planner(defaults=AgentSpec(greeting="Hello!"))
    plan = await planner.plan(resumed)
    assert plan.flow.greeting == ""
    texts = [(m.role, m.text_content) for m in plan.agent.chat_ctx.messages()]
    assert texts == [("user", "Do you deliver?"), ("assistant", "Yes, within 5 km.")]
    own = Agent(instructions="x", chat_ctx=chat_context_from((Turn(role="user", text="earlier"),)))
    plan = await _planner(factory=lambda ctx: own).plan(resumed)
    assert [m.text_content for m in plan.agent.chat_ctx.messages()] == [
        "earlier",
        "Do you deliver?",
        "Yes, within 5 km.",
    ]


async def test_phone_calls_get_a_hang_up_and_browsers_do_not() -> None:
    removed: list[tuple[str, str]] = []

    async def remover(room: str, identity: str) -> None:
        removed.append((room, identity))

    planner = _planner(remover=remover)
    phone = await planner.plan(INBOUND)
    assert phone.flow.hang_up is not None
    await phone.flow.hang_up()
    assert removed == [("call-twilio-CA1", "pstn-twilio-CA1")]
    assert (await planner.plan(BROWSER)).flow.hang_up is None


async def test_a_factory_returning_something_else_is_a_type_error() -> None:
    planner = _planner(factory=lambda ctx: "agent")
    with pytest.raises(
        TypeError, match=re.escape("must return a livekit.agents.Agent or an AgentSpec, got str")
    ):
        await planner.plan(BROWSER)


async def test_a_realtime_model_object_is_the_pipeline() -> None:
    model = FakeRealtimeModel()
    plan = await _planner(factory=lambda ctx: AgentSpec(pipeline=model)).plan(BROWSER)
    assert plan.parts.llm is model
    assert isinstance(plan.parts.llm, llm.RealtimeModel)


def test_base_spec_reads_the_config_file_under_the_settings(tmp_path: Path) -> None:
    path = tmp_path / "agent.json"
    path.write_text(json.dumps({"Mode": "local", "MaxSessionDuration": 5_000_000_000}))
    spec = base_spec(AgentAppSettings(config_file=str(path), greeting="Hey"))
    assert spec.max_duration == timedelta(seconds=5)
    assert spec.greeting_texts == Greeting(inbound="Hey", outbound="")
