"""The main window's settings: the reader's position, Edit > Preferences (and removing an
account from there), Help > About. A mixin of MainWindow (mua/gui/main_window.py), split
out to keep one idea a file."""

from __future__ import annotations

import json
from dataclasses import replace

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from mua.store.config import Settings


class WindowSettings:
    def _about(self) -> None:
        from mua.gui.about import show_about

        self.about_box = show_about(self)

    def _orientation(self) -> Qt.Orientation:
        below = self.settings.reader_position == "bottom"
        return Qt.Orientation.Vertical if below else Qt.Orientation.Horizontal

    def _show_position(self) -> None:
        self.act_right.setChecked(self.settings.reader_position == "right")
        self.act_below.setChecked(self.settings.reader_position == "bottom")

    def preferences(self):
        """Edit > Preferences (not modal to the app: mail keeps arriving behind it)."""
        from mua.gui.preferences import PreferencesDialog

        dialog = PreferencesDialog(
            self.settings,
            prefer_html=self.reader.prefer_html,
            accounts=self.accounts(),
            parent=self,
        )
        dialog.removeRequested.connect(lambda address: self._remove_account(address, dialog))
        dialog.addRequested.connect(self.add_account)
        dialog.accepted.connect(
            lambda: self.apply_settings(dialog.settings(), prefer_html=dialog.prefer_html())
        )
        self.preferences_dialog = dialog
        dialog.open()
        return dialog

    def apply_settings(self, settings: Settings, *, prefer_html: bool | None = None) -> None:
        """Use `settings` from now on (and say so, to be saved) and the reader's HTML choice."""
        changed = settings != self.settings
        self.settings = settings
        self._poll.setInterval(settings.check_interval_minutes * 60_000)
        self.reader.load_remote = settings.load_remote_content
        self.content.setOrientation(self._orientation())
        self._show_position()
        if prefer_html is not None and prefer_html != self.reader.prefer_html:
            self.act_html.setChecked(prefer_html)  # remembered in QSettings
            self.reader.set_prefer_html(prefer_html)
        if self.reader.message is not None:
            self.reader.set_prefer_html(self.reader.prefer_html)  # re-render: remote content
        if changed:
            self.settingsChanged.emit(settings)

    def _remove_account(self, address: str, dialog) -> None:
        idle = self._idle.pop(address, None)
        if idle is not None:
            idle.cancel()

        def done(_result) -> None:
            dialog.account_removed(address)
            self._state.pop(address, None)
            self.refresh_folders()
            self.statusBar().showMessage(self.tr("Removed %1").replace("%1", address), 10_000)

        def failed(message: str) -> None:
            QMessageBox.warning(dialog, self.tr("Remove account"), message)

        self.bridge.run(
            self.tr("Removing %1").replace("%1", address),
            self.engine.remove_account(address),
            done,
            failed,
        )

    def set_reader_position(self, position: str) -> None:
        self.settings = replace(self.settings, reader_position=position)
        self.content.setOrientation(self._orientation())
        self._show_position()
        self.settingsChanged.emit(self.settings)

    def _remember_sender(self, address: str) -> None:
        self.qsettings.setValue("reader/senders", json.dumps(sorted(self.reader.allowed_senders)))
