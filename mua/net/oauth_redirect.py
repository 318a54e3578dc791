"""The loopback redirect of a native app's sign-in (RFC 8252 section 7.3).

`http://127.0.0.1:<random port>/`: listens before the browser opens, takes the first request
that carries `code` or `error`, answers the browser with a short page, and closes. Served
with aiohttp (the HTTP server library mua already runs for the demo world).
"""

from __future__ import annotations

import asyncio
import html
import logging

from aiohttp import web

from mua.core.i18n import _

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
DONE_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>mua</title></head>
<body><p>{text}</p></body></html>"""


class LoopbackRedirect:
    """async with LoopbackRedirect() as redirect: redirect.uri; await redirect.answer()"""

    def __init__(self) -> None:
        self._runner: web.AppRunner | None = None
        self._answer: asyncio.Future[dict[str, str]] | None = None
        self.port = 0

    @property
    def uri(self) -> str:
        return f"http://{LOOPBACK}:{self.port}/"

    async def start(self) -> None:
        self._answer = asyncio.get_running_loop().create_future()
        app = web.Application()
        app.add_routes([web.get("/", self._redirected)])
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, LOOPBACK, 0)
        await site.start()
        server = site._server
        assert isinstance(server, asyncio.Server) and server.sockets
        self.port = int(server.sockets[0].getsockname()[1])

    async def answer(self) -> dict[str, str]:
        """The redirect's query parameters (waits until the browser comes back)."""
        assert self._answer is not None, "start() first"
        return await asyncio.shield(self._answer)

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._answer is not None and not self._answer.done():
            self._answer.cancel()

    async def __aenter__(self) -> LoopbackRedirect:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _redirected(self, request: web.Request) -> web.Response:
        params = dict(request.query)
        if ("code" not in params and "error" not in params) or self._answer is None:
            return web.Response(status=404, text="not found")
        if not self._answer.done():
            self._answer.set_result(params)
        text = (
            _("Signed in: you can close this window and go back to mua.")
            if "code" in params
            else _("The sign-in did not complete: go back to mua.")
        )
        return web.Response(text=DONE_PAGE.format(text=html.escape(text)), content_type="text/html")
