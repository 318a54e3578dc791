"""The account wizard: address and password, discovery with a grade for every server found,
manual settings, a test connection that shows an unverifiable certificate and waits for the
user's explicit decision, then the account saved and its passwords put in the keyring.

The decisions live in mua.gui.wizard_logic (Qt-free); this file is the view.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
    QWizard,
)

from mua.core.account import Account
from mua.core.i18n import _, ngettext
from mua.core.legs import Grade
from mua.gui import wizard_errors as errors
from mua.gui import wizard_logic as logic
from mua.gui.bridge import Bridge
from mua.gui.close_key import close_on_standard_key
from mua.gui.error_note import ErrorNote
from mua.gui.theme import GRADE_LABELS, grade_colour
from mua.gui.wizard_manual import ManualPage
from mua.gui.wizard_oauth_offer import OAuthOffer
from mua.gui.wizard_page import KINDS, ROLE, WizardPage, grade_icon, paint
from mua.gui.wizard_page import label as _label
from mua.gui.wizard_pop3 import pop3_candidates
from mua.gui.wizard_testing import TestPage
from mua.net.candidates import Candidate, Discovery
from mua.net.discovery import discover
from mua.store.config import AccountStore
from mua.store.secrets import Secrets


class AccountWizard(QWizard):
    """`discover_options` are discover()'s keyword arguments (nameserver, trust_anchor_file,
    ca_file, ports, autoconfig_urls...), e.g. the demo world's DNS and CA."""

    IDENTITY, DISCOVERY, MANUAL, TEST, DONE = range(5)
    account_saved = Signal(object)  # the Account, once it and its passwords are stored

    def __init__(
        self,
        bridge: Bridge,
        *,
        accounts: AccountStore,
        secrets: Secrets,
        discover_options: Mapping[str, Any] | None = None,
        certificates_dir: Path | None = None,  # where trusted certificates go (data dir)
        timeout: float = 10.0,
        discover_fn: Callable[..., Any] = discover,
        oauth_options: Mapping[str, Mapping[str, str]] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        """`oauth_options`: per domain, the OAuth2 `issuer` and `client_id` (the demo world's);
        other domains use the table of known providers (mua.gui.wizard_oauth)."""
        super().__init__(parent)
        self.oauth_options = {domain: dict(o) for domain, o in (oauth_options or {}).items()}
        self.refresh_token = ""  # an OAuth2 sign-in's, kept in the keyring on Finish
        self.bridge, self.accounts, self.secrets = bridge, accounts, secrets
        self.discover_options = dict(discover_options or {})
        self.certificates_dir, self.timeout = certificates_dir, timeout
        self.discover_fn = discover_fn
        self.discovery: Discovery | None = None
        self.account: Account | None = None  # the tested Account, ready to save
        self.setWindowTitle(_("Add a mail account"))
        self.setWizardStyle(QWizard.WizardStyle.ClassicStyle)
        close_on_standard_key(self)
        self.resize(780, 580)
        self.identity, self.discovering = IdentityPage(self), DiscoveryPage(self)
        self.manual, self.testing, self.finished_page = (
            ManualPage(self),
            TestPage(self),
            DonePage(self),
        )
        pages = (self.identity, self.discovering, self.manual, self.testing, self.finished_page)
        for page_id, page in enumerate(pages):
            self.setPage(page_id, page)

    def accept(self) -> None:
        assert self.account is not None  # Finish is offered once the test page made it
        if self.refresh_token:  # OAuth2: the refresh token, no password
            self.secrets.set(self.account.key, "oauth", self.refresh_token)
            if self.accounts.get(self.account.address) is None:
                self.accounts.add(self.account)
            else:
                self.accounts.update(self.account)
        else:
            logic.save_account(self.account, self.field("password"), self.accounts, self.secrets)
        self.account_saved.emit(self.account)
        super().accept()

    def done(self, result: int) -> None:
        self.discovering.cancel()
        self.testing.cancel()
        super().done(result)


class IdentityPage(WizardPage):
    def __init__(self, wizard: AccountWizard) -> None:
        super().__init__(
            wizard,
            _("Your mail account"),
            _("mua finds the servers from your address."),
        )
        self.name_edit, self.address_edit = QLineEdit(), QLineEdit()
        self.password_edit = QLineEdit(echoMode=QLineEdit.EchoMode.Password)
        self.address_edit.setPlaceholderText("you@example.org")
        self.error = _label()
        paint(self.error, Grade.RED)
        form = QFormLayout(self)
        form.addRow(_("Your name:"), self.name_edit)
        form.addRow(_("Email address:"), self.address_edit)
        form.addRow(_("Password:"), self.password_edit)
        self.oauth_box = QCheckBox(_("Sign in with my browser instead (OAuth2)"))
        self.oauth_box.toggled.connect(self.password_edit.setDisabled)
        form.addRow(self.oauth_box)
        form.addRow(self.error)
        self.registerField("name", self.name_edit)
        self.registerField("address*", self.address_edit)
        self.registerField("password", self.password_edit)
        self.registerField("oauth", self.oauth_box)

    def validatePage(self) -> bool:
        problem = logic.address_problem(self.address_edit.text(), self._wizard.accounts)
        if problem is None and not self.oauth_box.isChecked() and not self.password_edit.text():
            problem = _("Enter your password, or sign in with your browser.")
        self.error.setText(problem or "")
        return problem is None


class DiscoveryPage(WizardPage):
    """Discovery in the background: every candidate with its grade, the best preselected."""

    def __init__(self, wizard: AccountWizard) -> None:
        super().__init__(
            wizard,
            _("Finding your servers"),
            _(
                "SRV records, then autoconfig files, then the usual names; "
                "each server found is tried with its certificate verified."
            ),
        )
        self._finished = False
        self.status = ErrorNote()  # progress, or a sentence with the raw details behind it
        self.lists: dict[str, QTreeWidget] = {}
        self.notes: dict[str, QLabel] = {}
        self.titles: dict[str, QLabel] = {}
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        headers = [_("Server"), _("Security"), _("Grade"), _("Result")]
        for kind in KINDS:
            tree = self.lists[kind] = QTreeWidget()
            tree.setAccessibleName(_(logic.KIND_NAMES[kind]))
            tree.setHeaderLabels(headers)
            tree.setRootIsDecorated(False)
            tree.setMaximumHeight(96)
            for column, width in enumerate((190, 110, 110)):
                tree.setColumnWidth(column, width)
            self.notes[kind] = note = _label(grey=True)
            tree.currentItemChanged.connect(
                lambda item, _old, n=note: n.setText(
                    item.data(0, ROLE).note if item is not None else ""
                )
            )
            self.titles[kind] = QLabel(f"<b>{_(logic.KIND_NAMES[kind])}</b>")
            layout.addWidget(self.titles[kind])
            layout.addWidget(tree)
            layout.addWidget(note)
        tried = _("What was tried")
        layout.addWidget(QLabel(f"<b>{tried}</b>"))
        self.steps = QListWidget()
        self.steps.setAccessibleName(_("What was tried"))
        self.steps.setStyleSheet("color: palette(placeholder-text);")
        layout.addWidget(self.steps, 1)
        # the provider wants OAuth2 (its autoconfig file says so): offered, pre-checked
        self.oauth_offer = OAuthOffer(lambda: wizard.identity.oauth_box, wizard.oauth_options)
        layout.addWidget(self.oauth_offer)

    def initializePage(self) -> None:
        self._finished = False
        for tree in self.lists.values():
            tree.clear()
        for note in self.notes.values():
            note.clear()
        self.steps.clear()
        address = self.field("address").strip()
        self.status.setText(_("Looking up the servers for {address}…").format(address=address))
        self.start("discover", self._discover(address), self._found, self._failed)

    async def _discover(self, address: str) -> tuple[Discovery, tuple, list, bool | None, str]:
        """Discovery of IMAP and SMTP, and of POP3 beside it (its servers listed with the
        incoming ones); when nothing was found, also whether the domain exists at all."""
        options = self._wizard.discover_options
        discovery, (pop3, pop3_steps) = await asyncio.gather(
            self._wizard.discover_fn(address, **options),
            pop3_candidates(address, options, self._wizard.timeout),
        )
        if discovery.imap or discovery.smtp or pop3:
            return discovery, pop3, pop3_steps, True, ""
        exists, said = await errors.domain_exists(
            address.rpartition("@")[2].lower().rstrip("."),
            nameserver=options.get("nameserver"),
            trust_anchor_file=options.get("trust_anchor_file"),
            timeout=self._wizard.timeout,
        )
        return discovery, pop3, pop3_steps, exists, said

    def _found(self, result: tuple[Discovery, tuple, list, bool | None, str]) -> None:
        discovery, pop3, pop3_steps, exists, said = result
        self._wizard.discovery = discovery
        self.oauth_offer.offer(discovery)
        for kind in KINDS:
            chosen = logic.preselected(discovery, kind)
            extra = pop3 if kind == "imap" else ()  # IMAP syncs, POP3 downloads: IMAP first
            if chosen is None and extra:  # no IMAP server: the best POP3 one
                chosen = next((c for c in extra if c.verified), None)
            for candidate in (*getattr(discovery, kind), *extra):
                row = logic.candidate_row(candidate)
                where = f"POP3 {row.where}" if candidate.kind == "pop3" else row.where
                item = QTreeWidgetItem(
                    [where, row.security, _(GRADE_LABELS[row.grade]), row.status]
                )
                item.setIcon(0, grade_icon(row.grade))
                item.setForeground(2, grade_colour(row.grade))
                item.setData(0, ROLE, candidate)
                item.setToolTip(3, row.status)
                self.lists[kind].addTopLevelItem(item)
                if candidate is chosen:
                    self.lists[kind].setCurrentItem(item)
        incoming = _("Incoming (IMAP or POP3)") if pop3 else _(logic.KIND_NAMES["imap"])
        self.titles["imap"].setText(f"<b>{incoming}</b>")
        found = len(discovery.imap) + len(discovery.smtp) + len(pop3)
        if found:
            self.status.setText(
                ngettext(
                    "Found {n} server; the selected ones are used (you can change them next).",
                    "Found {n} servers; the selected ones are used (you can change them next).",
                    found,
                ).format(n=found)
            )
        else:
            domain = discovery.address.rpartition("@")[2]
            self.status.setText(
                errors.nothing_found(domain, exists),
                errors.details_of([*discovery.steps, *pop3_steps], said),
            )
        self.steps.addItems([*discovery.steps, *pop3_steps])
        self._done()

    def _failed(self, message: str) -> None:
        self.status.setText(_(errors.SEARCH_FAILED), message)
        self._done()

    def _done(self) -> None:
        self._task, self._finished = None, True
        self.completeChanged.emit()

    def chosen(self, kind: str) -> Candidate | None:
        item = self.lists[kind].currentItem()
        return item.data(0, ROLE) if item is not None else None

    def isComplete(self) -> bool:
        return self._finished


class DonePage(WizardPage):
    def __init__(self, wizard: AccountWizard) -> None:
        super().__init__(wizard, _("Ready"))
        self.summary = _label()
        QVBoxLayout(self).addWidget(self.summary)

    def initializePage(self) -> None:
        w = self._wizard
        assert w.account is not None  # this page follows a passed test
        lines = logic.summary(w.account, w.secrets.location, w.testing.pinned)
        self.summary.setText("<br>".join(lines))
