"""The seed's Config drives the agent: one test per Go field (its effect, or that it is
documented as not applicable and changes nothing), plus reading Config files."""

from __future__ import annotations

import json
import logging
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from livekit.agents import llm

from omnivoice_rtc import ConfigError
from omnivoice_rtc.agent.agent_spec import AgentSpec
from omnivoice_rtc.agent.plugin import SessionPlanner
from omnivoice_rtc.agent.seed_config import (
    CONFIG_FIELD_EFFECTS,
    agent_spec_from_config,
    load_config_file,
)
from omnivoice_rtc.settings import AgentSettings
from omnivoice_rtc.settings.pipeline import PipelineSettings
from omnivoice_rtc.types import (
    Config,
    FunctionDeclaration,
    InterruptionMode,
    LLMOptions,
    PipelineMode,
    RealtimeConfig,
    SessionOptions,
    STTOptions,
    TextPipelineOptions,
    TTSOptions,
)
from tests.unit.test_api_parity import SEED, go_exported_names

pytestmark = pytest.mark.unit


def _text_settings(config: Config) -> TextPipelineOptions:
    """The text options the worker would build from ``config``."""
    planner = SessionPlanner(settings=AgentSettings())
    settings = planner.pipeline_settings(agent_spec_from_config(config))
    assert settings.mode is PipelineMode.TEXT
    assert settings.text is not None
    return settings.text


def _text_config(**parts: Any) -> Config:
    return Config(mode=PipelineMode.TEXT, text=TextPipelineOptions(**parts))


def test_every_go_config_field_is_documented() -> None:
    go_fields = [
        n.split(".", 1)[1]
        for n in go_exported_names(SEED.read_text(encoding="utf-8"))
        if n.startswith("Config.")
    ]
    assert go_fields == list(CONFIG_FIELD_EFFECTS)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("listen_addr", "0.0.0.0:9999"),
        ("public_url", "https://voice.example.com"),
        ("logger", logging.getLogger("mine")),
    ],
)
def test_server_fields_are_not_applicable_and_change_nothing(field: str, value: Any) -> None:
    name = {"listen_addr": "ListenAddr", "public_url": "PublicURL", "logger": "Logger"}[field]
    assert CONFIG_FIELD_EFFECTS[name].startswith("not applicable to the agent")
    assert agent_spec_from_config(Config(**{field: value})) == agent_spec_from_config(Config())


def test_agent_spec_from_config_is_the_same_mapping() -> None:
    config = _text_config(llm=LLMOptions(system_prompt="Hi"))
    assert AgentSpec.from_config(config) == agent_spec_from_config(config)


def test_mode_picks_the_pipeline() -> None:
    assert agent_spec_from_config(Config(mode=PipelineMode.LOCAL)).pipeline is PipelineMode.LOCAL
    text = agent_spec_from_config(_text_config())
    assert isinstance(text.pipeline, TextPipelineOptions)
    realtime = agent_spec_from_config(Config(mode=PipelineMode.REALTIME))
    assert realtime.pipeline is PipelineMode.REALTIME  # options from the environment


@pytest.mark.parametrize(
    ("part", "field", "value", "read"),
    [
        ("stt", "provider", "google", lambda t: t.stt.provider),
        ("stt", "api_key", "stt-key", lambda t: t.stt.api_key),
        ("stt", "model", "whisper-1", lambda t: t.stt.model),
        ("stt", "language", "fr", lambda t: t.stt.language),
        ("tts", "provider", "google", lambda t: t.tts.provider),
        ("tts", "api_key", "tts-key", lambda t: t.tts.api_key),
        ("tts", "voice_id", "coral", lambda t: t.tts.voice_id),
        ("tts", "model", "tts-1", lambda t: t.tts.model),
        ("llm", "provider", "google", lambda t: t.llm.provider),
        ("llm", "api_key", "llm-key", lambda t: t.llm.api_key),
        ("llm", "model", "gpt-4.1", lambda t: t.llm.model),
        ("llm", "system_prompt", "Be brief.", lambda t: t.llm.system_prompt),
    ],
)
def test_each_text_pipeline_field_reaches_the_pipeline(
    part: str, field: str, value: str, read: Any
) -> None:
    options = {"stt": STTOptions, "tts": TTSOptions, "llm": LLMOptions}[part](**{field: value})
    assert read(_text_settings(_text_config(**{part: options}))) == value


def test_tts_voice_and_system_prompt_are_the_specs_voice_and_instructions() -> None:
    config = _text_config(
        tts=TTSOptions(voice_id="coral"), llm=LLMOptions(system_prompt="You sell pizza.")
    )
    spec = agent_spec_from_config(config)
    assert (spec.voice, spec.instructions) == ("coral", "You sell pizza.")


def test_realtime_config_is_the_realtime_pipeline_with_its_functions_as_tools() -> None:
    calls: list[tuple[str, str, str]] = []
    rc = RealtimeConfig(
        provider="gemini",
        api_key="g-key",
        model="m1",
        voice="Puck",
        instructions="Be a pirate.",
        temperature=0.5,
        functions=[FunctionDeclaration(name="lookup", description="find a thing")],
        on_function_call=lambda *a: calls.append(a),
    )
    spec = agent_spec_from_config(Config(mode=PipelineMode.REALTIME, realtime_config=rc))
    assert spec.pipeline is rc
    assert (spec.instructions, spec.voice) == ("Be a pirate.", "Puck")
    settings = SessionPlanner(settings=AgentSettings()).pipeline_settings(spec)
    assert settings.mode is PipelineMode.REALTIME
    assert settings.realtime is not None
    assert (settings.realtime.provider, settings.realtime.model, settings.realtime.api_key) == (
        "gemini",
        "m1",
        "g-key",
    )
    assert settings.realtime.temperature == 0.5
    assert settings.realtime.functions[0].name == "lookup"  # build_realtime makes the tool


class FakeRealtimeModel(llm.RealtimeModel):
    """A realtime model object that is never connected (the pipeline choice under test)."""

    def __init__(self) -> None:
        super().__init__(
            capabilities=llm.RealtimeCapabilities(
                message_truncation=False,
                turn_detection=True,
                user_transcription=True,
                auto_tool_reply_generation=True,
                audio_output=True,
                manual_function_calls=False,
            )
        )

    def session(self, *, turn_detection_disabled: bool = False) -> llm.RealtimeSession[Any]:
        raise NotImplementedError

    async def aclose(self) -> None:
        return None


def test_a_realtime_provider_object_is_the_model_and_keeps_the_configs_functions() -> None:
    model = FakeRealtimeModel()
    rc = RealtimeConfig(
        functions=[FunctionDeclaration(name="lookup")], on_function_call=lambda *a: "ok"
    )
    spec = agent_spec_from_config(
        Config(mode=PipelineMode.REALTIME, realtime_provider=model, realtime_config=rc)
    )
    assert spec.pipeline is model
    assert [t.info.name for t in spec.tools] == ["lookup"]


def test_max_session_duration_is_the_max_call_duration() -> None:
    spec = agent_spec_from_config(
        Config(session=SessionOptions(max_session_duration=timedelta(minutes=5)))
    )
    assert spec.max_duration == timedelta(minutes=5)
    assert agent_spec_from_config(Config()).max_duration is None  # 0: the worker's setting


def test_interruption_mode_is_the_specs() -> None:
    spec = agent_spec_from_config(
        Config(session=SessionOptions(interruption_mode=InterruptionMode.DISABLED))
    )
    assert spec.interruption is InterruptionMode.DISABLED
    unlisted = Config.from_dict({"Mode": "local", "InterruptionMode": "whenever"})
    assert agent_spec_from_config(unlisted).interruption is InterruptionMode.IMMEDIATE


def test_a_json_config_file(tmp_path: Path) -> None:
    path = tmp_path / "agent.json"
    path.write_text(
        json.dumps(
            {
                "Mode": "text",
                "LLMSystemPrompt": "You are terse.",
                "TTSVoiceID": "ash",
                "MaxSessionDuration": 60_000_000_000,
                "InterruptionMode": "after_sentence",
            }
        )
    )
    spec = agent_spec_from_config(load_config_file(path))
    assert spec == AgentSpec(
        pipeline=TextPipelineOptions(
            tts=TTSOptions(voice_id="ash"), llm=LLMOptions(system_prompt="You are terse.")
        ),
        instructions="You are terse.",
        voice="ash",
        max_call_duration=60,
        interruption_mode="after_sentence",
    )


def test_a_yaml_config_file(tmp_path: Path) -> None:
    path = tmp_path / "agent.yaml"
    path.write_text(
        "Mode: realtime\nRealtimeConfig:\n  provider: openai\n  instructions: Hi there\n"
    )
    spec = agent_spec_from_config(load_config_file(path))
    assert isinstance(spec.pipeline, RealtimeConfig)
    assert spec.instructions == "Hi there"


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("a.json", "{", "not valid JSON"),
        ("a.yaml", "a: [", "not valid YAML"),
        ("a.json", "[1]", "must be an object"),
        ("a.json", '{"Mood": "happy"}', "unknown Config field(s) Mood"),
        ("a.json", '{"Mode": 5}', "Mode"),
    ],
)
def test_a_bad_config_file_names_the_file_and_the_problem(
    tmp_path: Path, name: str, text: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ConfigError, match=f"agent config {path}") as err:
        load_config_file(path)
    assert message in str(err.value)


def test_a_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read it"):
        load_config_file(tmp_path / "nope.json")


def test_local_mode_keeps_the_workers_local_options() -> None:
    planner = SessionPlanner(settings=AgentSettings(pipeline=PipelineSettings()))
    settings = planner.pipeline_settings(agent_spec_from_config(Config()))
    assert settings.mode is PipelineMode.LOCAL


def test_docs_agents_md_tells_what_every_config_field_does() -> None:
    """docs/agents.md's Config table names every Go field (n/a ones as not applicable)."""
    from tests.conftest import ROOT

    text = (ROOT / "docs" / "agents.md").read_text(encoding="utf-8")
    table = text.split("| Go field | effect |", 1)[1].split("\n\n", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    named = {name for row in rows for name in re.findall(r"`(\w+)`", row.split("|")[1])}
    assert named == set(CONFIG_FIELD_EFFECTS)
    for field, effect in CONFIG_FIELD_EFFECTS.items():
        if effect.startswith("not applicable"):
            row = next(r for r in rows if f"`{field}`" in r.split("|")[1])
            assert "not applicable" in row
