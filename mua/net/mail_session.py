"""What the IMAP and POP3 clients (`mua.net.imap`, `mua.net.pop3`) share around their
protocol libraries: the server endpoint, the retrieval leg a session observed, and the
translation of what sockets and ssl raised into one sentence a person can act on.

Their errors are those of `mua.net.errors`; each protocol keeps its own sentences where they
name its ports, and its `ProtocolError` subclass for anything unexpected; `translate_common`
words the rest.
"""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from mua.core.i18n import T_
from mua.core.legs import Endpoint, Leg, Protocol, Role, Source
from mua.core.tls_facts import Security, TlsFacts
from mua.net.errors import CertificateInvalid, NetError, ProtocolError, Unreachable


@dataclass(frozen=True)
class MailEndpoint:
    """Where a mail-store server is; the subclass gives its protocol's standard ports."""

    host: str  # where to connect: a name or an address
    port: int
    security: Security
    ca_file: Path | None = None  # None: the system trust store
    server_name: str | None = None  # the name to verify (and send as SNI) when host is an address
    role_port: int | None = None  # the standard port this stands for; None: by `security`

    ROLE_PORTS: ClassVar[dict[Security, int]]

    @property
    def verify_name(self) -> str:
        return self.server_name or self.host

    @property
    def port_role(self) -> int:
        return self.role_port or self.ROLE_PORTS[self.security]

    def describe(self) -> str:
        return T_("{host} port {port}", host=self.verify_name, port=self.port)


def observed_leg(
    endpoint: MailEndpoint,
    protocol: Protocol,
    tls: TlsFacts,
    *,
    client_host: str | None,
    note: str,
    auth: str | None,
) -> Leg:
    """The MS -> MUA leg a session is, as this client observed it."""
    return Leg(
        Endpoint(Role.MS, endpoint.verify_name),
        Endpoint(Role.MUA, client_host or socket.gethostname()),
        protocol,
        tls,
        Source.OBSERVED,
        port_role=endpoint.port_role,
        port_actual=endpoint.port,
        note=note,
        auth=auth,
    )


def translate_common(
    exc: BaseException,
    endpoint: MailEndpoint,
    doing: str,
    error: type[ProtocolError],
    *,
    closed: tuple[type[BaseException], ...] = (),
) -> NetError:
    """The error for a failure that is not a timeout or a TLS failure other than the
    certificate's (those name the protocol's ports: the caller words them first). `closed`:
    what the protocol library raises when the server hangs up, beside OSError; `error`:
    the protocol's error for anything else."""
    where = endpoint.describe()
    if isinstance(exc, ssl.SSLCertVerificationError):
        return CertificateInvalid.of(exc, where)
    if isinstance(exc, socket.gaierror):
        return Unreachable(
            T_("The server name {host} could not be found; check it.", host=endpoint.host)
        )
    if isinstance(exc, ConnectionRefusedError):
        return Unreachable(
            T_("{where} refused the connection; check the server and port.", where=where)
        )
    if isinstance(exc, (OSError, *closed)):
        return Unreachable(
            T_(
                "{where} closed the connection while {doing}; try again later.",
                where=where,
                doing=doing,
            )
        )
    return error(
        T_(
            "{where} answered unexpectedly while {doing} ({error}); try again later.",
            where=where,
            doing=doing,
            error=exc,
        )
    )
