"""The real entry point, `mua` with a display and no account: demo mode starts, the window
shows, and quitting stops the world and exits 0. In a subprocess: it owns its QApplication."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = """
import sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

app = QApplication(sys.argv)

def check_and_quit():
    titles = sorted(w.windowTitle() for w in QApplication.topLevelWidgets() if w.isVisible())
    print("windows:", titles, flush=True)
    for w in QApplication.topLevelWidgets():
        w.close()

QTimer.singleShot(2500, check_and_quit)
from mua.gui.app import run
sys.exit(run())
"""


def test_mua_starts_in_demo_mode_and_quits_cleanly(tmp_path: Path) -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "MUA_HOME": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Welcome to mua" in proc.stdout
    assert (tmp_path / "data" / "demo" / "world" / "ca" / "ca.pem").exists()
    assert "Traceback" not in proc.stderr


def test_the_application_icon_renders_from_its_svg(qapp) -> None:
    from mua.gui.resources import app_icon

    icon = app_icon()
    assert icon is not None and not icon.isNull()
    for size in (16, 64, 256):  # SVG: crisp at every size a desktop asks for
        assert icon.pixmap(size, size).width() == size
