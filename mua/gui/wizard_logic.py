"""What the account wizard decides without Qt: rows for the candidates discovery found, the
account built from the chosen settings, and the words of its pages. The test connection is
mua/gui/wizard_check.py; the certificate a server showed when it could not be verified,
mua/gui/wizard_certificate.py.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from mua.core.account import Account, Pop3Settings, ServerSettings
from mua.core.i18n import N_, T_, _, translated
from mua.core.legs import Grade
from mua.core.tls_facts import Security
from mua.net.autoconfig import default_urls
from mua.net.candidates import Candidate, Discovery
from mua.net.dns import DnsError, Resolver
from mua.store.config import AccountStore
from mua.store.secrets import Secrets

Kind = Literal["imap", "smtp"]
KIND_NAMES = {"imap": N_("Incoming (IMAP)"), "smtp": N_("Outgoing (SMTP)")}  # translate at use
POP3_NAME = N_("Incoming (POP3)")  # the incoming server of a POP3 account
SECURITY_NAMES = {
    Security.IMPLICIT: N_("TLS (implicit)"),
    Security.STARTTLS: "STARTTLS",
    Security.NONE: N_("none"),
}
DEFAULT_PORTS = {
    ("imap", Security.IMPLICIT): 993,
    ("imap", Security.STARTTLS): 143,
    ("smtp", Security.IMPLICIT): 465,
    ("smtp", Security.STARTTLS): 587,
    ("pop3", Security.IMPLICIT): 995,
    ("pop3", Security.STARTTLS): 110,
    ("imap", Security.NONE): 143,  # in clear: the STARTTLS port without STARTTLS
    ("smtp", Security.NONE): 587,
    ("pop3", Security.NONE): 110,
}


# --- what discovery found -----------------------------------------------------------------


@dataclass(frozen=True)
class CandidateRow:
    where: str  # "imap.a.test:993"
    security: str
    grade: Grade
    status: str  # "Verified: TLSv1.3" / the problem / "Not tried"
    note: str


def candidate_row(c: Candidate) -> CandidateRow:
    if c.verified:
        version = c.tls.version if c.tls and c.tls.version else "TLS"
        status = _("Verified: {version}").format(version=version)
    elif c.verified is False:
        status = translated(c.problem) if c.problem else _("The connection failed.")
    else:
        status = _("Not tried")
    if c.confirm:
        status += " " + _("(confirm this server: the lookup could have been forged)")
    security = _(SECURITY_NAMES[c.security])
    return CandidateRow(f"{c.host}:{c.port}", security, c.grade, status, translated(c.note))


def preselected(discovery: Discovery, kind: Kind) -> Candidate | None:
    """`Discovery.best()`, else the first found (so the manual page has something to edit)."""
    best_imap, best_smtp = discovery.best()
    best = best_imap if kind == "imap" else best_smtp
    found = discovery.imap if kind == "imap" else discovery.smtp
    return best or (found[0] if found else None)


# --- the account --------------------------------------------------------------------------


@dataclass(frozen=True)
class ServerChoice:
    """One server as the manual page shows it: a host name, never an address from DNS."""

    host: str
    port: int
    security: Security
    username: str

    @classmethod
    def from_candidate(cls, c: Candidate) -> ServerChoice:
        return cls(c.host, c.port, c.security, c.username)


def nameserver_text(nameserver: tuple[str, int] | None) -> str | None:
    if nameserver is None:
        return None
    host, port = nameserver
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def demo_discover_options(settings: Mapping[str, Any]) -> dict[str, Any]:
    """discover()'s options in demo mode (`settings`: the demo world's, as `mua stack
    --json` prints them): its DNS, DNSSEC checked against its trust anchor, and its CA. The
    autoconfig files are the world's (autoconfig.<domain> resolves only in its DNS), and only
    over HTTPS: the plain-HTTP fallback is not asked."""
    return {
        "nameserver": (settings["dns"]["host"], int(settings["dns"]["port"])),
        "trust_anchor_file": Path(settings["trust_anchor_file"]),
        "ca_file": Path(settings["ca_file"]),
        "autoconfig_urls": lambda domain, address: [
            u for u in default_urls(domain, address) if u.startswith("https://")
        ],
    }


async def build_account(
    display_name: str,
    address: str,
    choices: Mapping[Kind, ServerChoice],
    *,
    ca_file: Path | None = None,
    nameserver: tuple[str, int] | None = None,
    trust_anchor_file: Path | None = None,
    timeout: float = 5.0,
    pop3: bool = False,
    allow_cleartext: bool = False,
) -> Account:
    """The account for these settings. With a name server (the demo world's), each host name
    is resolved through it and stored as an address, the name kept to verify (as
    `account_from` does); without one the system resolves it when connecting. `pop3`: the
    incoming server is a POP3 server (Thunderbird's leave-on-server defaults).
    `allow_cleartext`: the user's consent to the password crossing without TLS."""
    resolver = Resolver(nameserver, trust_anchor_file=trust_anchor_file, timeout=timeout)

    async def settings(choice: ServerChoice) -> ServerSettings:
        host, server_name = choice.host.strip().lower().rstrip("."), None
        if nameserver is not None and not is_address(host):
            answer = await resolver.addresses(host)
            if not answer.records:
                raise DnsError(T_("The server name {host} has no address; check it.", host=host))
            host, server_name = answer.records[0], host
        return ServerSettings(
            host, choice.port, choice.security, choice.username.strip(), ca_file, server_name
        )

    imap_settings, smtp_settings = await asyncio.gather(
        settings(choices["imap"]), settings(choices["smtp"])
    )
    names = (
        imap_settings.server_name or imap_settings.host,
        smtp_settings.server_name or smtp_settings.host,
    )
    return Account(
        address=address.strip(),
        imap=imap_settings,
        smtp=smtp_settings,
        display_name=display_name.strip(),
        nameserver=nameserver_text(nameserver),
        provider_hosts=tuple(dict.fromkeys(names)),
        pop3=Pop3Settings(imap_settings) if pop3 else None,
        cleartext_consent=allow_cleartext,
        allow_cleartext_auth=allow_cleartext,
    )


def save_account(account: Account, password: str, accounts: AccountStore, secrets: Secrets) -> None:
    """Store the account (replacing one with the same address) and its passwords (the same
    for IMAP and SMTP, as most providers have it) in the keyring."""
    secrets.set(account.key, "imap", password)
    secrets.set(account.key, "smtp", password)
    if accounts.get(account.address) is None:
        accounts.add(account)
    else:
        accounts.update(account)


def is_address(host: str) -> bool:
    """Whether `host` is an IP address rather than a name (neither resolved nor sent as SNI)."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


# --- words for the pages ------------------------------------------------------------------


def address_problem(address: str, accounts: AccountStore) -> str | None:
    """Why `address` cannot start a new account, or None."""
    local, at, domain = address.strip().rpartition("@")
    if not (local and at and "." in domain) or " " in address.strip():
        if not address.strip():
            return _("That is not an email address.")
        return _("{address} is not an email address.").format(address=address.strip())
    if accounts.get(address.strip()) is not None:
        return _("An account for {address} already exists.").format(address=address.strip())
    return None


def summary(account: Account, location: str, pinned: Iterable[str] = ()) -> list[str]:
    """The lines of the last page; `pinned` names the servers whose certificate was trusted."""
    lines = [_("{address} is ready.").format(address=account.address)]
    for kind, s in (("imap", account.imap), ("smtp", account.smtp)):
        if kind in pinned:
            line = _("{kind}: {host} port {port}, {security} (the certificate you trusted)")
        else:
            line = _("{kind}: {host} port {port}, {security}")
        lines.append(
            line.format(
                kind=_(POP3_NAME) if kind == "imap" and account.pop3 else _(KIND_NAMES[kind]),
                host=s.server_name or s.host,
                port=s.port,
                security=_(SECURITY_NAMES[s.security]),
            )
        )
    lines.append(
        _("The password will be kept in {location}.").format(location=translated(location))
    )
    return lines
