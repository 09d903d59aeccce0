"""The call liveness section: defaults, values, and errors that name the variable."""

from __future__ import annotations

import pytest

from omnivoice_rtc import ConfigError
from omnivoice_rtc.settings import CallSettings, Settings

pytestmark = pytest.mark.unit


def test_defaults() -> None:
    calls = Settings.from_env({}).calls
    assert calls == CallSettings()
    assert (calls.media_timeout_s, calls.ws_heartbeat_s) == (15.0, 10.0)
    assert (calls.agent_ping_s, calls.agent_ping_timeout_s, calls.agent_tries) == (1.0, 1.0, 2)
    assert calls.agent_silence_limit_s == 1.5  # the ping timeout + 0.5 s


def test_values_from_the_environment() -> None:
    calls = Settings.from_env(
        {
            "OMNIVOICE_CALL_MEDIA_TIMEOUT_S": "0",
            "OMNIVOICE_CALL_WS_HEARTBEAT_S": "5",
            "OMNIVOICE_CALL_AGENT_PING_S": "0.5",
            "OMNIVOICE_CALL_AGENT_PING_TIMEOUT_S": "2",
            "OMNIVOICE_CALL_AGENT_TRIES": "0",
            "OMNIVOICE_CALL_AGENT_REJOIN_TIMEOUT_S": "4",
            "OMNIVOICE_CALL_TEARDOWN_STEP_S": "3",
        }
    ).calls
    assert calls == CallSettings(
        media_timeout_s=0,
        ws_heartbeat_s=5,
        agent_ping_s=0.5,
        agent_ping_timeout_s=2,
        agent_tries=0,
        agent_rejoin_timeout_s=4,
        teardown_step_s=3,
    )


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("OMNIVOICE_CALL_MEDIA_TIMEOUT_S", "-1", "must be a number between 0 and 3600"),
        ("OMNIVOICE_CALL_AGENT_TRIES", "many", "must be an integer between 0 and 10"),
        ("OMNIVOICE_CALL_AGENT_PING_TIMEOUT_S", "0", "must be a number between 0.1 and 60"),
    ],
)
def test_errors_name_the_variable(name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=f"^{name}: {message}"):
        Settings.from_env({name: value})
