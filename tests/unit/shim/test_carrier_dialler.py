"""The gateway's outbound calls without sockets (:mod:`omnivoice_rtc.shim.carrier_dialler`):
make_call's checks, and a dialled call's answer webhook; REST calls go to an in-memory
client double, the gateway comes from the harness in ``test_media_stream_gateway.py``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest

from omnivoice_rtc._errors import ConfigError
from omnivoice_rtc.carriers.plivo import (
    PlivoProfile,
    PlivoRestClient,
    PlivoSettings,
    compute_signature_v3,
)
from omnivoice_rtc.carriers.profile import WebhookRequest
from omnivoice_rtc.settings import LimitSettings, OutboundLimits
from omnivoice_rtc.shim.call_guard import CallGuard
from omnivoice_rtc.types import CallInfo
from tests.unit.shim.test_media_stream_gateway import BASE, _started, _twilio

pytestmark = pytest.mark.unit


def dialling_guard(**outbound: Any) -> CallGuard:
    """A call guard whose outbound guard allows every destination (``outbound``: more)."""
    limits = LimitSettings(outbound=OutboundLimits(allow=("*",), **outbound))
    return CallGuard(limits=limits)


async def test_make_call_names_what_is_missing_before_creating_anything() -> None:
    gateway = await _started(_twilio())
    with pytest.raises(
        ConfigError, match=r"^OMNIVOICE_PUBLIC_URL: twilio make_call needs a public URL$"
    ):
        await gateway.make_call("+15550100")
    gateway = await _started(_twilio(), public_base_url=BASE)
    with pytest.raises(
        ConfigError, match=r"^TWILIO_ACCOUNT_SID: required for make_call on twilio but not set$"
    ):
        await gateway.make_call("+15550100")
    assert await gateway.runtime.tokens.pending() == 0
    assert gateway.list_sessions() == []


class _PlivoDialler(PlivoRestClient):
    """Records the dial instead of sending it."""

    def __init__(self) -> None:
        super().__init__(auth_id="MA1", auth_token="tok")
        self.dials: list[dict[str, str]] = []

    async def make_call(
        self, *, to: str, from_: str, answer_url: str, hangup_url: str | None = None
    ) -> str:
        self.dials.append({"to": to, "from": from_, "answer_url": answer_url})
        return "request-uuid-1"


async def test_a_dialled_call_is_answered_without_asking_the_handler() -> None:
    """Plivo fetches our answer URL for the calls we dial: ``?pending=`` names our call,
    which gets the stream markup (and a token for the pending id) without the handler."""
    rest = _PlivoDialler()
    profile = PlivoProfile(
        settings=PlivoSettings(auth_token="pt", from_number="+15550000"), rest=rest
    )
    gateway = await _started(profile, public_base_url=BASE, guard=dialling_guard())
    asked: list[CallInfo] = []
    gateway.on_call(asked.append)
    session = await gateway.make_call("+15551234")
    assert session.id == "request-uuid-1"
    (dial,) = rest.dials
    assert (dial["to"], dial["from"]) == ("+15551234", "+15550000")
    pending = dial["answer_url"].split("?pending=")[1]
    assert dial["answer_url"] == f"{BASE}/carriers/plivo/answer?pending={pending}"
    fields = {
        "CallUUID": "real-uuid",
        "From": "15550000",
        "To": "15551234",
        "Direction": "outbound",
    }
    url = dial["answer_url"]
    hook = WebhookRequest(
        method="POST",
        url=url,
        headers={
            "X-Plivo-Signature-V3": compute_signature_v3(
                auth_token="pt", url=url, nonce="1", method="POST", params=fields
            ),
            "X-Plivo-Signature-V3-Nonce": "1",
        },
        query=[("pending", pending)],
        form=fields,
        raw_body=urlencode(fields).encode(),
    )
    answer = await gateway.answer_webhook(hook, base_url=BASE)
    assert answer.status == 200
    assert "<Stream" in answer.body
    assert ">wss://voice.example.com/carriers/plivo/media</Stream>" in answer.body
    assert asked == []
    await gateway.stop()
