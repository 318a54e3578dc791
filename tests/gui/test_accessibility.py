"""Screen readers and keyboards: the accessible tree of the journey diagram (a list of legs
named in words), moving between legs with the keys, and a name on every control of the main
window, the compose window, the account wizard and Preferences."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QAccessible, QImage, QPainter
from PySide6.QtWidgets import (
    QAbstractItemView,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QLabel,
    QLineEdit,
    QTabWidget,
    QTextEdit,
    QWidget,
)

from mua.client.message_file import read_message_file
from mua.core.compose import Draft
from mua.core.legs import Grade
from mua.core.tls_facts import TlsFacts, TlsMode, VerifiedBy
from mua.gui.bridge import Bridge
from mua.gui.compose_window import ComposeWindow
from mua.gui.demo_profile import DemoSession
from mua.gui.hop_diagram import HopDiagram
from mua.gui.journey_source import trace_provider
from mua.gui.list_icons import lock_icon
from mua.gui.main_window import MainWindow
from mua.gui.message_model import Column, GradeRole
from mua.gui.theme import GRADE_GLYPHS
from mua.gui.viewer import MessageFileWindow
from tests.conftest import fast_options
from tests.gui.test_hop_panel import all_grades, demo_like, tls
from tests.gui.test_main_window import BOB, finish, row_of, rows
from tests.test_cli_trace import SAMPLE

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
WAIT = 20_000
Name = QAccessible.Text.Name


@pytest.fixture
def viewer(qtbot, tmp_path: Path) -> MessageFileWindow:
    """The window `mua open FILE.eml` shows; tests put other journeys in its hop panel."""
    eml = tmp_path / "sample.eml"
    eml.write_text(SAMPLE)
    window = MessageFileWindow(read_message_file(eml))
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    return window


def diagram_of(window: MessageFileWindow) -> HopDiagram:
    return window.hop_panel.diagram


def test_the_diagram_is_a_list_of_legs_named_in_words(viewer: MessageFileWindow) -> None:
    trace = demo_like(tls(TlsMode.STARTTLS, VerifiedBy.DANE))
    viewer.hop_panel.set_trace(trace)
    diagram = diagram_of(viewer)
    iface = QAccessible.queryAccessibleInterface(diagram)
    assert iface.role() == QAccessible.Role.List
    assert iface.text(Name) == "How this message travelled"
    assert iface.text(QAccessible.Text.Description).startswith("6 legs: ")
    assert iface.childCount() == len(trace.legs) == 6
    names = [iface.child(i).text(Name) for i in range(iface.childCount())]
    assert names[2] == (
        "Leg 3 of 6: MTA to MX, SMTP, port 25, encrypted TLSv1.3 STARTTLS, verified by DANE, "
        "\u2713 Recommended (green), observed"
    )
    assert names[0].startswith("Leg 1 of 6: MUA to MSA, SMTP-submission, port 465, encrypted")
    assert names[1].startswith("Leg 2 of 6: MSA to MTA, internal, inside one server")
    assert "Inside one server (internal)" in names[1]
    area = QRect(diagram.mapToGlobal(diagram.rect().topLeft()), diagram.size())
    for i in range(6):
        child = iface.child(i)
        assert child.role() == QAccessible.Role.ListItem
        assert child.parent().object() is diagram
        assert iface.indexOfChild(child) == i
        assert child.state().focusable and not child.state().focused
        assert area.contains(child.rect()), (i, child.rect(), area)
        assert iface.childAt(child.rect().center().x(), child.rect().center().y()) is child
    assert "MTA smtp.a.test to MX mx.b.test" in iface.child(2).text(QAccessible.Text.Description)

    viewer.hop_panel.set_trace(None)  # fewer legs: the old items go, nothing dangles
    assert iface.childCount() == 0 and iface.child(0) is None
    assert iface.text(QAccessible.Text.Description) == "No message selected."


def test_every_grade_is_named_and_drawn_without_colour(
    viewer: MessageFileWindow, tmp_path: Path
) -> None:
    """Screen readers hear the grade's word; the picture shows a glyph per grade beside the
    leg's number (and in the legend), so grey-scale or colour-blind eyes read it too."""
    trace = all_grades()
    viewer.hop_panel.set_trace(trace)
    iface = QAccessible.queryAccessibleInterface(diagram_of(viewer))
    names = [iface.child(i).text(Name) for i in range(iface.childCount())]
    words = {
        Grade.GREEN: "Recommended (green)",
        Grade.AMBER: "Acceptable (amber)",
        Grade.RED: "Unprotected (red)",
        Grade.INTERNAL: "Inside one server (internal)",
        Grade.UNKNOWN: "Unknown (unknown)",
    }
    assert {leg.grade for leg in trace.legs} == set(words)
    for i, (leg, name) in enumerate(zip(trace.legs, names, strict=True)):
        assert f"{GRADE_GLYPHS[leg.grade]} {words[leg.grade]}" in name, name
        assert leg.protocol.value in name and leg.source.value in name
        assert f"{i + 1} {GRADE_GLYPHS[leg.grade]}" in _svg_texts(diagram_of(viewer), tmp_path)
    svg = _svg_texts(diagram_of(viewer), tmp_path)
    assert f"{GRADE_GLYPHS[Grade.RED]} Unprotected" in svg  # the legend explains the glyphs
    assert "cleartext, not encrypted" in names[3]


def _svg_texts(diagram: HopDiagram, tmp_path: Path) -> str:
    path = diagram.render_svg(tmp_path / "journey.svg")
    return path.read_text(encoding="utf-8")


def test_every_control_of_the_message_file_window_has_a_name(viewer: MessageFileWindow) -> None:
    """`mua open FILE.eml`: the reader and the journey side by side."""
    assert unnamed(viewer) == [], unnamed(viewer)
    names = {w.accessibleName() for w in viewer.findChildren(QWidget)}
    assert {"Message text", "Details of the journey"} <= names


def test_keys_move_a_focus_ring_and_enter_opens_the_details(
    qtbot, viewer: MessageFileWindow
) -> None:
    panel = viewer.hop_panel
    panel.set_trace(demo_like(tls(TlsMode.STARTTLS, VerifiedBy.DANE)))
    diagram = diagram_of(viewer)
    iface = QAccessible.queryAccessibleInterface(diagram)
    viewer.activateWindow()
    panel.status.setFocus()  # the control before the diagram: Tab reaches it
    qtbot.keyClick(QApplication.focusWidget() or viewer, Qt.Key.Key_Tab)
    focus = QApplication.focusWidget()
    for _ in range(20):  # from wherever focus stood, Tab goes round to the diagram
        if focus is diagram:
            break
        qtbot.keyClick(focus, Qt.Key.Key_Tab)
        focus = QApplication.focusWidget()
    assert focus is diagram
    assert diagram.current_leg == 0 and iface.focusChild() is iface.child(0)
    assert iface.child(0).state().focused

    overview = panel.details.toPlainText()
    with qtbot.assertNotEmitted(diagram.legClicked):  # moving does not replace the details
        qtbot.keyClick(diagram, Qt.Key.Key_Right)
        qtbot.keyClick(diagram, Qt.Key.Key_Right)
        qtbot.keyClick(diagram, Qt.Key.Key_Left)
        qtbot.keyClick(diagram, Qt.Key.Key_Down)
    assert diagram.current_leg == 2 and panel.details.toPlainText() == overview
    assert iface.child(2).state().focused and not iface.child(0).state().focused
    ARTIFACTS.mkdir(exist_ok=True)
    assert viewer.hop_panel.grab().save(str(ARTIFACTS / "journey_keyboard_focus.png"))

    with qtbot.waitSignal(panel.legClicked) as opened:
        qtbot.keyClick(diagram, Qt.Key.Key_Return)
    assert opened.args == [2]
    assert "Leg 3 of 6" in panel.details.toPlainText()
    assert iface.child(2).state().selected and diagram.selected_leg == 2
    qtbot.keyClick(diagram, Qt.Key.Key_End)
    with qtbot.waitSignal(panel.legClicked) as opened:
        qtbot.keyClick(diagram, Qt.Key.Key_Space)
    assert opened.args == [5] and "Leg 6 of 6" in panel.details.toPlainText()
    qtbot.keyClick(diagram, Qt.Key.Key_Home)
    assert diagram.current_leg == 0


def test_the_focus_ring_is_drawn_only_with_focus(qtbot, viewer: MessageFileWindow) -> None:
    panel = viewer.hop_panel
    panel.set_trace(demo_like(TlsFacts.cleartext()))
    diagram = diagram_of(viewer)
    viewer.activateWindow()
    panel.details.setFocus()
    without = diagram.grab().toImage()
    diagram.setFocus(Qt.FocusReason.TabFocusReason)
    qtbot.waitUntil(diagram.hasFocus)
    with_ring = diagram.grab().toImage()
    ring = diagram.leg_rect(0).toAlignedRect().adjusted(-4, -4, 4, 4)
    highlight = diagram.palette().color(diagram.palette().ColorRole.Highlight)
    inked = {
        with_ring.pixelColor(x, y).rgb()
        for x in range(ring.left(), ring.right())
        for y in range(ring.top(), ring.bottom())
    }
    before = {
        without.pixelColor(x, y).rgb()
        for x in range(ring.left(), ring.right())
        for y in range(ring.top(), ring.bottom())
    }
    assert highlight.rgb() in inked and highlight.rgb() not in before


# -- every control has a name --------------------------------------------------------------


# Controls with no text of their own: they need an accessible name or a label's buddy (a
# group box's title, which Qt would fall back on, names the group, not the field).
_NEEDS_LABEL = (QLineEdit, QAbstractSpinBox, QComboBox, QAbstractItemView, QTextEdit)


def unnamed(window: QWidget) -> list[str]:
    """Controls a keyboard can reach whose accessible name is empty (a button's text counts
    as a name, as Qt gives it to screen readers); fields need a buddy or a name."""
    buddies = {label.buddy() for label in window.findChildren(QLabel)}
    missing = []
    for widget in [window, *window.findChildren(QWidget)]:
        reachable = widget.focusPolicy() & Qt.FocusPolicy.TabFocus
        if not reachable or not widget.isVisibleTo(window) or not widget.isEnabled():
            continue
        if widget.focusProxy() is not None:  # a spin box's line edit: the box takes the focus
            continue
        iface = QAccessible.queryAccessibleInterface(widget)
        labelled = widget.accessibleName() or widget in buddies
        if isinstance(widget, _NEEDS_LABEL) and not labelled:
            missing.append(f"{type(widget).__name__} {widget.objectName()!r}: no label")
        elif iface is None or not iface.text(Name).strip():
            missing.append(f"{type(widget).__name__} {widget.objectName()!r}")
    return missing


@pytest.fixture
def main_window(
    qtbot, tmp_path: Path, loop, monkeypatch: pytest.MonkeyPatch
) -> Iterator[MainWindow]:
    monkeypatch.setenv("MUA_HOME", str(tmp_path / "home"))
    demo = DemoSession.start(tmp_path / "demo", options=fast_options())
    main = MainWindow(demo.engine, Bridge(), demo=demo)
    main.trace_provider = trace_provider(demo.engine, demo)  # as mua.gui.app sets it
    main.resize(1400, 900)  # the whole toolbar shows (narrower, the search field folds away)
    main.show()
    yield main
    main.close()
    finish(qtbot, main.aclose())
    main.deleteLater()
    finish(qtbot, demo.aclose())


def opened_compose(main: MainWindow) -> ComposeWindow:
    """The compose window File > New Message opened (a child of the main window)."""
    main.act_new.trigger()
    (found,) = main.findChildren(ComposeWindow)
    return found


def test_every_control_has_a_name(qtbot, main_window: MainWindow) -> None:
    qtbot.waitUntil(
        lambda: main_window.folders.folder_index("bob@b.test", "INBOX").isValid(), timeout=WAIT
    )
    assert main_window.search.isVisible() and main_window.message_view.isVisible()
    assert unnamed(main_window) == [], unnamed(main_window)
    main_window.act_journey.trigger()  # the Journey tab: the diagram, its buttons and details
    diagram = main_window.hop_panel.ensure().diagram
    qtbot.waitUntil(diagram.isVisible)
    assert unnamed(main_window) == [], unnamed(main_window)

    compose = opened_compose(main_window)
    qtbot.waitExposed(compose)
    assert unnamed(compose) == [], unnamed(compose)

    main_window.act_preferences.trigger()
    preferences = main_window.preferences_dialog
    qtbot.waitUntil(preferences.isVisible)
    (pages,) = preferences.findChildren(QTabWidget)
    for page in range(pages.count()):
        pages.setCurrentIndex(page)
        assert unnamed(preferences) == [], (pages.tabText(page), unnamed(preferences))
    preferences.reject()

    main_window.act_about.trigger()
    qtbot.waitExposed(main_window.about_box)
    assert unnamed(main_window.about_box) == [], unnamed(main_window.about_box)
    main_window.about_box.close()

    wizard = main_window.add_account()
    qtbot.waitExposed(wizard)
    assert unnamed(wizard) == [], unnamed(wizard)
    for page_id in wizard.pageIds():  # the pages not shown yet, as they will be
        page = wizard.page(page_id)
        assert unnamed(page) == [], (type(page).__name__, unnamed(page))
    wizard.close()
    compose.close()


def test_the_compose_form_tabs_in_reading_order(qtbot, main_window: MainWindow) -> None:
    """From, To, Cc, Bcc, Subject, the body, then Send and the rest of the button row."""
    qtbot.waitUntil(
        lambda: main_window.folders.folder_index("bob@b.test", "INBOX").isValid(), timeout=WAIT
    )
    compose = opened_compose(main_window)
    qtbot.waitExposed(compose)
    assert compose.isWindow()  # a window of its own, not a panel drawn over the main window
    first = compose.from_box if compose.from_box.isEnabled() else compose.to_edit
    order, widget = [first], first.nextInFocusChain()
    while widget is not first and len(order) < 40:
        reachable = widget.focusPolicy() & Qt.FocusPolicy.TabFocus
        if reachable and widget.isVisibleTo(compose) and widget.isEnabled():
            order.append(widget)
        widget = widget.nextInFocusChain()
    expected = [
        compose.to_edit,
        compose.cc_edit,
        compose.bcc_edit,
        compose.subject_edit,
        compose.body,
        compose.send_button,
        compose.save_button,
        compose.attach_button,
        compose.html_toggle,
    ]
    if first is compose.from_box:
        expected.insert(0, compose.from_box)
    assert order[: len(expected)] == expected, [type(w).__name__ for w in order]
    compose.close()


def tab_circle(window: QWidget, first: QWidget) -> list[QWidget]:
    """The controls Tab visits from `first` until it comes back to it."""
    order, widget = [first], first.nextInFocusChain()
    while widget is not first and len(order) < 100:
        reachable = widget.focusPolicy() & Qt.FocusPolicy.TabFocus and not widget.focusProxy()
        if reachable and widget.isVisibleTo(window) and widget.isEnabled():
            order.append(widget)
        widget = widget.nextInFocusChain()
    return order


def test_the_main_window_tabs_through_its_panes_in_order(qtbot, main_window: MainWindow) -> None:
    """Folders, messages, the tab bar, the tab shown (the message, or the journey: diagram,
    buttons, details), then the search field, and round again."""
    w = main_window
    qtbot.waitUntil(lambda: w.folders.folder_index("bob@b.test", "INBOX").isValid(), timeout=WAIT)
    bar = w.tabs.tabBar()
    assert tab_circle(w, w.folder_view) == [
        w.folder_view, w.message_view, bar, w.reader.browser, w.search,
    ]  # fmt: skip
    w.act_journey.trigger()  # the Journey tab's panel is built now, after everything else
    panel = w.hop_panel.ensure()
    qtbot.waitUntil(panel.diagram.isVisible)
    panel.set_trace(demo_like(tls()))  # the export buttons are enabled with a journey
    assert tab_circle(w, w.folder_view) == [
        w.folder_view, w.message_view, bar, panel.diagram, panel.why_button, panel.png_button,
        panel.svg_button, panel.details, w.search,
    ]  # fmt: skip


def test_the_message_list_says_its_icons_in_words(qtbot, main_window: MainWindow) -> None:
    """The unread/flagged and transport-security columns are icons: a screen reader reads
    each cell's words instead (what the tooltips say)."""
    w = main_window
    qtbot.waitUntil(lambda: w.folders.folder_index(BOB, "INBOX").isValid(), timeout=WAIT)
    assert w.select_folder(BOB, "INBOX")
    draft = Draft(sender="alice@a.test", to=(BOB,), subject="Icons in words", text="Hi")
    assert finish(qtbot, w.engine.send(draft)).sent
    qtbot.waitUntil(lambda: "Icons in words" in rows(w), timeout=WAIT)
    badge = w.messages.index(row_of(w, "Icons in words"), Column.BADGE)
    qtbot.waitUntil(lambda: w.messages.data(badge, GradeRole) is Grade.GREEN, timeout=WAIT)
    view = QAccessible.queryAccessibleInterface(w.message_view)
    cells = [view.child(i) for i in range(view.childCount())]
    names = [c.text(Name) for c in cells if c is not None]
    assert names[:2] == ["Unread and flagged", "Transport security"]  # the column headers
    row = names.index("Icons in words")
    assert names[row - 3 : row] == ["unread", "Transport security of its journey: green", "Alice"]


def test_the_list_padlocks_differ_by_shape_not_only_by_colour(qapp) -> None:
    """Without colour (grey-scale screens, colour-blind eyes) each grade's padlock in the
    message list and the status bar still differs: its sign is cut out of the lock's body."""
    masks = {}
    for grade in Grade:
        image = lock_icon(grade).pixmap(16, 16).toImage()
        masks[grade] = tuple(
            image.pixelColor(x, y).alpha() > 128 for y in range(16) for x in range(16)
        )
    assert len(set(masks.values())) == len(Grade)
    ARTIFACTS.mkdir(exist_ok=True)
    strip = QImage(16 * len(Grade), 16, QImage.Format.Format_ARGB32)
    strip.fill(Qt.GlobalColor.white)
    painter = QPainter(strip)
    for n, grade in enumerate(Grade):
        painter.drawPixmap(16 * n, 0, lock_icon(grade).pixmap(16, 16))
    painter.end()
    big = strip.scaled(strip.width() * 6, strip.height() * 6)
    assert big.convertToFormat(QImage.Format.Format_Grayscale8).save(
        str(ARTIFACTS / "padlocks_greyscale.png")
    )
