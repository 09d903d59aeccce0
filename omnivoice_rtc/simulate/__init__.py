"""Simulated phone calls into a running stack: what ``omnivoice-rtc simulate`` places and the
tests use, one copy for both.

* :mod:`.carrier_webhooks`: what a carrier sends around a call (signed webhook fields,
  codecs, stream targets read from answer markup), as pure functions;
* :mod:`.carrier_simulator`: one carrier call (answer webhook, media WebSocket at real-time
  pace, marks, clears, DTMF);
* :mod:`.rtp_peer`: the media side of a phone on a SIP trunk (PCMU RTP, RFC 4733 DTMF).
"""
