"""Shared pieces of the carrier modules: XML documents, URL checks, the REST base client."""

from __future__ import annotations

import json
import logging
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Final, Self
from urllib.parse import urlsplit

import aiohttp

from omnivoice_rtc._errors import CarrierRestError

__all__ = ["CarrierRestError", "RestClient", "check_url", "xml_document"]

log = logging.getLogger(__name__)

XML_DECLARATION: Final = '<?xml version="1.0" encoding="UTF-8"?>'


def xml_document(root: ET.Element) -> str:
    """Serialize an answer document (TwiML, TeXML, Plivo XML) with an XML declaration.

    ElementTree escapes ``& < > "`` in attribute values and text.
    """
    return XML_DECLARATION + ET.tostring(root, encoding="unicode", short_empty_elements=True)


def check_url(
    carrier: str, what: str, url: str, schemes: tuple[str, ...], *, query_ok: bool
) -> str:
    """Validate a URL we put in markup or a REST body; ValueError names the carrier."""
    parts = urlsplit(url)
    if parts.scheme not in schemes or not parts.hostname:
        raise ValueError(f"{carrier}: {what} must be a {'/'.join(schemes)} URL, got {url!r}")
    if not query_ok and (parts.query or parts.fragment):
        raise ValueError(
            f"{carrier}: {what} must not contain a query string; "
            f"pass values as parameters instead, got {url!r}"
        )
    return url


class RestClient:
    """Base of the per-carrier REST clients: one aiohttp session, owned unless given.

    ``base_url`` has no trailing slash (tests point it at a loopback fake);
    ``timeout_s`` bounds each request (seconds).
    """

    carrier: str = ""

    def __init__(
        self,
        *,
        base_url: str,
        session: aiohttp.ClientSession | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        check_url(self.carrier, "base URL", base_url, ("http", "https"), query_ok=False)
        self._base_url = base_url.rstrip("/")
        self._session = session
        self._owns_session = session is None
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)

    @property
    def base_url(self) -> str:
        return self._base_url

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the session if this client created it."""
        if self._owns_session and self._session is not None:
            await self._session.close()
        self._session = None

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
            self._owns_session = True
        return self._session

    async def _request(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str],
        form: list[tuple[str, str]] | None = None,
        json_body: Any = None,
    ) -> tuple[int, Any]:
        """Send one request; return ``(status, parsed JSON body or None)``.

        Transport failures become CarrierRestError with status 0.
        """
        kwargs: dict[str, Any] = {"headers": dict(headers)}
        if form is not None:
            kwargs["data"] = form
        elif json_body is not None:
            kwargs["data"] = json.dumps(json_body, separators=(",", ":"))
            kwargs["headers"]["Content-Type"] = "application/json"
        url = self._base_url + path
        try:
            async with self._get_session().request(method, url, **kwargs) as response:
                raw = await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise CarrierRestError(
                f"{self.carrier}: {method} {path} failed: {type(exc).__name__}",
                carrier=self.carrier,
                status=0,
                code=None,
            ) from exc
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
        log.debug(
            "carrier REST call", extra={"carrier": self.carrier, "method": method, "status": status}
        )
        return status, body

    def _error(
        self, method: str, path: str, status: int, code: str | None, detail: str
    ) -> CarrierRestError:
        suffix = f" (code {code})" if code else ""
        text = f": {detail}" if detail else ""
        return CarrierRestError(
            f"{self.carrier}: {method} {path} returned HTTP {status}{suffix}{text}",
            carrier=self.carrier,
            status=status,
            code=code,
        )
