"""The account wizard's OAuth2 path, opened from the main window as the app opens it in demo
mode: "Sign in with my browser", discovery, then the test page opens the browser (here an
HTTP client that answers the world's consent form), waits with a Cancel button, checks IMAP
with the token, and Finish keeps the refresh token (no password) in the keyring."""

from __future__ import annotations

import asyncio
from pathlib import Path

from PySide6.QtWidgets import QWizard

from mua.gui.wizard import AccountWizard
from tests.test_oauth_client import Browser

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
WAIT = 30_000


def test_sign_in_with_the_browser(qtbot, demo_session, open_main_window, loop, monkeypatch):
    world = demo_session.world.world
    demo_session.engine.accounts.remove("alice@a.test")  # to add it again, with OAuth2
    for kind in ("imap", "smtp"):
        demo_session.engine.secrets.delete("alice@a.test", kind)
    opened: list[str] = []
    held: list[str] = []

    def browser_that_waits(url: str) -> None:  # the person has not answered yet
        held.append(url)

    monkeypatch.setattr("mua.gui.wizard_oauth.open_in_browser", browser_that_waits)
    main = open_main_window()
    wizard = main.add_account()
    assert isinstance(wizard, AccountWizard)
    qtbot.waitExposed(wizard)
    wizard.identity.address_edit.setText("alice@a.test")
    wizard.identity.oauth_box.setChecked(True)
    assert not wizard.identity.password_edit.isEnabled()
    wizard.next()
    qtbot.waitUntil(wizard.discovering.isComplete, timeout=WAIT)
    wizard.next()
    wizard.next()
    assert wizard.currentId() == AccountWizard.TEST
    page = wizard.testing
    qtbot.waitUntil(lambda: page.cancel_sign_in.isVisible(), timeout=WAIT)
    assert "browser" in page.status.text()
    assert held and held[0].startswith(world.settings()["domains"][0]["oauth"]["issuer"])
    ARTIFACTS.mkdir(exist_ok=True)
    assert wizard.grab().save(str(ARTIFACTS / "wizard_oauth_waiting.png"))

    page.cancel_sign_in.click()  # Cancel: the listener closes, nothing is kept
    assert "cancelled" in page.status.text()
    assert not page.isComplete()

    browser = Browser(world, world.mailbox("alice@a.test").password)

    def browser_that_answers(url: str) -> None:
        opened.append(url)
        browser.tasks.append(asyncio.ensure_future(browser._browse(url)))

    monkeypatch.setattr("mua.gui.wizard_oauth.open_in_browser", browser_that_answers)
    page.retry.click()
    qtbot.waitUntil(page.isComplete, timeout=WAIT)
    assert opened
    assert "OAuth2 token (XOAUTH2)" in page.results["imap"].text()
    assert page.cancel_sign_in.isHidden()
    assert wizard.grab().save(str(ARTIFACTS / "wizard_oauth_signed_in.png"))
    wizard.next()
    with qtbot.waitSignal(wizard.account_saved, timeout=WAIT) as saved:
        wizard.button(QWizard.WizardButton.FinishButton).click()
    account = saved.args[0]
    assert account.oauth is not None and account.oauth.issuer in opened[0]
    assert demo_session.engine.accounts.get("alice@a.test").oauth == account.oauth
    secrets = demo_session.engine.secrets
    assert secrets.get("alice@a.test", "oauth")
    assert secrets.get("alice@a.test", "imap") is None  # no password was kept


def test_discovery_that_finds_oauth2_checks_the_browser_sign_in(
    qtbot, demo_session, open_main_window, loop, monkeypatch
):
    """The person typed a password; the world's autoconfig file (autoconfig.a.test) says the
    provider signs in with OAuth2: the discovery page offers it pre-checked, with the issuer,
    and the test page then signs in in the browser."""
    world = demo_session.world.world
    issuer = world.settings()["domains"][0]["oauth"]["issuer"]
    demo_session.engine.accounts.remove("alice@a.test")
    for kind in ("imap", "smtp"):
        demo_session.engine.secrets.delete("alice@a.test", kind)
    browser = Browser(world, world.mailbox("alice@a.test").password)
    opened: list[str] = []

    def browser_that_answers(url: str) -> None:
        opened.append(url)
        browser.tasks.append(asyncio.ensure_future(browser._browse(url)))

    monkeypatch.setattr("mua.gui.wizard_oauth.open_in_browser", browser_that_answers)
    wizard = open_main_window().add_account()
    assert isinstance(wizard, AccountWizard)
    qtbot.waitExposed(wizard)
    wizard.identity.address_edit.setText("alice@a.test")
    wizard.identity.password_edit.setText(world.mailbox("alice@a.test").password)
    assert not wizard.identity.oauth_box.isChecked()
    wizard.next()
    qtbot.waitUntil(wizard.discovering.isComplete, timeout=WAIT)
    offer = wizard.discovering.oauth_offer
    assert offer.isVisible() and offer.isChecked() and issuer in offer.text()
    assert wizard.field("oauth")  # the first page's "Sign in with my browser" is checked
    ARTIFACTS.mkdir(exist_ok=True)
    assert wizard.grab().save(str(ARTIFACTS / "wizard_oauth_discovered.png"))

    wizard.next()
    wizard.next()
    assert wizard.currentId() == AccountWizard.TEST
    qtbot.waitUntil(wizard.testing.isComplete, timeout=WAIT)
    assert opened and opened[0].startswith(issuer)
    assert "OAuth2 token (XOAUTH2)" in wizard.testing.results["imap"].text()
