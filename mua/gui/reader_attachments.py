"""The reading pane's attachments: the bar of buttons under the message, opening one (a
program or script only after a warning) and saving one. A mixin of ReaderView
(mua/gui/reader.py), which builds `attachment_bar` / `attachment_row` and sets `message`."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QStandardPaths, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QFileDialog, QLabel, QMenu, QMessageBox, QToolButton, QWidget

from mua.core.i18n import _
from mua.gui.theme import human_size

if TYPE_CHECKING:
    from PySide6.QtWidgets import QFrame, QHBoxLayout

    from mua.gui.html_safety import AttachmentFile, ReadableMessage

_RISKY = {".exe", ".bat", ".cmd", ".com", ".scr", ".msi", ".js", ".vbs", ".jar", ".sh",
          ".desktop", ".app", ".ps1", ".lnk", ".py", ".pif", ".hta", ".reg"}  # fmt: skip


class ReaderAttachments:
    message: ReadableMessage | None
    attachment_bar: QFrame
    attachment_row: QHBoxLayout

    def _show_attachments(self, attachments: list[AttachmentFile]) -> None:
        while self.attachment_row.count():
            item = self.attachment_row.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget:
                widget.deleteLater()
        if not attachments:
            self.attachment_bar.hide()
            return
        self.attachment_row.addWidget(QLabel(_("Attachments:")))
        for index, attachment in enumerate(attachments):
            button = QToolButton()
            button.setText(f"{attachment.name} ({human_size(attachment.size)})")
            button.setToolTip(attachment.content_type)
            button.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
            menu = QMenu(button)
            menu.addAction(_("Open"), partial(self.open_attachment, index))
            menu.addAction(_("Save As…"), partial(self.save_attachment_as, index))
            button.setMenu(menu)
            button.clicked.connect(lambda _=False, i=index: self.open_attachment(i))
            self.attachment_row.addWidget(button)
        self.attachment_row.addStretch(1)
        self.attachment_bar.show()

    def attachment_names(self) -> list[str]:
        return [a.name for a in self.message.attachments] if self.message else []

    def write_attachment(self, index: int, directory: Path) -> Path:
        """Write the attachment into `directory` under its safe name (never over a file)."""
        attachment = self.message.attachments[index] if self.message else None
        if attachment is None:
            raise IndexError(index)
        path = directory / attachment.name
        stem, suffix, n = path.stem, path.suffix, 1
        while path.exists():
            path = directory / f"{stem}-{n}{suffix}"
            n += 1
        path.write_bytes(attachment.data)
        return path

    def open_attachment(self, index: int) -> None:
        if self.message is None:
            return
        name = self.message.attachments[index].name
        if Path(name).suffix.lower() in _RISKY:
            answer = QMessageBox.warning(
                self._widget(),
                _("Open attachment"),
                _(
                    "{name} is a program or script. Opening it can harm your computer. Open it?"
                ).format(name=name),
                QMessageBox.StandardButton.Open | QMessageBox.StandardButton.Cancel,
                QMessageBox.StandardButton.Cancel,
            )
            if answer != QMessageBox.StandardButton.Open:
                return
        temp = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.TempLocation)
        directory = Path(temp) / "mua-attachments"
        directory.mkdir(parents=True, exist_ok=True)
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.write_attachment(index, directory))))

    def save_attachment_as(self, index: int) -> None:
        if self.message is None:
            return
        attachment = self.message.attachments[index]
        downloads = QStandardPaths.writableLocation(
            QStandardPaths.StandardLocation.DownloadLocation
        )
        chosen, _filter = QFileDialog.getSaveFileName(
            self._widget(), _("Save attachment"), str(Path(downloads) / attachment.name)
        )
        if chosen:
            Path(chosen).write_bytes(attachment.data)

    def _widget(self) -> QWidget:
        assert isinstance(self, QWidget)  # mixed into ReaderView
        return self
