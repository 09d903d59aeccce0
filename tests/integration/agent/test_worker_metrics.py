"""The agent worker serves Prometheus metrics (livekit-agents' own, from its jobs too)
on OMNIVOICE_WORKER_PROMETHEUS_PORT."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest

from omnivoice_rtc.stack import free_port
from tests.plugins.agent_worker import AgentWorker

pytestmark = pytest.mark.integration


async def test_worker_metrics_are_served(
    agent_worker_factory: Callable[..., AgentWorker], tmp_path: Path
) -> None:
    port = free_port()
    env = {"OMNIVOICE_WORKER_PROMETHEUS_PORT": str(port), "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    worker = agent_worker_factory(env=env)
    text = ""
    deadline = time.monotonic() + 30
    async with aiohttp.ClientSession() as http:
        while "lk_agents_" not in text and time.monotonic() < deadline:
            try:
                async with http.get(f"http://127.0.0.1:{port}/metrics") as reply:
                    text = await reply.text()
            except aiohttp.ClientError:
                await asyncio.sleep(0.2)  # reason: the worker's HTTP server is still starting
    assert "lk_agents_child_process_count" in text or "lk_agents_" in text, worker.log_text()[
        -2000:
    ]
    assert "Prometheus metrics exposed" in worker.log_text()
