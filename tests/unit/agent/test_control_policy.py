"""ControlPolicy: a command only from the session's own participant or a server-side
identity (no sender, hidden, kind sip or agent); say capped in length and rate."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from livekit import rtc

from omnivoice_rtc.agent.control_policy import ControlPolicy, ControlRefused, is_server_side
from omnivoice_rtc.livekit.data_topics import ControlCommand
from omnivoice_rtc.settings.limits import ControlLimits

pytestmark = pytest.mark.unit

STANDARD = rtc.ParticipantKind.PARTICIPANT_KIND_STANDARD
SIP = rtc.ParticipantKind.PARTICIPANT_KIND_SIP
AGENT = rtc.ParticipantKind.PARTICIPANT_KIND_AGENT


@dataclass
class Permissions:
    hidden: bool = False


@dataclass
class Sender:
    identity: str
    kind: rtc.ParticipantKind.ValueType = STANDARD
    permissions: Permissions = field(default_factory=Permissions)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


SESSIONS = ("visitor-a", "visitor-b")


def test_a_browser_steers_only_its_own_session() -> None:
    policy = ControlPolicy()
    a = Sender("visitor-a")
    assert policy.authorise(a, ControlCommand("close"), SESSIONS) == "visitor-a"
    assert policy.authorise(a, ControlCommand("close", participant="visitor-a"), SESSIONS) == (
        "visitor-a"
    )
    refused = policy.authorise(a, ControlCommand("close", participant="visitor-b"), SESSIONS)
    assert refused == ControlRefused("sender may only steer its own session")
    say = ControlCommand("say", text="hi", participant="visitor-b")
    assert isinstance(policy.authorise(a, say, SESSIONS), ControlRefused)


def test_a_browser_without_a_session_does_not_fall_back_to_the_only_one() -> None:
    policy = ControlPolicy()
    stranger = Sender("visitor-z")
    refused = policy.authorise(stranger, ControlCommand("close"), ("visitor-a",))
    assert refused == ControlRefused("no session for the command")


@pytest.mark.parametrize(
    "sender",
    [
        None,  # a server SDK, or a hidden participant the SDK does not list
        Sender("omnivoice-sip-observer-sip-1", permissions=Permissions(hidden=True)),
        Sender("pstn-twilio-CA1", kind=SIP),
        Sender("agent-x", kind=AGENT),
    ],
)
def test_server_side_senders_steer_any_session(sender: Sender | None) -> None:
    policy = ControlPolicy()
    assert is_server_side(sender)
    command = ControlCommand("interrupt", participant="visitor-b")
    assert policy.authorise(sender, command, SESSIONS) == "visitor-b"
    assert policy.authorise(sender, ControlCommand("close"), ("only",)) == "only"
    assert policy.authorise(sender, ControlCommand("close"), SESSIONS) == ControlRefused(
        "no session for the command"
    )
    assert not is_server_side(Sender("visitor-a"))


def test_say_length_and_rate_caps() -> None:
    clock = FakeClock()
    policy = ControlPolicy(limits=ControlLimits(say_max_chars=10, say_per_min=2), clock=clock)
    a = Sender("visitor-a")
    long_say = ControlCommand("say", text="x" * 11)
    assert policy.authorise(a, long_say, SESSIONS) == ControlRefused(
        "say text longer than 10 characters"
    )
    ok = ControlCommand("say", text="hello")
    assert policy.authorise(a, ok, SESSIONS) == "visitor-a"
    assert policy.authorise(a, ok, SESSIONS) == "visitor-a"
    assert policy.authorise(a, ok, SESSIONS) == ControlRefused(
        "more than 2 say commands per minute"
    )
    assert policy.authorise(Sender("visitor-b"), ok, SESSIONS) == "visitor-b"  # per session
    assert policy.authorise(a, ControlCommand("interrupt"), SESSIONS) == "visitor-a"
    clock.now += 60.1
    assert policy.authorise(a, ok, SESSIONS) == "visitor-a"
    policy.forget("visitor-a")


def test_speak_counts_as_say_and_hold_needs_the_sessions_own_or_a_server_sender() -> None:
    policy = ControlPolicy(limits=ControlLimits(say_max_chars=10, say_per_min=1))
    operator = Sender("omnivoice-operator-1", kind=AGENT)
    speak = ControlCommand("speak", text="hold on", participant="visitor-a")
    assert policy.authorise(operator, speak, SESSIONS) == "visitor-a"
    assert policy.authorise(operator, speak, SESSIONS) == ControlRefused(
        "more than 1 say commands per minute"
    )
    hold = ControlCommand("hold", participant="visitor-a")
    assert policy.authorise(operator, hold, SESSIONS) == "visitor-a"
    assert policy.authorise(Sender("visitor-b"), hold, SESSIONS) == ControlRefused(
        "sender may only steer its own session"
    )


def test_warm_transfer_dials_out_so_only_a_server_sender_may_ask() -> None:
    policy = ControlPolicy(limits=ControlLimits(say_max_chars=10))
    warm = ControlCommand("warm_transfer", text="VIP caller", to="+15550100")
    assert policy.authorise(Sender("visitor-a"), warm, SESSIONS) == ControlRefused(
        "warm_transfer only from a server-side identity"
    )
    operator = Sender("omnivoice-operator-1", kind=AGENT)
    targeted = ControlCommand(
        "warm_transfer", text="VIP caller", to="+15550100", participant="visitor-a"
    )
    assert policy.authorise(operator, targeted, SESSIONS) == "visitor-a"
    too_long = ControlCommand(
        "warm_transfer", text="x" * 11, to="+15550100", participant="visitor-a"
    )
    assert policy.authorise(operator, too_long, SESSIONS) == ControlRefused(
        "warm_transfer summary longer than 10 characters"
    )
