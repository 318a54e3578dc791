"""One document POSTed over HTTPS, the transport of TLS-RPT's `https:` rua (RFC 8460 section
5.3.2): success is a 2xx answer, anything else a failure the caller can report.

The standard library's HTTP clients block (urllib, http.client) and no dependency of mua
speaks HTTP, so this is one fixed HTTP/1.1 request over asyncio streams, as small as the
MTA-STS GET beside it (`mua/net/mta_sts.py`): no redirects followed (a 3xx is a failure), no
keep-alive, the answer's head bounded in size, the whole exchange bounded in time, and the
server's certificate verified by the context the caller passes (`mua.net.tls.client_context`
never turns verification off).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from mua.net.dns import DnsError, Resolver

MAX_HEAD = 16 * 1024  # the status line and header fields of the answer
DEFAULT_TIMEOUT = 60.0
_TARGET = re.compile(r"/[\x21-\x7e]*")


class HttpsPostError(OSError):
    """The document was not accepted: no address, no connection, a certificate that does not
    verify, no answer in time, or an answer other than 2xx."""


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


def parse_status(head: bytes) -> tuple[int, str]:
    """(status code, reason phrase) from the head of an HTTP/1.x answer; HttpsPostError when
    it is not one."""
    line = head.split(b"\r\n", 1)[0].decode("iso-8859-1")
    version, _, rest = line.partition(" ")
    code, _, reason = rest.partition(" ")
    if not version.startswith("HTTP/1.") or len(code) != 3 or not code.isascii():
        raise HttpsPostError(f"not an HTTP answer: {line[:60]!r}")
    if not code.isdigit():
        raise HttpsPostError(f"not an HTTP status: {line[:60]!r}")
    return int(code), reason.strip()


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
    port = where.port if where.port is not None else port_for(where.host)
    try:
        async with asyncio.timeout(timeout):
            head = await _exchange(addresses.records[0], port, where, body, content_type, context)
    except TimeoutError as exc:
        raise HttpsPostError(f"{where.host}: no answer within {timeout:g} s") from exc
    except ssl.SSLCertVerificationError as exc:
        why = exc.verify_message or exc.reason or str(exc)
        raise HttpsPostError(f"{where.host}: the certificate was refused ({why})") from exc
    except (OSError, ssl.SSLError, asyncio.IncompleteReadError) as exc:
        if isinstance(exc, HttpsPostError):
            raise
        raise HttpsPostError(f"{where.host}: {str(exc) or type(exc).__name__}") from exc
    status, reason = parse_status(head)
    if not 200 <= status < 300:
        raise HttpsPostError(f"{where.host} answered HTTP {status} {reason}".rstrip())
    return status


async def _exchange(
    address: str,
    port: int,
    where: HttpsTarget,
    body: bytes,
    content_type: str,
    context: ssl.SSLContext,
) -> bytes:
    reader, writer = await asyncio.open_connection(
        address, port, ssl=context, server_hostname=where.host, limit=MAX_HEAD
    )
    try:
        host = where.host if where.port is None else f"{where.host}:{where.port}"
        request = (
            f"POST {where.target} HTTP/1.1\r\nHost: {host}\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
            "User-Agent: mua\r\nConnection: close\r\n\r\n"
        )
        writer.write(request.encode("ascii") + body)
        await writer.drain()
        try:
            return await reader.readuntil(b"\r\n\r\n")
        except asyncio.LimitOverrunError as exc:
            raise HttpsPostError(f"{where.host}: an answer head over {MAX_HEAD} bytes") from exc
    finally:
        writer.close()
        with contextlib.suppress(OSError, ssl.SSLError):
            await writer.wait_closed()
