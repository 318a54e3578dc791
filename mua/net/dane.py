"""Does a TLSA record set match the certificate a server presented? (RFC 6698, RFC 7671)

Only what SMTP uses (RFC 7672 section 3.1): DANE-EE(3) matches the server's own certificate
or key, whatever its issuer, name or dates; DANE-TA(2) matches an issuer in the chain the
server sent. PKIX-TA(0) and PKIX-EE(1) are not used for SMTP and never match here.

`matches` only compares association data; `authenticate` is the whole RFC 7672 check: for
DANE-TA it also validates the chain from the matched trust anchor down to the leaf and the
leaf's name (section 3.2.2), which DANE-EE deliberately skips (section 3.1.1).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ssl
from collections.abc import Iterable, Sequence

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from mua.core.i18n import T_, Text
from mua.net.dns import TlsaRecord

DANE_TA, DANE_EE = 2, 3
SELECTOR_CERT, SELECTOR_SPKI = 0, 1
MATCH_FULL, MATCH_SHA256, MATCH_SHA512 = 0, 1, 2


def usable(records: Iterable[TlsaRecord]) -> list[TlsaRecord]:
    """RFC 7672 section 3.1.3: records with unknown parameters are unusable and ignored."""
    return [
        r
        for r in records
        if r.usage in (DANE_TA, DANE_EE)
        and r.selector in (SELECTOR_CERT, SELECTOR_SPKI)
        and r.mtype in (MATCH_FULL, MATCH_SHA256, MATCH_SHA512)
    ]


def association_data(cert_der: bytes, selector: int, mtype: int) -> bytes:
    if selector == SELECTOR_CERT:
        selected = cert_der
    else:
        cert = x509.load_der_x509_certificate(cert_der)
        selected = cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    if mtype == MATCH_SHA256:
        return hashlib.sha256(selected).digest()
    if mtype == MATCH_SHA512:
        return hashlib.sha512(selected).digest()
    return selected


def matches(records: Iterable[TlsaRecord], chain_der: Sequence[bytes]) -> bool:
    """True when a usable record matches: DANE-EE against the leaf (chain_der[0]),
    DANE-TA against any certificate after it."""
    if not chain_der:
        return False
    leaf, issuers = chain_der[0], chain_der[1:]
    for record in usable(records):
        candidates = [leaf] if record.usage == DANE_EE else list(issuers)
        for cert in candidates:
            if association_data(cert, record.selector, record.mtype) == record.data:
                return True
    return False


def authenticate(
    records: Iterable[TlsaRecord], chain_der: Sequence[bytes], hostname: str
) -> tuple[bool, str]:
    """RFC 7672 section 3.1: is the server authenticated by these (DNSSEC-validated) records?

    (ok, reason): the reason is the end of a sentence a person can read ("it matches the
    TLSA record 3 1 1"). DANE-EE(3) needs only the leaf to match: no name, issuer or date
    checks (section 3.1.1). DANE-TA(2) must match a certificate the server sent after the
    leaf (section 3.1.2: such servers include their trust anchor in the chain); the chain from
    it to the leaf is then validated, with the dates and the name `hostname` (section 3.2.2).
    """
    records = usable(records)
    if not records:
        return False, T_("no usable TLSA record")
    if not chain_der:
        return False, T_("the server presented no certificate")
    leaf = chain_der[0]
    failures = []
    for record in records:
        label = f"{record.usage} {record.selector} {record.mtype}"
        if record.usage == DANE_EE:
            if association_data(leaf, record.selector, record.mtype) == record.data:
                return True, T_("it matches the DNSSEC-signed TLSA record {label}", label=label)
            continue
        for position, cert in enumerate(chain_der[1:], start=1):
            if association_data(cert, record.selector, record.mtype) != record.data:
                continue
            ok, why = _chain_to_anchor(chain_der[:position], cert, hostname)
            if ok:
                return True, T_(
                    "its chain leads to the trust anchor of the TLSA record {label}", label=label
                )
            failures.append(
                T_("the TLSA record {label} names an issuer, but {why}", label=label, why=why)
            )
    if failures:
        return False, Text.joined(failures, "; ")
    if len(chain_der) == 1 and any(r.usage == DANE_TA for r in records):
        return False, T_("it matches no TLSA record (the server sent no issuer certificate)")
    return False, T_("it matches no DNSSEC-signed TLSA record")


def _chain_to_anchor(
    below_anchor: Sequence[bytes], anchor_der: bytes, hostname: str
) -> tuple[bool, str]:
    """Validate leaf (+ intermediates) up to `anchor_der`, taken as trusted (RFC 7671 5.2.2)."""
    leaf = x509.load_der_x509_certificate(below_anchor[0])
    intermediates = [x509.load_der_x509_certificate(c) for c in below_anchor[1:]]
    anchor = x509.load_der_x509_certificate(anchor_der)
    now = dt.datetime.now(dt.UTC)
    if leaf.not_valid_after_utc < now:
        return False, T_("the certificate expired on {date}", date=_day(leaf.not_valid_after_utc))
    try:
        verifier = (
            PolicyBuilder()
            .store(Store([anchor]))
            .time(now)
            .build_server_verifier(x509.DNSName(hostname))
        )
        verifier.verify(leaf, intermediates)
    except (VerificationError, ValueError) as exc:
        return False, T_(
            "the chain does not validate for {host} ({error})", host=hostname, error=exc
        )
    return True, T_("verified")


def peer_chain(ssl_object: ssl.SSLObject | ssl.SSLSocket | None) -> list[bytes]:
    """The certificates the server sent, leaf first, in DER.

    The public `get_unverified_chain()` arrived in Python 3.13; before it, `getpeercert()`
    gives only the leaf. CPython 3.10 to 3.12 have the same method on the private `_sslobj`
    (`_ssl._SSLSocket.get_unverified_chain`), which DANE-TA needs: it is used when present,
    and without it a DANE-TA record can never match (DANE-EE is unaffected).
    """
    if ssl_object is None:
        return []
    owner = ssl_object if hasattr(ssl_object, "get_unverified_chain") else None
    owner = owner or getattr(ssl_object, "_sslobj", None)
    get_chain = getattr(owner, "get_unverified_chain", None)
    if get_chain is not None:
        chain = get_chain() or []
        # CPython's private _ssl module, which typeshed does not list
        return [c.public_bytes(ssl._ssl.ENCODING_DER) for c in chain]  # type: ignore[attr-defined]
    leaf = ssl_object.getpeercert(binary_form=True)
    return [leaf] if leaf else []


def _day(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%d")
