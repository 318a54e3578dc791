"""Does a TLSA record set match the certificate a server presented? (RFC 6698, RFC 7671)

Only what SMTP uses (RFC 7672 section 3.1): DANE-EE(3) matches the server's own certificate
or key, whatever its issuer, name or dates; DANE-TA(2) matches an issuer in the chain the
server sent. PKIX-TA(0) and PKIX-EE(1) are not used for SMTP and never match here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

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
