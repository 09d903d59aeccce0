"""BridgeHooks: what a :class:`~omnivoice_rtc.shim.call_bridge.CallBridge` tells its owner
(the session and gateway of the call) and asks of it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from omnivoice_rtc.types import Event, Turn

__all__ = ["BridgeHooks"]


class BridgeHooks:
    """Optional callbacks from a bridge to its session / gateway."""

    __slots__ = ("hangup", "on_agent_replaced", "on_closed", "on_event", "transcript")

    def __init__(
        self,
        *,
        on_event: Callable[[Event], None] | None = None,
        hangup: Callable[[], Awaitable[None]] | None = None,
        on_closed: Callable[[str], None] | None = None,
        transcript: Callable[[], Sequence[Turn]] | None = None,
        on_agent_replaced: Callable[[], None] | None = None,
    ) -> None:
        self.on_event = on_event or (lambda event: None)
        """Every event: the agent's ``omnivoice.events`` plus the shim's own."""
        self.hangup = hangup
        """Ends the call at the carrier (REST); None = closing the socket is the hang-up."""
        self.on_closed = on_closed or (lambda reason: None)
        """Called once when the bridge has torn down, with the reason."""
        self.transcript = transcript or list
        """The conversation so far (handed to a fresh agent when the agent died)."""
        self.on_agent_replaced = on_agent_replaced or (lambda: None)
        """A fresh agent was dispatched into the call (its agent died)."""
