"""A sentence with its raw details behind a "Details" toggle: what the account wizard shows
for an error (mua.gui.wizard_errors has the words). The sentence says what happened and
what to do; the details keep the resolver's or the server's own message, selectable, for
an administrator or a bug report."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QToolButton, QVBoxLayout, QWidget

from mua.core.i18n import _


class ErrorNote(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel(wordWrap=True)
        self.toggle = QToolButton(text=_("Details"), checkable=True, autoRaise=True)  # type: ignore[call-arg]  # PySide6: any Qt property as keyword
        self.toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.toggle.toggled.connect(self._show_details)
        self.details = QLabel(wordWrap=True)
        self.details.setTextFormat(Qt.TextFormat.PlainText)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details.setStyleSheet("color: palette(placeholder-text);")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.label)
        layout.addWidget(self.toggle, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.details)
        self.setText("")

    def setText(self, text: str, details: str = "") -> None:
        """Show `text`; `details` (plain text) behind the toggle, closed, if there are any."""
        self.label.setText(text)
        self.details.setText(details)
        self.toggle.setChecked(False)
        self.toggle.setVisible(bool(details))
        self.details.hide()

    def text(self) -> str:
        return self.label.text()

    def clear(self) -> None:
        self.setText("")

    def _show_details(self, shown: bool) -> None:
        self.details.setVisible(shown)
        self.toggle.setArrowType(Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow)
