"""`mua trace` and the journey panel explain a leg in the same words (mua.core.grade_text)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path

from PySide6.QtCore import Qt

from mua.cli import main
from mua.client.message_file import read_message_file
from mua.core.grade_text import explain
from mua.gui.viewer import MessageFileWindow
from tests.test_cli_trace import SAMPLE


def _words(text: str) -> str:
    """Whitespace as one space: the terminal wraps at 80 columns, the panel at its width."""
    return " ".join(text.split())


def test_the_cli_and_the_panel_explain_a_leg_with_the_same_sentences(
    qtbot, tmp_path: Path, capsys
) -> None:
    eml = tmp_path / "sample.eml"
    eml.write_text(SAMPLE)
    assert main(["trace", str(eml)]) == 0
    printed = _words(capsys.readouterr().out)

    window = MessageFileWindow(read_message_file(eml))  # what `mua open FILE.eml` shows
    qtbot.addWidget(window)
    window.show()
    diagram, panel = window.hop_panel.diagram, window.hop_panel
    legs = diagram.trace().legs
    assert len(legs) == 2
    explained = set()
    for index, leg in enumerate(legs):
        with qtbot.waitSignal(diagram.legClicked, timeout=1000):
            centre = diagram.arrow_line(index).center().toPoint()
            qtbot.mouseClick(diagram, Qt.MouseButton.LeftButton, pos=centre)
        shown = _words(panel.details.toPlainText())
        sentence = _words(explain(leg))
        assert sentence in shown, f"the panel does not explain leg {index + 1}"
        assert sentence in printed, f"`mua trace` does not explain leg {index + 1}"
        explained.add(sentence)
    assert len(explained) == 2  # a claimed relay and a recorded submission: two grades' words
