"""Fixtures of the fault-injection suite (real processes only; see stack.py).

* ``fault_stack`` (session): redis + livekit-server + livekit-sip this suite may kill,
  freeze and restart;
* ``fault_worker`` (session): the real agent worker on it (``.ensure()`` restarts it after a
  test killed it);
* ``figures`` (session): what each test measured, written to
  ``<pytest basetemp>/reliability-figures.json`` at the end (docs/reliability.md is
  filled from it);
* tests marked ``soak`` run only when asked for (``-m soak``, ``make soak``).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from livekit import api

from tests.integration.faults.stack import FaultStack, WorkerHandle, start_fault_stack


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "soak" in (config.getoption("markexpr", "") or ""):
        return
    keep = [item for item in items if item.get_closest_marker("soak") is None]
    dropped = [item for item in items if item.get_closest_marker("soak") is not None]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


class Figures:
    """Measured figures by scenario, written as JSON at the end of the session."""

    def __init__(self) -> None:
        self.by_scenario: dict[str, dict[str, Any]] = {}

    def record(self, scenario: str, **values: Any) -> None:
        self.by_scenario.setdefault(scenario, {}).update(values)


@pytest.fixture(scope="session")
def figures(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Figures]:
    found = Figures()
    yield found
    path = tmp_path_factory.getbasetemp() / "reliability-figures.json"
    path.write_text(json.dumps(found.by_scenario, indent=2, sort_keys=True) + "\n")
    print(f"\nreliability figures: {path}")


@pytest.fixture(scope="session")
def fault_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultStack]:
    stack = start_fault_stack(tmp_path_factory.getbasetemp())
    try:
        yield stack
    finally:
        stack.close()


@pytest.fixture(scope="session")
def fault_worker(
    fault_stack: FaultStack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorkerHandle]:
    handle = WorkerHandle(stack=fault_stack, log_dir=tmp_path_factory.getbasetemp())
    handle.start()
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture
async def fault_api(fault_stack: FaultStack) -> AsyncIterator[api.LiveKitAPI]:
    client = api.LiveKitAPI(
        url=fault_stack.livekit.http_url,
        api_key=fault_stack.livekit.api_key,
        api_secret=fault_stack.livekit.api_secret,
    )
    try:
        yield client
    finally:
        await client.aclose()
