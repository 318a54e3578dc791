"""Edit > Undo, Redo, Cut, Copy, Paste, Select All: the standard actions, with the platform's
standard shortcuts, acting on whichever widget has the keyboard focus (a line edit, the
reader's text, an editor, the message list for Select All). Each is enabled only when the
focus widget can do it now: Undo when there is something to undo, Cut and Copy with a
selection, Paste into an editable widget with text on the clipboard.

A window makes one `EditActions(window)` and puts `actions()` in its Edit menu."""

from __future__ import annotations

import contextlib

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QLineEdit,
    QMenu,
    QMenuBar,
    QPlainTextEdit,
    QTextEdit,
    QWidget,
)

from mua.core.i18n import _

_OPERATIONS = ("undo", "redo", "cut", "copy", "paste", "select_all")


def _target(widget: QWidget | None) -> QWidget | None:
    """The widget the operations go to: an editable combo box's line edit, else itself."""
    if isinstance(widget, QComboBox) and widget.isEditable():
        return widget.lineEdit()
    return widget


def can(widget: QWidget | None, operation: str) -> bool:
    """Whether `operation` makes sense for `widget` in its present state."""
    if isinstance(widget, QLineEdit):
        editable = not widget.isReadOnly() and widget.echoMode() == QLineEdit.EchoMode.Normal
        selected = widget.hasSelectedText()
        return {
            "undo": widget.isUndoAvailable() and not widget.isReadOnly(),
            "redo": widget.isRedoAvailable() and not widget.isReadOnly(),
            "cut": selected and editable,
            "copy": selected and widget.echoMode() == QLineEdit.EchoMode.Normal,
            "paste": not widget.isReadOnly() and bool(QGuiApplication.clipboard().text()),
            "select_all": bool(widget.text()),
        }[operation]
    if isinstance(widget, (QTextEdit, QPlainTextEdit)):
        document, read_only = widget.document(), widget.isReadOnly()
        selected = widget.textCursor().hasSelection()
        return {
            "undo": document.isUndoAvailable() and not read_only,
            "redo": document.isRedoAvailable() and not read_only,
            "cut": selected and not read_only,
            "copy": selected,
            "paste": not read_only and widget.canPaste(),
            "select_all": not document.isEmpty(),
        }[operation]
    if isinstance(widget, (QAbstractItemView, QAbstractSpinBox)):
        return operation == "select_all"
    return False


def perform(widget: QWidget | None, operation: str) -> bool:
    """Do `operation` on `widget` if it can; True when done."""
    if not can(widget, operation):
        return False
    getattr(widget, "selectAll" if operation == "select_all" else operation)()
    return True


class EditActions(QObject):
    """The six actions of an Edit menu, following the focus widget of the application."""

    changed = Signal()  # the actions' enabled states were brought up to date

    def __init__(self, window: QWidget) -> None:
        super().__init__(window)
        self.window = window
        key = QKeySequence.StandardKey
        table = (
            ("undo", _("&Undo"), key.Undo),
            ("redo", _("&Redo"), key.Redo),
            ("cut", _("Cu&t"), key.Cut),
            ("copy", _("&Copy"), key.Copy),
            ("paste", _("&Paste"), key.Paste),
            ("select_all", _("Select &All"), key.SelectAll),
        )
        self.by_name: dict[str, QAction] = {}
        for name, text, shortcut in table:
            action = QAction(text, window)
            action.setShortcut(QKeySequence(shortcut))
            action.triggered.connect(lambda _checked=False, op=name: self.trigger(op))
            self.by_name[name] = action
        self._watched: QWidget | None = None
        app = QApplication.instance()
        assert isinstance(app, QApplication)  # the GUI's, which mua makes first
        app.focusChanged.connect(self._focus_changed)
        QGuiApplication.clipboard().dataChanged.connect(self.update)
        self._focus_changed(None, QApplication.focusWidget())

    def actions(self) -> list[QAction]:
        return [self.by_name[name] for name in _OPERATIONS]

    def trigger(self, operation: str) -> bool:
        """Do `operation` on the widget that had the focus in our window (a menu opened
        from the menu bar does not take that from it)."""
        done = perform(self._watched, operation)
        self.update()
        return done

    def update(self) -> None:
        """Enable what the focus widget can do now (only while it is in our window)."""
        for name, action in self.by_name.items():
            action.setEnabled(can(self._watched, name))
        self.changed.emit()

    def _forget(self) -> None:
        self._watched = None
        self.update()

    def _focus_changed(self, _old: QWidget | None, new: QWidget | None) -> None:
        if isinstance(new, (QMenu, QMenuBar)):
            return  # the Edit menu itself: keep acting on the widget the user was in
        target = _target(new)
        if target is not None and target.window() is not self.window:
            target = None  # focus in another window: its own Edit menu acts there
        if target is self._watched:
            return
        self._watch(self._watched, connect=False)
        self._watched = target
        self._watch(target, connect=True)
        self.update()

    def _watch(self, widget: QWidget | None, *, connect: bool) -> None:
        if widget is None:
            return
        signals = []
        if isinstance(widget, QLineEdit):
            signals = [widget.selectionChanged, widget.textChanged]
        elif isinstance(widget, (QTextEdit, QPlainTextEdit)):
            signals = [widget.selectionChanged, widget.textChanged, widget.undoAvailable,
                       widget.redoAvailable]  # fmt: skip
        pairs = [(widget.destroyed, self._forget), *((signal, self.update) for signal in signals)]
        for signal, slot in pairs:
            if connect:
                signal.connect(slot)
            else:
                with contextlib.suppress(RuntimeError, TypeError):  # the widget is gone
                    signal.disconnect(slot)
