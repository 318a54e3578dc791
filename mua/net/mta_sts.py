"""MTA-STS (RFC 8461): discover, fetch, parse and cache a domain's SMTP TLS policy.

A domain announces a policy with a TXT record at `_mta-sts.<domain>` (`v=STSv1; id=...;`,
section 3.1) and serves it over HTTPS at `https://mta-sts.<domain>/.well-known/mta-sts.txt`
(section 3.3), with a certificate the web PKI vouches for: no DNSSEC needed, which is the
point of MTA-STS. Policies are cached for their max_age and refreshed when the TXT id
changes (section 5.1), so a later attacker who hides the TXT record cannot switch them off.

The parsers are pure functions; `MtaStsClient` does the I/O (one GET through httpx2 with
mua's verification rules, `mua.net.http`: no redirects followed, bounded size and time).
"""

from __future__ import annotations

import asyncio
import logging
import re
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import httpx2 as httpx

from mua.core.i18n import T_, Text
from mua.net.dns import DnsError, Resolver
from mua.net.errors import NetError
from mua.net.http import HttpSettings
from mua.net.shared_calls import SharedCalls
from mua.net.tls import client_context

log = logging.getLogger(__name__)

WELL_KNOWN = "/.well-known/mta-sts.txt"
MAX_AGE_LIMIT = 31557600  # section 3.2: at most one year
MAX_BODY = 64 * 1024  # section 3.3 asks senders to bound what they read
DEFAULT_TIMEOUT = 60.0


class MtaStsError(NetError):
    """No usable policy: a bad TXT record or policy, or the HTTPS fetch failed."""


class StsMode(StrEnum):
    ENFORCE = "enforce"
    TESTING = "testing"
    NONE = "none"


@dataclass(frozen=True)
class StsPolicy:
    mode: StsMode
    mx: tuple[str, ...]
    max_age: int
    id: str = ""  # the TXT record's id when it was fetched
    fetched: float = 0.0  # time.time() of the fetch

    def expired(self, now: float | None = None) -> bool:
        return (now if now is not None else time.time()) >= self.fetched + self.max_age

    def matches_mx(self, host: str) -> bool:
        """Section 4.1: an exact name, or `*.` standing for exactly one left-most label."""
        host = host.lower().rstrip(".")
        for pattern in self.mx:
            pattern = pattern.lower().rstrip(".")
            if pattern.startswith("*."):
                label, _, rest = host.partition(".")
                if label and rest == pattern[2:]:
                    return True
            elif host == pattern:
                return True
        return False


_TXT_FIELD = re.compile(r"^\s*([A-Za-z0-9_.-]+)=([\x21-\x3a\x3c\x3e-\x7e]*)\s*$")
_ID = re.compile(r"^[A-Za-z0-9]{1,32}$")
_MAX_AGE = re.compile(r"^[0-9]{1,10}$")  # section 3.2: 1*10DIGIT (str.isdigit takes "²")


def parse_txt(records: list[str] | tuple[str, ...]) -> str | None:
    """The policy id from the `_mta-sts` TXT records, None when there is no valid one.

    Section 3.1: records not starting with `v=STSv1;` are ignored; anything but exactly one
    left, or one that does not parse, means "no policy".
    """
    candidates = [r for r in records if r.startswith("v=STSv1;")]
    if len(candidates) != 1:
        return None
    fields: dict[str, str] = {}
    for part in candidates[0].split(";"):
        if not part.strip():
            continue
        match = _TXT_FIELD.match(part)
        if match is None:
            return None
        fields.setdefault(match.group(1), match.group(2))
    policy_id = fields.get("id", "")
    return policy_id if _ID.match(policy_id) else None


def parse_policy(text: str, policy_id: str = "", fetched: float | None = None) -> StsPolicy:
    """Section 3.2: `key: value` lines (LF or CRLF); unknown keys are ignored."""
    fields: dict[str, list[str]] = {}
    for line in text.replace("\r\n", "\n").split("\n"):
        if not line.strip():
            continue
        key, sep, value = line.partition(":")
        if not sep:
            raise MtaStsError(T_("not a policy line: {line}", line=repr(line[:60])))
        fields.setdefault(key.strip(), []).append(value.strip())
    if fields.get("version") != ["STSv1"]:
        raise MtaStsError(T_("the policy's version is not STSv1"))
    try:
        mode = StsMode(fields.get("mode", [""])[0])
    except ValueError as exc:
        raise MtaStsError(T_("unknown mode {mode}", mode=fields.get("mode"))) from exc
    max_age_text = fields.get("max_age", [""])[0]
    if not _MAX_AGE.match(max_age_text):
        raise MtaStsError(
            T_("max_age {value} is not a number of seconds", value=repr(max_age_text))
        )
    mx = tuple(fields.get("mx", []))
    if not mx and mode is not StsMode.NONE:
        raise MtaStsError(T_("the policy lists no mx"))
    return StsPolicy(
        mode=mode,
        mx=mx,
        max_age=min(int(max_age_text), MAX_AGE_LIMIT),
        id=policy_id,
        fetched=time.time() if fetched is None else fetched,
    )


class MtaStsClient:
    """Policies of recipient domains, cached per section 5.1. `port_for` maps the policy
    host to its HTTPS port (443 in the real world; the demo world injects its own)."""

    def __init__(
        self,
        resolver: Resolver,
        *,
        ca_file: Path | None = None,
        port_for: Callable[[str], int] = lambda _host: 443,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.resolver = resolver
        self.port_for = port_for
        self.timeout = timeout
        self._context = client_context(ca_file)
        self._cache: dict[str, StsPolicy] = {}
        self._fetching: SharedCalls[tuple[str, str]] = SharedCalls()  # one fetch per new policy

    async def policy(self, domain: str) -> StsPolicy | None:
        """The policy to apply to mail for `domain`, None when it has none (or none we
        could fetch and none cached: section 3.3 says deliver as if there were none)."""
        domain = domain.lower().rstrip(".")
        cached = self._cache.get(domain)
        if cached is not None and cached.expired():
            del self._cache[domain]
            cached = None
        try:
            txt = await self.resolver.txt(f"_mta-sts.{domain}")
        except DnsError as exc:
            log.info("MTA-STS TXT lookup for %s failed: %s", domain, exc)
            return cached
        policy_id = parse_txt(txt.records)
        if policy_id is None or (cached is not None and cached.id == policy_id):
            return cached  # section 5.1: no TXT record, or the same id: keep the cached one
        try:
            # deliveries that find the same new id together share one fetch (a restart with
            # thousands queued for one domain sends one GET)
            fresh = await self._fetching.run(
                (domain, policy_id), lambda: self._fetch_policy(domain, policy_id)
            )
        except MtaStsError as exc:
            log.info("MTA-STS policy of %s unavailable: %s", domain, exc)
            return cached
        self._cache[domain] = fresh
        return fresh

    async def _fetch_policy(self, domain: str, policy_id: str) -> StsPolicy:
        return parse_policy(await self.fetch(domain), policy_id)

    async def fetch(self, domain: str) -> str:
        """GET the policy over HTTPS, certificate verified for `mta-sts.<domain>`."""
        host = f"mta-sts.{domain}"
        try:
            addresses = await self.resolver.addresses(host)
        except DnsError as exc:
            raise MtaStsError(f"{host}: {exc}") from exc
        if not addresses.records:
            raise MtaStsError(T_("{host} has no address", host=host))
        try:
            # httpx's own timeouts (connect, TLS handshake, each read) end a stalled fetch
            # cleanly; the overall bound behind them only catches a server that trickles.
            async with asyncio.timeout(self.timeout * 4):
                return await self._get(host)
        except (TimeoutError, httpx.TimeoutException) as exc:
            seconds = f"{self.timeout:g}"
            raise MtaStsError(
                T_("{host}: no policy within {seconds} s", host=host, seconds=seconds)
            ) from exc
        except (httpx.HTTPError, OSError, ssl.SSLError) as exc:
            raise MtaStsError(f"{host}: {exc or exc.__class__.__name__}") from exc

    async def _get(self, host: str) -> str:
        settings = HttpSettings(
            resolver=self.resolver,
            port_for=lambda name, _port: self.port_for(name),
            timeout=self.timeout,
            context=self._context,
        )
        url = f"https://{host}{WELL_KNOWN}"
        async with (
            httpx.AsyncClient(**settings.client_options()) as http,
            http.stream("GET", url, headers={"Accept": "text/plain"}) as response,
        ):
            body = b""
            if response.status_code == 200:  # else: no body to read
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_BODY:
                        raise MtaStsError(_too_large(host))
            return policy_body(
                response.status_code,
                response.reason_phrase,
                response.headers.get("content-type", ""),
                body,
                host,
            )


def policy_body(
    status: int, reason: str, content_type: str, body: bytes, host: str = "the policy host"
) -> str:
    """The policy from a response section 3.3 accepts: 200 (a redirect is not followed: a
    failure), text/plain, at most MAX_BODY bytes."""
    if status != 200:
        raise MtaStsError(
            T_("{host}: HTTP status {status}", host=host, status=f"{status} {reason}".strip())
        )
    media = content_type.split(";")[0].strip().lower()
    if media != "text/plain":
        raise MtaStsError(
            T_(
                "{host}: the policy is {media}, not text/plain",
                host=host,
                media=media or T_("untyped"),
            )
        )
    if len(body) > MAX_BODY:
        raise MtaStsError(_too_large(host))
    return body.decode("utf-8", "replace")


def _too_large(host: str) -> Text:
    return T_("{host}: the policy is larger than {size} bytes", host=host, size=MAX_BODY)
