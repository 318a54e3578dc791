"""The reader: sanitised HTML, remote content blocked until allowed, cid: images, attachments."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import threading
from collections.abc import Iterator
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QUrl
from PySide6.QtGui import QColor, QImage, QTextDocument

from mua.gui.html_safety import (
    BLOCKED_SCHEME,
    ReadableMessage,
    is_remote,
    plain_to_html,
    remote_references,
    sanitise,
)
from mua.gui.reader import ReaderView

IMAGE = QTextDocument.ResourceType.ImageResource.value


def png(width: int, height: int, colour: str = "#cc3333") -> bytes:
    image = QImage(width, height, QImage.Format.Format_ARGB32)
    image.fill(QColor(colour))
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    return bytes(data.data())


def mail(html: str | None, text: str = "Plain words.", sender: str = "Eve <eve@e.test>"):
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "bob@b.test"
    message["Cc"] = "carol@c.test"
    message["Subject"] = "A newsletter"
    message["Date"] = "Mon, 02 Jun 2025 09:30:00 +0000"
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    return message


@pytest.fixture
def reader(qtbot) -> ReaderView:
    view = ReaderView()
    qtbot.addWidget(view)
    view.resize(700, 500)
    view.show()
    return view


class _Images(BaseHTTPRequestHandler):
    requests: list[str] = []
    body = b""

    def do_GET(self) -> None:
        type(self).requests.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def image_server() -> Iterator[tuple[str, list[str]]]:
    """A web server on 127.0.0.1 serving a 30x20 PNG at any path; yields (base URL, paths
    asked for)."""
    handler = type("Handler", (_Images,), {"requests": [], "body": png(30, 20)})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler.requests
    server.shutdown()
    server.server_close()
    thread.join()


def test_sanitising_removes_scripts_handlers_forms_and_frames() -> None:
    dirty = (
        '<p onclick="steal()" style="color:red;background:url(http://t.example/bg)">Hi</p>'
        '<img src="x.png" onerror="alert(1)"><script>alert(2)</script><style>p{}</style>'
        '<iframe src="http://t.example/f"></iframe><form action="http://t.example"><input></form>'
        '<a href="javascript:alert(3)">js</a><a href="https://ok.example/">ok</a>'
        '<a href="data:text/html,<script>alert(4)</script>">data</a>'
    )
    safe = sanitise(dirty)
    for gone in ("onclick", "onerror", "alert", "<script", "<style", "<iframe", "<form",
                 "<input", "javascript:", "data:", "url(", "x.png"):  # fmt: skip
        assert gone not in safe.html, gone
    assert '<p style="color:red">Hi</p>' in safe.html
    assert 'href="https://ok.example/"' in safe.html
    assert safe.remote == () and safe.blocked == 0


def test_remote_images_are_found_blocked_and_counted() -> None:
    source = (
        '<img src="http://t.example/a.gif"><img src="//t.example/b.png">'
        '<img src=" HTTPS://t.example/c.png"><img src="http://t.example/a.gif">'
        '<img src="cid:logo@x"><img src="data:image/png;base64,iVBORw0KGgo=">'
    )
    blocked = sanitise(source)
    assert blocked.remote == ("http://t.example/a.gif", "https://t.example/b.png",
                              "HTTPS://t.example/c.png")  # fmt: skip
    assert blocked.blocked == 3
    assert "t.example" not in blocked.html and blocked.html.count(f"{BLOCKED_SCHEME}:") == 4
    assert 'src="cid:logo@x"' in blocked.html and "data:image/png" in blocked.html
    allowed = sanitise(source, allow_remote=True)
    assert allowed.blocked == 0 and 'src="https://t.example/b.png"' in allowed.html
    # what any HTML would load, before sanitising
    page = (
        '<link rel="stylesheet" href="https://t.example/s.css"><style>@import "http://t.example/'
        "i.css\"; p { background: url('http://t.example/bg.png') }</style>"
        '<table background="http://t.example/t.png"><tr><td style="background-image:'
        'url(https://t.example/td.png)"></td></tr></table><a href="https://t.example/link">x</a>'
        '<img srcset="http://t.example/1x.png 1x, http://t.example/2x.png 2x"><img src="cid:a">'
    )
    assert remote_references(page) == [
        "https://t.example/s.css", "http://t.example/bg.png", "http://t.example/i.css",
        "http://t.example/t.png", "https://t.example/td.png", "http://t.example/1x.png",
        "http://t.example/2x.png",
    ]  # fmt: skip
    assert not is_remote("cid:a") and is_remote("//x.example/y") and not is_remote("/local")


def test_the_reader_blocks_remote_content_until_allowed_for_the_message(
    qtbot, reader: ReaderView, image_server
) -> None:
    base, asked = image_server
    html = f'<p>News</p><img src="{base}/pixel.png"><img src="{base}/banner.png" width="60">'
    reader.show_message(mail(html).as_bytes())
    assert reader.subject_label.text() == "A newsletter"
    assert "News" in reader.browser.toPlainText()
    assert not reader.remote_bar.isHidden()
    assert "2 items" in reader.remote_label.text()
    url = QUrl(f"{base}/pixel.png")
    placeholder = reader.browser.loadResource(IMAGE, url)
    assert isinstance(placeholder, QImage) and placeholder.size().width() == 48
    assert asked == []  # nothing went out (nor later: each is asked for once, below)

    reader.load_once.click()
    assert reader.remote_bar.isHidden() and reader.remote_allowed
    qtbot.waitUntil(lambda: len(reader.browser.remote_images) == 2, timeout=10_000)
    assert sorted(asked) == ["/banner.png", "/pixel.png"]
    loaded = reader.browser.loadResource(IMAGE, url)
    assert (loaded.width(), loaded.height()) == (30, 20)

    reader.show_message(mail(html).as_bytes())  # the next message: blocked again
    assert not reader.remote_bar.isHidden() and not reader.remote_allowed


def test_always_for_this_sender_is_remembered(qtbot, reader: ReaderView) -> None:
    html = '<img src="https://t.example/p.gif">'
    reader.show_message(mail(html).as_bytes())
    with qtbot.waitSignal(reader.senderAllowed) as allowed:
        reader.load_always.click()
    assert allowed.args == ["eve@e.test"]
    reader.show_message(mail(html, sender="Eve <EVE@e.test>").as_bytes())
    assert reader.remote_allowed and reader.remote_bar.isHidden()
    reader.show_message(mail(html, sender="mallory@m.test").as_bytes())
    assert not reader.remote_allowed and not reader.remote_bar.isHidden()


def test_cid_images_come_from_the_message_and_are_not_remote(reader: ReaderView) -> None:
    message = mail('<p>Our logo:</p><img src="cid:logo@e.test" alt="logo">')
    html_part = message.get_body(preferencelist=("html",))
    html_part.add_related(png(12, 8, "#2255aa"), "image", "png", cid="<logo@e.test>")
    reader.show_message(message.as_bytes())
    assert reader.safe_html.blocked == 0 and reader.remote_bar.isHidden()
    image = reader.browser.loadResource(IMAGE, QUrl("cid:logo@e.test"))
    assert (image.width(), image.height()) == (12, 8)
    assert reader.attachment_names() == []  # an inline part, not an attachment


def test_local_files_and_unknown_schemes_never_load(reader: ReaderView, tmp_path: Path) -> None:
    secret = tmp_path / "secret.png"
    secret.write_bytes(png(5, 5))
    reader.show_message(mail(f'<img src="file://{secret}"><img src="{secret}">').as_bytes())
    assert str(secret) not in reader.browser.toHtml()
    for url in (QUrl.fromLocalFile(str(secret)), QUrl("ftp://t.example/x.png")):
        assert reader.browser.loadResource(IMAGE, url).width() == 48  # the placeholder
    assert reader.browser.loadResource(QTextDocument.ResourceType.StyleSheetResource.value,
                                       QUrl("https://t.example/s.css")) is None  # fmt: skip


def test_attachments_are_listed_and_saved_under_safe_names(
    reader: ReaderView, tmp_path: Path
) -> None:
    message = mail(None, text="See attached.")
    message.add_attachment(b"%PDF-1.4", maintype="application", subtype="pdf",
                           filename="../../etc/report: 2024?.pdf")  # fmt: skip
    message.add_attachment(b"a,b\n", maintype="text", subtype="csv", filename=".hidden.csv")
    message.add_attachment(b"\x00\x01", maintype="application", subtype="octet-stream")
    reader.show_message(message.as_bytes())
    assert reader.attachment_names() == ["report_ 2024_.pdf", "hidden.csv", "attachment.bin"]
    assert not reader.attachment_bar.isHidden()
    first = reader.write_attachment(0, tmp_path)
    second = reader.write_attachment(0, tmp_path)
    assert first == tmp_path / "report_ 2024_.pdf" and second == tmp_path / "report_ 2024_-1.pdf"
    assert first.read_bytes() == b"%PDF-1.4"
    assert reader.safe_html is None and "See attached." in reader.browser.toPlainText()


def test_plain_text_or_html_as_preferred(reader: ReaderView) -> None:
    raw = mail("<p>The <b>HTML</b> version</p>", text="The plain version\n> quoted").as_bytes()
    reader.show_message(raw)
    assert "HTML version" in reader.browser.toPlainText()
    reader.set_prefer_html(False)
    assert "The plain version" in reader.browser.toPlainText()
    reader.show_message(mail(None, text="Only text, https://x.example/a?b=1&c=2.").as_bytes())
    assert 'href="https://x.example/a?b=1&amp;c=2"' in plain_to_html(
        "Only text, https://x.example/a?b=1&c=2."
    )
    parsed = ReadableMessage.parse(raw)
    assert (parsed.sender_address, parsed.cc, parsed.subject) == (
        "eve@e.test", "carol@c.test", "A newsletter"
    )  # fmt: skip
    reader.clear()
    assert reader.message is None and reader.header.isHidden()


def test_a_deeply_nested_message_shows_and_says_the_rest_is_too_deep(qtbot, tmp_path) -> None:
    """~1,000 nested multiparts (tests/test_hostile_mime.py): the `mua open` window shows
    the headers and says the rest is too deeply nested, instead of a RecursionError."""
    from mua.client.message_file import read_message_file
    from mua.gui.viewer import MessageFileWindow
    from tests.test_hostile_mime import nested_message

    eml = tmp_path / "nested.eml"
    eml.write_bytes(nested_message())
    window = MessageFileWindow(read_message_file(eml))
    qtbot.addWidget(window)
    window.show()
    reader = window.reader
    assert reader.subject_label.text() == "nested"
    assert reader.nesting_note.isVisible()
    assert "too deeply nested" in reader.nesting_note.text()
    ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
    ARTIFACTS.mkdir(exist_ok=True)
    assert window.grab().save(str(ARTIFACTS / "reader_nested_mime.png"))
    reader.show_message(mail("<p>fine</p>").as_bytes())
    assert not reader.nesting_note.isVisible()
