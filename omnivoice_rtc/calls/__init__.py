"""Phone calls observed from outside the agent: the Go ``Session`` of a call whose
conversation runs in a room (:class:`~omnivoice_rtc.calls.call_session.CallSession`),
shared by the carrier shim and the SIP gateway."""
