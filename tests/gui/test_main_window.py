"""The main window against a live demo world: bob reads what alice sent, through the GUI."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import asyncio
import email
import email.policy
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QSize, Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QMessageBox

from mua import __version__
from mua.core.compose import Attachment, Draft
from mua.core.legs import Grade
from mua.gui.bridge import Bridge
from mua.gui.demo_profile import DemoSession
from mua.gui.journey_source import trace_provider
from mua.gui.main_window import MainWindow
from mua.gui.message_model import Column, GradeRole
from mua.gui.theme import grade_colour
from mua.gui.window_settings import app_settings
from mua.store import paths
from tests.client_fixtures import idle_sent
from tests.conftest import fast_options

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
BOB = "bob@b.test"
WAIT = 20_000  # ms: the world is local, but CI machines can be slow


def finish(qtbot, coro, timeout: int = WAIT):
    """Run a coroutine to its end on the test's loop (spinning Qt meanwhile)."""
    task = asyncio.ensure_future(coro)
    qtbot.waitUntil(task.done, timeout=timeout)
    return task.result()


@pytest.fixture
def settings_dir(tmp_path: Path) -> Path:
    """Where the window state goes: mua's config directory, in this test's MUA_HOME (the
    autouse fixture of tests/gui/conftest.py)."""
    assert paths.config_dir().is_relative_to(tmp_path)
    return paths.config_dir()


@pytest.fixture
def session(qtbot, tmp_path: Path, loop, monkeypatch: pytest.MonkeyPatch) -> Iterator[DemoSession]:
    monkeypatch.setenv("MUA_HOME", str(tmp_path / "home"))
    demo = DemoSession.start(tmp_path / "demo", options=fast_options())
    yield demo
    finish(qtbot, demo.aclose())


@pytest.fixture
def window(qtbot, session: DemoSession, loop, settings_dir: Path) -> Iterator[MainWindow]:
    main = MainWindow(session.engine, Bridge(), demo=session)
    main.idle_slice = 1.0
    main.show()
    yield main  # not qtbot.addWidget: pytest-qt would delete it before this teardown
    main.close()
    finish(qtbot, main.aclose())
    main.deleteLater()


def server_flags(session: DemoSession, address: str, folder: str) -> dict[str, frozenset[str]]:
    """Subject -> flags of every message in the folder, read on the world's own thread."""
    world = session.world.world

    async def read() -> dict[str, frozenset[str]]:
        store = world.providers[address.rpartition("@")[2]].store_for(world.mailbox(address))
        box = store.folder(folder)
        return {
            str(email.message_from_bytes(box.read(info.uid)).get("Subject", "")): info.flags
            for info in box.messages()
        }

    return session.world.call(read())


# The demo world's default ("modern") journey: per leg, its grade and words its label shows.
MODERN = [
    (Grade.GREEN, ["SMTP-submission", r"\b465\b", "TLSv1.3 implicit", r"verified \(pki\)"]),
    (Grade.INTERNAL, ["internal", "same server"]),
    (Grade.GREEN, ["SMTP", r"\b25\b", "TLSv1.3 STARTTLS", r"verified \(dane\)"]),
    (Grade.INTERNAL, ["internal", "same server"]),
    (Grade.INTERNAL, ["internal", "same server"]),
    (Grade.GREEN, ["IMAP", r"\b993\b", "TLSv1.3 implicit", r"verified \(pki\)"]),
]


def check_journey_as_drawn(diagram) -> None:
    """Each leg's arrow, as painted on screen, has its grade's colour, and its label says
    the protocol, the role port, the TLS version and mode, and how the peer was verified."""
    image = diagram.grab().toImage()
    ratio = image.devicePixelRatio()
    arrows = diagram.model().arrows
    assert [a.grade for a in arrows] == [grade for grade, _ in MODERN]
    for arrow, (grade, words) in zip(arrows, MODERN, strict=True):
        label = "\n".join(arrow.label)
        for word in words:
            assert re.search(word, label), f"leg {arrow.index}: {word!r} not in {label!r}"
        middle = diagram.arrow_line(arrow.index).center()
        painted = image.pixelColor(int(middle.x() * ratio), int(middle.y() * ratio))
        expected = grade_colour(grade)
        assert diagram.arrow_colour(arrow.index) == expected
        distance = max(
            abs(painted.red() - expected.red()),
            abs(painted.green() - expected.green()),
            abs(painted.blue() - expected.blue()),
        )
        assert distance < 40, f"leg {arrow.index} painted {painted.name()}, not {expected.name()}"


def rows(window: MainWindow) -> list[str]:
    model = window.messages
    return [model.message_at(r).subject for r in range(model.rowCount())]


def row_of(window: MainWindow, subject: str) -> int:
    return rows(window).index(subject)


def flags_of(session: DemoSession, folder: str, subject: str) -> frozenset[str] | None:
    return server_flags(session, BOB, folder).get(subject)


def test_bob_reads_flags_and_deletes_what_alice_sent(
    qtbot, window: MainWindow, session: DemoSession
) -> None:
    qtbot.waitUntil(lambda: window.folders.folder_index(BOB, "Trash").isValid(), timeout=WAIT)
    assert window.select_folder(BOB, "INBOX")
    qtbot.waitUntil(lambda: window.state_label.text() == f"{BOB}: online", timeout=WAIT)
    assert "TLSv1.3" in window.security_label.text()
    heard: list[tuple[str, int]] = []
    window.newMail.connect(lambda account, count: heard.append((account, count)))
    # IDLE under way: the message below comes in by itself
    qtbot.waitUntil(lambda: idle_sent(session.engine, BOB), timeout=WAIT)

    draft = Draft(
        sender="alice@a.test",
        to=(BOB,),
        subject="Plans for Friday",
        text="Hi Bob,\nthe plan is on: see the attachment.\n",
        html='<p>Hi <b>Bob</b>,</p><p>the plan is on.</p><img src="http://tracker.example/p.gif">'
        '<script>alert("x")</script>',
        attachments=(Attachment("../plan for friday.txt", b"step 1\nstep 2\n"),),
    )
    outcome = finish(qtbot, session.engine.send(draft))
    assert outcome.sent, outcome.error
    qtbot.waitUntil(lambda: "Plans for Friday" in rows(window), timeout=WAIT)
    qtbot.waitUntil(lambda: heard == [(BOB, 1)], timeout=WAIT)

    journeys = []
    provide = trace_provider(session.engine, session)

    def provider(account, folder, uid, raw):
        journeys.append((account, folder, uid))
        return provide(account, folder, uid, raw)

    window.trace_provider = provider
    index = window.messages.index(row_of(window, "Plans for Friday"), Column.SUBJECT)
    assert window.messages.data(index, Qt.ItemDataRole.FontRole).bold()  # unread
    assert "(1)" in window.folders.folder_index(BOB, "INBOX").data()
    window.message_view.setCurrentIndex(index)
    qtbot.waitUntil(lambda: window.reader.message is not None, timeout=WAIT)
    reader = window.reader
    assert reader.subject_label.text() == "Plans for Friday"
    assert "the plan is on" in reader.browser.toPlainText()
    assert "alert" not in reader.browser.toHtml()
    assert not reader.remote_bar.isHidden() and reader.safe_html.blocked == 1
    assert reader.attachment_names() == ["plan for friday.txt"]
    assert journeys and journeys[0][0] == BOB and window.hop_panel.trace() is not None
    badge = window.messages.index(index.row(), Column.BADGE)
    assert window.messages.data(badge, GradeRole) is not Grade.UNKNOWN

    for subject, text in (("Lunch on Thursday?", "The usual place at noon?"),
                          ("Minutes of Monday's meeting", "Attached, as promised.")):  # fmt: skip
        finish(
            qtbot,
            session.engine.send(
                Draft(sender="alice@a.test", to=(BOB,), subject=subject, text=text)
            ),
        )
    qtbot.waitUntil(lambda: len(rows(window)) == 3, timeout=WAIT)
    for subject in ("Lunch on Thursday?", "Minutes of Monday's meeting"):  # never opened:
        badge = window.messages.index(row_of(window, subject), Column.BADGE)  # their headers
        qtbot.waitUntil(  # were read in the background, leaving them unread
            lambda b=badge: window.messages.data(b, GradeRole) is Grade.GREEN, timeout=WAIT
        )
        subject_index = window.messages.index(badge.row(), Column.SUBJECT)
        assert window.messages.data(subject_index, Qt.ItemDataRole.FontRole).bold()
    assert window.reader.subject_label.text() == "Plans for Friday"  # still shown

    # opening it made it read, on the server too
    qtbot.waitUntil(
        lambda: "\\Seen" in flags_of(session, "INBOX", "Plans for Friday"), timeout=WAIT
    )
    index = window.messages.index(row_of(window, "Plans for Friday"), Column.SUBJECT)
    qtbot.waitUntil(lambda: not window.messages.data(index, Qt.ItemDataRole.FontRole), timeout=WAIT)
    ARTIFACTS.mkdir(exist_ok=True)
    window.resize(1280, 800)  # laid out at once; grab() paints
    assert window.grab().save(str(ARTIFACTS / "main_window.png"))
    split = window.content.sizes()
    window.act_journey.trigger()
    journey = window.hop_panel.ensure()

    def widened() -> None:  # for the journey: the whole of it in view
        assert window.content.sizes()[1] > split[1]
        assert journey.diagram_scroll.horizontalScrollBar().maximum() == 0

    qtbot.waitUntil(widened)
    assert window.grab().save(str(ARTIFACTS / "main_window_journey.png"))
    window.resize(1600, 900)  # wider: the diagram grows back towards its natural size

    def fitted() -> None:  # once the layout has followed the new size
        window._fit_journey()
        assert journey.diagram.scale() > 0.8

    qtbot.waitUntil(fitted)
    assert window.grab().save(str(ARTIFACTS / "main_window_journey_wide.png"))
    window.resize(1280, 800)
    window.tabs.setCurrentIndex(0)
    # the user's own split again
    qtbot.waitUntil(lambda: abs(window.content.sizes()[0] - split[0]) <= 2)
    check_journey_as_drawn(window.hop_panel.ensure().diagram)
    window.tabs.setCurrentIndex(0)

    window.act_mark_unread.trigger()
    qtbot.waitUntil(
        lambda: "\\Seen" not in flags_of(session, "INBOX", "Plans for Friday"), timeout=WAIT
    )
    qtbot.waitUntil(lambda: bool(window.messages.data(index, Qt.ItemDataRole.FontRole)))
    window.act_mark_read.trigger()
    qtbot.waitUntil(
        lambda: "\\Seen" in flags_of(session, "INBOX", "Plans for Friday"), timeout=WAIT
    )
    window.act_flag.trigger()
    qtbot.waitUntil(
        lambda: "\\Flagged" in flags_of(session, "INBOX", "Plans for Friday"), timeout=WAIT
    )

    drafts: list[Draft] = []
    window.compose_opener = drafts.append
    window.act_reply.trigger()
    window.act_forward.trigger()
    reply, forward = drafts
    assert reply.to == ("alice@a.test",) and reply.subject == "Re: Plans for Friday"
    assert reply.sender == BOB and reply.in_reply_to
    assert forward.subject == "Fwd: Plans for Friday"
    assert [a.filename for a in forward.attachments] == ["plan for friday.txt"]

    window.act_delete.trigger()
    qtbot.waitUntil(
        lambda: flags_of(session, "Trash", "Plans for Friday") is not None, timeout=WAIT
    )
    assert flags_of(session, "INBOX", "Plans for Friday") is None
    qtbot.waitUntil(lambda: "Plans for Friday" not in rows(window), timeout=WAIT)
    assert window.select_folder(BOB, "Trash")
    qtbot.waitUntil(lambda: "Plans for Friday" in rows(window), timeout=WAIT)


def test_dragging_a_message_onto_a_folder_moves_it(
    qtbot, window: MainWindow, session: DemoSession
) -> None:
    qtbot.waitUntil(lambda: window.folders.folder_index(BOB, "Junk").isValid(), timeout=WAIT)
    spam = Draft(sender="alice@a.test", to=(BOB,), subject="Cheap watches")
    assert finish(qtbot, session.engine.send(spam)).sent
    window.select_folder(BOB, "INBOX")
    qtbot.waitUntil(lambda: "Cheap watches" in rows(window), timeout=WAIT)
    second = Draft(sender="alice@a.test", to=(BOB,), subject="Agenda")
    assert finish(qtbot, session.engine.send(second)).sent
    qtbot.waitUntil(lambda: len(rows(window)) == 2, timeout=WAIT)
    window.act_find.trigger()
    qtbot.keyClicks(window.search, "watch")  # the local cache first
    qtbot.waitUntil(lambda: rows(window) == ["Cheap watches"], timeout=WAIT)
    window.search.clear()
    qtbot.waitUntil(lambda: len(rows(window)) == 2, timeout=WAIT)
    data = window.messages.mimeData([window.messages.index(row_of(window, "Cheap watches"), 0)])
    junk = window.folders.folder_index(BOB, "Junk")
    inbox = window.folders.folder_index(BOB, "INBOX")
    move = Qt.DropAction.MoveAction
    assert not window.folders.canDropMimeData(data, move, -1, -1, inbox)  # where it is already
    assert window.folders.dropMimeData(data, move, -1, -1, junk)
    qtbot.waitUntil(lambda: flags_of(session, "Junk", "Cheap watches") is not None, timeout=WAIT)
    qtbot.waitUntil(lambda: "Cheap watches" not in rows(window), timeout=WAIT)


def test_layout_is_switchable_and_remembered(qtbot, window: MainWindow, settings_dir: Path) -> None:
    assert window.content.orientation() == Qt.Orientation.Horizontal
    with qtbot.waitSignal(window.settingsChanged) as changed:
        window.act_below.trigger()
    assert changed.args[0].reader_position == "bottom"
    assert window.content.orientation() == Qt.Orientation.Vertical
    assert window.act_below.isChecked() and not window.act_right.isChecked()
    window.resize(900, 600)
    window.close()
    stored = app_settings()
    assert stored.value("window/geometry") is not None
    assert Path(stored.fileName()).is_relative_to(settings_dir)


def test_about_says_the_version_and_where_files_are(qtbot, window: MainWindow) -> None:
    window.act_about.trigger()
    box = window.about_box
    qtbot.waitUntil(box.isVisible)
    assert f"mua {__version__}" in box.text()
    assert str(paths.log_dir()) in box.text() and str(paths.config_dir()) in box.text()
    box.close()


def test_toolbar_icons_are_drawn_crisp_at_any_scale(window: MainWindow) -> None:
    """Our SVG icons (the offscreen platform has no icon theme), rendered for the size and
    device-pixel ratio asked for, not scaled up from a small bitmap."""
    w = window
    for action in (w.act_new, w.act_reply, w.act_reply_all, w.act_forward, w.act_delete,
                   w.act_refresh, w.act_flag, w.act_journey):  # fmt: skip
        icon = action.icon()
        assert not icon.isNull(), action.text()
        image = icon.pixmap(QSize(24, 24), 2.0).toImage()
        assert image.width() == 48, action.text()
        assert any(image.pixelColor(x, y).alpha() for x in range(48) for y in range(48))


def test_dark_palette_is_followed(qtbot, qapp, window: MainWindow) -> None:
    """When the system switches to a dark palette, nothing of ours stays light: the reader's
    header, the blocked-content bar and the toolbar icons follow it."""
    light = qapp.palette()
    dark = QPalette(QColor("#2b2b2b"))  # what Qt's Fusion style derives a dark palette from
    for role, colour in ((QPalette.ColorRole.Base, "#1e1e1e"),
                         (QPalette.ColorRole.Text, "#e8e8e8"),
                         (QPalette.ColorRole.WindowText, "#e8e8e8")):  # fmt: skip
        dark.setColor(role, QColor(colour))
    qapp.setPalette(dark)
    try:
        window.reader.remote_bar.show()
        window.resize(1280, 800)
        ARTIFACTS.mkdir(exist_ok=True)

        def dark() -> None:  # once the palette change has reached every widget
            shot = window.grab()
            assert shot.save(str(ARTIFACTS / "main_window_dark.png"))
            image, ratio = shot.toImage(), shot.devicePixelRatio()
            for widget in (window.reader.header, window.reader.remote_bar, window.message_view):
                spot = widget.mapTo(window, widget.rect().bottomRight()) - QPoint(3, 3)
                sample = image.pixelColor(int(spot.x() * ratio), int(spot.y() * ratio))
                assert sample.lightness() < 90, f"{widget.objectName()}: {sample.name()}"

        qtbot.waitUntil(dark)
        icon = window.act_reply.icon().pixmap(QSize(24, 24)).toImage()
        inked = [icon.pixelColor(x, y) for x in range(24) for y in range(24)]
        assert max(c.lightness() for c in inked if c.alpha() > 200) > 180  # light ink
    finally:
        qapp.setPalette(light)


def test_preferences_apply_and_an_account_is_removed(
    qtbot, window: MainWindow, session: DemoSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    qtbot.waitUntil(lambda: window.folders.folder_index(BOB, "INBOX").isValid(), timeout=WAIT)
    window.act_preferences.trigger()
    dialog = window.preferences_dialog
    qtbot.waitUntil(dialog.isVisible)
    ARTIFACTS.mkdir(exist_ok=True)
    assert dialog.grab().save(str(ARTIFACTS / "preferences.png"))
    dialog.interval.setValue(3)
    dialog.remote.setChecked(True)
    dialog.below.setChecked(True)

    monkeypatch.setattr(QMessageBox, "question", lambda *_a: QMessageBox.StandardButton.Yes)
    (bob,) = dialog.account_list.findItems(BOB, Qt.MatchFlag.MatchExactly)
    dialog.account_list.setCurrentItem(bob)
    dialog.remove_button.click()
    qtbot.waitUntil(lambda: not window.folders.folder_index(BOB, "INBOX").isValid(), timeout=WAIT)
    assert session.engine.accounts.get(BOB) is None
    assert [dialog.account_list.item(i).text() for i in range(dialog.account_list.count())] == [
        "alice@a.test"
    ]
    with qtbot.waitSignal(window.settingsChanged) as changed:
        dialog.accept()
    settings = changed.args[0]
    assert settings.check_interval_minutes == 3 and settings.load_remote_content
    assert window._poll.interval() == 3 * 60_000 and window.reader.load_remote
    assert window.content.orientation() == Qt.Orientation.Vertical
