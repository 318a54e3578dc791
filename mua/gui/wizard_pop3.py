"""The account wizard's POP3 servers (Qt-free): those discovery finds, as rows of the discovery
page's incoming list. The test of a POP3 incoming server is mua.gui.wizard_check's, beside
IMAP's."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mua.core.i18n import T_
from mua.core.tls_facts import Security
from mua.net.candidates import Candidate, Source
from mua.net.pop3_discovery import Pop3Candidate, discover_pop3


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
        "pop3",  # the incoming list's POP3 rows
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
