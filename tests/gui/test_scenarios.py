"""Demo mode's scenario picker opens the journey of a sample message under that scenario."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QMainWindow

from mua.core.legs import Grade
from mua.gui.bridge import Bridge
from mua.gui.scenarios import install_scenario_menu, run_scenario

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


def test_every_scenario_is_offered_and_one_opens_its_journey(qtbot, loop) -> None:
    window = QMainWindow()
    qtbot.addWidget(window)
    bridge = Bridge()
    names = [a.text() for a in install_scenario_menu(window, bridge)]
    assert {"modern", "starttls", "opportunistic", "plaintext", "strip", "intercept"} <= set(names)
    task = run_scenario(window, bridge, "plaintext")
    qtbot.waitUntil(task.done, timeout=60_000)
    (panel,) = window.scenario_windows
    trace = panel.diagram.trace()
    assert trace.status.value == "delivered"
    relay = next(leg for leg in trace.legs if leg.to.role.value == "MX")
    assert relay.grade is Grade.RED
    ARTIFACTS.mkdir(exist_ok=True)
    assert panel.grab().save(str(ARTIFACTS / "scenario_plaintext.png"))
    panel.close()
