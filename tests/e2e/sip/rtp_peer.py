"""The SIP e2e tests' RTP peer: :class:`omnivoice_rtc.simulate.rtp_peer.RtpPeer` (moved
into the package for ``omnivoice-rtc simulate sip``) and μ-law test speech made with sox."""

from __future__ import annotations

import subprocess

from omnivoice_rtc.simulate.rtp_peer import RtpPeer

__all__ = ["RtpPeer", "espeak_ulaw"]


def espeak_ulaw(text: str, *, voice: str = "en-us", wpm: int = 140) -> bytes:
    """espeak-ng speech of ``text`` as μ-law bytes at 8000 Hz (sox converts)."""
    wav = subprocess.run(
        ["espeak-ng", "--stdout", "-v", voice, "-s", str(wpm), text],
        check=True,
        capture_output=True,
    ).stdout
    return subprocess.run(
        [
            "sox",
            "-t",
            "wav",
            "-",
            "-t",
            "raw",
            "-r",
            "8000",
            "-c",
            "1",
            "-e",
            "u-law",
            "-b",
            "8",
            "-",
        ],
        input=wav,
        check=True,
        capture_output=True,
    ).stdout
