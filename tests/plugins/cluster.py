"""Real web processes for the scaling tests: ``python -m omnivoice_rtc.web`` as production
runs it (carrier routes from the environment, SIGTERM drains), one or several sharing a
real redis-server, every carrier's REST API a loopback fake.

* :func:`carrier_env`: the variables that serve every carrier with the simulator's
  secrets and send their REST calls to a :class:`~tests.fakes.carrier_rest.CarrierRestFake`;
* :class:`WebProcess`: one web process (start, ``/healthz``, SIGTERM, kill -9, exit status,
  log);
* :func:`open_carrier_call`: a simulated carrier call through the web process (or the
  balancer) at ``base_url``: signed for :data:`PUBLIC_URL` (what carriers would reach), its
  stream opened on ``base_url``.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from secrets import token_hex
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp

from omnivoice_rtc.simulate.carrier_simulator import CarrierSimulator, StreamTarget
from omnivoice_rtc.simulate.carrier_webhooks import CarrierSecrets
from omnivoice_rtc.stack import PROJECT_ROOT, free_port

__all__ = [
    "ACCOUNT_IDS",
    "PUBLIC_URL",
    "WebProcess",
    "carrier_env",
    "carrier_simulator",
    "open_carrier_call",
    "open_stream_at",
]

CARRIER_ROUTES = "omnivoice_rtc.shim.install:install_from_env"
PUBLIC_URL = "https://voice.example.test"
"""``OMNIVOICE_PUBLIC_URL`` of the web processes: markup names ``wss://`` stream URLs (the
carriers require them); the simulator signs for it and connects to the local address."""
_START_TIMEOUT_S = 60.0


@dataclass(frozen=True, slots=True)
class _Accounts:
    twilio: str = "AC" + "5" * 32
    plivo: str = "MA" + "5" * 18
    exotel: str = "exotel-acct"


ACCOUNT_IDS = _Accounts()


def carrier_env(secrets: CarrierSecrets, rest_base_url: str) -> dict[str, str]:
    """Every carrier served (webhook keys: the simulator's secrets) with REST credentials
    pointing at ``rest_base_url`` (so REST hang-ups are recorded)."""
    return {
        "OMNIVOICE_PUBLIC_URL": PUBLIC_URL,
        "OMNIVOICE_TOKEN_KEY": "key-" + token_hex(8),  # required once exposed
        "TWILIO_AUTH_TOKEN": secrets.twilio_auth_token,
        "TWILIO_ACCOUNT_SID": ACCOUNT_IDS.twilio,
        "TWILIO_FROM_NUMBER": "+15550000001",
        "TWILIO_API_BASE_URL": rest_base_url,
        "TELNYX_PUBLIC_KEY": secrets.telnyx_public_key,
        "TELNYX_API_KEY": "KEY-telnyx",
        "TELNYX_API_BASE_URL": rest_base_url,
        "VONAGE_SIGNATURE_SECRET": secrets.vonage_signature_secret,
        "VONAGE_API_KEY": secrets.vonage_api_key,
        "VONAGE_API_BASE_URL": rest_base_url,
        "PLIVO_AUTH_TOKEN": secrets.plivo_auth_token,
        "PLIVO_AUTH_ID": ACCOUNT_IDS.plivo,
        "PLIVO_API_BASE_URL": rest_base_url,
        "EXOTEL_STREAM_USER": secrets.exotel_user,
        "EXOTEL_STREAM_PASSWORD": secrets.exotel_password,
    }


class WebProcess:
    """``python -m omnivoice_rtc.web`` on 127.0.0.1:``port`` (a free one by default) with
    ``env`` on top of this process's environment; its output goes to ``log_file``."""

    def __init__(self, *, env: Mapping[str, str], log_file: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.log_file = log_file
        self._env = {
            **os.environ,
            "PYTHONPATH": str(PROJECT_ROOT),
            "PYTHONUNBUFFERED": "1",
            "OMNIVOICE_WEB_ROUTES": CARRIER_ROUTES,
            "OMNIVOICE_SHIM_MEDIA": "rtc",
            "OMNIVOICE_LOG_FORMAT": "json",
            **env,
        }
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def spawn(self) -> subprocess.Popen[bytes]:
        """Start the process (:meth:`start` also waits until it is healthy)."""
        argv = [sys.executable, "-m", "omnivoice_rtc.web", "--host", "127.0.0.1"]
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(
                [*argv, "--port", str(self.port)],
                cwd=PROJECT_ROOT,
                env=self._env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self.process

    async def start(self) -> WebProcess:
        """Start the process and wait until ``/healthz`` answers 200 (60 s max)."""
        self.process = self.spawn()
        deadline = time.monotonic() + _START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"web process exited with {self.process.returncode}:\n{self.log_text()[-3000:]}"
                )
            try:
                status, _ = await self.healthz()
            except (aiohttp.ClientError, OSError):
                status = 0
            if status == 200:
                return self
            await asyncio.sleep(0.2)  # reason: polling a child process's start
        self.kill()
        raise RuntimeError(f"web process not healthy within 60 s:\n{self.log_text()[-3000:]}")

    async def healthz(self) -> tuple[int, dict[str, Any]]:
        """``GET /healthz``: (status, body)."""
        timeout = aiohttp.ClientTimeout(total=5)
        async with (
            aiohttp.ClientSession(timeout=timeout) as http,
            http.get(f"{self.url}/healthz") as response,
        ):
            return response.status, json.loads(await response.text())

    def terminate(self) -> None:
        """SIGTERM: the rolling restart's drain begins."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        """kill -9 (its whole process group: the web process and what it started)."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    async def wait(self, timeout_s: float) -> int:
        """The exit status, waiting up to ``timeout_s`` s (AssertionError after)."""
        assert self.process is not None
        deadline = time.monotonic() + timeout_s
        while self.process.poll() is None:
            assert time.monotonic() < deadline, f"web process still running after {timeout_s} s"
            await asyncio.sleep(0.1)  # reason: polling a child process's exit
        return self.process.returncode

    def log_text(self) -> str:
        return self.log_file.read_text(encoding="utf-8", errors="replace")

    def log_records(self, message: str) -> list[dict[str, Any]]:
        """The JSON log records whose message is ``message`` (non-JSON lines skipped)."""
        found: list[dict[str, Any]] = []
        for line in self.log_text().splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and record.get("message") == message:
                found.append(record)
        return found


def carrier_simulator(
    carrier: str, base_url: str, secrets: CarrierSecrets, *, call_id: str | None = None
) -> CarrierSimulator:
    """A simulated carrier call against ``base_url`` signed for :data:`PUBLIC_URL` (enter it
    with ``__aenter__``)."""
    return CarrierSimulator(
        carrier=carrier,
        base_url=base_url,
        public_base_url=PUBLIC_URL,
        secrets_=secrets,
        call_id=call_id,
    )


async def open_stream_at(sim: CarrierSimulator, markup: str, base_url: str) -> None:
    """Open the stream ``markup`` names on ``base_url`` (not its public host) and start the
    caller's line (silence)."""
    target = sim.stream_target(markup)
    local, stream = urlsplit(base_url), urlsplit(target.url)
    url = urlunsplit(("ws", local.netloc, stream.path, stream.query, ""))
    await sim.open_stream(StreamTarget(url, target.parameters, target.sample_rate))
    sim.start_mic()


async def open_carrier_call(
    carrier: str, base_url: str, secrets: CarrierSecrets, *, stream_base_url: str = ""
) -> tuple[CarrierSimulator, int, str]:
    """Answer webhook to ``base_url``; when it is answered (200), open the stream the markup
    names on ``stream_base_url`` (default ``base_url``). Returns (simulator, webhook status,
    body); close the simulator with ``__aexit__``."""
    sim = carrier_simulator(carrier, base_url, secrets)
    await sim.__aenter__()
    status, body = await sim.post_answer_webhook()
    if status == 200:
        await open_stream_at(sim, body, stream_base_url or base_url)
    return sim, status, body
