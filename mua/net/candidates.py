"""What account discovery found (`Candidate`, `Discovery`), which to choose, and the Account
built from the choice. mua.net.discovery does the finding."""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path

from mua.core.account import Account, ServerSettings
from mua.core.i18n import N_, T_, Text
from mua.core.legs import Endpoint, Grade, Leg, Protocol, Role
from mua.core.legs import Source as FactSource
from mua.core.tls_facts import Security, TlsFacts
from mua.net.autoconfig import AutoconfigOAuth2, ServerKind

# Before anything is probed: the submission and retrieval rows of the recommendation table.
_PLANNED = {
    Security.IMPLICIT: Grade.GREEN,
    Security.STARTTLS: Grade.AMBER,
    Security.NONE: Grade.RED,
}
_PROTECTION = {
    Security.IMPLICIT: N_("implicit TLS, as RFC 8314 recommends"),
    Security.STARTTLS: N_("STARTTLS, which works but RFC 8314 prefers implicit TLS"),
    Security.NONE: N_("no encryption at all, so it is not used without your consent"),
}


class Source(StrEnum):
    SRV = "srv"  # RFC 6186 / RFC 8314 SRV records
    AUTOCONFIG = "autoconfig"  # a Mozilla-style config-v1.1.xml
    PROBE = "probe"  # found by trying the usual host names and ports


class DiscoveryError(LookupError):
    """Nothing usable was found; str() is one sentence."""


@dataclass(frozen=True)
class Candidate:
    """One server that could serve the account, where it came from, and how it is protected."""

    kind: ServerKind
    host: str  # the name: what the certificate must be valid for
    port: int
    security: Security
    username: str
    source: Source
    secure_lookup: bool  # a DNSSEC-validated SRV record, or an autoconfig file over HTTPS
    grade: Grade  # green implicit TLS, amber STARTTLS, red none or a failed certificate
    note: str  # one sentence: where it came from and how it is protected
    confirm: bool = False  # the lookup could have been forged and nothing else vouches for it
    address: str | None = None  # where `host` resolved through the given name server
    tls: TlsFacts | None = None  # what a probe saw
    verified: bool | None = None  # a probe connected with verified TLS; None: not probed
    problem: str = ""  # why the probe failed, one sentence
    authentication: tuple[str, ...] = ()  # what an autoconfig file says the server accepts

    @classmethod
    def planned(
        cls,
        kind: ServerKind,
        host: str,
        port: int,
        security: Security,
        *,
        username: str,
        source: Source,
        origin: str,  # the first half of the note: "From a DNSSEC-signed SRV record (...)"
        secure_lookup: bool,
        confirm: bool = False,
        authentication: tuple[str, ...] = (),
    ) -> Candidate:
        """A candidate not probed yet, graded by its security setting."""
        return cls(
            kind=kind,
            host=host.lower().rstrip("."),
            port=port,
            security=security,
            username=username,
            source=source,
            secure_lookup=secure_lookup,
            grade=_PLANNED[security],
            note=Text.joined([origin, T_(_PROTECTION[security])], "; ", "."),
            confirm=confirm,
            authentication=authentication,
        )

    @property
    def key(self) -> tuple[str, str, int, Security]:
        return self.kind, self.host, self.port, self.security

    def probed(self, tls: TlsFacts, address: str | None, seen: str) -> Candidate:
        """This candidate after a probe connected with verified TLS and saw `seen`."""
        note = _extended(self.note, T_("a probe saw {seen}", seen=seen))
        return replace(
            self,
            address=address,
            tls=tls,
            verified=True,
            grade=observed_grade(self.kind, tls),
            note=note,
        )

    def failed(self, problem: str, *, certificate_or_cleartext: bool) -> Candidate:
        """This candidate after a probe failed; a bad certificate or a missing STARTTLS is red,
        as the table grades "cleartext, or unverified cert"."""
        return replace(
            self,
            verified=False,
            problem=problem,
            grade=Grade.RED if certificate_or_cleartext else self.grade,
            note=_extended(self.note, T_("connecting to it failed")),
        )


def _extended(note: str, part: Text) -> str:
    if isinstance(note, Text):
        return note.extended(part)
    return f"{note.removesuffix('.')}; {part}."


def observed_grade(kind: ServerKind, tls: TlsFacts) -> Grade:
    """mua.core.grade's submission or retrieval row, for what a probe saw."""
    observed = FactSource.OBSERVED
    if kind == "smtp":
        leg = Leg(Endpoint(Role.MUA), Endpoint(Role.MSA), Protocol.SUBMISSION, tls, observed)
    else:
        leg = Leg(Endpoint(Role.MS), Endpoint(Role.MUA), Protocol.IMAP, tls, observed)
    return leg.grade


@dataclass(frozen=True)
class Discovery:
    address: str
    imap: tuple[Candidate, ...]
    smtp: tuple[Candidate, ...]
    steps: tuple[str, ...]  # what was tried and what came of it, for the account wizard
    nameserver: tuple[str, int] | None = None
    ca_file: Path | None = None
    # the provider's OAuth2 issuer and scopes, from an autoconfig file fetched over HTTPS
    # with a verified certificate (one over plain HTTP could send the user to anyone's)
    oauth2: AutoconfigOAuth2 | None = None

    @property
    def wants_oauth2(self) -> bool:
        """The provider's autoconfig file names OAuth2 (`<authentication>OAuth2`, or an
        `<oAuth2>` element naming its issuer)."""
        named = any(
            m.strip().lower() == "oauth2"
            for c in (*self.imap, *self.smtp)
            for m in c.authentication
        )
        return self.oauth2 is not None or named

    def best(self, *, allow_cleartext: bool = False) -> tuple[Candidate | None, Candidate | None]:
        """(IMAP, SMTP): verified by a probe first, then nothing to confirm, then implicit TLS,
        then the order found. A candidate whose probe failed is never chosen, nor cleartext
        unless allowed."""
        return _best(self.imap, allow_cleartext), _best(self.smtp, allow_cleartext)


def _best(candidates: tuple[Candidate, ...], allow_cleartext: bool) -> Candidate | None:
    def rank(item: tuple[int, Candidate]) -> tuple[bool, bool, bool, int]:
        index, c = item
        return c.verified is not True, c.confirm, c.security is not Security.IMPLICIT, index

    usable = [
        (index, c)
        for index, c in enumerate(candidates)
        if c.verified is not False and (allow_cleartext or c.security is not Security.NONE)
    ]
    return min(usable, key=rank)[1] if usable else None


def account_from(
    discovery: Discovery,
    *,
    display_name: str = "",
    imap: Candidate | None = None,
    smtp: Candidate | None = None,
) -> Account:
    """An Account from the best candidates (or the ones given). A host found through the given
    name server is stored as its address, with the name kept as `server_name` to verify; the
    name server goes into the account for lookups later (MX, TLSA)."""
    best_imap, best_smtp = discovery.best()
    imap, smtp = imap or best_imap, smtp or best_smtp
    if imap is None or smtp is None:
        what = " and ".join(name for name, c in (("IMAP", imap), ("SMTP", smtp)) if c is None)
        raise DiscoveryError(
            f"No working {what} server was found for {discovery.address}; enter the server "
            "settings by hand, or ask your provider for them."
        )
    nameserver = None
    if discovery.nameserver is not None:
        host, port = discovery.nameserver
        nameserver = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return Account(
        address=discovery.address,
        imap=_settings(imap, discovery.ca_file),
        smtp=_settings(smtp, discovery.ca_file),
        display_name=display_name,
        nameserver=nameserver,
        provider_hosts=tuple(dict.fromkeys((imap.host, smtp.host))),
    )


def _settings(candidate: Candidate, ca_file: Path | None) -> ServerSettings:
    return ServerSettings(
        host=candidate.address or candidate.host,
        port=candidate.port,
        security=candidate.security,
        username=candidate.username,
        ca_file=ca_file,
        server_name=candidate.host if candidate.address else None,
    )
