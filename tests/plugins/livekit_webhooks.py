"""LiveKit's webhooks for the tests: livekit-server posts them to one fixed URL, this
relay forwards each (body and ``Authorization`` unchanged, so our receiver verifies
livekit-server's own signature) to every web server a test registered.

The session's livekit-server starts before any test's web server (which listens on a
port of its own), so its ``webhook.urls`` names this relay. Use it through the
``livekit_server`` fixture::

    with livekit_server.webhooks.forward_to(f"{web_server.url}/livekit/webhook"):
        ...
"""

from __future__ import annotations

import contextlib
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["WebhookRelay"]

_FORWARD_TIMEOUT_S = 5.0


class WebhookRelay:
    """A loopback HTTP server (own thread) forwarding POSTs to registered targets."""

    def __init__(self) -> None:
        self._targets: list[str] = []
        self._lock = threading.Lock()
        self.received: list[str] = []
        relay = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {
                    "Authorization": self.headers.get("Authorization", ""),
                    "Content-Type": self.headers.get("Content-Type", "application/webhook+json"),
                }
                relay._forward(body, headers)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/livekit/webhook"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def _forward(self, body: bytes, headers: dict[str, str]) -> None:
        with self._lock:
            targets = list(self._targets)
            self.received.append(body.decode(errors="replace"))
        for target in targets:
            request = urllib.request.Request(target, data=body, headers=headers, method="POST")
            with contextlib.suppress(urllib.error.URLError, OSError):  # a web server that stopped
                urllib.request.urlopen(request, timeout=_FORWARD_TIMEOUT_S).close()

    @contextlib.contextmanager
    def forward_to(self, url: str) -> Iterator[None]:
        """Forward every webhook to ``url`` while the block runs."""
        with self._lock:
            self._targets.append(url)
        try:
            yield
        finally:
            with self._lock:
                self._targets.remove(url)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
