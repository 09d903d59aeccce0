"""The simulator's webhooks are what each carrier's profile accepts: signed right they
verify, signed wrong they do not; markup without a stream is a ProtocolError."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from omnivoice_rtc import ProtocolError, SignatureError
from omnivoice_rtc.carriers.plivo import PlivoProfile, PlivoSettings
from omnivoice_rtc.carriers.profile import WebhookRequest
from omnivoice_rtc.carriers.registry import AnyProfile
from omnivoice_rtc.carriers.telnyx import TelnyxProfile, TelnyxSettings
from omnivoice_rtc.carriers.twilio import TwilioProfile, TwilioSettings, twiml_reject
from omnivoice_rtc.simulate.carrier_webhooks import (
    CallParties,
    CarrierSecrets,
    signature_headers,
    stream_target_from_markup,
    webhook_fields,
)

pytestmark = pytest.mark.unit

URL = "https://public.example/carriers/{}/answer"
SECRETS = CarrierSecrets()


def _profile(carrier: str) -> AnyProfile:
    if carrier == "twilio":
        return TwilioProfile(settings=TwilioSettings(auth_token=SECRETS.twilio_auth_token))
    if carrier == "telnyx":
        return TelnyxProfile(settings=TelnyxSettings(public_key=SECRETS.telnyx_public_key))
    return PlivoProfile(settings=PlivoSettings(auth_token=SECRETS.plivo_auth_token))


@pytest.mark.parametrize("carrier", ["twilio", "telnyx", "plivo"])
@pytest.mark.parametrize("wrong", [False, True], ids=["signed", "wrongly-signed"])
def test_form_webhooks_verify_with_the_profile(carrier: str, wrong: bool) -> None:
    call = CallParties(carrier, "call-1", "+15550100", "+15550199")
    fields = webhook_fields(call)
    body = urlencode(fields).encode()
    url = URL.format(carrier)
    headers = signature_headers(carrier, SECRETS, url=url, fields=fields, body=body, wrong=wrong)
    request = WebhookRequest(
        method="POST", url=url, headers=headers, query=[], form=fields, raw_body=body
    )
    if wrong:
        with pytest.raises(SignatureError):
            _profile(carrier).verify(request)
    else:
        info = _profile(carrier).verify(request)
        assert info.from_.lstrip("+") == "15550100"


def test_markup_without_a_stream_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="twilio"):
        stream_target_from_markup("twilio", twiml_reject("busy"))
    with pytest.raises(ProtocolError, match="vonage"):
        stream_target_from_markup("vonage", '[{"action": "talk"}]')
    with pytest.raises(ProtocolError, match="plivo"):
        stream_target_from_markup("plivo", "not xml")
