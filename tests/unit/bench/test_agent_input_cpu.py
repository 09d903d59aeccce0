"""bench.agent_input_cpu: the process-tree CPU reading and the report's ratios."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from bench.agent_input_cpu import Phase, _tree_cpu_s, report

pytestmark = pytest.mark.unit


def test_a_live_childs_cpu_counts_for_its_parent() -> None:
    before = _tree_cpu_s(os.getpid())
    burner = subprocess.Popen(
        [sys.executable, "-c", "import time\nend = time.time() + 5\nwhile time.time() < end: pass"]
    )
    try:
        deadline = time.monotonic() + 30
        while _tree_cpu_s(burner.pid) < 0.5:  # the child alone
            assert time.monotonic() < deadline, "the child burned no CPU"
            time.sleep(0.05)
        assert _tree_cpu_s(os.getpid()) >= before + 0.5  # counted for this process too
    finally:
        burner.kill()
        burner.wait(timeout=30)


def test_the_report_gives_per_call_figures_and_the_ratio_to_livekits_50_ms() -> None:
    phases = [
        Phase(50, "silent callers", 4, 10.0, 2.0),
        Phase(20, "silent callers", 4, 10.0, 3.0),
    ]
    assert phases[0].per_call_ms_per_s == 50.0
    text = report(phases, command="python -m bench.agent_input_cpu")
    assert "| 50 ms | silent callers | 4 | 50.0 |" in text
    assert "| 20 ms | silent callers | 4 | 75.0 |" in text
    assert "- silent callers: 20 ms / 50 ms (livekit-agents' default) = 1.50 (75.0 vs 50.0)" in text
