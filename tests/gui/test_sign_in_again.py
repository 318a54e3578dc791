"""An OAuth2 account whose consent was withdrawn at the provider: the main window's sync is
refused, it asks once (without blocking) to sign in again, the browser step (driven by the
test) gives new tokens, and the account syncs again."""

from __future__ import annotations

import asyncio
from pathlib import Path

from PySide6.QtWidgets import QMessageBox

from mua.core.account import OAuthSettings
from mua.net.oauth import discover, sign_in
from tests.gui.conftest import finish
from tests.test_oauth_client import SCOPES, Browser, issuer_of, settings_for

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
WAIT = 30_000


def test_a_withdrawn_consent_asks_to_sign_in_again(
    qtbot, demo_session, open_main_window, loop, monkeypatch
) -> None:
    world = demo_session.world.world
    engine = demo_session.engine
    browser = Browser(world, world.mailbox("alice@a.test").password)

    def answering_browser(url: str) -> None:
        browser.tasks.append(asyncio.ensure_future(browser._browse(url)))

    provider = finish(qtbot, discover(settings_for(world), issuer_of(world), "mua", SCOPES))
    tokens = finish(qtbot, sign_in(provider, settings_for(world), answering_browser))
    alice = engine.accounts.get("alice@a.test")
    oauth = OAuthSettings(
        provider.issuer, provider.authorization_endpoint, provider.token_endpoint, "mua", SCOPES
    )
    engine.accounts.update(alice.with_changes(oauth=oauth))
    engine.secrets.set("alice@a.test", "oauth", tokens.refresh_token)
    for kind in ("imap", "smtp"):
        engine.secrets.delete("alice@a.test", kind)
    auth = world.providers["a.test"].auth_server
    auth.authorization.revoke("alice@a.test")  # withdrawn at the provider

    monkeypatch.setattr("mua.gui.wizard_oauth.open_in_browser", answering_browser)
    main = open_main_window()

    def question() -> QMessageBox | None:
        box = main.findChild(QMessageBox, "sign_in_again")
        return box if box is not None and box.isVisible() else None

    qtbot.waitUntil(lambda: question() is not None, timeout=WAIT)
    box = question()
    assert "no longer accepts mua's sign-in" in box.text()
    assert "alice@a.test" in engine.oauth.needs_sign_in
    ARTIFACTS.mkdir(exist_ok=True)
    assert box.grab().save(str(ARTIFACTS / "sign_in_again.png"))
    again = next(b for b in box.buttons() if b.text().startswith("Sign in again"))
    again.click()
    qtbot.waitUntil(lambda: "alice@a.test" not in engine.oauth.needs_sign_in, timeout=WAIT)
    assert engine.secrets.get("alice@a.test", "oauth") not in (None, tokens.refresh_token)
    synced = finish(qtbot, engine.sync("alice@a.test", ["INBOX"]))
    assert synced
