"""`make run` on a machine with an X display: the app opens its window through Qt's xcb
platform plugin, and quits cleanly from the keyboard (issue #12).

Every other GUI test runs offscreen, which loads none of the X11 libraries; a missing
libxcb-cursor0 or libxcb-icccm4 made the real start abort while all of them passed. This test
starts a virtual X server (Xvfb), runs `.venv/bin/mua` as `make run` does with only DISPLAY
set, waits for the main window to be mapped, saves a screenshot of the X screen to
tests/artifacts/xcb-start.png, then presses Ctrl+Q in the window and expects exit status 0.
The tools come from scripts/system-deps (xvfb, xdotool, imagemagick).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.xvfb import xvfb

pytestmark = pytest.mark.slow

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
# The main window's title: "mua", or "mua — ACCOUNT — FOLDER".
TITLE = "^mua( —|$)"


@pytest.fixture
def display() -> Iterator[str]:
    with xvfb() as name:
        yield name


def _app_env(home: Path, display: str) -> dict[str, str]:
    """The environment of `make run` on a desktop: DISPLAY, no platform chosen (make test
    exports QT_QPA_PLATFORM=offscreen: dropped), every file of the user's under `home`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY", "XDG_SESSION_TYPE", "QT_LOGGING_RULES")
    }
    env.update(
        DISPLAY=display,
        HOME=str(home),
        MUA_HOME=str(home / "mua"),
        PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring",
    )
    for name in ("CONFIG", "DATA", "CACHE", "STATE"):
        env[f"XDG_{name}_HOME"] = str(home / name.lower())
    return env


def _x(display: str, *argv: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, env={**os.environ, "DISPLAY": display}, capture_output=True, text=True,
        timeout=timeout,
    )  # fmt: skip


def _main_window(display: str, app: subprocess.Popen[bytes], within: float = 90) -> str:
    """The X id of the app's main window once it is viewable; "" if the app exits first."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        found = _x(display, "xdotool", "search", "--onlyvisible", "--name", TITLE)
        if found.stdout.split():
            return found.stdout.split()[0]
        try:
            app.wait(timeout=0.2)  # returns at once when the app ends
            return ""
        except subprocess.TimeoutExpired:
            pass
    raise AssertionError(f"no window titled {TITLE!r} within {within} s")


def test_the_app_opens_its_window_on_x11_and_quits_cleanly(display: str, tmp_path: Path) -> None:
    home = tmp_path / "home"
    stderr_file = tmp_path / "stderr.txt"
    mua = Path(sys.executable).parent / "mua"  # the script `make run` starts
    with open(stderr_file, "w") as err:
        app = subprocess.Popen([str(mua)], env=_app_env(home, display), stdout=err, stderr=err)
    try:
        window = _main_window(display, app)
        assert window, (
            f"mua exited {app.returncode} before its window appeared:\n"
            + (stderr_file.read_text(errors="replace")[-4000:])
        )
        info = _x(display, "xwininfo", "-id", window).stdout
        assert "Map State: IsViewable" in info, info
        width = int(info.split("Width:")[1].split()[0])
        height = int(info.split("Height:")[1].split()[0])
        assert width >= 400 and height >= 300, info
        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / "xcb-start.png"
        saved = _x(display, "import", "-window", "root", str(shot))
        assert saved.returncode == 0 and shot.stat().st_size > 0, saved.stderr
        # As a user quits: the main window gets the keyboard focus, then File > Quit's Ctrl+Q
        # goes through the X server (XTEST), not through Qt.
        focus = _x(display, "xdotool", "windowfocus", "--sync", window)
        assert focus.returncode == 0, focus.stderr
        pressed = _x(display, "xdotool", "key", "--clearmodifiers", "ctrl+q")
        assert pressed.returncode == 0, pressed.stderr
        app.wait(timeout=60)
    finally:
        if app.poll() is None:
            app.kill()
            app.wait(timeout=30)
    errors = stderr_file.read_text(errors="replace")
    log = "\n".join(p.read_text() for p in (home / "mua" / "logs").glob("*.log"))
    assert app.returncode == 0, f"exited {app.returncode}:\n{errors[-4000:]}"
    assert "No display found" not in errors  # the desktop app, not the terminal demo
    assert "Traceback" not in errors and "Traceback" not in log, errors[-4000:] + log
    assert " ERROR " not in log and " CRITICAL " not in log, log
    assert (home / "mua" / "data" / "demo" / "world" / "ca" / "ca.pem").exists()
