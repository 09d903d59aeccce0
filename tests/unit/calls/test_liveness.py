"""Agent recovery decisions, the resume metadata a fresh agent gets, and how a ping's RPC
answer is read (a stand-in participant answers as livekit's SDK would)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from livekit import rtc

from omnivoice_rtc.calls.liveness import (
    PING_METHOD,
    AgentRecovery,
    Apologize,
    Redispatch,
    ping_agent,
    resume_metadata,
)
from omnivoice_rtc.types import Turn

pytestmark = pytest.mark.unit


def test_fresh_agents_until_the_tries_are_used_then_the_apology_once() -> None:
    recovery = AgentRecovery(tries=2)
    assert recovery.on_agent_lost("agent_unresponsive") == Redispatch(1, "agent_unresponsive")
    assert recovery.on_agent_lost("agent_never_joined") == Redispatch(2, "agent_never_joined")
    assert recovery.on_agent_lost("agent_left") == Apologize("agent_left")
    assert recovery.giving_up
    assert recovery.on_agent_lost("agent_left") is None  # the call is ending already
    assert recovery.used == 2


def test_no_tries_apologizes_at_the_first_loss() -> None:
    recovery = AgentRecovery(tries=0)
    assert recovery.on_agent_lost("agent_left") == Apologize("agent_left")
    with pytest.raises(ValueError, match="tries: must be >= 0"):
        AgentRecovery(tries=-1)


def _turn(role: str, text: str) -> Turn:
    return Turn(role=role, text=text, timestamp=datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC))


def test_resume_metadata_carries_the_transcript_under_the_agreed_key() -> None:
    turns = [_turn("user", "my order"), _turn("agent", "which one?")]
    data = json.loads(resume_metadata(turns))
    assert data == {"omnivoice": {"resume": {"transcript": [t.to_dict() for t in turns]}}}
    assert [Turn.from_dict(t) for t in data["omnivoice"]["resume"]["transcript"]] == turns


def test_resume_metadata_keeps_the_latest_turns_that_fit() -> None:
    turns = [_turn("user", f"{i:03d}" + "x" * 100) for i in range(50)]
    text = resume_metadata(turns, max_bytes=2000)
    assert len(text.encode()) <= 2000
    kept = json.loads(text)["omnivoice"]["resume"]["transcript"]
    assert 0 < len(kept) < 50
    assert kept[-1]["text"].startswith("049")  # the newest survive
    assert json.loads(resume_metadata([]))["omnivoice"]["resume"]["transcript"] == []


class _Participant:
    """Answers perform_rpc as livekit's SDK does for a given outcome."""

    def __init__(self, outcome: rtc.RpcError | str) -> None:
        self.outcome = outcome
        self.calls: list[dict[str, object]] = []

    async def perform_rpc(self, **kwargs: object) -> str:
        self.calls.append(kwargs)
        if isinstance(self.outcome, rtc.RpcError):
            raise self.outcome
        return self.outcome


Code = rtc.RpcError.ErrorCode


@pytest.mark.parametrize(
    ("outcome", "alive"),
    [
        ("pong", True),
        (rtc.RpcError(Code.UNSUPPORTED_METHOD, "Method not supported at destination"), True),
        (rtc.RpcError(Code.APPLICATION_ERROR, "handler failed"), True),
        (rtc.RpcError(Code.RESPONSE_TIMEOUT, "Response timeout"), True),
        (rtc.RpcError(Code.CONNECTION_TIMEOUT, "Connection timeout"), False),
        (rtc.RpcError(Code.RECIPIENT_DISCONNECTED, "Recipient disconnected"), False),
        (rtc.RpcError(Code.RECIPIENT_NOT_FOUND, "Recipient not found"), False),
        (rtc.RpcError(Code.SEND_FAILED, "Failed to send"), False),
    ],
    ids=lambda v: v.message if isinstance(v, rtc.RpcError) else str(v),
)
async def test_a_ping_counts_any_answer_from_the_agents_process(
    outcome: rtc.RpcError | str, alive: bool
) -> None:
    participant = _Participant(outcome)
    assert await ping_agent(participant, "agent-AJ_1", timeout_s=1.5) is alive  # type: ignore[arg-type]  # reason: a stand-in with perform_rpc only
    (call,) = participant.calls
    assert call["destination_identity"] == "agent-AJ_1"
    assert call["method"] == PING_METHOD
    assert call["max_round_trip_latency"] == 1.5  # the ack deadline is the ping's timeout
