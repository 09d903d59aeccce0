"""LiveKit's own webhooks, received by the web server and handed to subscribers.

livekit-server POSTs ``room_started``, ``room_finished``, ``participant_joined``,
``participant_left`` (and more) to every URL of its ``webhook.urls`` (livekit.yaml; the
dev stack and the test fixtures point it at ``/livekit/webhook``). Each request carries a
JWT signed with one of the server's API keys whose ``sha256`` claim is the body's hash;
:class:`LiveKitWebhooks` checks both with livekit-api's ``WebhookReceiver`` (401 when
they do not match), drops an event whose id it has already handled (livekit-server
retries), and calls every subscriber of the event's name, in subscription order::

    hooks = app[LIVEKIT_WEBHOOKS_KEY]
    hooks.subscribe("participant_left", on_left)   # async (WebhookEvent) -> None
    hooks.subscribe("*", on_any)

A subscriber that raises is logged; the others still run and livekit-server gets 200
(its retry would not fix a bug of ours). The call ledger subscribes to open and close
records for every route (:mod:`omnivoice_rtc.ledger.livekit_events`).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Final

from aiohttp import web
from livekit import api
from livekit.protocol.webhook import WebhookEvent

from omnivoice_rtc._errors import SignatureError
from omnivoice_rtc.settings import LiveKitSettings

__all__ = [
    "LIVEKIT_WEBHOOK_PATH",
    "LiveKitWebhooks",
    "Remember",
    "WebhookEvent",
    "WebhookHandler",
]

logger = logging.getLogger(__name__)

LIVEKIT_WEBHOOK_PATH: Final = "/livekit/webhook"
MAX_BODY_BYTES: Final = 256 * 1024
_SEEN_LIMIT: Final = 10_000

WebhookHandler = Callable[[WebhookEvent], Awaitable[None]]
Remember = Callable[[str, str], Awaitable[bool]]
"""``async (event id, event name) -> first time?``: a shared record of handled ids (the
ledger's), for several web replicas behind one URL."""


class LiveKitWebhooks:
    """Verifies LiveKit webhooks and dispatches them (see the module docstring)."""

    def __init__(self, *, livekit: LiveKitSettings) -> None:
        self._receiver = api.WebhookReceiver(
            api.TokenVerifier(api_key=livekit.api_key, api_secret=livekit.api_secret)
        )
        self._handlers: list[tuple[str, WebhookHandler]] = []
        self._seen: OrderedDict[str, None] = OrderedDict()
        self.remember: Remember | None = None
        self.received = 0
        self.duplicates = 0

    def subscribe(self, event: str, handler: WebhookHandler) -> Callable[[], None]:
        """Call ``handler`` for every verified ``event`` (``"*"``: all); returns an
        unsubscribe function."""
        entry = (event, handler)
        self._handlers.append(entry)

        def unsubscribe() -> None:
            if entry in self._handlers:
                self._handlers.remove(entry)

        return unsubscribe

    def verify(self, body: bytes, authorization: str) -> WebhookEvent:
        """The event if ``authorization`` signs ``body``; SignatureError otherwise."""
        token = authorization.removeprefix("Bearer ").strip()
        if not token:
            raise SignatureError("Authorization: a LiveKit webhook token is required")
        try:
            return self._receiver.receive(body.decode(), token)
        except Exception as exc:  # noqa: BLE001 -- reason: livekit's WebhookReceiver raises bare Exception (and jwt/protobuf errors); each means "not a valid webhook", answered 401
            raise SignatureError(f"LiveKit webhook rejected: {exc}") from None

    async def _first_time(self, event: WebhookEvent) -> bool:
        if not event.id:
            return True
        if event.id in self._seen:
            return False
        self._seen[event.id] = None
        if len(self._seen) > _SEEN_LIMIT:
            self._seen.popitem(last=False)
        if self.remember is not None:
            return await self.remember(event.id, event.event)
        return True

    async def dispatch(self, event: WebhookEvent) -> int:
        """Run the subscribers of ``event`` (once per event id); returns how many ran."""
        if not await self._first_time(event):
            self.duplicates += 1
            return 0
        ran = 0
        for name, handler in list(self._handlers):
            if name not in ("*", event.event):
                continue
            ran += 1
            try:
                await handler(event)
            except Exception:
                logger.exception(
                    "livekit webhook subscriber failed",
                    extra={"event": event.event, "event_id": event.id},
                )
        return ran

    async def handle(self, request: web.Request) -> web.Response:
        """``POST /livekit/webhook``."""
        if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
            return web.json_response({"error": "body too large"}, status=413)
        body = await request.content.read(MAX_BODY_BYTES + 1)
        if len(body) > MAX_BODY_BYTES:
            return web.json_response({"error": "body too large"}, status=413)
        try:
            event = self.verify(body, request.headers.get("Authorization", ""))
        except SignatureError as exc:
            logger.warning("livekit webhook rejected", extra={"error": str(exc)})
            return web.json_response({"error": "invalid signature"}, status=401)
        self.received += 1
        await self.dispatch(event)
        return web.json_response({"ok": True})
