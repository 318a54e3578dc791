"""Compose windows as the user meets them: opened from the main window's New, Reply and Forward
actions against a live demo world, each a window of its own that can be closed (asking about
unsaved changes), several at once, and drafts that reopen, save in place and leave Drafts
when sent. Also: the travel strip's tooltips are readable on every chip colour."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import asyncio
import email
import email.policy
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QColor, QKeySequence
from PySide6.QtWidgets import QApplication, QMessageBox, QToolTip

from mua.core.compose import Draft
from mua.core.legs import Grade
from mua.gui.bridge import Bridge
from mua.gui.compose_logic import Chip
from mua.gui.compose_window import ChipView, ComposeWindow
from mua.gui.demo_profile import DemoSession
from mua.gui.main_window import MainWindow
from mua.gui.message_model import Column
from tests.conftest import fast_options, maildir_messages

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
ALICE, BOB = "alice@a.test", "bob@b.test"
WAIT = 20_000


def finish(qtbot, coro, timeout: int = WAIT):
    task = asyncio.ensure_future(coro)
    qtbot.waitUntil(task.done, timeout=timeout)
    return task.result()


@pytest.fixture
def session(qtbot, tmp_path: Path, loop, monkeypatch: pytest.MonkeyPatch) -> Iterator[DemoSession]:
    monkeypatch.setenv("MUA_HOME", str(tmp_path / "home"))
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "qs"))
    demo = DemoSession.start(tmp_path / "demo", options=fast_options())
    yield demo
    finish(qtbot, demo.aclose(), timeout=30_000)


@pytest.fixture
def main(qtbot, session: DemoSession, loop) -> Iterator[MainWindow]:
    window = MainWindow(session.engine, Bridge(), demo=session)
    window.idle_slice = 1.0
    window.show()
    qtbot.waitUntil(lambda: window.folders.folder_index(ALICE, "Drafts").isValid(), timeout=WAIT)
    yield window
    for compose in compose_windows(window):
        compose.discard()  # closes without asking
    window.close()
    finish(qtbot, window.aclose())
    window.deleteLater()


def compose_windows(main: MainWindow) -> list[ComposeWindow]:
    """The compose windows open now, oldest first."""
    return [w for w in main.findChildren(ComposeWindow) if w.isVisible()]


def open_new(main: MainWindow, qtbot) -> ComposeWindow:
    before = set(compose_windows(main))
    main.act_new.trigger()
    (window,) = set(compose_windows(main)) - before
    qtbot.waitExposed(window)
    return window


def activate(window, qtbot) -> None:
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)


def question(window: ComposeWindow) -> QMessageBox | None:
    boxes = [b for b in window.findChildren(QMessageBox) if b.isVisible()]
    return boxes[0] if boxes else None


def answer(window: ComposeWindow, qtbot, button: QMessageBox.StandardButton) -> None:
    qtbot.waitUntil(lambda: question(window) is not None)
    question(window).button(button).click()


def closed(main: MainWindow, window: ComposeWindow) -> bool:
    return window not in compose_windows(main)


def server_drafts(session: DemoSession, address: str = ALICE) -> list[email.message.EmailMessage]:
    """The account's Drafts folder as the server holds it, read on the world's thread."""
    world = session.world.world

    async def read() -> list[bytes]:
        store = world.providers[address.rpartition("@")[2]].store_for(world.mailbox(address))
        box = store.folder("Drafts")
        return [box.read(info.uid) for info in box.messages()]

    raws = session.world.call(read())
    return [email.message_from_bytes(r, policy=email.policy.default) for r in raws]


def bob_received(session: DemoSession) -> list[str]:
    raws = maildir_messages(session.world.world, BOB)
    return [str(email.message_from_bytes(r, policy=email.policy.default)["Subject"]) for r in raws]


# --- windows of their own -------------------------------------------------------------------


def test_compose_is_a_window_of_its_own_that_escape_closes(qtbot, main: MainWindow) -> None:
    window = open_new(main, qtbot)
    assert window.isWindow() and window.windowFlags() & Qt.WindowType.Window
    assert window.parent() is main  # owned by the main window, placed over it
    assert window.windowTitle() == "Write: (no subject)"
    window.subject_edit.setText("Lunch")
    assert window.windowTitle() == "Write: Lunch"
    window.subject_edit.setText("")
    activate(window, qtbot)
    qtbot.keyClick(window.body, Qt.Key.Key_Escape)  # nothing changed: no question
    qtbot.waitUntil(lambda: closed(main, window))
    assert compose_windows(main) == []


def test_closing_with_changes_asks_save_discard_or_cancel(
    qtbot, main: MainWindow, session: DemoSession
) -> None:
    window = open_new(main, qtbot)
    window.resize(760, 560)
    window.to_edit.setText(BOB)
    window.subject_edit.setText("Half-written")
    qtbot.keyClicks(window.body, "Dear Bob, I was going to say")
    activate(window, qtbot)
    close_keys = QKeySequence(QKeySequence.StandardKey.Close)[0]
    qtbot.keyClick(window.body, close_keys.key(), close_keys.keyboardModifiers())  # Ctrl+W
    qtbot.waitUntil(lambda: question(window) is not None)
    box = question(window)
    assert box.text() == "Save this message as a draft?"
    buttons = QMessageBox.StandardButton
    assert box.standardButtons() == buttons.Save | buttons.Discard | buttons.Cancel
    ARTIFACTS.mkdir(exist_ok=True)
    qtbot.waitUntil(
        lambda: [c.pending for c in window.travel_chips()] == [False, False], timeout=WAIT
    )
    assert window.grab().save(str(ARTIFACTS / "compose_window.png"))
    assert box.grab().save(str(ARTIFACTS / "compose_unsaved_question.png"))
    box.button(buttons.Cancel).click()
    qtbot.waitUntil(lambda: question(window) is None)
    assert window.isVisible() and not closed(main, window)

    window.close()  # the title bar's close button
    answer(window, qtbot, buttons.Save)
    qtbot.waitUntil(lambda: closed(main, window), timeout=WAIT)
    (saved,) = server_drafts(session)
    assert saved["Subject"] == "Half-written" and saved["To"] == BOB

    other = open_new(main, qtbot)
    other.subject_edit.setText("Never mind")
    activate(other, qtbot)
    qtbot.keyClick(other.body, Qt.Key.Key_Escape)
    answer(other, qtbot, buttons.Discard)
    qtbot.waitUntil(lambda: closed(main, other))
    assert [m["Subject"] for m in server_drafts(session)] == ["Half-written"]


def test_ctrl_enter_sends_the_window_it_is_pressed_in(
    qtbot, main: MainWindow, session: DemoSession
) -> None:
    first, second = open_new(main, qtbot), open_new(main, qtbot)
    for window, subject in ((first, "First"), (second, "Second")):
        window.to_edit.setText(BOB)
        window.subject_edit.setText(subject)
        window.body.setPlainText(f"{subject} message")
    activate(second, qtbot)
    with qtbot.waitSignal(second.reported, timeout=WAIT) as reported:
        qtbot.keyClick(second.body, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert reported.args[0].startswith("Sent")
    qtbot.waitUntil(lambda: closed(main, second))
    assert compose_windows(main) == [first] and first.isVisible()
    qtbot.waitUntil(lambda: bob_received(session) == ["Second"], timeout=WAIT)

    activate(first, qtbot)
    with qtbot.waitSignal(first.reported, timeout=WAIT):
        qtbot.keyClick(first.body, Qt.Key.Key_Enter, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: sorted(bob_received(session)) == ["First", "Second"], timeout=WAIT)


def test_reply_and_forward_open_windows_of_their_own(
    qtbot, main: MainWindow, session: DemoSession
) -> None:
    sent = finish(qtbot, session.engine.send(Draft(ALICE, to=(BOB,), subject="Agenda")))
    assert sent.sent, sent.error
    qtbot.waitUntil(lambda: main.folders.folder_index(BOB, "INBOX").isValid(), timeout=WAIT)
    assert main.select_folder(BOB, "INBOX")

    def rows() -> list[str]:
        return [main.messages.message_at(r).subject for r in range(main.messages.rowCount())]

    qtbot.waitUntil(lambda: "Agenda" in rows(), timeout=WAIT)
    main.message_view.setCurrentIndex(main.messages.index(rows().index("Agenda"), Column.SUBJECT))
    qtbot.waitUntil(lambda: main.act_reply.isEnabled(), timeout=WAIT)
    main.act_reply.trigger()
    main.act_forward.trigger()
    reply, forward = compose_windows(main)
    for window, title in ((reply, "Write: Re: Agenda"), (forward, "Write: Fwd: Agenda")):
        assert window.isWindow() and window.windowTitle() == title
    assert reply.to_edit.text() == ALICE
    activate(reply, qtbot)
    qtbot.keyClick(reply.body, Qt.Key.Key_Escape)  # as prepared, nothing typed: no question
    qtbot.waitUntil(lambda: closed(main, reply))
    assert compose_windows(main) == [forward]


def test_closing_the_main_window_asks_about_unsaved_messages_first(qtbot, main: MainWindow) -> None:
    untouched, written = open_new(main, qtbot), open_new(main, qtbot)
    written.subject_edit.setText("Important")
    assert not main.close()  # a message would be lost: the main window stays
    assert main.isVisible() and closed(main, untouched) and not closed(main, written)
    answer(written, qtbot, QMessageBox.StandardButton.Discard)
    qtbot.waitUntil(lambda: closed(main, written))
    assert main.close()


# --- drafts ---------------------------------------------------------------------------------


def test_a_draft_reopens_saves_in_place_and_leaves_drafts_when_sent(
    qtbot, main: MainWindow, session: DemoSession
) -> None:
    window = open_new(main, qtbot)
    window.to_edit.setText(BOB)
    window.subject_edit.setText("Trip notes")
    window.body.setPlainText("Day one: the lake.")
    window.save_button.click()
    qtbot.waitUntil(lambda: window.status_label.text() == "Saved to Drafts.", timeout=WAIT)
    assert window.isVisible()  # like Thunderbird: saving keeps the window open
    window.body.setPlainText("Day one: the lake.\nDay two: the hills.")
    activate(window, qtbot)
    save_keys = QKeySequence(QKeySequence.StandardKey.Save)[0]
    qtbot.keyClick(window.body, save_keys.key(), save_keys.keyboardModifiers())  # Ctrl+S
    qtbot.waitUntil(lambda: len(server_drafts(session)) == 1, timeout=WAIT)  # replaced, and
    qtbot.waitUntil(lambda: window.status_label.text() == "Saved to Drafts.", timeout=WAIT)
    (saved,) = server_drafts(session)  # not added: the second save took the first one's place
    assert "hills" in saved.get_body().get_content()
    activate(window, qtbot)
    qtbot.keyClick(window.body, Qt.Key.Key_Escape)  # saved: closes without asking
    qtbot.waitUntil(lambda: closed(main, window))

    assert main.select_folder(ALICE, "Drafts")

    def rows() -> list[str]:
        return [main.messages.message_at(r).subject for r in range(main.messages.rowCount())]

    qtbot.waitUntil(lambda: rows() == ["Trip notes"], timeout=WAIT)
    index = main.messages.index(0, Column.SUBJECT)
    main.message_view.setCurrentIndex(index)
    viewport, spot = main.message_view.viewport(), main.message_view.visualRect(index).center()
    qtbot.mouseClick(viewport, Qt.MouseButton.LeftButton, pos=spot)  # a double-click: the
    qtbot.mouseDClick(viewport, Qt.MouseButton.LeftButton, pos=spot)  # first press, then this
    qtbot.waitUntil(lambda: len(compose_windows(main)) == 1, timeout=WAIT)
    (draft,) = compose_windows(main)
    assert draft.windowTitle() == "Write: Trip notes"
    assert draft.to_edit.text() == BOB
    assert draft.body.toPlainText() == "Day one: the lake.\nDay two: the hills.\n"
    draft.body.append("Day three: home.")
    draft.save_draft()
    qtbot.waitUntil(lambda: draft.status_label.text() == "Saved to Drafts.", timeout=WAIT)
    (saved,) = server_drafts(session)
    assert "home" in saved.get_body().get_content()
    qtbot.waitUntil(lambda: rows() == ["Trip notes"], timeout=WAIT)  # one row, the new copy

    activate(draft, qtbot)
    with qtbot.waitSignal(draft.reported, timeout=WAIT):
        qtbot.keyClick(draft.body, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: server_drafts(session) == [], timeout=WAIT)
    qtbot.waitUntil(lambda: rows() == [], timeout=WAIT)
    assert session.engine.cache.page(ALICE, "Drafts") == []
    qtbot.waitUntil(lambda: bob_received(session) == ["Trip notes"], timeout=WAIT)


def test_enter_on_a_draft_opens_it_too(qtbot, main: MainWindow, session: DemoSession) -> None:
    saved = finish(qtbot, session.engine.save_draft(Draft(ALICE, subject="Ideas", text="one")))
    assert saved
    assert main.select_folder(ALICE, "Drafts")
    qtbot.waitUntil(lambda: main.messages.rowCount() == 1, timeout=WAIT)
    main.message_view.setCurrentIndex(main.messages.index(0, Column.SUBJECT))
    main.message_view.setFocus()
    qtbot.keyClick(main.message_view, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: len(compose_windows(main)) == 1, timeout=WAIT)
    (window,) = compose_windows(main)
    assert window.subject_edit.text() == "Ideas" and window.body.toPlainText() == "one\n"


# --- tooltips on the travel strip -----------------------------------------------------------


def luminance(colour: QColor) -> float:
    def channel(value: float) -> float:
        return value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in (colour.redF(), colour.greenF(), colour.blueF()))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: QColor, b: QColor) -> float:
    """The WCAG 2 contrast ratio of two colours (1 to 21)."""
    light, dark = sorted((luminance(a), luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def opaque(colour: QColor) -> QColor:
    """What a window of this colour shows where the desktop has no compositor: the colour
    over black (a translucent tooltip is only as readable as what lies behind it)."""
    alpha = colour.alphaF()
    return QColor.fromRgbF(colour.redF() * alpha, colour.greenF() * alpha, colour.blueF() * alpha)


@pytest.mark.parametrize("grade", list(Grade))
def test_chip_tooltips_are_readable_on_every_colour(qtbot, main: MainWindow, grade) -> None:
    window = open_new(main, qtbot)
    view = ChipView(Chip("b.test", "some words", grade, "The facts behind it, as a sentence."))
    window.strip_layout.insertWidget(0, view)
    qtbot.waitExposed(view)
    QToolTip.showText(view.mapToGlobal(view.rect().center()), view.toolTip(), view)
    tips = [w for w in QApplication.topLevelWidgets() if w.objectName() == "qtooltip_label"]
    qtbot.waitUntil(lambda: any(t.isVisible() for t in tips))
    (tip,) = [t for t in tips if t.isVisible()]
    assert tip.text() == "The facts behind it, as a sentence."
    image = tip.grab().toImage()
    inset = 3  # inside the border: the words and what is behind them
    pixels = Counter(
        image.pixelColor(x, y).rgba()
        for x in range(inset, image.width() - inset)
        for y in range(inset, image.height() - inset)
    )
    background = opaque(QColor.fromRgba(pixels.most_common(1)[0][0]))
    text = max((opaque(QColor.fromRgba(p)) for p in pixels), key=lambda c: contrast(c, background))
    ratio = contrast(text, background)
    ARTIFACTS.mkdir(exist_ok=True)
    image.save(str(ARTIFACTS / f"compose_tooltip_{grade.value}.png"))
    QToolTip.hideText()
    assert ratio >= 4.5, f"{grade.value}: text {text.name()} on {background.name()} is {ratio:.1f}"
