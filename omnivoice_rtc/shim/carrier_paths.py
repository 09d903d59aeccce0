"""The HTTP paths a carrier reaches the shim at: its answer webhook and its media streams.

:mod:`.routes` installs them; :mod:`.carrier_dialler` and :mod:`.webhook_answer` name them
in what they send the carrier (the dial request, the answer markup).
"""

from __future__ import annotations

from typing import Final

__all__ = ["GENERIC_MEDIA_PATH", "answer_path", "media_path"]

GENERIC_MEDIA_PATH: Final = "/carriers/media"
"""The one WebSocket path that detects the carrier from the first frames."""


def answer_path(carrier: str) -> str:
    """The carrier's answer-webhook path."""
    return f"/carriers/{carrier}/answer"


def media_path(carrier: str) -> str:
    """The carrier's media-stream WebSocket path."""
    return f"/carriers/{carrier}/media"
