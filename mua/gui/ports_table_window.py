"""The ports-and-encryption table as a window (Demo menu): rows are the legs of a message's
trip, columns the options people meet for each, every cell showing the grade mua gives
that leg and running its scenario when clicked (as the Demo menu does: the message lands
in the main window with its journey). The table itself is mua/stack/ports_table.py; the
Demo menu (mua.gui.scenarios.show_ports_table) opens this window and runs what is clicked."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHeaderView,
    QLabel,
    QMainWindow,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from mua.core.i18n import _
from mua.core.legs import Grade
from mua.gui.theme import GRADE_GLYPHS, GRADE_LABELS, grade_colour
from mua.stack.demo import SCENARIOS
from mua.stack.ports_table import PORTS_TABLE

SCENARIO_ROLE = Qt.ItemDataRole.UserRole


class PortsTableWindow(QDialog):
    """Non-modal: a person walks the table, clicking one option after another."""

    def __init__(self, window: QMainWindow, run) -> None:
        """`run(name)` runs scenario `name` the way the Demo menu does."""
        super().__init__(window)
        self.setWindowTitle(_("Ports and encryption, leg by leg"))
        self._run = run
        intro = QLabel(
            _(
                "Each row is a leg of a message's trip, each cell an option people meet for "
                "it, with the grade mua gives it. Click a cell to run that option in the demo "
                "world and see the message's whole journey."
            )
        )
        intro.setWordWrap(True)
        columns = max(len(row.cells) for row in PORTS_TABLE)
        self.table = QTableWidget(len(PORTS_TABLE), columns, self)
        self.table.setHorizontalHeaderLabels(
            [_("Option {number}").format(number=n + 1) for n in range(columns)]
        )
        self.table.setVerticalHeaderLabels([_(row.title) for row in PORTS_TABLE])
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setWordWrap(True)
        for r, row in enumerate(PORTS_TABLE):
            for c, cell in enumerate(row.cells):
                self.table.setItem(r, c, _cell_item(cell.option, cell.scenario, cell.grade))
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        rows = self.table.verticalHeader()  # room for an option of two lines and its grade
        rows.setDefaultSectionSize(self.fontMetrics().height() * 4 + 10)
        rows.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.table.cellActivated.connect(self._activated)
        self.table.cellClicked.connect(self._activated)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.table)
        self.resize(1180, 480)

    def scenario_at(self, row: int, column: int) -> str | None:
        item = self.table.item(row, column)
        return item.data(SCENARIO_ROLE) if item is not None else None

    def _activated(self, row: int, column: int) -> None:
        name = self.scenario_at(row, column)
        if name is not None:
            self._run(name)


def _cell_item(option: str, scenario: str, grade: Grade) -> QTableWidgetItem:
    label = _(GRADE_LABELS[grade])
    item = QTableWidgetItem(f"{GRADE_GLYPHS[grade]} {_(option)}\n{label} \u2014 {scenario}")
    item.setData(SCENARIO_ROLE, scenario)
    colour = grade_colour(grade)
    colour.setAlpha(60)
    item.setBackground(QBrush(colour))
    item.setToolTip(
        _("{grade}. Click to run the '{scenario}' scenario: {description}").format(
            grade=label, scenario=scenario, description=_(SCENARIOS[scenario].description)
        )
    )
    item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
    return item
