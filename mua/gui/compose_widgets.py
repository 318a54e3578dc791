"""The compose window's own widgets: recipient lines with completion, the body that turns
dropped files into attachments, and the chips of the "how this will travel" strip."""

from __future__ import annotations

from html import escape
from pathlib import Path

from PySide6.QtCore import QMimeData, QStringListModel, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCompleter,
    QLabel,
    QLineEdit,
    QTextEdit,
    QWidget,
)

from mua.gui import compose_logic as logic
from mua.gui.compose_logic import Chip
from mua.gui.theme import grade_colour


def local_files(mime: QMimeData) -> list[Path]:
    """The local files a drag carries (file URLs); empty for anything else."""
    if not mime.hasUrls():
        return []
    return [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]


class RecipientEdit(QLineEdit):
    """A To/Cc/Bcc line: comma-separated entries, the one under the cursor completed."""

    def __init__(self, book: list[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.completer_ = QCompleter(QStringListModel(book, self), self)
        self.completer_.setWidget(self)
        self.completer_.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.completer_.setFilterMode(Qt.MatchFlag.MatchContains)
        self.completer_.activated[str].connect(self.insert_completion)  # type: ignore[index]  # PySide6 overloads signals by []
        self.textEdited.connect(self._update_completion)

    def _update_completion(self) -> None:
        _start, typed = logic.current_token(self.text(), self.cursorPosition())
        popup = self._popup()
        if not typed.strip():
            popup.hide()
            return
        self.completer_.setCompletionPrefix(typed.strip())
        if self.completer_.completionCount():
            self.completer_.complete()
        else:
            popup.hide()

    def _popup(self) -> QAbstractItemView:
        popup = self.completer_.popup()
        assert popup is not None  # a QCompleter makes its popup when first asked
        return popup

    def insert_completion(self, choice: str) -> None:
        text, cursor = logic.complete_token(self.text(), self.cursorPosition(), choice)
        self.setText(text)
        self.setCursorPosition(cursor)
        self.textEdited.emit(text)

    def keyPressEvent(self, event) -> None:
        keys = (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Tab, Qt.Key.Key_Escape)
        if self._popup().isVisible() and event.key() in keys:
            event.ignore()  # the popup takes them
            return
        super().keyPressEvent(event)


class BodyEdit(QTextEdit):
    """The body; files dropped on it become attachments instead of text."""

    files_dropped = Signal(list)

    def canInsertFromMimeData(self, source: QMimeData) -> bool:
        return bool(local_files(source)) or super().canInsertFromMimeData(source)

    def insertFromMimeData(self, source: QMimeData) -> None:
        files = local_files(source)
        if files:
            self.files_dropped.emit(files)
        else:
            super().insertFromMimeData(source)


class ChipView(QLabel):
    """One stop of the strip: a coloured dot, a title, a few words; the facts as a tooltip."""

    def __init__(self, chip: Chip) -> None:
        colour = grade_colour(chip.grade)
        rgb = f"{colour.red()},{colour.green()},{colour.blue()}"
        dot = f'<span style="color:{colour.name()}">{"○" if chip.pending else "●"}</span>'
        super().__init__(f"{dot}&nbsp; <b>{escape(chip.title)}</b>&nbsp; {escape(chip.text)}")
        self.chip = chip
        self.setObjectName("chip")
        self.setToolTip(chip.detail)
        # A tooltip takes its style from the widget it belongs to: unscoped, the chip's
        # translucent tint became the tooltip's background (unreadable over a dark desktop or
        # without a compositor). The chip's rule names the chip alone, and the tooltip gets
        # opaque colours of its own: dark text on a light tint of the grade.
        tint = tooltip_background(colour)
        self.setStyleSheet(
            f"QLabel#chip {{ background: rgba({rgb},26); border: 1px solid rgba({rgb},150); "
            "border-radius: 6px; padding: 4px 10px 4px 8px; } "
            f"QToolTip {{ color: {TOOLTIP_TEXT}; background-color: {tint.name()}; "
            f"border: 1px solid {colour.name()}; padding: 3px; }}"
        )


TOOLTIP_TEXT = "#1a1a1a"


def tooltip_background(colour: QColor) -> QColor:
    """A light, opaque tint of a grade's colour (15% of it over white): near-black text on
    it keeps a WCAG contrast far above 4.5 for every grade."""
    mix = 0.15
    return QColor(
        *(round(255 * (1 - mix) + c * mix) for c in (colour.red(), colour.green(), colour.blue()))
    )
