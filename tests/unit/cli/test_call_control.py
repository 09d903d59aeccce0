"""``omnivoice-rtc calls active|transfer|warm-transfer|hold|resume|dtmf|hangup``: registration and input
checks (the e2e tests run them against live calls)."""

from __future__ import annotations

import pytest

from omnivoice_rtc.cli import build_parser, main

pytestmark = pytest.mark.unit


def test_the_subcommands_are_registered_under_calls() -> None:
    parser = build_parser()
    args = parser.parse_args(["calls", "transfer", "CA1", "sip:desk@pbx.example.com"])
    assert (args.call_id, args.target, args.say) == ("CA1", "sip:desk@pbx.example.com", None)
    args = parser.parse_args(["calls", "hangup", "CA1"])
    assert args.reason == "agent_hangup"
    args = parser.parse_args(["calls", "warm-transfer", "CA1", "+15550100", "--summary", "VIP"])
    assert (args.call_id, args.target, args.summary) == ("CA1", "+15550100", "VIP")
    for argv in (["calls", "active", "--json"], ["calls", "hold", "X"], ["calls", "resume", "X"]):
        assert callable(parser.parse_args(argv).handler)


@pytest.mark.parametrize(
    "argv",
    [
        ["calls", "transfer", "CA1", "5550100"],
        ["calls", "dtmf", "CA1", "12x"],
        ["calls", "hangup", "CA1", "--reason", "two words"],
        ["calls", "warm-transfer", "CA1", "+15550100"],  # no --summary
        ["calls", "warm-transfer", "CA1", "+15550100", "--summary", " "],
        ["calls", "warm-transfer", "CA1", "+15550100", "--summary", "x" * 1001],
    ],
)
def test_bad_input_exits_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    assert "error: " in capsys.readouterr().err
