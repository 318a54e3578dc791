"""The account wizard's test connection (Qt-free): sign in to the incoming server (IMAP, or
POP3 for a POP3 account) and greet the submission server, each found as a `CheckResult`,
one sentence for the user and the server's own words for "Details"."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from mua.core.account import Account
from mua.core.i18n import _, error_text
from mua.core.tls_facts import TlsFacts, TlsMode
from mua.gui.wizard_errors import sentence_for
from mua.gui.wizard_logic import Kind
from mua.net import imap, pop3, submission
from mua.net.errors import CertificateInvalid, CleartextRefused, NetError
from mua.net.tls import CertificateProblem


@dataclass(frozen=True)
class CheckResult:
    kind: Kind
    ok: bool
    text: str  # one sentence for the user
    certificate_problem: CertificateProblem | None = None
    tls: TlsFacts | None = None
    details: str = ""  # the server's or the resolver's own words, behind "Details"


async def check_account(account: Account, password: str, *, timeout: float = 10.0):
    """(IMAP, SMTP): sign in over IMAP, and probe the submission server (no message sent)."""
    return await asyncio.gather(
        _check_imap(account, password, timeout), check_smtp(account, timeout)
    )


async def _check_imap(account: Account, password: str, timeout: float) -> CheckResult:
    if account.pop3 is not None:
        return await check_pop3(account, password, timeout)
    s = account.imap
    endpoint = imap.ImapEndpoint(s.host, s.port, s.security, s.ca_file, s.server_name)

    def sign_in() -> TlsFacts:
        with imap.ImapSession.connect(endpoint, timeout=timeout) as session:
            session.login(s.username, password, allow_cleartext_auth=account.allow_cleartext_auth)
            return session.tls

    checked = await _signed_in(sign_in)
    if isinstance(checked, CheckResult):
        return checked
    text = _("Signed in over {protection}.").format(protection=protection(checked))
    return CheckResult("imap", True, text, tls=checked)


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

    checked = await _signed_in(sign_in)
    if isinstance(checked, CheckResult):
        return checked
    text = _("Signed in over POP3 and {protection}.").format(protection=protection(checked))
    return CheckResult("imap", True, text, tls=checked)


async def _signed_in(sign_in: Callable[[], TlsFacts]) -> TlsFacts | CheckResult:
    """The incoming server's sign-in in a worker thread: its TLS facts, or the failed check
    (a POP3 account's incoming server is checked in the "imap" row as an IMAP one is)."""
    try:
        return await asyncio.to_thread(sign_in)
    except CertificateInvalid as exc:
        return CheckResult("imap", False, error_text(exc), _problem(exc.reason))
    except CleartextRefused as exc:  # its own sentence: what to choose, or to allow
        return CheckResult("imap", False, error_text(exc))
    except NetError as exc:
        return CheckResult("imap", False, sentence_for(exc), details=str(exc))


async def check_smtp(account: Account, timeout: float) -> CheckResult:
    """Greet the submission server and read what sign-in it offers (no message sent)."""
    s = account.smtp
    endpoint = submission.SubmissionEndpoint(s.host, s.port, s.security, s.ca_file, s.server_name)
    try:
        result = await submission.probe(endpoint, timeout=timeout)
    except CertificateInvalid as exc:
        return CheckResult("smtp", False, error_text(exc), _problem(exc.reason))
    except NetError as exc:
        return CheckResult("smtp", False, sentence_for(exc), details=str(exc))
    how = ", ".join(result.auth_mechanisms) or _("none")
    text = _("Connected over {protection}; sign-in offered: {mechanisms}.").format(
        protection=protection(result.tls), mechanisms=how
    )
    return CheckResult("smtp", True, text, tls=result.tls)


def protection(tls: TlsFacts) -> str:
    """ "TLSv1.3 (implicit TLS), certificate verified": a connection's protection, in words."""
    if not tls.encrypted:
        return _("an unencrypted connection")
    mode = {TlsMode.IMPLICIT: _("implicit TLS"), TlsMode.STARTTLS: "STARTTLS"}.get(tls.mode, "TLS")
    if tls.verified:
        text = _("{version} ({mode}), certificate verified")
    else:
        text = _("{version} ({mode}), certificate not verified")
    return text.format(version=tls.version or "TLS", mode=mode)


def _problem(reason: object) -> CertificateProblem:
    return reason if isinstance(reason, CertificateProblem) else CertificateProblem.OTHER
