"""One document POSTed over HTTPS, the transport of TLS-RPT's `https:` rua (RFC 8460 section
5.3.2): success is a 2xx answer, anything else a failure the caller can report.

Through httpx2 (`mua.net.http`), like the MTA-STS GET beside it: no redirects followed (a 3xx
is a failure), the exchange bounded in time, and the server's certificate verified by the
context the caller passes (`mua.net.tls.client_context` never turns verification off).
"""

from __future__ import annotations

import asyncio
import re
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx2 as httpx

from mua.net.dns import DnsError, Resolver
from mua.net.errors import CertificateInvalid, NetError, chained
from mua.net.http import HttpSettings
from mua.net.tls import describe_certificate_error

DEFAULT_TIMEOUT = 60.0
_TARGET = re.compile(r"/[\x21-\x7e]*")


class HttpsPostError(NetError, OSError):
    """The document was not accepted: no address, no connection, a certificate that does not
    verify, no answer in time, or an answer other than 2xx."""


class HttpsPostCertificate(HttpsPostError, CertificateInvalid):
    """The receiver's certificate failed verification: a `CertificateInvalid` too, as every
    protocol's is."""


@dataclass(frozen=True)
class HttpsTarget:
    """Where an https: URL points: the host (for DNS, SNI and the certificate), the port
    when the URL names one, and the request target (path and query)."""

    host: str
    port: int | None
    target: str


def parse_https_url(url: str) -> HttpsTarget:
    """The parts of an `https:` URL; ValueError for any other scheme, or no host."""
    parts = urlsplit(url.strip())
    if parts.scheme.lower() != "https":
        raise ValueError(f"{url!r} is not an https: URL")
    if not parts.hostname:
        raise ValueError(f"{url!r} names no host")
    port = parts.port  # ValueError when it is not a number in range
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if not _TARGET.fullmatch(target):  # no spaces, controls or CRLF in the request line
        raise ValueError(f"{url!r} has characters a request target cannot carry")
    return HttpsTarget(parts.hostname.rstrip(".").lower(), port, target)


async def post(
    url: str,
    body: bytes,
    *,
    content_type: str,
    resolver: Resolver,
    context: ssl.SSLContext,
    port_for: Callable[[str], int] = lambda _host: 443,
    timeout: float = DEFAULT_TIMEOUT,
) -> int:
    """POST `body` to `url` and return the 2xx status; HttpsPostError otherwise.

    The host is looked up with `resolver`; the port is the URL's, else `port_for(host)` (443
    in the real world; the demo world maps its hosts to the ports it listens on)."""
    try:
        where = parse_https_url(url)
    except ValueError as exc:
        raise HttpsPostError(str(exc)) from exc
    try:
        addresses = await resolver.addresses(where.host)
    except DnsError as exc:
        raise HttpsPostError(f"{where.host}: {exc}") from exc
    if not addresses.records:
        raise HttpsPostError(f"{where.host} has no address")
    settings = HttpSettings(
        resolver=resolver,
        port_for=lambda host, _port: where.port if where.port is not None else port_for(host),
        timeout=timeout,
        context=context,
    )
    try:
        # httpx's connect, handshake and read timeouts end a stalled exchange cleanly; the
        # overall bound behind them only catches a server that trickles its answer.
        async with (
            asyncio.timeout(timeout * 4),
            httpx.AsyncClient(**settings.client_options()) as http,
        ):
            response = await http.post(
                url.strip(),
                content=body,
                headers={"Content-Type": content_type, "User-Agent": "mua"},
            )
    except (TimeoutError, httpx.TimeoutException) as exc:
        raise HttpsPostError(f"{where.host}: no answer within {timeout:g} s") from exc
    except (httpx.RemoteProtocolError, httpx.DecodingError) as exc:
        raise HttpsPostError(f"{where.host}: not an HTTP answer ({exc})") from exc
    except httpx.HTTPError as exc:
        cert = chained(exc, ssl.SSLCertVerificationError)
        if cert is not None:
            why = cert.verify_message or cert.reason or str(cert)
            problem, _text, detail = describe_certificate_error(cert, where.host)
            raise HttpsPostCertificate(
                f"{where.host}: the certificate was refused ({why})", reason=problem, detail=detail
            ) from exc
        raise HttpsPostError(f"{where.host}: {str(exc) or type(exc).__name__}") from exc
    status, reason = response.status_code, response.reason_phrase
    if not 200 <= status < 300:  # a redirect too: httpx follows none unless asked
        raise HttpsPostError(f"{where.host} answered HTTP {status} {reason}".rstrip())
    return status
