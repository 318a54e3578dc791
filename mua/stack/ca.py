"""The world's certificate authority: one CA per world directory, a certificate per server name.

trustme does the X.509 work; this module adds what a persistent world needs: the CA and
every issued key are written to the world directory and reused on the next start, so the
TLSA records that pin the MX keys stay true across restarts.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import logging
import os
import ssl
from dataclasses import dataclass
from pathlib import Path

import trustme
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class ServerCert:
    """A server's certificate and key on disk."""

    name: str
    cert_file: Path
    key_file: Path

    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert_file.read_bytes())

    def spki_sha256(self) -> bytes:
        """The TLSA 3 1 1 association data: SHA-256 of the SubjectPublicKeyInfo (RFC 6698)."""
        spki = self.certificate().public_key().public_bytes(
            Encoding.DER, PublicFormat.SubjectPublicKeyInfo
        )
        return hashlib.sha256(spki).digest()

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(self.cert_file, self.key_file)
        return ctx


class LocalCA:
    """The CA of one world directory. Created on first use, then loaded."""

    def __init__(self, directory: Path, *, organization: str = "mua local world") -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.ca_file = self.directory / "ca.pem"
        key_file = self.directory / "ca.key"
        if self.ca_file.exists() and key_file.exists():
            self._ca = trustme.CA.from_pem(self.ca_file.read_bytes(), key_file.read_bytes())
        else:
            self._ca = trustme.CA(organization_name=organization, organization_unit_name="CA")
            _write_private(key_file, self._ca.private_key_pem.bytes())
            self.ca_file.write_bytes(self._ca.cert_pem.bytes())
            log.info("created local CA %s", self.ca_file)

    def server_cert(
        self,
        name: str,
        *,
        addresses: tuple[str, ...] = (LOOPBACK,),
        not_after: dt.datetime | None = None,
        reissue: bool = False,
    ) -> ServerCert:
        """The certificate for `name` (and the loopback address it listens on), issued once.

        An existing certificate is reused while it is valid and names the same identities;
        `not_after` forces a fresh one (tests use it to make an expired certificate).
        """
        stem = self.directory / "certs" / name
        cert = ServerCert(name, stem.with_suffix(".pem"), stem.with_suffix(".key"))
        identities = (name, *addresses)
        if not reissue and not_after is None and _still_good(cert, identities):
            return cert
        leaf = self._ca.issue_cert(
            *identities,
            common_name=name,
            organization_name="mua local world",
            not_after=not_after,
        )
        stem.parent.mkdir(parents=True, exist_ok=True)
        _write_private(cert.key_file, leaf.private_key_pem.bytes())
        cert.cert_file.write_bytes(leaf.cert_chain_pems[0].bytes())
        return cert

    def client_context(self) -> ssl.SSLContext:
        """A verifying client context that trusts this CA only."""
        return ssl.create_default_context(cafile=str(self.ca_file))


def _still_good(cert: ServerCert, identities: tuple[str, ...]) -> bool:
    if not (cert.cert_file.exists() and cert.key_file.exists()):
        return False
    try:
        parsed = cert.certificate()
        san = parsed.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, x509.ExtensionNotFound):
        return False
    names = set(san.get_values_for_type(x509.DNSName))
    names |= {str(ip) for ip in san.get_values_for_type(x509.IPAddress)}
    wanted = {str(ipaddress.ip_address(i)) if _is_ip(i) else i for i in identities}
    return wanted <= names and parsed.not_valid_after_utc > dt.datetime.now(dt.UTC)


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
