"""The demo world's MTA-STS policy host: `https://mta-sts.<domain>/.well-known/mta-sts.txt`.

RFC 8461 section 3.3: the policy is served over HTTPS with a certificate valid for
`mta-sts.<domain>` (here from the world's CA), as `text/plain`. This server answers exactly
that one path with 200, anything else with 404 (aiohttp, through `web_host.WebHost`).
"""

from __future__ import annotations

import hashlib
import logging
import ssl

from aiohttp import web

from mua.net.mta_sts import WELL_KNOWN, StsMode
from mua.stack.web_host import WebHost

log = logging.getLogger(__name__)


def policy_text(mode: StsMode, mx: list[str], max_age: int = 86400) -> str:
    """Section 3.2: the policy body, CRLF line endings as the RFC's example."""
    lines = ["version: STSv1", f"mode: {mode.value}", *(f"mx: {m}" for m in mx)]
    lines.append(f"max_age: {max_age}")
    return "\r\n".join(lines) + "\r\n"


def policy_id(text: str) -> str:
    """An id for the TXT record that changes whenever the policy does (section 3.1: 1 to 32
    alphanumeric characters)."""
    return hashlib.sha256(text.encode()).hexdigest()[:20]


class PolicyServer(WebHost):
    """GET /.well-known/mta-sts.txt: the policy, text/plain; any other path: 404."""

    def __init__(
        self, policy: str, tls_context: ssl.SSLContext, *, host: str = "127.0.0.1"
    ) -> None:
        super().__init__(tls_context, host=host)
        self.policy = policy
        self.fetches = 0  # how many times the policy was served (tests check the cache)

    def routes(self) -> list[web.AbstractRouteDef]:
        return [web.get(WELL_KNOWN, self._serve)]

    async def _serve(self, request: web.Request) -> web.Response:
        self.fetches += 1
        return web.Response(text=self.policy, content_type="text/plain")
