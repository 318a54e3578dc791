"""The world's certificate authority: one CA per world directory, a certificate per server name.

Written on `cryptography` rather than trustme: trustme marks subjectAltName critical while
also writing a subject, which RFC 5280 section 4.2.1.6 reserves for an empty subject, and
strict verifiers (cryptography's own, used for the MTA's record of what it verified) reject
such certificates. These follow the CA/Browser Forum profile that real servers use.

The CA and every issued key are written to the world directory and reused on the next start,
so the TLSA records that pin the MX keys stay true across restarts.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import logging
import ssl
import warnings
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from mua import durable

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
CA_LIFETIME = dt.timedelta(days=3650)
CERT_LIFETIME = dt.timedelta(days=397)  # the CA/Browser Forum maximum
CLOCK_SKEW = dt.timedelta(hours=1)
_OUTDATED = (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1)


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
        spki = (
            self.certificate()
            .public_key()
            .public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
        )
        return hashlib.sha256(spki).digest()

    def server_context(
        self,
        minimum: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2,
        maximum: ssl.TLSVersion = ssl.TLSVersion.MAXIMUM_SUPPORTED,
    ) -> ssl.SSLContext:
        """A server context for this certificate, TLS 1.2 and up unless told otherwise.

        A `minimum` below TLS 1.2 (a server `mua check` should flag, RFC 8996) also drops the
        context to OpenSSL security level 0: OpenSSL 3 offers TLS 1.0 and 1.1 at no other."""
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        with warnings.catch_warnings():
            # Python deprecates TLS 1.0 and 1.1; offering them is the point of such a server.
            warnings.simplefilter("ignore", DeprecationWarning)
            if minimum in _OUTDATED:
                ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
            ctx.minimum_version = minimum
            ctx.maximum_version = maximum
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
            self._cert = x509.load_pem_x509_certificate(self.ca_file.read_bytes())
            key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
            assert isinstance(key, ec.EllipticCurvePrivateKey)
            self._key = key
        else:
            self._key, self._cert = _new_ca(organization)
            _write_private(key_file, _key_pem(self._key))
            self.ca_file.write_bytes(self._cert.public_bytes(Encoding.PEM))
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
        `not_after` forces a fresh one (tests use it to make an expired certificate). The
        key is kept when the certificate is reissued, so a TLSA 3 1 1 pin stays true.
        """
        certs = self.directory / "certs"
        cert = ServerCert(name, certs / f"{name}.pem", certs / f"{name}.key")
        if not reissue and not_after is None and _still_good(cert, (name, *addresses)):
            return cert
        key = _load_key(cert.key_file) or ec.generate_private_key(ec.SECP256R1())
        leaf = self._issue(key, name, addresses, not_after)
        certs.mkdir(parents=True, exist_ok=True)
        _write_private(cert.key_file, _key_pem(key))
        cert.cert_file.write_bytes(leaf.public_bytes(Encoding.PEM))
        return cert

    def client_context(self) -> ssl.SSLContext:
        """A verifying client context that trusts this CA only."""
        return ssl.create_default_context(cafile=str(self.ca_file))

    def _issue(
        self,
        key: ec.EllipticCurvePrivateKey,
        name: str,
        addresses: tuple[str, ...],
        not_after: dt.datetime | None,
    ) -> x509.Certificate:
        now = dt.datetime.now(dt.UTC)
        not_after = not_after or now + CERT_LIFETIME
        not_before = min(now - CLOCK_SKEW, not_after - dt.timedelta(days=1))
        san = [x509.DNSName(name)] + [x509.IPAddress(ipaddress.ip_address(a)) for a in addresses]
        ca_ski = self._cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        return (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(self._cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.SubjectAlternativeName(san), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(cert_sign=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
                critical=False,
            )
            .sign(self._key, hashes.SHA256())
        )


def _new_ca(organization: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{organization} CA"),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + CA_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(ski, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


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
    return set(identities) <= names and parsed.not_valid_after_utc > dt.datetime.now(dt.UTC)


def _load_key(path: Path) -> ec.EllipticCurvePrivateKey | None:
    if not path.exists():
        return None
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except ValueError:
        return None
    return key if isinstance(key, ec.EllipticCurvePrivateKey) else None


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    durable.write_atomic(path, data, mode=0o600)
