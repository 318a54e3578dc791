"""TXT lookups for the synchronous mail-authentication libraries (dkimpy, authheaders), which
call a `dnsfunc(name, timeout=5)` from a worker thread: each call is run on mua's own
validating resolver in the event loop that owns it (or answered from its cache, without
waiting on the loop, while the cached answer lasts), and the answer remembered with whether
DNSSEC validated it.

dkimpy passes the name as bytes and wants the record's text as bytes; authheaders' DMARC
lookup passes str and wants str. A name with no TXT record, or whose answer is bogus or
does not come, gives None (dkimpy then fails the signature: the caller tells why from
`answers`).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from mua.net.dns import DnsError, Resolver

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TxtAnswer:
    text: str | None  # the first record's text; None: no record
    secure: bool  # DNSSEC-validated (the record, or the proof that there is none)
    failed: bool = False  # no answer at all (timeout, bogus, refused)


@dataclass
class TxtBridge:
    resolver: Resolver
    loop: asyncio.AbstractEventLoop
    timeout: float = 5.0
    answers: dict[str, TxtAnswer] = field(default_factory=dict)

    def __call__(self, name: str | bytes, timeout: float = 5.0) -> str | bytes | None:
        text_name = (
            (name.decode("ascii", "replace") if isinstance(name, bytes) else name)
            .rstrip(".")
            .lower()
        )
        answer = self.answers.get(text_name)
        if answer is None:
            cached = self.resolver.cached_txt(text_name)
            if cached is not None:  # the resolver's cache: no round trip to the loop
                answer = TxtAnswer(cached.records[0] if cached.records else None, cached.secure)
            else:
                answer = self._ask(text_name, min(timeout, self.timeout))
            self.answers[text_name] = answer
        if answer.text is None:
            return None
        return answer.text.encode() if isinstance(name, bytes) else answer.text

    def _ask(self, name: str, timeout: float) -> TxtAnswer:
        future = asyncio.run_coroutine_threadsafe(self.resolver.txt(name), self.loop)
        try:
            found = future.result(timeout)
        except (DnsError, TimeoutError) as exc:
            future.cancel()
            log.info("TXT %s: no answer (%r)", name, exc)
            return TxtAnswer(None, False, failed=True)
        return TxtAnswer(found.records[0] if found.records else None, found.secure)
