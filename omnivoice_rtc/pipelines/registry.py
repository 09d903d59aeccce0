"""Registry of realtime (voice-to-voice) providers, by name.

A provider is a :class:`~omnivoice_rtc.types.RealtimeProviderFactory`: an object with a
``name`` and a ``create(config)`` that returns a livekit-agents ``llm.RealtimeModel``.
The built-ins ``openai`` (OpenAI Realtime) and ``gemini`` (Gemini Live) are registered
when this module is imported; users add their own with :func:`register_realtime_provider`::

    class MyFactory:
        name = "acme"

        def create(self, config: RealtimeConfig) -> llm.RealtimeModel:
            return AcmeRealtimeModel(api_key=config.api_key)

    register_realtime_provider(MyFactory())
    build_realtime(RealtimeConfig(provider="acme", api_key="..."))

An unknown name raises :class:`~omnivoice_rtc.ConfigError` naming the setting
(``RealtimeConfig.provider`` / ``OMNIVOICE_REALTIME_PROVIDER``) and the known names.
"""

from __future__ import annotations

import threading

from omnivoice_rtc._errors import ConfigError
from omnivoice_rtc.types.protocols import RealtimeProviderFactory

__all__ = [
    "get_realtime_provider",
    "realtime_provider_names",
    "register_realtime_provider",
    "unregister_realtime_provider",
]

_lock = threading.Lock()
_factories: dict[str, RealtimeProviderFactory] = {}


def _normalize(name: str) -> str:
    return name.strip().lower()


def register_realtime_provider(factory: RealtimeProviderFactory, *, replace: bool = False) -> None:
    """Register ``factory`` under ``factory.name`` (case-insensitive).

    Raises ValueError if the name is empty, if the object lacks ``name``/``create``, or
    if the name is already taken and ``replace`` is false.
    """
    if not isinstance(factory, RealtimeProviderFactory):
        raise TypeError(
            "register_realtime_provider: expected an object with a 'name' and a "
            f"'create(config)' method, got {type(factory).__name__}"
        )
    key = _normalize(factory.name)
    if not key:
        raise ValueError("register_realtime_provider: factory.name must not be empty")
    with _lock:
        if key in _factories and not replace:
            raise ValueError(
                f"register_realtime_provider: a provider named {key!r} is already registered "
                "(pass replace=True to override it)"
            )
        _factories[key] = factory


def unregister_realtime_provider(name: str) -> None:
    """Remove the provider registered under ``name``; no error if there is none."""
    with _lock:
        _factories.pop(_normalize(name), None)


def realtime_provider_names() -> list[str]:
    """The registered provider names, sorted."""
    _ensure_builtins()
    with _lock:
        return sorted(_factories)


def get_realtime_provider(name: str) -> RealtimeProviderFactory:
    """Return the factory registered under ``name``.

    Raises ConfigError naming ``RealtimeConfig.provider`` (env ``OMNIVOICE_REALTIME_PROVIDER``)
    when no provider has that name.
    """
    _ensure_builtins()
    key = _normalize(name)
    with _lock:
        factory = _factories.get(key)
        known = sorted(_factories)
    if factory is None:
        raise ConfigError(
            "RealtimeConfig.provider (OMNIVOICE_REALTIME_PROVIDER): unknown realtime provider "
            f"{name!r}; known providers: {', '.join(known)}"
        )
    return factory


_builtins_loaded = False


def _ensure_builtins() -> None:
    """Register the built-in factories once (lazily, to keep imports cheap)."""
    global _builtins_loaded
    if _builtins_loaded:
        return
    from omnivoice_rtc.pipelines.realtime import GeminiRealtimeFactory, OpenAIRealtimeFactory

    with _lock:
        for factory in (OpenAIRealtimeFactory(), GeminiRealtimeFactory()):
            _factories.setdefault(factory.name, factory)
        _builtins_loaded = True
