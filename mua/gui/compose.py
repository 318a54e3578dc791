"""The compose window: From, To/Cc/Bcc with completion, subject, body, attachments, and the
"how this will travel" strip; sending goes through the engine's Outbox.

The decisions live in mua.gui.compose_logic (Qt-free); this file is the view.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from functools import partial
from html import escape
from pathlib import Path

from PySide6.QtCore import QMimeData, QStringListModel, Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QCompleter,
    QFileDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QStyle,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from mua.client.outbox import SendOutcome
from mua.core.account import Account
from mua.core.compose import Attachment, Draft
from mua.core.legs import Grade
from mua.gui import compose_logic as logic
from mua.gui.bridge import Bridge
from mua.gui.compose_logic import Chip, TravelLookup
from mua.gui.theme import grade_colour, human_size

log = logging.getLogger(__name__)

_DEBOUNCE_MS = 400  # recipients settle before their domains are looked up


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
        self.completer_.activated[str].connect(self.insert_completion)
        self.textEdited.connect(self._update_completion)

    def _update_completion(self) -> None:
        _start, typed = logic.current_token(self.text(), self.cursorPosition())
        popup = self.completer_.popup()
        if not typed.strip():
            popup.hide()
            return
        self.completer_.setCompletionPrefix(typed.strip())
        if self.completer_.completionCount():
            self.completer_.complete()
        else:
            popup.hide()

    def insert_completion(self, choice: str) -> None:
        text, cursor = logic.complete_token(self.text(), self.cursorPosition(), choice)
        self.setText(text)
        self.setCursorPosition(cursor)
        self.textEdited.emit(text)

    def keyPressEvent(self, event) -> None:
        keys = (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Tab, Qt.Key.Key_Escape)
        if self.completer_.popup().isVisible() and event.key() in keys:
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
        self.setToolTip(chip.detail)
        self.setStyleSheet(
            f"background: rgba({rgb},26); border: 1px solid rgba({rgb},150); "
            "border-radius: 6px; padding: 4px 10px 4px 8px;"
        )


class ComposeWindow(QWidget):
    """A message being written. `reported(text)` says what became of it when it is sent or
    queued; the window closes then. A permanent failure keeps it open with the reason."""

    reported = Signal(str)

    def __init__(
        self,
        engine,
        bridge: Bridge,
        account: Account | str,
        draft: Draft | None = None,
        *,
        mx_ports: dict[str, int] | None = None,
        trust_anchor_file: Path | None = None,
        lookup_timeout: float = logic.LOOKUP_TIMEOUT,
        lookup: TravelLookup | None = None,  # all three at once: TravelLookup.from_demo_settings
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.engine, self.bridge = engine, bridge
        self.lookup = lookup or TravelLookup(mx_ports, trust_anchor_file, lookup_timeout)
        self._accounts = engine.accounts.load()
        address = account.address if isinstance(account, Account) else account
        if draft is not None:
            address = draft.sender
        self._base = draft or Draft(sender=address)
        self._attachments: list[Attachment] = list(self._base.attachments)
        self._postures: dict[str, Chip] = {}
        self._lookups: dict[str, asyncio.Task] = {}
        self._failed_entry = None  # a permanently failed Outbox entry of this window
        self._sending = False
        self.setWindowTitle(self.tr("New message"))
        self.setAcceptDrops(True)
        self.resize(760, 620)
        self._build(address)
        self._fill(self._base)
        self._account_changed()

    # -- building -------------------------------------------------------------------------

    def _build(self, address: str) -> None:
        self.send_button = QPushButton(self.tr("Send"))
        self.send_button.setDefault(True)
        self.send_button.setToolTip(self.tr("Send (Ctrl+Enter)"))
        self.save_button = QPushButton(self.tr("Save draft"))
        self.attach_button = QPushButton(self.tr("Attach…"))
        self.html_toggle = QCheckBox(self.tr("Rich text (HTML)"))
        bar = QHBoxLayout()
        for widget in (self.send_button, self.save_button, self.attach_button):
            bar.addWidget(widget)
        bar.addStretch(1)
        bar.addWidget(self.html_toggle)

        self.from_box = QComboBox()
        for acct in self._accounts:
            label = f"{acct.display_name} <{acct.address}>" if acct.display_name else acct.address
            self.from_box.addItem(label, acct.address)
        index = next((i for i, a in enumerate(self._accounts) if a.key == address.lower()), 0)
        self.from_box.setCurrentIndex(index)
        self.from_box.setEnabled(len(self._accounts) > 1)
        book = logic.address_book(self.engine.cache, address)
        self.to_edit, self.cc_edit, self.bcc_edit = (RecipientEdit(book) for _ in range(3))
        self.subject_edit = QLineEdit()
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        form.addRow(self.tr("From:"), self.from_box)
        form.addRow(self.tr("To:"), self.to_edit)
        form.addRow(self.tr("Cc:"), self.cc_edit)
        form.addRow(self.tr("Bcc:"), self.bcc_edit)
        form.addRow(self.tr("Subject:"), self.subject_edit)

        red = grade_colour(Grade.RED).name()
        self.error_label = QLabel(wordWrap=True, visible=False, styleSheet=f"color: {red};")

        strip = QFrame()
        strip.setObjectName("travel")
        strip.setStyleSheet("QFrame#travel { border-top: 1px solid palette(mid); }")
        self.strip_layout = QHBoxLayout()
        self.strip_layout.setSpacing(8)
        heading = QLabel(self.tr("How this will travel"), styleSheet="font-weight: 600;")
        strip_box = QVBoxLayout(strip)
        strip_box.setContentsMargins(0, 6, 0, 2)
        strip_box.addWidget(heading)
        strip_box.addLayout(self.strip_layout)

        self.body = BodyEdit()
        self.body.setAcceptRichText(False)
        self.attachment_list = QListWidget(
            flow=QListView.Flow.LeftToRight,
            wrapping=True,
            spacing=3,
            maximumHeight=58,
            selectionMode=QListView.SelectionMode.ExtendedSelection,
        )
        self.remove_button = QPushButton(self.tr("Remove"))
        self.attachments_box = QWidget()
        attach_row = QHBoxLayout(self.attachments_box)
        attach_row.setContentsMargins(0, 0, 0, 0)
        attach_row.addWidget(self.attachment_list, 1)
        attach_row.addWidget(self.remove_button, 0, Qt.AlignmentFlag.AlignTop)
        self.status_label = QLabel(styleSheet="color: palette(placeholder-text);")

        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addLayout(form)
        for widget, stretch in (
            (self.error_label, 0),
            (strip, 0),
            (self.body, 1),
            (self.attachments_box, 0),
            (self.status_label, 0),
        ):
            layout.addWidget(widget, stretch)

        self._debounce = QTimer(self, singleShot=True, interval=_DEBOUNCE_MS)
        self._debounce.timeout.connect(self._refresh_travel)
        for edit in (self.to_edit, self.cc_edit, self.bcc_edit):
            edit.textChanged.connect(self._recipients_changed)
        for signal, slot in (
            (self.subject_edit.textChanged, self._update_title),
            (self.from_box.currentIndexChanged, self._account_changed),
            (self.send_button.clicked, self.send),
            (self.save_button.clicked, self.save_draft),
            (self.attach_button.clicked, self.choose_attachments),
            (self.remove_button.clicked, self.remove_selected_attachments),
            (self.html_toggle.toggled, self._html_toggled),
            (self.body.files_dropped, self.add_attachments),
        ):
            signal.connect(slot)
        for keys in ("Ctrl+Return", "Ctrl+Enter"):
            QShortcut(QKeySequence(keys), self, self.send)

    def _fill(self, draft: Draft) -> None:
        self.to_edit.setText(", ".join(draft.to))
        self.cc_edit.setText(", ".join(draft.cc))
        self.bcc_edit.setText(", ".join(draft.bcc))
        self.subject_edit.setText(draft.subject)
        if draft.html is not None:
            self.html_toggle.setChecked(True)
            self.body.setHtml(draft.html)
        else:
            self.body.setPlainText(draft.text)
        self._show_attachments()

    # -- the message ------------------------------------------------------------------------

    def account(self) -> Account:
        address = self.from_box.currentData()
        return next(a for a in self._accounts if a.address == address)

    def draft(self) -> Draft:
        """The message as the window shows it now."""
        account = self.account()
        rich = self.html_toggle.isChecked()
        return Draft(
            sender=account.address,
            to=logic.split_recipients(self.to_edit.text()),
            cc=logic.split_recipients(self.cc_edit.text()),
            bcc=logic.split_recipients(self.bcc_edit.text()),
            subject=self.subject_edit.text(),
            text=self.body.toPlainText(),
            html=self.body.toHtml() if rich else None,
            attachments=tuple(self._attachments),
            sender_name=account.display_name,
            in_reply_to=self._base.in_reply_to,
            references=self._base.references,
        )

    def _update_title(self, subject: str) -> None:
        self.setWindowTitle(subject or self.tr("New message"))

    def _html_toggled(self, rich: bool) -> None:
        self.body.setAcceptRichText(rich)
        if not rich:
            self.body.setPlainText(self.body.toPlainText())

    # -- attachments ------------------------------------------------------------------------

    def choose_attachments(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, self.tr("Attach files"))
        self.add_attachments([Path(p) for p in paths])

    def add_attachments(self, paths: Iterable[Path | str]) -> None:
        """Attach these files (what the file dialog and a drop both call)."""
        skipped = []
        for path in map(Path, paths):
            try:
                self._attachments.append(Attachment.from_path(path))
            except OSError as exc:
                log.info("cannot attach %s: %s", path, exc)
                skipped.append(path.name)
        if skipped:
            text = self.tr("Could not read %s; it was not attached.") % ", ".join(skipped)
            self._show_error(None, text)
        self._show_attachments()

    def remove_selected_attachments(self) -> None:
        rows = sorted((i.row() for i in self.attachment_list.selectedIndexes()), reverse=True)
        for row in rows:
            del self._attachments[row]
        self._show_attachments()

    def attachments(self) -> list[Attachment]:
        return list(self._attachments)

    def _show_attachments(self) -> None:
        self.attachment_list.clear()
        icon = self.style().standardIcon(QStyle.StandardPixmap.SP_FileIcon)
        for attachment in self._attachments:
            size = human_size(len(attachment.data))
            self.attachment_list.addItem(QListWidgetItem(icon, f"{attachment.filename} ({size})"))
        self.attachments_box.setVisible(bool(self._attachments))

    def dragEnterEvent(self, event) -> None:
        if local_files(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        files = local_files(event.mimeData())
        if files:
            self.add_attachments(files)
            event.acceptProposedAction()

    # -- how this will travel ---------------------------------------------------------------

    def _account_changed(self) -> None:
        for task in self._lookups.values():
            task.cancel()
        self._lookups.clear()
        self._postures.clear()
        self._resolver = self.lookup.resolver(self.account())
        self._refresh_travel()

    def _recipients_changed(self) -> None:
        self.error_label.hide()
        self._debounce.start()

    def recipient_domains(self) -> list[str]:
        edits = (self.to_edit, self.cc_edit, self.bcc_edit)
        return logic.recipient_domains(e for w in edits for e in logic.split_recipients(w.text()))

    def _refresh_travel(self) -> None:
        domains = self.recipient_domains()
        for domain in [d for d in self._lookups if d not in domains]:
            self._lookups.pop(domain).cancel()  # the recipients changed: nobody needs it
        for domain in domains:
            if domain not in self._postures and domain not in self._lookups:
                self._lookups[domain] = self.bridge.run(
                    f"look up {domain}",
                    self.lookup.posture(domain, self._resolver),
                    partial(self._posture_found, domain),
                )
        self._show_strip(domains)

    def _posture_found(self, domain: str, posture: logic.InboundPosture) -> None:
        self._lookups.pop(domain, None)
        self._postures[domain] = posture.chip()
        self._show_strip(self.recipient_domains())

    def travel_chips(self) -> list[Chip]:
        """The strip as shown: the submission leg, then one chip per recipient domain."""
        return [view.chip for view in self.findChildren(ChipView) if view.isVisibleTo(self)]

    def _show_strip(self, domains: list[str]) -> None:
        while self.strip_layout.count():
            widget = self.strip_layout.takeAt(0).widget()
            if widget is not None:
                widget.hide()
                widget.deleteLater()
        chips = [logic.submission_chip(self.account())]
        chips += [self._postures.get(d) or logic.pending_chip(d) for d in domains]
        for chip in chips:
            self.strip_layout.addWidget(ChipView(chip), 0, Qt.AlignmentFlag.AlignTop)
        self.strip_layout.addStretch(1)

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
        self._set_busy(True, self.tr("Sending…"))
        self.bridge.run("send", self.engine.send(draft), self._sent, self._send_failed)

    def _sent(self, outcome: SendOutcome) -> None:
        self._set_busy(False, "")
        if outcome.sent:
            self._finish(self.tr("Sent (%s)") % self._how(outcome))
        elif not outcome.entry.failed:
            self._finish(
                self.tr("Not sent yet: %s It stays in the Outbox and will be retried.")
                % outcome.error
            )
        else:
            self._failed_entry = outcome.entry
            self._show_error(None, outcome.error or self.tr("The message was not sent."))

    def _how(self, outcome: SendOutcome) -> str:
        """ "TLSv1.3, verified": what protected the submission, as the client saw it."""
        tls = outcome.result.tls if outcome.result else None
        if tls is None or not tls.encrypted:
            return self.tr("unencrypted")
        parts = [tls.version or "TLS"]
        if tls.verified:
            parts.append(self.tr("verified"))
        return ", ".join(parts)

    def _send_failed(self, message: str) -> None:
        self._set_busy(False, "")
        self._show_error(None, message)

    def _finish(self, report: str) -> None:
        self.status_label.setText(report)
        self.reported.emit(report)
        self.close()

    def save_draft(self) -> None:
        self._set_busy(True, self.tr("Saving…"))
        self.bridge.run(
            "save draft", self.engine.save_draft(self.draft()), self._saved, self._send_failed
        )

    def _saved(self, saved: bool) -> None:
        self._set_busy(False, self.tr("Saved to Drafts.") if saved else "")
        if not saved:
            self._show_error(None, self.tr("This account has no Drafts folder; nothing was saved."))

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
        for task in self._lookups.values():
            task.cancel()
        self._lookups.clear()
        self._debounce.stop()
        super().closeEvent(event)
