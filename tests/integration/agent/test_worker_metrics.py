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
    for attempt in range(3):  # a free port can be taken (an outgoing socket's) before the bind
        port = free_port()
        env = {
            "OMNIVOICE_WORKER_PROMETHEUS_PORT": str(port),
            "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
        }
        try:
            worker = agent_worker_factory(env=env)
            break
        except RuntimeError as exc:  # the worker exited at start
            if "address already in use" not in str(exc) or attempt == 2:
                raise
    text = ""
    deadline = time.monotonic() + 60  # a worker starting beside the whole suite is slow
    async with aiohttp.ClientSession() as http:
        while "lk_agents_" not in text and time.monotonic() < deadline:
            try:
                async with http.get(f"http://127.0.0.1:{port}/metrics") as reply:
                    text = await reply.text()
            except aiohttp.ClientError:
                pass  # the worker's HTTP server is still starting
            if "lk_agents_" not in text:  # never poll in a tight loop: it starves the worker
                await asyncio.sleep(0.2)  # reason: the worker registers its metrics later
    assert "lk_agents_child_process_count" in text or "lk_agents_" in text, worker.log_text()[
        -2000:
    ]
    assert "Prometheus metrics exposed" in worker.log_text()
