"""`mua open FILE.eml`: one message file in a window of its own, the message and its
journey side by side, with no account, no network and no event loop but Qt's.

What opening an .eml in the file manager shows (the installers associate the type with it).
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QSplitter, QWidget

from mua import __version__
from mua.core.legs import Trace
from mua.gui.hop_panel import HopPanel
from mua.gui.reader import ReaderView
from mua.gui.resources import app_icon


class MessageFileWindow(QSplitter):
    """The reader on the left, the hop panel on the right."""

    def __init__(self, path: Path, raw: bytes, trace: Trace, parent: QWidget | None = None):
        super().__init__(Qt.Orientation.Horizontal, parent)
        self.setWindowTitle(self.tr("%1 — mua").replace("%1", path.name))
        self.reader = ReaderView(self)  # remote content blocked, as in the main window
        self.hop_panel = HopPanel(self)
        self.reader.show_message(raw)
        self.hop_panel.set_trace(trace)
        self.setSizes([520, 760])
        self.resize(1280, 760)


def show_file(path: Path, raw: bytes, trace: Trace) -> int:
    """Show the window until it is closed; the process's exit code."""
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("mua")
    app.setApplicationVersion(__version__)
    icon = app_icon()
    if icon is not None:
        app.setWindowIcon(icon)
    window = MessageFileWindow(path, raw, trace)
    window.show()
    return app.exec()
