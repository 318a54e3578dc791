"""SMTP TLS Reporting (RFC 8460): the sending MTA's record of each relay session's TLS, and the
daily aggregate report for a recipient domain that asks for one with a `_smtp._tls` TXT record.

Each relay session is one line in a JSON-lines file (`TlsReportLog`): the policy that applied
(section 4.4: "tlsa", "sts" or "no-policy-found", with its policy strings), the MX, and the
result (None for a successful TLS session, else a result type of section 4.3). The report for
one UTC day is aggregated from those lines (section 4.4), written under the file name of
section 5.1, mailed to the record's `mailto:` URIs (section 5.3.1, `tlsrpt_mail.py`) and
POSTed to its `https:` URIs (section 5.3.2, `tlsrpt_https.py`); `tlsrpt_daily.py` sends each
day's reports once, after midnight UTC (section 4.1).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import re
import secrets
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mua.net.dns import DnsError, Resolver
from mua.stack.tls_policy import PolicyRefusal, TlsPolicy

log = logging.getLogger(__name__)

_RUA = re.compile(r"^\s*rua\s*=\s*(.+?)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class TlsSession:
    """One relay session as TLS-RPT counts it."""

    policy_type: str  # "tlsa" | "sts" | "no-policy-found"
    policy_strings: tuple[str, ...]
    mx_host: str
    receiving_ip: str | None
    result_type: str | None = None  # None: TLS was negotiated as the policy asked
    reason: str = ""  # for people (failure-reason-code, section 4.4)


def refused_session(
    policy: TlsPolicy, mx_host: str, address: str | None, refusal: PolicyRefusal
) -> TlsSession:
    """The session a relay policy refused, as TLS-RPT counts it."""
    return TlsSession(
        policy.report_type,
        policy.strings,
        mx_host,
        address,
        refusal.result_type,
        refusal.reason,
    )


def certificate_result(reason: str) -> str:
    """Section 4.3.1: the result type of a certificate that failed web-PKI validation, from
    the phrase mua.net.tls.verify_certificate gave."""
    if "expired" in reason or "not valid before" in reason:
        return "certificate-expired"
    if reason.startswith("it names"):
        return "certificate-host-mismatch"
    return "certificate-not-trusted"


def parse_tlsrpt(records: list[str] | tuple[str, ...]) -> tuple[str, ...] | None:
    """Section 3: the `rua` URIs of the one `v=TLSRPTv1` record; None when there is not
    exactly one such record, or it names no URI."""
    found = [r for r in records if re.match(r"^v=TLSRPTv1\s*(;|$)", r)]
    if len(found) != 1:
        return None
    for part in found[0].split(";")[1:]:
        match = _RUA.match(part)
        if match:
            uris = tuple(u.strip() for u in match.group(1).split(",") if u.strip())
            return uris or None
    return None


class TlsReportLog:
    """The sessions of one sending MTA, per recipient (policy) domain, in a JSON-lines file."""

    def __init__(
        self,
        path: Path,
        *,
        sending_ip: str = "127.0.0.1",
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`clock`: the wall clock sessions are dated by (the daily reports follow it too)."""
        self.path = Path(path)
        self.sending_ip = sending_ip
        self.clock = clock
        self._lock = threading.Lock()

    def record(self, domain: str, session: TlsSession, when: float | None = None) -> None:
        line = {"time": when if when is not None else self.clock(), "domain": domain.lower()}
        line |= asdict(session)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(line) + "\n")

    def sessions(self, domain: str, start: float, end: float) -> list[dict[str, Any]]:
        return [s for s in self._read(start, end) if s.get("domain") == domain.lower()]

    def domains(self, start: float, end: float) -> set[str]:
        """The policy domains with sessions in [start, end)."""
        return {str(s["domain"]) for s in self._read(start, end) if s.get("domain")}

    def _read(self, start: float, end: float) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        with self._lock:
            text = self.path.read_text(encoding="utf-8")
        found = []
        for line in text.splitlines():
            try:
                item = json.loads(line)
            except ValueError:
                continue  # a line cut short by a crash
            if isinstance(item, dict) and start <= item.get("time", -1) < end:
                found.append(item)
        return found

    def report(
        self,
        domain: str,
        start: float,
        end: float,
        *,
        organization: str,
        contact: str,
        report_id: str | None = None,
    ) -> dict[str, Any]:
        """The aggregate report of section 4.4 for sessions in [start, end)."""
        groups: dict[tuple[str, tuple[str, ...]], list[dict[str, Any]]] = defaultdict(list)
        for s in self.sessions(domain, start, end):
            groups[(s["policy_type"], tuple(s["policy_strings"]))].append(s)
        policies = []
        for (policy_type, strings), sessions in groups.items():
            failures = Counter(
                (s["result_type"], s["mx_host"], s["receiving_ip"], s["reason"])
                for s in sessions
                if s["result_type"]
            )
            policy: dict[str, Any] = {"policy-type": policy_type, "policy-domain": domain}
            if strings:
                policy["policy-string"] = list(strings)
            policy["mx-host"] = sorted({s["mx_host"] for s in sessions})
            policies.append(
                {
                    "policy": policy,
                    "summary": {
                        "total-successful-session-count": len(sessions) - sum(failures.values()),
                        "total-failure-session-count": sum(failures.values()),
                    },
                    "failure-details": [
                        {
                            "result-type": result,
                            "sending-mta-ip": self.sending_ip,
                            "receiving-mx-hostname": mx_host,
                            **({"receiving-ip": ip} if ip else {}),
                            "failed-session-count": count,
                            **({"failure-reason-code": why} if why else {}),
                        }
                        for (result, mx_host, ip, why), count in sorted(failures.items(), key=str)
                    ],
                }
            )
        return {
            "organization-name": organization,
            "date-range": {"start-datetime": _iso(start), "end-datetime": _iso(end - 1)},
            "contact-info": contact,
            "report-id": report_id or f"{int(start)}.{secrets.token_hex(6)}@{organization}",
            "policies": policies,
        }


@dataclass(frozen=True)
class DailyReport:
    """One policy domain's aggregate report for one UTC day, and where it is to go."""

    domain: str
    rua: tuple[str, ...]  # section 3: mailto: and https: URIs
    report: dict[str, Any]  # section 4.4
    name: str  # section 5.1's file name without its extension: sender!domain!begin!end

    def json_bytes(self) -> bytes:
        return (json.dumps(self.report, indent=2) + "\n").encode()


@dataclass(frozen=True)
class ReportOutcome:
    """Where one domain's report for one day went."""

    sent: tuple[str, ...] = ()  # the rua URIs that took it: mail queued, or HTTPS 2xx
    failed: dict[str, str] = field(default_factory=dict)  # https: URIs that did not: why


async def daily_report(
    log_: TlsReportLog,
    resolver: Resolver,
    domain: str,
    *,
    day: dt.date,
    sender: str,
    contact: str,
) -> DailyReport | None:
    """`domain`'s report for the UTC day `day` when it publishes a TLS-RPT record (section
    3); None when it does not (or the lookup fails: a report needs somewhere to go)."""
    try:
        txt = await resolver.txt(f"_smtp._tls.{domain}")
    except DnsError as exc:
        log.info("no TLS report for %s: the _smtp._tls lookup failed (%s)", domain, exc)
        return None
    rua = parse_tlsrpt(txt.records)
    if rua is None:
        return None
    start = day_start(day)
    end = start + 86400
    report = log_.report(domain, start, end, organization=sender, contact=contact)
    return DailyReport(domain, rua, report, f"{sender}!{domain}!{int(start)}!{int(end)}")


async def write_daily_report(
    log_: TlsReportLog,
    resolver: Resolver,
    domain: str,
    directory: Path,
    *,
    day: dt.date,
    sender: str,
    contact: str,
) -> Path | None:
    """Write `domain`'s report for `day` into `directory` as section 5.1 names it
    (sender!policy-domain!begin!end.json, the times in seconds since the epoch); None when
    the domain asks for none."""
    found = await daily_report(log_, resolver, domain, day=day, sender=sender, contact=contact)
    if found is None:
        return None
    path = directory / f"{found.name}.json"
    await asyncio.to_thread(_write, path, found.json_bytes())
    log.info("TLS report for %s written to %s (for %s)", domain, path, ", ".join(found.rua))
    return path


def day_start(day: dt.date) -> float:
    """The first second of the UTC day `day`, in seconds since the epoch (section 4.1: a
    report covers 00:00 to 24:00 UTC)."""
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC).timestamp()


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _iso(when: float) -> str:
    return dt.datetime.fromtimestamp(when, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
