"""The account wizard's server page: the incoming (IMAP or POP3) and outgoing servers, their
ports and security, the user names, a CA file, and the per-account consent to a password in
clear when a security is "none" (mua.gui.wizard_cleartext)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
)

from mua.core.i18n import _
from mua.core.tls_facts import Security
from mua.gui import wizard_logic as logic
from mua.gui.wizard_cleartext import CleartextConsent
from mua.gui.wizard_page import KINDS, WizardPage
from mua.gui.wizard_page import label as _label

if TYPE_CHECKING:
    from mua.gui.wizard import AccountWizard


class ManualPage(WizardPage):
    def __init__(self, wizard: AccountWizard) -> None:
        super().__init__(
            wizard,
            _("Server settings"),
            _("Check them, or change them if your provider says otherwise."),
        )
        self.hosts, self.ports, self.securities, self.usernames = {}, {}, {}, {}
        layout = QVBoxLayout(self)
        for kind in KINDS:
            self.hosts[kind], self.usernames[kind] = QLineEdit(), QLineEdit()
            self.ports[kind] = port = QSpinBox(minimum=1, maximum=65535)
            self.securities[kind] = security = QComboBox()
            for value in (Security.IMPLICIT, Security.STARTTLS, Security.NONE):
                security.addItem(_(logic.SECURITY_NAMES[value]), value)
            security.currentIndexChanged.connect(lambda _i, k=kind: self._security_changed(k))
            where = QHBoxLayout()
            where.addWidget(self.hosts[kind], 1)
            where.addWidget(QLabel(_("Port:")))
            where.addWidget(port)
            box = QGroupBox(_(logic.KIND_NAMES[kind]))
            form = QFormLayout(box)
            form.addRow(_("Server:"), where)
            label = form.labelForField(where)
            if isinstance(label, QLabel):  # a row of host and port
                label.setBuddy(self.hosts[kind])
            port.setAccessibleName(_("Port"))
            form.addRow(_("Security:"), security)
            form.addRow(_("User name:"), self.usernames[kind])
            if kind == "imap":  # the incoming server: IMAP keeps mail in sync, POP3 downloads it
                self.protocol = QComboBox()
                self.protocol.addItem("IMAP", "imap")
                self.protocol.addItem("POP3", "pop3")
                self.protocol.setAccessibleName(_("Incoming protocol"))
                self.protocol.currentIndexChanged.connect(lambda _i: self._protocol_changed())
                form.insertRow(0, _("Protocol:"), self.protocol)
                self.incoming_box = box
            layout.addWidget(box)
            for edit in (self.hosts[kind], self.usernames[kind]):
                edit.textChanged.connect(self.completeChanged)
        self.ca_edit = QLineEdit(placeholderText=_("The system's certificate authorities"))
        self.ca_edit.setAccessibleName(_("Trusted CA file"))
        choose = QPushButton(_("Choose…"))
        choose.clicked.connect(self._choose_ca)
        ca_row = QHBoxLayout()
        for widget, stretch in (
            (QLabel(_("Trusted CA file:")), 0),
            (self.ca_edit, 1),
            (choose, 0),
        ):
            ca_row.addWidget(widget, stretch)
        layout.addLayout(ca_row)
        layout.addWidget(
            _label(
                _(
                    "Only for a server whose certificate comes from your "
                    "company's or your own certificate authority."
                ),
                grey=True,
            )
        )
        self.cleartext = CleartextConsent()  # shown while a security is "none"
        layout.addWidget(self.cleartext)
        layout.addStretch(1)

    def initializePage(self) -> None:
        address = self.field("address").strip()
        incoming = self._wizard.discovering.chosen("imap")
        pop3 = incoming is not None and incoming.kind == "pop3"  # a POP3 row was chosen
        if incoming is not None and pop3 != self.pop3():
            self.protocol.setCurrentIndex(self.protocol.findData("pop3" if pop3 else "imap"))
        for kind in KINDS:
            candidate = self._wizard.discovering.chosen(kind)
            if candidate is not None:
                choice = logic.ServerChoice.from_candidate(candidate)
            else:  # nothing found: the usual name, implicit TLS
                port = logic.DEFAULT_PORTS[kind, Security.IMPLICIT]
                host = f"{kind}.{address.rpartition('@')[2]}"
                choice = logic.ServerChoice(host, port, Security.IMPLICIT, address)
            self.hosts[kind].setText(choice.host)
            self.securities[kind].setCurrentIndex(
                max(0, self.securities[kind].findData(choice.security))
            )
            self.ports[kind].setValue(choice.port)
            self.usernames[kind].setText(choice.username)
        ca_file = self._wizard.discover_options.get("ca_file")
        self.ca_edit.setText(str(ca_file) if ca_file else "")

    def security(self, kind: logic.Kind) -> Security:
        return Security(self.securities[kind].currentData())  # Qt hands back a plain str

    def pop3(self) -> bool:
        """The incoming server is a POP3 server (chosen here or on the discovery page)."""
        return self.protocol.currentData() == "pop3"

    def _port_key(self, kind: logic.Kind) -> str:
        return "pop3" if kind == "imap" and self.pop3() else kind

    def _security_changed(self, kind: logic.Kind) -> None:
        """Move the port along when it is the other mode's standard port."""
        new = self.security(kind)
        old = Security.STARTTLS if new is Security.IMPLICIT else Security.IMPLICIT
        key = self._port_key(kind)
        if self.ports[kind].value() == logic.DEFAULT_PORTS[key, old]:
            self.ports[kind].setValue(logic.DEFAULT_PORTS[key, new])
        self.cleartext.needed(any(self.security(k) is Security.NONE for k in KINDS))

    def cleartext_allowed(self) -> bool:
        """The user's explicit consent to the password crossing in clear, for this account."""
        return self.cleartext.given()

    def _protocol_changed(self) -> None:
        """IMAP <-> POP3: the usual host prefix and standard port follow when they are the
        other protocol's."""
        new, old = ("pop3", "imap") if self.pop3() else ("imap", "pop3")
        self.incoming_box.setTitle(
            _(logic.POP3_NAME) if self.pop3() else _(logic.KIND_NAMES["imap"])
        )
        prefixes = {"imap": "imap.", "pop3": "pop."}
        host = self.hosts["imap"].text()
        if host.startswith(prefixes[old]):
            self.hosts["imap"].setText(prefixes[new] + host.removeprefix(prefixes[old]))
        security = self.security("imap")
        if self.ports["imap"].value() == logic.DEFAULT_PORTS[old, security]:
            self.ports["imap"].setValue(logic.DEFAULT_PORTS[new, security])

    def _choose_ca(self) -> None:
        path, _filter = QFileDialog.getOpenFileName(
            self, _("Trusted CA file"), "", _("Certificates (*.pem *.crt)")
        )
        if path:
            self.ca_edit.setText(path)

    def choices(self) -> dict[logic.Kind, logic.ServerChoice]:
        return {
            kind: logic.ServerChoice(
                self.hosts[kind].text().strip(),
                self.ports[kind].value(),
                self.security(kind),
                self.usernames[kind].text().strip(),
            )
            for kind in KINDS
        }

    def ca_file(self) -> Path | None:
        return Path(self.ca_edit.text().strip()) if self.ca_edit.text().strip() else None

    def isComplete(self) -> bool:
        return all(self.hosts[k].text().strip() and self.usernames[k].text().strip() for k in KINDS)
