"""The account wizard's POP3 parts (Qt-free): the POP3 servers discovery finds, as rows of the
discovery page's incoming list, and the test of a POP3 incoming server (mua.gui.wizard_logic
does IMAP's)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from mua.core.account import Account
from mua.core.i18n import T_, _, error_text
from mua.core.tls_facts import Security, TlsFacts
from mua.gui.wizard_errors import sentence_for
from mua.gui.wizard_logic import CheckResult, _problem, protection
from mua.net import pop3
from mua.net.candidates import Candidate, Source
from mua.net.errors import CertificateInvalid, CleartextRefused, NetError
from mua.net.pop3_discovery import Pop3Candidate, discover_pop3


async def check_pop3(account: Account, password: str, timeout: float) -> CheckResult:
    """Sign in over POP3 and QUIT at once (nothing is downloaded or deleted)."""
    assert account.pop3 is not None
    s = account.pop3.server
    endpoint = pop3.Pop3Endpoint(s.host, s.port, s.security, s.ca_file, s.server_name)

    def sign_in() -> TlsFacts:
        session = pop3.Pop3Session.connect(endpoint, timeout=timeout)
        try:
            session.login(s.username, password, allow_cleartext_auth=account.allow_cleartext_auth)
            session.quit()
            return session.tls
        finally:
            session.close()

    try:
        tls = await asyncio.to_thread(sign_in)
    except CertificateInvalid as exc:
        return CheckResult("imap", False, error_text(exc), _problem(exc.reason))
    except CleartextRefused as exc:  # its own sentence: what to choose, or to allow
        return CheckResult("imap", False, error_text(exc))
    except NetError as exc:
        return CheckResult("imap", False, sentence_for(str(exc)), details=str(exc))
    text = _("Signed in over POP3 and {protection}.").format(protection=protection(tls))
    return CheckResult("imap", True, text, tls=tls)


async def pop3_candidates(
    address: str, options: Mapping[str, Any], timeout: float
) -> tuple[tuple[Candidate, ...], list[str]]:
    """The POP3 servers discovery finds for `address` (SRV `_pop3s._tcp` before `_pop3._tcp`,
    then autoconfig, then the usual names; implicit TLS first), as candidates of kind "pop3",
    and the steps taken. `options`: discover()'s (the name server, CA, autoconfig URLs)."""
    found = await discover_pop3(
        address,
        nameserver=options.get("nameserver"),
        trust_anchor_file=options.get("trust_anchor_file"),
        ca_file=options.get("ca_file"),
        timeout=timeout,
        autoconfig_urls=options.get("autoconfig_urls"),
    )
    return tuple(_candidate(c, address) for c in found.candidates), list(found.steps)


def _candidate(c: Pop3Candidate, address: str) -> Candidate:
    planned = Candidate.planned(
        "pop3",  # type: ignore[arg-type]  # the incoming list's POP3 rows
        c.server_name or c.host,
        c.port,
        c.security,
        username=address,
        source=Source(c.source),
        origin=c.origin,
        secure_lookup=False,
    )
    if c.tls is not None:
        how = T_("implicit TLS") if c.security is Security.IMPLICIT else T_("STARTTLS")
        seen = T_(
            "{version} ({how}) with a verified certificate", version=c.tls.version or "TLS", how=how
        )
        return planned.probed(c.tls, c.host if c.server_name else None, seen)
    if c.problem:
        return planned.failed(c.problem, certificate_or_cleartext=c.refused)
    return planned
