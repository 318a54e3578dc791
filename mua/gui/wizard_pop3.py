"""The account wizard's test of a POP3 incoming server (mua.gui.wizard_logic does IMAP's)."""

from __future__ import annotations

import asyncio

from mua.core.account import Account
from mua.core.i18n import _, error_text
from mua.core.tls import TlsFacts
from mua.gui.wizard_errors import sentence_for
from mua.gui.wizard_logic import CheckResult, _problem, protection
from mua.net import pop3


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
    except pop3.CertificateInvalid as exc:
        return CheckResult("imap", False, error_text(exc), _problem(exc.reason))
    except pop3.CleartextRefused as exc:  # its own sentence: what to choose, or to allow
        return CheckResult("imap", False, error_text(exc))
    except pop3.Pop3Error as exc:
        return CheckResult("imap", False, sentence_for(str(exc)), details=str(exc))
    text = _("Signed in over POP3 and {protection}.").format(protection=protection(tls))
    return CheckResult("imap", True, text, tls=tls)
