"""Demo mode's scenario picker: send a sample message under another scenario and open its
journey beside the others, to compare (modern, starttls, opportunistic, plaintext, and the
attacks). Each scenario runs in a throwaway world on a worker thread with its own event
loop, so the demo world the user is signed in to is left as it is."""

from __future__ import annotations

import asyncio
import logging

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMainWindow, QWidget

from mua.core.legs import Trace
from mua.stack.demo import SCENARIOS, run_demo

log = logging.getLogger(__name__)


def install_scenario_menu(window: QMainWindow, bridge) -> list[QAction]:
    """A Demo menu with one action per scenario; the windows it opens are kept on
    `window.scenario_windows`."""
    menu = window.menuBar().addMenu(window.tr("&Demo"))
    window.scenario_windows = []
    actions = []
    for name, scenario in SCENARIOS.items():
        action = QAction(name, window)
        action.setStatusTip(scenario.description)
        action.triggered.connect(lambda _checked=False, n=name: run_scenario(window, bridge, n))
        menu.addAction(action)
        actions.append(action)
    return actions


def run_scenario(window: QMainWindow, bridge, name: str):
    """Run scenario `name` and open its journey in a window of its own when it is done."""
    window.statusBar().showMessage(window.tr("Running the '%s' scenario…") % name)

    async def in_a_thread() -> Trace:
        return await asyncio.to_thread(asyncio.run, run_demo(SCENARIOS[name]))

    return bridge.run(
        f"scenario {name}",
        in_a_thread(),
        lambda trace: _show(window, name, trace),
        lambda error: window.statusBar().showMessage(error, 8000),
    )


def _show(window: QMainWindow, name: str, trace: Trace) -> QWidget:
    from mua.gui.hop_panel import HopPanel

    scenario = SCENARIOS[name]
    panel = HopPanel()
    panel.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    panel.setWindowTitle(window.tr("Scenario '%s': %s") % (name, scenario.description))
    panel.set_trace(trace)
    panel.resize(1000, 620)
    panel.show()
    window.scenario_windows.append(panel)
    panel.destroyed.connect(lambda *_: window.scenario_windows.remove(panel))
    window.statusBar().showMessage(
        window.tr("Scenario '%s': the message was %s.") % (name, trace.status.value), 8000
    )
    return panel
