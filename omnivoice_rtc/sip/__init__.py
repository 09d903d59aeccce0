"""SIP trunks toward LiveKit: declarative provisioning, the local SIP stack, the SIP gateway.

* :mod:`.sipfile` / :mod:`.provisioning`: ``sip/<carrier>.json`` files and ``apply``.
* :mod:`.cli`: ``omnivoice-rtc sip apply|list|delete``.
* :mod:`.stack`: redis-server and livekit-sip process specs for the supervisor.
* :mod:`.gateway`: :class:`SIPGateway`, SIP participants as sessions and outbound calls.

Submodules are imported on use so that ``omnivoice_rtc.cli`` stays fast.
"""
