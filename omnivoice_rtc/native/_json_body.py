"""Typed reads of the JSON objects carried by native wire messages (see :mod:`.wire`).

Every error names the message and the field at fault, e.g.
``"dtmf message: digit must be a string, got int"`` or ``"join message: url is missing"``.
Go writes ``null`` for a nil map or slice: those read as empty.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = ["JsonBody", "dump_json"]


def dump_json(obj: Mapping[str, Any]) -> bytes:
    """Compact JSON (ASCII, UTF-8 bytes), keys in the order given."""
    return json.dumps(obj, separators=(",", ":")).encode()


class JsonBody:
    """One JSON object of message ``name``, read field by field."""

    __slots__ = ("_data", "_name")

    def __init__(self, name: str, data: Any) -> None:
        if not isinstance(data, dict):
            raise ValueError(f"{name} message: expected a JSON object, got {type(data).__name__}")
        self._name = name
        self._data: dict[str, Any] = data

    @classmethod
    def of(cls, name: str, payload: bytes) -> JsonBody:
        """Parse ``payload`` (UTF-8 JSON object)."""
        try:
            data = json.loads(payload)
        except UnicodeDecodeError:
            raise ValueError(f"{name} message: payload is not UTF-8") from None
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"{name} message: invalid JSON: {exc.msg} at position {exc.pos}"
            ) from None
        return cls(name, data)

    def _get(self, key: str) -> Any:
        if key not in self._data:
            raise ValueError(f"{self._name} message: {key} is missing")
        return self._data[key]

    def _wrong(self, key: str, what: str, value: Any) -> ValueError:
        return ValueError(f"{self._name} message: {key} must be {what}, got {type(value).__name__}")

    def text(self, key: str) -> str:
        """A required string."""
        value = self._get(key)
        if not isinstance(value, str):
            raise self._wrong(key, "a string", value)
        return value

    def integer(self, key: str) -> int:
        """A required integer (not a bool)."""
        value = self._get(key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._wrong(key, "an integer", value)
        return value

    def text_map(self, key: str) -> dict[str, str]:
        """An object of strings; missing or ``null`` is empty."""
        value = self._data.get(key)
        if value is None:
            return {}
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise self._wrong(key, "an object of strings", value)
        return dict(value)

    def text_list(self, key: str) -> tuple[str, ...]:
        """A list of strings; missing or ``null`` is empty."""
        value = self._data.get(key)
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self._wrong(key, "a list of strings", value)
        return tuple(value)

    def objects(self, key: str) -> list[JsonBody]:
        """A list of objects (each read as ``"<name> <key>"``); missing or ``null`` is empty."""
        value = self._data.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self._wrong(key, "a list", value)
        return [JsonBody(f"{self._name} {key}", item) for item in value]
