"""The compose window: From, To/Cc/Bcc with completion, subject, body, attachments, and the
"how this will travel" strip; sending goes through the engine's Outbox.

The decisions live in mua.gui.compose_logic (Qt-free); this file is the view.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from functools import partial
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
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
    QVBoxLayout,
    QWidget,
)

from mua.client.engine import SavedDraft
from mua.core.account import Account
from mua.core.compose import Attachment, Draft
from mua.core.i18n import _, ngettext
from mua.core.legs import Grade
from mua.gui import compose_logic as logic
from mua.gui.bridge import Bridge
from mua.gui.compose_logic import Chip, TravelLookup
from mua.gui.compose_sending import SendingAndSaving
from mua.gui.compose_widgets import BodyEdit, ChipView, RecipientEdit, local_files
from mua.gui.theme import grade_colour, human_size
from mua.net.posture import LOOKUP_TIMEOUT

__all__ = ["BodyEdit", "ChipView", "ComposeWindow", "RecipientEdit", "local_files"]

log = logging.getLogger(__name__)

_DEBOUNCE_MS = 400  # recipients settle before their domains are looked up


class ComposeWindow(SendingAndSaving, QWidget):
    """A message being written, in a window of its own (also when the main window is its
    parent: that only owns and places it). `reported(text)` says what became of it when it
    is sent or queued; the window closes then. A permanent failure keeps it open with the
    reason. Escape, Ctrl+W or the close button close it, asking first whether to save
    unsaved changes as a draft. `saved` is where this draft's copy is in Drafts (a draft
    opened from there): saving again replaces it, sending removes it. `drafts_changed`
    (account, folder) says that a Drafts folder changed on the server."""

    reported = Signal(str)
    drafts_changed = Signal(str, str)

    def __init__(
        self,
        engine,
        bridge: Bridge,
        account: Account | str,
        draft: Draft | None = None,
        *,
        mx_ports: dict[str, int] | None = None,
        trust_anchor_file: Path | None = None,
        lookup_timeout: float = LOOKUP_TIMEOUT,
        lookup: TravelLookup | None = None,  # all three at once: TravelLookup.from_demo_settings
        saved: SavedDraft | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowFlag(Qt.WindowType.Window)  # a window of its own, whatever its parent
        self.engine, self.bridge = engine, bridge
        self.lookup = lookup or TravelLookup(mx_ports, trust_anchor_file, lookup_timeout)
        self._accounts = engine.accounts.load()
        address = account.address if isinstance(account, Account) else account
        if draft is not None:
            address = draft.sender
        self._base = draft or Draft(sender=address)
        self._attachments: list[Attachment] = list(self._base.attachments)
        self._postures: dict[str, Chip] = {}
        self._lookups = {}
        self._failed_entry = None
        self._sending = False
        self._saved = saved
        self._done = False  # sent, saved on the way out, or discarded: closing asks nothing
        self._closed = False
        self.setAcceptDrops(True)
        self.resize(760, 620)
        self._build(address)
        self._fill(self._base)
        self._update_title(self.subject_edit.text())
        self._unchanged = self.draft()  # what "unsaved changes" compares with
        self._account_changed()

    # -- building -------------------------------------------------------------------------

    def _build(self, address: str) -> None:
        self.send_button = QPushButton(_("Send"))
        self.send_button.setDefault(True)
        self.send_button.setToolTip(_("Send (Ctrl+Enter)"))
        self.save_button = QPushButton(_("Save draft"))
        self.attach_button = QPushButton(_("Attach…"))
        self.html_toggle = QCheckBox(_("Rich text (HTML)"))
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
        form.addRow(_("From:"), self.from_box)
        form.addRow(_("To:"), self.to_edit)
        form.addRow(_("Cc:"), self.cc_edit)
        form.addRow(_("Bcc:"), self.bcc_edit)
        form.addRow(_("Subject:"), self.subject_edit)

        red = grade_colour(Grade.RED).name()
        self.error_label = QLabel(wordWrap=True, visible=False, styleSheet=f"color: {red};")  # type: ignore[call-overload]  # PySide6: any Qt property as keyword

        strip = QFrame()
        strip.setObjectName("travel")
        strip.setStyleSheet("QFrame#travel { border-top: 1px solid palette(mid); }")
        self.strip_layout = QHBoxLayout()
        self.strip_layout.setSpacing(8)
        heading = QLabel(_("How this will travel"), styleSheet="font-weight: 600;")  # type: ignore[call-overload]  # PySide6: any Qt property as keyword
        strip_box = QVBoxLayout(strip)
        strip_box.setContentsMargins(0, 6, 0, 2)
        strip_box.addWidget(heading)
        strip_box.addLayout(self.strip_layout)

        self.body = BodyEdit()
        self.body.setAccessibleName(_("Message text"))
        self.body.setAcceptRichText(False)
        self.attachment_list = QListWidget(  # type: ignore[call-arg]  # PySide6: any Qt property as keyword
            flow=QListView.Flow.LeftToRight,
            wrapping=True,
            spacing=3,
            maximumHeight=58,
            selectionMode=QListView.SelectionMode.ExtendedSelection,
        )
        self.remove_button = QPushButton(_("Remove"))
        self.attachments_box = QWidget()
        attach_row = QHBoxLayout(self.attachments_box)
        attach_row.setContentsMargins(0, 0, 0, 0)
        attach_row.addWidget(self.attachment_list, 1)
        attach_row.addWidget(self.remove_button, 0, Qt.AlignmentFlag.AlignTop)
        self.status_label = QLabel(styleSheet="color: palette(placeholder-text);")  # type: ignore[call-overload]  # PySide6: any Qt property as keyword

        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addLayout(form)
        for part, stretch in (
            (self.error_label, 0),
            (strip, 0),
            (self.body, 1),
            (self.attachments_box, 0),
            (self.status_label, 0),
        ):
            layout.addWidget(part, stretch)

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
        # Window shortcuts: each compose window answers its own keys (Ctrl+Enter sends the
        # one it is pressed in, however many are open).
        for keys in ("Ctrl+Return", "Ctrl+Enter"):
            QShortcut(QKeySequence(keys), self, self.send)
        QShortcut(QKeySequence(QKeySequence.StandardKey.Save), self, self.save_draft)
        for closing in (QKeySequence(Qt.Key.Key_Escape), QKeySequence.StandardKey.Close):
            QShortcut(QKeySequence(closing), self, self.close)
        chain = (self.from_box, self.to_edit, self.cc_edit, self.bcc_edit, self.subject_edit,
                 self.body, self.send_button, self.save_button, self.attach_button,
                 self.html_toggle, self.attachment_list, self.remove_button)  # fmt: skip
        for n in range(1, len(chain)):  # Tab in reading order: the form, then the buttons
            QWidget.setTabOrder(chain[n - 1], chain[n])

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
        shown = subject.strip() or _("(no subject)")
        self.setWindowTitle(_("Write: {subject}").format(subject=shown))

    def saved_copy(self) -> SavedDraft | None:
        """Where this draft's last saved copy is in Drafts (None: never saved)."""
        return self._saved

    def has_unsaved_changes(self) -> bool:
        """Anything typed, attached or changed since the window opened or last saved."""
        return self.draft() != self._unchanged

    def _html_toggled(self, rich: bool) -> None:
        self.body.setAcceptRichText(rich)
        if not rich:
            self.body.setPlainText(self.body.toPlainText())

    # -- attachments ------------------------------------------------------------------------

    def choose_attachments(self) -> None:
        paths, _filter = QFileDialog.getOpenFileNames(self, _("Attach files"))
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
            text = ngettext(
                "Could not read {files}; it was not attached.",
                "Could not read {files}; they were not attached.",
                len(skipped),
            ).format(files=", ".join(skipped))
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
                    _("Looking up {domain}").format(domain=domain),
                    self.lookup.posture(domain, self._resolver),
                    partial(self._posture_found, domain),
                )
        self._show_strip(domains)

    def _posture_found(self, domain: str, posture: logic.InboundPosture) -> None:
        if self._closed:  # the answer came after the window closed
            return
        self._lookups.pop(domain, None)
        self._postures[domain] = posture.chip()
        self._show_strip(self.recipient_domains())

    def travel_chips(self) -> list[Chip]:
        """The strip as shown: the submission leg, then one chip per recipient domain."""
        return [view.chip for view in self.findChildren(ChipView) if view.isVisibleTo(self)]

    def _show_strip(self, domains: list[str]) -> None:
        while self.strip_layout.count():
            item = self.strip_layout.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.hide()
                widget.deleteLater()
        chips = [logic.submission_chip(self.account())]
        chips += [self._postures.get(d) or logic.pending_chip(d) for d in domains]
        for chip in chips:
            self.strip_layout.addWidget(ChipView(chip), 0, Qt.AlignmentFlag.AlignTop)
        self.strip_layout.addStretch(1)
