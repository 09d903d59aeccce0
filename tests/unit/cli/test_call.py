"""``omnivoice-rtc call``: arguments, outcomes and their exit statuses, the result line,
the agent reference check and the private worker's process spec."""

from __future__ import annotations

from pathlib import Path

import pytest

from omnivoice_rtc import ConfigError
from omnivoice_rtc.cli import build_parser
from omnivoice_rtc.cli.call import (
    EXIT_BY_OUTCOME,
    CallResult,
    _worker_spec,
    check_agent_reference,
    outcome_of_sip_status,
)
from omnivoice_rtc.settings import Settings

pytestmark = pytest.mark.unit


def test_the_command_parses_every_route_and_its_options() -> None:
    parser = build_parser()
    for route in ("twilio", "telnyx", "vonage", "plivo", "exotel", "sip"):
        args = parser.parse_args(["call", "+15550100", "--via", route])
        assert (args.to, args.via, args.agent, args.wait) == ("+15550100", route, None, False)
    args = parser.parse_args(
        ["call", "+15550100", "--via", "sip", "--agent", "examples.reminder:build",
         "--ring-timeout-s", "20", "--trunk", "t1"]
    )  # fmt: skip
    assert (args.agent, args.ring_timeout_s, args.trunk) == ("examples.reminder:build", 20.0, "t1")
    with pytest.raises(SystemExit):
        parser.parse_args(["call", "+15550100", "--via", "pigeon"])
    with pytest.raises(SystemExit):
        parser.parse_args(["call", "+15550100", "--via", "sip", "--ring-timeout-s", "0"])


@pytest.mark.parametrize(
    ("code", "outcome"),
    [(486, "busy"), (600, "busy"), (408, "no_answer"), (480, "no_answer"), (487, "no_answer"),
     (603, "failed"), (404, "failed"), (503, "failed")],
)  # fmt: skip
def test_sip_statuses_map_to_outcomes(code: int, outcome: str) -> None:
    assert outcome_of_sip_status(code) == outcome


def test_every_outcome_has_its_own_exit_status() -> None:
    assert EXIT_BY_OUTCOME == {"answered": 0, "busy": 3, "no_answer": 4, "failed": 5}


def test_the_result_line_says_what_happened_and_the_code() -> None:
    answered = CallResult(
        outcome="answered", via="twilio", to="+15550100", call_id="CA1", room="call-twilio-CA1",
        waited_s=3.25,
    )  # fmt: skip
    assert (
        answered.line()
        == "answered: +15550100 via twilio after 3.2 s (call CA1, room call-twilio-CA1)"
    )
    busy = CallResult(outcome="busy", via="sip", to="+1", status=486, code="SIP_STATUS_BUSY_HERE")
    assert busy.line() == "busy: +1 via sip (SIP 486 SIP_STATUS_BUSY_HERE)"
    failed = CallResult(
        outcome="failed", via="twilio", to="+1", status=400, code="21211", detail="Invalid 'To'"
    )
    assert failed.line() == "failed: +1 via twilio (twilio HTTP 400, code 21211: Invalid 'To')"
    nobody = CallResult(
        outcome="no_answer", via="plivo", to="+1", detail="no media stream within 60 s"
    )
    assert nobody.line() == "no answer: +1 via plivo (no media stream within 60 s)"


def test_a_bad_agent_reference_names_the_module_and_attribute() -> None:
    check_agent_reference("examples.reminder:build")
    with pytest.raises(ConfigError, match=r"^--agent: expected 'package.module:function'"):
        check_agent_reference("examples.reminder")
    with pytest.raises(ConfigError, match=r"^--agent: cannot import module 'no_such_module_x'"):
        check_agent_reference("no_such_module_x:build")
    with pytest.raises(
        ConfigError, match=r"^--agent: module 'examples.reminder' has no callable 'nope'"
    ):
        check_agent_reference("examples.reminder:nope")


def test_the_private_worker_runs_the_factory_under_its_own_agent_name() -> None:
    settings = Settings.from_env({"PYTHONPATH": "/elsewhere"})
    spec = _worker_spec(settings, "examples.reminder:build", "omnivoice-call-1234")
    assert spec.env["OMNIVOICE_AGENT"] == "examples.reminder:build"
    assert spec.env["OMNIVOICE_AGENT_NAME"] == "omnivoice-call-1234"
    assert spec.env["OMNIVOICE_WORKER_HTTP_PORT"] == "0"  # never the stack worker's port
    assert spec.env["PYTHONPATH"].split(":") == [str(Path.cwd()), "/elsewhere"]
    assert "start" in spec.argv
    assert spec.health is not None
