"""`mua open FILE.eml` with a display: the message and its journey in one window."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path

from PySide6.QtGui import QFileOpenEvent
from PySide6.QtWidgets import QMessageBox

from mua.client.message_file import read_message_file
from mua.core.legs import Source
from mua.gui.app import _file_opener
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
    window = MessageFileWindow(read_message_file(eml))
    qtbot.addWidget(window)
    window.show()
    assert window.windowTitle().startswith("sample.eml")
    assert window.reader.subject_label.text() == "sample"
    assert window.reader.safe_html.blocked == 1  # remote content stays blocked here too
    arrows = window.hop_panel.diagram.model().arrows
    assert [a.leg.source for a in arrows] == [Source.CLAIMED, Source.RECORDED]
    ARTIFACTS.mkdir(exist_ok=True)
    assert window.grab().save(str(ARTIFACTS / "open_eml.png"))


def test_a_file_open_event_opens_a_window_and_a_bad_file_says_why(
    qtbot, qapp, tmp_path: Path, monkeypatch
) -> None:
    """macOS hands files to the app as FileOpen events."""
    eml = tmp_path / "sample.eml"
    eml.write_text(SAMPLE)
    opener = _file_opener(qapp)
    qapp.installEventFilter(opener)
    try:
        qapp.sendEvent(qapp, QFileOpenEvent(str(eml)))
        (window,) = opener.windows
        qtbot.addWidget(window)
        assert window.reader.subject_label.text() == "sample"
        said: list[str] = []
        monkeypatch.setattr(QMessageBox, "warning", lambda _p, _t, text: said.append(text))
        qapp.sendEvent(qapp, QFileOpenEvent(str(tmp_path / "gone.eml")))
        assert len(opener.windows) == 1 and said[0].startswith("Cannot open")
    finally:
        qapp.removeEventFilter(opener)
        opener.deleteLater()
