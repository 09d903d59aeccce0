"""How a :class:`~omnivoice_rtc.agent.livekit_session.LiveKitSession` sets up livekit-agents:
the ``AgentSession`` for a pipeline's parts and the ``RoomOptions`` it starts with.

Part of :mod:`omnivoice_rtc.agent.livekit_session`, kept apart to keep that module short.
"""

from __future__ import annotations

from typing import cast

from livekit.agents import AgentSession, room_io
from livekit.agents.voice.turn import TurnHandlingOptions

from omnivoice_rtc.agent.adaptive_endpointing import adaptive_turn_handling, short_silence_vad
from omnivoice_rtc.agent.backchannel import BackchannelFilterSTT
from omnivoice_rtc.agent.participants import interruption_settings
from omnivoice_rtc.agent.room_audio_output import INPUT_FRAME_MS
from omnivoice_rtc.pipelines.parts import PipelineParts
from omnivoice_rtc.types import InterruptionMode

__all__ = ["new_agent_session", "room_options"]


def new_agent_session(
    parts: PipelineParts,
    *,
    interruption_mode: InterruptionMode,
    user_away_timeout_s: float | None,
) -> AgentSession[None]:
    """An AgentSession running ``parts`` (STT, LLM, TTS, VAD, tools) with the parts'
    ``session_options``; its turn handling interrupts as ``interruption_mode`` says
    (over the parts' own interruption settings), and unless the parts set them: no AEC
    warm-up and ``user_away_timeout_s`` (s; None: never away). With ``parts.endpointing``,
    an STT and a silero VAD whose turns the VAD ends (``turn_detection`` "vad" or unset),
    the turn ends adaptively (:mod:`~omnivoice_rtc.agent.adaptive_endpointing`). Unless
    interruptions are disabled, the STT is wrapped so that a backchannel said over a reply
    does not end it (:mod:`~omnivoice_rtc.agent.backchannel`)."""
    opts = dict(parts.session_options)
    turn_handling = dict(opts.pop("turn_handling", {}))
    vad = parts.vad
    if (
        parts.endpointing is not None
        and parts.stt is not None
        and turn_handling.get("turn_detection", "vad") == "vad"
        and (short := short_silence_vad(vad, parts.endpointing.complete_silence_ms)) is not None
    ):
        vad = short
        adaptive = adaptive_turn_handling(parts.endpointing)
        turn_handling["turn_detection"] = adaptive["turn_detection"]
        turn_handling["endpointing"] = {
            **turn_handling.get("endpointing", {}),
            **adaptive["endpointing"],
        }
    turn_handling["interruption"] = {
        **turn_handling.get("interruption", {}),
        **interruption_settings(interruption_mode),
    }
    opts.setdefault("aec_warmup_duration", None)
    opts.setdefault("user_away_timeout", user_away_timeout_s)
    holder: list[AgentSession[None]] = []

    def reply_in_progress() -> bool:
        speech = holder[0].current_speech if holder else None
        return speech is not None and not speech.done() and not speech.interrupted

    stt = parts.stt
    if stt is not None and interruption_mode is not InterruptionMode.DISABLED:
        stt = BackchannelFilterSTT(stt, reply_in_progress=reply_in_progress)
    session = AgentSession(
        stt=stt,
        llm=parts.llm,
        tts=parts.tts,
        vad=vad,
        tools=list(parts.tools),
        turn_handling=cast(TurnHandlingOptions, turn_handling),
        **opts,
    )
    holder.append(session)
    return session


def room_options(
    participant_identity: str, *, text_input: bool, input_frame_ms: int = INPUT_FRAME_MS
) -> room_io.RoomOptions:
    """RoomIO options for a session with ``participant_identity``: its audio in
    ``input_frame_ms`` ms frames, closed when it disconnects, text input only for the
    primary session, and no RoomIO audio output (the session publishes its own)."""
    return room_io.RoomOptions(
        participant_identity=participant_identity,
        close_on_disconnect=True,
        text_input=text_input,
        audio_input=room_io.AudioInputOptions(frame_size_ms=input_frame_ms),
        audio_output=False,
    )
