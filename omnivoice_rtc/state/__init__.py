"""Shared call-setup state: one-time tokens, replay caches, rate-limit counters, counted
slots and the live-call registry, in this process's memory or in Redis.

:class:`StateStore` (:mod:`.store`) is the protocol; :class:`MemoryStateStore` the
single-process default; :class:`RedisStateStore` what replicas share
(``OMNIVOICE_REDIS_URL``); :class:`LiveCallRegistry` which replica owns which live call.
:func:`state_store_from_settings` picks one from the settings tree.
"""

from __future__ import annotations

from omnivoice_rtc.settings.limits import StateSettings
from omnivoice_rtc.state.call_registry import LiveCallRegistry, new_replica_id
from omnivoice_rtc.state.memory import MemoryStateStore
from omnivoice_rtc.state.redis_store import RedisStateStore
from omnivoice_rtc.state.store import StateStore

__all__ = [
    "LiveCallRegistry",
    "MemoryStateStore",
    "RedisStateStore",
    "StateStore",
    "new_replica_id",
    "state_store_from_settings",
]


def state_store_from_settings(state: StateSettings) -> StateStore:
    """Redis at ``OMNIVOICE_REDIS_URL`` when set, else a bounded memory store
    (``OMNIVOICE_STATE_MAX_KEYS``)."""
    if state.redis_url:
        return RedisStateStore(url=state.redis_url)
    return MemoryStateStore(max_keys=state.max_keys)
