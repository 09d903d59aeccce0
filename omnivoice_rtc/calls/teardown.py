"""Teardown that always finishes: every step bounded in time, none able to stop the rest.

A call's teardown has several independent steps (close the carrier socket, hang up over
REST, leave the room, delete it, give back the RoomControl lease, tell the owner). Each
goes through :func:`teardown_step`: it runs for at most ``timeout_s`` seconds, and a
failure or an overrun is logged with the step's name and reported as False, never raised,
so the next step runs whatever this one did. Cancellation still propagates.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping

__all__ = ["call_hook", "stop_tasks", "teardown_step"]

logger = logging.getLogger(__name__)


async def teardown_step(
    step: str,
    aw: Awaitable[object],
    *,
    timeout_s: float | None,
    context: Mapping[str, object] | None = None,
) -> bool:
    """Await ``aw`` for at most ``timeout_s`` (s; None: a step made of bounded steps of its
    own). True when it finished; False (logged as ``call teardown step failed`` with
    ``step``, ``context`` and the error) otherwise."""
    try:
        async with asyncio.timeout(timeout_s):
            await aw
    except Exception as exc:  # noqa: BLE001  # reason: a teardown step must not stop the next one; logged with the step's name and reported as False
        logger.warning(
            "call teardown step failed",
            extra={**(context or {}), "step": step, "error": repr(exc)},
        )
        return False
    return True


async def stop_tasks(
    tasks: Iterable[asyncio.Task[object] | asyncio.Task[None] | None],
    *,
    timeout_s: float,
    context: Mapping[str, object] | None = None,
) -> None:
    """Cancel ``tasks`` (None and the running task skipped) and wait up to ``timeout_s``
    (s) for them to finish; a task still running after that is logged and left."""
    current = asyncio.current_task()
    chosen = [t for t in tasks if t is not None and t is not current and not t.done()]
    for task in chosen:
        task.cancel()
    if not chosen:
        return
    _done, pending = await asyncio.wait(chosen, timeout=timeout_s)
    if pending:
        logger.warning("call tasks did not stop", extra={**(context or {}), "tasks": len(pending)})


def call_hook(
    name: str, hook: Callable[[], object], *, context: Mapping[str, object] | None = None
) -> None:
    """Call an owner's synchronous hook; an exception it raises is logged, not raised
    (the teardown that called it has finished its own work)."""
    try:
        hook()
    except Exception:  # reason: an owner's hook failing must not undo a finished teardown; logged with its traceback
        logger.exception("call teardown hook failed", extra={**(context or {}), "hook": name})
