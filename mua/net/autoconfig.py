"""Mozilla-style autoconfig: fetch a domain's `config-v1.1.xml` and read its IMAP/SMTP servers.

The format is Thunderbird's (the ISPDB's): `<clientConfig><emailProvider>` holding
`<incomingServer type="imap">` and `<outgoingServer type="smtp">`, each with `hostname`, `port`,
`socketType` (SSL | STARTTLS | plain), `username` (with %EMAILADDRESS%, %EMAILLOCALPART% and
%EMAILDOMAIN% placeholders) and `authentication`.

The document comes from the network and is treated as hostile: at most `MAX_BYTES`, fetched
with certificate verification on and one overall timeout, parsed by expat with DOCTYPE (and so
every entity declaration, the "billion laughs" and external entities) refused outright. A file
fetched over plain HTTP, or through a redirect that passed through HTTP, is marked not secure:
anyone on the path could have rewritten it.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import ipaddress
import logging
import re
import socket
import ssl
import time
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import quote, urljoin, urlsplit
from xml.parsers import expat

from mua.core.i18n import T_
from mua.core.tls import Security
from mua.net.tls import client_context, describe_certificate_error

log = logging.getLogger(__name__)

Kind = Literal["imap", "smtp"]

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


class AutoconfigError(Exception):
    """No usable autoconfig file at one address; str() is one sentence."""


class AutoconfigTimeout(AutoconfigError, TimeoutError):
    pass


class AutoconfigRefused(AutoconfigError, ValueError):
    """The document itself was refused: too large, not XML, a DOCTYPE, not an autoconfig file."""


@dataclass(frozen=True)
class AutoconfigServer:
    kind: Kind
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
                found.append(_server(element, "pop3", values))  # type: ignore[arg-type]
    return tuple(found)


def _parse_xml(data: bytes) -> ET.Element:
    """ElementTree from expat, refusing any DOCTYPE: no entity can be declared, so neither
    entity expansion bombs nor external entities can happen."""
    parser = expat.ParserCreate()
    builder = ET.TreeBuilder()

    def no_doctype(*_: object) -> None:
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


def _server(element: ET.Element, kind: Kind, values: dict[str, str]) -> AutoconfigServer:
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
    address_for: AddressFor,
    *,
    ca_file: Path | None = None,
    timeout: float = 5.0,
) -> AutoconfigFile:
    """Fetch and parse one autoconfig URL within `timeout` seconds, redirects included.

    `address_for` turns a host name into the address to connect to (None: the system's
    resolver); the certificate is verified for the name in the URL. Raises `AutoconfigError`.
    """
    getter: _Get | None = None
    secure = urlsplit(url).scheme == "https"
    current = url
    try:
        async with asyncio.timeout(timeout):
            for _ in range(MAX_REDIRECTS + 1):
                parts = urlsplit(current)
                if parts.scheme not in ("https", "http") or not parts.hostname:
                    raise AutoconfigError(T_("{url} is not an HTTP address", url=current))
                if secure and parts.scheme != "https":
                    raise AutoconfigError(
                        T_("{url} redirected to plain HTTP, which was refused", url=url)
                    )
                connect_to = await address_for(parts.hostname)
                getter = _Get(current, connect_to, ca_file, timeout)
                status, location, body = await asyncio.to_thread(getter.run)
                if status in _REDIRECTS and location:
                    current = urljoin(current, location)
                    continue
                if status != 200:
                    raise AutoconfigError(
                        T_("{host} answered HTTP {status}", host=parts.hostname, status=status)
                    )
                servers, skipped = parse(body, address)
                return AutoconfigFile(url, secure, servers, skipped, parse_pop3(body, address))
            raise AutoconfigError(
                T_("{url} redirected more than {n} times", url=url, n=MAX_REDIRECTS)
            )
    except AutoconfigError:
        raise
    except TimeoutError as exc:
        raise AutoconfigTimeout(
            T_("no answer within {seconds} seconds", seconds=_seconds(timeout))
        ) from exc
    finally:
        if getter is not None:
            getter.abort()  # wakes a worker still blocked on the socket; harmless when done


class _Get:
    """One HTTP GET in a worker thread (http.client), with a size limit and an abort()."""

    def __init__(self, url: str, address: str | None, ca_file: Path | None, timeout: float):
        self.url = url
        self.address = address
        self.ca_file = ca_file
        self.timeout = timeout
        self._connection: http.client.HTTPConnection | None = None

    def run(self) -> tuple[int, str | None, bytes]:
        parts = urlsplit(self.url)
        host = parts.hostname or ""
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        deadline = time.monotonic() + self.timeout
        connection: http.client.HTTPConnection
        if parts.scheme == "https":
            context = client_context(self.ca_file)
            connection = _Https(host, parts.port, self.address, context, self.timeout)
        else:
            connection = _Http(host, parts.port, self.address, self.timeout)
        self._connection = connection
        try:
            connection.request("GET", target, headers={"Accept": "application/xml, text/xml"})
            response = connection.getresponse()
            if response.status != 200:
                return response.status, response.getheader("Location"), b""
            declared = (response.getheader("Content-Length") or "").strip()
            if declared.isdigit() and int(declared) > MAX_BYTES:
                raise AutoconfigRefused(_too_large())
            body = bytearray()
            while chunk := response.read1(16384):
                body += chunk
                if len(body) > MAX_BYTES:
                    raise AutoconfigRefused(_too_large())
                if time.monotonic() > deadline:
                    raise AutoconfigTimeout(
                        T_(
                            "the file took longer than {seconds} seconds",
                            seconds=_seconds(self.timeout),
                        )
                    )
            return 200, None, bytes(body)
        except ssl.SSLCertVerificationError as exc:
            _, text, _ = describe_certificate_error(exc, host)
            raise AutoconfigError(text) from exc
        except TimeoutError as exc:
            if isinstance(exc, AutoconfigError):
                raise
            raise AutoconfigTimeout(
                T_(
                    "{host} did not answer within {seconds} seconds",
                    host=host,
                    seconds=_seconds(self.timeout),
                )
            ) from exc
        except ssl.SSLError as exc:
            raise AutoconfigError(
                T_("TLS with {host} failed ({why})", host=host, why=exc.reason or exc)
            ) from exc
        except socket.gaierror as exc:
            raise AutoconfigError(T_("the name {host} could not be found", host=host)) from exc
        except http.client.HTTPException as exc:
            raise AutoconfigError(
                T_("{host} did not answer in HTTP ({error})", host=host, error=repr(exc))
            ) from exc
        except OSError as exc:
            raise AutoconfigError(
                T_("could not fetch from {host} ({why})", host=host, why=exc.strerror or exc)
            ) from exc
        finally:
            connection.close()

    def abort(self) -> None:
        sock = self._connection.sock if self._connection is not None else None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class _Http(http.client.HTTPConnection):
    """Plain HTTP to `address` (when given) with `host` in the Host header."""

    def __init__(self, host: str, port: int | None, address: str | None, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address or self.host, self.port), self.timeout)


class _Https(http.client.HTTPSConnection):
    """HTTPS to `address` (when given), verifying the certificate for `host` and sending it
    as SNI, the way the IMAP and submission clients connect by address."""

    def __init__(
        self,
        host: str,
        port: int | None,
        address: str | None,
        context: ssl.SSLContext,
        timeout: float,
    ):
        super().__init__(host, port, timeout=timeout, context=context)
        self._address = address
        self._tls = context

    def connect(self) -> None:
        sock = socket.create_connection((self._address or self.host, self.port), self.timeout)
        try:
            self.sock = self._tls.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise


def _seconds(timeout: float) -> str:
    return f"{timeout:g}"


def _too_large() -> str:
    return T_("the file is larger than {size} kB", size=MAX_BYTES // 1000)
