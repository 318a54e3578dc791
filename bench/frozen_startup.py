"""The frozen app (PyInstaller, dist/mua/) beside `python -m mua` from the venv, same run.

Each start is a fresh process with its own temporary MUA_HOME and XDG directories. Timed,
as wall time from the parent's Popen:

- `mua --version`: the process's whole life (the bootloader and interpreter start-up, then
  the argument parser);
- `mua demo --headless --json`: one message through a new demo world, to exit;
- the GUI (`mua`, no command, offscreen, no account: demo mode with a new world each time)
  to its main window's first flush to the screen, seen in Qt's own painting log
  (QT_LOGGING_RULES=qt.widgets.painting=true prints "Flushing ... of MainWindow"); the
  process is then terminated.

Also printed: the size of the frozen folder and of the Linux artefacts. Builds them first
when dist/ is stale (packaging/linux.py --if-stale).

    .venv/bin/python bench/frozen_startup.py [--runs 7]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FLUSH_MARK = "Flushing QRegion"
WINDOW_MARK = "of MainWindow("


def _env(home: Path, *, gui: bool = False) -> dict[str, str]:
    env = dict(os.environ, MUA_HOME=str(home), QT_QPA_PLATFORM="offscreen")
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
        env[name] = str(home / name.lower())
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # both run from byte-code, as installed
    if gui:
        # mua starts the GUI only when it sees a display; offscreen Qt never connects to it.
        env.setdefault("DISPLAY", ":0")
        env["QT_LOGGING_RULES"] = "qt.widgets.painting=true"
    return env


def _time_command(command: list[str], home: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run(command, env=_env(home), check=True, capture_output=True, timeout=120)
    return time.perf_counter() - t0


def _time_gui(command: list[str], home: Path) -> float:
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        command,
        env=_env(home, gui=True),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
    )
    assert proc.stderr is not None
    try:
        for line in proc.stderr:
            if FLUSH_MARK in line and WINDOW_MARK in line:
                return time.perf_counter() - t0
        raise SystemExit(f"{command[0]} exited ({proc.wait()}) before showing its window")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.lstat().st_size for p in path.rglob("*") if not p.is_dir())


def _build() -> dict[str, str]:
    result = subprocess.run(
        [sys.executable, str(ROOT / "packaging" / "linux.py"), "--if-stale"],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    return json.loads(result.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    artefacts = _build()
    frozen = [str(Path(artefacts["app"]) / "mua")]
    venv = [sys.executable, "-m", "mua"]
    cases = {
        "--version": (["--version"], _time_command),
        "demo --headless --json": (["demo", "--headless", "--json"], _time_command),
        "GUI to its first painted window": ([], _time_gui),
    }
    results: dict[str, dict[str, list[float]]] = {
        name: {"frozen": [], "venv": []} for name in cases
    }
    with tempfile.TemporaryDirectory(prefix="mua-bench-frozen-") as tmp:
        root = Path(tmp)
        for name, (argv, timer) in cases.items():
            timer([*frozen, *argv], root / "warm-frozen")  # untimed: disk caches warm
            timer([*venv, *argv], root / "warm-venv")
            for i in range(args.runs):  # interleaved, so drift hits both alike
                results[name]["frozen"].append(timer([*frozen, *argv], root / f"f-{name}-{i}"))
                results[name]["venv"].append(timer([*venv, *argv], root / f"v-{name}-{i}"))

    print(f"frozen app (dist/mua) vs python -m mua (baseline), median of {args.runs} (ms)")
    for name, samples in results.items():
        f, v = statistics.median(samples["frozen"]), statistics.median(samples["venv"])
        print(f"  {name:34}{f * 1e3:>7.0f} frozen {v * 1e3:>7.0f} venv   {f / v:.2f}x")
    print("sizes (MB)")
    for path in artefacts.values():
        print(f"  {Path(path).name:34}{_size(Path(path)) / 1e6:>7.1f}")


if __name__ == "__main__":
    main()
