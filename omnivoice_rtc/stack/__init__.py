"""The local process stack: supervisor, process specs and free-port helpers.

``omnivoice-rtc dev`` and the pytest fixture ``livekit_server`` both use this code.
Features that add processes (SIP: redis + livekit-sip) return a
:class:`StackExtension` from ``omnivoice_rtc.sip.processes.sip_specs(settings)``.
"""

from omnivoice_rtc.stack.livekit_server import PROJECT_ROOT, find_binary, livekit_server_spec
from omnivoice_rtc.stack.ports import free_port, free_ports, port_in_use
from omnivoice_rtc.stack.specs import (
    HealthCheck,
    HttpCheck,
    LogCheck,
    PortUse,
    ProcessSpec,
    StackExtension,
    TcpCheck,
)
from omnivoice_rtc.stack.supervisor import LogSink, Supervisor, stdout_sink

__all__ = [
    "PROJECT_ROOT",
    "HealthCheck",
    "HttpCheck",
    "LogCheck",
    "LogSink",
    "PortUse",
    "ProcessSpec",
    "StackExtension",
    "Supervisor",
    "TcpCheck",
    "find_binary",
    "free_port",
    "free_ports",
    "livekit_server_spec",
    "port_in_use",
    "stdout_sink",
]
