"""The CarrierProfile base: carrier settings from environment variables, and the policy
every profile shares (reject reasons, missing REST credentials, hang-up, answers)."""

from __future__ import annotations

from pathlib import Path

import pytest

from omnivoice_rtc._errors import ConfigError
from omnivoice_rtc.carriers.plivo import PlivoProfile, PlivoSettings
from omnivoice_rtc.carriers.profile import DialRequest, WebhookAnswer
from omnivoice_rtc.carriers.telnyx import TelnyxProfile, TelnyxSettings
from omnivoice_rtc.carriers.twilio import TwilioProfile, TwilioRestClient, TwilioSettings
from omnivoice_rtc.carriers.vonage import VonageProfile, VonageSettings
from omnivoice_rtc.types import CallInfo

pytestmark = pytest.mark.unit


def test_defaults_when_unset() -> None:
    twilio = TwilioSettings.from_env({})
    assert twilio.api_base_url == "https://api.twilio.com"
    assert not twilio.is_configured
    with pytest.raises(
        ConfigError, match=r"^TWILIO_ACCOUNT_SID: required for this carrier but not set$"
    ):
        twilio.require()
    assert TelnyxSettings.from_env({}).api_base_url == "https://api.telnyx.com"
    assert VonageSettings.from_env({}).api_base_url == "https://api.nexmo.com"
    assert PlivoSettings.from_env({}).api_base_url == "https://api.plivo.com"


def test_reads_every_variable_and_hides_secrets() -> None:
    env = {
        "TWILIO_ACCOUNT_SID": "AC1",
        "TWILIO_AUTH_TOKEN": "secret-token",
        "TWILIO_API_BASE_URL": "http://127.0.0.1:9999/",
        "TELNYX_API_KEY": "KEY",
        "TELNYX_PUBLIC_KEY": "pub",
        "TELNYX_CONNECTION_ID": "conn",
        "PLIVO_AUTH_ID": "MA1",
        "PLIVO_AUTH_TOKEN": "pt",
    }
    twilio = TwilioSettings.from_env(env).require()
    assert (twilio.account_sid, twilio.auth_token, twilio.api_base_url) == (
        "AC1",
        "secret-token",
        "http://127.0.0.1:9999",
    )
    assert "secret-token" not in repr(twilio)
    telnyx = TelnyxSettings.from_env(env).require()
    assert (telnyx.api_key, telnyx.public_key, telnyx.connection_id) == ("KEY", "pub", "conn")
    assert PlivoSettings.from_env(env).require().auth_id == "MA1"


def test_vonage_private_key_inline_or_path(tmp_path: Path) -> None:
    key_file = tmp_path / "private.key"
    key_file.write_text("-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n")
    base = {"VONAGE_APPLICATION_ID": "app", "VONAGE_SIGNATURE_SECRET": "s"}
    from_path = VonageSettings.from_env(
        {**base, "VONAGE_PRIVATE_KEY_PATH": str(key_file)}
    ).require()
    assert from_path.private_key.startswith("-----BEGIN PRIVATE KEY-----\n")
    inline = VonageSettings.from_env({**base, "VONAGE_PRIVATE_KEY": "-----BEGIN-----\\nx"})
    assert inline.private_key == "-----BEGIN-----\nx"
    assert "BEGIN" not in repr(inline)
    with pytest.raises(ConfigError, match=r"^VONAGE_PRIVATE_KEY_PATH: cannot read "):
        VonageSettings.from_env({"VONAGE_PRIVATE_KEY_PATH": str(tmp_path / "missing")})


def test_bad_base_url() -> None:
    with pytest.raises(
        ConfigError,
        match=r"^PLIVO_API_BASE_URL: must be an http/https URL with a host, got 'ftp://x'$",
    ):
        PlivoSettings.from_env({"PLIVO_API_BASE_URL": "ftp://x"})


# ------------------------------------------------------------------ profile policy

CALL = CallInfo(call_id="CA1", from_="+15550100", to="+15550199", carrier="twilio")
DIAL = DialRequest(
    to="+15550100",
    from_="+15550199",
    ws_url="wss://voice.example.com/carriers/twilio/media",
    answer_url="https://voice.example.com/carriers/twilio/answer",
    token="t0k",
)


class _CountingRest(TwilioRestClient):
    """A Twilio REST client that records hang-ups and closes instead of sending them."""

    def __init__(self) -> None:
        super().__init__(account_sid="AC1", auth_token="tok")
        self.hung_up: list[str] = []
        self.closed = 0

    async def hangup(self, call_sid: str) -> bool:
        self.hung_up.append(call_sid)
        return True

    async def aclose(self) -> None:
        self.closed += 1


def test_answers_are_neutral_values() -> None:
    assert WebhookAnswer.json({"a": [1]}) == WebhookAnswer(
        status=200, content_type="application/json", body='{"a":[1]}'
    )
    assert WebhookAnswer.xml("<Response/>").content_type == "text/xml"
    assert WebhookAnswer() == WebhookAnswer(status=200, content_type="application/json", body="{}")


async def test_reject_reasons_are_normalised() -> None:
    profile = TwilioProfile(settings=TwilioSettings(auth_token="t"))
    busy = await profile.reject(CALL, "busy")
    assert '<Reject reason="busy" />' in busy.body
    other = await profile.reject(CALL, "no thanks")
    assert '<Reject reason="rejected" />' in other.body
    assert (other.status, other.content_type) == (200, "text/xml")


async def test_missing_rest_credentials_name_the_variable() -> None:
    twilio = TwilioProfile(settings=TwilioSettings(auth_token="t"))
    assert twilio.rest is None
    assert not twilio.can_hang_up
    assert twilio.settings.enabled
    assert twilio.settings.missing_rest_var() == "TWILIO_ACCOUNT_SID"
    with pytest.raises(
        ConfigError, match=r"^TWILIO_ACCOUNT_SID: required for make_call on twilio but not set$"
    ):
        await twilio.dial(DIAL)
    await twilio.hangup("CA1")  # no REST: closing the socket is the hang-up
    telnyx = TelnyxProfile(settings=TelnyxSettings(public_key="pub"))
    parked = CallInfo(call_id="v3:x", carrier="telnyx", attributes={"event_type": "call.initiated"})
    with pytest.raises(
        ConfigError,
        match=r"^TELNYX_API_KEY: required for answering a Call Control call on telnyx but not set$",
    ):
        telnyx.ensure_answerable(parked)
    telnyx.ensure_answerable(CallInfo(call_id="v3:y", carrier="telnyx"))  # TeXML: markup only
    vonage = VonageProfile(settings=VonageSettings(signature_secret="s", application_id="app"))
    assert vonage.settings.missing_rest_var() == "VONAGE_PRIVATE_KEY"
    assert PlivoProfile(settings=PlivoSettings(auth_token="p")).rest is None


async def test_rest_client_ownership_and_hangup() -> None:
    injected = _CountingRest()
    profile = TwilioProfile(settings=TwilioSettings(auth_token="t"), rest=injected)
    assert profile.can_hang_up
    await profile.hangup("CA7")
    assert injected.hung_up == ["CA7"]
    await profile.aclose()
    assert injected.closed == 0  # the caller's client: the caller closes it
    owned = TwilioProfile(settings=TwilioSettings(auth_token="t", account_sid="AC1"))
    assert isinstance(owned.rest, TwilioRestClient)
    session = owned.rest._get_session()  # reason: the session a request would open
    await owned.aclose()
    assert session.closed  # the profile built that client from its settings: it closes it
