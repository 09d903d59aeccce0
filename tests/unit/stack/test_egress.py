"""LiveKit Egress's place in the local stack: its config body, the handler link on PATH,
the process spec, and the SIP stack extension that starts it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from omnivoice_rtc import StackError
from omnivoice_rtc.settings import LiveKitSettings, RecordingSettings, Settings
from omnivoice_rtc.sip.processes import sip_specs
from omnivoice_rtc.stack import TcpCheck
from omnivoice_rtc.stack.egress import (
    HANDLER_DIRECTORY,
    TRACK_CPU_COST,
    egress_config,
    egress_spec,
    handler_directory,
)

pytestmark = pytest.mark.unit

LK = LiveKitSettings(url="ws://127.0.0.1:7880", api_key="k1", api_secret="s" * 32)


def _binary(tmp_path: Path) -> Path:
    binary = tmp_path / "bin" / "livekit-egress"
    binary.parent.mkdir()
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    return binary


def test_the_config_names_the_server_redis_ports_and_small_cpu_costs() -> None:
    config = json.loads(
        egress_config(
            livekit=LK, redis_address="127.0.0.1:6390", health_port=9001, template_port=9002
        )
    )
    assert config["api_key"] == "k1"
    assert config["api_secret"] == "s" * 32
    assert config["ws_url"] == "ws://127.0.0.1:7880"
    assert config["redis"] == {"address": "127.0.0.1:6390"}
    assert (config["health_port"], config["template_port"]) == (9001, 9002)
    assert config["cpu_cost"]["track_cpu_cost"] == TRACK_CPU_COST < 0.5


def test_the_handler_directory_links_egress_to_the_binary(tmp_path: Path) -> None:
    binary = _binary(tmp_path)
    handlers = handler_directory(tmp_path / "h", binary=str(binary))
    assert (handlers / "egress").resolve() == binary.resolve()
    other = tmp_path / "other"
    other.write_text("")
    (handlers / "egress").unlink()
    (handlers / "egress").symlink_to(other)
    handler_directory(handlers, binary=str(binary))  # a stale link is replaced
    assert (handlers / "egress").resolve() == binary.resolve()


def test_the_spec_puts_the_handler_first_on_path(tmp_path: Path) -> None:
    binary = _binary(tmp_path)
    handlers = handler_directory(tmp_path / "bin" / HANDLER_DIRECTORY, binary=str(binary))
    spec = egress_spec(
        livekit=LK,
        redis_address="127.0.0.1:6390",
        health_port=9001,
        template_port=9002,
        search_path="/usr/bin:/bin",
        binary=str(binary),
    )
    assert spec.argv == (str(binary),)
    assert spec.env["PATH"] == f"{handlers}:/usr/bin:/bin"
    assert json.loads(spec.env["EGRESS_CONFIG_BODY"])["redis"]["address"] == "127.0.0.1:6390"
    assert spec.health == TcpCheck(port=9001)
    assert {p.port for p in spec.ports} == {9001, 9002}


def test_a_missing_handler_link_is_a_stack_error(tmp_path: Path) -> None:
    binary = _binary(tmp_path)
    with pytest.raises(StackError, match=r"install-egress\.sh"):
        egress_spec(
            livekit=LK,
            redis_address="127.0.0.1:6390",
            health_port=9001,
            template_port=9002,
            search_path="",
            binary=str(binary),
        )


def test_the_sip_stack_says_when_egress_is_not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(**_kwargs: object) -> None:
        raise StackError("livekit-egress: binary not found")

    monkeypatch.setattr("omnivoice_rtc.stack.egress.egress_spec", missing)
    settings = Settings(livekit=LiveKitSettings(), recording=RecordingSettings())
    extension = sip_specs(settings)
    assert [s.name for s in extension.after_livekit] == ["livekit-sip"]
    assert "not installed" in extension.urls["Egress"]


def test_the_sip_stack_starts_egress_when_it_is_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    binary = _binary(tmp_path)
    handler_directory(binary.parent / HANDLER_DIRECTORY, binary=str(binary))
    monkeypatch.setattr("omnivoice_rtc.stack.egress.find_binary", lambda _name: str(binary))
    settings = Settings.from_env(
        {"PATH": "/usr/bin", "OMNIVOICE_RECORDING_DIR": str(tmp_path / "rec")}
    )
    extension = sip_specs(settings, livekit_url="ws://127.0.0.1:7999")
    [egress] = [s for s in extension.after_livekit if s.name == "livekit-egress"]
    assert egress.env["PATH"] == f"{binary.parent / HANDLER_DIRECTORY}:/usr/bin"
    config = json.loads(egress.env["EGRESS_CONFIG_BODY"])
    assert config["ws_url"] == "ws://127.0.0.1:7999"  # the dev stack's livekit-server
    assert config["redis"]["address"] == settings.sip.redis_address
    assert config["health_port"] == settings.recording.egress_health_port
    assert extension.urls["Egress"] == f"recording to {tmp_path / 'rec'}"
