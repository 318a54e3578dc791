"""When an OAuth2 provider no longer accepts mua's stored sign-in (`invalid_grant`: consent
withdrawn, or a refresh token unused too long), the main window asks once, without blocking:
"Sign in again", which opens the browser as the wizard does and keeps the new tokens, or
"Later". A part of MainWindow's syncing (mua/gui/new_mail.py)."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QMessageBox

from mua.client.oauth_accounts import http_settings, provider_of
from mua.core.i18n import _
from mua.gui import wizard_oauth
from mua.net import oauth


def offer(window: Any, address: str) -> QMessageBox | None:
    """The question, once per refusal; None when the account needs no new sign-in."""
    account = window.engine.accounts.get(address)
    offered: set[str] = window.__dict__.setdefault("_sign_in_offered", set())
    if account is None or account.oauth is None or account.key in offered:
        return None
    if account.key not in window.engine.oauth.needs_sign_in:
        return None
    offered.add(account.key)
    box = QMessageBox(window)
    box.setObjectName("sign_in_again")
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle(_("Sign in again"))
    box.setText(
        _(
            "{address}: the provider no longer accepts mua's sign-in (it was withdrawn or has "
            "expired). Sign in again in your browser to go on reading and sending mail."
        ).format(address=address)
    )
    again = box.addButton(_("Sign in again…"), QMessageBox.ButtonRole.AcceptRole)
    box.addButton(_("Later"), QMessageBox.ButtonRole.RejectRole)

    def chosen(button: object) -> None:
        offered.discard(account.key)
        if button is again:
            _sign_in(window, account)

    box.buttonClicked.connect(chosen)
    box.open()  # window-modal, not blocking: syncing of other accounts goes on
    return box


def _sign_in(window: Any, account: Any) -> None:
    engine = window.engine
    settings = http_settings(account, engine.timeout)
    coro = oauth.sign_in(
        provider_of(account), settings, wizard_oauth.open_in_browser, login_hint=account.address
    )

    def done(tokens: oauth.Tokens) -> None:
        engine.oauth.signed_in(account, tokens)
        window.statusBar().showMessage(
            _("Signed in to {address} again.").format(address=account.address), 10_000
        )
        window.sync(account.address)

    window.statusBar().showMessage(
        _("Sign in to {address} in the browser window that opened.").format(address=account.address)
    )
    window.bridge.run(
        _("Signing in to {address}").format(address=account.address), coro, done, window._failed
    )
