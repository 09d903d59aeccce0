"""FrameQueue: bounded, first in first out, drops the oldest frame when full."""

from __future__ import annotations

import pytest

from omnivoice_rtc.shim.frame_queue import FrameQueue

pytestmark = pytest.mark.unit


def test_full_queue_drops_the_oldest() -> None:
    queue = FrameQueue(max_frames=2)
    assert queue.max_frames == 2
    assert not queue
    assert queue.push(b"a")
    assert queue.push(b"b")
    assert not queue.push(b"c")  # "a" went
    assert len(queue) == 2
    assert queue.pop() == b"b"
    assert queue.pop() == b"c"
    assert queue.pop() is None


def test_clear_says_how_many_went() -> None:
    queue = FrameQueue(max_frames=4)
    for frame in (b"1", b"2", b"3"):
        queue.push(frame)
    assert queue.clear() == 3
    assert not queue
    assert queue.clear() == 0


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError, match=r"^FrameQueue.max_frames: must be >= 1, got 0$"):
        FrameQueue(max_frames=0)
