"""A provider's DKIM keys (RFC 6376): one Ed25519 and one RSA key per domain (RFC 8463
section 4 recommends signing with both while verifiers catch up), kept in the provider's
directory so that mail signed before a restart still verifies after it.

The public halves are published as TXT records at `<selector>._domainkey.<domain>` in the
world's DNSSEC-signed zones (`DkimKeys.txt_records`, put into the zone by
`World._zone_spec`); the signing itself is dkimpy's (`dkim.sign`).
"""

from __future__ import annotations

import base64
import functools
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import dkim
import dkim.crypto
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa, utils

from mua import durable

if TYPE_CHECKING:
    from _hashlib import HASH

log = logging.getLogger(__name__)

RSA_BITS = 2048  # RFC 8301 section 3.2: at least 1024, 2048 recommended
# Headers signed (RFC 6376 section 5.4.1); From twice-listed stops a second From being added.
SIGNED_HEADERS = [
    b"from",
    b"to",
    b"cc",
    b"subject",
    b"date",
    b"message-id",
    b"reply-to",
    b"mime-version",
    b"content-type",
    b"content-transfer-encoding",
]


@dataclass(frozen=True)
class DkimKey:
    selector: str
    algorithm: str  # "ed25519-sha256" or "rsa-sha256" (the a= tag)
    private: bytes  # what dkimpy signs with: PKCS#1 PEM (RSA) or the base64 seed (Ed25519)
    public_txt: str  # the TXT record's text (RFC 6376 section 3.6.1)


class DkimKeys:
    """The signing keys of one domain, created on first use (mode 0600)."""

    def __init__(self, domain: str, directory: Path, *, selector_prefix: str = "mua") -> None:
        self.domain = domain.lower()
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.keys = (
            self._ed25519(f"{selector_prefix}-ed25519"),
            self._rsa(f"{selector_prefix}-rsa"),
        )

    def txt_records(self) -> dict[str, list[str]]:
        """`<selector>._domainkey.<domain>` -> the key record, for the zone."""
        return {f"{k.selector}._domainkey.{self.domain}": [k.public_txt] for k in self.keys}

    def sign(self, message: bytes) -> bytes:
        """The message with a DKIM-Signature per key on top (Ed25519 first, then RSA).

        One dkimpy signer parses the message once and signs it with each key in turn (what
        `dkim.sign` does, without parsing the message and setting up a signer per key)."""
        present = _header_names(message)
        signer = dkim.DKIM(message, linesep=b"\r\n" if b"\r\n" in message[:4096] else b"\n")
        headers = b""
        for key in self.keys:
            headers += signer.sign(
                key.selector.encode(),
                self.domain.encode(),
                key.private,
                signature_algorithm=key.algorithm.encode(),
                include_headers=[h for h in SIGNED_HEADERS if h in present] + [b"from"],
                canonicalize=(b"relaxed", b"relaxed"),
            )
        return headers + message

    def _ed25519(self, selector: str) -> DkimKey:
        path = self.directory / f"{selector}.key"
        if path.exists():
            seed = base64.b64decode(path.read_bytes())
            private = ed25519.Ed25519PrivateKey.from_private_bytes(seed)
        else:
            private = ed25519.Ed25519PrivateKey.generate()
            seed = private.private_bytes(
                serialization.Encoding.Raw,
                serialization.PrivateFormat.Raw,
                serialization.NoEncryption(),
            )
            durable.write_atomic(path, base64.b64encode(seed), mode=0o600)
            log.info("created the Ed25519 DKIM key %s for %s", selector, self.domain)
        public = private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        txt = f"v=DKIM1; k=ed25519; p={base64.b64encode(public).decode()}"  # RFC 8463 section 4
        return DkimKey(selector, "ed25519-sha256", base64.b64encode(seed), txt)

    def _rsa(self, selector: str) -> DkimKey:
        path = self.directory / f"{selector}.pem"
        if path.exists():
            pem = path.read_bytes()
            private = serialization.load_pem_private_key(pem, password=None)
            assert isinstance(private, rsa.RSAPrivateKey)
        else:
            private = rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
            pem = private.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.TraditionalOpenSSL,  # PKCS#1, as dkimpy reads it
                serialization.NoEncryption(),
            )
            durable.write_atomic(path, pem, mode=0o600)
            log.info("created the RSA DKIM key %s for %s", selector, self.domain)
        der = private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        txt = f"v=DKIM1; k=rsa; p={base64.b64encode(der).decode()}"
        return DkimKey(selector, "rsa-sha256", pem, txt)


_PREHASHED = {"sha256": hashes.SHA256(), "sha1": hashes.SHA1()}
_dkimpy_rsa_sign = dkim.RSASSA_PKCS1_v1_5_sign


def _openssl_rsa_sign(digest: HASH, private_key: dict[str, int]) -> bytes:
    """dkimpy's RSASSA-PKCS1-v1_5 signature, made by OpenSSL rather than Python's `pow`.

    The same bytes (PKCS#1 v1.5 is deterministic; tests/test_world_cpu.py compares them),
    in a fraction of the time: dkimpy's own took ~5 ms of the GIL per message, a fifth of
    the running world's CPU while it accepted and delivered (bench/world_throughput.py)."""
    algorithm = _PREHASHED.get(digest.name.lower())
    if algorithm is None:
        signature: bytes = _dkimpy_rsa_sign(digest, private_key)
        return signature
    key = _rsa_key(*(private_key[k] for k in _RSA_FIELDS))
    return key.sign(digest.digest(), padding.PKCS1v15(), utils.Prehashed(algorithm))


_RSA_FIELDS = (
    "prime1",
    "prime2",
    "exponent1",
    "exponent2",
    "coefficient",
    "publicExponent",
    "modulus",
    "privateExponent",
)


@functools.lru_cache(maxsize=16)
def _rsa_key(
    p: int, q: int, dmp1: int, dmq1: int, iqmp: int, e: int, n: int, d: int
) -> rsa.RSAPrivateKey:
    public = rsa.RSAPublicNumbers(e, n)
    return rsa.RSAPrivateNumbers(p, q, d, dmp1, dmq1, iqmp, public).private_key()


dkim.RSASSA_PKCS1_v1_5_sign = _openssl_rsa_sign  # what dkim.sign calls (dkim/__init__.py)
# dkimpy parses the PEM private key (ASN.1, in Python) on every signature; a domain signs
# with the same key every time, so the parse is remembered (the dict is only read).
dkim.parse_pem_private_key = functools.lru_cache(maxsize=16)(dkim.crypto.parse_pem_private_key)


def _header_names(message: bytes) -> set[bytes]:
    """The names of the header fields `message` has, lowercased."""
    head = message.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    return {
        line.split(b":", 1)[0].strip().lower()
        for line in head.splitlines()
        if line[:1] not in (b" ", b"\t")
    }
