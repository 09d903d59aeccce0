"""Fail closed: what an exposed server or a remote LiveKit refuses to start with."""

from __future__ import annotations

import pytest

from omnivoice_rtc import ConfigError
from omnivoice_rtc.settings import Settings
from omnivoice_rtc.web.__main__ import main as web_main

pytestmark = pytest.mark.unit

_OWN_KEYS = {"LIVEKIT_API_KEY": "prodkey", "LIVEKIT_API_SECRET": "a-long-random-secret"}


def _problems(env: dict[str, str], role: str = "web") -> str:
    settings = Settings.from_env(env)
    with pytest.raises(ConfigError) as info:
        settings.require_safe(role)  # type: ignore[arg-type]  # reason: roles are literals
    return str(info.value)


def test_local_dev_defaults_are_safe() -> None:
    Settings.from_env({}).require_safe("web")
    Settings.from_env({}).require_safe("worker")


def test_dev_keys_refused_when_listening_beyond_loopback() -> None:
    text = _problems({"OMNIVOICE_WEB_HOST": "0.0.0.0", "OMNIVOICE_TOKEN_KEY": "k"})
    assert text.startswith("LIVEKIT_API_KEY/LIVEKIT_API_SECRET: the dev key pair")
    assert "OMNIVOICE_WEB_HOST exposes this server" in text


def test_dev_keys_refused_with_a_public_url() -> None:
    text = _problems(
        {"OMNIVOICE_PUBLIC_URL": "https://voice.example.com", "OMNIVOICE_TOKEN_KEY": "k"}
    )
    assert "OMNIVOICE_PUBLIC_URL exposes this server" in text


def test_exposed_server_needs_a_token_key_or_an_explicit_opt_in() -> None:
    env = {**_OWN_KEYS, "OMNIVOICE_WEB_HOST": "0.0.0.0"}
    assert _problems(env).startswith("OMNIVOICE_TOKEN_KEY: required when OMNIVOICE_WEB_HOST")
    Settings.from_env({**env, "OMNIVOICE_TOKEN_KEY": "k"}).require_safe("web")
    Settings.from_env({**env, "OMNIVOICE_PUBLIC_TOKENS": "1"}).require_safe("web")


def test_plain_ws_to_a_remote_livekit_is_refused_for_every_role() -> None:
    env = {**_OWN_KEYS, "LIVEKIT_URL": "ws://livekit.example.com:7880"}
    for role in ("web", "worker"):
        assert _problems(env, role).startswith("LIVEKIT_URL: plain ws:// to livekit.example.com")
    Settings.from_env({**env, "LIVEKIT_URL": "wss://livekit.example.com"}).require_safe("worker")


def test_dev_keys_refused_against_a_remote_livekit() -> None:
    text = _problems({"LIVEKIT_URL": "wss://x.livekit.cloud"}, "worker")
    assert "LiveKit is at x.livekit.cloud" in text


def test_web_server_exits_2_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in (
        "LIVEKIT_API_KEY",
        "LIVEKIT_API_SECRET",
        "OMNIVOICE_TOKEN_KEY",
        "OMNIVOICE_PUBLIC_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    assert web_main(["--host", "0.0.0.0", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert "LIVEKIT_API_KEY/LIVEKIT_API_SECRET: the dev key pair" in err
    assert "OMNIVOICE_TOKEN_KEY: required when OMNIVOICE_WEB_HOST" in err


def test_trusting_every_proxy_is_refused() -> None:
    for everyone in ("0.0.0.0/0", "10.0.0.1, ::/0"):
        text = _problems({"OMNIVOICE_TRUSTED_PROXIES": everyone})
        assert text.startswith("OMNIVOICE_TRUSTED_PROXIES: ")
        assert "trusts every address" in text
    Settings.from_env({"OMNIVOICE_TRUSTED_PROXIES": "10.0.0.0/8"}).require_safe("web")


def test_plain_redis_to_another_host_is_refused() -> None:
    text = _problems({"OMNIVOICE_REDIS_URL": "redis://redis.internal:6379/0"}, "worker")
    assert text.startswith("OMNIVOICE_REDIS_URL: plain redis:// to redis.internal")
    for fine in ("redis://127.0.0.1:6379/0", "rediss://redis.internal:6380/0"):
        Settings.from_env({"OMNIVOICE_REDIS_URL": fine}).require_safe("web")
