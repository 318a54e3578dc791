"""`mua open FILE.eml` with a display: the message and its journey in one window."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path

from mua.cli import _read_trace
from mua.core.legs import Source
from mua.gui.viewer import MessageFileWindow
from tests.test_cli_trace import SAMPLE

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


def test_a_message_file_and_its_journey(qtbot, tmp_path: Path) -> None:
    eml = tmp_path / "sample.eml"
    eml.write_text(
        SAMPLE.replace(
            "\r\n\r\nbody",
            '\r\nContent-Type: text/html\r\n\r\n<p>Hi <img src="https://tracker.example/p.gif">',
        )
    )
    raw, _message, _hosts, trace = _read_trace(eml, None)
    window = MessageFileWindow(eml, raw, trace)
    qtbot.addWidget(window)
    window.show()
    assert window.windowTitle().startswith("sample.eml")
    assert window.reader.subject_label.text() == "sample"
    assert window.reader.safe_html.blocked == 1  # remote content stays blocked here too
    arrows = window.hop_panel.diagram.model().arrows
    assert [a.leg.source for a in arrows] == [Source.CLAIMED, Source.RECORDED]
    ARTIFACTS.mkdir(exist_ok=True)
    assert window.grab().save(str(ARTIFACTS / "open_eml.png"))
