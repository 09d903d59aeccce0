"""The "your agent" settings: factory reference, Config file, greeting and silence."""

from __future__ import annotations

import pytest

from omnivoice_rtc import ConfigError
from omnivoice_rtc.settings import AgentAppSettings, Settings

pytestmark = pytest.mark.unit


def test_defaults_are_the_built_in_agent_without_greeting_or_silence_handling() -> None:
    app = Settings.from_env({}).agent_app
    assert app == AgentAppSettings()
    assert (app.factory, app.greeting, app.silence_timeout_s) == ("", "", 0.0)


def test_every_variable_is_read() -> None:
    app = AgentAppSettings.from_env(
        {
            "OMNIVOICE_AGENT": " myapp.agent:build ",
            "OMNIVOICE_AGENT_CONFIG": "agent.yaml",
            "OMNIVOICE_GREETING": "Hello!",
            "OMNIVOICE_GREETING_OUTBOUND": "Hi, calling from Acme.",
            "OMNIVOICE_SILENCE_TIMEOUT_S": "7.5",
            "OMNIVOICE_SILENCE_PROMPT": "Hello?",
            "OMNIVOICE_SILENCE_GOODBYE": "Bye.",
        }
    )
    assert app == AgentAppSettings(
        factory="myapp.agent:build",
        config_file="agent.yaml",
        greeting="Hello!",
        greeting_outbound="Hi, calling from Acme.",
        silence_timeout_s=7.5,
        silence_prompt="Hello?",
        silence_goodbye="Bye.",
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"OMNIVOICE_AGENT": "myapp.agent"}, "OMNIVOICE_AGENT: must be 'module:attribute'"),
        ({"OMNIVOICE_AGENT": "my-app:build"}, "OMNIVOICE_AGENT: must be 'module:attribute'"),
        ({"OMNIVOICE_SILENCE_TIMEOUT_S": "-1"}, "OMNIVOICE_SILENCE_TIMEOUT_S: must be a number"),
        ({"OMNIVOICE_SILENCE_TIMEOUT_S": "soon"}, "OMNIVOICE_SILENCE_TIMEOUT_S"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        AgentAppSettings.from_env(env)
