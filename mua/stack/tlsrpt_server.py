"""The demo world's TLS-RPT report receiver: `https://tlsrpt.<domain>/<path>`, the endpoint
a domain names in the `https:` rua of its `_smtp._tls` record (RFC 8460 section 3).

Section 5.3.2: reports arrive by POST, `application/tlsrpt+gzip` (or `+json` uncompressed),
and the receiver answers a 2xx; it "is not expected to process reports at receipt time", so
this one checks that the body is a JSON report, stores it as it came under
`DIR/<domain>/tlsrpt/received/` (`mua.durable.write_atomic`: tmp file, fsync, rename) and
notes it in the event log. The certificate is the world CA's, for
`tlsrpt.<domain>`, like the MTA-STS policy host beside it (`mta_sts_server.py`), both on
aiohttp (`web_host.py`). Requests are bounded in size and time; anything else gets a 4xx.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import logging
import ssl
import zlib
from pathlib import Path
from typing import Any

from aiohttp import web

from mua import durable
from mua.net.https_post import parse_https_url
from mua.stack.events import EventLog
from mua.stack.web_host import REQUEST_TIMEOUT, WebHost

log = logging.getLogger(__name__)

MAX_REPORT = 1024 * 1024  # compressed, as sent; and the JSON it inflates to, separately
MEDIA_TYPES = {"application/tlsrpt+gzip": ".json.gz", "application/tlsrpt+json": ".json"}


def receiver_paths(rua: tuple[str, ...], host_name: str) -> frozenset[str]:
    """The request targets of the `https:` URIs in `rua` that `host_name` serves (those that
    name no port of their own: the world decides where its hosts listen)."""
    paths = set()
    for uri in rua:
        try:
            where = parse_https_url(uri)
        except ValueError:
            continue
        if where.host == host_name.lower() and where.port is None:
            paths.add(where.target)
    return frozenset(paths)


class ReportError(ValueError):
    """A request this receiver does not take: the HTTP status and a sentence."""

    def __init__(self, status: str, why: str) -> None:
        super().__init__(why)
        self.status = status


class ReportReceiver(WebHost):
    """Takes the reports POSTed to `paths` and keeps them in `directory`."""

    max_body = MAX_REPORT

    def __init__(
        self,
        host_name: str,
        paths: frozenset[str],
        directory: Path,
        events: EventLog,
        tls_context: ssl.SSLContext,
        *,
        host: str = "127.0.0.1",
    ) -> None:
        super().__init__(tls_context, host=host)
        self.host_name = host_name
        self.paths = paths
        self.directory = Path(directory)
        self.events = events

    def received(self) -> list[Path]:
        """The reports kept so far, oldest first."""
        if not self.directory.exists():
            return []
        return sorted(p for p in self.directory.iterdir() if not p.name.startswith("."))

    def routes(self) -> list[web.AbstractRouteDef]:
        return [web.route("*", "/{target:.*}", self._answer)]

    async def _answer(self, request: web.Request) -> web.Response:
        try:
            status = await self._take(request)
        except ReportError as exc:
            log.info("TLS report refused at %s: %s", self.host_name, exc)
            code, _, reason = exc.status.partition(" ")
            return web.Response(status=int(code), reason=reason, text=f"{exc}\r\n")
        code, _, reason = status.partition(" ")
        return web.Response(status=int(code), reason=reason)

    async def _take(self, request: web.Request) -> str:
        if request.method != "POST":
            raise ReportError("405 Method Not Allowed", "reports are POSTed")
        target = request.raw_path
        if target not in self.paths:
            raise ReportError("404 Not Found", f"no report endpoint at {target}")
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media not in MEDIA_TYPES:
            raise ReportError("415 Unsupported Media Type", f"{media or 'no type'} is no report")
        length = request.content_length
        if length is None:
            raise ReportError("411 Length Required", "a report needs a Content-Length")
        if length > MAX_REPORT:
            raise ReportError("413 Content Too Large", f"a report is at most {MAX_REPORT} bytes")
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT):
                body = await request.read()
        except TimeoutError as exc:
            raise ReportError("408 Request Timeout", "the report did not arrive in time") from exc
        report = _report(body, gzipped=media.endswith("gzip"))
        path = await asyncio.to_thread(self._keep, body, MEDIA_TYPES[media])
        domains = sorted({_policy_domain(p) for p in report["policies"]})
        self.events.write(
            "tlsrpt_received",
            host=self.host_name,
            path=str(path),
            report_id=report.get("report-id"),
            organization=report.get("organization-name"),
            policy_domains=domains,
        )
        log.info("TLS report %s from %s kept in %s", report.get("report-id"), domains, path)
        return "201 Created"

    def _keep(self, body: bytes, suffix: str) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
        name = f"{stamp}-{hashlib.sha256(body).hexdigest()[:16]}{suffix}"
        durable.write_atomic(self.directory / name, body)
        return self.directory / name


def _report(body: bytes, *, gzipped: bool) -> dict[str, Any]:
    """The JSON report in `body` (section 4.4), inflated with a bound (no gzip bomb)."""
    data = body
    if gzipped:
        inflate = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)  # gzip framing only
        try:
            data = inflate.decompress(body, MAX_REPORT)
        except zlib.error as exc:
            raise ReportError("400 Bad Request", f"the body is not gzip ({exc})") from exc
        if inflate.unconsumed_tail:
            raise ReportError("413 Content Too Large", "the report inflates too far")
    try:
        report = json.loads(data)
    except ValueError as exc:
        raise ReportError("400 Bad Request", "the report is not JSON") from exc
    if not isinstance(report, dict) or not isinstance(report.get("policies"), list):
        raise ReportError("400 Bad Request", "the JSON is not a TLS report (no policies)")
    if not all(isinstance(p, dict) for p in report["policies"]):
        raise ReportError("400 Bad Request", "a policy of the report is not an object")
    return report


def _policy_domain(policy: dict[str, Any]) -> str:
    inner = policy.get("policy")
    return str(inner.get("policy-domain", "?")) if isinstance(inner, dict) else "?"
