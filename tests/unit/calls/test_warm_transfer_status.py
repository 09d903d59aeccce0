"""The agent's answer to a ``warm_transfer`` command: the status attribute's format, and
what a requester (CLI, SIPSession) makes of the answers it sees."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, cast

import pytest
from livekit import rtc

from omnivoice_rtc._errors import ProviderError, SessionClosedError, UnsupportedActionError
from omnivoice_rtc.calls.warm_transfer_status import (
    WARM_TRANSFER_STATUS_ATTRIBUTE,
    WarmTransferStatus,
    await_warm_transfer,
)

pytestmark = pytest.mark.unit

AGENT = rtc.ParticipantKind.PARTICIPANT_KIND_AGENT
SIP = rtc.ParticipantKind.PARTICIPANT_KIND_SIP


def test_status_round_trip() -> None:
    for status in (
        WarmTransferStatus(seq=1, state="dialling"),
        WarmTransferStatus(seq=12, state="failed", detail="livekit: CreateSIPParticipant failed"),
        WarmTransferStatus(seq=3, state="refused", detail="no options"),
    ):
        assert WarmTransferStatus.parse(status.encode()) == status
    assert WarmTransferStatus(seq=2, state="connected").encode() == "2 connected"
    assert WarmTransferStatus(seq=2, state="connected").final
    assert not WarmTransferStatus(seq=2, state="dialling").final


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("connected", r"^warm transfer status: bad sequence number in 'connected'$"),
        ("0 connected", r"^warm transfer status: bad sequence number in '0 connected'$"),
        (
            "4 ringing",
            r"^warm transfer status: state must be one of dialling, connected, unanswered, "
            r"failed, refused; got 'ringing'$",
        ),
    ],
)
def test_bad_status_values(value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        WarmTransferStatus.parse(value)


def test_latest_seq() -> None:
    assert WarmTransferStatus.latest_seq({}) == 0
    assert WarmTransferStatus.latest_seq({WARM_TRANSFER_STATUS_ATTRIBUTE: "bad"}) == 0
    assert WarmTransferStatus.latest_seq({WARM_TRANSFER_STATUS_ATTRIBUTE: "7 unanswered"}) == 7


@dataclass
class _Participant:
    identity: str
    kind: int
    attributes: dict[str, str] = field(default_factory=dict)


class _Room(rtc.EventEmitter[str]):
    def __init__(self, *participants: _Participant) -> None:
        super().__init__()
        self.remote_participants = {p.identity: p for p in participants}

    def answer(self, participant: _Participant, **attributes: str) -> None:
        participant.attributes.update(attributes)
        self.emit("participant_attributes_changed", dict(attributes), participant)


async def _ask(room: _Room, answers: list[tuple[_Participant, dict[str, str]]]) -> bool:
    async def send() -> None:  # the agent answers a moment after the command
        async def later() -> None:
            for who, attributes in answers:
                await asyncio.sleep(0)
                room.answer(who, **attributes)

        asyncio.get_running_loop().create_task(later())

    return await await_warm_transfer(
        cast(Any, room),  # reason: a fake room with the events the helper listens to
        caller="sip_1",
        send=send,
        timeout_s=2,
    )


def _status(value: str) -> dict[str, str]:
    return {WARM_TRANSFER_STATUS_ATTRIBUTE: value}


async def test_an_earlier_answer_is_not_taken_for_this_one() -> None:
    agent = _Participant("agent-1", AGENT, _status("1 connected"))
    room = _Room(agent, _Participant("sip_1", SIP))
    answers = [(agent, _status("1 unanswered")), (agent, _status("2 dialling"))]
    assert await _ask(room, [*answers, (agent, _status("2 unanswered"))]) is False


async def test_the_callers_warm_transferred_mark_means_connected() -> None:
    agent = _Participant("agent-1", AGENT)
    caller = _Participant("sip_1", SIP)
    room = _Room(agent, caller)
    answers = [
        (agent, _status("1 dialling")),
        (caller, {"omnivoice.end_reason": "warm_transferred"}),
    ]
    assert await _ask(room, answers) is True


async def test_refused_failed_silent_and_gone() -> None:
    agent = _Participant("agent-1", AGENT)
    room = _Room(agent, _Participant("sip_1", SIP))
    with pytest.raises(UnsupportedActionError, match="not supported by the call's agent: why"):
        await _ask(room, [(agent, _status("1 refused why"))])
    with pytest.raises(ProviderError, match=r"^sip: warm transfer failed: trunk gone$"):
        await _ask(room, [(agent, _status("2 failed trunk gone"))])
    with pytest.raises(ProviderError, match="no warm-transfer outcome within 2 s"):
        await _ask(room, [(agent, _status("3 dialling"))])

    caller = room.remote_participants["sip_1"]

    async def leave() -> None:
        await asyncio.sleep(0.05)
        room.emit("participant_disconnected", caller)

    task = asyncio.get_running_loop().create_task(leave())
    with pytest.raises(SessionClosedError, match="'sip_1' left"):
        await _ask(room, [])
    await task
