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

def titles():
    return sorted(w.windowTitle() for w in QApplication.topLevelWidgets() if w.isVisible())

def check_and_quit():
    print("windows:", titles(), flush=True)
    if "--help-welcome" in sys.argv:  # as the user would: Help > Welcome…
        (window,) = [w for w in QApplication.topLevelWidgets() if hasattr(w, "act_welcome")]
        help_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Help")
        next(a for a in help_menu.actions() if a.text().startswith("&Welcome")).trigger()
        print("after Help > Welcome:", titles(), flush=True)
    for w in QApplication.topLevelWidgets():
        w.close()

QTimer.singleShot(2500, check_and_quit)
from mua.gui.app import run
sys.exit(run())
"""


def start_mua(home: Path, *args: str) -> str:
    """Run the app once in `home` (its settings too: XDG_CONFIG_HOME in case Qt looks
    there); its stdout, after checking it quit cleanly."""
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "MUA_HOME": str(home),
        "XDG_CONFIG_HOME": str(home / "xdg"),
    }
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, *args], env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    return proc.stdout


def test_mua_starts_in_demo_mode_and_quits_cleanly(tmp_path: Path) -> None:
    assert "Welcome to mua" in start_mua(tmp_path)
    assert (tmp_path / "data" / "demo" / "world" / "ca" / "ca.pem").exists()


def test_the_welcome_shows_once_and_again_from_the_help_menu(tmp_path: Path) -> None:
    first = start_mua(tmp_path)
    assert "Welcome to mua" in first.partition("windows:")[2].splitlines()[0]
    second = start_mua(tmp_path, "--help-welcome")
    windows = second.partition("windows:")[2].splitlines()[0]
    assert "Welcome to mua" not in windows  # not on every start
    after = second.partition("after Help > Welcome:")[2].splitlines()[0]
    assert "Welcome to mua" in after


def test_the_application_icon_renders_from_its_svg(qapp) -> None:
    from mua.gui.resources import app_icon

    icon = app_icon()
    assert icon is not None and not icon.isNull()
    for size in (16, 64, 256):  # SVG: crisp at every size a desktop asks for
        assert icon.pixmap(size, size).width() == size
