"""`mua open FILE.eml`: one message file in a window of its own, the message and its
journey side by side, with no network and no event loop but Qt's.

What opening an .eml in the file manager shows (the installers associate the type with it).
On macOS, Finder hands the file to the running app as a FileOpen event instead of an
argument: an event filter (made by `mua.gui.app._file_opener`) turns those into the same
window.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox, QSplitter, QWidget

from mua import __version__
from mua.client.message_file import MessageFile, NoSuchAccount, read_message_file
from mua.core.i18n import _, error_text
from mua.gui.app_style import install_app_style
from mua.gui.close_key import close_on_standard_key
from mua.gui.hop_panel import HopPanel
from mua.gui.reader import ReaderView
from mua.gui.resources import app_icon


class MessageFileWindow(QSplitter):
    """The reader on the left, the hop panel on the right."""

    def __init__(self, found: MessageFile, parent: QWidget | None = None):
        super().__init__(Qt.Orientation.Horizontal, parent)
        self.setWindowTitle(_("{file} — mua").format(file=found.path.name))
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        close_on_standard_key(self)
        self.reader = ReaderView(self)  # remote content blocked, as in the main window
        self.hop_panel = HopPanel(self)
        self.reader.show_message(found.raw)
        self.hop_panel.set_trace(found.trace)
        self.setSizes([520, 760])
        self.resize(1280, 760)


def open_file(path: Path, parent: QWidget | None = None) -> MessageFileWindow | None:
    """A window for the file, shown; None (after saying why) when it cannot be read."""
    try:
        found = read_message_file(path)
    except (OSError, NoSuchAccount) as exc:
        why = getattr(exc, "strerror", None) or error_text(exc)
        QMessageBox.warning(
            parent, "mua", _("Cannot open {path}: {reason}.").format(path=path, reason=why)
        )
        return None
    window = MessageFileWindow(found)
    window.show()
    return window


def show_file(found: MessageFile, qt_args: Sequence[str] = ()) -> int:
    """Show the window until it is closed; the process's exit code. `qt_args` are Qt's
    own options from the command line (`-style fusion`, `-reverse`...)."""
    app = QApplication.instance() or QApplication([*sys.argv[:1], *qt_args])
    assert isinstance(app, QApplication)  # mua makes no other kind
    install_app_style(app)
    app.setApplicationName("mua")
    app.setApplicationVersion(__version__)
    icon = app_icon()
    if icon is not None:
        app.setWindowIcon(icon)
    window = MessageFileWindow(found)
    window.show()
    return app.exec()
