"""Issue 16: the account wizard's per-account consent to a password in clear, opened from
the main window as the app opens it in demo mode, against a world whose providers take a
password without TLS (`cleartext_auth`, as the cleartext scenarios' worlds do). Security
"none" on the server page shows the consent, unchecked, with the risk named; the test step
refuses to send the password without it and signs in with it; the account is saved with
the consent."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QWizard

from mua.core.tls_facts import Security
from mua.gui.wizard import AccountWizard
from tests.gui.conftest import finish

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
WAIT = 30_000
REFUSED = "does not send a password over an unencrypted connection"


@pytest.fixture
def demo_session(qtbot, tmp_path: Path, loop):
    """The app's demo mode over a world that takes passwords in clear (only with consent)."""
    from mua.gui.demo_profile import DemoSession
    from tests.conftest import fast_options

    options = fast_options(a_test={"cleartext_auth": True}, b_test={"cleartext_auth": True})
    demo = DemoSession.start(tmp_path / "demo", options=options)
    yield demo
    finish(qtbot, demo.aclose())


def _to_server_page(qtbot, wizard: AccountWizard, password: str) -> None:
    wizard.identity.address_edit.setText("alice@a.test")
    wizard.identity.password_edit.setText(password)
    wizard.next()
    qtbot.waitUntil(wizard.discovering.isComplete, timeout=WAIT)
    wizard.discovering.oauth_offer.setChecked(False)  # the provider offers OAuth2: a password
    wizard.next()
    assert wizard.currentId() == AccountWizard.MANUAL


def test_the_wizard_asks_before_a_password_crosses_in_clear(
    qtbot, demo_session, open_main_window
) -> None:
    world = demo_session.world.world
    engine = demo_session.engine
    engine.accounts.remove("alice@a.test")  # to add it again, in clear
    for kind in ("imap", "smtp"):
        engine.secrets.delete("alice@a.test", kind)
    main = open_main_window()
    wizard = main.add_account()
    assert isinstance(wizard, AccountWizard)
    qtbot.waitExposed(wizard)
    _to_server_page(qtbot, wizard, world.mailbox("alice@a.test").password)
    manual = wizard.manual
    consent = manual.cleartext
    assert consent.isHidden()  # TLS everywhere: nothing to consent to
    security = manual.securities["imap"]
    security.setCurrentIndex(security.findData(Security.NONE))
    manual.ports["imap"].setValue(world.providers["a.test"].ports.imap_starttls)  # the 143 role
    assert consent.isVisible() and not consent.box.isChecked()
    assert "Allow my password to cross the network in clear for this account" in (
        consent.box.text()
    )
    assert "anyone" in consent.warning.text()  # the risk, named
    ARTIFACTS.mkdir(exist_ok=True)
    assert wizard.grab().save(str(ARTIFACTS / "wizard_cleartext_consent.png"))

    # Without the consent the test step refuses, before any password is sent.
    wizard.next()
    page = wizard.testing
    qtbot.waitUntil(lambda: page.retry.isEnabled(), timeout=WAIT)
    assert not page.isComplete()
    assert REFUSED in page.results["imap"].text()

    # With it, the password crosses (as the user allowed) and the account is saved so.
    wizard.back()
    consent.box.setChecked(True)
    wizard.next()
    qtbot.waitUntil(page.isComplete, timeout=WAIT)
    assert "Signed in over an unencrypted connection." in page.results["imap"].text()
    assert wizard.grab().save(str(ARTIFACTS / "wizard_cleartext_signed_in.png"))
    wizard.next()
    with qtbot.waitSignal(wizard.account_saved, timeout=WAIT) as saved:
        wizard.button(QWizard.WizardButton.FinishButton).click()
    account = saved.args[0]
    assert account.imap.security is Security.NONE
    assert account.allow_cleartext_auth and account.cleartext_consent
    kept = engine.accounts.get("alice@a.test")
    assert kept.allow_cleartext_auth and kept.imap.security is Security.NONE
