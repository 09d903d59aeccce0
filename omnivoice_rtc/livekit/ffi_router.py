"""Route livekit rtc's per-frame FFI events to their one consumer (O(1) per event).

livekit rtc (Python, 1.1.x) delivers every FFI event to every subscriber in the
process: each :class:`rtc.Room` (its filter passes frame-capture callbacks), each
:class:`rtc.AudioStream` (it receives every stream's frames and drops the others'), and
each pending :meth:`rtc.AudioSource.capture_frame` (a temporary subscriber without a
filter). A shim process with N calls captures 100 frames/s and receives 50 frames/s per
call, so each second costs O(N²) loop callbacks; at 10 calls the fan-out, not the audio,
uses most of a core and frames are late by hundreds of ms.

:class:`FfiEventRouter` wraps the process's ``FfiQueue.put`` once: a capture callback
whose ``async_id`` it awaits, or a frame of an audio stream it routes, goes straight to
its waiter (one ``call_soon_threadsafe``); every other event takes the SDK's own path
unchanged. It relies on three private attributes of livekit rtc (``FfiQueue.put``,
``AudioStream._ffi_queue``/``_ffi_handle``/``_loop``, ``AudioSource._ffi_handle``);
:func:`ffi_router` checks them and returns ``None`` when they are missing, and callers
then use the SDK's public calls (correct, only slower). ``set_ffi_routing(False)`` (``OMNIVOICE_FFI_ROUTING=0``) turns
the router off (the benchmark's A/B switch, or a way out should it misbehave).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import Any

from livekit import rtc
from livekit.rtc._ffi_client import FfiClient  # reason: the router wraps this queue
from livekit.rtc._proto import ffi_pb2 as proto_ffi

from omnivoice_rtc._errors import CaptureFrameError

__all__ = ["CaptureFrameError", "FfiEventRouter", "ffi_router", "set_ffi_routing"]

logger = logging.getLogger(__name__)

_enabled = True


def set_ffi_routing(enabled: bool) -> None:
    """``False`` leaves livekit rtc's FFI event delivery as the SDK ships it in this process
    (``OMNIVOICE_FFI_ROUTING=0``, :class:`~omnivoice_rtc.settings.ShimSettings`); takes
    effect before the router is first installed."""
    global _enabled
    _enabled = enabled


def _resolve(future: asyncio.Future[Any], event: Any) -> None:
    if not future.done():
        future.set_result(event)


class FfiEventRouter:
    """Sends capture callbacks and audio-stream frames to their waiter, not to everyone.

    Thread-safety: ``_put`` runs on livekit's FFI callback threads; the capture table is
    guarded by ``_lock``, which :meth:`capture_frame` holds across the FFI request and
    the registration of its ``async_id`` so the callback cannot overtake it.
    """

    def __init__(self, *, original_put: Callable[[Any], None]) -> None:
        self._original_put = original_put
        self._lock = threading.Lock()
        self._captures: dict[int, tuple[asyncio.AbstractEventLoop, asyncio.Future[Any]]] = {}
        self._streams: dict[int, tuple[asyncio.AbstractEventLoop, asyncio.Queue[Any]]] = {}
        self.routed_events = 0
        """Events delivered by the router (a counter for tests and benchmarks)."""

    # ------------------------------------------------------------------ FFI thread

    def _put(self, event: proto_ffi.FfiEvent) -> None:
        which = event.WhichOneof("message")
        if which == "capture_audio_frame":
            with self._lock:
                waiter = self._captures.pop(event.capture_audio_frame.async_id, None)
            if waiter is not None:
                self._deliver(waiter[0], _resolve, waiter[1], event)
                return
        elif which == "audio_stream_event":
            stream_event = event.audio_stream_event
            route = self._streams.get(stream_event.stream_handle)
            if route is not None:
                if stream_event.HasField("eos"):
                    self._streams.pop(stream_event.stream_handle, None)
                self._deliver(route[0], route[1].put_nowait, event)
                return
        self._original_put(event)

    def _deliver(
        self, loop: asyncio.AbstractEventLoop, fn: Callable[..., None], *args: Any
    ) -> None:
        self.routed_events += 1
        try:
            loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:  # the consumer's loop is closed: nobody is waiting any more
            logger.debug("ffi event for a closed event loop dropped")

    # ------------------------------------------------------------------ event loop

    async def capture_frame(self, source: rtc.AudioSource, frame: rtc.AudioFrame) -> None:
        """Capture ``frame`` into ``source`` (as :meth:`rtc.AudioSource.capture_frame`) and
        wait for livekit's callback; raises :class:`CaptureFrameError` if it refuses."""
        if frame.samples_per_channel == 0:
            return
        handle = source._ffi_handle  # reason: the request names the source by handle
        if handle.disposed:
            return
        request = proto_ffi.FfiRequest()
        request.capture_audio_frame.source_handle = handle.handle
        request.capture_audio_frame.buffer.CopyFrom(frame._proto_info())
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        with self._lock:  # the callback may come before we know its async_id
            response = FfiClient.instance.request(request)
            async_id = response.capture_audio_frame.async_id
            self._captures[async_id] = (loop, future)
        try:
            callback = await future
        except asyncio.CancelledError:  # resolved captures were already taken off by _put
            with self._lock:
                self._captures.pop(async_id, None)
            raise
        if callback.capture_audio_frame.error:
            raise CaptureFrameError(callback.capture_audio_frame.error)

    def route_stream(self, stream: rtc.AudioStream) -> bool:
        """Deliver ``stream``'s frames to it alone (instead of to every stream); False
        (nothing changed) if this SDK's AudioStream lacks the attributes it needs."""
        queue = getattr(stream, "_ffi_queue", None)  # reason: the SDK's per-stream inbox
        handle = getattr(stream, "_ffi_handle", None)
        loop = getattr(stream, "_loop", None)
        if queue is None or handle is None or loop is None:
            return False
        self._streams[handle.handle] = (loop, queue)
        FfiClient.instance.queue.unsubscribe(queue)
        return True

    def unroute_stream(self, stream: rtc.AudioStream) -> None:
        """Forget ``stream`` (after its ``aclose``)."""
        handle = getattr(stream, "_ffi_handle", None)
        if handle is not None:
            self._streams.pop(handle.handle, None)

    @property
    def pending(self) -> tuple[int, int]:
        """(captures awaiting a callback, routed streams) — 0, 0 when all calls ended."""
        return len(self._captures), len(self._streams)


_install_lock = threading.Lock()
_router: FfiEventRouter | None = None
_unsupported = False


def _sdk_supports_routing() -> bool:
    queue = FfiClient.instance.queue
    return (
        callable(getattr(queue, "put", None))
        and callable(getattr(queue, "unsubscribe", None))
        and hasattr(proto_ffi.FfiEvent(), "capture_audio_frame")
        and hasattr(proto_ffi.FfiEvent(), "audio_stream_event")
    )


def ffi_router() -> FfiEventRouter | None:
    """The process's router, installed on first use; ``None`` if this livekit rtc lacks
    what it relies on (callers then use the SDK's public calls)."""
    global _router, _unsupported
    if _router is not None:
        return _router
    if not _enabled:
        return _router  # off: never installed in this process (None)
    with _install_lock:
        if _router is None and not _unsupported:
            if not _sdk_supports_routing():
                _unsupported = True
                logger.warning("livekit rtc internals changed: ffi event routing disabled")
                return None
            queue = FfiClient.instance.queue
            _router = FfiEventRouter(original_put=queue.put)
            queue.put = _router._put  # the one hook: an instance attribute shadows the method
        return _router
