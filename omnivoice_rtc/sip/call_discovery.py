"""SIPCallDiscovery: how the SIP gateway learns of inbound SIP calls.

LiveKit's webhooks drive it (:meth:`SIPCallDiscovery.attach`, the web server's
``/livekit/webhook``, :mod:`omnivoice_rtc.livekit.webhooks`):

* ``participant_joined`` of a participant of kind ``sip`` whose attributes carry
  ``sip.ruleID`` (livekit-sip puts it in the participant's token, so the webhook has it):
  a new inbound call. Its current attributes are read once more from the RoomService
  (livekit-sip adds the dispatch rule's own attributes, e.g. ``omnivoice.carrier``, right
  after the join), completed from the rule itself when they are not there yet
  (:mod:`.rule_attributes`) and handed to ``on_found``;
* ``room_started`` of a room whose call was rejected or ended: deleted again (an agent
  dispatched by the rule may join after the room was deleted and re-create it);
* ``room_finished``: the room's participants are forgotten (keeps the memory bounded).

A reconciler scans ``ListRooms`` + ``ListParticipants`` every ``interval_s`` s and hands
on any SIP participant a webhook did not bring (a webhook lost while the web server
restarted, a call another replica owned and dropped). With webhooks attached the interval
is slow (``SIPGatewayOptions.reconcile_interval_s``, 30 s by default); a gateway that
receives no webhooks (a script of its own, no web server) scans at
``SIPGatewayOptions.poll_interval_s`` (0.5 s) as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Final

import aiohttp
from livekit import api

from omnivoice_rtc.livekit.webhooks import LiveKitWebhooks, WebhookEvent
from omnivoice_rtc.sip.rule_attributes import DispatchRuleAttributes

__all__ = ["SIP_KIND", "FoundCall", "SIPCallDiscovery"]

logger = logging.getLogger(__name__)

SIP_KIND: Final = 3  # livekit.ParticipantInfo.Kind.SIP
_REJECTED_ROOM_WATCH_S: Final = 120.0

FoundCall = Callable[[str, api.ParticipantInfo], Awaitable[bool]]
"""``async (room name, participant) -> handled?``, quick (the call is served by a task of the
caller's): False leaves it for the next scan (another replica owns the call now)."""

Deleter = Callable[[str], Awaitable[None]]


class SIPCallDiscovery:
    """Finds inbound SIP participants from webhooks and a reconciling scan (see the module
    docstring). ``on_found`` is awaited once per (room, identity) that it handled."""

    def __init__(
        self,
        *,
        on_found: FoundCall,
        delete_room: Deleter,
        interval_s: float,
        reconcile_interval_s: float,
    ) -> None:
        self._on_found = on_found
        self._delete_room = delete_room
        self._poll_s = interval_s
        self._reconcile_s = reconcile_interval_s
        self._api: api.LiveKitAPI | None = None
        self._seen: set[tuple[str, str]] = set()  # (room, identity) handled
        self._expected: set[tuple[str, str]] = set()  # placed by us (outbound calls)
        self._rejected: dict[str, float] = {}  # room -> monotonic deadline (s)
        self._unsubscribe: list[Callable[[], None]] = []
        self._task: asyncio.Task[None] | None = None
        self._paused = False
        self._rule_attributes = DispatchRuleAttributes()
        self.from_webhooks = 0
        """Calls handed on from a webhook (the rest came from a scan)."""
        self.from_scans = 0

    @property
    def interval_s(self) -> float:
        """Seconds between scans now: slow with webhooks attached (or paused), fast without."""
        return self._reconcile_s if self._unsubscribe or self._paused else self._poll_s

    @property
    def paused(self) -> bool:
        return self._paused

    def attach(self, hooks: LiveKitWebhooks) -> None:
        """Take calls from LiveKit's webhooks (the scan becomes the slow reconciler)."""
        self._unsubscribe += [
            hooks.subscribe("participant_joined", self._on_participant_joined),
            hooks.subscribe("room_started", self._on_room_started),
            hooks.subscribe("room_finished", self._on_room_finished),
        ]

    def start(self, lk: api.LiveKitAPI) -> None:
        self._api = lk
        self._task = asyncio.get_running_loop().create_task(
            self._scan_loop(), name="omnivoice.sip_scan"
        )

    async def aclose(self) -> None:
        """Stop the scan and the webhook subscriptions."""
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._api = None

    def pause(self) -> None:
        """Take no new calls (a draining web process): webhooks unsubscribed, scans idle;
        the calls already handed on are untouched."""
        self._paused = True
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()

    def expect(self, room: str, identity: str) -> None:
        """A participant we place ourselves (an outbound call): never a found call."""
        self._expected.add((room, identity))

    def forget(self, room: str, identity: str) -> None:
        """The outbound call placed in ``room`` ended (or failed)."""
        self._expected.discard((room, identity))

    def rejected(self, room: str) -> None:
        """The room's call was rejected or has ended: for the next 120 s, each scan deletes
        it again while it is listed, and a ``room_started`` for it deletes it again (an
        agent dispatched by the rule may re-create it; a room whose livekit-server node
        died stays listed until a delete re-homes it, see ``livekit.rooms``)."""
        self._rejected[room] = time.monotonic() + _REJECTED_ROOM_WATCH_S

    # ------------------------------------------------------------------ webhooks

    async def _on_participant_joined(self, event: WebhookEvent) -> None:
        participant, room = event.participant, event.room.name
        if participant.kind != SIP_KIND or "sip.ruleID" not in participant.attributes:
            return
        current = participant
        if self._api is not None:
            with contextlib.suppress(api.TwirpError, aiohttp.ClientError, TimeoutError):
                current = await self._api.room.get_participant(
                    api.RoomParticipantIdentity(room=room, identity=participant.identity)
                )
        if await self._hand_on(room, current):
            self.from_webhooks += 1

    async def _on_room_started(self, event: WebhookEvent) -> None:
        deadline = self._rejected.get(event.room.name)
        if deadline is not None and deadline > time.monotonic():
            await self._delete_room(event.room.name)

    async def _on_room_finished(self, event: WebhookEvent) -> None:
        name = event.room.name
        self._seen = {key for key in self._seen if key[0] != name}

    async def _hand_on(self, room: str, participant: api.ParticipantInfo) -> bool:
        key = (room, participant.identity)
        if key in self._seen or key in self._expected:
            return False
        self._seen.add(key)  # before the await: a scan and a webhook at once hand on one
        if self._api is not None:
            participant = await self._rule_attributes.complete(participant, self._api)
        if await self._on_found(room, participant):
            return True
        self._seen.discard(key)
        return False

    # ------------------------------------------------------------------ scan

    async def _scan_loop(self) -> None:
        while True:
            try:
                await self.scan()
            except (api.TwirpError, aiohttp.ClientError, TimeoutError) as exc:
                # livekit-server briefly unreachable: scan again at the next tick
                logger.warning("sip room scan failed", extra={"error": repr(exc)})
            await asyncio.sleep(self.interval_s)

    async def scan(self) -> None:
        """One pass over every room: hand on the SIP participants not handled yet."""
        lk = self._api
        if lk is None or self._paused:
            return
        rooms = await lk.room.list_rooms(api.ListRoomsRequest())
        names = {room.name for room in rooms.rooms}
        now = time.monotonic()
        self._rejected = {n: t for n, t in self._rejected.items() if t > now}
        for name in names & self._rejected.keys():
            await self._delete_room(name)
        self._seen = {key for key in self._seen if key[0] in names}  # bounded memory
        for room in rooms.rooms:
            listed = await lk.room.list_participants(api.ListParticipantsRequest(room=room.name))
            for participant in listed.participants:
                if participant.kind != SIP_KIND or "sip.ruleID" not in participant.attributes:
                    continue  # not (yet) an inbound call: livekit-sip sets sip.ruleID
                if await self._hand_on(room.name, participant):
                    self.from_scans += 1
