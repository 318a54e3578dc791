"""The platform's Close shortcut (QKeySequence.StandardKey.Close: Ctrl+W on Linux and
Windows, where Ctrl+F4 too, Cmd+W on macOS) for a top-level window of ours. Not on the main
window: closing it quits the app, which is Quit's (Ctrl+Q) job."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QWidget

from mua.core.i18n import _


def close_on_standard_key(window: QWidget) -> QAction:
    """Make the Close shortcut close `window` (a dialog is rejected, as its title bar's
    close button does); returns the action."""
    action = QAction(_("Close"), window)
    action.setShortcuts(QKeySequence.keyBindings(QKeySequence.StandardKey.Close))
    action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
    action.triggered.connect(window.close)
    window.addAction(action)
    return action
