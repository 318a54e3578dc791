"""The main window in daily use: the Sent list says whom mail went to, the Edit menu edits
whatever has the focus, and every window of ours closes with the platform's shortcut."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtTest import QTest
from PySide6.QtWidgets import (
    QApplication,
    QDialogButtonBox,
    QProxyStyle,
    QPushButton,
    QStyle,
    QStyleFactory,
)

from mua.core.compose import Draft
from mua.gui.app_style import install_app_style
from mua.gui.message_model import Column
from mua.gui.viewer import open_file
from tests.gui.conftest import finish
from tests.test_cli_trace import SAMPLE

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
ALICE, BOB = "alice@a.test", "bob@b.test"
WAIT = 20_000


def shown_rows(window) -> dict[str, str]:
    """Subject -> what the sender column shows, for every row of the list."""
    model = window.messages
    return {
        model.data(model.index(row, Column.SUBJECT)): model.data(model.index(row, Column.SENDER))
        for row in range(model.rowCount())
    }


def sender_header(window) -> str:
    return window.messages.headerData(
        Column.SENDER, Qt.Orientation.Horizontal, Qt.ItemDataRole.DisplayRole
    )


def test_sent_shows_the_recipients_under_to(qtbot, open_main_window, demo_session) -> None:
    window = open_main_window()
    qtbot.waitUntil(lambda: window.folders.folder_index(ALICE, "Sent").isValid(), timeout=WAIT)
    draft = Draft(sender=ALICE, to=(BOB,), subject="Minutes", text="Attached.\n")
    outcome = finish(qtbot, demo_session.engine.send(draft))
    assert outcome.sent and outcome.saved_to_sent, outcome

    assert window.select_folder(ALICE, "Sent")
    qtbot.waitUntil(lambda: "Minutes" in shown_rows(window), timeout=WAIT)
    assert sender_header(window) == "To"
    assert BOB in shown_rows(window)["Minutes"]
    index = window.messages.index(0, Column.SENDER)
    assert BOB in window.messages.data(index, Qt.ItemDataRole.ToolTipRole)
    ARTIFACTS.mkdir(exist_ok=True)
    assert window.grab().save(str(ARTIFACTS / "sent_folder.png"))

    assert window.select_folder(BOB, "INBOX")  # a folder of received mail: From again
    qtbot.waitUntil(lambda: "Minutes" in shown_rows(window), timeout=WAIT)
    assert sender_header(window) == "From"
    assert "alice" in shown_rows(window)["Minutes"].lower()


def test_edit_menu_acts_on_the_focused_field(qtbot, qapp, open_main_window) -> None:
    window = open_main_window()
    window.resize(1280, 800)  # the toolbar shows the search field (the screen is 800 wide)
    window.activateWindow()
    qtbot.waitActive(window)
    edit = window.edit_actions.by_name
    menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Edit")
    key = QKeySequence.StandardKey
    for name, standard in (("undo", key.Undo), ("redo", key.Redo), ("cut", key.Cut),
                           ("copy", key.Copy), ("paste", key.Paste),
                           ("select_all", key.SelectAll)):  # fmt: skip
        assert edit[name] in menu.actions(), name
        assert edit[name].shortcut() == QKeySequence(standard), name

    window.search.setFocus()
    qtbot.waitUntil(window.search.hasFocus)
    assert not edit["cut"].isEnabled() and not edit["undo"].isEnabled()  # nothing yet
    qtbot.keyClicks(window.search, "journey")
    assert edit["undo"].isEnabled() and edit["select_all"].isEnabled()
    assert not edit["cut"].isEnabled()  # nothing selected
    edit["select_all"].trigger()
    assert window.search.selectedText() == "journey"
    assert edit["cut"].isEnabled() and edit["copy"].isEnabled()
    edit["cut"].trigger()
    assert window.search.text() == "" and qapp.clipboard().text() == "journey"
    assert edit["paste"].isEnabled() and not edit["cut"].isEnabled()
    edit["paste"].trigger()
    assert window.search.text() == "journey"
    edit["undo"].trigger()
    assert window.search.text() == ""

    window.message_view.setFocus()  # a list: Select All only
    qtbot.waitUntil(window.message_view.hasFocus)
    assert edit["select_all"].isEnabled()
    assert not any(edit[name].isEnabled() for name in ("undo", "cut", "copy", "paste"))


class IconicButtons(QProxyStyle):
    """A style that puts icons on dialog buttons, as Fusion does on KDE."""

    def styleHint(self, hint, option=None, widget=None, returnData=None) -> int:
        if hint == QStyle.StyleHint.SH_DialogButtonBox_ButtonsHaveIcons:
            return 1
        return super().styleHint(hint, option, widget, returnData)


def button_icons(dialog) -> dict[str, bool]:
    """Button text -> whether it has an icon, for every push button of the dialog."""
    return {b.text(): not b.icon().isNull() for b in dialog.findChildren(QPushButton)}


def test_dialog_buttons_show_no_icons_whatever_the_style(qtbot, qapp, open_main_window) -> None:
    qapp.setStyle(IconicButtons(QStyleFactory.create("fusion")))
    try:
        probe = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok)
        assert button_icons(probe) == {"OK": True}  # such a style does put icons there
        probe.deleteLater()
        install_app_style(qapp)  # what the app does with the style it finds
        window = open_main_window()
        dialogs = {"preferences": window.preferences()}
        window.act_about.trigger()
        dialogs["about"] = window.about_box
        dialogs["wizard"] = window.add_account()
        for name, dialog in dialogs.items():
            qtbot.waitUntil(dialog.isVisible)
            icons = button_icons(dialog)
            assert icons and not any(icons.values()), (name, icons)
        ARTIFACTS.mkdir(exist_ok=True)
        assert dialogs["preferences"].grab().save(str(ARTIFACTS / "preferences_buttons.png"))
        for dialog in dialogs.values():
            dialog.close()
    finally:
        install_app_style(qapp, QStyleFactory.create("fusion"))


def close_with_shortcut(qtbot, window) -> None:
    """Press the platform's Close shortcut (Ctrl+W, Cmd+W on macOS) in the active window."""
    qtbot.waitExposed(window)
    window.raise_()
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    target = window.focusWidget() or window
    QTest.keySequence(target, QKeySequence(QKeySequence.StandardKey.Close))
    qtbot.waitUntil(lambda: not window.isVisible())


def test_our_windows_close_with_the_platforms_shortcut(
    qtbot, open_main_window, tmp_path: Path
) -> None:
    window = open_main_window()
    window.act_about.trigger()
    close_with_shortcut(qtbot, window.about_box)
    close_with_shortcut(qtbot, window.preferences())
    wizard = window.add_account()
    qtbot.keyClicks(wizard.focusWidget() or wizard, "someone")  # a field has the focus
    close_with_shortcut(qtbot, wizard)
    eml = tmp_path / "sample.eml"
    eml.write_text(SAMPLE)
    viewer = open_file(eml)  # what `mua open sample.eml` shows
    close_with_shortcut(qtbot, viewer)
    assert window.isVisible()  # the main window stays: quitting is Ctrl+Q's
    assert QKeySequence(QKeySequence.StandardKey.Close) not in [
        a.shortcut() for a in window.findChildren(QAction) if a.parent() is window
    ]
