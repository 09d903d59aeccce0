"""The one reader of carrier webhook requests: bounded, strict, never a traceback.

:func:`read_webhook` turns an aiohttp request into a neutral
:class:`~omnivoice_rtc.carriers.profile.WebhookRequest`, refusing with
:class:`~omnivoice_rtc.RequestError` (answered as that status, a plain-text reason):

* a body over :data:`MAX_BODY_BYTES` (413), a Content-Type other than a form or JSON (415);
* a form that is not UTF-8 or has more than :data:`MAX_FIELDS` fields (400);
* a header, query or form value that is not UTF-8 (400), or longer than
  :data:`MAX_VALUE_CHARS` (400);

and :func:`check_call` refuses a parsed call whose id, caller or callee is longer than
:data:`MAX_PARTY_CHARS` or holds control characters (400), whatever the carrier's format
(form, query or JSON). Oversized request lines and headers never reach here: aiohttp
answers them with 400 itself (8190 bytes per line). JSON bodies are parsed by the carrier's
profile (``webhook_json``: deep nesting and over-long numbers are a ValueError, 400).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Final
from urllib.parse import parse_qsl

from aiohttp import web

from omnivoice_rtc._errors import RequestError
from omnivoice_rtc.carriers.profile import WebhookAnswer, WebhookRequest
from omnivoice_rtc.types import CallInfo

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_FIELDS",
    "MAX_PARTY_CHARS",
    "MAX_VALUE_CHARS",
    "check_call",
    "plain_answer",
    "read_webhook",
    "refusal_response",
]

logger = logging.getLogger(__name__)

MAX_BODY_BYTES: Final = 64 * 1024
"""Largest webhook body (bytes); carriers send a few KiB."""
MAX_FIELDS: Final = 200
"""Most form or query fields in one webhook."""
MAX_VALUE_CHARS: Final = 4096
"""Longest header, query or form value (characters)."""
MAX_PARTY_CHARS: Final = 256
"""Longest call id, caller or callee (characters): a SIP URI fits, an attack does not."""

_FORM: Final = "application/x-www-form-urlencoded"
_JSON_TYPES: Final = ("application/json", "text/json")


def _utf8(where: str, value: str) -> str:
    """``value`` if it came as UTF-8 (aiohttp keeps other bytes as surrogate escapes)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise RequestError(f"{where}: not UTF-8") from None
    if len(value) > MAX_VALUE_CHARS:
        raise RequestError(f"{where}: longer than {MAX_VALUE_CHARS} characters")
    return value


def _check_pairs(where: str, pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    if len(pairs) > MAX_FIELDS:
        raise RequestError(f"{where}: more than {MAX_FIELDS} fields")
    return [(_utf8(f"{where} field", k), _utf8(f"{where} field {k!r}", v)) for k, v in pairs]


def _check_headers(headers: Mapping[str, str]) -> None:
    for name, value in headers.items():
        _utf8(f"header {name!r}", name)
        _utf8(f"header {name!r}", value)


async def _body(request: web.Request) -> bytes:
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise RequestError(f"body: larger than {MAX_BODY_BYTES} bytes", status=413)
    raw = await request.content.read(MAX_BODY_BYTES + 1)
    if len(raw) > MAX_BODY_BYTES:
        raise RequestError(f"body: larger than {MAX_BODY_BYTES} bytes", status=413)
    return raw


def _form(raw: bytes) -> dict[str, str]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise RequestError("form: not UTF-8") from None
    try:
        pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FIELDS, errors="strict")
    except UnicodeDecodeError:
        raise RequestError("form: a percent-encoded value is not UTF-8") from None
    except ValueError:
        raise RequestError(f"form: more than {MAX_FIELDS} fields") from None
    return dict(_check_pairs("form", pairs))


async def read_webhook(request: web.Request, *, url: str) -> WebhookRequest:
    """The webhook as received (see the module docstring); ``url`` is the public URL the
    carrier requested (what it signed)."""
    _check_headers(request.headers)
    query = _check_pairs("query", list(request.query.items()))
    raw = await _body(request) if request.body_exists else b""
    form: dict[str, str] = {}
    if raw and request.method == "POST":
        if request.content_type == _FORM:
            form = _form(raw)
        elif request.content_type not in _JSON_TYPES:
            raise RequestError(
                f"Content-Type must be {_FORM} or application/json, got {request.content_type!r}",
                status=415,
            )
    return WebhookRequest(
        method=request.method,
        url=url,
        headers=request.headers,
        query=query,
        form=form,
        raw_body=raw,
    )


def check_call(call: CallInfo) -> None:
    """RequestError(400) when the call id, caller or callee is over-long or not printable."""
    for name, value in (("call id", call.call_id), ("from", call.from_), ("to", call.to)):
        if len(value) > MAX_PARTY_CHARS:
            raise RequestError(f"{call.carrier}: {name} longer than {MAX_PARTY_CHARS} characters")
        if not value.isprintable():
            raise RequestError(f"{call.carrier}: {name} holds control characters")


def plain_answer(status: int, text: str) -> WebhookAnswer:
    """A ``text/plain`` answer (refusals and errors)."""
    return WebhookAnswer(status=status, content_type="text/plain", body=text)


def refusal_response(carrier: str, status: int, text: str, retry_after_s: float) -> web.Response:
    """A refused webhook, logged; 429/503 carry ``Retry-After`` (whole seconds, >= 1)."""
    logger.info("webhook refused", extra={"carrier": carrier, "status": status, "reason": text})
    response = web.Response(status=status, text=text)
    if status in (429, 503):
        response.headers["Retry-After"] = str(max(1, math.ceil(retry_after_s)))
    return response
