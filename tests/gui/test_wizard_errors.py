"""The account wizard's errors, opened as the app opens it (MainWindow.add_account, in demo
mode: discovery asks the demo world's DNS): one sentence saying what happened and what to
do, the resolver's own words behind "Details"."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import re
import socket
import ssl
from pathlib import Path

from mua.gui.error_note import ErrorNote
from mua.gui.wizard import AccountWizard
from mua.gui.wizard_errors import sentence_for, sentence_for_text
from mua.net.dns import DnsError
from mua.net.errors import (
    AuthenticationFailed,
    CleartextRefused,
    NetError,
    NetTimeout,
    ProtocolError,
    TokenRefused,
    Unreachable,
)
from mua.net.imap import ImapError

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
WAIT = 20_000


def one_sentence(text: str) -> bool:
    """Ends with a full stop and has no other sentence end (dots inside names are fine)."""
    return text.endswith(".") and not re.search(r"[.!?]\s", text) and "\n" not in text


def open_details(qtbot, note: ErrorNote) -> str:
    assert note.toggle.isVisible() and not note.details.isVisible()  # closed at first
    note.toggle.click()
    qtbot.waitUntil(note.details.isVisible)
    return note.details.text()


def test_a_domain_that_does_not_exist(qtbot, open_main_window) -> None:
    window = open_main_window()
    wizard = window.add_account()
    wizard.identity.name_edit.setText("Nobody")
    wizard.identity.address_edit.setText("nobody@nosuch.a.test")
    wizard.identity.password_edit.setText("secret")
    wizard.next()
    assert wizard.currentId() == AccountWizard.DISCOVERY
    page = wizard.discovering
    qtbot.waitUntil(page.isComplete, timeout=WAIT)
    said = page.status.text()
    assert said.startswith("The domain nosuch.a.test does not exist; check the address")
    assert one_sentence(said), said
    raw = open_details(qtbot, page.status)
    assert "NXDOMAIN" in raw and "SRV _imaps._tcp.nosuch.a.test" in raw
    ARTIFACTS.mkdir(exist_ok=True)
    assert wizard.grab().save(str(ARTIFACTS / "wizard_no_such_domain.png"))

    wizard.next()
    wizard.manual.hosts["imap"].setText("imap.nosuch.a.test")
    wizard.manual.hosts["smtp"].setText("smtp.nosuch.a.test")
    wizard.next()
    assert wizard.currentId() == AccountWizard.TEST
    testing = wizard.testing
    qtbot.waitUntil(testing.retry.isEnabled, timeout=WAIT)
    said = testing.status.text()
    assert said == "A server name could not be found in the DNS; check the server names for typos."
    raw = open_details(qtbot, testing.status)
    assert "nosuch.a.test has no address" in raw  # the lookup's own words
    assert not testing.isComplete()


def raised_from(error: NetError, cause: BaseException) -> NetError:
    """`error` as a protocol module raises it: `raise error from cause`."""
    try:
        raise error from cause
    except NetError as caught:
        return caught


def test_errors_get_one_sentence_each_by_class() -> None:
    where = "imap.b.test port 993"
    errors = {
        AuthenticationFailed(f"{where} rejected the user name or password; check them."): (
            "did not accept the user name or password"
        ),
        AuthenticationFailed(  # SMTP's 454 4.7.0: a temporary failure
            "smtp.b.test port 465 could not check the password right now (454 4.7.0 busy); "
            "try again later.",
            code=454,
        ): "could not check the password right now; try again later",
        ImapError(  # LOGIN answered NO [UNAVAILABLE] (RFC 5530): not a wrong password
            f"{where} could not check the password right now (\"b'[UNAVAILABLE] busy'\"); "
            "try again later."
        ): "could not check the password right now; try again later",
        TokenRefused(f'{where} refused the sign-in token ("expired"); sign in again.'): (
            "did not accept the sign-in; sign in again"
        ),
        NetTimeout.waiting(where, 5, "signing in"): "did not answer in time",
        raised_from(
            Unreachable("The server name imap.b.test could not be found; check it."),
            socket.gaierror(socket.EAI_NONAME, "Name or service not known"),
        ): "could not be found",
        raised_from(
            Unreachable(f"Could not connect to {where} (Connection refused); check it."),
            ConnectionRefusedError(111, "Connection refused"),
        ): "refused the connection",
        raised_from(
            Unreachable(f"TLS with {where} failed (WRONG_VERSION_NUMBER); check the port."),
            ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number"),
        ): "secure connection",
        DnsError("The server name imap.b.test has no address; check it."): "could not be found",
        ProtocolError(f"{where} answered something nobody foresaw."): (
            "the details say what went wrong"
        ),
    }
    for error, words in errors.items():
        sentence = sentence_for(error)
        assert words in sentence and one_sentence(sentence), (error, sentence)
    refused = CleartextRefused("This program does not send a password over an unencrypted one.")
    assert sentence_for(refused) == str(refused)  # its own sentence says what to choose


def test_errors_known_only_as_text_get_one_sentence_each() -> None:
    raws = {
        "The DNS query name does not exist: imap.example.invalid.": "could not be found",
        "[Errno -2] Name or service not known": "could not be found",
        "timed out": "did not answer in time",
        "[Errno 111] Connect call failed ('127.0.0.1', 993)": "refused the connection",
        "[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1000)": "secure connection",
        "something nobody foresaw": "the details say what went wrong",
    }
    for raw, words in raws.items():
        sentence = sentence_for_text(raw)
        assert words in sentence and one_sentence(sentence), (raw, sentence)
