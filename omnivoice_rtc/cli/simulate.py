"""``omnivoice-rtc simulate ROUTE [--wav FILE] [--dtmf DIGITS]``: test a running stack
without a phone.

A carrier route (``twilio``, ``telnyx``, ``vonage``, ``plivo``, ``exotel``) gets a call
placed the way the carrier places it: a signed answer webhook to the web server, then the
media WebSocket its answer names, caller audio as the carrier's frames in real time
(:mod:`omnivoice_rtc.simulate.carrier_call`). ``sip`` gets a real INVITE to livekit-sip
and RTP (:mod:`omnivoice_rtc.simulate.sip_call`). The caller says the WAV (default: a
spoken question, rendered with espeak-ng), talks over the agent's answer (barge-in),
presses ``--dtmf`` keys, then hangs up; the command prints the transcript, the reply
latency, the barge-in and DTMF results, and saves the agent's audio to ``--out``.

Exit status: 0 every check passed; 3 the call was refused (webhook status, SIP status);
4 the agent never answered; 5 a check failed (barge-in, DTMF); 1 the stack could not be
reached; 2 bad arguments or configuration.
"""

from __future__ import annotations

import argparse
import asyncio
import ssl
import time
from pathlib import Path
from typing import Any, Final

import aiohttp

from omnivoice_rtc._errors import ConfigError, StackError
from omnivoice_rtc.carriers.registry import carrier_names
from omnivoice_rtc.settings import Settings
from omnivoice_rtc.simulate.carrier_call import (
    CarrierCallTarget,
    load_telnyx_key,
    new_telnyx_key,
    secrets_from_settings,
    simulate_carrier_call,
)
from omnivoice_rtc.simulate.script import ScriptOptions, SimulationReport
from omnivoice_rtc.simulate.sip_call import SipCallTarget, simulate_sip_call
from omnivoice_rtc.simulate.speech import BARGE_IN_TEXT, DEFAULT_QUESTION, read_wav, speak

__all__ = ["EXIT_AGENT_SILENT", "EXIT_CHECK_FAILED", "EXIT_REFUSED", "add_parser", "exit_status"]

EXIT_REFUSED: Final = 3
EXIT_AGENT_SILENT: Final = 4
EXIT_CHECK_FAILED: Final = 5
_DTMF_KEYS: Final = frozenset("0123456789*#ABCD")


def exit_status(report: SimulationReport) -> int:
    """The command's exit status for ``report`` (see the module docstring)."""
    if not report.answered:
        return EXIT_REFUSED
    if not report.agent_joined or report.reply_latency_ms is None:
        return EXIT_AGENT_SILENT
    return EXIT_CHECK_FAILED if report.problems else 0


def _script(args: argparse.Namespace, settings: Settings) -> ScriptOptions:
    espeak = settings.agent.pipeline.local.espeak_bin
    if args.wav is not None:
        speech, rate = read_wav(args.wav)
    else:
        rate = 16000
        speech = speak(DEFAULT_QUESTION, rate_hz=rate, espeak_bin=espeak)
    barge = None if args.no_barge_in else speak(BARGE_IN_TEXT, rate_hz=rate, espeak_bin=espeak)
    out = args.out or Path(f"omnivoice-simulate-{args.route}-{time.strftime('%Y%m%d-%H%M%S')}.wav")
    return ScriptOptions(
        speech=speech, speech_rate_hz=rate, barge_in=barge, digits=args.dtmf, reply_wav=out
    )


def _ssl_context(args: argparse.Namespace) -> ssl.SSLContext | None:
    if args.cafile is not None:
        return ssl.create_default_context(cafile=str(args.cafile))
    return None


async def _simulate(args: argparse.Namespace, settings: Settings) -> SimulationReport:
    options = _script(args, settings)
    if args.route == "sip":
        sip = settings.sip
        target = SipCallTarget(
            host=args.sip_host or sip.announced_ip,
            port=args.sip_port or sip.sip_port,
            livekit=settings.livekit,
            callee=args.to or "",
        )
        return await simulate_sip_call(target, options)
    key = load_telnyx_key(args.telnyx_key) if args.telnyx_key is not None else None
    server = (args.server or settings.web.local_url).rstrip("/")
    target_c = CarrierCallTarget(
        carrier=args.route,
        server_url=server,
        public_url=settings.web.public_url,
        livekit=settings.livekit,
        secrets=secrets_from_settings(args.route, dict(settings.carriers), key),
        ssl_context=_ssl_context(args),
        callee=args.to or "+15550199",
    )
    try:
        return await simulate_carrier_call(target_c, options)
    except (aiohttp.ClientError, OSError) as exc:
        raise StackError(
            f"the web server at {server} could not be reached ({exc!r}); is `omnivoice-rtc dev` "
            "running with this carrier configured?"
        ) from exc


def _run(args: argparse.Namespace, settings: Settings) -> int:
    if args.new_telnyx_key is not None:
        public = new_telnyx_key(args.new_telnyx_key)
        print(f"wrote {args.new_telnyx_key}; set TELNYX_PUBLIC_KEY={public} on the web server")
        return 0
    if args.dtmf and not set(args.dtmf.upper()) <= _DTMF_KEYS:
        raise ConfigError(f"--dtmf: keys are 0-9, *, #, A-D; got {args.dtmf!r}")
    args.dtmf = args.dtmf.upper()
    report = asyncio.run(_simulate(args, settings))
    for line in report.lines():
        print(line)
    return exit_status(report)


def add_parser(subparsers: Any) -> None:
    """Register ``simulate`` on the ``omnivoice-rtc`` subcommands."""
    sim = subparsers.add_parser(
        "simulate",
        help="place a simulated phone call into the running stack and report what happened",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    sim.add_argument("route", choices=(*carrier_names(), "sip"))
    sim.add_argument("--wav", type=Path, help="what the caller says (16-bit WAV, any rate)")
    sim.add_argument("--dtmf", default="", help="keys to press after the answer, e.g. 123#")
    sim.add_argument("--out", type=Path, help="where to save the agent's audio (WAV)")
    sim.add_argument("--no-barge-in", action="store_true", help="do not talk over the answer")
    sim.add_argument("--to", help="number the caller dials (SIP: default the inbound trunk's)")
    sim.add_argument("--server", help="web server base URL (default OMNIVOICE_WEB_HOST/PORT)")
    sim.add_argument("--cafile", type=Path, help="CA certificate to trust for an https server")
    sim.add_argument(
        "--sip-host", help="livekit-sip address (default OMNIVOICE_SIP_PUBLIC_IP/BIND_IP)"
    )
    sim.add_argument("--sip-port", type=int, help="livekit-sip port (default OMNIVOICE_SIP_PORT)")
    sim.add_argument(
        "--telnyx-key", type=Path, help="Ed25519 private key (PEM) to sign Telnyx webhooks with"
    )
    sim.add_argument(
        "--new-telnyx-key",
        type=Path,
        metavar="FILE",
        help="write a new Telnyx signing key to FILE, print its public half, and exit",
    )
    sim.set_defaults(handler=_run)
