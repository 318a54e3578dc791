"""How one provider of the world is set up: its ports and its options (what the demo
scenarios and `mua check`'s findings turn). `mua.stack.provider` runs a provider from these."""

from __future__ import annotations

import datetime as dt
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from mua.net.mta_sts import StsMode
from mua.stack.chaos import ChaosOptions
from mua.stack.imap.server import ImapLimits
from mua.stack.limits import ConnectionLimits
from mua.stack.lmtp import LmtpMode
from mua.stack.mta import DEFAULT_RETRY_DELAYS, DEFAULT_RETRY_WINDOW
from mua.stack.pop3.state import Pop3Limits
from mua.stack.smtpd import IDLE_TIMEOUT, MAX_RECIPIENTS


class MxTls(StrEnum):
    """How the provider's MX does STARTTLS: the demo scenarios turn this."""

    VERIFIED = "verified"  # a certificate from the world's CA
    UNVERIFIABLE = "unverifiable"  # a certificate from a CA nobody trusts
    NONE = "none"  # no STARTTLS offered at all


@dataclass(frozen=True)
class ProviderPorts:
    """Ports to listen on; 0 picks a free one."""

    submission_implicit: int = 0
    submission_starttls: int = 0
    mx: int = 0
    imap_implicit: int = 0
    imap_starttls: int = 0
    mta_sts: int = 0  # the HTTPS policy host, when the provider publishes MTA-STS
    tlsrpt: int = 0  # the HTTPS report receiver, when its TLS-RPT record names one
    oauth: int = 0  # the HTTPS authorization server (OAuth2), the 4443 role
    pop3_implicit: int = 0  # the 995 role
    pop3_starttls: int = 0  # the 110 role (STLS)
    legacy_submission: int = 0  # the 25 role for submission in clear, with `cleartext_auth`
    lmtp: int = 0  # the store host's LMTP listener, with `ProviderOptions.lmtp`

    @classmethod
    def offset(cls, offset: int) -> ProviderPorts:
        return cls(
            465 + offset,
            587 + offset,
            25 + offset,
            993 + offset,
            143 + offset,
            443 + offset,
            8443 + offset,
            oauth=4443 + offset,
            pop3_implicit=995 + offset,
            pop3_starttls=110 + offset,
        )


@dataclass(frozen=True)
class ProviderOptions:
    """How one provider is set up. The defaults are the modern provider; the others are
    what the demo scenarios and `mua check`'s findings turn.

    - `mx_tls_versions`: the lowest and highest TLS version the MX accepts. Below TLS 1.2
      its context drops to OpenSSL security level 0, which OpenSSL 3 needs to offer TLS 1.0
      and 1.1 at all (`(TLSv1, TLSv1_1)` is an MX that modern senders cannot reach).
    - `mx_requiretls`: the MX advertises REQUIRETLS (RFC 8689) over TLS.
    - `mta_sts_policy`: with `mta_sts`, the text the policy host serves instead of the policy
      made from the mode and the MX (a broken or mismatched policy); the `_mta-sts` TXT id
      follows whatever is served.
    - `tlsrpt_rua`: the URIs of the domain's TLS-RPT record (RFC 8460 section 3), published
      as `v=TLSRPTv1; rua=<them, comma-separated>` at `_smtp._tls.<domain>`; () publishes
      none. An `https://tlsrpt.<domain>/...` URI among them is served by the provider's
      report receiver (`tlsrpt_server.py`), which keeps what it is sent in
      `<domain>/tlsrpt/received/`; `mailto:` URIs need a user here to land anywhere.
    - `tlsrpt_send_at`: the UTC time of day at which the MTA sends the previous day's TLS
      reports; None: a random moment in the first hours after midnight (section 4.1 asks
      for some delay; `tlsrpt_daily.py`).
    - `clock`: the wall clock the MTA dates its TLS-RPT sessions by and whose midnight
      starts each day's reports (seconds since the epoch, like `time.time`); a test passes
      one set to just before midnight instead of waiting for it.
    """

    users: tuple[str, ...]
    mx_tls: MxTls = MxTls.VERIFIED
    dane: bool = True  # publish a TLSA record for the MX (only with a verifiable certificate)
    mta_sts: StsMode | None = None  # publish an MTA-STS policy in this mode (RFC 8461)
    mx_tls_versions: tuple[ssl.TLSVersion, ssl.TLSVersion] = (
        ssl.TLSVersion.TLSv1_2,
        ssl.TLSVersion.MAXIMUM_SUPPORTED,
    )
    mx_requiretls: bool = True
    mta_sts_policy: str | None = None
    tlsrpt_rua: tuple[str, ...] = ()
    tlsrpt_send_at: dt.time | None = None
    clock: Callable[[], float] = time.time
    retry_delays: tuple[float, ...] = DEFAULT_RETRY_DELAYS
    retry_window: float = DEFAULT_RETRY_WINDOW
    idle_timeout: float = IDLE_TIMEOUT
    relay_timeout: float = 60.0
    imap_limits: ImapLimits = field(default_factory=ImapLimits)
    pop3_limits: Pop3Limits = field(default_factory=Pop3Limits)
    # per listener (MSA 465/587, MX 25, IMAP 993/143): see mua/stack/limits.py
    connection_limits: ConnectionLimits = field(default_factory=ConnectionLimits)
    max_recipients: int = MAX_RECIPIENTS  # per SMTP transaction; more get 452 4.5.3
    dkim_sign: bool = True  # the MTA DKIM-signs what the MSA accepted (keys in <dir>/dkim/)
    # A legacy provider, only in the scenarios that show one: AUTH/LOGIN without TLS on the
    # 587 and 143 roles, and submission in clear on the 25 role (ProviderPorts.legacy_submission).
    cleartext_auth: bool = False
    # The MX delivers over LMTP to a separate store host, over TLS or in clear (mua.stack.lmtp)
    lmtp: LmtpMode | None = None
    # `mua stack --chaos`: the MSA, MX, IMAP and POP3 listeners misbehave (mua/stack/chaos.py)
    chaos: ChaosOptions | None = None
