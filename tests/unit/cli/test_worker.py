"""``omnivoice-rtc worker``: arguments, the checks before anything connects, and what it
hands livekit-agents' CLI (its runner is replaced: no server here)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from livekit.agents import cli as livekit_cli

from omnivoice_rtc import cli
from omnivoice_rtc.agent import worker_server
from omnivoice_rtc.settings import AgentAppSettings

pytestmark = pytest.mark.unit


@pytest.fixture
def ran(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, list[str]]]:
    """What livekit-agents' CLI was started with (server, argv) instead of starting it."""
    calls: list[tuple[Any, list[str]]] = []
    monkeypatch.setattr(
        livekit_cli, "run_app", lambda server: calls.append((server, list(sys.argv)))
    )
    for name in ("OMNIVOICE_AGENT", "OMNIVOICE_AGENT_CONFIG", "OPENAI_API_KEY", "GOOGLE_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    return calls


@pytest.fixture
def agent_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    (tmp_path / "omnivoice_cli_test_agent.py").write_text(
        "from omnivoice_rtc import AgentSpec\ndef build(ctx):\n    return AgentSpec()\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "omnivoice_cli_test_agent"
    sys.modules.pop("omnivoice_cli_test_agent", None)
    worker_server._factories.clear()


def test_start_with_an_agent_runs_livekits_cli_in_that_mode(
    ran: list[tuple[Any, list[str]]], agent_module: str
) -> None:
    argv = sys.argv[:]
    status = cli.main(
        ["worker", "start", "--agent", f"{agent_module}:build", "--log-level", "DEBUG"]
    )
    assert status == 0
    ((server, args),) = ran
    assert args[1:] == ["start", "--log-level", "debug"]
    assert sys.argv == argv  # restored
    entry = server._entrypoint_fnc
    spec = entry.args[0]
    assert isinstance(spec, worker_server.WorkerJobSpec)
    assert spec.app.factory == f"{agent_module}:build"


def test_the_environment_names_the_agent_too(
    ran: list[tuple[Any, list[str]]], agent_module: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OMNIVOICE_AGENT", f"{agent_module}:build")
    assert cli.main(["worker", "dev"]) == 0
    assert ran[0][0]._entrypoint_fnc.args[0].app.factory == f"{agent_module}:build"


def test_a_bad_agent_reference_stops_before_anything_runs(
    ran: list[tuple[Any, list[str]]], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["worker", "start", "--agent", "no_such_pkg_xyz.agent:build"]) == 2
    err = capsys.readouterr().err
    assert "cannot import module 'no_such_pkg_xyz.agent' (for attribute 'build')" in err
    assert ran == []


def test_a_malformed_reference_is_an_argument_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(["worker", "start", "--agent", "myapp.agent"])
    assert exit_.value.code == 2
    assert "must be 'module:attribute'" in capsys.readouterr().err


def test_a_bad_config_file_stops_before_anything_runs(
    ran: list[tuple[Any, list[str]]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "agent.json"
    path.write_text('{"Mood": 1}')
    assert cli.main(["worker", "console", "--config", str(path)]) == 2
    assert "unknown Config field(s) Mood" in capsys.readouterr().err
    assert ran == []


def test_the_mode_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["worker", "serve"])
    assert "invalid choice: 'serve'" in capsys.readouterr().err


def test_check_agent_with_nothing_set_is_the_built_in_agent() -> None:
    worker_server.check_agent(AgentAppSettings())  # no error, nothing imported
