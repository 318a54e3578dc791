"""A one-request-per-connection HTTPS server for the world's web hosts (the MTA-STS policy
host, the TLS-RPT receiver): TLS from the world's CA, the request read within a time and
size limit, one answer, the connection closed. Subclasses say what to answer.

Hand-written on asyncio streams because the two endpoints need only this, and an HTTP
framework would be the project's largest dependency for a few lines of protocol.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl

REQUEST_TIMEOUT = 10.0


class OneRequestHttpsServer:
    limit = 8192  # the longest request head a subclass reads at once

    def __init__(self, tls_context: ssl.SSLContext, *, host: str = "127.0.0.1") -> None:
        self.host = host
        self._context = tls_context
        self._server: asyncio.Server | None = None

    async def start(self, port: int = 0) -> int:
        self._server = await asyncio.start_server(
            self._serve, self.host, port, ssl=self._context, limit=self.limit
        )
        return int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def answer(self, reader: asyncio.StreamReader) -> tuple[str, bytes]:
        """Read the request; return the status line's text ("200 OK") and a text/plain body."""
        raise NotImplementedError

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT):
                status, body = await self.answer(reader)
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
