"""CarrierControl: the call-control part of one carrier's gateway.

It gives each :class:`~.pstn_session.PstnSession` its
:class:`~.pstn_session.CarrierCallActions` (the profile's capabilities and REST
transfer) and serves the markup a carrier fetches for a transfer when its REST API takes
a URL rather than the document (Plivo's ``aleg_url``):
``GET|POST /carriers/<name>/transfer/<token>`` answers the stored document once, for at
most :data:`DOCUMENT_TTL_S` s; the token is 128 random bits, the document only names the
transfer target.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Final

from aiohttp import web

from omnivoice_rtc.carriers.profile import WebhookAnswer
from omnivoice_rtc.carriers.registry import AnyProfile
from omnivoice_rtc.shim.pstn_session import CarrierCallActions
from omnivoice_rtc.types.call_control import TransferTarget

__all__ = ["DOCUMENT_TTL_S", "CarrierControl", "transfer_document_path"]

DOCUMENT_TTL_S: Final = 120.0
"""How long a transfer document waits for the carrier to fetch it (s)."""
MAX_DOCUMENTS: Final = 1024


def transfer_document_path(carrier: str) -> str:
    """Route of a carrier's transfer documents (``{token}`` is the document's)."""
    return f"/carriers/{carrier}/transfer/{{token}}"


class CarrierControl:
    """Call control for one carrier's gateway; ``public_base_url`` is where the carrier
    reaches us ("" = transfer documents cannot be served); ``clock`` monotonic s."""

    def __init__(
        self,
        *,
        profile: AnyProfile,
        public_base_url: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._profile = profile
        self._base = public_base_url.rstrip("/")
        self._clock = clock
        self._documents: dict[str, tuple[float, WebhookAnswer]] = {}

    def actions(self) -> CarrierCallActions:
        """What a session of this carrier can do (capabilities, REST transfer)."""
        return CarrierCallActions(
            capabilities=self._profile.capabilities(can_serve_documents=bool(self._base)),
            transfer=self._transfer,
            send_digits=self._profile.send_digits,
        )

    async def _transfer(self, call_id: str, target: TransferTarget) -> None:
        url = ""
        if self._profile.transfer_needs_document and self._base:
            url = self._store(self._profile.transfer_document(target))
        await self._profile.transfer(call_id, target, document_url=url)

    def _store(self, answer: WebhookAnswer) -> str:
        now = self._clock()
        for token, (expires, _) in list(self._documents.items()):
            if expires <= now:
                del self._documents[token]
        while len(self._documents) >= MAX_DOCUMENTS:
            del self._documents[next(iter(self._documents))]
        token = secrets.token_urlsafe(16)
        self._documents[token] = (now + DOCUMENT_TTL_S, answer)
        path = transfer_document_path(self._profile.name).replace("{token}", token)
        return self._base + path

    async def handle_document(self, request: web.Request) -> web.Response:
        """Answer a stored transfer document once; 404 for an unknown or expired token."""
        entry = self._documents.pop(request.match_info.get("token", ""), None)
        if entry is None or entry[0] <= self._clock():
            raise web.HTTPNotFound(text="no such transfer document")
        answer = entry[1]
        return web.Response(
            status=answer.status, body=answer.body.encode(), content_type=answer.content_type
        )
