"""Smoke-test a frozen or installed mua executable: its version, one demo message, the GUI.

    python packaging/smoke.py PATH/TO/mua[.exe] [--no-gui]

Runs `mua --version` (must be the package's version) and `mua demo --headless --json` (the
message must be delivered through all six legs), then starts the desktop app with the
system's own Qt platform plugin (qwindows, qcocoa; QT_QPA_PLATFORM is dropped) and expects its
main window painted and the app still running 5 s after start: a frozen app missing its
platform plugin passes the command-line checks but aborts there. Each run has a temporary
MUA_HOME. The CI workflow runs it on Windows and macOS; on Linux tests/packaging does the same
and more.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import appmeta


def smoke(executable: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="mua-smoke-") as home:
        env = {**os.environ, "MUA_HOME": home}

        def run(*argv: str) -> str:
            result = subprocess.run(
                [str(executable), *argv], env=env, capture_output=True, text=True, timeout=300
            )
            if result.returncode != 0:
                raise SystemExit(f"mua {' '.join(argv)} exited {result.returncode}:\n{result}")
            return result.stdout

        version = run("--version").strip()
        if version != f"mua {appmeta.version()}":
            raise SystemExit(f"--version said {version!r}, the package is {appmeta.version()}")
        trace = json.loads(run("demo", "--headless", "--json"))
        if trace["status"] != "delivered" or len(trace["legs"]) != 6:
            raise SystemExit(f"the demo message was {trace['status']}: {trace}")
    print(f"{executable}: {version}, demo message delivered over {len(trace['legs'])} legs")


# Qt logs each flush of a window's pixels to the screen under this category (on every system);
# QT_FORCE_STDERR_LOGGING keeps those lines on stderr where Windows would send them to the
# debugger (a process without a console window, as on CI runners).
PAINTED = re.compile(r"Flushing QRegion.* of MainWindow\(")


def smoke_gui(executable: Path, keep_running: float = 5.0, within: float = 120.0) -> None:
    """`mua` with no command in demo mode: painted, alive after `keep_running` s, no traceback."""
    # (Windows may hold a terminated process's files a moment longer: not the app's fault.)
    with tempfile.TemporaryDirectory(prefix="mua-smoke-gui-", ignore_cleanup_errors=True) as home:
        env = {**os.environ, "MUA_HOME": home, "QT_LOGGING_RULES": "qt.widgets.painting=true"}
        env["QT_FORCE_STDERR_LOGGING"] = "1"
        env.pop("QT_QPA_PLATFORM", None)  # the system's own platform plugin
        errors = Path(home) / "stderr.txt"
        with open(errors, "w") as err:
            proc = subprocess.Popen([str(executable)], env=env, stdout=err, stderr=err)
        started = time.monotonic()
        painted = False
        try:
            while time.monotonic() - started < within:
                painted = painted or bool(PAINTED.search(errors.read_text(errors="replace")))
                if painted and time.monotonic() - started >= keep_running:
                    break
                try:
                    proc.wait(timeout=0.2)  # returns at once if the app ends
                    break
                except subprocess.TimeoutExpired:
                    pass
            alive = proc.poll() is None
            elapsed = time.monotonic() - started
        finally:
            if proc.poll() is None:
                proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=30)
        text = errors.read_text(errors="replace")
        logs = "\n".join(p.read_text(errors="replace") for p in Path(home).glob("logs/*.log"))
    if not alive:
        raise SystemExit(f"the GUI exited {proc.returncode} after {elapsed:.1f} s:\n{text[-4000:]}")
    if not painted:
        raise SystemExit(f"the GUI never painted its main window in {within} s:\n{text[-4000:]}")
    if "Traceback" in text or "Traceback" in logs:
        raise SystemExit(f"the GUI logged a traceback:\n{text[-4000:]}\n{logs[-4000:]}")
    print(f"{executable}: the GUI painted its main window and ran {keep_running} s")


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--no-gui"]
    if len(args) != 1:
        raise SystemExit(__doc__)
    smoke(Path(args[0]))
    if "--no-gui" not in sys.argv:
        smoke_gui(Path(args[0]))
