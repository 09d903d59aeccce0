"""Vonage Voice REST (``/v1/calls``): dial running an NCCO, hang up, play DTMF, transfer
to an NCCO, each request signed with an RS256 application JWT. Part of
:mod:`omnivoice_rtc.carriers.vonage` (which re-exports the client), kept apart to keep that
module short.

Sources: vonage-python-sdk ``vonage_jwt`` (jwt.py), developer.vonage.com Voice API
reference; reference section 3.
"""

from __future__ import annotations

import time
import uuid
from typing import Any, Final

import aiohttp
import jwt

from omnivoice_rtc.carriers._common import CarrierRestError, RestClient

__all__ = ["APP_JWT_TTL_S", "DEFAULT_API_BASE_URL", "VonageRestClient", "make_application_jwt"]

CARRIER: Final = "vonage"
DEFAULT_API_BASE_URL: Final = "https://api.nexmo.com"
APP_JWT_TTL_S: Final = 900
"""How long an application JWT is valid (s)."""


def make_application_jwt(
    *,
    application_id: str,
    private_key: str,
    issued_at: int | None = None,
    ttl_s: int = APP_JWT_TTL_S,
) -> str:
    """The RS256 application JWT for the Voice REST API (claims ``application_id``,
    ``iat``, ``jti``, ``exp`` = iat + ttl_s seconds). ``private_key`` is PEM text."""
    iat = int(time.time()) if issued_at is None else issued_at
    claims = {
        "application_id": application_id,
        "iat": iat,
        "jti": str(uuid.uuid4()),
        "exp": iat + ttl_s,
    }
    return jwt.encode(claims, private_key, algorithm="RS256")


class VonageRestClient(RestClient):
    """Vonage Voice REST (``/v1/calls``) with an RS256 application JWT per request."""

    carrier = CARRIER

    def __init__(
        self,
        *,
        application_id: str,
        private_key: str,
        base_url: str = DEFAULT_API_BASE_URL,
        session: aiohttp.ClientSession | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        super().__init__(base_url=base_url, session=session, timeout_s=timeout_s)
        self._application_id = application_id
        self._private_key = private_key

    def _headers(self) -> dict[str, str]:
        token = make_application_jwt(
            application_id=self._application_id, private_key=self._private_key
        )
        return {"Authorization": f"Bearer {token}", "Accept": "application/json"}

    async def make_call(
        self,
        *,
        to: str,
        from_: str,
        ncco: list[dict[str, Any]],
        event_url: str | None = None,
    ) -> str:
        """Dial ``to`` (E.164, ``+`` optional) from ``from_`` running ``ncco`` (e.g. from
        :func:`ncco_websocket`) once answered; return the call's uuid."""
        body: dict[str, Any] = {
            "to": [{"type": "phone", "number": to.lstrip("+")}],
            "from": {"type": "phone", "number": from_.lstrip("+")},
            "ncco": ncco,
        }
        if event_url:
            body["event_url"] = [event_url]
        status, reply = await self._request(
            "POST", "/v1/calls", headers=self._headers(), json_body=body
        )
        if status not in (200, 201):
            raise self._fail("POST", "/v1/calls", status, reply)
        call_uuid = reply.get("uuid") if isinstance(reply, dict) else None
        if not isinstance(call_uuid, str):
            raise self._error("POST", "/v1/calls", status, None, "response has no uuid")
        return call_uuid

    async def hangup(self, call_uuid: str) -> bool:
        """``PUT /v1/calls/{uuid}`` ``{"action":"hangup"}``. Returns False if the call had
        already ended (404)."""
        path = f"/v1/calls/{call_uuid}"
        status, reply = await self._request(
            "PUT", path, headers=self._headers(), json_body={"action": "hangup"}
        )
        if status in (200, 204):
            return True
        if status == 404:
            return False
        raise self._fail("PUT", path, status, reply)

    async def send_dtmf(self, call_uuid: str, digits: str) -> None:
        """``PUT /v1/calls/{uuid}/dtmf`` ``{"digits": "12#"}``: Vonage plays the digits
        into the call (developer.vonage.com, Voice API: Play DTMF into a call)."""
        path = f"/v1/calls/{call_uuid}/dtmf"
        status, reply = await self._request(
            "PUT", path, headers=self._headers(), json_body={"digits": digits}
        )
        if status not in (200, 204):
            raise self._fail("PUT", path, status, reply)

    async def transfer(self, call_uuid: str, ncco: list[dict[str, Any]]) -> None:
        """``PUT /v1/calls/{uuid}`` ``{"action":"transfer","destination":{"type":"ncco",
        "ncco":[…]}}``: the call leaves its conversation (our WebSocket) and runs ``ncco``."""
        path = f"/v1/calls/{call_uuid}"
        body = {"action": "transfer", "destination": {"type": "ncco", "ncco": ncco}}
        status, reply = await self._request("PUT", path, headers=self._headers(), json_body=body)
        if status not in (200, 204):
            raise self._fail("PUT", path, status, reply)

    def _fail(self, method: str, path: str, status: int, body: object) -> CarrierRestError:
        code = detail = None
        if isinstance(body, dict):
            kind = body.get("type")
            if isinstance(kind, str):
                code = kind.rpartition("#")[2] or kind
            title = body.get("title")
            detail = title if isinstance(title, str) else None
        return self._error(method, path, status, code, detail or "")
