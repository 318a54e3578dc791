"""The account wizard's consent to a password in clear: shown on the server page when the
security of a server is "none", unchecked until the user checks it, with the risk named.
Without it the test step refuses to send the password (mua.net's `CleartextRefused`); with
it the account is saved with `allow_cleartext_auth` (and `cleartext_consent`)."""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QVBoxLayout, QWidget

from mua.core.i18n import _
from mua.core.legs import Grade
from mua.gui.wizard_page import label, paint


class CleartextConsent(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.box = QCheckBox(_("Allow my password to cross the network in clear for this account"))
        self.warning = label(
            _(
                "Without TLS, anyone on the network between you and the server (the Wi-Fi, "
                "your provider, a router on the way) can read your password and your mail, "
                "and sign in as you. Use this only when the server offers nothing else."
            )
        )
        paint(self.warning, Grade.RED)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.box)
        layout.addWidget(self.warning)
        self.hide()

    def needed(self, needed: bool) -> None:
        """Shown while a server's security is "none"; hiding it takes the consent back."""
        self.setVisible(needed)
        if not needed:
            self.box.setChecked(False)

    def given(self) -> bool:
        return not self.isHidden() and self.box.isChecked()
