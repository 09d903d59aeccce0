"""A receptionist for Acme Dental: it greets, tells the opening hours and takes messages.

One factory serves browsers, SIP calls and carrier calls alike; the call's
:class:`~omnivoice_rtc.CallContext` says who called and how, and the message book files
each message under the caller's number (or the browser's identity).

    omnivoice-rtc worker dev --agent examples.receptionist:build
"""

from __future__ import annotations

import json
import tempfile
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from livekit.agents import function_tool

from omnivoice_rtc import AgentSpec, CallContext, Greeting, SilenceHandling

__all__ = ["GREETING", "HOURS", "MessageBook", "build", "opening_hours"]

GREETING = "Thank you for calling Acme Dental. I can tell you our opening hours, or take a message."
HOURS = "We are open Monday to Friday, from nine in the morning to five in the afternoon."
MESSAGE_TAKEN = "Thank you. I have written down your message for the team."
INSTRUCTIONS = (
    "You are the receptionist of Acme Dental. Be brief and friendly. Use opening_hours when "
    "asked when the office is open, and take_message when the caller wants to leave a "
    "message; repeat the message back in one sentence."
)


class MessageBook:
    """Messages as JSON lines in ``path`` (one object per message; safe across threads)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def add(self, *, caller: str, route: str, message: str) -> None:
        entry = {
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "caller": caller,
            "route": route,
            "message": message,
        }
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as out:
                out.write(json.dumps(entry) + "\n")

    def read(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        lines = self.path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]


MESSAGES = MessageBook(Path(tempfile.gettempdir()) / "acme-dental" / "messages.jsonl")
"""Where this example keeps messages (a real office would use its own system)."""


@function_tool
async def opening_hours() -> str:
    """When the office is open."""
    return HOURS


def build(ctx: CallContext) -> AgentSpec:
    """The receptionist for one call."""
    caller = ctx.caller or ctx.participant_identity

    @function_tool
    async def take_message(message: str) -> str:
        """Write down a message for the dental team. ``message``: what the caller said."""
        MESSAGES.add(caller=caller, route=ctx.route, message=message)
        return MESSAGE_TAKEN

    return AgentSpec(
        instructions=INSTRUCTIONS,
        tools=[opening_hours, take_message],
        greeting=Greeting(inbound=GREETING, outbound="Hello, this is Acme Dental."),
        silence=SilenceHandling(timeout_s=15),
        max_call_duration=600,
    )
