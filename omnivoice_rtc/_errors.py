"""One exception tree for the whole package (httpx style).

Every error the library raises on purpose derives from :class:`OmniVoiceError`.
Errors caused by bad arguments also derive from :class:`ValueError` so that
``except ValueError`` keeps working for callers who validate input.
"""

from __future__ import annotations

__all__ = [
    "CallRejectedError",
    "ConfigError",
    "OmniVoiceError",
    "ProviderError",
    "SIPCallError",
    "SessionClosedError",
    "SignatureError",
    "StackError",
]


class OmniVoiceError(Exception):
    """Base class of every error raised by omnivoice_rtc."""


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


class ProviderError(OmniVoiceError):
    """A model or carrier provider failed (HTTP error, protocol error, timeout)."""


class SignatureError(OmniVoiceError):
    """A webhook or WebSocket upgrade carried a missing or invalid signature."""


class SIPCallError(OmniVoiceError):
    """An outbound SIP call failed; carries the SIP status code and reason phrase."""

    def __init__(self, message: str, *, sip_status_code: int, sip_status: str) -> None:
        super().__init__(message)
        self.sip_status_code = sip_status_code
        self.sip_status = sip_status


class StackError(OmniVoiceError):
    """A process of the local stack failed to start or became unhealthy."""
