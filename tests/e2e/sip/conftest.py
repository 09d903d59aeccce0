"""SIP e2e tests: their own redis + livekit-server + livekit-sip and agent worker.

The fixtures come from tests/plugins/sip_stack.py. Until that plugin is listed in
tests/conftest.py ``pytest_plugins`` (pytest refuses ``pytest_plugins`` in non-root
conftest files), they are imported here.
"""

from tests.plugins.sip_stack import sip_agent_worker, sip_api, sip_stack

__all__ = ["sip_agent_worker", "sip_api", "sip_stack"]
