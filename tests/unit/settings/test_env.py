"""The declarative variable reader: one message shape for every bad value."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from omnivoice_rtc import ConfigError
from omnivoice_rtc.settings import Settings, WorkerSettings, env_vars, load, var
from omnivoice_rtc.settings._env import exact

pytestmark = pytest.mark.unit


@dataclass(frozen=True, kw_only=True)
class _Sample:
    port: int = var("X_PORT", 80, doc="a port", kind=int, minimum=1, maximum=65535)
    mode: str = var("X_MODE", "a", doc="a or b", choices=("a", "b"))
    on: bool = var("X_ON", False, doc="a switch", kind=bool)
    key: str = var("X_KEY", "", doc="a secret", secret=True, keep_whitespace=True, parse=exact)
    plain: int = 7


def test_defaults_when_unset_or_blank() -> None:
    assert load(_Sample, {"X_PORT": "  ", "X_MODE": ""}) == _Sample()


def test_values_are_parsed() -> None:
    got = load(_Sample, {"X_PORT": "8080", "X_MODE": "B", "X_ON": "yes", "X_KEY": "k"})
    assert (got.port, got.mode, got.on, got.key, got.plain) == (8080, "b", True, "k", 7)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"X_PORT": "abc"}, "X_PORT: must be an integer between 1 and 65535, got 'abc'"),
        ({"X_PORT": "0"}, "X_PORT: must be an integer between 1 and 65535, got 0"),
        ({"X_MODE": "c"}, "X_MODE: must be one of a, b; got 'c'"),
        ({"X_ON": "maybe"}, "X_ON: must be true or false (1/0, yes/no, on/off), got 'maybe'"),
        ({"X_KEY": " k"}, "X_KEY: must not start or end with whitespace"),
    ],
)
def test_errors_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(_Sample, env)
    assert str(info.value) == message


def test_overrides_win_and_secret_fields_are_not_in_repr() -> None:
    got = load(_Sample, {"X_PORT": "81", "X_KEY": "hunter2"}, port=90)
    assert got.port == 90
    assert "hunter2" not in repr(got)


def test_env_vars_lists_declared_fields_only() -> None:
    assert [spec.name for _, spec in env_vars(_Sample)] == ["X_PORT", "X_MODE", "X_ON", "X_KEY"]


def test_settings_reads_every_section_from_one_mapping() -> None:
    settings = Settings.from_env(
        {
            "LIVEKIT_URL": "wss://example.livekit.cloud",
            "OMNIVOICE_WEB_PORT": "9000",
            "OMNIVOICE_LOG_FORMAT": "json",
            "OMNIVOICE_INTERRUPTION_MODE": "disabled",
            "OMNIVOICE_WORKER_EXECUTOR": "thread",
            "OMNIVOICE_SHIM_MEDIA": "rtc",
            "OMNIVOICE_WEB_ROUTES": "a.b:c, d.e:f",
        }
    )
    assert settings.livekit.http_url == "https://example.livekit.cloud"
    assert settings.web.port == 9000
    assert settings.web.routes == ("a.b:c", "d.e:f")
    assert settings.log.format == "json"
    assert settings.agent.session.interruption_mode == "disabled"
    assert settings.worker == WorkerSettings(executor="thread")
    assert settings.shim.media == "rtc"
    assert settings.env["OMNIVOICE_WEB_PORT"] == "9000"
    with pytest.raises(TypeError):
        settings.env["X"] = "y"  # type: ignore[index]  # reason: the snapshot is read-only
