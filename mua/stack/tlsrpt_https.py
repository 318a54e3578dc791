"""A TLS-RPT aggregate report POSTed to an `https:` rua (RFC 8460 section 5.3.2).

The body is the gzip'd JSON report (section 5.2) as `application/tlsrpt+gzip`; the receiver's
2xx is success. Section 3 lets a sender ignore certificate errors when it submits a report
over HTTPS; this one does not: the certificate is verified against the CA it is given (the
world's), so a report about an interception does not go to the interceptor.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from mua.net.dns import Resolver
from mua.net.https_post import post
from mua.net.tls import client_context
from mua.stack.tlsrpt import DailyReport

CONTENT_TYPE = "application/tlsrpt+gzip"


def https_uris(rua: tuple[str, ...]) -> list[str]:
    """The `https:` URIs among `rua`, in the record's order, each once."""
    found: list[str] = []
    for uri in rua:
        if urlsplit(uri).scheme.lower() == "https" and uri not in found:
            found.append(uri)
    return found


class ReportPoster:
    """Posts reports with a verifying client context (`ca_file`: the CAs to trust; None: the
    system's). `port_for` maps a host to its HTTPS port when the URI names none."""

    def __init__(
        self,
        resolver: Resolver,
        *,
        ca_file: Path | None,
        port_for: Callable[[str], int] = lambda _host: 443,
        timeout: float = 60.0,
    ) -> None:
        self.resolver = resolver
        self.port_for = port_for
        self.timeout = timeout
        self._context = client_context(ca_file)

    async def post(self, uri: str, daily: DailyReport) -> int:
        """POST `daily` to `uri`; the 2xx status, else mua.net.https_post.HttpsPostError."""
        return await post(
            uri,
            gzip.compress(daily.json_bytes(), mtime=0),
            content_type=CONTENT_TYPE,
            resolver=self.resolver,
            context=self._context,
            port_for=self.port_for,
            timeout=self.timeout,
        )
