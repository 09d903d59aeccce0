"""The agent runtime: what runs inside the agent worker (and in-process gateways).

:mod:`.job` serves one room (a session per participant), :mod:`.livekit_session` is one
conversation on livekit-agents' ``AgentSession``, :mod:`.event_map` turns its events into
the Go ``Event`` values, :mod:`.event_relay` publishes them on ``omnivoice.events`` and
:mod:`.livekit_gateway` is the in-process ``WebRTCGateway``.
"""
