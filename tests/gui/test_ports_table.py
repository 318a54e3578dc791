"""The ports-and-encryption table, opened from the Demo menu as a user would: every leg's
options side by side with mua's grade, and a click on a cell runs that scenario, whose
message and journey then show in the main window."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from mua.core.i18n import _
from mua.core.legs import Grade, LegKind
from mua.gui.theme import GRADE_LABELS
from mua.stack.demo import SCENARIOS
from mua.stack.ports_table import PORTS_TABLE, worst_grade
from tests.gui.conftest import finish

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
WAIT = 90_000  # ms: a scenario starts a world of its own


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


def open_table(qtbot, window):
    menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Demo")
    (entry,) = [a for a in menu.actions() if a is window.ports_table_action]
    entry.trigger()
    table = window.ports_table
    qtbot.waitExposed(table)
    return table


def test_the_table_shows_every_leg_and_option_with_its_grade(qtbot, window) -> None:
    shown = open_table(qtbot, window)
    grid = shown.table
    assert grid.rowCount() == len(PORTS_TABLE) == 5
    for r, row in enumerate(PORTS_TABLE):
        assert grid.verticalHeaderItem(r).text() == _(row.title)
        for c, cell in enumerate(row.cells):
            text = grid.item(r, c).text()
            assert _(cell.option) in text and _(GRADE_LABELS[cell.grade]) in text
            assert shown.scenario_at(r, c) == cell.scenario in SCENARIOS
        for c in range(len(row.cells), grid.columnCount()):
            assert grid.item(r, c) is None  # rows with fewer options leave cells empty
    ARTIFACTS.mkdir(exist_ok=True)
    assert shown.grab().save(str(ARTIFACTS / "ports_table.png"))


def test_clicking_a_cell_runs_its_scenario_in_the_main_window(qtbot, window) -> None:
    shown = open_table(qtbot, window)
    grid = shown.table
    r = next(i for i, row in enumerate(PORTS_TABLE) if row.kind is LegKind.RELAY)
    c = next(i for i, cell in enumerate(PORTS_TABLE[r].cells) if cell.scenario == "relay-hops")
    where = grid.visualItemRect(grid.item(r, c)).center()
    qtbot.mouseClick(grid.viewport(), Qt.MouseButton.LeftButton, pos=where)
    trace = window.hop_panel.trace
    qtbot.waitUntil(
        lambda: trace() is not None and "(relay-hops)" in (trace().subject or ""), timeout=WAIT
    )
    legs = trace().legs
    relays = [leg for leg in legs if leg.kind is LegKind.RELAY]
    assert [leg.grade for leg in relays] == [Grade.RED, Grade.AMBER, Grade.GREEN]
    assert worst_grade(legs, LegKind.RELAY) is PORTS_TABLE[r].cells[c].grade
    assert (window.account, window.folder) == ("bob@b.test", "INBOX")
    panel = window.hop_panel.ensure()
    assert [a.grade for a in panel.diagram.model().arrows] == [leg.grade for leg in legs]
    ARTIFACTS.mkdir(exist_ok=True)
    assert window.grab().save(str(ARTIFACTS / "ports_table_relay_hops_main_window.png"))


def test_a_password_sent_in_clear_shows_red_with_its_sentence(qtbot, window) -> None:
    """The legacy-25 cell: Alice's client submitted on the 25 role without TLS, with her
    consent; the journey's first leg is red and its details say the password crossed."""
    shown = open_table(qtbot, window)
    grid = shown.table
    (r,) = [i for i, row in enumerate(PORTS_TABLE) if row.kind is LegKind.SUBMISSION]
    c = next(i for i, cell in enumerate(PORTS_TABLE[r].cells) if cell.scenario == "legacy-25")
    qtbot.mouseClick(
        grid.viewport(),
        Qt.MouseButton.LeftButton,
        pos=grid.visualItemRect(grid.item(r, c)).center(),
    )
    trace = window.hop_panel.trace
    qtbot.waitUntil(
        lambda: trace() is not None and "(legacy-25)" in (trace().subject or ""), timeout=WAIT
    )
    panel = window.hop_panel.ensure()
    assert panel.diagram.model().arrows[0].grade is Grade.RED
    panel.show_leg(0)
    assert "your password crossed in clear" in panel.details.toPlainText()
    ARTIFACTS.mkdir(exist_ok=True)
    assert window.grab().save(str(ARTIFACTS / "ports_table_legacy_25_main_window.png"))
