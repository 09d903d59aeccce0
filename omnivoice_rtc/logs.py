"""Logging for every process: ``extra`` is always rendered, and personal data is redacted.

Log messages are fixed strings; what varies goes in ``extra`` (``call_id``, ``reason``,
counters...). Phone numbers, DTMF digits and transcripts go ONLY under keys starting with
:data:`PII_PREFIX` (``omnivoice.pii.from``, ``omnivoice.pii.digit``, ``omnivoice.pii.text``;
:func:`pii` builds them), and :class:`PiiFilter` replaces their values with
``[redacted]`` unless ``OMNIVOICE_LOG_PII=1`` (:class:`~omnivoice_rtc.settings.LogSettings`).

Two renderings (``OMNIVOICE_LOG_FORMAT``):

* ``plain``: ``2026-12-04 12:00:00,123 INFO omnivoice_rtc.shim: call ended call_id=CA1 reason=carrier_stop``
* ``json``: one JSON object per line: ``{"time", "level", "logger", "message", ...extra}``

:func:`configure_logging` sets up a process (the web server, the CLI). The agent worker
keeps livekit-agents' own handlers (which render ``extra`` too) and adds the filter with
:func:`install_pii_filter`.

Every line of a call carries its ``call_id`` (the ledger's record id): the code that
serves a call binds it once (:func:`bind_call_id`, a context variable, inherited by the
tasks it starts) and :class:`CallIdFilter` stamps it on each record that has none.
:func:`configure_logging` installs the filter; a process with someone else's handlers
(an agent job) adds it with :func:`install_call_id_filter`.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, Final, TextIO

from omnivoice_rtc.settings.core import LogSettings

__all__ = [
    "PII_PREFIX",
    "REDACTED",
    "CallIdFilter",
    "JsonLinesFormatter",
    "PiiFilter",
    "PlainFormatter",
    "bind_call_id",
    "configure_logging",
    "current_call_id",
    "install_call_id_filter",
    "install_pii_filter",
    "pii",
    "record_extra",
]

PII_PREFIX: Final = "omnivoice.pii."
REDACTED: Final = "[redacted]"

# Attributes every LogRecord has; anything else on a record came from ``extra``.
_STANDARD: Final = frozenset(
    vars(logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None))
) | {"message", "asctime", "taskName"}


def pii(**values: Any) -> dict[str, Any]:
    """``extra`` entries for personal data: ``pii(from_="+1555...")`` ->
    ``{"omnivoice.pii.from": "+1555..."}`` (a trailing ``_`` is dropped)."""
    return {PII_PREFIX + key.rstrip("_"): value for key, value in values.items()}


def record_extra(record: logging.LogRecord) -> dict[str, Any]:
    """The ``extra`` values of ``record`` (everything not standard, not private)."""
    return {
        key: value
        for key, value in vars(record).items()
        if key not in _STANDARD and not key.startswith("_")
    }


_CALL_ID: contextvars.ContextVar[str] = contextvars.ContextVar("omnivoice_call_id", default="")


def bind_call_id(call_id: str) -> contextvars.Token[str]:
    """Stamp ``call_id`` on every log line of this task and the tasks it starts from now
    on; returns the token that undoes it (``_CALL_ID.reset``)."""
    return _CALL_ID.set(call_id)


def current_call_id() -> str:
    """The call id bound in this context ("" when none)."""
    return _CALL_ID.get()


class CallIdFilter(logging.Filter):
    """Adds ``call_id`` (the bound one) to records that do not carry one (never drops)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "call_id"):
            call_id = _CALL_ID.get()
            if call_id:
                record.call_id = call_id
        return True


class PiiFilter(logging.Filter):
    """Replaces the values of ``omnivoice.pii.*`` extras with ``[redacted]`` unless
    ``show`` (never drops a record)."""

    def __init__(self, *, show: bool = False) -> None:
        super().__init__()
        self.show = show

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.show:
            for key in list(vars(record)):
                if key.startswith(PII_PREFIX):
                    setattr(record, key, REDACTED)
        return True


def _plain_value(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    if not text or any(c.isspace() or c in '"=' for c in text):
        return json.dumps(text)
    return text


class PlainFormatter(logging.Formatter):
    """``time LEVEL logger: message key=value ...`` (values with spaces are quoted)."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extra = record_extra(record)
        if not extra:
            return line
        head, sep, tail = line.partition("\n")  # keep a traceback below the fields
        fields = " ".join(f"{key}={_plain_value(value)}" for key, value in extra.items())
        return f"{head} {fields}{sep}{tail}"


class JsonLinesFormatter(logging.Formatter):
    """One JSON object per record: time (RFC 3339, UTC), level, logger, message, extras."""

    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        body.update(record_extra(record))
        if record.exc_info:
            body["exception"] = self.formatException(record.exc_info)
        return json.dumps(body, default=str, ensure_ascii=False)


def _formatter(settings: LogSettings) -> logging.Formatter:
    return JsonLinesFormatter() if settings.format == "json" else PlainFormatter()


def configure_logging(
    settings: LogSettings, *, stream: TextIO | None = None, level: str | None = None
) -> logging.Handler:
    """One root handler with the chosen format and the PII filter; replaces handlers a
    previous call installed. ``level`` overrides ``settings.level`` (e.g. a ``--log-level``
    flag). Returns the handler."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_omnivoice", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler._omnivoice = True  # type: ignore[attr-defined]  # reason: marks our own handler
    handler.setFormatter(_formatter(settings))
    handler.addFilter(PiiFilter(show=settings.pii))
    handler.addFilter(CallIdFilter())
    root.addHandler(handler)
    root.setLevel((level or settings.level).upper())
    return handler


def install_pii_filter(settings: LogSettings, *, logger: logging.Logger | None = None) -> int:
    """Add the PII filter to every handler of ``logger`` (default: root) that lacks one;
    returns how many handlers got it. For processes whose handlers someone else set up."""
    target = logger or logging.getLogger()
    added = 0
    for handler in target.handlers:
        if not any(isinstance(f, PiiFilter) for f in handler.filters):
            handler.addFilter(PiiFilter(show=settings.pii))
            added += 1
    return added


def install_call_id_filter(*, logger: logging.Logger | None = None) -> int:
    """Add :class:`CallIdFilter` to every handler of ``logger`` (default: root) that lacks
    one; returns how many got it. Run it in the process that serves calls (an agent job:
    its records are stamped before they are forwarded)."""
    target = logger or logging.getLogger()
    added = 0
    for handler in target.handlers:
        if not any(isinstance(f, CallIdFilter) for f in handler.filters):
            handler.addFilter(CallIdFilter())
            added += 1
    return added
