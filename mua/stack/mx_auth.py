"""What the MX checks of each message before delivery: SPF, DKIM, ARC and DMARC, recorded in
an Authentication-Results header field (RFC 8601) with the MX's own authserv-id.

authheaders does the checking (it wraps dkimpy for DKIM and ARC and implements the DMARC
policy lookup and alignment), pyspf SPF (spf_check.py: the MAIL FROM and HELO identities of
the connecting address); mua only supplies DNS through its own validating resolver
(`TxtBridge`, `SpfDns`). SPF means something in the world because each provider's MTA sends
from its own loopback address and publishes it (`v=spf1 ip4:127.0.0.2 -all`), and the
outsider of the `forged` scenario connects from yet another: DMARC counts an aligned SPF
pass as it counts an aligned DKIM signature.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import logging
import threading
from collections.abc import Callable
from typing import Any

import authheaders
import authheaders.dmarc_lookup
from authres import AuthenticationResultsHeader, DKIMAuthenticationResult, SPFAuthenticationResult
from authres.arc import ARCAuthenticationResult

from mua.net.dns import Resolver
from mua.net.txt_bridge import TxtBridge
from mua.stack.spf_check import SpfDns, spf_results

log = logging.getLogger(__name__)


def _remember_org_domains() -> None:
    """authheaders' `get_org_domain` parses its whole public suffix list (~10,000 rules) on
    every call, several calls per message: half the world's CPU while it delivered
    (bench/world_throughput.py, py-spy). The answer depends on the domain alone, so it is
    remembered, in both modules that hold the function; the lock keeps the checks of
    messages arriving together from all parsing the list at once."""
    lookup = authheaders.dmarc_lookup.get_org_domain
    if getattr(lookup, "remembered", False):
        return
    cached = functools.lru_cache(maxsize=4096)(lookup)
    lock = threading.Lock()

    def get_org_domain(domain: str) -> str:
        with lock:
            organisational: str = cached(domain)
            return organisational

    # marks authheaders' function as this one (a re-import must not wrap it twice)
    get_org_domain.remembered = True  # type: ignore[attr-defined]
    authheaders.dmarc_lookup.get_org_domain = get_org_domain
    authheaders.get_org_domain = get_org_domain


_remember_org_domains()


def checker(
    message: bytes,
    authserv_id: str,
    resolver: Resolver | None,
    *,
    ip: str | None = None,
    mail_from: str = "",
    helo: str = "",
) -> Callable[[], str]:
    """A function that returns the value of the Authentication-Results field to prepend
    (without the field name), to call in a worker thread: made in the event loop's thread,
    whose loop answers the lookups the resolver has not cached. `ip`, `mail_from` and `helo`
    are the SMTP client's address, reverse-path and EHLO name; without `ip` SPF is not
    checked. The MX calls it in the same trip to a worker thread as its mailbox writes."""
    if resolver is None:  # the MX runs before the world's DNS answers: nothing to check with
        return lambda: f"{authserv_id}; none"
    mail_from = "" if mail_from == "<>" else mail_from  # aiosmtpd's null reverse-path
    loop = asyncio.get_running_loop()
    bridge = TxtBridge(resolver, loop)
    spf_dns = SpfDns(resolver, loop)

    def check() -> str:
        results: list[Any] = []  # authres' result classes
        spf_result = None
        if ip is not None and _address(ip):
            spf_result, helo_result = spf_results(spf_dns, ip, mail_from, helo)
            results += [spf_result] if helo_result is None else [spf_result, helo_result]
        # authheaders calls a message without any signature "dkim=fail"; RFC 8601 section
        # 2.7.1 says "none".
        if _signed(message):
            dkim_result = authheaders.check_dkim(message, dnsfunc=bridge)
        else:
            dkim_result = DKIMAuthenticationResult(result="none")
        results.append(dkim_result)
        results.append(arc_result(message, bridge))
        dmarc = authheaders.check_dmarc(
            message, _for_dmarc(spf_result, helo), dkim_result, dnsfunc=bridge
        )
        results.append(dmarc)
        header = AuthenticationResultsHeader(authserv_id=authserv_id, results=results)
        return str(header).split(":", 1)[1].strip()

    def checked() -> str:
        try:
            return check()
        except Exception:  # a malformed message must not stop its delivery; say so instead
            log.exception("authentication checks failed for a message")
            return f"{authserv_id}; dkim=permerror (could not be checked)"

    return checked


def arc_result(
    message: bytes, dnsfunc: Callable[..., str | bytes | None]
) -> ARCAuthenticationResult:
    """authheaders' ARC check (RFC 8617), which for a message with no ARC header field, as
    nearly every one is, parses and canonicalizes every header field to say "none": that
    answer, in its words, without them. A message that cannot be parsed still fails, in the
    DMARC check's parse."""
    lowered = message.lower()
    if not any(name in lowered for name in _ARC_FIELDS):
        return ARCAuthenticationResult(result="none", result_comment="Message is not ARC signed")
    result: ARCAuthenticationResult = authheaders.check_arc(message, None, dnsfunc=dnsfunc)
    return result


_ARC_FIELDS = (b"arc-seal:", b"arc-message-signature:", b"arc-authentication-results:")


def _for_dmarc(result: SPFAuthenticationResult | None, helo: str) -> SPFAuthenticationResult | None:
    """A copy for DMARC (authheaders rewrites its smtp.mailfrom to the domain). With the null
    reverse-path the HELO name is the SPF domain (RFC 7489 section 3.1.2)."""
    if result is None:
        return None
    return SPFAuthenticationResult(
        result=result.result, smtp_mailfrom=result.smtp_mailfrom or f"postmaster@{helo}"
    )


def _address(ip: str | None) -> bool:
    try:
        return ip is not None and bool(ipaddress.ip_address(ip))
    except ValueError:  # "unknown": no peer address to check
        return False


def _signed(message: bytes) -> bool:
    head = message.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    return any(line.lower().startswith(b"dkim-signature:") for line in head.splitlines())
