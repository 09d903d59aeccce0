"""Telnyx Call Control REST (``/v2``): dial with a media stream, answer or reject a parked
call, hang up. Part of :mod:`omnivoice_rtc.carriers.telnyx` (re-exported there), kept apart
to keep that module short.

Sources: developers.telnyx.com Call Control ``dial``/``answer``/``reject``/``hangup``;
reference section 2.
"""

from __future__ import annotations

import base64
from typing import Any, Final

import aiohttp

from omnivoice_rtc.carriers._common import CarrierRestError, RestClient, check_url

__all__ = ["ALREADY_ENDED_CODES", "CODECS", "DEFAULT_API_BASE_URL", "TelnyxRestClient"]

CARRIER: Final = "telnyx"
DEFAULT_API_BASE_URL: Final = "https://api.telnyx.com"
ALREADY_ENDED_CODES: Final = frozenset({"90018"})
"""90018: call has already ended."""
CODECS: Final = ("PCMU", "PCMA", "L16")
"""Codecs of a bidirectional RTP stream."""


_REJECT_CAUSES = ("CALL_REJECTED", "USER_BUSY", "NOT_FOUND", "TEMPORARILY_UNAVAILABLE")


def _stream_fields(stream_url: str, stream_token: str | None, codec: str) -> dict[str, Any]:
    """The media-stream fields shared by dial and answer: caller audio to ``stream_url``,
    our audio back over RTP in ``codec``, the stream token as Base64 ``client_state``."""
    check_url(CARRIER, "stream_url", stream_url, ("wss", "ws"), query_ok=False)
    if codec not in CODECS:
        raise ValueError(f"{CARRIER}: codec must be one of {', '.join(CODECS)}, got {codec!r}")
    fields: dict[str, Any] = {
        "stream_url": stream_url,
        "stream_track": "inbound_track",
        "stream_bidirectional_mode": "rtp",
        "stream_bidirectional_codec": codec,
    }
    if stream_token:
        fields["client_state"] = base64.b64encode(stream_token.encode()).decode("ascii")
    return fields


class TelnyxRestClient(RestClient):
    """Telnyx Call Control REST (``/v2``), ``Authorization: Bearer <API key>``."""

    carrier = CARRIER

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str = DEFAULT_API_BASE_URL,
        session: aiohttp.ClientSession | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        super().__init__(base_url=base_url, session=session, timeout_s=timeout_s)
        self._headers = {"Authorization": f"Bearer {api_key}", "Accept": "application/json"}

    async def make_call(
        self,
        *,
        to: str,
        from_: str,
        connection_id: str,
        stream_url: str,
        stream_token: str | None = None,
        codec: str = "PCMU",
        webhook_url: str | None = None,
    ) -> str:
        """Dial with a bidirectional RTP media stream to ``stream_url``; return the
        call_control_id. ``stream_token`` travels as Base64 ``client_state`` and comes back in
        the WS ``start.client_state`` (see :func:`stream_token_from_start`)."""
        body: dict[str, Any] = {
            "connection_id": connection_id,
            "to": to,
            "from": from_,
            **_stream_fields(stream_url, stream_token, codec),
        }
        if webhook_url:
            body["webhook_url"] = webhook_url
        status, reply = await self._request(
            "POST", "/v2/calls", headers=self._headers, json_body=body
        )
        if status not in (200, 201):
            raise self._fail("POST", "/v2/calls", status, reply)
        data = reply.get("data") if isinstance(reply, dict) else None
        call_id = data.get("call_control_id") if isinstance(data, dict) else None
        if not isinstance(call_id, str):
            raise self._error("POST", "/v2/calls", status, None, "response has no call_control_id")
        return call_id

    async def answer(
        self,
        call_control_id: str,
        *,
        stream_url: str,
        stream_token: str | None = None,
        codec: str = "PCMU",
    ) -> None:
        """Answer a parked inbound Call Control call with a bidirectional RTP media stream
        to ``stream_url`` (``POST /v2/calls/{id}/actions/answer``); ``stream_token`` travels
        as Base64 ``client_state`` and comes back in the WS ``start``."""
        path = f"/v2/calls/{call_control_id}/actions/answer"
        body = {
            **_stream_fields(stream_url, stream_token, codec),
            "stream_bidirectional_target_legs": "self",
            "send_silence_when_idle": True,
        }
        status, reply = await self._request("POST", path, headers=self._headers, json_body=body)
        if status not in (200, 201):
            raise self._fail("POST", path, status, reply)

    async def reject(self, call_control_id: str, *, cause: str = "CALL_REJECTED") -> None:
        """Refuse a parked inbound call (``POST /v2/calls/{id}/actions/reject``); ``cause``
        is one of CALL_REJECTED (SIP 603), USER_BUSY (486), NOT_FOUND (404),
        TEMPORARILY_UNAVAILABLE (480)."""
        if cause not in _REJECT_CAUSES:
            raise ValueError(
                f"{CARRIER}: reject cause must be one of {', '.join(_REJECT_CAUSES)}, got {cause!r}"
            )
        path = f"/v2/calls/{call_control_id}/actions/reject"
        status, reply = await self._request(
            "POST", path, headers=self._headers, json_body={"cause": cause}
        )
        if status not in (200, 201):
            raise self._fail("POST", path, status, reply)

    async def hangup(self, call_control_id: str) -> bool:
        """``POST /v2/calls/{id}/actions/hangup``. Returns False if the call had already ended."""
        path = f"/v2/calls/{call_control_id}/actions/hangup"
        status, reply = await self._request("POST", path, headers=self._headers, json_body={})
        if status in (200, 201):
            return True
        error = self._fail("POST", path, status, reply)
        if error.code in ALREADY_ENDED_CODES:
            return False
        raise error

    async def send_dtmf(self, call_control_id: str, digits: str) -> None:
        """``POST /v2/calls/{id}/actions/send_dtmf`` ``{"digits": "12#"}`` (each digit
        250 ms, Telnyx's default; developers.telnyx.com, Send DTMF)."""
        path = f"/v2/calls/{call_control_id}/actions/send_dtmf"
        status, reply = await self._request(
            "POST", path, headers=self._headers, json_body={"digits": digits}
        )
        if status not in (200, 201):
            raise self._fail("POST", path, status, reply)

    async def transfer(self, call_control_id: str, to: str) -> None:
        """``POST /v2/calls/{id}/actions/transfer`` ``{"to": "+1555…" | "sip:…"}``: the
        call is bridged to a new leg dialled to ``to`` (developers.telnyx.com, Transfer
        call)."""
        path = f"/v2/calls/{call_control_id}/actions/transfer"
        status, reply = await self._request(
            "POST", path, headers=self._headers, json_body={"to": to}
        )
        if status not in (200, 201):
            raise self._fail("POST", path, status, reply)

    def _fail(self, method: str, path: str, status: int, body: object) -> CarrierRestError:
        code = detail = None
        errors = body.get("errors") if isinstance(body, dict) else None
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            raw = errors[0].get("code")
            code = str(raw) if raw is not None else None
            detail = errors[0].get("title") if isinstance(errors[0].get("title"), str) else None
        return self._error(method, path, status, code, detail or "")
