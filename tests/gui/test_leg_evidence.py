"""The leg details show the evidence a header leg was read from: the `with` keyword as written
and the Received field's text (issue #13), in the window `mua open FILE.eml` opens."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path

from mua.client.message_file import read_message_file
from mua.gui.viewer import MessageFileWindow
from tests.test_received_notations import GMAIL_CHAIN, IRONPORT_DHE

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


def test_leg_details_show_the_keyword_and_the_header(qtbot, tmp_path: Path) -> None:
    eml = tmp_path / "evidence.eml"
    fields = [*GMAIL_CHAIN, ("Received", IRONPORT_DHE)]
    lines = [f"{k}: {v}" for k, v in fields] + ["Subject: evidence", "", "body", ""]
    eml.write_text("\r\n".join(lines))
    window = MessageFileWindow(read_message_file(eml))
    qtbot.addWidget(window)
    window.show()
    panel = window.hop_panel
    panel.show_leg(0)  # the oldest: IronPort's relay
    text = panel.details.toPlainText()
    assert "ESMTP/TLS/DHE-RSA-AES256-GCM-SHA384" in text
    assert "from fmsmga008.fm.intel.com ([10.253.24.58])" in text
    panel.show_leg(2)  # Gmail's internal step
    text = panel.details.toPlainText()
    assert "by 2002:a0c:c44a:0:0:0:0:0 with SMTP id t10csp190775qvi;" in text
    ARTIFACTS.mkdir(exist_ok=True)
    assert window.grab().save(str(ARTIFACTS / "leg_evidence.png"))
