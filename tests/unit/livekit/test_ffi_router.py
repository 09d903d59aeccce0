"""FfiEventRouter: per-frame FFI events go to their one waiter, everything else unchanged."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import pytest
from livekit import rtc
from livekit.rtc._proto import ffi_pb2 as proto_ffi

from omnivoice_rtc.livekit.ffi_router import FfiEventRouter, ffi_router

pytestmark = pytest.mark.unit


@dataclass
class _Handle:
    handle: int


@dataclass
class _Stream:
    """The three attributes of rtc.AudioStream the router uses."""

    _ffi_queue: asyncio.Queue[Any]
    _ffi_handle: _Handle
    _loop: asyncio.AbstractEventLoop


def _stream_frame(handle: int, *, eos: bool = False) -> proto_ffi.FfiEvent:
    event = proto_ffi.FfiEvent()
    event.audio_stream_event.stream_handle = handle
    if eos:
        event.audio_stream_event.eos.SetInParent()
    else:
        event.audio_stream_event.frame_received.SetInParent()
    return event


def _capture_done(async_id: int, error: str = "") -> proto_ffi.FfiEvent:
    event = proto_ffi.FfiEvent()
    event.capture_audio_frame.async_id = async_id
    if error:
        event.capture_audio_frame.error = error
    return event


async def test_a_routed_stream_gets_only_its_frames_and_others_fall_through() -> None:
    fallen: list[proto_ffi.FfiEvent] = []
    router = FfiEventRouter(original_put=fallen.append)
    mine = _Stream(asyncio.Queue(), _Handle(7), asyncio.get_running_loop())
    assert router.route_stream(mine)  # type: ignore[arg-type]  # reason: a duck-typed stream
    router._put(_stream_frame(7))
    router._put(_stream_frame(8))  # another stream's frame: the SDK's own path
    router._put(_capture_done(99))  # a capture nobody here awaits: the SDK's own path
    await asyncio.sleep(0)
    assert mine._ffi_queue.qsize() == 1
    assert [e.WhichOneof("message") for e in fallen] == [
        "audio_stream_event",
        "capture_audio_frame",
    ]
    assert router.routed_events == 1
    router._put(_stream_frame(7, eos=True))  # the end of the stream ends its route
    await asyncio.sleep(0)
    assert mine._ffi_queue.qsize() == 2
    assert router.pending == (0, 0)
    router._put(_stream_frame(7))
    assert len(fallen) == 3


async def test_unroute_and_a_stream_without_the_sdk_attributes() -> None:
    router = FfiEventRouter(original_put=lambda _e: None)
    mine = _Stream(asyncio.Queue(), _Handle(3), asyncio.get_running_loop())
    router.route_stream(mine)  # type: ignore[arg-type]  # reason: a duck-typed stream
    router.unroute_stream(mine)  # type: ignore[arg-type]  # reason: a duck-typed stream
    assert router.pending == (0, 0)
    assert router.route_stream(object()) is False  # type: ignore[arg-type]  # reason: no attributes


async def test_a_frame_for_a_closed_loop_is_dropped_not_raised() -> None:
    router = FfiEventRouter(original_put=lambda _e: None)
    loop = asyncio.new_event_loop()
    loop.close()
    router._streams[5] = (loop, asyncio.Queue())
    router._put(_stream_frame(5))  # no exception on the FFI thread


async def test_capture_through_the_installed_router_resolves_on_livekits_callback() -> None:
    router = ffi_router()
    assert router is not None  # this livekit rtc has what the router needs
    assert ffi_router() is router  # installed once per process
    source = rtc.AudioSource(8000, 1, queue_size_ms=0)
    before = router.routed_events
    try:
        for _ in range(5):
            await router.capture_frame(source, rtc.AudioFrame(bytes(160), 8000, 1, 80))
        assert router.routed_events - before == 5
        assert router.pending[0] == 0
    finally:
        await source.aclose()


async def test_a_refused_capture_raises_with_livekits_message() -> None:
    fallen: list[proto_ffi.FfiEvent] = []
    router = FfiEventRouter(original_put=fallen.append)
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()
    router._captures[41] = (loop, future)
    router._put(_capture_done(41, error="frame too big"))
    event = await asyncio.wait_for(future, 5)
    assert event.capture_audio_frame.error == "frame too big"
    assert router.pending == (0, 0)
    assert not fallen


def test_routing_off_by_setting_leaves_the_sdk_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    from omnivoice_rtc.livekit import ffi_router as module
    from omnivoice_rtc.settings import Settings

    monkeypatch.setattr(module, "_router", None)
    monkeypatch.setattr(module, "_enabled", True)
    module.set_ffi_routing(Settings.from_env({"OMNIVOICE_FFI_ROUTING": "0"}).shim.ffi_routing)
    assert module.ffi_router() is None
