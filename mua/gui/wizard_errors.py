"""The account wizard's errors in words a person can act on: one sentence saying what
happened and what to do, while the raw text (a resolver's or a server's own message) is
kept for the "Details" disclosure (mua.gui.error_note). Qt-free."""

from __future__ import annotations

import re
import socket
import ssl
from collections.abc import Iterable
from pathlib import Path

from mua.core.i18n import N_, _, error_text
from mua.net.dns import DnsError, Resolver
from mua.net.errors import (
    AuthenticationFailed,
    CertificateInvalid,
    CleartextRefused,
    TokenRefused,
    chained,
)

NAME_NOT_FOUND = N_(
    "A server name could not be found in the DNS; check the server names for typos."
)
NO_ANSWER = N_("The server did not answer in time; check its name and port, or try again later.")
REFUSED = N_("The server refused the connection; check the port and the security choice.")
WRONG_PASSWORD = N_("The server did not accept the user name or password; check them.")
CHECK_LATER = N_("The server could not check the password right now; try again later.")
TOKEN_REFUSED = N_("The server did not accept the sign-in; sign in again.")
NO_TLS = N_("A secure connection could not be set up; check the port and the security choice.")
OTHER = N_("The server could not be used; check the settings (the details say what went wrong).")

SEARCH_FAILED = N_(
    "Looking up the servers failed; check the network connection, or enter the settings "
    "on the next page."
)

# What the error is, or what caused it (the socket or ssl error a NetError was raised
# from), and its sentence: the first that matches wins.
_BY_CLASS: tuple[tuple[type[BaseException], str], ...] = (
    (TokenRefused, TOKEN_REFUSED),
    (TimeoutError, NO_ANSWER),  # NetTimeout and DnsTimeout are TimeoutErrors
    (socket.gaierror, NAME_NOT_FOUND),
    (ConnectionRefusedError, REFUSED),
    (ssl.SSLError, NO_TLS),
)

# What classes cannot tell, by the raw message's words (English: str() of mua's errors):
# a resolver's answer, IMAP's temporary refusal of a LOGIN (RFC 5530 [UNAVAILABLE], an
# ImapError as any other NO), the text of an error that reached the wizard as text only.
_BY_TEXT: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), sentence)
    for pattern, sentence in (
        (
            r"has no address|does not exist|nxdomain|no such name|name or service not known"
            r"|nodename nor servname|getaddrinfo|no address associated|name resolution",
            NAME_NOT_FOUND,
        ),
        (r"timed? ?out|timeout", NO_ANSWER),
        (r"could not check the password", CHECK_LATER),
        (r"refused|connect call failed|unreachable|errno 111|errno 113", REFUSED),
        (r"ssl|tls|handshake|wrong version number", NO_TLS),
    )
)


def sentence_for(error: BaseException) -> str:
    """The one sentence for an error, in the user's language: decided by its class (and
    what caused it), by its words only where the class cannot tell. A refused certificate
    or password in clear keeps its own sentence, which says what to choose."""
    if isinstance(error, CertificateInvalid | CleartextRefused):
        return error_text(error)
    if isinstance(error, AuthenticationFailed) and not isinstance(error, TokenRefused):
        return _(CHECK_LATER if error.temporary else WRONG_PASSWORD)  # SMTP's 454: later
    for kind, sentence in _BY_CLASS:
        if chained(error, kind) is not None:
            return _(sentence)
    return sentence_for_text(str(error))


def sentence_for_text(raw: str) -> str:
    """The one sentence for an error known only by its text (the wizard's background jobs
    report failures as text), in the user's language."""
    return _(next((said for pattern, said in _BY_TEXT if pattern.search(raw)), OTHER))


def nothing_found(domain: str, exists: bool | None) -> str:
    """What to say when discovery found no server for `domain`; `exists` is False when the
    DNS says the domain does not exist (NXDOMAIN), None when that could not be told."""
    if exists is False:
        return _(
            "The domain {domain} does not exist; check the address for a typo, or enter "
            "the servers by hand on the next page."
        ).format(domain=domain)
    return _(
        "No mail servers were found for {domain}; enter them on the next page (your "
        "provider's help pages list them)."
    ).format(domain=domain)


def details_of(steps: Iterable[str], *extra: str) -> str:
    """The raw lines behind a sentence, one a line."""
    return "\n".join(line for line in (*steps, *extra) if line)


async def domain_exists(
    domain: str,
    *,
    nameserver: tuple[str, int] | None = None,
    trust_anchor_file: Path | None = None,
    timeout: float = 5.0,
) -> tuple[bool | None, str]:
    """(whether the DNS has the name at all, what the lookup said): False for NXDOMAIN,
    None when the lookup itself failed (its message is the second item)."""
    resolver = Resolver(nameserver, trust_anchor_file=trust_anchor_file, timeout=timeout)
    try:
        answer = await resolver.mx(domain)
    except DnsError as exc:
        return None, f"{domain}: {error_text(exc)}"
    if answer.nxdomain:
        return False, _("{domain}: NXDOMAIN, the DNS says the name does not exist.").format(
            domain=domain
        )
    return True, _("{domain}: the name exists.").format(domain=domain)
