"""Shared settings read from the environment; errors name the variable."""

from __future__ import annotations

import pytest

from omnivoice_rtc import ConfigError
from omnivoice_rtc.settings import LiveKitSettings, Settings, TokenSettings, WebSettings

pytestmark = pytest.mark.unit


def test_defaults() -> None:
    settings = Settings.from_env({})
    assert settings.livekit == LiveKitSettings(
        url="ws://127.0.0.1:7880", api_key="devkey", api_secret="secret"
    )
    assert settings.livekit.http_url == "http://127.0.0.1:7880"
    assert settings.livekit.is_local
    assert settings.web == WebSettings(host="127.0.0.1", port=8080, public_url="")
    assert settings.web.base_url == "http://127.0.0.1:8080"
    assert settings.tokens == TokenSettings(ttl_s=900, key="", agent_name="omnivoice-agent")
    assert settings.agent_name == "omnivoice-agent"


def test_values_from_the_environment() -> None:
    settings = Settings.from_env(
        {
            "LIVEKIT_URL": "wss://demo.livekit.cloud",
            "LIVEKIT_API_KEY": "APIabc",
            "LIVEKIT_API_SECRET": "s3cret",
            "OMNIVOICE_AGENT_NAME": "helper",
            "OMNIVOICE_WEB_HOST": "0.0.0.0",
            "OMNIVOICE_WEB_PORT": "9090",
            "OMNIVOICE_TOKEN_TTL_S": "60",
            "OMNIVOICE_TOKEN_KEY": "k3y",
            "OMNIVOICE_PUBLIC_URL": "https://example.ngrok.app/",
        }
    )
    assert settings.livekit.http_url == "https://demo.livekit.cloud"
    assert not settings.livekit.is_local
    assert settings.web.local_url == "http://127.0.0.1:9090"
    assert settings.web.base_url == "https://example.ngrok.app"
    assert settings.tokens == TokenSettings(ttl_s=60, key="k3y", agent_name="helper")


def test_secrets_are_not_in_repr() -> None:
    settings = Settings.from_env({"LIVEKIT_API_SECRET": "hidden-1", "OMNIVOICE_TOKEN_KEY": "k-2"})
    assert "hidden-1" not in repr(settings)
    assert "k-2" not in repr(settings)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"LIVEKIT_URL": "localhost:7880"}, "LIVEKIT_URL: must be a ws/wss/http/https URL"),
        ({"LIVEKIT_URL": "ftp://x"}, "LIVEKIT_URL: must be a ws/wss/http/https URL"),
        ({"LIVEKIT_API_KEY": "a b"}, "LIVEKIT_API_KEY: must not contain whitespace or ':'"),
        ({"OMNIVOICE_WEB_PORT": "http"}, "OMNIVOICE_WEB_PORT: must be an integer between 1 and"),
        ({"OMNIVOICE_WEB_PORT": "70000"}, "OMNIVOICE_WEB_PORT: must be an integer between 1 and"),
        ({"OMNIVOICE_TOKEN_TTL_S": "5"}, "OMNIVOICE_TOKEN_TTL_S: must be an integer between 10"),
        ({"OMNIVOICE_TOKEN_KEY": " k"}, "OMNIVOICE_TOKEN_KEY: must not start or end with"),
        ({"OMNIVOICE_AGENT_NAME": "a\tb"}, "OMNIVOICE_AGENT_NAME: must not contain control"),
        ({"OMNIVOICE_PUBLIC_URL": "example.com"}, "OMNIVOICE_PUBLIC_URL: must be a http/https"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env)
    assert str(caught.value).startswith(message)
    assert isinstance(caught.value, ValueError)
