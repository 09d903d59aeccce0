"""OutboundDialler: one carrier gateway's outbound calls, placed over the carrier's REST API.

``make_call`` checks the public URL and the REST credentials (ConfigError names the missing
variable, before anything is created), takes a slot from the outbound guard
(:mod:`omnivoice_rtc.limits.outbound`), issues the stream token for a pending call id and
dials; the call's session exists at once and its audio starts when the carrier opens the
stream. Until then the call waits in the gateway's :class:`~.dialled_calls.DialledCalls`
(shared with the gateway's stream side and :mod:`.webhook_answer`), and is dropped once its
stream token has expired.
"""

from __future__ import annotations

import asyncio
import secrets

from omnivoice_rtc._errors import ConfigError
from omnivoice_rtc._urls import ws_url_of
from omnivoice_rtc.carriers.profile import CarrierSettings, DialRequest
from omnivoice_rtc.carriers.registry import AnyProfile
from omnivoice_rtc.shim.carrier_control import CarrierControl
from omnivoice_rtc.shim.carrier_paths import answer_path, media_path
from omnivoice_rtc.shim.dialled_calls import DialledCalls
from omnivoice_rtc.shim.handshake import PENDING_CALL_PREFIX
from omnivoice_rtc.shim.pstn_session import PstnSession
from omnivoice_rtc.shim.shim_runtime import ShimRuntime
from omnivoice_rtc.types import CallInfo

__all__ = ["OutboundDialler"]


class OutboundDialler:
    """Places one carrier's outbound calls (see the module docstring).

    ``public_base_url`` is the URL the carrier reaches us at ("" = none: ``make_call``
    refuses); ``pending`` are the gateway's dialled calls whose stream has not come;
    ``sessions`` is the gateway's session map by call id (a dialled call's session is
    added to it, an expired one removed)."""

    def __init__(
        self,
        *,
        profile: AnyProfile,
        runtime: ShimRuntime,
        public_base_url: str,
        control: CarrierControl,
        pending: DialledCalls,
        sessions: dict[str, PstnSession],
    ) -> None:
        self.profile = profile
        self.runtime = runtime
        self._outbound_base = public_base_url
        self._control = control
        self._pending = pending
        self._sessions = sessions

    @property
    def from_number(self) -> str:
        """Caller id for :meth:`make_call` (the carrier's ``*_FROM_NUMBER`` setting)."""
        settings: CarrierSettings = self.profile.settings
        return settings.from_number

    async def make_call(self, to: str, *, agent_name: str = "") -> PstnSession:
        """Dial ``to`` (see :meth:`.MediaStreamGateway.make_call`)."""
        carrier = self.profile.name
        if not self._outbound_base:
            raise ConfigError(f"OMNIVOICE_PUBLIC_URL: {carrier} make_call needs a public URL")
        self.profile.require_rest("make_call")
        await self.purge_expired()
        lease = await self.runtime.guard.outbound.admit(to)
        try:
            pending_id = PENDING_CALL_PREFIX + secrets.token_hex(8)
            token = await self.runtime.tokens.issue(
                pending_id,
                carrier,
                context={"from": self.from_number, "to": to, "direction": "outbound"},
                source="outbound",
            )
            base = self._outbound_base.rstrip("/")
            dialled = await self.profile.dial(
                DialRequest(
                    to=to,
                    from_=self.from_number,
                    ws_url=ws_url_of(base) + media_path(carrier),
                    answer_url=f"{base}{answer_path(carrier)}?pending={pending_id}",
                    token=token,
                )
            )
        except BaseException:
            await asyncio.shield(lease.release())
            raise
        call = CallInfo(
            call_id=dialled.call_id,
            from_=self.from_number,
            to=to,
            direction="outbound",
            carrier=carrier,
        )
        session = PstnSession(call=call, actions=self._control.actions())
        self._sessions[call.call_id] = session
        await self._pending.add(
            pending_id, session, lease, self.runtime.tokens.ttl_s, agent_name=agent_name
        )
        return session

    async def is_dialled(self, pending_id: str) -> bool:
        """Whether ``pending_id`` (an answer webhook's ``?pending=``) is a call dialled and
        still waiting for its stream (here or, with shared state, on another replica)."""
        return await self._pending.is_pending(pending_id)

    async def answered_elsewhere(self, session: PstnSession) -> bool:
        """Whether the call of ``session`` (dialled here) streams to another replica: no
        bridge here, a live claim in the shared live-call registry."""
        if session.bridge is not None or (
            session.closed and session.end_reason != "streamed_elsewhere"
        ):
            return False
        registry = self.runtime.guard.registry
        owner = await registry.owner_of(self.profile.name, session.id)
        # our own claim: the stream reached this replica and its bridge is being built
        return owner is not None and not registry.is_ours(owner)

    async def purge_expired(self) -> None:
        """Drop dialled calls whose stream never came (their token has expired)."""
        for session in await self._pending.purge():
            self._sessions.pop(session.id, None)
