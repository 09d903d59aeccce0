"""One exception tree for the whole package (httpx style).

Every error the library raises on purpose derives from :class:`OmniVoiceError`, and every
one says whether trying the same thing again may succeed (``retryable``). Errors caused by
bad input also derive from :class:`ValueError`, so ``except ValueError`` keeps working for
callers who validate input::

    OmniVoiceError                      retryable
    ├── ConfigError (ValueError)        no    a setting is missing or invalid (names it)
    ├── CallRejectedError               no    a call handler refused the call
    ├── SessionClosedError              no    the session has already ended
    ├── UnsupportedActionError          no    the call's route cannot do this (says why)
    ├── ProtocolError (ValueError)      no    a peer sent something we cannot accept
    │   ├── FrameSizeError              no      an audio frame of the wrong size (dropped)
    │   └── StreamRejected              no      a media stream closed during its handshake
    ├── SignatureError                  no    a webhook/upgrade signature is missing or wrong
    │   ├── StreamTokenError (ValueError) no    a stream token is missing, used, expired…
    │   └── ReplayError                 no      a request that was already answered, again
    ├── RequestError (ValueError)       no    a bad HTTP request to our server (``status``)
    │   └── TokenRequestError           no      …to ``/api/token``
    ├── LimitError                      yes   a limit was reached (calls, rate); try later
    ├── ProviderError                   yes   a remote service failed (model, carrier, LiveKit)
    │   ├── CarrierRestError            by status: transport errors, 429 and 5xx
    │   ├── SIPCallError                no      an outbound SIP call failed (SIP status)
    │   └── CaptureFrameError           no      livekit refused an audio frame
    └── StackError                      no    a process of the local stack failed

``retryable`` is a class default that an instance may override (a carrier's HTTP 503 is
retryable, its 404 is not).
"""

from __future__ import annotations

__all__ = [
    "CallRejectedError",
    "CaptureFrameError",
    "CarrierRestError",
    "ConfigError",
    "FrameSizeError",
    "LimitError",
    "OmniVoiceError",
    "ProtocolError",
    "ProviderError",
    "ReplayError",
    "RequestError",
    "SIPCallError",
    "SessionClosedError",
    "SignatureError",
    "StackError",
    "StreamRejected",
    "StreamTokenError",
    "TokenRequestError",
    "UnsupportedActionError",
]


class OmniVoiceError(Exception):
    """Base class of every error raised by omnivoice_rtc."""

    retryable: bool = False
    """Whether the same operation may succeed if tried again later."""


class ConfigError(OmniVoiceError, ValueError):
    """A setting or environment variable is missing or invalid.

    The message always names the setting (``LIVEKIT_URL``, ``stt_provider``, …).
    """


class CallRejectedError(OmniVoiceError):
    """Raised by a call or participant handler to refuse a call.

    ``reason`` is passed to the carrier's reject form where one exists
    (``busy`` or ``rejected`` for TwiML/TeXML).
    """

    def __init__(self, message: str = "call rejected", *, reason: str = "rejected") -> None:
        super().__init__(message)
        self.reason = reason


class SessionClosedError(OmniVoiceError):
    """An operation was attempted on a session that has already closed."""


class UnsupportedActionError(OmniVoiceError):
    """The call's route cannot perform the action; the message says which and why."""

    def __init__(self, message: str, *, action: str, route: str) -> None:
        super().__init__(message)
        self.action = action
        self.route = route


class ProtocolError(OmniVoiceError, ValueError):
    """A peer (carrier stream, media process, agent) sent something we cannot accept."""


class FrameSizeError(ProtocolError):
    """An audio frame has a size the protocol forbids (e.g. Vonage's fixed 20 ms frames).

    ``size`` and ``expected`` are in bytes. The frame is dropped and counted; the stream
    goes on (a wrong size is not an attack, unlike unparseable input).
    """

    def __init__(self, message: str, *, size: int, expected: int) -> None:
        super().__init__(message)
        self.size = size
        self.expected = expected


class StreamRejected(ProtocolError):
    """A media stream was closed during its handshake: ``code`` (WebSocket close code)
    was sent, ``reason`` is logged."""

    def __init__(self, reason: str, *, code: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


class SignatureError(OmniVoiceError):
    """A webhook or WebSocket upgrade carried a missing or invalid signature."""


class StreamTokenError(SignatureError, ValueError):
    """A stream token is unknown, expired, already used or for another carrier.

    ``reason`` is one of ``missing``, ``unknown``, ``expired``, ``used``, ``wrong_carrier``.
    The shim answers it by closing the WebSocket with policy-violation code 1008.
    """

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class ReplayError(SignatureError):
    """A correctly signed request that was already answered came again (a replayed
    webhook, a reused nonce, a second stream for a live call). ``what`` names it."""

    def __init__(self, message: str, *, what: str) -> None:
        super().__init__(message)
        self.what = what


class RequestError(OmniVoiceError, ValueError):
    """Bad input to one of our HTTP endpoints; ``status`` is the HTTP status to answer."""

    def __init__(self, message: str, *, status: int = 400, retry_after_s: float = 0.0) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after_s = retry_after_s
        self.retryable = status == 429


class TokenRequestError(RequestError):
    """Bad input to ``/api/token``."""


class LimitError(OmniVoiceError):
    """A configured limit was reached (concurrent calls, rate); ``limit`` names it."""

    retryable = True

    def __init__(self, message: str, *, limit: str, retry_after_s: float = 0.0) -> None:
        super().__init__(message)
        self.limit = limit
        self.retry_after_s = retry_after_s


class ProviderError(OmniVoiceError):
    """A model, carrier or LiveKit service failed (HTTP error, protocol error, timeout)."""

    retryable = True


class CarrierRestError(ProviderError):
    """A carrier REST call failed. ``status`` is the HTTP status (0 when no response),
    ``code`` the carrier's error code when its body has one (Twilio ``code``, Telnyx
    ``errors[0].code``, Vonage ``type``/``title``, Plivo ``error``). Retryable for
    transport failures, 429 and 5xx."""

    def __init__(self, message: str, *, carrier: str, status: int, code: str | None) -> None:
        super().__init__(message)
        self.carrier = carrier
        self.status = status
        self.code = code
        self.retryable = status == 0 or status == 429 or status >= 500


class SIPCallError(ProviderError):
    """An outbound SIP call failed; carries the SIP status code and reason phrase."""

    retryable = False

    def __init__(self, message: str, *, sip_status_code: int, sip_status: str) -> None:
        super().__init__(message)
        self.sip_status_code = sip_status_code
        self.sip_status = sip_status


class CaptureFrameError(ProviderError):
    """livekit refused a captured audio frame (the message is livekit's)."""

    retryable = False


class StackError(OmniVoiceError):
    """A process of the local stack failed to start or became unhealthy."""
