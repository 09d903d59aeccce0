"""RedisStateStore: the :class:`~omnivoice_rtc.state.store.StateStore` shared by replicas.

``OMNIVOICE_REDIS_URL=redis://host:port/db`` (``rediss://`` for TLS) puts call-setup state
in Redis (redis-py asyncio), so the replica that answers a carrier's webhook and the one
that accepts its media stream may differ, and a replay is refused by every replica.

Every operation is one round trip and atomic on the server: values are ``SET NX PX``,
``GET``, ``GETDEL``; compare-and-set, sliding windows and slots are Lua scripts (Redis >=
6.2; Debian's redis-server 7 is what the tests run). Windows and slot deadlines use the
server's clock (``TIME``), so replicas with skewed clocks agree. Keys are
``<prefix>v:<key>`` (values), ``<prefix>w:<key>`` (a sorted set of hit times) and
``<prefix>s:<key>`` (a sorted set of holders scored by deadline), each expiring on its own.
A Redis that cannot be reached raises :class:`~omnivoice_rtc.ProviderError` (retryable).
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Sequence
from typing import Any, Final, cast

from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from omnivoice_rtc._errors import ProviderError

__all__ = ["DEFAULT_PREFIX", "RedisStateStore"]

DEFAULT_PREFIX: Final = "omnivoice:"

_NOW_MS: Final = "local t = redis.call('TIME') local now = t[1] * 1000 + math.floor(t[2] / 1000)\n"

_EXPIRE_IF: Final = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

_DELETE_IF: Final = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

# ARGV: limit, window ms, unique member. Returns 0 (counted) or ms until one more fits.
_HIT: Final = (
    _NOW_MS
    + """
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= limit then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return math.max(tonumber(oldest[2]) + window - now, 1)
end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], window)
return 0
"""
)

# ARGV: holder, limit, ttl ms. Returns 1 (held) or 0 (all slots taken).
_ACQUIRE: Final = (
    _NOW_MS
    + """
local ttl = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
end
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
return 1
"""
)

# ARGV: holder, ttl ms. Returns 1 (refreshed) or 0 (not held).
_REFRESH: Final = (
    _NOW_MS
    + """
local ttl = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
return 1
"""
)

_COUNT: Final = (
    _NOW_MS
    + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZCARD', KEYS[1])
"""
)


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


class RedisStateStore:
    """State in Redis at ``url`` (``redis://``, ``rediss://`` or ``unix://``), every key
    under ``prefix``. ``client`` overrides the connection made from ``url`` (the caller
    then closes it)."""

    def __init__(
        self, *, url: str = "", prefix: str = DEFAULT_PREFIX, client: Redis | None = None
    ) -> None:
        if client is None and not url:
            raise ValueError("RedisStateStore: give url or client")
        self._owns_client = client is None
        self._redis: Redis = (
            client
            if client is not None
            else Redis.from_url(
                url, decode_responses=True, socket_timeout=5.0, socket_connect_timeout=5.0
            )
        )
        self._prefix = prefix
        self._expire_if = self._redis.register_script(_EXPIRE_IF)
        self._delete_if = self._redis.register_script(_DELETE_IF)
        self._hit = self._redis.register_script(_HIT)
        self._acquire = self._redis.register_script(_ACQUIRE)
        self._refresh = self._redis.register_script(_REFRESH)
        self._count = self._redis.register_script(_COUNT)

    def __repr__(self) -> str:
        return f"RedisStateStore(prefix={self._prefix!r})"

    @property
    def client(self) -> Redis:
        """The redis-py client (issue 15's registry extensions share it)."""
        return self._redis

    def _v(self, key: str) -> str:
        return f"{self._prefix}v:{key}"

    async def _call(self, what: str, op: Awaitable[Any]) -> Any:
        try:
            return await op
        except RedisError as exc:
            raise ProviderError(f"redis: {what} failed: {type(exc).__name__}: {exc}") from exc

    async def _run(self, script: AsyncScript, key: str, args: Sequence[str | int]) -> int:
        result = await self._call("script", script(keys=[key], args=list(args)))
        return int(result)

    # ------------------------------------------------------------------ values

    async def put_if_absent(self, key: str, value: str, *, ttl_s: float) -> bool:
        op = cast(Awaitable[Any], self._redis.set(self._v(key), value, nx=True, px=_ms(ttl_s)))
        return bool(await self._call("SET NX", op))

    async def get(self, key: str) -> str | None:
        op = cast(Awaitable[Any], self._redis.get(self._v(key)))
        value = await self._call("GET", op)
        return None if value is None else str(value)

    async def take(self, key: str) -> str | None:
        op = cast(Awaitable[Any], self._redis.getdel(self._v(key)))
        value = await self._call("GETDEL", op)
        return None if value is None else str(value)

    async def expire_if(self, key: str, value: str, *, ttl_s: float) -> bool:
        return await self._run(self._expire_if, self._v(key), [value, _ms(ttl_s)]) == 1

    async def delete_if(self, key: str, value: str) -> bool:
        return await self._run(self._delete_if, self._v(key), [value]) == 1

    # ------------------------------------------------------------------ counters

    async def hit(self, key: str, *, limit: int, window_s: float) -> float:
        member = secrets.token_hex(8)
        wait_ms = await self._run(
            self._hit, f"{self._prefix}w:{key}", [limit, _ms(window_s), member]
        )
        return wait_ms / 1000.0

    # ------------------------------------------------------------------ slots

    async def acquire_slot(self, key: str, holder: str, *, limit: int, ttl_s: float) -> bool:
        args: list[str | int] = [holder, limit, _ms(ttl_s)]
        return await self._run(self._acquire, f"{self._prefix}s:{key}", args) == 1

    async def refresh_slot(self, key: str, holder: str, *, ttl_s: float) -> bool:
        return await self._run(self._refresh, f"{self._prefix}s:{key}", [holder, _ms(ttl_s)]) == 1

    async def release_slot(self, key: str, holder: str) -> None:
        op = cast(Awaitable[Any], self._redis.zrem(f"{self._prefix}s:{key}", holder))
        await self._call("ZREM", op)

    async def count_slots(self, key: str) -> int:
        return await self._run(self._count, f"{self._prefix}s:{key}", [])

    async def aclose(self) -> None:
        """Close the connection pool (when this store made the client)."""
        if self._owns_client:
            await self._redis.aclose()
