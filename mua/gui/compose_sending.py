"""How a compose window ends: sending through the Outbox, saving to Drafts (a copy saved
before is replaced), and closing, which asks whether to save unsaved changes first. A mixin
of ComposeWindow (mua/gui/compose_window.py), which provides the fields, the engine and the
bridge."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from mua.client.engine import SavedDraft
from mua.client.outbox_sender import SendOutcome
from mua.core.compose import Draft
from mua.core.i18n import _, translated
from mua.gui import compose_logic as logic

if TYPE_CHECKING:
    import asyncio
    from typing import Any

    from PySide6.QtCore import QTimer, Signal
    from PySide6.QtWidgets import QLabel, QPushButton, QWidget

    from mua.client.engine import Engine
    from mua.gui.bridge import Bridge
    from mua.gui.compose_widgets import RecipientEdit
    from mua.store.outbox import OutboxEntry

    class ComposeParts(QWidget):
        """What ComposeWindow provides the mixin below (for the type checker only)."""

        reported = Signal(str)
        drafts_changed = Signal(str, str)
        engine: Engine
        bridge: Bridge
        send_button: QPushButton
        save_button: QPushButton
        status_label: QLabel
        error_label: QLabel
        to_edit: RecipientEdit
        cc_edit: RecipientEdit
        bcc_edit: RecipientEdit
        _failed_entry: OutboxEntry | None  # a permanently failed Outbox entry of this window
        _saved: SavedDraft | None
        _sending: bool
        _done: bool
        _closed: bool
        _lookups: dict[str, asyncio.Task[Any]]
        _debounce: QTimer

        def draft(self) -> Draft: ...
        def has_unsaved_changes(self) -> bool: ...

else:
    ComposeParts = object


class SendingAndSaving(ComposeParts):
    """Send, save, discard and close for ComposeWindow."""

    # -- sending and saving -----------------------------------------------------------------

    def send(self) -> None:
        if self._sending:
            return
        draft = self.draft()
        problem = logic.problem_with(draft)
        if problem is not None:
            self._show_error(*problem)
            return
        if self._failed_entry is not None:  # sending again replaces what failed before
            self.engine.outbox.remove(self._failed_entry)
            self._failed_entry = None
        self._set_busy(True, _("Sending…"))
        sending = self.engine.send(draft, draft_copy=self._saved)
        self.bridge.run("send", sending, self._sent, self._send_failed)

    def _sent(self, outcome: SendOutcome) -> None:
        if self._closed:  # discarded while it was being sent: nothing left to show it in
            return
        self._set_busy(False, "")
        if self._saved is not None and (outcome.sent or not outcome.entry.failed):
            self.drafts_changed.emit(self._saved.account, self._saved.folder)  # it left Drafts
            self._saved = None
        if outcome.sent:
            self._finish(_("Sent ({how})").format(how=self._how(outcome)))
        elif not outcome.entry.failed:
            self._finish(
                _("Not sent yet: {reason} It stays in the Outbox and will be retried.").format(
                    reason=translated(outcome.error or "")
                )
            )
        else:
            self._failed_entry = outcome.entry
            self._show_error(
                None, translated(outcome.error or "") or _("The message was not sent.")
            )

    def _how(self, outcome: SendOutcome) -> str:
        """ "TLSv1.3, verified": what protected the submission, as the client saw it."""
        tls = outcome.result.tls if outcome.result else None
        if tls is None or not tls.encrypted:
            return _("unencrypted")
        parts = [tls.version or "TLS"]
        if tls.verified:
            parts.append(_("verified"))
        return ", ".join(parts)

    def _send_failed(self, message: str) -> None:
        if self._closed:
            return
        self._set_busy(False, "")
        self._show_error(None, message)

    def _finish(self, report: str) -> None:
        self.status_label.setText(report)
        self.reported.emit(report)
        self._done = True
        self.close()

    def save_draft(self, *, then_close: bool = False) -> None:
        """Save to Drafts, replacing this draft's earlier copy. The window stays open (as in
        Thunderbird: Ctrl+S saves and goes on) unless it is closing (`then_close`)."""
        if self._sending:
            return
        draft = self.draft()
        self._set_busy(True, _("Saving…"))
        saving = self.engine.save_draft(draft, replacing=self._saved)
        self.bridge.run(
            "save draft", saving, partial(self._draft_saved, draft, then_close), self._send_failed
        )

    def _draft_saved(self, draft: Draft, then_close: bool, saved: SavedDraft | None) -> None:
        if self._closed:
            return
        self._set_busy(False, _("Saved to Drafts.") if saved else "")
        if saved is None:
            self._show_error(None, _("This account has no Drafts folder; nothing was saved."))
            return
        self._saved, self._unchanged = saved, draft
        self.drafts_changed.emit(saved.account, saved.folder)
        if then_close:
            self._done = True
            self.close()

    def discard(self) -> None:
        """Close without saving what changed (a copy saved earlier stays in Drafts)."""
        self._done = True
        self.close()

    def ask_to_save(self) -> QMessageBox:
        """The question before closing with unsaved changes: Save, Discard or Cancel. Modal
        to this window only, so other windows (and the main one) go on working."""
        box = QMessageBox(
            QMessageBox.Icon.Question,
            _("Save message"),
            _("Save this message as a draft?"),
            QMessageBox.StandardButton.Save
            | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel,
            self,
        )
        box.setInformativeText(_("It has not been sent."))
        box.setDefaultButton(QMessageBox.StandardButton.Save)
        box.setEscapeButton(QMessageBox.StandardButton.Cancel)
        box.setWindowModality(Qt.WindowModality.WindowModal)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

        def answered(_result: int) -> None:
            choice = box.standardButton(box.clickedButton())
            if choice == QMessageBox.StandardButton.Save:
                self.save_draft(then_close=True)
            elif choice == QMessageBox.StandardButton.Discard:
                self.discard()

        box.finished.connect(answered)
        box.open()
        return box

    def _set_busy(self, busy: bool, status: str) -> None:
        self._sending = busy
        for button in (self.send_button, self.save_button):
            button.setEnabled(not busy)
        self.status_label.setText(status)
        if busy:
            self.error_label.hide()

    def _show_error(self, field: str | None, text: str) -> None:
        self.error_label.setText(text)
        self.error_label.show()
        edit = {"To": self.to_edit, "Cc": self.cc_edit, "Bcc": self.bcc_edit}.get(field or "")
        if edit is not None:
            edit.setFocus()

    def error_text(self) -> str:
        return self.error_label.text() if self.error_label.isVisibleTo(self) else ""

    def closeEvent(self, event) -> None:
        if not self._done and (self._sending or self.has_unsaved_changes()):
            event.ignore()  # sending or saving: wait for it; changes: ask first
            if not self._sending and not any(b.isVisible() for b in self._questions()):
                self.ask_to_save()
            return
        self._closed = True
        for task in self._lookups.values():
            task.cancel()
        self._lookups.clear()
        self._debounce.stop()
        super().closeEvent(event)

    def _questions(self) -> list[QMessageBox]:
        return self.findChildren(QMessageBox)
