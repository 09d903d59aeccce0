"""The realtime provider registry: built-ins, user factories, unknown names."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from livekit.plugins.openai import realtime as openai_realtime

from omnivoice_rtc import ConfigError
from omnivoice_rtc.pipelines.realtime import build_realtime
from omnivoice_rtc.pipelines.registry import (
    get_realtime_provider,
    realtime_provider_names,
    register_realtime_provider,
    unregister_realtime_provider,
)
from omnivoice_rtc.types import RealtimeConfig

pytestmark = pytest.mark.unit


class _AcmeFactory:
    """A user provider: reuses the OpenAI model class so no network is needed."""

    name = "Acme"

    def __init__(self) -> None:
        self.configs: list[RealtimeConfig] = []

    def create(self, config: RealtimeConfig) -> object:
        self.configs.append(config)
        return openai_realtime.RealtimeModel(api_key="acme-key", base_url="http://127.0.0.1:9/v1")


class _NotAModelFactory:
    name = "broken"

    def create(self, config: RealtimeConfig) -> object:
        return "not a model"


@pytest.fixture
def acme() -> Iterator[_AcmeFactory]:
    factory = _AcmeFactory()
    register_realtime_provider(factory)
    yield factory
    unregister_realtime_provider("acme")


def test_builtins_are_registered() -> None:
    assert {"openai", "gemini"} <= set(realtime_provider_names())
    assert get_realtime_provider("OpenAI").name == "openai"
    assert get_realtime_provider(" gemini ").name == "gemini"


def test_unknown_provider_names_the_setting_and_the_known_names() -> None:
    with pytest.raises(ConfigError) as info:
        get_realtime_provider("nope")
    message = str(info.value)
    assert message.startswith("RealtimeConfig.provider (OMNIVOICE_REALTIME_PROVIDER):")
    assert "'nope'" in message
    assert "gemini" in message
    assert "openai" in message


def test_build_realtime_with_unknown_provider_fails() -> None:
    with pytest.raises(ConfigError, match=r"^RealtimeConfig\.provider"):
        build_realtime(RealtimeConfig(provider="nope", api_key="k"))


def test_user_factory_is_used_by_build_realtime(acme: _AcmeFactory) -> None:
    config = RealtimeConfig(provider="acme", instructions="Be brief.")
    parts = build_realtime(config)
    assert isinstance(parts.llm, openai_realtime.RealtimeModel)
    assert parts.name == "realtime"
    assert parts.instructions == "Be brief."
    assert acme.configs == [config]
    assert "acme" in realtime_provider_names()


def test_duplicate_name_is_refused_unless_replaced(acme: _AcmeFactory) -> None:
    with pytest.raises(ValueError, match="already registered"):
        register_realtime_provider(_AcmeFactory())
    replacement = _AcmeFactory()
    register_realtime_provider(replacement, replace=True)
    assert get_realtime_provider("acme") is replacement


def test_objects_without_create_are_refused() -> None:
    class NoCreate:
        name = "x"

    with pytest.raises(TypeError, match="create"):
        register_realtime_provider(NoCreate())  # type: ignore[arg-type]  # reason: the point of the test


def test_empty_name_is_refused() -> None:
    class Empty(_AcmeFactory):
        name = "  "

    with pytest.raises(ValueError, match="must not be empty"):
        register_realtime_provider(Empty())


def test_factory_returning_something_else_is_a_config_error() -> None:
    register_realtime_provider(_NotAModelFactory())
    try:
        with pytest.raises(ConfigError, match=r"not a livekit\.agents\.llm\.RealtimeModel"):
            build_realtime(RealtimeConfig(provider="broken"))
    finally:
        unregister_realtime_provider("broken")
