"""Route installers: how other parts of the project add routes to the one web server.

A route installer is a callable ``(app: aiohttp.web.Application) -> None`` that adds
routes (and, if it needs them, ``on_startup``/``on_cleanup`` hooks) to the application
built by :func:`omnivoice_rtc.web.create_app`. The carrier webhooks and media
WebSockets are installed this way, so their module never edits the web server's code.

Installers find the shared settings at ``app[SETTINGS_KEY]`` and the Prometheus
registry at ``app[METRICS_KEY].registry`` (see :mod:`omnivoice_rtc.web.app`).

Two ways to hand installers to the server:

* pass them to ``create_app(settings, route_installers=[...])`` (tests, embedding);
* register them by name in :data:`route_installers` (the process-wide registry the
  CLI and ``python -m omnivoice_rtc.web`` use), or name them as ``module:attribute``
  specs on the command line (``--routes``) or in ``OMNIVOICE_WEB_ROUTES``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable

from aiohttp import web

from omnivoice_rtc._errors import ConfigError

__all__ = ["RouteInstaller", "RouteInstallerRegistry", "load_route_installer", "route_installers"]

RouteInstaller = Callable[[web.Application], None]
"""Adds routes to the web application; called once, before the app starts."""


def load_route_installer(spec: str, *, setting: str = "--routes") -> RouteInstaller:
    """Import ``"package.module:attribute"`` and return the callable it names.

    ``setting`` names where the spec came from (for the error message). Raises
    :class:`ConfigError` when the spec is malformed, the module cannot be imported,
    or the attribute is missing or not callable.
    """
    module_name, sep, attribute = spec.strip().partition(":")
    if not sep or not module_name or not attribute:
        raise ConfigError(f"{setting}: expected 'package.module:function', got {spec!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"{setting}: cannot import module {module_name!r}: {exc}") from exc
    installer = getattr(module, attribute, None)
    if installer is None or not callable(installer):
        raise ConfigError(f"{setting}: {module_name!r} has no callable {attribute!r}")
    return installer  # type: ignore[no-any-return]  # reason: checked callable above; the (app) -> None shape is the documented contract


class RouteInstallerRegistry:
    """Named route installers, applied in registration order."""

    def __init__(self) -> None:
        self._installers: dict[str, RouteInstaller] = {}

    def register(self, name: str, installer: RouteInstaller) -> None:
        """Add ``installer`` under ``name``; ValueError if ``name`` is already taken."""
        if not name or not name.strip():
            raise ValueError("route installer name must not be empty")
        if name in self._installers:
            raise ValueError(f"route installer {name!r} is already registered")
        if not callable(installer):
            raise TypeError(f"route installer {name!r} is not callable")
        self._installers[name] = installer

    def unregister(self, name: str) -> None:
        """Remove ``name``; KeyError if it was never registered."""
        del self._installers[name]

    def register_specs(self, specs: Iterable[str], *, setting: str = "--routes") -> None:
        """Load and register each ``module:attribute`` spec under its own spec string."""
        for spec in specs:
            spec = spec.strip()
            if spec and spec not in self._installers:
                self.register(spec, load_route_installer(spec, setting=setting))

    def names(self) -> tuple[str, ...]:
        return tuple(self._installers)

    def installers(self) -> tuple[RouteInstaller, ...]:
        return tuple(self._installers.values())

    def __contains__(self, name: object) -> bool:
        return name in self._installers

    def __len__(self) -> int:
        return len(self._installers)


route_installers = RouteInstallerRegistry()
"""The process-wide registry used by ``python -m omnivoice_rtc.web`` and the CLI."""
