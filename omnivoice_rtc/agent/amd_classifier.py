"""An offline classifier for livekit-agents' answering-machine detection.

livekit-agents' ``voice.amd.AMD`` asks an LLM to classify what the callee said (with the
tools ``save_prediction(label)`` and ``postpone_termination(seconds)``). The ``local``
pipeline has no language model and a realtime model is not an ``llm.LLM``, so for them
:class:`KeywordAMDLLM` plays that LLM with phrase rules (:func:`classify_greeting`):

* ``machine-unavailable``: "mailbox is full", "has not been set up", ...
* ``machine-ivr``: "press" and a digit ("press 1", "press one");
* ``machine-vm``: "leave a message", "after the tone/beep", "not available", "voicemail",
  "you have reached", "can't take your call", ...
* ``human``: a short answer (at most :data:`HUMAN_MAX_WORDS` words: "hello?", "yes, this
  is Sam");
* otherwise undecided: it asks AMD to wait for more speech (``postpone_termination``)
  while it may, else it makes no prediction (AMD's own timeout then settles
  ``uncertain``).

A pipeline with a real ``llm.LLM`` (the text pipeline) uses that model instead.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any, Final, Literal

from livekit.agents import llm
from livekit.agents.types import (
    DEFAULT_API_CONNECT_OPTIONS,
    NOT_GIVEN,
    APIConnectOptions,
    NotGivenOr,
)
from livekit.agents.voice.amd import AMDCategory

__all__ = ["HUMAN_MAX_WORDS", "KeywordAMDLLM", "classify_greeting"]

HUMAN_MAX_WORDS: Final = 5
"""A greeting of at most this many words, with no machine phrase, is a person's."""
POSTPONE_S: Final = 3.0
"""How long (s) an undecided classification asks AMD to wait for more speech."""

_UNAVAILABLE = (
    "mailbox is full",
    "mailbox full",
    "not been set up",
    "hasn't been set up",
    "not set up",
    "cannot accept",
    "can't accept",
    "no longer in service",
)
_VOICEMAIL = (
    "leave a message",
    "leave your message",
    "leave me a message",
    "leave a voice",
    "leave your name",
    "after the tone",
    "after the beep",
    "at the tone",
    "at the beep",
    "not available",
    "unavailable",
    "voicemail",
    "voice mail",
    "you have reached",
    "you've reached",
    "take your call",
    "come to the phone",
    "get back to you",
    "call you back",
    "away from",
    "record your message",
)
_IVR = re.compile(r"\bpress\s+(\d|one|two|three|four|five|six|seven|eight|nine|zero|star|pound)\b")
_WORD = re.compile(r"[a-z0-9']+")


def classify_greeting(transcript: str) -> AMDCategory | None:
    """The category of what the callee said, or None when it cannot tell yet."""
    text = " ".join(_WORD.findall(transcript.lower().replace("’", "'")))
    if not text:
        return None
    if any(p in text for p in _UNAVAILABLE):
        return AMDCategory.MACHINE_UNAVAILABLE
    if _IVR.search(text):
        return AMDCategory.MACHINE_IVR
    if any(p in text for p in _VOICEMAIL):
        return AMDCategory.MACHINE_VM
    if len(text.split()) <= HUMAN_MAX_WORDS:
        return AMDCategory.HUMAN
    return None


class KeywordAMDLLM(llm.LLM[Literal["metrics_collected"]]):
    """A stand-in ``llm.LLM`` for AMD's classifier: answers with the tool call
    :func:`classify_greeting` decides (see the module docstring)."""

    @property
    def model(self) -> str:
        return "omnivoice-amd-keywords"

    @property
    def provider(self) -> str:
        return "omnivoice"

    def chat(
        self,
        *,
        chat_ctx: llm.ChatContext,
        tools: list[llm.Tool] | None = None,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
        parallel_tool_calls: NotGivenOr[bool] = NOT_GIVEN,
        tool_choice: NotGivenOr[llm.ToolChoice] = NOT_GIVEN,
        extra_kwargs: NotGivenOr[dict[str, Any]] = NOT_GIVEN,
    ) -> _KeywordStream:
        return _KeywordStream(self, chat_ctx=chat_ctx, tools=tools or [], conn_options=conn_options)


class _KeywordStream(llm.LLMStream):
    async def _run(self) -> None:
        users = [m for m in self._chat_ctx.messages() if m.role == "user"]
        transcript = (users[-1].text_content or "") if users else ""
        names = {t.id for t in self._tools}
        category = classify_greeting(transcript)
        call: tuple[str, dict[str, Any]] | None = None
        if category is not None and "save_prediction" in names:
            call = ("save_prediction", {"label": category.value})
        elif category is None and "postpone_termination" in names:
            call = ("postpone_termination", {"seconds": POSTPONE_S})
        request_id = f"amd_{uuid.uuid4().hex[:12]}"
        if call is None:
            self._event_ch.send_nowait(
                llm.ChatChunk(id=request_id, delta=llm.ChoiceDelta(role="assistant", content=""))
            )
            return
        name, arguments = call
        tool_call = llm.FunctionToolCall(
            name=name, arguments=json.dumps(arguments), call_id=f"call_{request_id}"
        )
        self._event_ch.send_nowait(
            llm.ChatChunk(
                id=request_id, delta=llm.ChoiceDelta(role="assistant", tool_calls=[tool_call])
            )
        )
