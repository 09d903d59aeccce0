"""transfer_sip: a transferred participant that livekit-sip left in the room is removed; a
REFER answer livekit-sip lost to its race is taken as accepted, a late one is a failure."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, cast

import pytest
from livekit import api

from omnivoice_rtc._errors import ProviderError
from omnivoice_rtc.calls import sip_actions
from omnivoice_rtc.calls.control import parse_transfer_target

pytestmark = pytest.mark.unit


@dataclass
class _Room:
    present_for: int
    """GetParticipant answers this many times before NOT_FOUND (a huge number: never)."""
    gets: int = 0
    removed: list[str] = field(default_factory=list)

    async def update_participant(self, request: api.UpdateParticipantRequest) -> None:
        return None

    async def get_participant(self, request: api.RoomParticipantIdentity) -> None:
        self.gets += 1
        if self.gets > self.present_for:
            raise api.TwirpError(api.TwirpErrorCode.NOT_FOUND, "gone", status=404)

    async def remove_participant(self, request: api.RoomParticipantIdentity) -> None:
        self.removed.append(request.identity)


LOST = "transaction failed to complete (0 intermediate responses)"


@dataclass
class _Sip:
    error: str = ""
    delay_s: float = 0.0

    async def transfer_sip_participant(
        self, request: api.TransferSIPParticipantRequest
    ) -> api.TransferSIPParticipantResponse:
        await asyncio.sleep(self.delay_s)
        if self.error:
            raise api.TwirpError(api.TwirpErrorCode.UNKNOWN, self.error, status=408)
        return api.TransferSIPParticipantResponse(
            status=api.SIPTransferStatus.STS_TRANSFER_SUCCESSFUL
        )


@dataclass
class _Api:
    room: _Room
    sip: _Sip = field(default_factory=_Sip)


async def _transfer(room: _Room, sip: _Sip | None = None) -> None:
    await sip_actions.transfer_sip(
        cast(Any, _Api(room=room, sip=sip or _Sip())),  # reason: a fake of the services used
        room="sip-room",
        identity="sip_caller",
        target=parse_transfer_target("+15550100"),
    )


async def test_a_participant_that_leaves_after_the_refer_is_not_removed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sip_actions, "_LEAVE_POLL_S", 0.01)
    room = _Room(present_for=2)
    await _transfer(room)
    assert room.gets == 3
    assert room.removed == []


async def test_a_participant_still_there_after_the_grace_is_removed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sip_actions, "_LEAVE_POLL_S", 0.01)
    monkeypatch.setattr(sip_actions, "TRANSFER_LEAVE_S", 0.1)
    room = _Room(present_for=10**6)
    await _transfer(room)
    assert room.removed == ["sip_caller"]


async def test_an_answer_livekit_sip_lost_at_once_counts_as_accepted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sip_actions, "_LEAVE_POLL_S", 0.01)
    monkeypatch.setattr(sip_actions, "TRANSFER_LEAVE_S", 0.1)
    room = _Room(present_for=10**6)
    await _transfer(room, _Sip(error=LOST))
    assert room.removed == ["sip_caller"]  # the old leg is closed as after a success


async def test_no_answer_for_long_or_another_error_is_a_failure(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sip_actions, "LOST_RESPONSE_WITHIN_S", 0.05)
    for sip in (_Sip(error=LOST, delay_s=0.1), _Sip(error="no route to host")):
        room = _Room(present_for=10**6)
        with pytest.raises(ProviderError, match=r"^livekit: TransferSIPParticipant failed: "):
            await _transfer(room, sip)
        assert room.removed == []
