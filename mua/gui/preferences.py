"""Edit > Preferences: checking for mail and how much is kept, reading, where passwords are
kept, and accounts.

The dialog edits a copy of `Settings` (mua.store.config) and says what it would remove; the
main window applies the result, saves it (settings.toml) and runs the removals through the
engine, so nothing here touches the network or the files.
"""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QMessageBox,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from mua.core.i18n import N_, _
from mua.gui.close_key import close_on_standard_key
from mua.gui.language import LANGUAGES
from mua.store.config import Settings

_BACKENDS = {  # Settings.secrets_backend: what the user reads
    "system": N_("the system keyring (recommended)"),
    "session-only": N_("this session only (asked again at each start)"),
    "encrypted-file": N_("a file encrypted with a master password"),
}


class PreferencesDialog(QDialog):
    removeRequested = Signal(str)  # an account address, confirmed by the user
    addRequested = Signal()

    def __init__(
        self,
        settings: Settings,
        *,
        prefer_html: bool,
        accounts: list[str],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(_("Preferences"))
        close_on_standard_key(self)
        self._settings = settings
        tabs = QTabWidget(self)
        tabs.setAccessibleName(_("Preferences"))
        tabs.addTab(self._general(settings), _("General"))
        tabs.addTab(self._reading(settings, prefer_html), _("Reading"))
        tabs.addTab(self._accounts(accounts), _("Accounts"))
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(tabs)
        layout.addWidget(buttons)

    # -- the tabs -----------------------------------------------------------------------------

    def _general(self, settings: Settings) -> QWidget:
        page = QWidget()
        form = QFormLayout(page)
        self.interval = QSpinBox(minimum=1, maximum=24 * 60, suffix=_(" minutes"))
        self.interval.setValue(settings.check_interval_minutes)
        form.addRow(_("Check all accounts every"), self.interval)
        form.addRow(QLabel(_("New mail in the Inbox arrives at once (IDLE) regardless.")))
        self.body_cache = QSpinBox(minimum=0, maximum=1024 * 1024, suffix=_(" MB"))
        self.body_cache.setValue(settings.body_cache_megabytes)
        form.addRow(_("Keep opened messages on this computer, up to"), self.body_cache)
        kept = QLabel(
            _(
                "Beyond that, the messages downloaded longest ago are removed from this "
                "computer (never from the server) and downloaded again when opened. The mail "
                "of POP3 accounts is always kept."
            ),
            wordWrap=True,
        )
        kept.setStyleSheet("color: palette(placeholder-text);")
        form.addRow(kept)
        self.backend = QComboBox()
        for value, words in _BACKENDS.items():
            self.backend.addItem(_(words), value)
        self.backend.setCurrentIndex(self.backend.findData(settings.secrets_backend))
        form.addRow(_("Keep passwords in"), self.backend)
        note = QLabel(
            _(
                "A change takes effect at the next start; passwords stored in the old place "
                "are not moved, so mua asks for them once."
            ),
            wordWrap=True,
        )
        note.setStyleSheet("color: palette(placeholder-text);")
        form.addRow(note)
        self.language = QComboBox()
        self.language.addItem(_("System language"), "system")
        for code, name in LANGUAGES:
            self.language.addItem(name, code)
        self.language.setCurrentIndex(max(0, self.language.findData(settings.language)))
        form.addRow(_("Language (applied at the next start)"), self.language)
        return page

    def _reading(self, settings: Settings, prefer_html: bool) -> QWidget:
        page = QWidget()
        form = QFormLayout(page)
        self.right = QRadioButton(_("beside the list"))
        self.below = QRadioButton(_("below the list"))
        (self.below if settings.reader_position == "bottom" else self.right).setChecked(True)
        row = QHBoxLayout()
        row.addWidget(self.right)
        row.addWidget(self.below)
        form.addRow(_("Show messages"), row)
        self.html = QCheckBox(_("Prefer the HTML version of a message"))
        self.html.setChecked(prefer_html)
        form.addRow(self.html)
        self.remote = QCheckBox(_("Load remote images and content in every message"))
        self.remote.setChecked(settings.load_remote_content)
        form.addRow(self.remote)
        warning = QLabel(
            _(
                "Remote content tells the sender that, when and where you read their message. "
                "Left off, the reader offers to load it for one message or one sender."
            ),
            wordWrap=True,
        )
        warning.setStyleSheet("color: palette(placeholder-text);")
        form.addRow(warning)
        return page

    def _accounts(self, accounts: list[str]) -> QWidget:
        page = QWidget()
        self.account_list = QListWidget()
        self.account_list.setAccessibleName(_("Accounts"))
        self.account_list.addItems(accounts)
        add = QPushButton(_("Add…"))
        self.remove_button = QPushButton(_("Remove…"))
        add.clicked.connect(self.addRequested)
        self.remove_button.clicked.connect(self._confirm_removal)
        self.account_list.currentRowChanged.connect(
            lambda row: self.remove_button.setEnabled(row >= 0)
        )
        self.remove_button.setEnabled(False)
        buttons = QVBoxLayout()
        buttons.addWidget(add)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        layout = QHBoxLayout(page)
        layout.addWidget(self.account_list, 1)
        layout.addLayout(buttons)
        return page

    def _confirm_removal(self) -> None:
        item = self.account_list.currentItem()
        if item is None:  # none chosen (PySide6's stubs say it cannot be)
            return  # type: ignore[unreachable]
        address = item.text()
        answer = QMessageBox.question(
            self,
            _("Remove account"),
            _(
                "Remove {address} from mua? Its settings, stored passwords and the mail cached "
                "on this computer are deleted; the mail on the server stays."
            ).format(address=address),
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.removeRequested.emit(address)

    def account_removed(self, address: str) -> None:
        """The main window says the removal happened: drop it from the list."""
        for item in self.account_list.findItems(address, Qt.MatchFlag.MatchExactly):
            self.account_list.takeItem(self.account_list.row(item))

    # -- the result ---------------------------------------------------------------------------

    def settings(self) -> Settings:
        return replace(
            self._settings,
            check_interval_minutes=self.interval.value(),
            body_cache_megabytes=self.body_cache.value(),
            load_remote_content=self.remote.isChecked(),
            reader_position="bottom" if self.below.isChecked() else "right",
            secrets_backend=self.backend.currentData(),
            language=self.language.currentData(),
        )

    def prefer_html(self) -> bool:
        return self.html.isChecked()
