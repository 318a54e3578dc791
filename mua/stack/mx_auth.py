"""What the MX checks of each message before delivery: DKIM, ARC and DMARC, recorded in an
Authentication-Results header field (RFC 8601) with the MX's own authserv-id.

authheaders does the checking (it wraps dkimpy for DKIM and ARC and implements the DMARC
policy lookup and alignment); mua only supplies DNS through its own validating resolver
(`TxtBridge`). SPF is not checked: every server of the demo world sends from 127.0.0.1, so
an SPF record could not tell a provider from an outsider, and a pass from it would only
hide what DKIM shows.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading

import authheaders
import authheaders.dmarc_lookup

from mua.net.dns import Resolver
from mua.net.txt_bridge import TxtBridge

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

    def get_org_domain(domain):
        with lock:
            return cached(domain)

    get_org_domain.remembered = True  # type: ignore[attr-defined]
    authheaders.dmarc_lookup.get_org_domain = get_org_domain
    authheaders.get_org_domain = get_org_domain


_remember_org_domains()


async def authentication_results(
    message: bytes, authserv_id: str, resolver: Resolver | None
) -> str:
    """The value of the Authentication-Results field to prepend (without the field name)."""
    if resolver is None:  # the MX runs before the world's DNS answers: nothing to check with
        return f"{authserv_id}; none"
    bridge = TxtBridge(resolver, asyncio.get_running_loop())

    # authheaders calls a message without any signature "dkim=fail"; RFC 8601 section 2.7.1
    # says "none", so that result is given to it beforehand.
    prev = None if _signed(message) else f"Authentication-Results: {authserv_id}; dkim=none"

    def check() -> str:
        value = authheaders.authenticate_message(
            message,
            authserv_id,
            prev=prev,
            dkim=True,
            arc=True,
            dmarc=True,
            spf=False,
            dnsfunc=bridge,
        )
        return value.split(":", 1)[1].strip()

    try:
        return await asyncio.to_thread(check)
    except Exception:  # a malformed message must not stop its delivery; say so instead
        log.exception("authentication checks failed for a message")
        return f"{authserv_id}; dkim=permerror (could not be checked)"


def _signed(message: bytes) -> bool:
    head = message.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    return any(line.lower().startswith(b"dkim-signature:") for line in head.splitlines())
