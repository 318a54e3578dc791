"""The account wizard's "Testing the connection" page: IMAP sign-in and an SMTP probe, a
certificate that does not verify shown until the user trusts it or not, and errors as one
sentence with the raw text behind "Details"."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import QFormLayout, QGroupBox, QHBoxLayout, QPushButton, QVBoxLayout

from mua.core.i18n import _
from mua.core.legs import Grade
from mua.gui import wizard_certificate as certificates
from mua.gui import wizard_check as check
from mua.gui import wizard_errors as errors
from mua.gui import wizard_logic as logic
from mua.gui.error_note import ErrorNote
from mua.gui.wizard_page import KINDS, WizardPage, paint
from mua.gui.wizard_page import label as _label

if TYPE_CHECKING:
    from mua.core.account import Account
    from mua.gui.wizard import AccountWizard


class TestPage(WizardPage):
    """IMAP sign-in and an SMTP probe. A certificate that does not verify is shown, and the
    page waits for "Trust this certificate for this account" or "Cancel"."""

    def __init__(self, wizard: AccountWizard) -> None:
        super().__init__(wizard, _("Testing the connection"))
        self._ok = False
        self._account: Account | None = None
        self.pinned: dict[str, str] = {}  # kind -> fingerprint trusted in this wizard
        self._pending: tuple[logic.Kind, certificates.CertificateInfo] | None = None
        self.status = ErrorNote()
        self.results = {kind: ErrorNote() for kind in KINDS}  # a sentence, raw words behind
        self.retry = QPushButton(_("Test again"))
        self.retry.clicked.connect(self.run)
        self.cancel_sign_in = QPushButton(_("Cancel sign-in"))  # OAuth2: while the browser is out
        self.cancel_sign_in.clicked.connect(self._cancel_sign_in)
        self.cancel_sign_in.hide()
        self.certificate_box = QGroupBox(_("This server's certificate could not be verified"))
        self.certificate_form = QFormLayout()
        self.explanation = _label()
        self.decline_button = QPushButton(_("Cancel"))
        self.trust_button = QPushButton(_("Trust this certificate for this account"))
        self.decline_button.clicked.connect(self.decline)
        self.trust_button.clicked.connect(self.trust)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.decline_button)
        buttons.addWidget(self.trust_button)
        box = QVBoxLayout(self.certificate_box)
        box.addLayout(self.certificate_form)
        box.addWidget(self.explanation)
        box.addLayout(buttons)
        layout = QVBoxLayout(self)
        for widget in (self.status, *self.results.values(), self.certificate_box):
            layout.addWidget(widget)
        layout.addStretch(1)
        layout.addWidget(self.cancel_sign_in, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.retry, 0, Qt.AlignmentFlag.AlignLeft)

    def initializePage(self) -> None:
        self._account, self.pinned = None, {}
        self.run()

    def run(self) -> None:
        self._ok, self._pending, self._wizard.account = False, None, None
        self._wizard.refresh_token = ""
        self.certificate_box.hide()
        self.retry.setEnabled(False)
        for label in self.results.values():
            label.clear()
        self.status.setText(_("Signing in to the incoming server, greeting the outgoing one…"))
        self.start("test account", self._test(), self._tested, self._failed)
        self.completeChanged.emit()

    async def _test(self):
        w, manual = self._wizard, self._wizard.manual
        if self._account is None:  # built once per visit, so that trusted certificates stay
            self._account = await logic.build_account(
                self.field("name"),
                self.field("address"),
                manual.choices(),
                ca_file=manual.ca_file(),
                nameserver=w.discover_options.get("nameserver"),
                trust_anchor_file=w.discover_options.get("trust_anchor_file"),
                timeout=w.timeout,
                pop3=manual.pop3(),
                allow_cleartext=manual.cleartext_allowed(),
            )
        account = self._account
        if self.field("oauth"):  # the browser instead of a password (wizard_oauth.py)
            from mua.gui import wizard_oauth

            self.status.setText(
                _("Finding where {address} signs in…").format(address=account.address)
            )
            account, w.refresh_token, results = await wizard_oauth.sign_in_and_check(
                account, w.oauth_options, self._waiting_for_browser, timeout=w.timeout
            )
            self._account = account
            return results
        return await check.check_account(account, self.field("password"), timeout=w.timeout)

    def _waiting_for_browser(self) -> None:
        self.status.setText(
            _("Sign in in the browser window that opened; mua waits for it to come back.")
        )
        self.cancel_sign_in.show()

    def _cancel_sign_in(self) -> None:
        self.cancel()
        self.cancel_sign_in.hide()
        self.retry.setEnabled(True)
        self.status.setText(_("Sign-in cancelled. Test again to open the browser once more."))

    def _tested(self, results: list[check.CheckResult]) -> None:
        self._task = None
        self.cancel_sign_in.hide()
        self.retry.setEnabled(True)
        for result in results:
            label = self.results[result.kind]
            pop3 = result.kind == "imap" and self._wizard.manual.pop3()
            name = _(logic.POP3_NAME) if pop3 else _(logic.KIND_NAMES[result.kind])
            label.setText(f"<b>{name}:</b> {result.text}", result.details)
            paint(label, Grade.GREEN if result.ok else Grade.RED)
        self._ok = all(r.ok for r in results)
        self._wizard.account = self._account if self._ok else None
        self.status.setText(
            _("Both servers work.") if self._ok else _("The account cannot be used as it is.")
        )
        doubtful = next((r for r in results if r.certificate_problem is not None), None)
        if doubtful is not None:
            server = getattr(self._account, doubtful.kind)
            coro = certificates.fetch_certificate(
                server, doubtful.kind, timeout=self._wizard.timeout
            )
            self.start(
                "read certificate",
                coro,
                lambda cert: self._show_certificate(doubtful, cert),
                self._failed,
            )
        self.completeChanged.emit()

    def _show_certificate(
        self, result: check.CheckResult, cert: certificates.CertificateInfo
    ) -> None:
        self._task, self._pending = None, (result.kind, cert)
        while self.certificate_form.rowCount():
            self.certificate_form.removeRow(0)
        for label, value in cert.rows():
            field = _label(value)
            field.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            if label.startswith("SHA-256"):
                field.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
            self.certificate_form.addRow(_(label) + ":", field)
        again = self.pinned.get(result.kind) == cert.sha256
        advice, pinnable = certificates.certificate_advice(result.certificate_problem, again)
        self.explanation.setText(advice)
        self.trust_button.setVisible(pinnable)
        self.certificate_box.show()

    def trust(self) -> None:
        """The user's explicit choice: pin the certificate shown, then test again."""
        if self._pending is not None and self._account is not None:
            kind, cert = self._pending
            directory = self._wizard.certificates_dir
            self._account = certificates.pin_certificate(self._account, kind, cert, directory)
            self.pinned[kind] = cert.sha256
            self.run()

    def decline(self) -> None:
        self._pending = None
        self.certificate_box.hide()
        self.status.setText(
            _(
                "Not trusted. Go back to change the settings or the CA file, "
                "or ask your provider for the right ones."
            )
        )

    def _failed(self, message: str) -> None:
        self._task = None
        self.cancel_sign_in.hide()
        self.retry.setEnabled(True)
        self.status.setText(errors.sentence_for_text(message), message)

    def isComplete(self) -> bool:
        return self._ok
