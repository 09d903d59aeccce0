"""Carrier call control (no media): webhook signatures, answer markup, webhook parsing,
REST clients and one-time stream tokens, for Twilio, Telnyx, Vonage and Plivo."""

from __future__ import annotations

from .stream_tokens import StreamGrant, StreamTokenError, StreamTokenStore

__all__ = ["StreamGrant", "StreamTokenError", "StreamTokenStore"]
