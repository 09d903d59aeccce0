"""The agent worker's own Prometheus metrics (calls served, per-turn latency, mouth-to-ear
latency reported by the caller's side, ledger writes), beside livekit-agents' (``lk_agents_*``: jobs, processes, CPU load).

They live in prometheus_client's default registry, which livekit-agents serves on
``OMNIVOICE_WORKER_PROMETHEUS_PORT``; jobs run in child processes, so the worker sets
``PROMETHEUS_MULTIPROC_DIR`` and every process writes there. The metrics are created on
first use, in the job process, after that variable is set.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import Counter, Histogram

__all__ = ["AgentMetrics", "agent_metrics"]

_LATENCY_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)


@dataclass(frozen=True, slots=True)
class AgentMetrics:
    calls: Counter
    turn_latency: Histogram
    mouth_to_ear: Histogram
    ledger_failures: Counter


_METRICS: AgentMetrics | None = None


def agent_metrics() -> AgentMetrics:
    """The process's metrics (created once)."""
    global _METRICS
    if _METRICS is None:
        _METRICS = AgentMetrics(
            calls=Counter(
                "omnivoice_agent_calls",
                "Sessions the agent served, by route (browser, sip, media_stream).",
                ["route"],
            ),
            turn_latency=Histogram(
                "omnivoice_agent_turn_latency_seconds",
                "Per-turn latency seen by the agent (s): stt, llm, tts, total.",
                ["kind"],
                buckets=_LATENCY_BUCKETS,
            ),
            mouth_to_ear=Histogram(
                "omnivoice_agent_mouth_to_ear_seconds",
                "Per turn, measured at the caller (s): end of the caller's speech -> first "
                "agent audio heard, by who measured it (browser, carrier).",
                ["measured_by"],
                buckets=_LATENCY_BUCKETS,
            ),
            ledger_failures=Counter(
                "omnivoice_agent_ledger_write_failures",
                "Facts the agent could not write to the call ledger.",
            ),
        )
    return _METRICS
