"""The main window's settings: the reader's position, Edit > Preferences (and removing an
account from there), Help > About. A mixin of MainWindow (mua/gui/main_window.py), split
out to keep one idea a file.

Also the one place that opens the app's QSettings (`app_settings`: an INI file in mua's own
config directory, which MUA_HOME moves, never Qt's default ~/.config/mua/mua.ini) and the
check that a saved window geometry still fits the screen it is restored on."""

from __future__ import annotations

import json
import struct
from dataclasses import replace

from PySide6.QtCore import QByteArray, QPoint, QRect, QSettings, QSize, Qt
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from mua.core.i18n import _
from mua.gui.window_parts import WindowParts
from mua.store import paths
from mua.store.config import ReaderPosition, Settings

DEFAULT_SIZE = QSize(1280, 800)
MINIMUM_SIZE = QSize(800, 500)  # a saved geometry smaller than this is not restored
_GEOMETRY_MAGIC = 0x01D9D0CB  # QWidget::saveGeometry's format (version 3.x)


def app_settings() -> QSettings:
    """The app's QSettings: window state and small reading choices, in
    `paths.window_state_file()` (What Help > About shows)."""
    return QSettings(str(paths.window_state_file()), QSettings.Format.IniFormat)


def saved_frame(saved: object) -> tuple[QRect, bool] | None:
    """(frame geometry, maximized) as QWidget.saveGeometry wrote them; None if unreadable."""
    data = bytes(saved.data()) if isinstance(saved, QByteArray) else saved
    if not isinstance(data, bytes) or len(data) < 50:
        return None
    magic, major = struct.unpack_from(">IH", data)
    if magic != _GEOMETRY_MAGIC or major != 3:
        return None
    left, top, right, bottom = struct.unpack_from(">4i", data, 8)
    maximized = data[44] != 0  # after the normal geometry and the screen number
    return QRect(QPoint(left, top), QPoint(right, bottom)), maximized


def restore_geometry(window: QWidget, saved: object, default: QSize = DEFAULT_SIZE) -> bool:
    """Give `window` the saved geometry (QWidget.saveGeometry bytes) if, as saved, it lies
    inside the available area of a screen there is now and is at least MINIMUM_SIZE (or 90%
    of a smaller screen); otherwise `default`, shrunk to fit, centred on the primary screen.
    (Qt's restoreGeometry alone would take an 831x302 window, or squeeze one saved on a
    larger screen.) True when the saved geometry was used."""
    found = saved_frame(saved)
    if found is not None:
        frame, maximized = found
        screen = QApplication.screenAt(frame.center())
        if screen is not None:
            area = screen.availableGeometry()
            least = MINIMUM_SIZE.boundedTo(area.size() * 0.9)  # a small screen: most of it
            big_enough = frame.width() >= least.width() and frame.height() >= least.height()
            fits = maximized or (area.contains(frame) and big_enough)
            if fits and isinstance(saved, QByteArray | bytes) and window.restoreGeometry(saved):
                return True
    area = QApplication.primaryScreen().availableGeometry()
    window.resize(default.boundedTo(area.size() * 0.9))
    frame = window.geometry()
    frame.moveCenter(area.center())
    window.move(frame.topLeft())
    return False


class WindowSettings(WindowParts):
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
        if settings.body_cache_bytes != self.engine.body_cache_bytes:
            self.bridge.run(
                _("Freeing space in the message cache"),
                self.engine.set_body_cache_bytes(settings.body_cache_bytes),
            )
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
            self.statusBar().showMessage(_("Removed {address}").format(address=address), 10_000)

        def failed(message: str) -> None:
            QMessageBox.warning(dialog, _("Remove account"), message)

        self.bridge.run(
            _("Removing {address}").format(address=address),
            self.engine.remove_account(address),
            done,
            failed,
        )

    def set_reader_position(self, position: ReaderPosition) -> None:
        self.settings = replace(self.settings, reader_position=position)
        self.content.setOrientation(self._orientation())
        self._show_position()
        self.settingsChanged.emit(self.settings)

    def _remember_sender(self, address: str) -> None:
        self.qsettings.setValue("reader/senders", json.dumps(sorted(self.reader.allowed_senders)))
