"""What protected one connection: `TlsFacts`, and the normalisation of TLS version names."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from mua.core.i18n import T_, Text


class TlsMode(StrEnum):
    IMPLICIT = "implicit"  # TLS from the first byte (465, 993; RFC 8314)
    STARTTLS = "starttls"  # cleartext greeting, then upgraded (587, 143, 25; RFC 3207)
    NONE = "none"  # no TLS at all
    UNKNOWN = "unknown"  # the record does not tell


class Security(StrEnum):
    """How an account connects to a server (the setting, not the observation)."""

    IMPLICIT = "implicit"  # TLS from the first byte (465, 993; RFC 8314)
    STARTTLS = "starttls"  # cleartext greeting, then upgraded (587, 143; RFC 3207, RFC 2595)
    NONE = "none"  # no TLS: only with explicit consent, never with credentials


class VerifiedBy(StrEnum):
    PKI = "pki"  # the certificate chains to a trusted CA and names the host (RFC 6125)
    DANE = "dane"  # it matches a DNSSEC-validated TLSA record (RFC 7672)
    MTA_STS = "mta-sts"  # PKI, required by the domain's MTA-STS policy (RFC 8461)


# "TLSv1.3", "TLS1_3", "TLS1.3", "tlsv1.3", "TLSv1_3", "TLS 1.3", "TLS-1.0" (old Exim);
# "TLSv1" alone means 1.0.
_VERSION = re.compile(r"^\s*TLS\s*[v-]?\s*1(?:[._](?P<minor>[0-3]))?\s*$", re.IGNORECASE)


def normalise_tls_version(raw: str | None) -> str | None:
    """`TLSv1.0` .. `TLSv1.3` for any spelling servers write; None when unknown or ambiguous.

    `TLSv1/SSLv3` (OpenSSL's name for a cipher usable in both) is ambiguous and gives None;
    SSLv2/SSLv3 are not TLS versions and give None rather than a guess.
    """
    if raw is None:
        return None
    match = _VERSION.match(raw)
    if match is None:
        return None
    return f"TLSv1.{match.group('minor') or '0'}"


@dataclass(frozen=True)
class TlsFacts:
    """The transport security of one leg, as far as it is known. None means "not known"."""

    encrypted: bool | None
    mode: TlsMode = TlsMode.UNKNOWN
    version: str | None = None
    cipher: str | None = None
    bits: int | None = None
    verified: bool | None = None
    verified_by: VerifiedBy | None = None
    peer_name: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "version", normalise_tls_version(self.version))

    @classmethod
    def cleartext(cls) -> TlsFacts:
        return cls(encrypted=False, mode=TlsMode.NONE, verified=False)

    @classmethod
    def unknown(cls) -> TlsFacts:
        return cls(encrypted=None)

    def with_verification(self, verified: bool, by: VerifiedBy | None) -> TlsFacts:
        return replace(self, verified=verified, verified_by=by if verified else None)

    def to_json(self) -> dict[str, Any]:
        return {
            "encrypted": self.encrypted,
            "mode": self.mode.value,
            "version": self.version,
            "cipher": self.cipher,
            "bits": self.bits,
            "verified": self.verified,
            "verified_by": self.verified_by.value if self.verified_by else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TlsFacts:
        by = data.get("verified_by")
        return cls(
            encrypted=data.get("encrypted"),
            mode=TlsMode(data.get("mode", "unknown")),
            version=data.get("version"),
            cipher=data.get("cipher"),
            bits=data.get("bits"),
            verified=data.get("verified"),
            verified_by=VerifiedBy(by) if by else None,
            peer_name=data.get("peer_name"),
        )

    def summary(self) -> Text:
        """A few words for a table cell: 'TLSv1.3 implicit verified (pki)'; English in logs,
        `translated()` on screen."""
        if self.encrypted is None:
            return T_("unknown")
        if not self.encrypted:
            return T_("cleartext")
        modes = {
            TlsMode.IMPLICIT: T_("implicit"),
            TlsMode.STARTTLS: T_("starttls"),
            TlsMode.NONE: T_("none"),
            TlsMode.UNKNOWN: T_("unknown"),
        }
        parts: list[str] = [self.version or "TLS", modes[self.mode]]
        if self.verified:
            by = self.verified_by.value if self.verified_by else "?"
            parts.append(T_("verified ({by})", by=by))
        elif self.verified is False:
            parts.append(T_("not verified"))
        return Text.joined(parts)
