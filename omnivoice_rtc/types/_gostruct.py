"""A dataclass mixin that maps fields to Go JSON keys, symmetric in both directions.

Each field declares its Go key with :func:`go_field`. Scalars are type-checked on
parse; nested values use the ``encode``/``decode`` hooks. ``omitempty`` follows Go:
the key is left out when the value is the zero value ("", 0, empty list/dict, None).

Reading never refuses a value Go can write. ``go_default`` is the value Go documents
for a field's zero value (``WebRTCConfig.SampleRate`` 0 means 24000): a zero read from
JSON becomes it. Every other value is kept as received, even one a Python caller may
not pass: ``__post_init__`` checks arguments only when :func:`parsing` is false, so
``Turn(role="robot")`` raises while ``Turn.from_dict({"role": "robot"})`` keeps it.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, ClassVar, Self

from omnivoice_rtc._gojson import expect_type

Encoder = Callable[[Any], Any]
Decoder = Callable[[Any, str], Any]

_PARSING: ContextVar[bool] = ContextVar("omnivoice_gostruct_parsing", default=False)


def parsing() -> bool:
    """True while :meth:`GoStruct.from_dict` builds a value (keep what Go wrote, do not
    validate it); False for a Python caller's constructor call (validate its arguments)."""
    return _PARSING.get()


def go_field(
    key: str,
    *,
    kind: type | tuple[type, ...] | None = None,
    omitempty: bool = False,
    encode: Encoder | None = None,
    decode: Decoder | None = None,
    default: Any = dataclasses.MISSING,
    default_factory: Callable[[], Any] | Any = dataclasses.MISSING,
    go_default: Any = None,
    encode_none: bool = False,
    compare: bool = True,
) -> Any:
    """Declare a dataclass field that serializes under the Go JSON key ``key``.

    ``go_default``: what a zero value read from JSON stands for, where Go documents it.
    ``encode_none``: pass None to ``encode`` too (otherwise None is written as null).
    """
    metadata = {
        "go": key,
        "kind": kind,
        "omitempty": omitempty,
        "encode": encode,
        "decode": decode,
        "go_default": go_default,
        "encode_none": encode_none,
    }
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(
            default_factory=default_factory, metadata=metadata, kw_only=True, compare=compare
        )
    return dataclasses.field(default=default, metadata=metadata, kw_only=True, compare=compare)


def go_inline(factory: Callable[[], Any]) -> Any:
    """Declare a nested GoStruct whose keys are flattened into the parent's JSON.

    Used to group related Go fields (STT*, TTS*, …) into small option dataclasses
    while keeping the Go struct's flat JSON shape.
    """
    return dataclasses.field(default_factory=factory, metadata={"inline": True}, kw_only=True)


def _is_zero(value: Any) -> bool:
    return value is None or value == "" or value == 0 or value in ([], (), {})


class GoStruct:
    """Mixin for dataclasses whose JSON form is a Go struct's."""

    __go_name__: ClassVar[str] = ""

    def to_dict(self) -> dict[str, Any]:
        """Return the Go-shaped JSON object (keys exactly as Go's encoding/json writes)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]  # reason: mixin only used on dataclasses
            meta = f.metadata
            if meta.get("inline"):
                out.update(getattr(self, f.name).to_dict())
                continue
            if "go" not in meta:
                continue
            value = getattr(self, f.name)
            if meta["omitempty"] and _is_zero(value):
                continue
            enc = meta["encode"]
            if enc is not None and (value is not None or meta["encode_none"]):
                value = enc(value)
            elif isinstance(value, float) and value.is_integer():
                value = int(value)  # Go writes float64 2.0 as 2
            out[meta["go"]] = value
        return out

    @classmethod
    def from_dict(cls, data: Any) -> Self:
        """Parse the Go-shaped JSON object; raises ValueError naming the bad key.

        Only a JSON type Go could not have written for the field (a string for an int, a
        list for a struct) raises; zero values and unlisted enum values are kept, zeros
        with a documented Go default become that default.
        """
        token = _PARSING.set(True)
        try:
            return cls._from_go(data)
        finally:
            _PARSING.reset(token)

    @classmethod
    def _from_go(cls, data: Any) -> Self:
        owner = cls.__go_name__ or cls.__name__
        if not isinstance(data, dict):
            raise ValueError(f"{owner}: expected a JSON object, got {type(data).__name__}")
        kwargs: dict[str, Any] = {}
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]  # reason: mixin only used on dataclasses
            meta = f.metadata
            if meta.get("inline"):
                factory = f.default_factory
                if not callable(factory):
                    raise TypeError(f"{owner}.{f.name}: inline field needs a default_factory")
                kwargs[f.name] = type(factory()).from_dict(data)
                continue
            key = meta.get("go")
            if key is None or key not in data:
                continue
            raw = data[key]
            if raw is None:
                continue
            if meta["decode"] is not None:
                value = meta["decode"](raw, f"{owner}.{key}")
            elif meta["kind"] is not None:
                value = expect_type(data, key, meta["kind"], owner=owner)
            else:
                value = raw
            if meta["go_default"] is not None and _is_zero(value):
                value = meta["go_default"]
            kwargs[f.name] = value
        return cls(**kwargs)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> Self:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{cls.__go_name__ or cls.__name__}: invalid JSON: {exc.msg}") from exc
        return cls.from_dict(data)
