"""Example (b): an outbound reminder call.

    omnivoice-rtc call +15550100 --via twilio --agent examples.reminder:build

``build(ctx)`` is the agent factory the worker calls for each call (``ctx`` is the call's
``CallContext``: route, direction, caller, callee, parameters). It returns a plain
livekit-agents ``Agent`` whose ``on_enter`` speaks the reminder as soon as the callee's
audio path is up, so the callee hears it without saying anything first; the agent then
answers questions with its instructions (on the ``local`` pipeline: the rules responder).
See README.md beside this file.
"""

from __future__ import annotations

from typing import Any, Final

from livekit.agents import Agent

__all__ = ["DEFAULT_MESSAGE", "ReminderAgent", "build", "reminder_text"]

DEFAULT_MESSAGE: Final = "your appointment with Doctor Smith is tomorrow at ten in the morning"
"""What is reminded when the call carries no ``reminder`` parameter."""

INSTRUCTIONS: Final = (
    "You are calling on behalf of a dental practice to remind the callee of an appointment. "
    "Be brief and friendly. If they want to reschedule, tell them the practice will call "
    "back. Do not make up other appointments."
)


def reminder_text(message: str) -> str:
    """The sentence the agent opens the call with."""
    return f"Hello, this is a reminder from your dental practice: {message}. Goodbye for now."


class ReminderAgent(Agent):
    """Speaks the reminder first, then answers with :data:`INSTRUCTIONS`."""

    def __init__(self, *, message: str = DEFAULT_MESSAGE) -> None:
        super().__init__(instructions=INSTRUCTIONS)
        self.message = message

    @property
    def greeting(self) -> str:
        return reminder_text(self.message)

    async def on_enter(self) -> None:
        """Called when the agent takes over the session: say the reminder at once."""
        self.session.say(self.greeting, allow_interruptions=True)


def build(ctx: Any) -> ReminderAgent:
    """The agent factory (``examples.reminder:build``): ``ctx.parameters["reminder"]``,
    when the call carries one, replaces :data:`DEFAULT_MESSAGE`."""
    parameters = getattr(ctx, "parameters", None) or {}
    message = str(parameters.get("reminder", "")).strip() or DEFAULT_MESSAGE
    return ReminderAgent(message=message)
