"""WebhookAnswerer: one carrier gateway's answer webhook, from request to answer markup.

The signature is checked first (403 and nothing created on failure); then the input
(:mod:`.webhook_body`), the account's quota and the replay keys; a new call is claimed
once (a second webhook offering an answered call gets the carrier's ``already_answered``
answer and no token), the ``on_call`` handler decides (not for a call we dialled:
``?pending=``, :mod:`.carrier_dialler`), and the answer carries a one-time stream token
and the ``wss://`` media URL.

Answers: 403 bad signature/credentials or a replay, 400 unparseable or hostile input,
409 (per carrier) a call already answered, 413/415 body too large / not a form or JSON,
429 a rate limit (Retry-After), 503 a carrier setting missing (the message names the
variable; nothing created), a stream limit reached or shared state unreachable, 502 the
carrier's REST API failed, 200 otherwise. Before these, the gateway answers 503 when it
is not started or is draining (:meth:`.MediaStreamGateway.handle_webhook`).
"""

from __future__ import annotations

import inspect
import logging
from typing import Final
from urllib.parse import urlsplit

from aiohttp import web

from omnivoice_rtc._errors import (
    CallRejectedError,
    ConfigError,
    LimitError,
    ProviderError,
    ReplayError,
    RequestError,
    SignatureError,
)
from omnivoice_rtc._urls import ws_url_of
from omnivoice_rtc.carriers._common import CarrierRestError
from omnivoice_rtc.carriers.profile import WebhookAnswer, WebhookRequest
from omnivoice_rtc.carriers.registry import AnyProfile
from omnivoice_rtc.shim.carrier_dialler import OutboundDialler
from omnivoice_rtc.shim.carrier_paths import media_path
from omnivoice_rtc.shim.shim_runtime import ShimRuntime
from omnivoice_rtc.shim.webhook_body import (
    check_call,
    plain_answer,
    read_webhook,
    refusal_response,
)
from omnivoice_rtc.types import CallHandler, CallInfo

__all__ = ["WebhookAnswerer"]

# the gateway's logger: these records kept their logger name when the code moved here
logger = logging.getLogger("omnivoice_rtc.shim.media_stream_gateway")

_LOOPBACK_HOSTS: Final = ("127.0.0.1", "localhost", "::1")


class WebhookAnswerer:
    """Answers one carrier's webhooks (see the module docstring).

    ``public_base_url`` is the configured public URL ("" = none: a stream URL sent over
    the carrier's REST API then refuses); ``dialler`` knows the calls we dialled.
    ``handler`` is the gateway's ``on_call`` handler (None: every call is accepted)."""

    def __init__(
        self,
        *,
        profile: AnyProfile,
        runtime: ShimRuntime,
        public_base_url: str,
        dialler: OutboundDialler,
    ) -> None:
        self.profile = profile
        self.runtime = runtime
        self._outbound_base = public_base_url
        self._dialler = dialler
        self.handler: CallHandler | None = None

    @property
    def carrier(self) -> str:
        return self.profile.name

    async def handle_webhook(self, request: web.Request) -> web.Response:
        """The answer webhook of a started gateway: rate limit, read (bounded), verify, ask
        the handler, answer with markup or reject (see the module docstring)."""
        guard = self.runtime.guard
        client = guard.client_of(request.remote, request.headers)
        try:
            await guard.admit_webhook(client)
            base = self.runtime.base_url(request)
            hook = await read_webhook(request, url=base + request.path_qs)
        except RequestError as exc:
            return refusal_response(self.carrier, exc.status, str(exc), exc.retry_after_s)
        except ProviderError as exc:  # shared state unreachable
            return refusal_response(self.carrier, 503, f"shared state unavailable: {exc}", 1)
        answer = await self.answer_webhook(hook, base_url=base, client=client)
        response = web.Response(
            status=answer.status, text=answer.body, content_type=answer.content_type
        )
        if answer.status in (429, 503) and answer.content_type == "text/plain":
            response.headers["Retry-After"] = "1"
        return response

    async def answer_webhook(
        self, hook: WebhookRequest, *, base_url: str, client: str = ""
    ) -> WebhookAnswer:
        """Answer one verified-or-not webhook (see :meth:`.MediaStreamGateway.answer_webhook`)."""
        carrier = self.carrier
        try:
            call = self.profile.verify(hook)
        except SignatureError as exc:
            logger.warning(
                "webhook signature rejected", extra={"carrier": carrier, "error": str(exc)}
            )
            return plain_answer(403, "invalid signature")
        except ValueError as exc:
            return plain_answer(400, str(exc))
        guard = self.runtime.guard
        account = self.profile.account_of(call)
        try:
            check_call(call)
            await guard.admit_account(carrier, account)
            claimed = await guard.claim_replay_keys(self.profile.replay_keys(hook, call))
            if not self.profile.is_new_call(call):
                return WebhookAnswer.json({})  # a status report on a call: nothing to decide
            answered = await guard.claim_answer(carrier, call.call_id)
        except RequestError as exc:
            return plain_answer(exc.status, str(exc))
        except ReplayError as exc:
            logger.warning("webhook replay refused", extra={"carrier": carrier, "what": exc.what})
            return plain_answer(403, "replayed request")
        except (LimitError, ProviderError) as exc:  # shared state full or unreachable
            return plain_answer(503, f"shared state unavailable: {exc}")
        if answered is None:
            logger.warning(
                "webhook for an answered call refused",
                extra={"carrier": carrier, "call_id": call.call_id},
            )
            await guard.forget(claimed)
            return self.profile.already_answered(call)
        pending = dict(hook.query).get("pending", "")
        answer = await self._answer_safely(call, pending, base_url, account or client)
        if answer.status >= 500:  # not answered after all: the carrier's retry may be
            await guard.forget([*claimed, answered])
        return answer

    async def _answer_safely(
        self, call: CallInfo, pending: str, base: str, source: str
    ) -> WebhookAnswer:
        try:
            return await self._answer(call, pending, base, source)
        except (ValueError, CarrierRestError, LimitError, ProviderError) as exc:
            logger.error(
                "call could not be answered",
                extra={"carrier": self.carrier, "call_id": call.call_id, "error": str(exc)},
            )
            status = 503 if isinstance(exc, ConfigError | LimitError | ProviderError) else 500
            status = 502 if isinstance(exc, CarrierRestError) else status
            return plain_answer(status, str(exc))

    def _stream_url(self, call: CallInfo, base: str) -> str:
        """The ``wss://`` URL the answer names; ConfigError when it could only be plain
        ``ws://`` to a non-loopback host. A URL sent to the carrier's REST API (Telnyx Call
        Control) comes from the configured public URL, never from the request's Host."""
        if self.profile.sends_stream_url_over_rest(call):
            if not self._outbound_base:
                raise ConfigError(
                    f"OMNIVOICE_PUBLIC_URL: required to answer {self.carrier} calls over REST "
                    "(the stream URL would otherwise come from the request's Host header)"
                )
            base = self._outbound_base.rstrip("/")
        ws_url = ws_url_of(base) + media_path(self.carrier)
        parts = urlsplit(ws_url)
        if parts.scheme == "ws" and (parts.hostname or "") not in _LOOPBACK_HOSTS:
            raise ConfigError(
                f"OMNIVOICE_PUBLIC_URL: the webhook came over plain http to {parts.hostname}; "
                "set the public https URL (stream URLs must be wss:// beyond this machine)"
            )
        return ws_url

    async def _answer(self, call: CallInfo, pending: str, base: str, source: str) -> WebhookAnswer:
        """Ask the handler (unless we dialled this call), then accept or reject it."""
        carrier = self.carrier
        self.profile.ensure_answerable(call)  # ConfigError before anything is created
        ws_url = self._stream_url(call, base)
        await self._dialler.purge_expired()
        tokens = self.runtime.tokens
        if pending and await self._dialler.is_dialled(pending):  # we dialled it (Plivo)
            token = await tokens.issue(
                pending, carrier, context={"direction": "outbound"}, source="outbound"
            )
        else:
            try:
                await self._ask_handler(call)
            except CallRejectedError as exc:
                logger.info("call rejected by handler", extra={"call_id": call.call_id})
                return await self.profile.reject(call, exc.reason)
            token = await tokens.issue(
                call.call_id,
                carrier,
                context={"from": call.from_, "to": call.to, "direction": call.direction},
                source=source,
            )
        return await self.profile.accept(call, ws_url=ws_url, token=token)

    async def _ask_handler(self, call: CallInfo) -> None:
        if self.handler is None:
            return
        result = self.handler(call)
        if inspect.isawaitable(result):
            await result
