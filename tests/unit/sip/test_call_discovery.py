"""SIPCallDiscovery: LiveKit's webhooks hand on inbound SIP participants once each; the
scan is slow with webhooks attached; rejected rooms that come back are deleted again."""

from __future__ import annotations

import pytest
from livekit import api

from omnivoice_rtc.livekit.webhooks import LiveKitWebhooks, WebhookEvent
from omnivoice_rtc.settings import LiveKitSettings
from omnivoice_rtc.sip.call_discovery import SIP_KIND, SIPCallDiscovery

pytestmark = pytest.mark.unit


class _Found:
    def __init__(self, *, accept: bool = True) -> None:
        self.calls: list[tuple[str, str]] = []
        self.accept = accept
        self.deleted: list[str] = []

    async def __call__(self, room: str, participant: api.ParticipantInfo) -> bool:
        self.calls.append((room, participant.identity))
        return self.accept

    async def delete(self, room: str) -> None:
        self.deleted.append(room)


def _discovery(found: _Found) -> tuple[SIPCallDiscovery, LiveKitWebhooks]:
    discovery = SIPCallDiscovery(
        on_found=found, delete_room=found.delete, interval_s=0.5, reconcile_interval_s=30.0
    )
    hooks = LiveKitWebhooks(livekit=LiveKitSettings())
    assert discovery.interval_s == 0.5  # no webhooks yet: the scan is the only source
    discovery.attach(hooks)
    assert discovery.interval_s == 30.0
    return discovery, hooks


_n = 0


def _joined(room: str, identity: str, *, kind: int = SIP_KIND, rule: bool = True) -> WebhookEvent:
    global _n
    _n += 1
    attributes = {"sip.ruleID": "SDR_x", "sip.callID": f"SCL_{identity}"} if rule else {}
    return WebhookEvent(
        event="participant_joined",
        id=f"EV_{_n}",
        room=api.Room(name=room),
        participant=api.ParticipantInfo(
            identity=identity,
            kind=api.ParticipantInfo.Kind.Name(kind),
            attributes=attributes,
        ),
    )


async def test_a_sip_participant_joining_is_handed_on_once() -> None:
    found = _Found()
    discovery, hooks = _discovery(found)
    await hooks.dispatch(_joined("sip-a", "sip_1"))
    await hooks.dispatch(_joined("sip-a", "sip_1"))  # a fresh event about the same join
    assert found.calls == [("sip-a", "sip_1")]
    assert (discovery.from_webhooks, discovery.from_scans) == (1, 0)


async def test_other_participants_are_not_calls() -> None:
    found = _Found()
    _, hooks = _discovery(found)
    await hooks.dispatch(_joined("web-a", "visitor", kind=0))
    await hooks.dispatch(_joined("sip-out-a", "sip-dialled", rule=False))  # outbound: no rule
    assert found.calls == []


async def test_a_call_another_replica_serves_is_offered_again_later() -> None:
    found = _Found(accept=False)
    discovery, hooks = _discovery(found)
    await hooks.dispatch(_joined("sip-a", "sip_1"))
    found.accept = True
    await hooks.dispatch(_joined("sip-a", "sip_1"))
    assert found.calls == [("sip-a", "sip_1")] * 2
    assert discovery.from_webhooks == 1


async def test_a_participant_we_dialled_is_never_a_found_call() -> None:
    found = _Found()
    discovery, hooks = _discovery(found)
    discovery.expect("sip-out-a", "sip-1")
    await hooks.dispatch(_joined("sip-out-a", "sip-1"))
    assert found.calls == []


async def test_a_rejected_room_that_comes_back_is_deleted_again() -> None:
    found = _Found()
    discovery, hooks = _discovery(found)
    discovery.rejected("sip-a")
    await hooks.dispatch(
        WebhookEvent(event="room_started", id="EV_r1", room=api.Room(name="sip-a"))
    )
    await hooks.dispatch(
        WebhookEvent(event="room_started", id="EV_r2", room=api.Room(name="sip-b"))
    )
    assert found.deleted == ["sip-a"]


async def test_aclose_unsubscribes() -> None:
    found = _Found()
    discovery, hooks = _discovery(found)
    await discovery.aclose()
    await hooks.dispatch(_joined("sip-a", "sip_1"))
    assert found.calls == []
    assert discovery.interval_s == 0.5


async def test_a_paused_discovery_takes_no_new_calls() -> None:
    found = _Found()
    discovery, hooks = _discovery(found)
    discovery.pause()
    assert discovery.interval_s == 30.0  # an idle scan need not spin
    await hooks.dispatch(_joined("sip-a", "sip_1"))
    await discovery.scan()  # not started: nothing to scan, and paused anyway
    assert found.calls == []
