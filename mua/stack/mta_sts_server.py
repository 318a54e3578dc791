"""The demo world's MTA-STS policy host: `https://mta-sts.<domain>/.well-known/mta-sts.txt`.

RFC 8461 section 3.3: the policy is served over HTTPS with a certificate valid for
`mta-sts.<domain>` (here from the world's CA), as `text/plain`. This server answers exactly
that one path with 200, anything else with 404, and closes each connection after one reply.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import ssl

from mua.net.mta_sts import WELL_KNOWN, StsMode

log = logging.getLogger(__name__)

MAX_REQUEST = 8192
REQUEST_TIMEOUT = 10.0


def policy_text(mode: StsMode, mx: list[str], max_age: int = 86400) -> str:
    """Section 3.2: the policy body, CRLF line endings as the RFC's example."""
    lines = ["version: STSv1", f"mode: {mode.value}", *(f"mx: {m}" for m in mx)]
    lines.append(f"max_age: {max_age}")
    return "\r\n".join(lines) + "\r\n"


def policy_id(text: str) -> str:
    """An id for the TXT record that changes whenever the policy does (section 3.1: 1 to 32
    alphanumeric characters)."""
    return hashlib.sha256(text.encode()).hexdigest()[:20]


class PolicyServer:
    def __init__(
        self, policy: str, tls_context: ssl.SSLContext, *, host: str = "127.0.0.1"
    ) -> None:
        self.policy = policy
        self.host = host
        self._context = tls_context
        self._server: asyncio.Server | None = None
        self.fetches = 0  # how many times the policy was served (tests check the cache)

    async def start(self, port: int = 0) -> int:
        self._server = await asyncio.start_server(
            self._serve, self.host, port, ssl=self._context, limit=MAX_REQUEST
        )
        return int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT):
                head = await reader.readuntil(b"\r\n\r\n")
            request = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
            if len(request) == 3 and request[0] == "GET" and request[1] == WELL_KNOWN:
                self.fetches += 1
                body, status = self.policy.encode(), "200 OK"
            else:
                body, status = b"not found\r\n", "404 Not Found"
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Type: text/plain\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + body
            )
            async with asyncio.timeout(REQUEST_TIMEOUT):
                await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
            pass  # a silent, half or oversized request: just close
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
