"""Teardown steps: bounded, failures logged and reported, never stopping the next step."""

from __future__ import annotations

import asyncio
import logging

import pytest

from omnivoice_rtc.calls.teardown import call_hook, stop_tasks, teardown_step

pytestmark = pytest.mark.unit


async def test_a_step_that_finishes_is_true() -> None:
    async def ok() -> None:
        await asyncio.sleep(0)

    assert await teardown_step("ok", ok(), timeout_s=5) is True


async def test_a_failing_step_is_logged_and_false(caplog: pytest.LogCaptureFixture) -> None:
    async def broken() -> None:
        raise ConnectionResetError("peer gone")

    assert (
        await teardown_step("socket close", broken(), timeout_s=5, context={"call_id": "CA1"})
        is False
    )
    (record,) = [r for r in caplog.records if r.getMessage() == "call teardown step failed"]
    assert record.__dict__["step"] == "socket close"
    assert record.__dict__["call_id"] == "CA1"
    assert "peer gone" in record.__dict__["error"]


async def test_a_step_that_hangs_is_cut_off() -> None:
    never = asyncio.get_running_loop().create_future()
    assert await teardown_step("hang", never, timeout_s=0.01) is False
    assert never.cancelled()


async def test_cancellation_of_the_teardown_itself_propagates() -> None:
    async def cancelled() -> None:
        raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        await teardown_step("x", cancelled(), timeout_s=5)


async def test_tasks_are_cancelled_and_a_stubborn_one_is_left_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    release = asyncio.Event()

    async def polite() -> None:
        await asyncio.Event().wait()

    async def stubborn() -> None:
        while not release.is_set():
            try:
                await release.wait()
            except asyncio.CancelledError:
                continue  # ignores its cancellation

    a = asyncio.ensure_future(polite())
    b = asyncio.ensure_future(stubborn())
    await asyncio.sleep(0)
    await stop_tasks([a, b, None], timeout_s=0.05, context={"room": "r"})
    assert a.cancelled()
    assert not b.done()
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [
        "call tasks did not stop"
    ]
    release.set()
    await b


def test_a_raising_hook_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    def hook() -> None:
        raise RuntimeError("owner bug")

    call_hook("on_closed", hook, context={"call_id": "CA1"})
    (record,) = caplog.records
    assert record.getMessage() == "call teardown hook failed"
    assert record.__dict__["hook"] == "on_closed"
    assert record.exc_info is not None
