"""CallRouter: a call-control action reaches its call from any replica.

Each live call is served by one replica: the one whose claim holds it in the
:class:`~omnivoice_rtc.state.call_registry.LiveCallRegistry` (``live:<route>:<call id>``,
route = the carrier's name for media-stream calls, ``sip`` for SIP calls). A request to act
on a call (transfer, hold, DTMF, hang-up…) may reach any replica (the balancer picks one);
:meth:`CallRouter.dispatch` runs it where the call lives::

    router = app[CALL_ROUTER_KEY]                       # one per web process
    router.handle("twilio", do_twilio_action)           # at install time, per route
    result = await router.dispatch("twilio", call_id, "hold", {"music": "on"})

A handler is ``async (call_id, action, args) -> dict`` (JSON values) and runs on the owning
replica; it raises :class:`~omnivoice_rtc.SessionClosedError` for a call it does not serve
(any :mod:`omnivoice_rtc._errors` class travels back as itself).

Transport: in this process when the owner is this replica (always, without Redis); else
Redis pub/sub on the shared store's connection: the request is published on the owner's
channel ``<prefix>ctl:<replica id>``, the owner answers on the asker's
``<prefix>ctl-reply:<replica id>``. Anyone who can publish on this Redis can also forge
registry claims, so the Redis credentials are the trust boundary (``rediss://`` and a
password beyond loopback: ``settings/safety.py``). Errors: no live owner →
``SessionClosedError``; the owner did not answer within ``timeout_s`` (it died, its claim
not yet expired) → ``ProviderError`` (retryable).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any, Final

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from omnivoice_rtc import _errors
from omnivoice_rtc._errors import OmniVoiceError, ProviderError, SessionClosedError
from omnivoice_rtc.state.call_registry import LiveCallRegistry
from omnivoice_rtc.state.redis_store import DEFAULT_PREFIX

__all__ = ["ActionHandler", "CallRouter"]

logger = logging.getLogger(__name__)

ActionHandler = Callable[[str, str, dict[str, Any]], Awaitable[dict[str, Any]]]
"""``async (call id, action, args) -> result``: runs an action on a call this replica serves."""
DEFAULT_TIMEOUT_S: Final = 10.0


def _error_from(name: str, message: str, attrs: dict[str, Any]) -> OmniVoiceError:
    """The error a handler raised on the owning replica, rebuilt (its keyword attributes
    too, e.g. ``UnsupportedActionError(action=, route=)``)."""
    cls = getattr(_errors, name, None)
    if isinstance(cls, type) and issubclass(cls, OmniVoiceError):
        for kwargs in (attrs, {}):
            try:
                return cls(message, **kwargs)
            except TypeError:  # other constructor arguments
                continue
    return ProviderError(f"{name}: {message}")


def _simple_attrs(exc: BaseException) -> dict[str, Any]:
    return {k: v for k, v in vars(exc).items() if isinstance(v, str | int | float | bool)}


class CallRouter:
    """Routes call-control actions to the replica serving the call (module docstring).
    ``redis``: the shared store's client (None: one process, every call is local)."""

    def __init__(
        self,
        *,
        registry: LiveCallRegistry,
        redis: Redis | None = None,
        prefix: str = DEFAULT_PREFIX,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        self._registry = registry
        self._redis = redis
        self._prefix = prefix
        self._timeout_s = timeout_s
        self._handlers: dict[str, ActionHandler] = {}
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._pubsub: PubSub | None = None
        self._task: asyncio.Task[None] | None = None
        self._served: set[asyncio.Task[None]] = set()

    @property
    def registry(self) -> LiveCallRegistry:
        """Where calls are claimed (the same store, and replica id, as the call routes')."""
        return self._registry

    @property
    def replica_id(self) -> str:
        return self._registry.replica_id

    def _channel(self, replica: str) -> str:
        return f"{self._prefix}ctl:{replica}"

    def _reply_channel(self, replica: str) -> str:
        return f"{self._prefix}ctl-reply:{replica}"

    def handle(self, route: str, handler: ActionHandler) -> None:
        """Run ``handler`` for actions on calls of ``route`` that this replica serves."""
        self._handlers[route] = handler

    async def start(self) -> None:
        """Listen for actions forwarded by other replicas (nothing to do without Redis)."""
        if self._redis is None or self._task is not None:
            return
        self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        await self._pubsub.subscribe(
            self._channel(self.replica_id), self._reply_channel(self.replica_id)
        )
        self._task = asyncio.get_running_loop().create_task(
            self._listen(self._pubsub), name="omnivoice.call_router"
        )

    async def aclose(self) -> None:
        task, self._task = self._task, None
        for pending in [task, *self._served]:
            if pending is not None:
                pending.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await pending
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            with contextlib.suppress(RedisError):
                await pubsub.aclose()
        for waiter in self._waiting.values():
            if not waiter.done():
                waiter.set_exception(ProviderError("call router closed"))
        self._waiting.clear()

    async def owner(self, route: str, call_id: str) -> str | None:
        """The replica serving the call (None: no live call)."""
        token = await self._registry.owner_of(route, call_id)
        return None if token is None else token.split("/", 1)[0]

    async def dispatch(
        self, route: str, call_id: str, action: str, args: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Run ``action`` on the call wherever it lives; returns the handler's result."""
        args = args or {}
        replica = await self.owner(route, call_id)
        if replica is None:
            raise SessionClosedError(f"no live call {call_id!r} on route {route!r}")
        if replica == self.replica_id or self._redis is None:
            return await self._run_local(route, call_id, action, args)
        return await self._forward(replica, route, call_id, action, args)

    async def _run_local(
        self, route: str, call_id: str, action: str, args: dict[str, Any]
    ) -> dict[str, Any]:
        handler = self._handlers.get(route)
        if handler is None:
            raise SessionClosedError(f"route {route!r} has no call-control handler here")
        return await handler(call_id, action, args)

    async def _forward(
        self, replica: str, route: str, call_id: str, action: str, args: dict[str, Any]
    ) -> dict[str, Any]:
        assert self._redis is not None
        if self._task is None:
            raise ProviderError("call router not started")
        request_id = secrets.token_hex(8)
        waiter: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = waiter
        message = {
            "id": request_id,
            "reply_to": self.replica_id,
            "route": route,
            "call_id": call_id,
            "action": action,
            "args": args,
        }
        try:
            receivers = await self._redis.publish(self._channel(replica), json.dumps(message))
            if not receivers:
                raise ProviderError(f"replica {replica!r} is not listening")
            async with asyncio.timeout(self._timeout_s):
                return await waiter
        except TimeoutError:
            raise ProviderError(
                f"replica {replica!r} did not answer within {self._timeout_s} s"
            ) from None
        except RedisError as exc:
            raise ProviderError(f"redis: publish failed: {exc}") from exc
        finally:
            self._waiting.pop(request_id, None)

    async def _listen(self, pubsub: PubSub) -> None:
        reply_channel = self._reply_channel(self.replica_id)
        while True:
            try:
                message = await pubsub.get_message(timeout=1.0)
            except RedisError as exc:  # connection lost: redis-py reconnects on the next read
                logger.warning("call router: redis read failed", extra={"error": str(exc)})
                await asyncio.sleep(1.0)
                continue
            if message is None:
                continue
            try:
                data = json.loads(message["data"])
            except (ValueError, TypeError):
                logger.warning("call router: unreadable message dropped")
                continue
            if not isinstance(data, dict):
                continue
            if message["channel"] == reply_channel:
                waiter = self._waiting.get(str(data.get("id", "")))
                if waiter is not None and not waiter.done():
                    if data.get("ok"):
                        waiter.set_result(dict(data.get("result") or {}))
                    else:
                        attrs = data.get("attrs")
                        waiter.set_exception(
                            _error_from(
                                str(data.get("error")),
                                str(data.get("message")),
                                attrs if isinstance(attrs, dict) else {},
                            )
                        )
                continue
            task = asyncio.get_running_loop().create_task(self._serve(data))
            self._served.add(task)
            task.add_done_callback(self._served.discard)

    async def _serve(self, data: dict[str, Any]) -> None:
        reply: dict[str, Any] = {"id": data.get("id", "")}
        try:
            args = data.get("args")
            result = await self._run_local(
                str(data.get("route", "")),
                str(data.get("call_id", "")),
                str(data.get("action", "")),
                args if isinstance(args, dict) else {},
            )
            reply.update(ok=True, result=result)
        except OmniVoiceError as exc:
            reply.update(
                ok=False, error=type(exc).__name__, message=str(exc), attrs=_simple_attrs(exc)
            )
        except Exception as exc:  # a handler's bug reaches the asker as an error (logged here)
            logger.exception("call-control handler failed", extra={"action": data.get("action")})
            reply.update(ok=False, error="ProviderError", message=type(exc).__name__)
        if self._redis is None:
            return
        channel = self._reply_channel(str(data.get("reply_to", "")))
        with contextlib.suppress(RedisError):
            await self._redis.publish(channel, json.dumps(reply))
