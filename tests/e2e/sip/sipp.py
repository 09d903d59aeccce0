"""Running SIPp (Debian sip-tester) scenarios from tests/fixtures/sip and reading its log.

SIPp writes every SIP message it sends and receives to ``message_file``
(``-trace_msg``); the tests read the peer's SDP (media address) and the final
responses from it.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import ROOT

__all__ = ["SCENARIOS", "Sipp", "start_sipp"]

SCENARIOS = ROOT / "tests" / "fixtures" / "sip"
_BLOCK = re.compile(r"^-{20,} .*$", re.MULTILINE)


@dataclass(slots=True, kw_only=True)
class Sipp:
    """A running SIPp process: its port, Call-ID (uac) and message log."""

    process: asyncio.subprocess.Process
    port: int
    local_ip: str
    message_file: Path
    call_id: str = ""
    argv: list[str] = field(default_factory=list)

    def messages(self, direction: str) -> list[str]:
        """SIP messages SIPp logged as ``received`` or ``sent``, oldest first."""
        if not self.message_file.exists():
            return []
        text = self.message_file.read_text(encoding="utf-8", errors="replace")
        found = []
        for block in _BLOCK.split(text):
            head, _, body = block.strip().partition("\n")
            if f"message {direction}" in head:
                found.append(body.strip())
        return found

    def status_codes(self) -> list[int]:
        """Status codes of every response SIPp received, in order."""
        codes = []
        for message in self.messages("received"):
            match = re.match(r"SIP/2\.0 (\d{3})", message)
            if match:
                codes.append(int(match.group(1)))
        return codes

    def received_requests(self) -> list[str]:
        return [m.split(" ", 1)[0] for m in self.messages("received") if not m.startswith("SIP/")]

    async def remote_media(self, *, timeout_s: float) -> tuple[str, int]:
        """The (ip, port) of the first SDP SIPp received (livekit-sip's RTP address)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for message in self.messages("received"):
                port = re.search(r"^m=audio (\d+) ", message, re.MULTILINE)
                addr = re.search(r"^c=IN IP4 (\S+)", message, re.MULTILINE)
                if port and addr:
                    return addr.group(1), int(port.group(1))
            if self.process.returncode is not None:
                break
            await asyncio.sleep(0.1)
        raise AssertionError(f"no SDP received by SIPp; messages: {self.messages('received')}")

    def send_hangup_cue(self) -> None:
        """Send the INFO that makes the uac_call.xml scenario hang up (send BYE)."""
        branch = "z9hG4bK" + secrets.token_hex(6)
        info = (
            f"INFO sip:caller@{self.local_ip}:{self.port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:9;branch={branch}\r\n"
            "From: <sip:test@127.0.0.1>;tag=cue\r\n"
            f"To: <sip:caller@{self.local_ip}>\r\n"
            f"Call-ID: {self.call_id}\r\n"
            "CSeq: 1 INFO\r\n"
            "Max-Forwards: 70\r\n"
            "Content-Length: 0\r\n\r\n"
        )
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.sendto(info.encode(), (self.local_ip, self.port))

    async def wait(self, *, timeout_s: float) -> int:
        """Wait for SIPp to exit; returns its exit status (0: every call succeeded)."""
        try:
            return await asyncio.wait_for(self.process.wait(), timeout_s)
        except TimeoutError:
            await self.kill()
            raise AssertionError(
                f"SIPp still running after {timeout_s} s; received {self.messages('received')}"
            ) from None

    async def kill(self) -> None:
        if self.process.returncode is None:
            self.process.kill()
            with contextlib.suppress(ProcessLookupError):
                await self.process.wait()


async def start_sipp(
    *,
    binary: str,
    scenario: str,
    port: int,
    log_dir: Path,
    remote: str | None = None,
    service: str | None = None,
    keys: dict[str, str] | None = None,
    local_ip: str = "127.0.0.1",
    timeout_s: int = 120,
    replace: dict[str, str] | None = None,
) -> Sipp:
    """Start SIPp with ``tests/fixtures/sip/<scenario>`` for one call (``-m 1``).

    ``replace``: text substituted into a copy of the scenario before SIPp reads it
    (SIPp checks status lines such as ``SIP/2.0 486 Busy Here`` at load time, so they
    cannot come from ``-key``).
    """
    call_id = f"e2e-{secrets.token_hex(6)}@{local_ip}"
    message_file = log_dir / f"sipp-{scenario.removesuffix('.xml')}-{port}.log"
    scenario_file = SCENARIOS / scenario
    if replace:
        text = scenario_file.read_text(encoding="utf-8")
        for old, new in replace.items():
            text = text.replace(old, new)
        scenario_file = log_dir / f"{scenario.removesuffix('.xml')}-{port}.xml"
        scenario_file.write_text(text, encoding="utf-8")
    argv = [binary]
    if remote:
        argv.append(remote)
    argv += [
        "-sf", str(scenario_file),
        "-i", local_ip,
        "-p", str(port),
        "-m", "1",
        "-cid_str", call_id,
        "-trace_msg", "-message_file", str(message_file),
        "-trace_err", "-error_file", str(log_dir / f"sipp-errors-{port}.log"),
        "-nostdin",
        "-timeout", f"{timeout_s}s",
        "-timeout_error",
    ]  # fmt: skip
    if service:
        argv += ["-s", service]
    for key, value in (keys or {}).items():
        argv += ["-key", key, value]
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        cwd=log_dir,
    )
    return Sipp(
        process=process,
        port=port,
        local_ip=local_ip,
        message_file=message_file,
        call_id=call_id,
        argv=argv,
    )
