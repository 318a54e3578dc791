"""The Demo menu, as the app installs it in demo mode: a scenario's message lands where a user
looks for it (Bob's Inbox; a bounce in Alice's), the main window selects it and shows the
scenario's journey on its Journey tab, and no other window opens."""

from __future__ import annotations

import html
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication

from mua.core.legs import Grade, Role, TraceStatus
from mua.stack.demo import SCENARIOS
from tests.gui.conftest import finish

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
WAIT = 90_000  # ms: each scenario starts a world of its own


@pytest.fixture
def window(qtbot, demo_session, loop) -> Iterator[object]:
    """The main window as mua.gui.app makes it in demo mode (Demo menu, trace provider)."""
    from mua.gui.app import _main_window

    main = _main_window(demo_session.engine, demo_session)
    main.idle_slice = 1.0
    main.resize(1280, 800)
    main.show()
    qtbot.waitExposed(main)
    yield main
    main.close()
    finish(qtbot, main.aclose())
    main.deleteLater()


def windows_shown() -> set[object]:
    return {w for w in QApplication.topLevelWidgets() if w.isVisible()}


def demo_action(window, name: str):
    menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Demo")
    return next(a for a in menu.actions() if a.text().startswith(f"{name} \u2014 "))


def shown_subjects(window) -> list[str]:
    model = window.messages
    return [model.message_at(r).subject for r in range(model.rowCount())]


def test_every_scenario_is_offered_with_its_description(window) -> None:
    menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Demo")
    texts = [a.text() for a in menu.actions() if a.data()]  # the table's entry has none
    assert texts == [f"{n} \u2014 {s.description}" for n, s in SCENARIOS.items()]
    assert demo_action(window, "strip").text().startswith("strip \u2014 An attacker removes")


def show_scenario(qtbot, window, name: str):
    """Trigger the Demo menu's `name` and wait until its journey is on the Journey tab."""
    before = windows_shown()
    demo_action(window, name).trigger()
    qtbot.waitUntil(lambda: demo_action(window, name).isEnabled(), timeout=WAIT)
    shown = window.hop_panel.trace
    qtbot.waitUntil(lambda: shown() is not None and f"({name})" in (shown().subject or ""),
                    timeout=WAIT)  # fmt: skip
    assert window.tabs.currentWidget() is window.hop_panel
    assert windows_shown() == before  # no window of its own
    return shown()


def test_a_scenario_lands_in_bobs_inbox_and_its_journey_shows(qtbot, window, demo_session):
    trace = show_scenario(qtbot, window, "plaintext")
    assert (window.account, window.folder) == ("bob@b.test", "INBOX")
    assert "How does this travel? (plaintext)" in shown_subjects(window)
    (chosen,) = window.selected_messages()
    assert chosen.subject == "How does this travel? (plaintext)"
    assert trace.status is TraceStatus.DELIVERED
    assert [leg.to.role for leg in trace.legs] == [
        Role.MSA, Role.MTA, Role.MX, Role.MDA, Role.MS, Role.MUA,
    ]  # fmt: skip
    relay = next(leg for leg in trace.legs if leg.to.role is Role.MX)
    assert relay.grade is Grade.RED  # the MX offered no STARTTLS: as the scenario computed
    panel = window.hop_panel.ensure()
    assert [a.grade for a in panel.diagram.model().arrows] == [leg.grade for leg in trace.legs]
    assert demo_session.journeys.get(trace.message_id).legs == trace.legs  # kept by Message-ID
    ARTIFACTS.mkdir(exist_ok=True)
    assert window.grab().save(str(ARTIFACTS / "scenario_plaintext_main_window.png"))

    bounced = show_scenario(qtbot, window, "requiretls-strip")  # the same window again
    assert (window.account, window.folder) == ("alice@a.test", "INBOX")
    (chosen,) = window.selected_messages()
    assert chosen.subject == "Undelivered Mail Returned to Sender"
    assert bounced.status is TraceStatus.BOUNCED
    relay = next(leg for leg in bounced.legs if leg.to.role is Role.MX)
    assert relay.refused  # REQUIRETLS refused the stripped session: nothing crossed
    assert window.hop_panel.ensure().status.text().startswith("<b>Bounced</b>")
    assert window.grab().save(str(ARTIFACTS / "scenario_requiretls_strip_main_window.png"))


def fully_visible(widget) -> bool:
    """Shown, and no part of it clipped by a parent (a scroll area, a splitter, the window)."""
    return widget.isVisible() and widget.visibleRegion().boundingRect().contains(widget.rect())


def test_the_journey_fits_1000_by_700_in_readable_text(qtbot, window, monkeypatch) -> None:
    from PySide6.QtGui import QPainter

    window.resize(1000, 700)
    trace = show_scenario(qtbot, window, "modern")
    assert len(trace.legs) == 6
    panel = window.hop_panel.ensure()
    diagram = panel.diagram
    wanted = (diagram, panel.status, panel.why_button, panel.png_button, panel.svg_button)
    qtbot.waitUntil(lambda: all(fully_visible(w) for w in wanted))  # the layout settles
    assert html.escape(trace.message_id) in panel.status.text()
    assert panel.status.height() >= panel.status.heightForWidth(panel.status.width())
    drawn = diagram.drawn_size()  # the journey as painted: all of it inside the widget
    assert drawn.width() <= diagram.width() and drawn.height() <= diagram.height()
    assert panel.diagram_scroll.horizontalScrollBar().maximum() == 0

    sizes: list[float] = []  # every font the diagram paints with, at the scale it is drawn
    set_font = QPainter.setFont

    def recording(painter, font) -> None:
        sizes.append(font.pointSizeF() * painter.worldTransform().m11())
        set_font(painter, font)

    monkeypatch.setattr(QPainter, "setFont", recording)
    diagram.grab()
    monkeypatch.undo()
    readable = min(9.0, QApplication.font().pointSizeF())
    assert sizes and min(sizes) >= readable - 0.01, sorted(set(sizes))[:5]
    ARTIFACTS.mkdir(exist_ok=True)
    assert window.grab().save(str(ARTIFACTS / "journey_1000x700.png"))


def test_a_message_still_queued_shows_from_alices_sent_folder(qtbot, window) -> None:
    """strip-dane: DANE made the MTA refuse the stripped MX; the message waits in the queue,
    so nothing reached Bob. Alice's Sent copy is where it shows, with its journey."""
    trace = show_scenario(qtbot, window, "strip-dane")
    assert (window.account, window.folder) == ("alice@a.test", "Sent")
    (chosen,) = window.selected_messages()
    assert chosen.subject == "How does this travel? (strip-dane)"
    assert trace.status is TraceStatus.DEFERRED
    assert next(leg for leg in trace.legs if leg.to.role is Role.MX).refused
    assert window.hop_panel.ensure().status.text().startswith("<b>Deferred")
