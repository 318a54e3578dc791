"""The world's HTTPS hosts (the MTA-STS policy host, the TLS-RPT receiver, the authorization
server) on one well-kept asyncio HTTP server library, aiohttp: TLS from the world's CA,
request heads and bodies bounded, each body read within a time limit, no access log.

aiohttp because it is an asyncio-native HTTP/1.1 server that runs inside the world's own
event loop (no ASGI server or thread beside it) with an `ssl.SSLContext` like the world's
other servers, and one of the most used and maintained Python HTTP stacks.
"""

from __future__ import annotations

import asyncio
import ssl

from aiohttp import web

REQUEST_TIMEOUT = 10.0  # reading one request's body
MAX_HEAD_LINE = 8190  # a request line or one header field


class WebHost:
    """Subclasses say what they serve (`routes`) and how large a body may be."""

    max_body = 64 * 1024

    def __init__(self, tls_context: ssl.SSLContext | None, *, host: str = "127.0.0.1") -> None:
        self.host = host
        self._context = tls_context
        self._runner: web.AppRunner | None = None
        self.port = 0

    def routes(self) -> list[web.AbstractRouteDef]:
        raise NotImplementedError

    async def start(self, port: int = 0) -> int:
        app = web.Application(client_max_size=self.max_body)
        app.add_routes(self.routes())
        self._runner = web.AppRunner(
            app,
            access_log=None,
            handle_signals=False,
            max_line_size=MAX_HEAD_LINE,
            max_field_size=MAX_HEAD_LINE,
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, port, ssl_context=self._context)
        await site.start()
        server = site._server
        assert isinstance(server, asyncio.Server) and server.sockets
        self.port = int(server.sockets[0].getsockname()[1])
        return self.port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
