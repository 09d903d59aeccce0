"""SIP integration tests use their own SIP-capable stack (redis + livekit-server + livekit-sip).

The fixtures come from tests/plugins/sip_stack.py. Until that plugin is listed in
tests/conftest.py ``pytest_plugins`` (pytest refuses ``pytest_plugins`` in non-root
conftest files), they are imported here.
"""

from tests.plugins.sip_stack import sip_api, sip_stack

__all__ = ["sip_api", "sip_stack"]
