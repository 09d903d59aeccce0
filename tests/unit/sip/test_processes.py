"""SIP stack specs: settings from env, the livekit-sip config, the StackExtension."""

from __future__ import annotations

import re

import pytest
import yaml  # type: ignore[import-untyped]  # PyYAML (a livekit-agents dependency) ships no stubs

from omnivoice_rtc import ConfigError
from omnivoice_rtc.settings import LiveKitSettings, Settings
from omnivoice_rtc.sip.processes import SIPStackSettings, livekit_sip_config, sip_specs
from omnivoice_rtc.stack import TcpCheck

pytestmark = pytest.mark.unit


def test_defaults_from_empty_env() -> None:
    sip = SIPStackSettings.from_env({})
    assert (sip.sip_port, sip.rtp_port_start, sip.rtp_port_end) == (5060, 10000, 10100)
    assert sip.bind_ip == "127.0.0.1"
    assert sip.announced_ip == "127.0.0.1"
    assert sip.redis_address == "127.0.0.1:6379"
    assert sip.sip_uri == "sip:127.0.0.1:5060"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"OMNIVOICE_SIP_PORT": "x"}, "OMNIVOICE_SIP_PORT: must be an integer between 1 and 65535, got 'x'"),
        ({"OMNIVOICE_SIP_RTP_PORTS": "10000"}, "OMNIVOICE_SIP_RTP_PORTS: must be 'start-end' like 10000-10100, got '10000'"),
        ({"OMNIVOICE_SIP_RTP_PORTS": "200-100"}, "OMNIVOICE_SIP_RTP_PORTS: must be 'start-end' with 1 <= start <= end <= 65535, got '200-100'"),
        ({"OMNIVOICE_SIP_BIND_IP": "localhost"}, "OMNIVOICE_SIP_BIND_IP: must be an IP address, got 'localhost'"),
        ({"OMNIVOICE_SIP_BIND_IP": "0.0.0.0"}, "OMNIVOICE_SIP_PUBLIC_IP: must be set when OMNIVOICE_SIP_BIND_IP is 0.0.0.0"),
        ({"OMNIVOICE_SIP_LOG_LEVEL": "loud"}, "OMNIVOICE_SIP_LOG_LEVEL: must be one of debug, info, warn, error"),
    ],
)  # fmt: skip
def test_bad_env_names_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=f"^{re.escape(message)}$"):
        SIPStackSettings.from_env(env)


def test_public_ip_is_announced() -> None:
    env = {"OMNIVOICE_SIP_BIND_IP": "0.0.0.0", "OMNIVOICE_SIP_PUBLIC_IP": "203.0.113.7"}
    sip = SIPStackSettings.from_env(env)
    assert sip.announced_ip == "203.0.113.7"
    assert sip.sip_uri == "sip:203.0.113.7:5060"


def test_config_is_the_template_filled_in() -> None:
    livekit = LiveKitSettings(url="ws://127.0.0.1:7880", api_key="k1", api_secret="s1")
    sip = SIPStackSettings(sip_port=5070, rtp_port_start=20000, rtp_port_end=20010, redis_port=6390)
    config = yaml.safe_load(livekit_sip_config(livekit=livekit, sip=sip))
    assert config == {
        "api_key": "k1",
        "api_secret": "s1",
        "ws_url": "ws://127.0.0.1:7880",
        "redis": {"address": "127.0.0.1:6390"},
        "sip_port": 5070,
        "rtp_port": "20000-20010",
        "use_external_ip": False,
        "listen_ip": "127.0.0.1",
        "nat_1_to_1_ip": "127.0.0.1",
        "max_cpu_utilization": 1.0,
        "logging": {"level": "info"},
        "enable_jitter_buffer": False,
    }


def test_config_refuses_values_that_would_break_yaml() -> None:
    livekit = LiveKitSettings(api_key="k", api_secret="s'\nredis: x")
    with pytest.raises(ValueError, match=r"^LIVEKIT_API_SECRET: must not contain"):
        livekit_sip_config(livekit=livekit, sip=SIPStackSettings())


def test_sip_specs_order_redis_host_and_secret_not_in_argv() -> None:
    settings = Settings(livekit=LiveKitSettings(api_key="k", api_secret="topsecret"))
    extension = sip_specs(settings, sip=SIPStackSettings(redis_port=6391, sip_port=5071))
    assert [s.name for s in extension.before_livekit] == ["redis"]
    # livekit-egress follows when bin/livekit-egress is installed (make test installs it)
    assert [s.name for s in extension.after_livekit if s.name != "livekit-egress"] == [
        "livekit-sip"
    ]
    assert extension.redis_host == "127.0.0.1:6391"
    redis, sip = extension.before_livekit[0], extension.after_livekit[0]
    assert isinstance(redis.health, TcpCheck)
    assert redis.health.port == 6391
    assert isinstance(sip.health, TcpCheck)
    assert sip.health.port == 5071
    assert "topsecret" not in " ".join(sip.argv)
    assert "api_secret: topsecret" in sip.env["SIP_CONFIG_BODY"]
    assert extension.urls["SIP"] == "sip:127.0.0.1:5071"


def test_no_local_sip_stack_for_livekit_cloud() -> None:
    settings = Settings(livekit=LiveKitSettings(url="wss://example.livekit.cloud"))
    extension = sip_specs(settings, sip=SIPStackSettings())
    assert extension.before_livekit == ()
    assert extension.after_livekit == ()
    assert extension.redis_host is None


def test_livekit_url_override_reaches_livekit_sip() -> None:
    extension = sip_specs(Settings(), sip=SIPStackSettings(), livekit_url="ws://127.0.0.1:7999")
    body = extension.after_livekit[0].env["SIP_CONFIG_BODY"]
    assert "ws_url: ws://127.0.0.1:7999" in body
