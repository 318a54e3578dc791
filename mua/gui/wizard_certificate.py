"""The certificate a server showed when the account wizard could not verify it (Qt-free).

A certificate that does not verify is never accepted silently. The wizard shows what
`fetch_certificate` read (in a worker thread, over a connection that verifies nothing and is
used for nothing else), and only the user's explicit choice pins it: `pin_certificate` saves
its PEM under mua's data dir and makes it that server's `ca_file`, so verification stays on,
against that certificate alone.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import socket
import ssl
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from mua.core.account import Account, ServerSettings
from mua.core.i18n import N_, _
from mua.core.tls_facts import Security
from mua.gui.wizard_logic import Kind, is_address
from mua.net.tls import CertificateProblem
from mua.store import paths
from mua.store.config import write_private_file

# Pinning helps when nobody vouches for the certificate; not when it is expired or for another name.
PINNABLE = {CertificateProblem.SELF_SIGNED, CertificateProblem.UNKNOWN_ISSUER}


@dataclass(frozen=True)
class CertificateInfo:
    server: str  # "imap.a.test port 993"
    subject: str
    issuer: str
    not_before: datetime
    not_after: datetime
    sha256: str  # "AB:CD:..."
    names: tuple[str, ...]
    pem: bytes

    @property
    def self_signed(self) -> bool:
        return self.subject == self.issuer

    def rows(self) -> list[tuple[str, str]]:
        """(label, value) pairs, in the order a person checks them; labels marked with N_,
        translated where shown."""
        start, end = f"{self.not_before:%Y-%m-%d}", f"{self.not_after:%Y-%m-%d}"
        return [
            (N_("Server"), self.server),
            (N_("Issued to"), self.subject),
            (N_("Names"), ", ".join(self.names) or _("none")),
            (
                N_("Issued by"),
                self.issuer + (_(" (itself: self-signed)") if self.self_signed else ""),
            ),
            (N_("Valid"), _("{start} to {end}").format(start=start, end=end)),
            (N_("SHA-256 fingerprint"), self.sha256[:47] + "\n" + self.sha256[48:]),  # two lines
        ]


def certificate_info(der: bytes, server: str) -> CertificateInfo:
    cert = x509.load_der_x509_certificate(der)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = tuple(san.get_values_for_type(x509.DNSName))
        names += tuple(str(a) for a in san.get_values_for_type(x509.IPAddress))
    except x509.ExtensionNotFound:
        names = ()
    digest = hashlib.sha256(der).hexdigest().upper()
    return CertificateInfo(
        server=server,
        subject=_name(cert.subject),
        issuer=_name(cert.issuer),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        sha256=":".join(re.findall("..", digest)),
        names=names,
        pem=cert.public_bytes(Encoding.PEM),
    )


async def fetch_certificate(
    settings: ServerSettings, kind: Kind, *, timeout: float = 10.0
) -> CertificateInfo:
    """The certificate the server presents, read without verifying it, for the user to judge.
    Never used for anything but showing it (and pinning it, when the user says so)."""
    der = await asyncio.to_thread(_read_certificate, settings, kind, timeout)
    name = settings.server_name or settings.host
    return certificate_info(der, _("{host} port {port}").format(host=name, port=settings.port))


def _read_certificate(settings: ServerSettings, kind: Kind, timeout: float) -> bytes:
    name = settings.server_name or settings.host
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # only to read what the server shows; see above
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    with socket.create_connection((settings.host, settings.port), timeout=timeout) as sock:
        if settings.security is Security.STARTTLS:
            _starttls(sock, kind)
        sni = None if is_address(name) else name
        with context.wrap_socket(sock, server_hostname=sni) as tls:
            der = tls.getpeercert(binary_form=True)
    if not der:
        raise ssl.SSLError("the server presented no certificate")
    return der


def _starttls(sock: socket.socket, kind: Kind) -> None:
    """Just enough of IMAP (RFC 3501 6.2.1) or SMTP (RFC 3207) to reach the TLS handshake."""
    reader = sock.makefile("rb")
    try:
        if kind == "imap":
            reader.readline()
            sock.sendall(b"m1 STARTTLS\r\n")
            line = reader.readline()
            while line.startswith(b"*"):
                line = reader.readline()
            ok = line.startswith(b"m1 OK")
        else:
            _smtp_reply(reader)
            sock.sendall(b"EHLO [127.0.0.1]\r\n")
            _smtp_reply(reader)
            sock.sendall(b"STARTTLS\r\n")
            ok = _smtp_reply(reader).startswith(b"220")
    finally:
        reader.close()  # the socket stays open: makefile() keeps its own reference count
    if not ok:
        raise ConnectionError("the server did not start TLS")


def _smtp_reply(reader) -> bytes:
    line = reader.readline()
    while line[3:4] == b"-":
        line = reader.readline()
    return line


def pin_certificate(
    account: Account, kind: Kind, cert: CertificateInfo, directory: Path | None = None
) -> Account:
    """The account with `cert` as the only trusted certificate for its `kind` server: the PEM
    goes to `directory` (default: mua's data dir / "certificates"), one file per account and
    server, and becomes that server's ca_file."""
    directory = directory or paths.data_dir() / "certificates"
    safe = re.sub(r"[^a-z0-9@._-]", "_", account.key)
    path = directory / f"{safe}-{kind}.pem"
    write_private_file(path, cert.pem)
    server = account.imap if kind == "imap" else account.smtp
    pinned = replace(server, ca_file=path)
    return account.with_changes(**{kind: pinned})


def _name(name: x509.Name) -> str:
    common = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    org = name.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    parts = [str(a.value) for a in (*common, *org)]
    return ", ".join(parts) or name.rfc4514_string()


def certificate_advice(
    problem: CertificateProblem | None, trusted_before: bool
) -> tuple[str, bool]:
    """(what to tell the user, whether pinning is offered) for a certificate shown."""
    if trusted_before:
        return (
            _(
                "It still does not verify against the certificate you trusted; check the server "
                "settings."
            ),
            False,
        )
    if problem in PINNABLE:
        return (
            _(
                "Trust it only if you know this is your server's certificate: compare the "
                "fingerprint with the one your provider or administrator gives you. mua will "
                "then accept this certificate, and no other, for this server of this account."
            ),
            True,
        )
    return _("Trusting it would not help: the server or its settings need fixing."), False
