"""TLS inspection: turn a live `ssl` connection into `TlsFacts`, build client contexts."""

from __future__ import annotations

import logging
import ssl
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from mua.core.i18n import N_, T_, Text
from mua.core.tls_facts import TlsFacts, TlsMode, VerifiedBy

if TYPE_CHECKING:
    import datetime as dt

log = logging.getLogger(__name__)


def facts_from_ssl_object(
    ssl_object: ssl.SSLObject | ssl.SSLSocket | None,
    mode: TlsMode,
    *,
    verified: bool | None,
    verified_by: VerifiedBy | None = VerifiedBy.PKI,
    peer_name: str | None = None,
) -> TlsFacts:
    """The facts of a connection, as this end observed them. No TLS object means cleartext."""
    if ssl_object is None:
        return TlsFacts(encrypted=False, mode=TlsMode.NONE, verified=False, peer_name=peer_name)
    cipher = ssl_object.cipher()
    name, _protocol, bits = cipher if cipher else (None, None, None)
    return TlsFacts(
        encrypted=True,
        mode=mode,
        version=ssl_object.version(),
        cipher=name,
        bits=bits,
        verified=verified,
        verified_by=verified_by if verified else None,
        peer_name=peer_name,
    )


class CertificateProblem(StrEnum):
    EXPIRED = "expired"
    NOT_YET_VALID = "not yet valid"
    WRONG_HOST = "wrong host name"
    SELF_SIGNED = "self-signed"
    UNKNOWN_ISSUER = "unknown issuer"
    OTHER = "other"


# OpenSSL X509_V_ERR_* codes (x509_vfy.h) -> what to tell the user
_CERT_CODES = {10: CertificateProblem.EXPIRED, 9: CertificateProblem.NOT_YET_VALID}
_CERT_CODES |= dict.fromkeys((62, 64), CertificateProblem.WRONG_HOST)
_CERT_CODES |= dict.fromkeys((18, 19), CertificateProblem.SELF_SIGNED)
_CERT_CODES |= dict.fromkeys((2, 20, 21), CertificateProblem.UNKNOWN_ISSUER)
# Whole sentences about "the certificate of {where}" (a server, "host port 993"), each one
# msgid so a translator can order it freely.
_CERT_SENTENCES = {
    CertificateProblem.EXPIRED: N_(
        "The certificate of {where} has expired; ask its administrator to renew it, or check "
        "that this computer's clock is right."
    ),
    CertificateProblem.NOT_YET_VALID: N_(
        "The certificate of {where} is not valid yet; check this computer's clock."
    ),
    CertificateProblem.WRONG_HOST: N_(
        "The certificate of {where} was issued for a different name; check the server name."
    ),
    CertificateProblem.SELF_SIGNED: N_(
        "The certificate of {where} is self-signed; if this is your own server, add its CA "
        "certificate in the account settings."
    ),
    CertificateProblem.UNKNOWN_ISSUER: N_(
        "The certificate of {where} comes from an unknown authority; if this is your own "
        "server, add its CA certificate in the account settings."
    ),
    CertificateProblem.OTHER: N_(
        "The certificate of {where} could not be verified ({detail}); ask its administrator."
    ),
}


def describe_certificate_error(
    exc: ssl.SSLCertVerificationError, where: str
) -> tuple[CertificateProblem, Text, str]:
    """(problem, a sentence "The certificate of `where` ...", OpenSSL's text)."""
    detail = exc.verify_message or exc.reason or str(exc)
    problem = _CERT_CODES.get(exc.verify_code or 0, CertificateProblem.OTHER)
    return problem, T_(_CERT_SENTENCES[problem], where=where, detail=detail), detail


class CaFileError(OSError):
    """The CA file an account trusts cannot be read: a configuration error (exit 78), with
    a sentence that names the file (ssl's own error does not)."""


def client_context(ca_file: Path | str | None = None) -> ssl.SSLContext:
    """A verifying client context: the system store, or only `ca_file` when one is given.

    Verification is always on (hostname and chain); TLS 1.2 is the floor (RFC 8996 deprecates
    1.0 and 1.1; RFC 8314 section 4.1 asks for TLS 1.2 or later). Raises CaFileError when
    `ca_file` cannot be read or holds no certificate.
    """
    try:
        ctx = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    except (OSError, ssl.SSLError) as exc:
        if not ca_file:
            raise
        reason = exc.reason if isinstance(exc, ssl.SSLError) else None
        why = exc.strerror or reason or str(exc)
        raise CaFileError(
            T_(
                "The CA file {path} cannot be used ({why}); fix the path in the account's "
                "settings or give it again with --ca-file.",
                path=str(Path(ca_file).absolute()),
                why=why,
            )
        ) from exc
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    # A certificate the user chose to trust (pinned in the account) is a trust anchor even
    # when it is not self-signed; Python 3.13's default context sets this flag too.
    ctx.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    return ctx


def verify_certificate(
    der: bytes | None, hostname: str, ca_file: Path | str | None = None
) -> tuple[bool, str]:
    """Would this leaf certificate pass PKI verification for `hostname`? (ok, reason).

    Opportunistic STARTTLS (RFC 7435) must not refuse an unverifiable certificate, so the
    handshake runs without verification and this answers afterwards whether the peer was
    authenticated, for the record. Uses cryptography's RFC 5280 / CA-B Forum verifier; only
    the leaf is available from `getpeercert(binary_form=True)` on Python < 3.13, so a chain
    with intermediates verifies only when they are in `ca_file`. The reason is a phrase a
    person can read ("it expired on 2026-01-01").
    """
    import datetime as dt

    from cryptography import x509
    from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

    if der is None:
        return False, T_("the server presented no certificate")
    cafile = str(ca_file) if ca_file else ssl.get_default_verify_paths().cafile
    if not cafile:
        return False, T_("no trusted certificate authorities are configured")
    leaf = x509.load_der_x509_certificate(der)
    now = dt.datetime.now(dt.UTC)
    if leaf.not_valid_after_utc < now:
        return False, T_("it expired on {date}", date=_day(leaf.not_valid_after_utc))
    if leaf.not_valid_before_utc > now:
        return False, T_("it is not valid before {date}", date=_day(leaf.not_valid_before_utc))
    names = _dns_names(leaf)
    if not any(_name_matches(pattern, hostname) for pattern in names):
        named = ", ".join(names) or T_("no host")
        return False, T_("it names {names}, not {host}", names=named, host=hostname)
    with open(cafile, "rb") as f:
        roots = x509.load_pem_x509_certificates(f.read())
    verifier = PolicyBuilder().store(Store(roots)).build_server_verifier(x509.DNSName(hostname))
    try:
        verifier.verify(leaf, [])
    except VerificationError as exc:
        log.debug("verification of %s failed: %s", hostname, exc)
        issuer = leaf.issuer.rfc4514_string()
        return False, T_(
            "it is not signed by a trusted authority (issued by {issuer})", issuer=issuer
        )
    return True, T_("verified")


def _dns_names(cert: object) -> list[str]:
    from cryptography import x509

    assert isinstance(cert, x509.Certificate)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return list(san.get_values_for_type(x509.DNSName))


def _name_matches(pattern: str, hostname: str) -> bool:
    """RFC 6125 section 6.4.3: a wildcard only as the whole left-most label."""
    pattern, hostname = pattern.lower().rstrip("."), hostname.lower().rstrip(".")
    if pattern.startswith("*."):
        return hostname.split(".", 1)[-1] == pattern[2:] and hostname.count(".") >= 2
    return pattern == hostname


def _day(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%d")
