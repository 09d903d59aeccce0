"""The one tool-call path: argument normalisation and the recorded ToolCall."""

from __future__ import annotations

import pytest

from omnivoice_rtc.conversation import (
    arguments_are_json,
    build_tool_call,
    normalize_arguments,
)
from omnivoice_rtc.types import ToolCall

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("raw", "arguments"),
    [
        ('{"city": "Paris", "days": 2}', {"city": "Paris", "days": 2}),
        ("", {}),
        ("  ", {}),
        (None, {}),
        ("[1, 2]", {"_value": [1, 2]}),
        ("42", {"_value": 42}),
        ('"Paris"', {"_value": "Paris"}),
        ("null", {"_value": None}),
        ("not json", {"_raw": "not json"}),
        ('{"city": ', {"_raw": '{"city": '}),
    ],
)
def test_arguments_are_normalised_one_way(raw: str | None, arguments: dict[str, object]) -> None:
    assert normalize_arguments(raw) == arguments


def test_a_declared_parameter_called_value_is_not_mistaken_for_a_wrapped_value() -> None:
    assert normalize_arguments('{"value": 3}') == {"value": 3}
    assert normalize_arguments("3") == {"_value": 3}


@pytest.mark.parametrize(
    ("raw", "ok"), [("{}", True), ("", True), (None, True), ("[1]", True), ("{x", False)]
)
def test_arguments_are_json(raw: str | None, ok: bool) -> None:
    assert arguments_are_json(raw) is ok


def test_build_tool_call_records_result_error_and_duration_in_ms() -> None:
    call = build_tool_call(
        name="get_weather", arguments='{"city": "Paris"}', result="sunny", duration_s=0.2504
    )
    assert call == ToolCall(
        name="get_weather", arguments={"city": "Paris"}, result="sunny", duration_ms=250
    )
    failed = build_tool_call(name="book", arguments="oops", error="no seats", duration_s=-1.0)
    assert failed.to_dict() == {
        "name": "book",
        "arguments": {"_raw": "oops"},
        "result": "",
        "error": "no seats",
        "duration_ms": 0,
    }
