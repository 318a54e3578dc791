"""The reading pane: a message's headers, its body (plain text, or HTML made safe) and its
attachments (reader_attachments.py). Remote content stays blocked until the user allows it
for this message or for its sender; the browser below never fetches anything on its own (see
loadResource)."""

from __future__ import annotations

import base64
import html
import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, Qt, QUrl, Signal
from PySide6.QtGui import QColor, QDesktopServices, QImage, QPainter, QTextDocument
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from mua.core.i18n import _, ngettext
from mua.gui.reader_attachments import ReaderAttachments

if TYPE_CHECKING:
    from PySide6.QtNetwork import QNetworkAccessManager, QNetworkReply

    from mua.gui.html_safety import ReadableMessage, SafeHtml

log = logging.getLogger(__name__)

MAX_REMOTE_IMAGE = 5 * 1024 * 1024


def _placeholder() -> QImage:
    image = QImage(48, 36, QImage.Format.Format_ARGB32)
    image.fill(QColor(128, 128, 128, 48))  # translucent grey: readable on light and dark
    painter = QPainter(image)
    painter.setPen(QColor(128, 128, 128, 190))
    painter.drawRect(0, 0, 47, 35)
    painter.drawLine(8, 28, 20, 14)
    painter.drawLine(20, 14, 28, 22)
    painter.drawLine(28, 22, 34, 16)
    painter.drawLine(34, 16, 42, 28)
    painter.end()
    return image


class MessageBrowser(QTextBrowser):
    """A QTextBrowser that loads nothing by itself: cid: parts of the message, data: images,
    and remote images only once allowed and fetched (by ReaderView); never local files."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setOpenLinks(False)
        self.setOpenExternalLinks(False)
        self.inline: dict[str, tuple[str, bytes]] = {}
        self.remote_images: dict[str, QImage] = {}
        self.remote_allowed = False
        self._placeholder = _placeholder()

    def loadResource(self, kind: int, url: QUrl | str) -> object:
        url = QUrl(url) if isinstance(url, str) else url
        scheme = url.scheme().lower()
        if kind != QTextDocument.ResourceType.ImageResource.value:
            return None  # style sheets, other documents: none may load
        if scheme == "cid":
            found = self.inline.get(url.toString()[4:].strip("<>"))
            return QImage.fromData(found[1]) if found else self._placeholder
        if scheme == "data":
            head, _sep, body = url.toString().partition(",")
            if head.lower().startswith("data:image/") and head.lower().endswith(";base64"):
                return QImage.fromData(base64.b64decode(body, validate=False))
            return self._placeholder
        if scheme in ("http", "https") and self.remote_allowed:
            return self.remote_images.get(url.toString(), self._placeholder)
        return self._placeholder  # mua-blocked:, not yet fetched, or anything else


class ReaderView(ReaderAttachments, QWidget):
    senderAllowed = Signal(str)  # "always for this sender": the address, to be remembered

    def __init__(
        self,
        parent: QWidget | None = None,
        *,
        prefer_html: bool = True,
        allowed_senders: set[str] | None = None,
        load_remote: bool = False,
    ) -> None:
        super().__init__(parent)
        self.prefer_html = prefer_html
        self.allowed_senders = set(allowed_senders or ())
        self.load_remote = load_remote  # the user's setting: remote content for every message
        self.message: ReadableMessage | None = None
        self.safe_html: SafeHtml | None = None
        self._allowed_here = False
        self._network: QNetworkAccessManager | None = None  # once remote content is allowed
        self._fetching: set[str] = set()
        self._generation = 0  # which message is shown: late image replies are dropped
        self._build()
        self.clear()

    # -- layout -------------------------------------------------------------------------------

    _STYLES = {  # palette() is looked up when a sheet is set: re-set on every palette change
        "header": "#readerHeader { background: palette(base);"
        " border-bottom: 1px solid palette(mid); }",
        # amber (the "acceptable" colour) washed over the palette: light and dark alike
        "remote_bar": "#remoteBar { background: rgba(224, 161, 0, 45);"
        " border-bottom: 1px solid rgba(224, 161, 0, 150); }",
        "attachment_bar": "#attachmentBar { border-top: 1px solid palette(mid);"
        " background: palette(window); }",
    }

    def _apply_styles(self) -> None:
        for name, sheet in self._STYLES.items():
            getattr(self, name).setStyleSheet(sheet)

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange and hasattr(self, "attachment_bar"):
            self._apply_styles()

    def _build(self) -> None:
        self.header = QFrame(objectName="readerHeader")  # type: ignore[call-arg]  # PySide6: any Qt property as keyword
        self.subject_label = QLabel(wordWrap=True)
        font = self.subject_label.font()
        font.setPointSizeF(font.pointSizeF() * 1.35)
        font.setBold(True)
        self.subject_label.setFont(font)
        self.subject_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.fields = QGridLayout()
        self.fields.setHorizontalSpacing(10)
        self.fields.setVerticalSpacing(2)
        self.fields.setColumnStretch(1, 1)
        header = QVBoxLayout(self.header)
        header.setContentsMargins(12, 10, 12, 8)
        header.addWidget(self.subject_label)
        header.addLayout(self.fields)
        self.nesting_note = QLabel(wordWrap=True)  # a message nested past MAX_DEPTH
        self.nesting_note.setTextFormat(Qt.TextFormat.PlainText)
        header.addWidget(self.nesting_note)

        self.remote_bar = QFrame(objectName="remoteBar")  # type: ignore[call-arg]  # PySide6: any Qt property as keyword
        self.remote_label = QLabel(wordWrap=True)
        self.load_once = QPushButton(_("Load for this message"))
        self.load_always = QPushButton(_("Always for this sender"))
        self.load_once.clicked.connect(self.load_remote_for_message)
        self.load_always.clicked.connect(self.load_remote_for_sender)
        bar = QHBoxLayout(self.remote_bar)
        bar.setContentsMargins(12, 4, 8, 4)
        bar.addWidget(self.remote_label, 1)
        bar.addWidget(self.load_once)
        bar.addWidget(self.load_always)

        self.browser = MessageBrowser()
        self.browser.setAccessibleName(_("Message text"))
        self.browser.setFrameShape(QFrame.Shape.NoFrame)
        self.browser.anchorClicked.connect(self._open_link)
        self.browser.document().setDocumentMargin(12)

        self.attachment_bar = QFrame(objectName="attachmentBar")  # type: ignore[call-arg]  # PySide6: any Qt property as keyword
        self.attachment_row = QHBoxLayout(self.attachment_bar)
        self.attachment_row.setContentsMargins(8, 4, 8, 4)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        for widget in (self.header, self.remote_bar, self.browser, self.attachment_bar):
            layout.addWidget(widget)
        self._apply_styles()

    # -- showing ------------------------------------------------------------------------------

    def clear(self) -> None:
        self.message = None
        self.safe_html = None
        self.header.hide()
        self.remote_bar.hide()
        self.attachment_bar.hide()
        self.browser.setHtml(
            '<p align="center" style="color:#8a8a8a"><br><br>'
            + html.escape(_("No message selected"))
            + "</p>"
        )

    def show_message(self, raw: bytes) -> None:
        # html_safety (email parsing, nh3) is imported with the first message shown, not at
        # start-up: bench/startup.py
        from mua.gui.html_safety import ReadableMessage

        self.message = ReadableMessage.parse(raw)
        self._allowed_here = False
        self._generation += 1
        self._fetching.clear()
        self.browser.remote_images.clear()
        self._show_header(self.message)
        self._show_nesting(self.message.too_deep)
        self._show_attachments(self.message.attachments)
        self._render()

    def set_prefer_html(self, prefer: bool) -> None:
        self.prefer_html = prefer
        if self.message is not None:
            self._render()

    @property
    def remote_allowed(self) -> bool:
        if self.message is None:
            return False
        return (
            self.load_remote
            or self._allowed_here
            or self.message.sender_address in self.allowed_senders
        )

    def _show_header(self, message: ReadableMessage) -> None:
        self.subject_label.setText(message.subject or _("(no subject)"))
        while self.fields.count():
            item = self.fields.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget:
                widget.deleteLater()
        rows = [(_("From"), message.sender), (_("To"), message.to)]
        if message.cc:
            rows.append((_("Cc"), message.cc))
        rows.append((_("Date"), message.date))
        for row, (name, value) in enumerate(rows):
            label = QLabel(name, styleSheet="color: palette(placeholder-text);")  # type: ignore[call-overload]  # PySide6: any Qt property as keyword
            shown = QLabel(value, wordWrap=True)
            shown.setTextFormat(Qt.TextFormat.PlainText)
            shown.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.fields.addWidget(label, row, 0, Qt.AlignmentFlag.AlignTop)
            self.fields.addWidget(shown, row, 1)
        self.header.show()

    def _show_nesting(self, too_deep: bool) -> None:
        from mua.core.mime import too_deep_note

        self.nesting_note.setText(too_deep_note() if too_deep else "")
        self.nesting_note.setVisible(too_deep)

    def _render(self) -> None:
        from mua.gui.html_safety import plain_to_html, sanitise

        message = self.message
        assert message is not None
        self.browser.inline = message.inline
        self.browser.remote_allowed = self.remote_allowed
        use_html = message.html is not None and (self.prefer_html or message.text is None)
        if use_html:
            self.safe_html = sanitise(message.html or "", allow_remote=self.remote_allowed)
            self.browser.setHtml(self.safe_html.html)
        else:
            self.safe_html = None
            self.browser.setHtml(plain_to_html(message.text or ""))
        blocked = self.safe_html.blocked if self.safe_html else 0
        self.remote_label.setText(
            ngettext(
                "Remote content blocked ({n} item) to protect your privacy.",
                "Remote content blocked ({n} items) to protect your privacy.",
                blocked,
            ).format(n=blocked)
        )
        self.remote_bar.setVisible(blocked > 0)
        if self.safe_html is not None and self.remote_allowed:
            self._fetch(self.safe_html.remote)

    # -- remote content -----------------------------------------------------------------------

    def load_remote_for_message(self) -> None:
        self._allowed_here = True
        if self.message is not None:
            self._render()

    def load_remote_for_sender(self) -> None:
        if self.message is None:
            return
        address = self.message.sender_address
        if address:
            self.allowed_senders.add(address)
            self.senderAllowed.emit(address)
        self.load_remote_for_message()

    def _fetch(self, urls: tuple[str, ...]) -> None:
        """Fetch the allowed remote images asynchronously (QNetworkAccessManager: nothing
        waits on the GUI thread); each arrival re-renders the body."""
        # QtNetwork is imported here, not at start-up: most sessions never load remote content.
        from PySide6.QtNetwork import QNetworkAccessManager, QNetworkRequest

        if self._network is None:
            self._network = QNetworkAccessManager(self)
        for url in urls:
            if url in self._fetching or url in self.browser.remote_images:
                continue
            self._fetching.add(url)
            request = QNetworkRequest(QUrl(url))
            request.setTransferTimeout(15000)
            request.setAttribute(
                QNetworkRequest.Attribute.RedirectPolicyAttribute,
                QNetworkRequest.RedirectPolicy.NoLessSafeRedirectPolicy,
            )
            reply = self._network.get(request)
            reply.downloadProgress.connect(
                lambda got, _total, r=reply: r.abort() if got > MAX_REMOTE_IMAGE else None
            )
            generation = self._generation
            reply.finished.connect(lambda r=reply, u=url, g=generation: self._fetched(u, r, g))

    def _fetched(self, url: str, reply: QNetworkReply, generation: int) -> None:
        from PySide6.QtNetwork import QNetworkReply

        reply.deleteLater()
        if generation != self._generation:
            return  # another message is shown now
        self._fetching.discard(url)
        if reply.error() != QNetworkReply.NetworkError.NoError:
            log.info("remote image %s not loaded: %s", url, reply.errorString())
            return
        image = QImage.fromData(reply.readAll().data())
        if image.isNull():
            return
        self.browser.remote_images[url] = image
        position = self.browser.verticalScrollBar().value()
        self._render()
        self.browser.verticalScrollBar().setValue(position)

    # -- links and attachments ----------------------------------------------------------------

    def _open_link(self, url: QUrl) -> None:
        if url.scheme().lower() in ("http", "https", "mailto"):
            QDesktopServices.openUrl(url)
