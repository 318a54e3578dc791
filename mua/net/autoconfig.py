"""Mozilla-style autoconfig: fetch a domain's `config-v1.1.xml` and read its IMAP/SMTP servers.

The format is Thunderbird's (the ISPDB's): `<clientConfig><emailProvider>` holding
`<incomingServer type="imap">` and `<outgoingServer type="smtp">`, each with `hostname`, `port`,
`socketType` (SSL | STARTTLS | plain), `username` (with %EMAILADDRESS%, %EMAILLOCALPART% and
%EMAILDOMAIN% placeholders) and `authentication`.

The document comes from the network and is treated as hostile: at most `MAX_BYTES`, fetched
through httpx2 (`mua.net.http`: mua's certificate verification, the user's proxy settings
when the system resolves names) within one overall timeout, parsed by expat with DOCTYPE (and
so every entity declaration, the "billion laughs" and external entities) refused outright. A file
fetched over plain HTTP, or through a redirect that passed through HTTP, is marked not secure:
anyone on the path could have rewritten it.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import re
import socket
import ssl
import typing
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import quote, urljoin, urlsplit
from xml.parsers import expat

from mua.core.i18n import T_
from mua.core.tls_facts import Security
from mua.net.errors import CertificateInvalid, NetError, NetTimeout, chained
from mua.net.tls import client_context, describe_certificate_error

log = logging.getLogger(__name__)

Kind = Literal["imap", "smtp"]  # what discovery is asked for
ServerKind = Literal["imap", "pop3", "smtp"]  # what a server found is (POP3: incoming too)

MAX_BYTES = 100_000
MAX_REDIRECTS = 3
_REDIRECTS = {301, 302, 303, 307, 308}
_SOCKET_TYPES = {"SSL": Security.IMPLICIT, "STARTTLS": Security.STARTTLS, "PLAIN": Security.NONE}
_DEFAULT_PORTS = {
    ("imap", Security.IMPLICIT): 993,
    ("imap", Security.STARTTLS): 143,
    ("imap", Security.NONE): 143,
    ("smtp", Security.IMPLICIT): 465,
    ("smtp", Security.STARTTLS): 587,
    ("smtp", Security.NONE): 587,
    ("pop3", Security.IMPLICIT): 995,
    ("pop3", Security.STARTTLS): 110,
    ("pop3", Security.NONE): 110,
}
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)$")

# host -> the address to connect to, or None to let the system resolve the name
AddressFor = Callable[[str], Awaitable[str | None]]
# (host, port) -> the port to connect to
PortFor = Callable[[str, int], Awaitable[int]]


class AutoconfigError(NetError):
    """No usable autoconfig file at one address; str() is one sentence."""


class AutoconfigTimeout(AutoconfigError, NetTimeout):
    pass


class AutoconfigCertificate(AutoconfigError, CertificateInvalid):
    """The autoconfig server's certificate failed verification: a `CertificateInvalid`, as
    submission's, IMAP's and POP3's are, so a caller catches a bad certificate once."""


class AutoconfigRefused(AutoconfigError, ValueError):
    """The document itself was refused: too large, not XML, a DOCTYPE, not an autoconfig file."""


@dataclass(frozen=True)
class AutoconfigServer:
    kind: ServerKind
    host: str
    port: int
    security: Security
    username: str
    authentication: tuple[str, ...]  # as written: "password-cleartext", "OAuth2", ...


@dataclass(frozen=True)
class AutoconfigFile:
    url: str  # the address asked (redirects may have led elsewhere)
    secure: bool  # every hop was HTTPS with a verified certificate
    servers: tuple[AutoconfigServer, ...]
    skipped: tuple[str, ...]  # entries that could not be used, and why
    # the POP3 incoming servers (kind "pop3"), which only a POP3 account asks for
    # (mua.net.pop3_discovery); `skipped` still says so for IMAP discovery
    pop3: tuple[AutoconfigServer, ...] = ()
    oauth2: AutoconfigOAuth2 | None = None  # the file's <oAuth2> element: who issues tokens


@dataclass(frozen=True)
class AutoconfigOAuth2:
    """An autoconfig file's `<oAuth2>` element (Thunderbird's ISPDB): the issuer, its scopes,
    and the endpoints when the file names them."""

    issuer: str
    scopes: tuple[str, ...]
    authorization_endpoint: str = ""
    token_endpoint: str = ""


def default_urls(domain: str, address: str) -> list[str]:
    """Where Thunderbird looks, HTTPS first; the plain-HTTP fallback does not carry the address,
    so that nobody on the path learns it."""
    query = f"emailaddress={quote(address, safe='@')}"
    return [
        f"https://autoconfig.{domain}/mail/config-v1.1.xml?{query}",
        f"https://{domain}/.well-known/autoconfig/mail/config-v1.1.xml?{query}",
        f"http://autoconfig.{domain}/mail/config-v1.1.xml",
    ]


# --- parsing (pure) -------------------------------------------------------------------


def parse(data: bytes, address: str) -> tuple[tuple[AutoconfigServer, ...], tuple[str, ...]]:
    """The IMAP and SMTP servers of an autoconfig document, placeholders filled in for
    `address`, and a reason for each entry that was skipped. Raises `AutoconfigRefused`."""
    if len(data) > MAX_BYTES:
        raise AutoconfigRefused(f"the file is larger than {MAX_BYTES // 1000} kB")
    root = _parse_xml(data)
    if root.tag != "clientConfig":
        raise AutoconfigRefused(f"this is not an autoconfig file (its root is <{root.tag}>)")
    provider = root.find("emailProvider")
    if provider is None:
        raise AutoconfigRefused("the file has no <emailProvider>")
    local, _, domain = address.rpartition("@")
    values = {"%EMAILADDRESS%": address, "%EMAILLOCALPART%": local, "%EMAILDOMAIN%": domain}
    servers: list[AutoconfigServer] = []
    skipped: list[str] = []
    for element in provider:
        if element.tag not in ("incomingServer", "outgoingServer"):
            continue
        kind = element.get("type", "").lower()
        if kind not in ("imap", "smtp") or (kind == "smtp") != (element.tag == "outgoingServer"):
            skipped.append(f"a {kind or 'untyped'} server (mua reads over IMAP, sends over SMTP)")
            continue
        try:
            servers.append(_server(element, "imap" if kind == "imap" else "smtp", values))
        except ValueError as exc:
            skipped.append(f"an {kind.upper()} server: {exc}")
    return tuple(servers), tuple(skipped)


def parse_pop3(data: bytes, address: str) -> tuple[AutoconfigServer, ...]:
    """The POP3 incoming servers of a document `parse` accepted, placeholders filled in;
    entries that cannot be used are left out."""
    provider = _parse_xml(data).find("emailProvider")
    if provider is None:
        return ()
    local, _, domain = address.rpartition("@")
    values = {"%EMAILADDRESS%": address, "%EMAILLOCALPART%": local, "%EMAILDOMAIN%": domain}
    found = []
    for element in provider.findall("incomingServer"):
        if element.get("type", "").lower() == "pop3":
            with contextlib.suppress(ValueError):
                found.append(_server(element, "pop3", values))
    return tuple(found)


def parse_oauth2(data: bytes) -> AutoconfigOAuth2 | None:
    """The `<oAuth2>` element of an autoconfig file (under `<clientConfig>` or its
    `<emailProvider>`), or None when it has none or the file was refused."""
    try:
        root = _parse_xml(data)
    except AutoconfigRefused:
        return None
    element = root.find("oAuth2")
    if element is None:
        element = root.find("emailProvider/oAuth2")
    if element is None or not _child_text(element, "issuer"):
        return None
    return AutoconfigOAuth2(
        issuer=_child_text(element, "issuer"),
        scopes=tuple(_child_text(element, "scope").split()),
        authorization_endpoint=_child_text(element, "authURL"),
        token_endpoint=_child_text(element, "tokenURL"),
    )


def _parse_xml(data: bytes) -> ET.Element:
    """ElementTree from expat, refusing any DOCTYPE: no entity can be declared, so neither
    entity expansion bombs nor external entities can happen."""
    parser = expat.ParserCreate()
    builder = ET.TreeBuilder()

    def no_doctype(*_: object) -> typing.NoReturn:
        raise AutoconfigRefused("the file declares a DOCTYPE, which autoconfig files never need")

    parser.StartDoctypeDeclHandler = no_doctype
    parser.EntityDeclHandler = no_doctype
    parser.ExternalEntityRefHandler = no_doctype
    parser.StartElementHandler = builder.start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.data
    parser.buffer_text = True
    try:
        parser.Parse(data, True)
        return builder.close()
    except AutoconfigRefused:
        raise
    except expat.ExpatError as exc:
        raise AutoconfigRefused(f"the file is not well-formed XML ({exc})") from exc
    except (AssertionError, ValueError) as exc:  # TreeBuilder: nothing or half a document
        raise AutoconfigRefused("the file is not a complete XML document") from exc


def _server(element: ET.Element, kind: ServerKind, values: dict[str, str]) -> AutoconfigServer:
    host = _fill(_child_text(element, "hostname"), values).rstrip(".").lower()
    if not _is_host(host):
        raise ValueError(f"{host!r} is not a host name")
    socket_type = _child_text(element, "socketType")
    security = _SOCKET_TYPES.get(socket_type.upper())
    if security is None:
        raise ValueError(f"unknown socketType {socket_type!r}")
    port_text = _child_text(element, "port")
    if not port_text:
        port = _DEFAULT_PORTS[kind, security]
    elif port_text.isdigit() and 0 < int(port_text) < 65536:
        port = int(port_text)
    else:
        raise ValueError(f"{port_text!r} is not a port")
    username = _fill(_child_text(element, "username") or "%EMAILADDRESS%", values)
    methods = tuple(m.text.strip() for m in element.findall("authentication") if m.text)
    return AutoconfigServer(kind, host, port, security, username, methods)


def _child_text(element: ET.Element, tag: str) -> str:
    child = element.find(tag)
    return (child.text or "").strip() if child is not None else ""


def _fill(text: str, values: dict[str, str]) -> str:
    for placeholder, value in values.items():
        text = text.replace(placeholder, value)
    return text


def _is_host(host: str) -> bool:
    with contextlib.suppress(ValueError):
        ipaddress.ip_address(host)
        return True
    labels = host.split(".")
    return 0 < len(host) <= 253 and all(_LABEL.match(label) for label in labels)


# --- fetching -------------------------------------------------------------------------


async def fetch(
    url: str,
    address: str,
    address_for: AddressFor | None,
    *,
    ca_file: Path | None = None,
    timeout: float = 5.0,
    port_for: PortFor | None = None,
) -> AutoconfigFile:
    """Fetch and parse one autoconfig URL: each connection, handshake and read within
    `timeout` seconds, the whole fetch (redirects included) within twice that.

    Through httpx2 (`mua.net.http`). `address_for` turns a host name into the address to
    connect to (the demo world's or a DNSSEC resolver; None from it: the system's); without
    it the system resolves names and the user's proxy settings (`HTTPS_PROXY`, `NO_PROXY`)
    are honoured. `port_for(host, port)` may move the port (an RFC 9460 HTTPS record's).
    The certificate is verified for the name in the URL. Raises `AutoconfigError`.
    """
    import httpx2 as httpx  # with the first fetch: the main window does not load it

    secure = urlsplit(url).scheme == "https"
    current = url
    host = urlsplit(url).hostname or ""
    try:
        # httpx's own timeouts (connect, TLS handshake, each read) end a stalled fetch cleanly
        # (a cancelled handshake would leave its socket open); the bound behind them only
        # catches a server that trickles its answer or redirects slowly.
        async with (
            asyncio.timeout(timeout * 2),
            httpx.AsyncClient(**_client_options(address_for, port_for, ca_file, timeout)) as http,
        ):
            for _ in range(MAX_REDIRECTS + 1):
                parts = urlsplit(current)
                host = parts.hostname or ""
                if parts.scheme not in ("https", "http") or not host:
                    raise AutoconfigError(T_("{url} is not an HTTP address", url=current))
                if secure and parts.scheme != "https":
                    raise AutoconfigError(
                        T_("{url} redirected to plain HTTP, which was refused", url=url)
                    )
                status, location, body = await _get(http, current)
                if status in _REDIRECTS and location:
                    current = urljoin(current, location)
                    continue
                if status != 200:
                    raise AutoconfigError(T_("{host} answered HTTP {status}", host=host,
                                             status=status))  # fmt: skip
                servers, skipped = parse(body, address)
                return AutoconfigFile(
                    url, secure, servers, skipped, parse_pop3(body, address), parse_oauth2(body)
                )
            raise AutoconfigError(
                T_("{url} redirected more than {n} times", url=url, n=MAX_REDIRECTS)
            )
    except AutoconfigError:
        raise
    except (TimeoutError, httpx.TimeoutException) as exc:
        raise AutoconfigTimeout(
            T_("no answer within {seconds} seconds", seconds=_seconds(timeout))
        ) from exc
    except httpx.HTTPError as exc:
        raise _http_error(exc, host) from exc


def _client_options(
    address_for: AddressFor | None, port_for: PortFor | None, ca_file: Path | None, timeout: float
) -> dict[str, typing.Any]:
    from mua.net.http import AddressTransport, HttpSettings

    settings = HttpSettings(ca_file=ca_file, timeout=timeout)
    if address_for is None:
        return settings.client_options()  # the system's resolver, the user's proxy
    context = client_context(ca_file)
    return {
        "transport": AddressTransport(context, address_for, port_for),
        "trust_env": False,
        "timeout": timeout,
    }


async def _get(http: typing.Any, url: str) -> tuple[int, str | None, bytes]:
    """One GET, no redirect followed; the body only for a 200, and at most MAX_BYTES of it."""
    headers = {"Accept": "application/xml, text/xml"}
    async with http.stream("GET", url, headers=headers) as response:
        if response.status_code != 200:
            return response.status_code, response.headers.get("location"), b""
        declared = response.headers.get("content-length", "").strip()
        if declared.isdigit() and int(declared) > MAX_BYTES:
            raise AutoconfigRefused(_too_large())
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > MAX_BYTES:
                raise AutoconfigRefused(_too_large())
        return 200, None, bytes(body)


def _http_error(exc: BaseException, host: str) -> AutoconfigError:
    """One sentence for what httpx raised: the certificate, TLS, the name, or the answer."""
    import httpx2 as httpx

    certificate = chained(exc, ssl.SSLCertVerificationError)
    if isinstance(certificate, ssl.SSLCertVerificationError):
        reason, text, detail = describe_certificate_error(certificate, host)
        return AutoconfigCertificate(text, reason=reason, detail=detail)
    tls = chained(exc, ssl.SSLError)
    if isinstance(tls, ssl.SSLError):
        return AutoconfigError(
            T_("TLS with {host} failed ({why})", host=host, why=tls.reason or tls)
        )
    if isinstance(chained(exc, socket.gaierror), socket.gaierror):
        return AutoconfigError(T_("the name {host} could not be found", host=host))
    if isinstance(exc, httpx.RemoteProtocolError | httpx.DecodingError):
        return AutoconfigError(
            T_("{host} did not answer in HTTP ({error})", host=host, error=repr(exc))
        )
    return AutoconfigError(
        T_("could not fetch from {host} ({why})", host=host, why=str(exc) or type(exc).__name__)
    )


def _seconds(timeout: float) -> str:
    return f"{timeout:g}"


def _too_large() -> str:
    return T_("the file is larger than {size} kB", size=MAX_BYTES // 1000)
