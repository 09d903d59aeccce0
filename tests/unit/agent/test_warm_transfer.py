"""WarmTransfer's steps in order, against stand-ins for the agent session, the room and
the LiveKit server API: who may hear which track, what is dialled, what happens when the
human answers (subscriptions, the caller's mark, the session closes without a hang-up) and
when they do not (the human removed, everything undone, the agent back with a line)."""

from __future__ import annotations

from typing import Any, cast

import pytest
from livekit import api, rtc
from livekit.agents import AgentSession

from omnivoice_rtc.agent.call_hold import hold_of
from omnivoice_rtc.agent.warm_transfer import WarmTransfer, WarmTransferOptions
from omnivoice_rtc.calls.control import END_REASON_ATTRIBUTE
from omnivoice_rtc.calls.warm_transfer import ROLE_ATTRIBUTE, TRANSFER_TARGET_ROLE

pytestmark = pytest.mark.unit

UNAVAILABLE = "Nobody answered."


class _Handle:
    def __init__(self) -> None:
        self.interrupted = False

    def interrupt(self, *, force: bool = False) -> None:
        self.interrupted = True

    async def wait_for_playout(self) -> None:
        return None


class _Input:
    def __init__(self) -> None:
        self.audio_enabled = True

    def set_audio_enabled(self, enabled: bool) -> None:
        self.audio_enabled = enabled


class _Agent:
    tts = None
    llm = None


class _Session:
    def __init__(self) -> None:
        self.input = _Input()
        self.current_agent = _Agent()
        self.tts = None
        self.llm = None
        self.said: list[str] = []
        self.shut_down = False

    def interrupt(self, *, force: bool = False) -> None:
        return None

    def say(self, text: str, **_options: Any) -> _Handle:
        self.said.append(text or "<hold audio>")
        return _Handle()

    def shutdown(self, *, drain: bool = True) -> None:
        self.shut_down = True


class _Pub:
    kind = rtc.TrackKind.KIND_AUDIO

    def __init__(self, sid: str) -> None:
        self.sid = sid


class _Participant:
    def __init__(self, identity: str, *sids: str) -> None:
        self.identity = identity
        self.attributes: dict[str, str] = {}
        self.track_publications = {sid: _Pub(sid) for sid in sids}


class _Local(_Participant):
    def __init__(self) -> None:
        super().__init__("agent", "TR_main")
        self.permissions: list[tuple[bool, list[Any] | None]] = []
        self.unpublished: list[str] = []

    async def publish_track(self, _track: Any, _options: Any) -> _Pub:
        pub = _Pub("TR_briefing")
        self.track_publications[pub.sid] = pub
        return pub

    def set_track_subscription_permissions(
        self, *, allow_all_participants: bool, participant_permissions: list[Any] | None = None
    ) -> None:
        self.permissions.append((allow_all_participants, participant_permissions))

    async def unpublish_track(self, sid: str) -> None:
        self.unpublished.append(sid)


class _Room:
    name = "sip-1"

    def __init__(self) -> None:
        self.local_participant = _Local()
        self.remote_participants: dict[str, _Participant] = {
            "caller": _Participant("caller", "TR_caller"),
            "recorder": _Participant("recorder"),
        }

    def on(self, _event: str, _handler: Any) -> None:
        return None

    def off(self, _event: str, _handler: Any) -> None:
        return None


class _Api:
    """The server API calls WarmTransfer makes, logged; ``answer`` decides the dial."""

    def __init__(self, room: _Room, *, answer: bool) -> None:
        self.log: list[tuple[str, Any]] = []
        self._room = room
        self._answer = answer
        self.sip = self
        self.room = self

    async def list_outbound_trunk(self, _request: Any) -> Any:
        return api.ListSIPOutboundTrunkResponse(
            items=[api.SIPOutboundTrunkInfo(sip_trunk_id="ST_1", name="out")]
        )

    async def create_sip_participant(self, request: api.CreateSIPParticipantRequest) -> Any:
        self.log.append(("dial", request))
        if not self._answer:
            raise api.SipCallError(
                api.TwirpErrorCode.RESOURCE_EXHAUSTED,
                "busy",
                status=486,
                metadata={"sip_status_code": "486", "sip_status": "Busy Here"},
            )
        human = _Participant(request.participant_identity, "TR_human")
        human.attributes.update(request.participant_attributes)
        self._room.remote_participants[human.identity] = human
        return api.SIPParticipantInfo()

    async def update_subscriptions(self, request: api.UpdateSubscriptionsRequest) -> Any:
        self.log.append(
            ("subscribe", (request.identity, list(request.track_sids), request.subscribe))
        )
        return api.UpdateSubscriptionsResponse()

    async def update_participant(self, request: api.UpdateParticipantRequest) -> Any:
        self.log.append(("attributes", (request.identity, dict(request.attributes))))
        self._room.remote_participants[request.identity].attributes.update(request.attributes)
        return api.ParticipantInfo()

    async def remove_participant(self, request: api.RoomParticipantIdentity) -> Any:
        self.log.append(("remove", request.identity))
        return api.RemoveParticipantResponse()


def _transfer(*, answer: bool) -> tuple[WarmTransfer, _Session, _Room, _Api]:
    session, room = _Session(), _Room()
    lk = _Api(room, answer=answer)
    transfer = WarmTransfer(
        session=cast(AgentSession[Any], session),
        room=cast(rtc.Room, room),
        caller="caller",
        livekit_api=lambda: cast(api.LiveKitAPI, lk),
        options=WarmTransferOptions(outbound_trunk="out", unavailable_line=UNAVAILABLE),
    )
    return transfer, session, room, lk


def _allowed(permissions: list[Any] | None) -> dict[str, Any]:
    return {
        p.participant_identity: True if p.allow_all else sorted(p.allowed_track_sids)
        for p in permissions or []
    }


async def test_answered_the_human_is_briefed_alone_then_connected_and_the_agent_leaves() -> None:
    transfer, session, room, lk = _transfer(answer=True)
    human = transfer.human_identity
    assert await transfer.run("+15550100", "Ann wants a refund") is True

    (allow_all, permissions), *_ = room.local_participant.permissions
    assert not allow_all
    assert _allowed(permissions) == {
        "caller": ["TR_main"],  # hold audio
        human: ["TR_briefing"],  # the briefing only
        "recorder": True,  # others keep everything
    }
    kinds = [kind for kind, _ in lk.log]
    assert kinds[0] == "dial"
    (_, dial) = lk.log[0]
    assert dial.sip_call_to == "+15550100"
    assert dial.sip_trunk_id == "ST_1"
    assert dial.wait_until_answered
    assert dict(dial.participant_attributes) == {ROLE_ATTRIBUTE: TRANSFER_TARGET_ROLE}
    subscriptions = [value for kind, value in lk.log if kind == "subscribe"]
    apart = subscriptions[:-2]
    assert (human, ["TR_caller"], False) in apart
    assert ("caller", ["TR_human"], False) in apart
    assert subscriptions[-2:] == [("caller", ["TR_human"], True), (human, ["TR_caller"], True)]
    marked = kinds.index("attributes")
    assert kinds.index("subscribe") < marked < len(kinds) - 2  # apart, marked, connected
    assert lk.log[marked][1] == ("caller", {END_REASON_ATTRIBUTE: "warm_transferred"})
    assert "remove" not in kinds  # nobody hung up
    assert session.shut_down
    assert not hold_of(cast(AgentSession[Any], session)).held
    assert not session.input.audio_enabled  # the agent never listens again
    assert UNAVAILABLE not in session.said


async def test_not_answered_the_human_is_removed_and_the_agent_is_back() -> None:
    transfer, session, room, lk = _transfer(answer=False)
    assert await transfer.run("sip:desk@pbx.example.com", "Ann wants a refund") is False
    (_, dial) = lk.log[0]
    assert dial.sip_call_to == "desk"
    assert ("remove", transfer.human_identity) in lk.log
    assert not any(kind in ("attributes", "subscribe") for kind, _ in lk.log)
    local = room.local_participant
    assert local.permissions[-1] == (True, None)  # everyone may subscribe again
    assert local.unpublished == ["TR_briefing"]
    assert not hold_of(cast(AgentSession[Any], session)).held
    assert session.input.audio_enabled  # listening again
    assert session.said == ["<hold audio>", UNAVAILABLE]
    assert not session.shut_down
