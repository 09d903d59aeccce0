"""Answering-machine detection wiring: which calls are screened, with which settings, and
which classifier a session's pipeline gets."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any, Literal

import pytest

from omnivoice_rtc import ConfigError
from omnivoice_rtc.agent.amd import (
    _listen_on_carrier_call,
    classifier_llm,
)  # reason: the carrier rule itself
from omnivoice_rtc.agent.amd_classifier import KeywordAMDLLM
from omnivoice_rtc.agent.call_context import CallContext
from omnivoice_rtc.agent.plugin import SessionPlanner, describe_plan
from omnivoice_rtc.pipelines.llm_adapter import LLMProviderAdapter
from omnivoice_rtc.pipelines.local.responder import RulesResponderLLM
from omnivoice_rtc.pipelines.parts import PipelineParts
from omnivoice_rtc.settings import AgentSettings
from omnivoice_rtc.settings.answering_machine import (
    DEFAULT_VOICEMAIL_MESSAGE,
    AnsweringMachineSettings,
)
from tests.unit.agent.test_seed_config import FakeRealtimeModel

pytestmark = pytest.mark.unit

ON = AnsweringMachineSettings(enabled=True)


def _planner(amd: AnsweringMachineSettings) -> SessionPlanner:
    return SessionPlanner(
        settings=AgentSettings(answering_machine=amd),
        parts_factory=lambda: PipelineParts(name="stand-in"),
    )


def _ctx(route: str, direction: Literal["inbound", "outbound"], **kw: Any) -> CallContext:
    return CallContext(
        route=route, direction=direction, room=f"{route}-room", participant_identity="p1", **kw
    )


@pytest.mark.parametrize("route", ["sip", "twilio", "telnyx"])
async def test_an_outbound_phone_call_is_screened_when_amd_is_on(route: str) -> None:
    plan = await _planner(ON).plan(_ctx(route, "outbound"))
    assert plan.flow.answering_machine == ON
    assert describe_plan(plan)["answering_machine_detection"] is True


@pytest.mark.parametrize(
    ("amd", "ctx"),
    [
        pytest.param(AnsweringMachineSettings(), _ctx("sip", "outbound"), id="amd-off"),
        pytest.param(ON, _ctx("sip", "inbound"), id="inbound-sip"),
        pytest.param(ON, _ctx("twilio", "inbound"), id="inbound-carrier"),
        pytest.param(ON, _ctx("webrtc", "inbound"), id="browser"),
    ],
)
async def test_other_calls_are_not_screened(
    amd: AnsweringMachineSettings, ctx: CallContext
) -> None:
    plan = await _planner(amd).plan(ctx)
    assert plan.flow.answering_machine is None
    assert describe_plan(plan)["answering_machine_detection"] is False


async def test_a_resumed_call_is_not_screened_again() -> None:
    from datetime import UTC, datetime

    from omnivoice_rtc.types import Turn

    turn = Turn(role="agent", text="Hello.", timestamp=datetime.now(UTC))
    ctx = replace(_ctx("sip", "outbound"), resume_transcript=(turn,))
    assert ctx.resumed
    plan = await _planner(ON).plan(ctx)
    assert plan.flow.answering_machine is None


def test_settings_from_the_environment() -> None:
    amd = AgentSettings.from_env(
        {
            "OMNIVOICE_AMD": "1",
            "OMNIVOICE_AMD_ON_MACHINE": "hangup",
            "OMNIVOICE_AMD_TIMEOUT_S": "12",
            "OMNIVOICE_AMD_BEEP_TIMEOUT_S": "3",
            "OMNIVOICE_AMD_VOICEMAIL_MESSAGE": "Call us back.",
        }
    ).answering_machine
    assert amd == AnsweringMachineSettings(
        enabled=True,
        on_machine="hangup",
        voicemail_message="Call us back.",
        timeout_s=12.0,
        beep_timeout_s=3.0,
    )
    assert not amd.leaves_message
    default = AgentSettings.from_env({}).answering_machine
    assert not default.enabled
    assert default.voicemail_message == DEFAULT_VOICEMAIL_MESSAGE
    assert default.leaves_message
    assert not replace(default, voicemail_message=" ").leaves_message


@pytest.mark.parametrize(
    ("name", "value"),
    [("OMNIVOICE_AMD_ON_MACHINE", "beep"), ("OMNIVOICE_AMD_TIMEOUT_S", "0")],
)
def test_bad_settings_are_refused(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        AnsweringMachineSettings.from_env({name: value})


class _Session:
    def __init__(self, model: object) -> None:
        self.llm = model


def test_the_classifier_is_the_pipelines_llm_only_when_it_is_a_real_one() -> None:
    real = KeywordAMDLLM()  # any llm.LLM that is not a local stand-in
    assert classifier_llm(_Session(real)) is real  # type: ignore[arg-type]  # reason: duck-typed session
    for stand_in in (
        RulesResponderLLM(),
        LLMProviderAdapter(lambda text, history: "ok"),
        FakeRealtimeModel(),
        None,
    ):
        chosen = classifier_llm(_Session(stand_in))  # type: ignore[arg-type]  # reason: duck-typed session
        assert isinstance(chosen, KeywordAMDLLM)


class _Detector:
    """What _listen_on_carrier_call reads of livekit's AMD."""

    def __init__(self) -> None:
        self._setup_task: asyncio.Task[None] | None = None
        self._sip_answer_task: asyncio.Task[None] | None = None
        self.pending = True
        self.started = False
        self.listened = 0

    def _start_listening(self) -> None:
        self.listened += 1
        self.started = True


class _Caller:
    def __init__(self, attributes: dict[str, str]) -> None:
        self.attributes = attributes


async def test_a_carrier_call_is_listened_to_without_waiting_for_a_sip_status() -> None:
    detector = _Detector()
    detector._setup_task = asyncio.create_task(asyncio.sleep(0))
    detector._sip_answer_task = asyncio.create_task(asyncio.sleep(3600))  # for ever
    await _listen_on_carrier_call(detector, _Caller({"omnivoice.carrier": "twilio"}))  # type: ignore[arg-type]  # reason: stand-ins
    assert detector.listened == 1
    await asyncio.sleep(0)
    assert detector._sip_answer_task.cancelled()


async def test_a_sip_call_is_left_to_amd() -> None:
    detector = _Detector()
    await _listen_on_carrier_call(detector, _Caller({"sip.callStatus": "dialing"}))  # type: ignore[arg-type]  # reason: stand-ins
    assert detector.listened == 0
