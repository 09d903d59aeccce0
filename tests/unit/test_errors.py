"""The one exception tree: every error under the root, each drawn in the docstring."""

from __future__ import annotations

import inspect

import pytest

import omnivoice_rtc
from omnivoice_rtc import _errors

pytestmark = pytest.mark.unit

_CLASSES = [
    obj
    for name, obj in vars(_errors).items()
    if inspect.isclass(obj) and issubclass(obj, Exception) and obj.__module__ == _errors.__name__
]


def test_every_error_is_under_the_root_and_exported() -> None:
    assert _CLASSES
    for cls in _CLASSES:
        assert issubclass(cls, omnivoice_rtc.OmniVoiceError), cls
        assert getattr(omnivoice_rtc, cls.__name__) is cls
        assert cls.__name__ in _errors.__all__


def test_the_docstring_draws_every_error() -> None:
    doc = _errors.__doc__ or ""
    for cls in _CLASSES:
        assert f" {cls.__name__}" in doc, cls.__name__


def test_retryable_defaults_and_overrides() -> None:
    assert omnivoice_rtc.ConfigError("x").retryable is False
    assert omnivoice_rtc.ProviderError("x").retryable is True
    assert omnivoice_rtc.LimitError("x", limit="calls").retryable is True
    busy = omnivoice_rtc.CarrierRestError("x", carrier="twilio", status=503, code=None)
    gone = omnivoice_rtc.CarrierRestError("x", carrier="twilio", status=404, code="20404")
    down = omnivoice_rtc.CarrierRestError("x", carrier="twilio", status=0, code=None)
    assert (busy.retryable, gone.retryable, down.retryable) == (True, False, True)
    assert omnivoice_rtc.TokenRequestError("x", status=429).retryable is True
    assert omnivoice_rtc.TokenRequestError("x", status=400).retryable is False


def test_input_errors_stay_value_errors() -> None:
    for cls in (
        omnivoice_rtc.ConfigError,
        omnivoice_rtc.ProtocolError,
        omnivoice_rtc.StreamTokenError,
        omnivoice_rtc.RequestError,
    ):
        assert issubclass(cls, ValueError), cls
