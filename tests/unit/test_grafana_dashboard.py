"""deploy/grafana-dashboard.json: valid, and every metric it plots is one we export."""

from __future__ import annotations

import json
import re

import pytest

from omnivoice_rtc.ledger.agent_metrics import agent_metrics
from omnivoice_rtc.web.prometheus import WebMetrics
from tests.conftest import ROOT

pytestmark = pytest.mark.unit

_LIVEKIT_AGENTS = {
    "lk_agents_active_job_count",
    "lk_agents_child_process_count",
    "lk_agents_worker_load",
}


def test_every_plotted_metric_exists() -> None:
    dashboard = json.loads((ROOT / "deploy" / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    plotted = {m for e in exprs for m in re.findall(r"\b((?:omnivoice|lk_agents)_[a-z_]+)", e)}
    metrics = WebMetrics()
    metrics.calls.active_calls({("browser", ""): 1})
    text = metrics.render().decode()
    am = agent_metrics()
    exported = set(re.findall(r"^# TYPE (\S+)", text, re.M))
    for family in (am.calls, am.turn_latency, am.ledger_failures):
        exported |= {m.name for m in family.describe()}
    suffixes = ("_bucket", "_total", "_count", "_sum")
    for name in plotted - _LIVEKIT_AGENTS:
        base = next((name[: -len(s)] for s in suffixes if name.endswith(s)), name)
        assert name in exported or base in exported, name
