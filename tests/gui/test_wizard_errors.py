"""The account wizard's errors, opened as the app opens it (MainWindow.add_account, in demo
mode: discovery asks the demo world's DNS): one sentence saying what happened and what to
do, the resolver's own words behind "Details"."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import re
from pathlib import Path

from mua.gui.error_note import ErrorNote
from mua.gui.wizard import AccountWizard
from mua.gui.wizard_errors import sentence_for

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


def test_raw_errors_get_one_sentence_each() -> None:
    raws = {
        "The DNS query name does not exist: imap.example.invalid.": "could not be found",
        "[Errno -2] Name or service not known": "could not be found",
        "timed out": "did not answer in time",
        "[Errno 111] Connect call failed ('127.0.0.1', 993)": "refused the connection",
        "b'[AUTHENTICATIONFAILED] Authentication failed.'": "user name or password",
        "[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1000)": "secure connection",
        "something nobody foresaw": "the details say what went wrong",
    }
    for raw, words in raws.items():
        sentence = sentence_for(raw)
        assert words in sentence and one_sentence(sentence), (raw, sentence)
