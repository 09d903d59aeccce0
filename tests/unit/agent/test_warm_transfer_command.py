"""The ``warm_transfer`` control command in the agent: refused without the call's tool
set, otherwise run by it, every step answered in the agent's status attribute."""

from __future__ import annotations

import gc
from dataclasses import dataclass, field
from typing import Any, cast

import pytest

from omnivoice_rtc._errors import ProviderError
from omnivoice_rtc.agent.warm_transfer_command import (
    NOT_CONFIGURED_REASON,
    apply_warm_transfer_command,
    refuse_warm_transfer_command,
    register_warm_transfer,
)
from omnivoice_rtc.calls.warm_transfer_status import WARM_TRANSFER_STATUS_ATTRIBUTE

pytestmark = pytest.mark.unit


@dataclass
class _Local:
    attributes: dict[str, str] = field(default_factory=dict)
    published: list[str] = field(default_factory=list)

    async def set_attributes(self, attributes: dict[str, str]) -> None:
        self.attributes.update(attributes)
        self.published.append(attributes[WARM_TRANSFER_STATUS_ATTRIBUTE])


@dataclass
class _Room:
    name: str
    local_participant: _Local = field(default_factory=_Local)


class _Runner:
    def __init__(self, outcome: bool | Exception) -> None:
        self.outcome = outcome
        self.asked: list[tuple[str, str]] = []

    async def run_warm_transfer(self, session: Any, to: str, summary: str) -> bool:
        self.asked.append((to, summary))
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


async def _apply(room: _Room, session: object | None = "session") -> str:
    return await apply_warm_transfer_command(
        cast(Any, session),  # reason: the runner is a fake; the session is only passed on
        room=cast(Any, room),  # reason: a fake with the attribute calls used
        caller="sip_1",
        to="+15550100",
        summary="Caller wants a refund",
    )


async def test_without_the_tool_set_it_is_refused_with_the_reason() -> None:
    room = _Room("call-room-a")
    assert await _apply(room) == "refused"
    assert room.local_participant.published == [f"1 refused {NOT_CONFIGURED_REASON}"]


async def test_each_request_gets_the_next_number_and_its_outcome() -> None:
    room = _Room("call-room-b")
    runner = _Runner(False)
    register_warm_transfer("call-room-b", "sip_1", runner)
    assert await _apply(room) == "unanswered"
    runner.outcome = True
    assert await _apply(room) == "connected"
    runner.outcome = ProviderError("livekit: CreateSIPParticipant failed: no trunk")
    assert await _apply(room) == "failed"
    assert room.local_participant.published == [
        "1 dialling",
        "1 unanswered",
        "2 dialling",
        "2 connected",
        "3 dialling",
        "3 failed livekit: CreateSIPParticipant failed: no trunk",
    ]
    assert runner.asked == [("+15550100", "Caller wants a refund")] * 3
    assert await _apply(room, session=None) == "refused"  # the caller's session is over


async def test_the_registration_goes_with_the_tool_set() -> None:
    register_warm_transfer("call-room-c", "sip_1", _Runner(True))  # nobody keeps it
    gc.collect()
    room = _Room("call-room-c")
    assert await _apply(room) == "refused"


async def test_a_refusal_by_the_control_policy_is_answered_too() -> None:
    room = _Room("call-room-d")
    room.local_participant.attributes[WARM_TRANSFER_STATUS_ATTRIBUTE] = "4 unanswered"
    await refuse_warm_transfer_command(
        cast(Any, room),  # reason: a fake with the attribute calls used
        "warm_transfer only from a server-side identity",
    )
    assert room.local_participant.published == [
        "5 refused warm_transfer only from a server-side identity"
    ]
