"""What the account wizard's pages share (mua.gui.wizard, mua.gui.wizard_testing): the
page base class that runs one job at a time, and small label helpers."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import QLabel, QWidget, QWizardPage

from mua.core.legs import Grade
from mua.gui import wizard_logic as logic
from mua.gui.theme import grade_colour

if TYPE_CHECKING:
    from mua.gui.wizard import AccountWizard

KINDS: tuple[logic.Kind, ...] = ("imap", "smtp")
ROLE = Qt.ItemDataRole.UserRole


def grade_icon(grade: Grade) -> QIcon:
    pixmap = QPixmap(12, 12)
    pixmap.fill(QColor(0, 0, 0, 0))
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setBrush(grade_colour(grade))
    painter.setPen(Qt.PenStyle.NoPen)
    painter.drawEllipse(1, 1, 10, 10)
    painter.end()
    return QIcon(pixmap)


def label(text: str = "", *, grey: bool = False) -> QLabel:
    """A word-wrapped label (grey: the palette's placeholder colour)."""
    widget = QLabel(text)
    widget.setWordWrap(True)
    if grey:
        widget.setStyleSheet("color: palette(placeholder-text);")
    return widget


def paint(widget: QWidget, grade: Grade | None) -> None:
    """Text in the grade's colour (None: the palette's)."""
    widget.setStyleSheet(f"color: {grade_colour(grade).name()};" if grade else "")


class WizardPage(QWizardPage):
    """A page that may run one job through the bridge, cancelled when the user leaves."""

    def __init__(self, wizard: AccountWizard, title: str, subtitle: str = "") -> None:
        super().__init__()
        self._wizard = wizard
        self._task: asyncio.Task[Any] | None = None
        self.setTitle(title)
        self.setSubTitle(subtitle)

    def start(self, what: str, coro, on_done, on_error) -> None:
        self.cancel()
        self._task = self._wizard.bridge.run(what, coro, on_done, on_error)

    def cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    def cleanupPage(self) -> None:
        self.cancel()
