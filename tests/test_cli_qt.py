"""Qt's standard options (`-style`, `-reverse`, `-platform`...) get past mua's parser to the
desktop app's QApplication; terminal commands keep their arguments as given."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mua.cli import parse
from mua.cli.qt_args import split_qt_args


@pytest.mark.parametrize(
    ("argv", "command", "qt_args"),
    [
        (["-style", "fusion"], None, ["-style", "fusion"]),
        (["-reverse"], None, ["-reverse"]),
        (["-platform", "offscreen"], None, ["-platform", "offscreen"]),
        (["--style=fusion", "-v", "-reverse"], None, ["--style=fusion", "-reverse"]),
        (["open", "m.eml", "-style", "fusion"], "open", ["-style", "fusion"]),
        (["-reverse", "open", "m.eml"], "open", ["-reverse"]),
    ],
)
def test_qt_options_are_set_aside_for_the_app(argv, command, qt_args) -> None:
    args = parse(argv)
    assert args.command == command
    assert args.qt_args == qt_args
    if command == "open":
        assert args.file == Path("m.eml")


def test_a_terminal_command_keeps_its_arguments_and_unknown_options_still_fail(capsys) -> None:
    args = parse(["check", "a.test", "--json"])
    assert args.command == "check" and args.qt_args == []
    with pytest.raises(SystemExit):
        parse(["--no-such-option"])
    assert "unrecognized arguments" in capsys.readouterr().err
    assert split_qt_args(["--", "-reverse"]) == (["--", "-reverse"], [])
    assert split_qt_args(["-style"]) == (["-style"], [])  # a value is missing: not Qt's


SCRIPT = """
import sys
from PySide6.QtCore import QTimer, Qt
from PySide6.QtWidgets import QApplication
import mua.gui.app as app_module

made = app_module._main_window

def main_window(engine, session):  # once the window is made: report what Qt was told, quit
    window = made(engine, session)
    app = QApplication.instance()

    def report_and_close():
        style = app.style()
        while hasattr(style, "baseStyle") and style.baseStyle() is not None:
            style = style.baseStyle()
        print("platform:", app.platformName(), flush=True)
        print("style:", style.name(), flush=True)
        print("reverse:", app.layoutDirection() == Qt.LayoutDirection.RightToLeft, flush=True)
        print("shown:", window.isVisible(), flush=True)
        for widget in QApplication.topLevelWidgets():
            widget.close()

    QTimer.singleShot(500, report_and_close)
    return window

app_module._main_window = main_window
from mua.cli import main
sys.exit(main())
"""


def test_mua_starts_with_qt_options_and_quits(tmp_path: Path) -> None:
    """`mua -style windows -reverse -platform offscreen` with no display in the environment:
    the platform comes from the argument alone (and offscreen's default style is Fusion)."""
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "DISPLAY",
                                                             "WAYLAND_DISPLAY")}  # fmt: skip
    env.update(MUA_HOME=str(tmp_path / "home"), HOME=str(tmp_path),
               XDG_CONFIG_HOME=str(tmp_path / "xdg"))  # fmt: skip
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, "-style", "windows", "-reverse", "-platform", "offscreen"],
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    lines = proc.stdout.splitlines()
    for expected in ("platform: offscreen", "style: windows", "reverse: True", "shown: True"):
        assert expected in lines, (expected, proc.stdout, proc.stderr[-1000:])
