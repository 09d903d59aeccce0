"""Declarative environment variables: a settings dataclass names its variables once.

A field declared with :func:`var` carries its variable's name, default, bounds and
documentation; :func:`load` reads a whole dataclass from an injected mapping. Every
problem raises :class:`~omnivoice_rtc.ConfigError` whose message starts with the
variable's name, e.g. ``OMNIVOICE_WEB_PORT: must be an integer between 1 and 65535, got 'abc'``.
Nothing here touches ``os.environ``: the mapping is always passed in
(:meth:`omnivoice_rtc.settings.Settings.from_env` is the one place that reads it).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

from omnivoice_rtc._errors import ConfigError

__all__ = [
    "EnvVar",
    "check_url",
    "env_bool",
    "env_int",
    "env_str",
    "env_vars",
    "exact",
    "load",
    "var",
]

T = TypeVar("T")

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


@dataclass(frozen=True, slots=True, kw_only=True)
class EnvVar:
    """One environment variable: its name, how to parse it, what it means."""

    name: str
    doc: str
    kind: type = str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    secret: bool = False
    """Kept out of ``repr`` (keys, tokens, passwords)."""
    keep_whitespace: bool = False
    """Hand the value to ``parse`` unstripped (to refuse surrounding whitespace)."""
    parse: Callable[[str, str], Any] | None = None
    """Custom parser ``(name, value) -> value`` (raises ConfigError naming ``name``)."""

    def read(self, env: Mapping[str, str], default: Any) -> Any:
        raw = env.get(self.name, "")
        text = raw if self.keep_whitespace else raw.strip()
        if not text.strip():
            return default
        if self.parse is not None:
            return self.parse(self.name, text)
        if self.kind is bool:
            return env_bool(env, self.name, bool(default))
        if self.kind is int:
            return _bounded(self.name, _int(self.name, text, self), self)
        if self.kind is float:
            return _bounded(self.name, _float(self.name, text, self), self)
        if self.choices:
            lowered = text.lower()
            if lowered not in self.choices:
                raise ConfigError(
                    f"{self.name}: must be one of {', '.join(self.choices)}; got {text!r}"
                )
            return lowered
        return text


def _range_text(v: EnvVar) -> str:
    kind = "an integer" if v.kind is int else "a number"
    if v.minimum is not None and v.maximum is not None:
        return f"must be {kind} between {v.minimum:g} and {v.maximum:g}"
    if v.minimum is not None:
        return f"must be {kind} >= {v.minimum:g}"
    return f"must be {kind}"


def _int(name: str, text: str, v: EnvVar) -> int:
    try:
        return int(text)
    except ValueError:
        raise ConfigError(f"{name}: {_range_text(v)}, got {text!r}") from None


def _float(name: str, text: str, v: EnvVar) -> float:
    try:
        return float(text)
    except ValueError:
        raise ConfigError(f"{name}: {_range_text(v)}, got {text!r}") from None


def _bounded(name: str, value: T, v: EnvVar) -> T:
    number = float(value)  # type: ignore[arg-type]  # reason: only int/float reach here
    low_ok = v.minimum is None or number >= v.minimum
    high_ok = v.maximum is None or number <= v.maximum
    if not (low_ok and high_ok):
        raise ConfigError(f"{name}: {_range_text(v)}, got {value!r}")
    return value


def var(
    name: str,
    default: Any = dataclasses.MISSING,
    *,
    doc: str,
    kind: type = str,
    minimum: float | None = None,
    maximum: float | None = None,
    choices: tuple[str, ...] = (),
    secret: bool = False,
    keep_whitespace: bool = False,
    parse: Callable[[str, str], Any] | None = None,
    default_factory: Callable[[], Any] | Any = dataclasses.MISSING,
) -> Any:
    """A dataclass field read from environment variable ``name`` by :func:`load`."""
    meta = {
        "env": EnvVar(
            name=name,
            doc=doc,
            kind=kind,
            minimum=minimum,
            maximum=maximum,
            choices=choices,
            secret=secret,
            keep_whitespace=keep_whitespace,
            parse=parse,
        )
    }
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=meta, repr=not secret)
    return dataclasses.field(default=default, metadata=meta, repr=not secret)


def env_vars(cls: type) -> Iterator[tuple[dataclasses.Field[Any], EnvVar]]:
    """The fields of dataclass ``cls`` declared with :func:`var`."""
    for f in dataclasses.fields(cls):
        spec = f.metadata.get("env")
        if isinstance(spec, EnvVar):
            yield f, spec


def _default_of(f: dataclasses.Field[Any]) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    raise TypeError(f"field {f.name} needs a default to be read from the environment")


def load(cls: type[T], env: Mapping[str, str], **overrides: Any) -> T:
    """Build dataclass ``cls`` from ``env``: every :func:`var` field from its variable
    (its default when unset or blank); ``overrides`` win; other fields keep defaults.
    The class's own ``__post_init__`` checks still run (their ValueError becomes
    ConfigError)."""
    kwargs: dict[str, Any] = {}
    for f, spec in env_vars(cls):
        if f.name not in overrides:
            kwargs[f.name] = spec.read(env, _default_of(f))
    kwargs.update(overrides)
    try:
        return cls(**kwargs)
    except ConfigError:
        raise
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


# ------------------------------------------------------------------ plain readers


def env_str(env: Mapping[str, str], name: str, default: str) -> str:
    """Return ``env[name]`` stripped, or ``default`` when unset or blank."""
    value = env.get(name, "").strip()
    return value or default


def env_int(env: Mapping[str, str], name: str, default: int, *, minimum: int, maximum: int) -> int:
    """Return ``env[name]`` as an int in ``[minimum, maximum]``; ConfigError names ``name``."""
    spec = EnvVar(name=name, doc="", kind=int, minimum=minimum, maximum=maximum)
    value: int = spec.read(env, default)
    return value


def env_bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    """``1/true/yes/on`` or ``0/false/no/off`` (any case); ConfigError otherwise."""
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ConfigError(f"{name}: must be true or false (1/0, yes/no, on/off), got {raw!r}")


def exact(name: str, raw: str) -> str:
    """A value taken as is, refusing surrounding whitespace (a pasted key's newline)."""
    if raw != raw.strip():
        raise ConfigError(f"{name}: must not start or end with whitespace")
    return raw


def check_url(name: str, value: str, schemes: tuple[str, ...]) -> str:
    """``value`` if it is a URL of one of ``schemes`` with a host; ConfigError names ``name``."""
    parts = urlsplit(value)
    if parts.scheme not in schemes or not parts.hostname:
        raise ConfigError(f"{name}: must be a {'/'.join(schemes)} URL with a host, got {value!r}")
    return value
