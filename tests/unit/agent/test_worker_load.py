"""The load a worker reports: with load shedding off, its running jobs (so livekit-server
spreads jobs over workers instead of sending every one to the same worker)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import pytest
from livekit.agents import AgentServer

from omnivoice_rtc.agent import worker_server
from omnivoice_rtc.settings import Settings

pytestmark = pytest.mark.unit


def _server_with(jobs: int) -> AgentServer:
    return cast(AgentServer, SimpleNamespace(active_jobs=[object()] * jobs))


def test_more_running_jobs_report_more_load_but_never_near_full() -> None:
    loads = [worker_server.job_count_load(_server_with(n)) for n in (0, 1, 10, 100_000)]
    assert loads[0] == 0.0
    assert loads[0] < loads[1] < loads[2]
    assert loads[3] == 0.5  # livekit-server's target load is 0.7: a worker is never full


def _built(monkeypatch: pytest.MonkeyPatch, threshold: str) -> Any:
    monkeypatch.setenv("OMNIVOICE_WORKER_LOAD_THRESHOLD", threshold)
    return worker_server.build_server(Settings.from_env())


def test_without_load_shedding_the_worker_reports_its_jobs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert _built(monkeypatch, "100").load_fnc is worker_server.job_count_load


def test_with_load_shedding_livekits_cpu_load_is_reported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert _built(monkeypatch, "70").load_fnc is None  # livekit-agents' default
