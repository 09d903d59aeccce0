"""LiveKitGateway: the in-process WebRTCGateway (Go ``WebRTCGateway`` on LiveKit).

The gateway joins a named room directly as the agent (its own token, no dispatch) and
runs one :class:`~.session.LiveKitSession` per remote participant in this process, so
the Session objects are reachable (events(), transcript(), send_text(), ...). For rooms
that should get the agent by dispatch (browser pages, SIP calls), run agents/worker.py;
both share :class:`~.entrypoint.RoomAgent`.

    gateway = LiveKitGateway(config=WebRTCConfig(room_name="demo"))
    gateway.on_participant_joined(handler)   # return -> session starts; raise -> ignored
    # or your agent per participant: LiveKitGateway(..., agent_factory=build)
    await gateway.start()                    # validates config, joins config.room_name
    ...
    await gateway.stop()                     # drain: no new sessions, wait, then close
"""

from __future__ import annotations

import asyncio
import logging

from livekit import rtc

from omnivoice_rtc._errors import ConfigError
from omnivoice_rtc._urls import ws_url_of
from omnivoice_rtc.agent.job import AgentSettings, PartsFactory, RoomAgent
from omnivoice_rtc.agent.livekit_session import LiveKitSession
from omnivoice_rtc.agent.plugin import AgentFactory, SessionPlanner
from omnivoice_rtc.livekit import tokens
from omnivoice_rtc.livekit.names import validate_room_name
from omnivoice_rtc.pipelines.factory import (
    build_pipeline,
    pipeline_settings_from_webrtc_config,
)
from omnivoice_rtc.settings import LiveKitSettings, environment
from omnivoice_rtc.types import (
    LiveKitCredentials,
    LLMProvider,
    ParticipantHandler,
    ProviderName,
    WebRTCConfig,
    WebRTCSession,
)

__all__ = ["LiveKitGateway"]

logger = logging.getLogger(__name__)


def _credentials(config: WebRTCConfig) -> LiveKitSettings:
    creds: LiveKitCredentials = config.livekit
    if not (creds.server_url or creds.api_key or creds.api_secret):
        return LiveKitSettings.from_env(environment())
    missing = [
        n
        for n, v in (
            ("ServerURL", creds.server_url),
            ("APIKey", creds.api_key),
            ("APISecret", creds.api_secret),
        )
        if not v
    ]
    if missing:
        raise ConfigError(f"WebRTCConfig.{missing[0]}: required when LiveKit credentials are given")
    return LiveKitSettings(
        url=ws_url_of(creds.server_url), api_key=creds.api_key, api_secret=creds.api_secret
    )


class LiveKitGateway:
    """WebRTCGateway on LiveKit rooms; see the module docstring.

    ``settings`` overrides what is derived from ``config`` (pipeline, session options);
    ``llm_provider`` drives the text pipeline's LLM; ``parts_factory`` replaces the
    configured pipeline with your own parts per session; ``agent_factory`` is your
    ``build(ctx) -> Agent | AgentSpec`` (docs/agents.md), called for every participant;
    ``drain_timeout_s`` bounds stop().
    """

    def __init__(
        self,
        *,
        config: WebRTCConfig | None = None,
        settings: AgentSettings | None = None,
        llm_provider: LLMProvider | None = None,
        parts_factory: PartsFactory | None = None,
        agent_factory: AgentFactory | None = None,
        drain_timeout_s: float = 10.0,
    ) -> None:
        self._config = config or WebRTCConfig()
        self._settings = settings or AgentSettings(
            agent_name=self._config.agent_name,
            pipeline=pipeline_settings_from_webrtc_config(self._config),
            session=self._config.session,
            output_sample_rate_hz=self._config.audio.sample_rate,
        )
        self._llm_provider = llm_provider
        self._parts_factory = parts_factory
        self._agent_factory = agent_factory
        self._drain_timeout_s = drain_timeout_s
        self._handler: ParticipantHandler | None = None
        self._livekit: LiveKitSettings | None = None
        self._room: rtc.Room | None = None
        self._agent: RoomAgent | None = None
        self._agent_task: asyncio.Task[None] | None = None
        self._started = False

    @property
    def name(self) -> ProviderName:
        return ProviderName.LIVEKIT

    async def start(self) -> None:
        """Validate configuration (ConfigError names the setting), then join ``room_name`` if set."""
        if self._started:
            return
        self._livekit = _credentials(self._config)
        if self._parts_factory is None:  # fail fast on bad settings
            build_pipeline(self._settings.pipeline, llm_provider=self._llm_provider)
        self._started = True
        if self._config.room_name:
            await self.join_room(self._config.room_name)

    async def stop(self) -> None:
        """Graceful drain: no new sessions, wait up to ``drain_timeout_s``, close the rest."""
        if self._agent is not None:
            await self._agent.drain(timeout_s=self._drain_timeout_s)
        await self.leave_room()
        self._started = False

    def on_participant_joined(self, handler: ParticipantHandler) -> None:
        self._handler = handler

    def _agent_token(self, room_name: str) -> str:
        assert self._livekit is not None
        return tokens.agent_token(
            credentials=self._livekit,
            room=room_name,
            identity=self._config.agent_identity,
            name=self._config.agent_name,
        )

    async def join_room(self, room_name: str) -> None:
        """Join ``room_name`` as the agent (leaving the current room first)."""
        validate_room_name(room_name, argument="room_name")
        if not self._started:
            await self.start()
            if self.current_room() == room_name:
                return
        await self.leave_room()
        assert self._livekit is not None
        room = rtc.Room()
        await room.connect(self._livekit.url, self._agent_token(room_name))
        self._room = room
        self._agent = RoomAgent(
            room=room,
            settings=self._settings,
            on_participant=self._handler,
            llm_provider=self._llm_provider,
            until_idle=False,
            parts_factory=self._parts_factory,
            planner=SessionPlanner(
                settings=self._settings,
                factory=self._agent_factory,
                llm_provider=self._llm_provider,
                parts_factory=self._parts_factory,
            ),
        )
        self._agent_task = asyncio.create_task(
            self._agent.run(), name=f"omnivoice.gateway.{room_name}"
        )
        logger.info("gateway joined room", extra={"room": room_name})

    async def leave_room(self) -> None:
        """Close this room's sessions and disconnect (no-op when in no room)."""
        agent, task, room = self._agent, self._agent_task, self._room
        self._agent = self._agent_task = self._room = None
        if agent is not None:
            await agent.aclose()
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        if room is not None:
            await room.disconnect()

    def current_room(self) -> str:
        return self._room.name if self._room is not None else ""

    def get_session(self, participant_id: str) -> WebRTCSession | None:
        if self._agent is None:
            return None
        return self._agent.sessions.get(participant_id)

    def list_sessions(self) -> list[WebRTCSession]:
        if self._agent is None:
            return []
        return list(self._agent.sessions.values())

    def sessions(self) -> list[LiveKitSession]:
        """Like list_sessions(), typed as the concrete class."""
        return [] if self._agent is None else list(self._agent.sessions.values())

    def generate_client_token(self, room_name: str, identity: str, display_name: str) -> str:
        """A client token for ``room_name`` (safe grants, 15 min) signed with this gateway's key."""
        creds = self._livekit or _credentials(self._config)
        return tokens.generate_client_token(room_name, identity, display_name, credentials=creds)
